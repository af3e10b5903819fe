"""EM for a spherical Gaussian mixture when ratings are missing.

Mirrors ``em.py`` of the course project; notebook 03 derives both steps. A user u rated
the items C_u; the density of a spherical Gaussian over those coordinates is the marginal
N(x_{C_u} | mu_{j,C_u}, var_j I_{|C_u|}), so every sum runs over observed entries only.

X is the course's dense matrix (0 = missing) or a CSR matrix (stored entries = observed
ratings): every per-user sum over observed entries is a matrix product with X or with the
indicator M of observed entries, on either format, never densifying a sparse X. A user with
no ratings gets the prior p as posterior. Each step is written here once, for a block of
users; ``cfcore.engine`` lays X out in blocks, on every core, optionally in float32 (where
the ratings are stored minus a shift), and adds up the blocks' sums.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from . import engine
from ._validation import (
    check_non_negative,
    check_pair_arrays,
    check_posterior,
    check_ratings_and_scale,
    is_sparse,
)
from .common import (
    EM_TOLERANCE,
    MIN_VARIANCE,
    GaussianMixture,
    Outcome,
    as_mixture,
    iterate,
    normalise_log_weights,
    squared_distances,
)

#: added to p_j before its log, as in the course, so an empty component stays finite
LOG_EPS = 1e-16


def log_joint(sq_distances, counts, var: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The E-step's unnormalised log posterior, log p_j + log N(x_{C_u} | mu_{j,C_u}, var_j I):

        log(p_j + 1e-16) - |C_u|/2 log(2 pi var_j) - sum_{i in C_u} (x_ui - mu_ji)^2 / (2 var_j).

    sq_distances: (n, K) the sums of squares over C_u; counts: (n, 1) |C_u|; var, p: (K,).
    Any shapes that broadcast so (``cfcore.models.incremental`` passes one user's (S, K)
    distances under S seeds' mixtures, with a scalar count).
    """
    log_norm = 0.5 * np.log(2.0 * np.pi * var)
    return np.log(p + LOG_EPS) - counts * log_norm - sq_distances / (2.0 * var)


def _estep(data: engine.RatingBlocks, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    mu, var, p = mixture
    if engine.fused.applies(data):  # these same steps in one compiled pass (engine/fused.py)
        stored = mu - data.shift if data.shift else mu  # (float64 data is not shifted)
        fused = engine.fused.estep(data, stored, var, np.log(p + LOG_EPS))
        if fused is not None:  # else a density underflowed: the steps below say where
            return fused
    means = data.stored(mu).T  # (K, d), in the stored frame and dtype
    post = np.empty((data.n_users, mu.shape[0]))

    def block_estep(b: int) -> float:
        R = data.blocks[b]
        sq_distances = squared_distances(R.X, means, R.sq_norms, R.M)
        post[data.rows(b)], ll = normalise_log_weights(
            log_joint(sq_distances, R.counts[:, None], var, p)
        )
        return ll

    return post, engine.sum_over_blocks(block_estep, data)


def estep(X, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Posterior of every component for every user, from their observed ratings only.

    log post_uj = log(p_j + 1e-16) - |C_u|/2 log(2 pi var_j)
                  - sum_{i in C_u} (x_ui - mu_ji)^2 / (2 var_j) - log-normaliser_u.
    X: (n, d) array (0 = missing), CSR matrix, or ``engine.prepare(X)``. Returns post:
    (n, K) and the log-likelihood sum_u logsumexp_j of the unnormalised terms.
    """
    data = engine.prepare(X)
    return _estep(data, as_mixture(mixture, data.X.shape[1]))


def log_likelihood(X, mixture: GaussianMixture) -> float:
    """log p(observed ratings of X | mixture); e.g. on held-out users (notebook 04)."""
    return estep(X, mixture)[1]


class Statistics(NamedTuple):
    """The sums over users the M-step needs; sums over blocks of users add up to them.

    weighted_ratings: (K, d) sum_u post_uj x_ui;  support: (K, d) sum_u post_uj [i in C_u];
    weighted_sq_norms: (K,) sum_u post_uj sum_{i in C_u} x_ui^2;  weights: (K,) sum_u post_uj
    (x_ui as stored: minus the shift in float32)
    """

    weighted_ratings: np.ndarray
    support: np.ndarray
    weighted_sq_norms: np.ndarray
    weights: np.ndarray

    def plus(self, other: Statistics) -> Statistics:
        return Statistics(*(a + b for a, b in zip(self, other, strict=True)))


def statistics(data: engine.RatingBlocks, post: np.ndarray) -> Statistics:
    """The M-step's sums over all users, a block at a time; post: (n, K)."""
    if engine.fused.applies(data):  # the same sums in one compiled pass, or the E-step's
        return Statistics(*engine.fused.statistics(data, post))

    def block_statistics(b: int) -> Statistics:  # post^T X, post^T M, post^T ||x||^2, sum
        R, weights = data.blocks[b], post[data.rows(b)]
        cast = weights.astype(R.X.dtype, copy=False)
        return Statistics(
            np.asarray(engine.weighted_sums(cast, R.X), dtype=np.float64),
            np.asarray(engine.weighted_sums(cast, R.M), dtype=np.float64),
            weights.T @ R.sq_norms,
            weights.sum(axis=0),
        )

    return engine.sum_over_blocks(block_statistics, data, plus=Statistics.plus)


def _mstep(data: engine.RatingBlocks, post, previous, min_variance) -> GaussianMixture:
    stats = statistics(data, post)
    if engine.fused.applies(data):  # the means and squared errors below, in one compiled pass
        mu, sse, n_observed = engine.fused.means_and_errors(stats, data.shift, previous.mu)
        var = variances(sse, n_observed, previous.var, min_variance)
        return GaussianMixture(mu, var, stats.weights / data.n_users)
    mu = supported_means(stats, previous.mu - data.shift)  # in the frame of the stored ratings
    return variances_and_weights(data, stats, mu, previous, min_variance)


def supported_means(stats: Statistics, previous_mu: np.ndarray) -> np.ndarray:
    """The course's mean update: mu_ji = sum_u post_uj x_ui / sum_u post_uj [i in C_u] where
    that support is >= 1 (the support rule), else the previous mean; a new array.

    stats.weighted_ratings, stats.support and previous_mu: (K, d), or any one shape.
    """
    mu = np.array(previous_mu, dtype=np.float64)
    supported = stats.support >= 1.0
    mu[supported] = stats.weighted_ratings[supported] / stats.support[supported]
    return mu


def squared_errors(stats: Statistics, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2 and sum_u post_uj |C_u|: two (K,) arrays.

    From the sums alone, expanded so that the two products are reused:
    sum_u post_uj ||x_u||^2 - 2 sum_i mu_ji (post^T X)_ji + sum_i mu_ji^2 (post^T M)_ji.
    mu: (K, d). Sums over a subset of the columns give that subset's share.
    """
    sse = (
        stats.weighted_sq_norms
        - 2.0 * (mu * stats.weighted_ratings).sum(axis=1)
        + (mu**2 * stats.support).sum(axis=1)
    )
    return sse, stats.support.sum(axis=1)


def variances(sse, n_observed, previous_var, min_variance) -> np.ndarray:
    """var_j = max(min_variance, sse_j / n_observed_j); a component with no data keeps its
    previous variance. sse, n_observed, previous_var: (K,) (``squared_errors``)."""
    has_data = n_observed > 0
    var = np.array(previous_var, dtype=np.float64)
    var[has_data] = np.maximum(sse[has_data], 0.0) / n_observed[has_data]
    var = np.maximum(var, min_variance)
    if (var <= 0).any():
        raise ValueError(
            f"component(s) {np.flatnonzero(var <= 0).tolist()} reached variance 0, where the "
            f"likelihood is unbounded; keep min_variance > 0 (the course uses {MIN_VARIANCE})"
        )
    return var


def variances_and_weights(data, stats: Statistics, mu, previous, min_variance) -> GaussianMixture:
    """The rest of an M-step once the means are updated (mu: (K, d), in the stored frame).

    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u post_uj |C_u|)
    (a component with no data keeps its variance), p_j = sum_u post_uj / n. Also the M-step of
    MAP-EM (``cfcore.models.map_em``), whose prior changes the means only.
    """
    sse, n_observed = squared_errors(stats, mu)
    var = variances(sse, n_observed, previous.var, min_variance)
    return GaussianMixture(mu + data.shift, var, stats.weights / data.n_users)


def mstep(
    X, post: np.ndarray, mixture: GaussianMixture, min_variance: float = MIN_VARIANCE
) -> GaussianMixture:
    """Maximise the expected complete-data log-likelihood over observed entries.

    p_j = sum_u post_uj / n;
    mu_ji = sum_u post_uj x_ui [i in C_u] / sum_u post_uj [i in C_u], updated only where
    that support is >= 1 (elsewhere mu_ji keeps its previous value from ``mixture``);
    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2
                              / sum_u post_uj |C_u|).
    X: (n, d) array, CSR matrix or ``engine.prepare(X)``; post: (n, K) array.
    """
    data = engine.prepare(X)
    mixture = as_mixture(mixture, data.X.shape[1])
    post = check_posterior(post, data.n_users, mixture.mu.shape[0])
    return _mstep(data, post, mixture, check_non_negative(min_variance, "min_variance"))


def run(X, mixture, post, *, min_variance=MIN_VARIANCE, max_iter=None, callback=None, **layout):
    """Alternate E- and M-steps until new_ll - old_ll <= 1e-6 |new_ll|.

    X: (n, d) array (0 = missing), CSR matrix or ``engine.prepare(X)``; mixture and post
    from ``common.init``. callback: f(iteration, log_likelihood, mixture) after every
    iteration. layout: dtype, block_size, threads (``engine.prepare``; rounding only).
    Returns (mixture, post, log_likelihood), the log-likelihood of the last E-step.
    """
    options = dict(min_variance=min_variance, max_iter=max_iter, callback=callback, **layout)
    return run_full(X, mixture, post, **options)[:3]


def run_full(X, mixture, post, *, min_variance=MIN_VARIANCE, tol=EM_TOLERANCE, **kw) -> Outcome:
    """``run``, also saying whether it converged; tol: ``common.rises``' (-inf: never stop)."""
    loop = {key: kw.pop(key) for key in ("max_iter", "callback") if key in kw}
    data = engine.prepare(X, **kw)  # the rest is the layout: dtype, block_size, threads
    data = engine.one_pass(data)  # each E-step's pass also sums for the M-step after it
    mixture = as_mixture(mixture, data.X.shape[1])
    check_posterior(post, data.n_users, mixture.mu.shape[0])
    mstep_fn = partial(_mstep, data, min_variance=check_non_negative(min_variance, "min_variance"))
    return iterate(partial(_estep, data), mstep_fn, mixture, tol=tol, **loop)


def predict_pairs(post: np.ndarray, mu: np.ndarray, rows, cols, block: int = 1 << 20) -> np.ndarray:
    """Posterior-mean predictions sum_j post_uj mu_ji at the pairs (rows[t], cols[t]): (m,)."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), block):
        r, c = rows[start : start + block], cols[start : start + block]
        out[start : start + block] = np.einsum("tj,jt->t", post[r], mu[:, c])
    return out


def fill_matrix(X, mixture: GaussianMixture, pairs=None, *, scale="auto"):
    """Predict missing ratings by their posterior mean, keeping every observed rating.

    X_pred_ui = x_ui where observed, else sum_j post_uj mu_ji (post from one E-step), clipped
    to the scale. X dense (n, d), pairs=None: the filled (n, d) matrix, as the course returns
    it; pairs=(rows, cols): the (m,) filled values there only (the way for a sparse X);
    pairs="all": the filled dense (n, d) matrix for either format (asks for the memory).
    X may also be a ``cfcore.data.RatingsData``. scale: (low, high) to clip to; None: none;
    "auto": a RatingsData's declared scale, [min, max] of a sparse X's ratings, and none for
    a dense X, filled exactly as the course fills it (its start can leave a mean at a copied
    0; ``cfcore.fit`` starts sparse input from observed ratings, never from such a 0).
    Given ``engine.prepare(X, dtype=np.float32)``, the observed ratings come back as that
    float32 copy holds them (exact for whole and half stars, else to float32 precision).
    """
    X, scale = check_ratings_and_scale(X, scale)
    data = engine.prepare(X)
    X = data.X
    mixture = as_mixture(mixture, X.shape[1])
    post, _ = _estep(data, mixture)
    if pairs is None and is_sparse(X):
        n, d = X.shape
        raise ValueError(
            f"X is sparse: filling every entry would build a dense {n} x {d} matrix; pass "
            "pairs=(rows, cols) for the entries you need, or pairs='all' to build it anyway"
        )
    if isinstance(scale, str):  # "auto" on a matrix: a CSR matrix's range, a dense one none
        scale = (
            (X.data.min() + data.shift, X.data.max() + data.shift)
            if is_sparse(X) and X.nnz
            else None
        )
    if is_sparse(X):  # stored = observed, even a stored 0
        seen = engine.with_data(X, np.ones(X.nnz, np.int8))
    else:
        seen = np.concatenate([R.M for R in data.blocks]) > 0
    if pairs is None or (isinstance(pairs, str) and pairs == "all"):
        filled = _clip(post @ mixture.mu, scale)  # then the observed ratings, as they are
        if is_sparse(X):
            filled[engine.stored_rows(X), X.indices] = X.data + data.shift
            return filled
        return np.where(seen, X + data.shift, filled)
    rows, cols = check_pair_arrays(pairs, X.shape)
    values = _clip(predict_pairs(post, mixture.mu, rows, cols), scale)
    known = np.asarray(seen[rows, cols]).ravel() > 0
    values[known] = np.asarray(X[rows[known], cols[known]]).ravel() + data.shift
    return values


def _clip(predictions: np.ndarray, scale) -> np.ndarray:
    return predictions if scale is None else np.clip(predictions, *scale, out=predictions)
