"""Incremental EM: a fitted mixture that learns from each new rating, without a pass over everyone.

Neal and Hinton (1998) view EM as coordinate ascent on one function, the free energy

    F(q, theta) = sum_u [ sum_j q_uj (log p_j + log N(x_{C_u} | mu_{j,C_u}, var_j I))
                          - sum_j q_uj log q_uj ]          (+ log p(mu) for MAP-EM),

a lower bound on the log-likelihood (log-posterior) that touches it when every q_u is that
user's posterior. The E-step maximises F over one user's q_u with theta fixed (the answer is
their posterior, whatever the other users' q), the M-step maximises F over theta with every
q fixed. And F sees the q only through the sums the M-step needs (``em.Statistics``):

    weighted_ratings_ji = sum_u q_uj x_ui,   support_ji = sum_u q_uj [i in C_u],
    weighted_sq_norms_j = sum_u q_uj sum_{i in C_u} x_ui^2,   weights_j = sum_u q_uj,

each a sum of one term per user. So when a user's ratings change, their E-step against the
current theta, their old term subtracted and their new one added, then the closed-form
M-step from the totals, is an exact coordinate-ascent step: it cannot lower F. Over every
user in turn with the M-step after the last one it is one batch EM iteration (``sweep``).

What an update costs. A user's term touches only the coordinates they rated, so the sums
change there only, in O(K |C_u|). The M-step re-solves the means of those coordinates (the
course's mean: exactly the full M-step, since no other sum moved; MAP-EM's mean, which
divides by support + var_j / tau^2, keeps the other coordinates at their conditional maximum
for the variance they were last solved with, a generalised M-step that cannot lower F
either; ``refresh`` re-solves them all), then var_j and p_j from the totals, in O(K): the
variance needs sum_i (mu_ji^2 support_ji - 2 mu_ji weighted_ratings_ji) over every
coordinate, kept as a running sum that each update corrects for the coordinates it touched
(``em.squared_errors`` computes both shares). Per rating that is O(S K (|C_u| + |U_i|)) for
S seeds, never a pass over all users.

The residual mixture (and the hybrid) model x_ui = m + b_u + c_i (+ f_i^T a_u) + r_ui, with
the mixtures on r. A new rating (u, i) also updates the offsets, each by its closed form
given the others (a conditional optimum of the biases' penalised least squares; the hybrid's
taste, of its ridge regression): b_u given the item offsets, then c_i given the user offsets,
then a_u. The global mean m stays fixed (moving it would shift every residual of every
user). A change dc of c_i shifts item i's residual for every user who rated it, which moves
the users side's sums of column i in closed form, O(S K):

    weighted_ratings_ji -= dc support_ji,
    weighted_sq_norms_j += -2 dc weighted_ratings_ji (before the shift) + dc^2 support_ji;

a change of b_u (and a_u) moves user u's residuals, which on the items side (items as rows,
users as coordinates) is coordinate u of every item u rated, corrected with those items'
posteriors in O(S K |C_u|). The other users' tastes are not re-solved when c_i moves.

Layout. A side (users: rows users, coordinates items; items: the transpose) holds S seeds'
mixtures stacked: mu, weighted_ratings, support as (coordinates, S, K) arrays, so that one
row's coordinates are one gather of contiguous (S, K) blocks; posteriors (rows, S, K).
``undo`` restores the state before the last call exactly: every write first saves what it
overwrites (``_Journal``).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from .. import em
from .._validation import is_sparse
from ..common import MIN_VARIANCE, GaussianMixture, normalise_log_weights
from ..engine import prepare, stored_rows, transpose
from . import map_em
from .base import training_ratings
from .hybrid import HybridMixture, taste_at
from .mixtures import CourseMixture, ResidualMixture, new_coordinate_means, scaled_variance

#: the calls ``undo`` can take back, by default
UNDO_DEPTH = 20
#: the two sides a mixture can cluster
SIDES = ("users", "items")


# -- undo ------------------------------------------------------------------------------------


class _Journal:
    """What one call overwrote, so that ``restore`` puts the state back bit for bit.

    Every write saves first: ``keep`` an attribute about to be replaced, ``keep_item`` a
    list element, ``keep_rows`` the rows of an array about to be written in place.
    """

    def __init__(self):
        self._saved = []

    def keep(self, owner, name: str) -> None:
        self._saved.append((setattr, owner, name, getattr(owner, name)))

    def keep_item(self, container, key) -> None:
        self._saved.append((operator.setitem, container, key, container[key]))

    def keep_rows(self, array: np.ndarray, index, rows=None) -> None:
        """rows: array[index] as it is now, if the caller already holds a copy of it."""
        rows = array[index].copy() if rows is None else rows
        self._saved.append((operator.setitem, array, index, rows))

    def restore(self) -> None:
        for put, target, key, old in reversed(self._saved):
            put(target, key, old)


def _with_room(array: np.ndarray, size: int) -> np.ndarray:
    """array itself if it has at least size rows (axis 0), else a copy with twice the room."""
    if array.shape[0] >= size:
        return array
    grown = np.zeros((2 * size, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


# -- the ratings, by row ---------------------------------------------------------------------


class _Rows:
    """A ragged ratings matrix: for every row, (indices, values), indices sorted."""

    def __init__(self, matrix: sp.csr_matrix):
        indptr = matrix.indptr
        self.rows = [
            (matrix.indices[a:b].astype(np.intp), matrix.data[a:b].astype(np.float64))
            for a, b in zip(indptr[:-1], indptr[1:], strict=True)
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows[r]

    def append(self, journal: _Journal) -> None:
        journal.keep(self, "rows")
        self.rows = [*self.rows, (np.zeros(0, np.intp), np.zeros(0))]

    def set(self, r: int, keys: np.ndarray, values: np.ndarray, journal: _Journal) -> None:
        """Add or replace the ratings of row r at keys (sorted, distinct) with values."""
        indices, old = self.rows[r]
        at = np.searchsorted(indices, keys)
        present = at < indices.size
        present[present] = indices[at[present]] == keys[present]
        merged = old.copy()
        merged[at[present]] = values[present]
        new = ~present
        journal.keep_item(self.rows, r)
        self.rows[r] = (
            np.insert(indices, at[new], keys[new]),
            np.insert(merged, at[new], values[new]),
        )


# -- the offsets the mixtures refine ---------------------------------------------------------


class _Offsets:
    """x_ui = m + b_u + c_i + f_i^T a_u + r_ui; the mixtures model the residual r.

    mean m; user (n,) b; item (d,) c; item_prior (d,) g, the prior mean of c_i (the hybrid's
    content prior, else 0); features (d, p) F and tastes (n, p) a (the hybrid's, else None).
    The course model has none of them (all 0: r = x) and learns none (``learns`` False).
    Arrays have spare room along axis 0: the first n_users / n_items rows are live.
    """

    def __init__(self, mean=0.0, user=None, item=None, *, regs=(0.0, 0.0), learns=False):
        self.mean, self.user, self.item = float(mean), user, item
        self.reg_user, self.reg_item = regs
        self.learns = learns
        self.item_prior = np.zeros_like(item)
        self.features = self.tastes = None
        self.reg_taste, self.content_weights = 0.0, None

    @classmethod
    def of(cls, model, shape) -> _Offsets:
        n, d = shape
        if isinstance(model, CourseMixture):
            return cls(0.0, np.zeros(n), np.zeros(d))
        biases = model.biases_
        offsets = cls(
            biases.mean,
            biases.user.astype(np.float64),
            biases.item.astype(np.float64),
            regs=(model.reg_user, model.reg_item),
            learns=model.use_biases,
        )
        if isinstance(model, HybridMixture):
            offsets.features = np.asarray(model.features_, dtype=np.float64)
            offsets.content_weights = model.content_weights_
            offsets.item_prior = offsets.features @ model.content_weights_
            offsets.tastes = np.asarray(model.tastes_, dtype=np.float64).copy()
            offsets.reg_taste = model.reg_taste
        return offsets

    def residual_matrix(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """r at X's stored entries, in a CSR matrix with X's pattern."""
        rows, cols = stored_rows(X), X.indices
        values = X.data - (self.mean + self.user[rows] + self.item[cols])
        if self.features is not None:
            values = values - taste_at(self.tastes, self.features, rows, cols)
        return sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape)

    def user_residuals(self, user: int, cols, values) -> np.ndarray:
        """r_ui at user's ratings values (m,) of the items cols (m,)."""
        residuals = values - (self.mean + self.user[user] + self.item[cols])
        if self.features is not None:
            residuals = residuals - self.features[cols] @ self.tastes[user]
        return residuals

    def item_residuals(self, item: int, users, values) -> np.ndarray:
        """r_ui at item's ratings values (m,) by the users users (m,)."""
        residuals = values - (self.mean + self.user[users] + self.item[item])
        if self.features is not None:
            residuals = residuals - self.tastes[users] @ self.features[item]
        return residuals

    def solve_bias(self, user: int, cols, values, journal: _Journal) -> None:
        """b_u = sum_{i in C_u} (x_ui - m - c_i) / (reg_user + |C_u|): the biases' normal
        equation for one user at fixed c (``baselines``); 0 without ratings."""
        journal.keep_rows(self.user, user)
        centred = values - self.mean - self.item[cols]
        self.user[user] = centred.sum() / (self.reg_user + cols.size) if cols.size else 0.0

    def solve_taste(self, user: int, cols, values, journal: _Journal) -> None:
        """The hybrid's a_u = (F_C^T F_C + reg_taste I)^{-1} F_C^T (x_C - m - b_u - c_C), the
        posterior mean of its ridge regression at fixed b and c (``hybrid.user_tastes``)."""
        if self.features is None:
            return
        rated = self.features[cols]
        gram = rated.T @ rated + self.reg_taste * np.eye(rated.shape[1])
        bias_residuals = values - (self.mean + self.user[user] + self.item[cols])
        journal.keep_rows(self.tastes, user)
        self.tastes[user] = np.linalg.solve(gram, rated.T @ bias_residuals)

    def solve_item(self, item: int, users, values, journal: _Journal) -> float:
        """c_i = (sum_{u in U_i} (x_ui - m - b_u) + reg_item g_i) / (reg_item + |U_i|), the
        normal equation for one item at fixed b (g_i = 0 but for the hybrid). Returns dc."""
        journal.keep_rows(self.item, item)
        old = self.item[item]
        prior = self.reg_item * self.item_prior[item]
        total = (values - self.mean - self.user[users]).sum() + prior
        self.item[item] = total / (self.reg_item + users.size) if users.size else old
        return float(self.item[item] - old)

    def add_user(self, n: int, journal: _Journal) -> None:
        """Room for user n, offset 0 (and taste 0): a user without ratings."""
        for name in ("user", "tastes"):
            array = getattr(self, name)
            if array is not None and array.shape[0] <= n:
                journal.keep(self, name)
                setattr(self, name, _with_room(array, n + 1))
        journal.keep_rows(self.user, n)
        self.user[n] = 0.0
        if self.tastes is not None:
            journal.keep_rows(self.tastes, n)
            self.tastes[n] = 0.0

    def add_item(self, d: int, features, journal: _Journal) -> None:
        """Room for item d: c = g = f^T w (the hybrid's content prior), else 0."""
        prior = 0.0
        if self.features is not None:
            journal.keep(self, "features")
            self.features = np.vstack([self.features[:d], features[None, :]])
            prior = float(features @ self.content_weights)
        for name in ("item", "item_prior"):
            journal.keep(self, name)
            array = _with_room(getattr(self, name), d + 1).copy()
            array[d] = prior
            setattr(self, name, array)

    def predictions(self, user: int, d: int) -> np.ndarray:
        """m + b_u + c_i (+ f_i^T a_u) for every item: (d,)."""
        base = self.mean + self.user[user] + self.item[:d]
        if self.features is not None:
            base = base + self.features[:d] @ self.tastes[user]
        return base


# -- one side's mixtures and their sufficient statistics ------------------------------------


class _Patch:
    """One side's sums at the coordinates an update touches (sorted), gathered to work on.

    weighted_ratings, support, mu: (m, S, K), the rows gathered (``before`` keeps them as
    they were, for the journal: the patch's methods write into copies, never into them);
    weighted_sq_norms, weights: (S, K) copies; errors, observed: the coordinates' shares of
    the variance update before any change (``_Side.shares``). ``_Side.commit`` writes the
    patch back.
    """

    def __init__(self, side: _Side, coords: np.ndarray):
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


class _Side:
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

    def commit(self, patch: _Patch, journal: _Journal, *, mstep: bool = True) -> None:
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

    def set_post(self, row: int, post: np.ndarray, journal: _Journal) -> None:
        journal.keep_rows(self.post, row)
        self.post[row] = post

    def set_coordinate_mean(self, coord: int, posts, values, journal: _Journal) -> None:
        """Fold-in of a coordinate: its means from the rows that rated it (posteriors posts
        (m, S, K), values (m,)) at fixed posteriors, the sums left as they are."""
        weighted = np.einsum("m,msk->sk", values, posts)
        journal.keep_rows(self.mu, coord)
        self.mu[coord] = self.means(weighted, posts.sum(axis=0), self.mu[coord])

    def add_row(self, journal: _Journal) -> int:
        """Room for row N with posterior 0 (the caller gives it its term); returns N."""
        row = self.n_rows
        if self.post.shape[0] <= row:
            journal.keep(self, "post")
            self.post = _with_room(self.post, row + 1)
        journal.keep(self, "n_rows")
        self.n_rows = row + 1
        return row

    def add_coordinate(self, journal: _Journal) -> int:
        """Coordinate D, with empty sums and mean new_mean; returns D."""
        coord = self.n_coords
        for name in ("weighted_ratings", "support", "mu"):
            array = getattr(self, name)
            if array.shape[0] <= coord:
                journal.keep(self, name)
                setattr(self, name, _with_room(array, coord + 1))
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
        """F(q, theta) of every seed: (S,) (module docstring), from the totals and the q:

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


# -- the live model --------------------------------------------------------------------------


class LiveModel:
    """A fitted mixture model that learns from every new rating by incremental EM.

    fitted: a fitted ``CourseMixture``, ``ResidualMixture`` or ``HybridMixture``; train: its
    training ratings (default: the ``train_`` the model kept); seeds: which of a residual
    mixture's seeds to keep live (default all; each seed is its own mixture, updated at every
    rating, and predictions average them as the model does); learn_biases: also re-solve
    b_u, c_i (and the hybrid's taste a_u) at each rating (module docstring); fold_in_only:
    change nothing but the rating user's own state (their offset, taste, posterior and, on
    the items side, their coordinate's means), which is ``fitted.fold_in`` for every user:
    the model never changes; max_undo: how many calls ``undo`` can take back.

    Rows and columns are the fitted matrix's indices; ``add_user`` and ``add_item`` append
    new ones. Before any update, ``predict_user`` and ``predict`` are ``fitted.predict``.
    """

    def __init__(
        self,
        fitted,
        train=None,
        *,
        seeds=None,
        learn_biases: bool = True,
        fold_in_only: bool = False,
        max_undo: int = UNDO_DEPTH,
    ):
        if not isinstance(fitted, CourseMixture | ResidualMixture):
            raise TypeError(
                "fitted must be a CourseMixture, ResidualMixture or HybridMixture, got "
                f"{type(fitted).__name__}"
            )
        if getattr(fitted, "response_weight", 0.0):
            raise TypeError(
                f"{fitted.name}: LiveModel keeps the sums of the Gaussian mixtures only, not "
                "the response distributions over items; refit it on the new ratings, or fold "
                "new users in with its fold_in"
            )
        if not hasattr(fitted, "shape_"):
            raise ValueError(f"fitted: {fitted.name} is not fitted; call fit(train) first")
        X = _training_matrix(fitted, train)
        self.model, self.scale = fitted, fitted.scale_
        self.n_users, self.n_items = X.shape
        self.learn_biases, self.fold_in_only = bool(learn_biases), bool(fold_in_only)
        self.max_undo = _check_count(max_undo, "max_undo")
        positions = _seed_positions(fitted, seeds)
        self.seeds = tuple(fitted.seeds[k] for k in positions) if positions else ()
        self._offsets = _Offsets.of(fitted, X.shape)
        self._by_user, self._by_item = _Rows(X), _Rows(transpose(X))
        self._sides = _sides(fitted, positions, X, self._offsets.residual_matrix(X))
        self._history: deque[_Journal] = deque(maxlen=self.max_undo or None)

    # -- what the model predicts --------------------------------------------------------------

    def predict_user(self, user) -> np.ndarray:
        """Predicted rating of every item for user: (d,), clipped to the scale, finite.

        m + b_u + c_i (+ f_i^T a_u) + the users side's sum_j q_uj mu_ji + the items side's
        sum_j q_ij mu_ju, each averaged over the seeds.
        """
        user = self._check_index(user, self.n_users, "user", "add_user()")
        d = self.n_items
        predictions = self._offsets.predictions(user, d)
        if "users" in self._sides:
            side = self._sides["users"]
            predictions += np.einsum("dsk,sk->d", side.mu[:d], side.post[user]) / side.var.shape[0]
        if "items" in self._sides:
            side = self._sides["items"]
            predictions += np.einsum("dsk,sk->d", side.post[:d], side.mu[user]) / side.var.shape[0]
        return self._clipped(predictions)

    def predict(self, rows, cols) -> np.ndarray:
        """Predicted ratings at the pairs (rows[t], cols[t]): (m,), clipped, finite."""
        rows = self._check_indices(rows, self.n_users, "rows")
        cols = self._check_indices(cols, self.n_items, "cols")
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must be one length, got {rows.size} and {cols.size}")
        o = self._offsets
        predictions = o.mean + o.user[rows] + o.item[cols]
        if o.features is not None:
            predictions = predictions + taste_at(o.tastes, o.features, rows, cols)
        for name, (row_of, coord_of) in (("users", (rows, cols)), ("items", (cols, rows))):
            if name in self._sides:
                side = self._sides[name]
                pairs = np.einsum("tsk,tsk->t", side.post[row_of], side.mu[coord_of])
                predictions = predictions + pairs / side.var.shape[0]
        return self._clipped(predictions)

    def posterior(self, user) -> np.ndarray:
        """user's posterior over the users side's mixture (the first live seed's): (K,)."""
        user = self._check_index(user, self.n_users, "user", "add_user()")
        if "users" not in self._sides:
            raise ValueError("posterior: this model clusters items only (sides=('items',))")
        return self._sides["users"].post[user, 0].copy()

    def mixtures(self, side: str = "users") -> list[GaussianMixture]:
        """The current mixture of every live seed on side ("users" or "items")."""
        return self._side(side).mixtures()

    def posteriors(self, side: str = "users") -> np.ndarray:
        """Every row's posterior on side under every live seed's mixture: (N, S, K), a copy."""
        target = self._side(side)
        return target.post[: target.n_rows].copy()

    def ratings(self) -> sp.csr_matrix:
        """Every rating the model has learnt, training and new: (n_users, n_items) CSR."""
        rows = [np.full(cols.size, u) for u, (cols, _) in enumerate(self._by_user.rows)]
        cols = [cols for cols, _ in self._by_user.rows]
        values = [values for _, values in self._by_user.rows]
        return sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_users, self.n_items),
        )

    def residuals(self) -> sp.csr_matrix:
        """What the mixtures model, r_ui = x_ui - m - b_u - c_i (- f_i^T a_u) at the current
        offsets (the ratings themselves for the course model): (n_users, n_items) CSR."""
        return self._offsets.residual_matrix(self.ratings())

    def free_energy(self, side: str = "users") -> np.ndarray:
        """F(q, theta) of every live seed on side (+ log p(mu) for MAP-EM): (S,).

        Equal to the log-likelihood (log-posterior) when every q is its row's posterior;
        no incremental update, ``sweep`` or ``refresh`` lowers it on fixed residuals.
        """
        return self._side(side).free_energy()

    # -- learning -----------------------------------------------------------------------------

    def add_user(self) -> int:
        """A new user without ratings; returns their row index. Their posterior is the
        mixture's weights p, their offset 0; the users side's p counts them."""
        with self._recording() as journal:
            return self._add_user(journal)

    def add_item(self, features=None) -> int:
        """A new item (column) nobody rated; returns its column index. Its offset is its
        prior mean: 0, or for the hybrid f^T w, so features, (p,), are then required."""
        features = self._check_features(features)
        with self._recording() as journal:
            return self._add_item(features, journal)

    def rate(self, user, col, value) -> None:
        """Add or replace user's rating of column col, and learn from it (incremental EM)."""
        self.update(user, {col: value})

    def update(self, user, ratings: Mapping) -> None:
        """Add or replace several of user's ratings, {col: value, ...}, and learn from them.

        The offsets (b_u, then each c_i, then a_u) by their closed forms, the column shifts
        that c_i's change makes, then on the users side user's E-step against the current
        mixtures, their term of the sums replaced and the M-step; on the items side the
        same for every rated item, with one M-step. fold_in_only: user's own state only.
        """
        user = self._check_index(user, self.n_users, "user", "add_user()")
        cols, values = self._check_ratings(ratings)
        with self._recording() as journal:
            self._learn(user, cols, values, journal)

    def partial_fit(self, ratings) -> None:
        """Learn a batch of ratings: (rows, cols, values) arrays, or a CSR matrix with the
        model's columns whose rows are the model's users and then new ones.

        A row index >= n_users adds users up to it (every index between becomes a user);
        each user's ratings are one ``update``, users in increasing order. One ``undo``
        takes the whole batch back.
        """
        rows, cols, values = self._check_batch(ratings)
        with self._recording() as journal:
            while self.n_users <= (rows.max() if rows.size else -1):
                self._add_user(journal)
            order = np.argsort(rows, kind="stable")
            rows, cols, values = rows[order], cols[order], values[order]
            users, starts = np.unique(rows, return_index=True)
            for user, block in zip(users, np.split(np.arange(rows.size), starts[1:]), strict=True):
                at = np.argsort(cols[block])
                self._learn(int(user), cols[block][at], values[block][at], journal)

    def sweep(self, side: str = "users", mstep: str = "each") -> None:
        """One pass of incremental E-steps over every row of side, in order (offsets fixed).

        mstep="each": the M-step after every row (Neal and Hinton's incremental EM);
        mstep="end": one M-step after the last row, against which every E-step ran, which is
        one batch EM iteration (``em.estep`` then ``em.mstep``, or ``map_em.map_mstep``).
        """
        target = self._side(side)
        if mstep not in ("each", "end"):
            raise ValueError(f"mstep must be 'each' or 'end', got {mstep!r}")
        storage = self._by_user if side == "users" else self._by_item
        o = self._offsets
        residuals = o.user_residuals if side == "users" else o.item_residuals
        with self._recording() as journal:
            for row in range(target.n_rows):
                coords, values = storage.row(row)
                r = residuals(row, coords, values)
                patch = target.patch(coords)
                patch.add_row(coords, r, target.post[row], -1.0)
                q = target.estep(coords, r)
                patch.add_row(coords, r, q)
                target.set_post(row, q, journal)
                target.commit(patch, journal, mstep=mstep == "each")
            if mstep == "end":
                target.commit(target.patch(np.arange(target.n_coords)), journal)

    def refresh(self) -> None:
        """The full M-step of every side from the current sums: every mean re-solved (for
        MAP-EM at the current variances), then var and p; the running shares recomputed."""
        with self._recording() as journal:
            for side in self._sides.values():
                side.commit(side.patch(np.arange(side.n_coords)), journal)

    def undo(self) -> None:
        """Restore exactly (bit for bit) the state before the last learning call."""
        if not self._history:
            raise RuntimeError(
                "nothing to undo: no learning call since the model was made, or the last "
                f"{self.max_undo} were undone (max_undo)"
            )
        self._history.pop().restore()

    # -- how an update runs -------------------------------------------------------------------

    @contextmanager
    def _recording(self):
        """Journal one call: kept for ``undo``, and played back if the call fails midway."""
        journal = _Journal()
        try:
            yield journal
        except BaseException:
            journal.restore()
            raise
        if self.max_undo:
            self._history.append(journal)

    def _add_user(self, journal: _Journal) -> int:
        user = self.n_users
        self._by_user.append(journal)
        self._offsets.add_user(user, journal)
        if "users" in self._sides:
            self._add_row(self._sides["users"], journal)
        if "items" in self._sides:
            self._sides["items"].add_coordinate(journal)
        journal.keep(self, "n_users")
        self.n_users = user + 1
        return user

    def _add_item(self, features, journal: _Journal) -> int:
        item = self.n_items
        self._by_item.append(journal)
        self._offsets.add_item(item, features, journal)
        if "users" in self._sides:
            self._sides["users"].add_coordinate(journal)
        if "items" in self._sides:
            self._add_row(self._sides["items"], journal)
        journal.keep(self, "n_items")
        self.n_items = item + 1
        return item

    def _add_row(self, side: _Side, journal: _Journal) -> None:
        """A row without ratings: posterior = the E-step of nothing (p), its term added."""
        empty = np.zeros(0, np.intp)
        q = side.estep(empty, np.zeros(0))
        row = side.add_row(journal)
        side.set_post(row, q, journal)
        if not self.fold_in_only:  # its weight q joins the sums: p_j = weights_j / N
            patch = side.patch(empty)
            patch.add_row(empty, np.zeros(0), q)
            side.commit(patch, journal)

    def _learn(self, user: int, cols, values, journal: _Journal) -> None:
        offsets = self._offsets
        old_cols, old_values = self._by_user.row(user)
        old_user = (old_cols, offsets.user_residuals(user, old_cols, old_values))
        old_items = [self._item_row(i) for i in cols]
        self._by_user.set(user, cols, values, journal)
        for col, value in zip(cols, values, strict=True):
            self._by_item.set(int(col), np.array([user]), np.array([value]), journal)
        shifts = self._learn_offsets(user, cols, journal)
        new_cols, new_values = self._by_user.row(user)
        new_user = (new_cols, offsets.user_residuals(user, new_cols, new_values))
        if self.fold_in_only:
            return self._fold_in(user, new_user, journal)
        if "users" in self._sides:
            self._users_step(self._sides["users"], user, old_user, new_user, cols, shifts, journal)
        if "items" in self._sides:
            moved = _moved_coordinates(old_user, new_user, cols)
            new_items = [self._item_row(i) for i in cols]
            self._items_step(user, cols, old_items, new_items, moved, journal)

    def _item_row(self, item) -> tuple[np.ndarray, np.ndarray]:
        users, values = self._by_item.row(int(item))
        return users, self._offsets.item_residuals(int(item), users, values)

    def _learn_offsets(self, user: int, cols, journal: _Journal) -> np.ndarray:
        """b_u, then every c_i of cols, then a_u; returns the changes of the c_i: (m,)."""
        shifts = np.zeros(cols.size)
        if not (self.learn_biases and self._offsets.learns):
            return shifts
        user_cols, user_values = self._by_user.row(user)
        self._offsets.solve_bias(user, user_cols, user_values, journal)
        if not self.fold_in_only:  # the items' offsets are the model's: a fold-in keeps them
            for k, col in enumerate(cols):
                users, values = self._by_item.row(int(col))
                shifts[k] = self._offsets.solve_item(int(col), users, values, journal)
        self._offsets.solve_taste(user, user_cols, user_values, journal)
        return shifts

    def _users_step(self, side: _Side, user, old, new, cols, shifts, journal) -> None:
        """User's term replaced (the others' residuals on cols shifted by -dc), M-step."""
        new_cols, new_values = new
        patch = side.patch(new_cols)  # the user's items now, a superset of before
        q = side.estep(new_cols, new_values, means=patch.mu)
        patch.replace_row(old, side.post[user], new_values, q)
        rated = new_values[np.searchsorted(new_cols, cols)]
        patch.shift_coordinates(cols, -shifts, without=(rated, q))  # the others' residuals
        side.set_post(user, q, journal)
        side.commit(patch, journal)

    def _items_step(self, user, cols, old_items, new_items, moved, journal) -> None:
        """Every rated item's term replaced (user's other items moved at coordinate user)."""
        side = self._sides["items"]
        rows = [users for users, _ in new_items]
        patch = side.patch(rows[0] if len(rows) == 1 else np.unique(np.concatenate(rows)))
        posts = [side.estep(*new, means=patch.means_at(new[0])) for new in new_items]
        if len(cols) == 1:  # one item: its whole row, in one pass
            patch.replace_row(old_items[0], side.post[cols[0]], new_items[0][1], posts[0])
        else:
            for item, old, new, q in zip(cols, old_items, new_items, posts, strict=True):
                patch.add_row(*old, side.post[item], -1.0)
                patch.add_row(*new, q)
        others, before, after = moved  # user's other items, at coordinate user
        if others.size:
            patch.move_rows_at(user, side.post[others], before, after)
        for item, q in zip(cols, posts, strict=True):
            side.set_post(int(item), q, journal)
        side.commit(patch, journal)

    def _fold_in(self, user: int, new, journal: _Journal) -> None:
        """User's posterior on the users side, their coordinate's means on the items side
        (``ResidualMixture.items_side_fold_in``), every sum and parameter left as it is."""
        cols, residuals = new
        if "users" in self._sides:
            side = self._sides["users"]
            side.set_post(user, side.estep(cols, residuals), journal)
        if "items" in self._sides:
            side = self._sides["items"]
            side.set_coordinate_mean(user, side.post[cols], residuals, journal)

    # -- checks -------------------------------------------------------------------------------

    def _side(self, side: str) -> _Side:
        if side not in SIDES:
            raise ValueError(f"side must be 'users' or 'items', got {side!r}")
        if side not in self._sides:
            raise ValueError(f"side: this model has no {side} side (sides {tuple(self._sides)})")
        return self._sides[side]

    def _clipped(self, predictions: np.ndarray) -> np.ndarray:
        if not np.isfinite(predictions).all():
            raise FloatingPointError(f"{self.model.name}: a non-finite live prediction")
        return np.clip(predictions, *self.scale)

    @staticmethod
    def _check_index(index, size: int, name: str, how: str) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"{name} must be an integer index, got {index!r}")
        if not 0 <= index < size:
            raise ValueError(f"{name} must be in [0, {size}), got {index}; {how} makes a new one")
        return int(index)

    @staticmethod
    def _check_indices(indices, size: int, name: str) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"{name} must be integer indices, got dtype {indices.dtype}")
        indices = indices.astype(np.intp).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            raise ValueError(
                f"{name} must lie in [0, {size}), got [{indices.min()}, {indices.max()}]"
            )
        return indices

    def _check_values(self, values: np.ndarray, cols: np.ndarray, name: str) -> np.ndarray:
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be numbers (ratings), got {values!r}") from err
        low, high = self.scale
        outside = ~np.isfinite(values) | (values < low) | (values > high)
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{name} must be finite ratings within the model's scale {low:g}-{high:g}, got "
                f"{values[k]:g} for column {cols[k]}"
            )
        return values

    def _check_ratings(self, ratings) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(ratings, Mapping):
            kind = type(ratings).__name__
            raise TypeError(f"ratings must be a mapping {{col: value}}, got a {kind}")
        if not ratings:
            raise ValueError("ratings is empty: give at least one {col: value}")
        cols = np.array(
            [self._check_index(col, self.n_items, "col", "add_item()") for col in ratings],
            dtype=np.intp,
        )
        values = self._check_values(list(ratings.values()), cols, "value")
        order = np.argsort(cols)
        return cols[order], values[order]

    def _check_batch(self, ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if is_sparse(ratings):
            matrix = sp.csr_matrix(ratings)
            if matrix.shape[1] != self.n_items or matrix.shape[0] < self.n_users:
                raise ValueError(
                    f"ratings: a matrix must have the model's {self.n_items} columns and at "
                    f"least its {self.n_users} rows, got shape {matrix.shape}"
                )
            matrix.sum_duplicates()
            rows, cols, values = stored_rows(matrix), matrix.indices, matrix.data
        else:
            try:
                rows, cols, values = ratings
            except (TypeError, ValueError) as err:
                raise TypeError(
                    "ratings must be (rows, cols, values) arrays or a CSR matrix"
                ) from err
        if not np.shape(rows) == np.shape(cols) == np.shape(values) or np.ndim(rows) != 1:
            raise ValueError("ratings: rows, cols and values must be 1-D arrays of one length")
        rows = self._check_indices(rows, self.n_users + len(rows), "rows")
        cols = self._check_indices(cols, self.n_items, "cols")
        values = self._check_values(values, cols, "values")
        pairs = rows.astype(np.int64) * self.n_items + cols
        if np.unique(pairs).size != pairs.size:
            raise ValueError("ratings names a (row, col) pair twice; give one rating per pair")
        return rows, cols, values

    def _check_features(self, features):
        if self._offsets.features is None:
            if features is not None:
                raise ValueError("features: only a HybridMixture's items have content features")
            return None
        p = self._offsets.features.shape[1]
        if features is None:
            raise ValueError(f"features: a HybridMixture's new item needs its {p} content features")
        features = np.asarray(features, dtype=np.float64)
        if features.shape != (p,) or not np.isfinite(features).all():
            raise ValueError(f"features must be {p} finite numbers, got shape {features.shape}")
        return features

    def __repr__(self) -> str:
        sides = ", ".join(self._sides)
        return (
            f"<LiveModel of {self.model.name!r}: {self.n_users} users x {self.n_items} items, "
            f"{len(self.seeds)} seed(s), sides {sides}>"
        )


def _moved_coordinates(old, new, cols):
    """The items user rated before and did not rate now, with their residuals before and
    after (the offsets moved): ((m,) items, (m,) before, (m,) after)."""
    (old_cols, old_residuals), (new_cols, new_residuals) = old, new
    kept = ~np.isin(old_cols, cols)
    others = old_cols[kept]
    return others, old_residuals[kept], new_residuals[np.searchsorted(new_cols, others)]


def _training_matrix(fitted, train) -> sp.csr_matrix:
    """fitted's training ratings as a canonical float64 CSR matrix of its shape (a copy)."""
    if train is None:
        train = getattr(fitted, "train_", None)
        if train is None:
            raise ValueError(
                f"train: {fitted.name} kept no training ratings (train_); pass the ratings it "
                "was fitted on, LiveModel(model, train)"
            )
    X, _ = training_ratings(train, "train")
    if X.shape != tuple(fitted.shape_):
        raise ValueError(
            f"train has shape {X.shape}, but {fitted.name} was fitted on {tuple(fitted.shape_)}"
        )
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    X.sort_indices()
    return X


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _seed_positions(fitted, seeds) -> list[int]:
    """Positions in fitted.seeds of the seeds kept live (all by default); [] for the course
    model, which keeps one mixture (the best of its seeds)."""
    if isinstance(fitted, CourseMixture):
        if seeds is not None:
            raise ValueError(
                "seeds: a CourseMixture keeps one mixture, the best of its seeds; leave seeds=None"
            )
        return []
    if seeds is None:
        return list(range(len(fitted.seeds)))
    chosen = [int(seed) for seed in seeds]
    unknown = sorted(set(chosen) - set(fitted.seeds))
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"seeds must be distinct seeds the model was fitted with, {list(fitted.seeds)}; "
            f"got {chosen}"
        )
    return [fitted.seeds.index(seed) for seed in chosen]


def _sides(fitted, positions, X, residuals) -> dict[str, _Side]:
    """The live sides of fitted, from its residual matrix (n, d) and its fits."""
    if isinstance(fitted, CourseMixture):
        side = _Side(
            residuals,
            fitted.post_[:, None, :],
            [fitted.mixture_],
            prior_variance=None,
            min_variance=scaled_variance(MIN_VARIANCE, fitted.scale_),
            new_mean=float(X.data.mean()),
        )
        return {"users": side}
    sides = {}
    for name in SIDES:
        if name not in fitted.sides:
            continue
        sides[name] = _Side(
            residuals if name == "users" else transpose(residuals),
            np.stack([fitted.fits_[name][k][0] for k in positions], axis=1),
            [fitted.mixtures_[name][k] for k in positions],
            prior_variance=fitted.prior_variance_,
            min_variance=fitted.min_variance_,
            new_mean=0.0,
        )
    return sides
