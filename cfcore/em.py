"""EM for a spherical Gaussian mixture when ratings are missing.

Mirrors ``em.py`` of the course project; notebook 03 derives both steps. A user u rated
the items C_u; the density of a spherical Gaussian over those coordinates is the marginal
N(x_{C_u} | mu_{j,C_u}, var_j I_{|C_u|}), so every sum runs over observed entries only.

X is either the course's dense matrix (0 = missing) or a ``scipy.sparse`` CSR matrix
(stored entries = observed ratings). Both go through the same code: every per-user sum over
observed entries is a matrix product with X or with the indicator M of observed entries,

    sum_{i in C_u} (x_ui - mu_ji)^2 = ||x_u||^2 - 2 (X mu^T)_uj + (M (mu^2)^T)_uj,

and those products work on either format without ever building a dense matrix from a
sparse one. A user with no ratings is valid: their posterior is the prior p and their
predictions are the mixture mean sum_j p_j mu_j.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ._checks import check_matrix, check_mixture, check_posterior, is_sparse
from .common import GaussianMixture, iterate, normalise_log_weights, row_sq_norms, with_data

#: added to p_j before its log, as in the course, so an empty component stays finite
LOG_EPS = 1e-16


class Ratings(NamedTuple):
    """A ratings matrix with what every EM step needs from it, computed once.

    X: (n, d) ratings, dense ndarray (0 = missing) or CSR matrix (stored = observed)
    M: (n, d) indicator of observed entries, in the same format as X
    sq_norms: (n,) sum_{i in C_u} x_ui^2
    counts: (n,) |C_u|, the number of ratings of user u
    """

    X: np.ndarray | sp.csr_matrix
    M: np.ndarray | sp.csr_matrix
    sq_norms: np.ndarray
    counts: np.ndarray


def observed(X, *, allow_negative: bool = False) -> Ratings:
    """Check a ratings matrix (dense or CSR) and precompute its mask and row statistics.

    allow_negative=True accepts negative stored values in a CSR matrix (real-valued data such
    as residuals after biases: every stored entry, 0 included, is observed); a dense X still
    uses 0 = missing and must be non-negative.
    """
    if isinstance(X, Ratings):
        return X
    X = check_matrix(X, ratings=True, allow_sparse=True, allow_negative_sparse=allow_negative)
    if is_sparse(X):
        M = with_data(X, np.ones_like(X.data))
    else:
        M = (X != 0).astype(X.dtype)
    counts = np.asarray(M @ np.ones(X.shape[1], X.dtype), dtype=np.float64)
    return Ratings(X, M, row_sq_norms(X).astype(np.float64), counts)


def _squared_distances(R: Ratings, mu: np.ndarray) -> np.ndarray:
    """sum_{i in C_u} (x_ui - mu_ji)^2: (n, K), clipped at 0 against rounding."""
    dist = R.sq_norms[:, None] - 2.0 * (R.X @ mu.T) + R.M @ (mu**2).T
    return np.maximum(dist, 0.0, out=dist)


def _estep(R: Ratings, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    mu, var, p = mixture
    log_joint = (
        np.log(p + LOG_EPS)
        - 0.5 * R.counts[:, None] * np.log(2.0 * np.pi * var)
        - _squared_distances(R, mu) / (2.0 * var)
    )
    return normalise_log_weights(log_joint)


def estep(X, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Posterior of every component for every user, from their observed ratings only.

    log post_uj = log(p_j + 1e-16) - |C_u|/2 log(2 pi var_j)
                  - sum_{i in C_u} (x_ui - mu_ji)^2 / (2 var_j) - log-normaliser_u.
    X: (n, d) array (0 = missing) or CSR matrix. Returns post: (n, K) and the
    log-likelihood sum_u logsumexp_j of the unnormalised terms.
    """
    R = observed(X)
    return _estep(R, check_mixture(mixture, R.X.shape[1]))


def log_likelihood(X, mixture: GaussianMixture) -> float:
    """log p(observed ratings of X | mixture); e.g. on held-out users (notebook 04)."""
    return estep(X, mixture)[1]


def _mstep(
    R: Ratings, post: np.ndarray, previous: GaussianMixture, min_variance: float
) -> GaussianMixture:
    n = R.X.shape[0]
    weighted_ratings = np.asarray(R.X.T @ post).T  # (K, d): sum_u post_uj x_ui
    support = np.asarray(R.M.T @ post).T  # (K, d): sum_u post_uj [i in C_u]
    mu = previous.mu.copy()
    supported = support >= 1.0
    mu[supported] = weighted_ratings[supported] / support[supported]
    # sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2, expanded to reuse the two products
    sse = post.T @ R.sq_norms - 2.0 * (mu * weighted_ratings).sum(1) + (mu**2 * support).sum(1)
    n_observed = support.sum(axis=1)  # sum_u post_uj |C_u|
    has_data = n_observed > 0
    var = previous.var.copy()
    var[has_data] = np.maximum(sse[has_data], 0.0) / n_observed[has_data]
    var = np.maximum(var, min_variance)
    if (var <= 0).any():
        raise ValueError(
            f"component(s) {np.flatnonzero(var <= 0).tolist()} reached variance 0, where the "
            "likelihood is unbounded; keep min_variance > 0 (the course uses 0.25)"
        )
    return GaussianMixture(mu, var, post.sum(axis=0) / n)


def mstep(
    X, post: np.ndarray, mixture: GaussianMixture, min_variance: float = 0.25
) -> GaussianMixture:
    """Maximise the expected complete-data log-likelihood over observed entries.

    p_j = sum_u post_uj / n;
    mu_ji = sum_u post_uj x_ui [i in C_u] / sum_u post_uj [i in C_u], updated only where
    that support is >= 1 (elsewhere mu_ji keeps its previous value from ``mixture``);
    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2
                              / sum_u post_uj |C_u|).
    X: (n, d) array or CSR matrix, post: (n, K) array.
    """
    R = observed(X)
    mixture = check_mixture(mixture, R.X.shape[1])
    post = check_posterior(post, R.X.shape[0], mixture.mu.shape[0])
    return _mstep(R, post, mixture, _check_min_variance(min_variance))


def _check_min_variance(min_variance: float) -> float:
    if not np.isfinite(min_variance) or min_variance < 0:
        raise ValueError(f"min_variance must be a finite number >= 0, got {min_variance}")
    return float(min_variance)


def run(
    X,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    min_variance: float = 0.25,
    max_iter: int | None = None,
    callback=None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate E- and M-steps until new_ll - old_ll <= 1e-6 |new_ll|.

    X: (n, d) array (0 = missing) or CSR matrix; mixture and post from ``common.init``.
    callback: optional f(iteration, log_likelihood, mixture) after every iteration.
    Returns (mixture, post, log_likelihood), the log-likelihood of the last E-step.
    """
    mixture, post, ll, _, _ = _run(
        X, mixture, post, min_variance=min_variance, max_iter=max_iter, callback=callback
    )
    return mixture, post, ll


def _run(X, mixture, post, *, min_variance=0.25, max_iter=None, callback=None):
    """``run`` that also says whether it converged: (mixture, post, ll, converged, n_iter)."""
    R = observed(X)
    mixture = check_mixture(mixture, R.X.shape[1])
    check_posterior(post, R.X.shape[0], mixture.mu.shape[0])
    estep_fn = partial(_estep, R)
    mstep_fn = partial(_mstep, R, min_variance=_check_min_variance(min_variance))
    return iterate(estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback)


def _check_pairs(pairs, shape) -> tuple[np.ndarray, np.ndarray]:
    try:
        rows, cols = (np.asarray(a) for a in pairs)
    except (TypeError, ValueError):
        raise TypeError("pairs must be (rows, cols), two integer arrays, or 'all'") from None
    if rows.shape != cols.shape or rows.ndim != 1:
        raise ValueError(
            f"pairs must be two 1-D arrays of equal length, got {rows.shape}, {cols.shape}"
        )
    for name, index, size in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
        if index.size and not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"pairs {name} must be integers, got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(
                f"pairs {name} must lie in [0, {size}), got [{index.min()}, {index.max()}]"
            )
    return rows.astype(np.intp), cols.astype(np.intp)


def predict_pairs(post: np.ndarray, mu: np.ndarray, rows, cols, block: int = 1 << 20) -> np.ndarray:
    """Posterior-mean predictions sum_j post_uj mu_ji at the pairs (rows[t], cols[t]): (m,)."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), block):
        r, c = rows[start : start + block], cols[start : start + block]
        out[start : start + block] = np.einsum("tj,jt->t", post[r], mu[:, c])
    return out


def fill_matrix(X, mixture: GaussianMixture, pairs=None):
    """Predict missing ratings by their posterior mean, keeping every observed rating.

    X_pred_ui = x_ui where observed, else sum_j post_uj mu_ji, post from one E-step.
    X dense (n, d), pairs=None: the filled (n, d) matrix, as the course returns it.
    pairs=(rows, cols): a (m,) array of the filled values at those entries only; the way to
    ask for predictions from a sparse X, whose filled matrix would be dense.
    pairs="all": the filled (n, d) dense matrix for either format (asks for the memory).
    """
    R = observed(X)
    mixture = check_mixture(mixture, R.X.shape[1])
    post, _ = _estep(R, mixture)
    if pairs is None and is_sparse(R.X):
        n, d = R.X.shape
        raise ValueError(
            f"X is sparse: filling every entry would build a dense {n} x {d} matrix; pass "
            "pairs=(rows, cols) for the entries you need, or pairs='all' to build it anyway"
        )
    if pairs is None or (isinstance(pairs, str) and pairs == "all"):
        filled = post @ mixture.mu
        if is_sparse(R.X):
            filled[R.M.nonzero()] = R.X.data
            return filled
        return np.where(R.M > 0, R.X, filled)
    rows, cols = _check_pairs(pairs, R.X.shape)
    values = predict_pairs(post, mixture.mu, rows, cols)
    known = np.asarray(R.M[rows, cols]).ravel() > 0
    values[known] = np.asarray(R.X[rows[known], cols[known]]).ravel()
    return values
