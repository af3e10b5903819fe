"""One side's mixtures (``Side``): S seeds' mixtures stacked by coordinate, the sufficient
statistics of its rows, and the patch (``_Patch``) an update gathers, changes and commits."""

from __future__ import annotations

import numpy as np

from ... import em
from ...common import GaussianMixture, normalise_log_weights
from ...engine import prepare
from .. import map_em
from ..fold_in import new_coordinate_means
from .journal import Journal, with_room

# -- one side's mixtures and their sufficient statistics ------------------------------------


class _Patch:
    """One side's sums at the coordinates an update touches (sorted), gathered to work on.

    weighted_ratings, support, mu: (m, S, K), the rows gathered (``before`` keeps them as
    they were, for the journal: the patch's methods write into copies, never into them);
    weighted_sq_norms, weights: (S, K) copies; errors, observed: the coordinates' shares of
    the variance update before any change (``Side.shares``). ``Side.commit`` writes the
    patch back.
    """

    def __init__(self, side: Side, coords: np.ndarray):
        self.coords = coords
        self.before = {name: getattr(side, name)[coords] for name in _PATCHED}
        self.weighted_ratings = self.before["weighted_ratings"]
        self.support = self.before["support"]
        self.mu = self.before["mu"]  # replaced, never written, by the M-step
        self.weighted_sq_norms = side.weighted_sq_norms.copy()
        self.weights = side.weights.copy()
        self.errors, self.observed = side.shares(self.weighted_ratings, self.support, self.mu)
        self._own = False  # whether weighted_ratings and support are the patch's own copies

    def _writable(self) -> None:
        if not self._own:
            self.weighted_ratings = self.weighted_ratings.copy()
            self.support = self.support.copy()
            self._own = True

    def at(self, coords):
        """Where coords (sorted, a subset of the patch's) are in the patch: a slice when they
        are all of it (no gather), else their positions."""
        return (
            slice(None) if coords.size == self.coords.size else np.searchsorted(self.coords, coords)
        )

    def means_at(self, coords) -> np.ndarray:
        """The current means at coords: (m, S, K)."""
        return self.mu[self.at(coords)]

    def add_row(self, coords, values, post, sign: float = 1.0) -> None:
        """Add (sign 1) or subtract (-1) one row's term: x_ui q_uj and q_uj at its
        coordinates, q_uj ||x_u||^2 and q_uj. coords, values: (m,); post: (S, K)."""
        spread, rated = self._spread(coords, values)
        self._add_outer(np.column_stack([spread, rated]), sign * post[None])
        self.weighted_sq_norms += (values @ values) * sign * post
        self.weights += sign * post

    def replace_row(self, old, old_post, new_values, new_post) -> None:
        """One row's term replaced: its old (coords, values) with posterior old_post out, its
        new values at every coordinate of the patch with new_post in, in one pass."""
        old_spread, old_rated = self._spread(*old)
        ones = np.ones(self.coords.size)
        factors = np.column_stack([new_values, -old_spread, ones, -old_rated])
        self._add_outer(factors, np.stack([new_post, old_post]))
        self.weighted_sq_norms += (new_values @ new_values) * new_post
        self.weighted_sq_norms -= (old[1] @ old[1]) * old_post
        self.weights += new_post - old_post

    def _spread(self, coords, values) -> tuple[np.ndarray, np.ndarray]:
        """values at coords, and 1 there, spread over the patch's coordinates: two (m,)."""
        at = self.at(coords)
        if isinstance(at, slice):
            return values, np.ones(self.coords.size)
        spread, rated = np.zeros(self.coords.size), np.zeros(self.coords.size)
        spread[at], rated[at] = values, 1.0
        return spread, rated

    def _add_outer(self, factors: np.ndarray, posts: np.ndarray) -> None:
        """weighted_ratings += sum_t factors[:, t] (x) posts[t], support likewise with the
        second half of factors' columns: factors (m, 2T), posts (T, S, K); new arrays."""
        T = posts.shape[0]
        for name, columns in (("weighted_ratings", factors[:, :T]), ("support", factors[:, T:])):
            change = np.einsum("mt,tsk->msk", columns, posts)
            setattr(self, name, np.add(getattr(self, name), change, out=change))
        self._own = True

    def shift_coordinates(self, coords, deltas, without=None) -> None:
        """Every row in the sums moves its value at coords (m,) by deltas (m,):
        sum_u q_uj (x_ui + d)^2 = ... + 2 d sum_u q_uj x_ui + d^2 sum_u q_uj [i in C_u].
        without: (values (m,), post (S, K)), one row's term at coords that does not move."""
        if not np.any(deltas):
            return
        self._writable()
        at = self.at(coords)
        step = deltas[:, None, None]
        weighted, support = self.weighted_ratings[at], self.support[at]
        if without is not None:
            values, post = without
            weighted, support = weighted - values[:, None, None] * post, support - post
        self.weighted_sq_norms += (step * (2.0 * weighted + step * support)).sum(0)
        self.weighted_ratings[at] += step * support

    def move_rows_at(self, coord: int, posts, old, new) -> None:
        """Some rows (posteriors posts (m, S, K)) change their value at coord from old (m,) to
        new (m,): the sums move by sum_rows q (new - old) and sum_rows q (new^2 - old^2)."""
        self._writable()
        at = int(np.searchsorted(self.coords, coord))
        self.weighted_ratings[at] += np.einsum("m,msk->sk", new - old, posts)
        self.weighted_sq_norms += np.einsum("m,msk->sk", new**2 - old**2, posts)


#: the (D, S, K) arrays a patch gathers and writes back
_PATCHED = ("weighted_ratings", "support", "mu")


class Side:
    """S seeds' mixtures of K components on one side, and the sufficient statistics of its rows.

    mu, weighted_ratings, support: (D, S, K) by coordinate; post: (N, S, K) the rows'
    posteriors; var, p, weighted_sq_norms, weights: (S, K); errors, observed: (S, K), every
    coordinate's share of the variance update summed (``shares``), kept current by ``commit``.
    prior_variance: MAP-EM's tau^2 (None: the course's mean and support rule); new_mean: the
    mean of a coordinate nobody rated (0 on residuals, "no correction"; the course model's
    global training mean, its start's value for an item nobody rated).
    """

    def __init__(self, matrix, post, mixtures, *, prior_variance, min_variance, new_mean):
        n_rows, n_coords = matrix.shape
        S, K = post.shape[1:]
        stats = em.statistics(prepare(matrix, allow_negative=True), post.reshape(n_rows, S * K))
        self.weighted_ratings = _by_coordinate(stats.weighted_ratings, S, K)
        self.support = _by_coordinate(stats.support, S, K)
        self.weighted_sq_norms = stats.weighted_sq_norms.reshape(S, K)
        self.weights = stats.weights.reshape(S, K)
        self.mu = np.ascontiguousarray(np.stack([m.mu.T for m in mixtures], axis=1))
        self.var = np.stack([m.var for m in mixtures]).astype(np.float64)
        self.p = np.stack([m.p for m in mixtures]).astype(np.float64)
        self.post = np.array(post, dtype=np.float64)
        self.n_rows, self.n_coords = n_rows, n_coords
        self.prior_variance, self.min_variance, self.new_mean = (
            prior_variance,
            min_variance,
            new_mean,
        )
        self.errors, self.observed = self.shares(self.weighted_ratings, self.support, self.mu)

    def shares(self, weighted_ratings, support, mu) -> tuple[np.ndarray, np.ndarray]:
        """These coordinates' shares of the variance update, (S, K) each:
        sum_i (mu_ji^2 support_ji - 2 mu_ji weighted_ratings_ji) and sum_i support_ji
        (``em.squared_errors`` without the squared norms). Arguments: (m, S, K)."""
        S, K = self.var.shape
        stats = em.Statistics(_flat(weighted_ratings), _flat(support), 0.0, None)
        errors, observed = em.squared_errors(stats, _flat(mu))
        return errors.reshape(S, K), observed.reshape(S, K)

    def estep(self, coords, values, means=None) -> np.ndarray:
        """One row's posterior under every seed's mixture: (S, K). coords, values: (m,);
        means: mu at coords, (m, S, K), if already gathered.

        log q_j = log(p_j + 1e-16) - m/2 log(2 pi var_j) - sum_i (x_i - mu_ji)^2 / (2 var_j)
        - log-normaliser (``em.log_joint``, the E-step's formula); no ratings give q = p.
        """
        gap = values[:, None, None] - (self.mu[coords] if means is None else means)
        sq_distances = np.einsum("msk,msk->sk", gap, gap)
        post, _ = normalise_log_weights(em.log_joint(sq_distances, coords.size, self.var, self.p))
        return post

    def means(self, weighted_ratings, support, previous_mu) -> np.ndarray:
        """The M-step's means from the sums (any shape (..., S, K)): MAP-EM's
        weighted / (support + var_j / tau^2) at the current var, or the course's
        weighted / support where support >= 1, else previous_mu."""
        if self.prior_variance is None:
            stats = em.Statistics(weighted_ratings, support, None, None)
            return em.supported_means(stats, previous_mu)
        return new_coordinate_means(weighted_ratings, support, self.var, self.prior_variance)

    def patch(self, coords) -> _Patch:
        return _Patch(self, np.asarray(coords, dtype=np.intp))

    def commit(self, patch: _Patch, journal: Journal, *, mstep: bool = True) -> None:
        """Write patch back; with mstep, re-solve its means, then var and p from the totals.

        var_j = max(min_variance, (weighted_sq_norms_j + errors_j) / observed_j) where errors
        and observed are corrected by the patch's coordinates' shares, before and after
        (``em.variances``); p_j = weights_j / N. A patch over every coordinate recomputes the
        shares from scratch (``refresh``).
        """
        mu = self.means(patch.weighted_ratings, patch.support, patch.mu) if mstep else patch.mu
        errors, observed = self.shares(patch.weighted_ratings, patch.support, mu)
        if patch.coords.size < self.n_coords:
            errors = self.errors - patch.errors + errors
            observed = self.observed - patch.observed + observed
        for name, rows in zip(_PATCHED, (patch.weighted_ratings, patch.support, mu), strict=True):
            array = getattr(self, name)
            journal.keep_rows(array, patch.coords, patch.before[name])
            array[patch.coords] = rows
        small = {
            "weighted_sq_norms": patch.weighted_sq_norms,
            "weights": patch.weights,
            "errors": errors,
            "observed": observed,
        }
        if mstep:
            sse = patch.weighted_sq_norms + errors
            small["var"] = em.variances(
                sse.ravel(), observed.ravel(), self.var.ravel(), self.min_variance
            ).reshape(self.var.shape)
            small["p"] = patch.weights / self.n_rows
        for name, value in small.items():
            journal.keep(self, name)
            setattr(self, name, value)

    def set_post(self, row: int, post: np.ndarray, journal: Journal) -> None:
        journal.keep_rows(self.post, row)
        self.post[row] = post

    def set_coordinate_mean(self, coord: int, posts, values, journal: Journal) -> None:
        """Fold-in of a coordinate: its means from the rows that rated it (posteriors posts
        (m, S, K), values (m,)) at fixed posteriors, the sums left as they are."""
        weighted = np.einsum("m,msk->sk", values, posts)
        journal.keep_rows(self.mu, coord)
        self.mu[coord] = self.means(weighted, posts.sum(axis=0), self.mu[coord])

    def add_row(self, journal: Journal) -> int:
        """Room for row N with posterior 0 (the caller gives it its term); returns N."""
        row = self.n_rows
        if self.post.shape[0] <= row:
            journal.keep(self, "post")
            self.post = with_room(self.post, row + 1)
        journal.keep(self, "n_rows")
        self.n_rows = row + 1
        return row

    def add_coordinate(self, journal: Journal) -> int:
        """Coordinate D, with empty sums and mean new_mean; returns D."""
        coord = self.n_coords
        for name in ("weighted_ratings", "support", "mu"):
            array = getattr(self, name)
            if array.shape[0] <= coord:
                journal.keep(self, name)
                setattr(self, name, with_room(array, coord + 1))
            journal.keep_rows(getattr(self, name), coord)
            getattr(self, name)[coord] = 0.0
        self.mu[coord] = self.new_mean
        journal.keep(self, "n_coords")
        self.n_coords = coord + 1
        return coord

    def mixtures(self) -> list[GaussianMixture]:
        """Every seed's mixture, mu (K, D) as ``em`` has it."""
        mu = self.mu[: self.n_coords]
        return [
            GaussianMixture(mu[:, s, :].T.copy(), self.var[s].copy(), self.p[s].copy())
            for s in range(self.var.shape[0])
        ]

    def free_energy(self) -> np.ndarray:
        """F(q, theta) of every seed: (S,) (package docstring), from the totals and the q:

        sum_j [weights_j log(p_j + 1e-16) - observed_j/2 log(2 pi var_j) - sse_j / (2 var_j)]
        - sum_u sum_j q_uj log q_uj (+ log p(mu) for MAP-EM), sse_j from ``em.squared_errors``.
        """
        S, K = self.var.shape
        stats = em.Statistics(
            _flat(self.weighted_ratings[: self.n_coords]),
            _flat(self.support[: self.n_coords]),
            self.weighted_sq_norms.ravel(),
            None,
        )
        sse, observed = em.squared_errors(stats, _flat(self.mu[: self.n_coords]))
        sse, observed = sse.reshape(S, K), observed.reshape(S, K)
        expected = (
            self.weights * np.log(self.p + em.LOG_EPS)
            - observed * 0.5 * np.log(2.0 * np.pi * self.var)
            - sse / (2.0 * self.var)
        ).sum(axis=1)
        q = self.post[: self.n_rows]
        entropy = -np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0).sum(axis=(0, 2))
        prior = [map_em.log_prior(m.mu, self.prior_variance) for m in self.mixtures()]
        return expected + entropy + np.array(prior)


def _by_coordinate(sums: np.ndarray, S: int, K: int) -> np.ndarray:
    """(S*K, D) sums of S stacked mixtures -> (D, S, K), contiguous."""
    return np.ascontiguousarray(sums.T.reshape(-1, S, K))


def _flat(array: np.ndarray) -> np.ndarray:
    """(m, S, K) -> the (S*K, m) view ``em`` sums over (components as rows)."""
    return array.reshape(array.shape[0], array.shape[1] * array.shape[2]).T
