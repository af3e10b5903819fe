"""What the course's three models share: the mixture, its initialisation, distances, the EM
loop, BIC and RMSE.

Mirrors ``common.py`` of the MITx 6.86x project "Collaborative Filtering via Gaussian
Mixtures". Notebooks 01 (init), 02 (the loop), 04 (BIC) and 05 (RMSE) derive and use these.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ._validation import (
    check_matrix,
    check_max_iter,
    check_mixture,
    check_n_components,
    check_number,
    check_seed,
    is_sparse,
)
from .engine.sparse import row_sq_norms

#: the course's variance floor in EM with missing data (``em.mstep``), in squared rating units
MIN_VARIANCE = 0.25
#: EM stops once the log-likelihood rises by at most this much, relative: new - old <= tol |new|
EM_TOLERANCE = 1e-6
#: k-means stops once its cost falls by at most this much (absolute), as the course's does
KMEANS_TOLERANCE = 1e-4
#: responsibilities below the smallest normal float32 are set to 0 (``normalise_log_weights``)
SMALLEST_NORMAL_FLOAT32 = float(np.finfo(np.float32).tiny)


class GaussianMixture(NamedTuple):
    """A mixture of K spherical Gaussians in d dimensions.

    mu: (K, d) array, the component means
    var: (K,) array, the variance of component j, shared by its d coordinates
    p: (K,) array, the mixing weights, p_j >= 0, sum_j p_j = 1
    """

    mu: np.ndarray
    var: np.ndarray
    p: np.ndarray


def as_mixture(mixture, d: int, name: str = "mixture", *, zero_variance=False) -> GaussianMixture:
    """``mixture`` checked against data with d columns, as a float64 GaussianMixture.

    zero_variance=True (k-means) accepts var_j = 0."""
    return GaussianMixture(*check_mixture(mixture, d, name, zero_variance=zero_variance))


class ConvergenceWarning(UserWarning):
    """The best run stopped at max_iter before its stopping rule was met: raise max_iter."""


class Outcome(NamedTuple):
    """How an iterative fit ended: the mixture, the posterior and objective of the last
    E-step, whether the stopping rule was met (else max_iter stopped it), iterations run."""

    mixture: GaussianMixture
    post: np.ndarray
    objective: float
    converged: bool
    n_iter: int


def squared_distances(X, mu: np.ndarray, sq_norms: np.ndarray, observed=None) -> np.ndarray:
    """sum_i (x_ui - mu_ji)^2 over the observed entries i of row u: (n, K) array.

    Expanded so that it is matrix products, for dense arrays and CSR matrices alike:

        sum_i (x_ui - mu_ji)^2 = ||x_u||^2 - 2 (X mu^T)_uj + ||mu_j||^2          (complete data)
        sum_{i in C_u} (x_ui - mu_ji)^2 = ||x_u||^2 - 2 (X mu^T)_uj + (M (mu^2)^T)_uj

    with M the 0/1 indicator of observed entries (a missing x_ui is 0 in X, so it drops out
    of X mu^T by itself). Clipped at 0 because rounding can make a tiny distance negative.
    X: (n, d); mu: (K, d) in X's dtype; sq_norms: (n,) float64 ||x_u||^2 over observed
    entries; observed: (n, d) M, or None for complete data.
    """
    cross = X @ (-2.0 * mu.T)  # the largest array of the step: built once, then in place
    dist = cross if cross.dtype == np.float64 else cross.astype(np.float64)
    dist += sq_norms[:, None]
    if observed is None:
        dist += (mu**2).sum(axis=1)
    else:
        dist += observed @ (mu**2).T
    return np.maximum(dist, 0.0, out=dist)


def init(X, K: int, seed: int = 0) -> tuple[GaussianMixture, np.ndarray]:
    """Initialise a mixture exactly as the course does.

    The means are K distinct rows of X drawn by ``np.random.seed(seed)`` followed by
    ``np.random.choice(n, K, replace=False)`` (reproduced here with a private
    ``RandomState(seed)``, the same stream, so the global generator is left alone);
    var_j = mean over all n*d entries of (X_ui - mu_ji)^2, missing entries counted as 0
    as in the course; p and post are uniform.

    X: (n, d) array, or (n, d) CSR matrix of ratings
    Returns (mixture, post) with post: (n, K) array of 1/K.
    """
    X = check_matrix(X, ratings=False, allow_sparse=True)
    n, d = X.shape
    K = check_n_components(K, n)
    rows = np.random.RandomState(check_seed(seed)).choice(n, K, replace=False)
    mu = X[rows].toarray() if is_sparse(X) else X[rows].copy()
    mu = mu.astype(np.float64)
    warn_if_too_few_distinct_rows(X, mu)
    # sum_u ||x_u - mu_j||^2 = sum_u ||x_u||^2 - 2 mu_j . sum_u x_u + n ||mu_j||^2
    column_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
    total_sq = float(row_sq_norms(X).sum())
    var = (total_sq - 2.0 * mu @ column_sums + n * (mu**2).sum(axis=1)) / (n * d)
    if (var <= 1e-12 * max(total_sq / (n * d), 1e-300)).any():  # 0 up to rounding
        raise ValueError(
            "X: the initial variance is 0 up to rounding: every row of X equals the chosen "
            "initial mean (a mixture needs at least two distinct rows), or X's values lie so "
            "far from 0 against their spread that their squares cancel (centre X first)"
        )
    p = np.full(K, 1.0 / K)
    post = np.full((n, K), 1.0 / K)
    return GaussianMixture(mu, var, p), post


def _distinct_rows(X) -> int:
    """How many distinct rows X has (dense array or CSR matrix)."""
    if is_sparse(X):
        return len(
            {
                (X.indices[a:b].tobytes(), X.data[a:b].tobytes())
                for a, b in zip(X.indptr[:-1], X.indptr[1:], strict=True)
            }
        )
    return len(np.unique(X, axis=0))


def warn_if_too_few_distinct_rows(X, mu: np.ndarray, stacklevel: int = 3) -> None:
    """Warn when K exceeds the number of distinct rows: some initial means then coincide,
    and components that start equal stay equal under EM and k-means. Counted only when two
    chosen rows coincide (then the rows' lengths first: rows of different lengths differ),
    so the usual case costs hashing K rows. mu: (K, d), rows of X (any shift)."""
    K = mu.shape[0]
    if len({row.tobytes() for row in np.asarray(mu, dtype=np.float64) + 0.0}) == K:
        return  # (+ 0.0 turns -0.0 into 0.0, which np.unique would call equal)
    lengths = np.diff(X.indptr) if is_sparse(X) else np.count_nonzero(X, axis=1)
    if np.unique(lengths).size >= K:
        return
    distinct = _distinct_rows(X)
    if distinct < K:
        warnings.warn(
            f"K={K} but X has only {distinct} distinct row{'s' * (distinct != 1)}, so some of "
            "the K initial means are the same row and those components stay identical; "
            f"use K <= {distinct}",
            UserWarning,
            stacklevel=stacklevel,
        )


def normalise_log_weights(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Responsibilities and log-likelihood from unnormalised log joint densities.

    log_weights: (n, K) array, a_uj = log p_j + log N(x_u | mu_j, var_j)
    Returns post: (n, K), post_uj = exp(a_uj - logsumexp_j a_uj), and the log-likelihood
    sum_u logsumexp_j a_uj. The log-sum-exp trick (notebook 02): with m_u = max_j a_uj,
    logsumexp_j a_uj = m_u + log sum_j exp(a_uj - m_u), where every exponential is at most 1
    and the largest is 1, so nothing overflows and the sum never underflows to 0. (Written
    out, it computes the exponentials once; scipy.special.logsumexp followed by exp takes
    several times longer on (n, K) arrays.)
    A responsibility below 1.2e-38, the smallest normal float32, is set to 0: it changes no
    sum it enters beyond 1e-37, while as a subnormal number it makes the M-step's products
    several times slower on common processors.
    """
    top = log_weights.max(axis=1, keepdims=True)
    if not np.isfinite(top).all():
        row = int(np.flatnonzero(~np.isfinite(top))[0])
        raise FloatingPointError(
            f"the density of row {row} under every component underflowed to 0 (or overflowed): "
            "the variances are too small for the distances to the means; rescale the data or "
            "start from another mixture"
        )
    post = np.exp(log_weights - top, out=np.empty_like(log_weights))
    total = post.sum(axis=1, keepdims=True)
    post /= total
    post *= post >= SMALLEST_NORMAL_FLOAT32  # cheaper than post[post < ...] = 0
    return post, float((top + np.log(total)).sum())


def rises(previous: float, current: float, tol: float) -> bool:
    """EM's rule to go on: the objective rose by more than tol relative, new - old > tol |new|."""
    return current - previous > tol * abs(current)


def falls(previous: float, current: float, tol: float) -> bool:
    """k-means' rule to go on: the cost fell by more than tol, old - new > tol."""
    return previous - current > tol


def iterate(
    estep_fn, mstep_fn, mixture, *, go_on=rises, tol=EM_TOLERANCE, max_iter=None, callback=None
) -> Outcome:
    """The one loop of every fit here: k-means, EM on complete data, EM with missing data.

    estep_fn(mixture) -> (post, objective); mstep_fn(post, mixture) -> mixture.
    Repeats post, objective = estep_fn(mixture); mixture = mstep_fn(post, mixture) while
    go_on(previous, objective, tol) (``rises`` for EM, ``falls`` for k-means' cost), or
    until max_iter iterations. callback(iteration, objective, mixture) after every one.
    """
    max_iter = check_max_iter(max_iter)
    previous, objective, post, iteration = None, None, None, 0
    while previous is None or go_on(previous, objective, tol):
        if max_iter is not None and iteration == max_iter:
            return Outcome(mixture, post, objective, False, iteration)
        previous = objective
        post, objective = estep_fn(mixture)
        if not np.isfinite(objective):
            raise FloatingPointError(
                f"the objective became {objective} at iteration {iteration + 1}; a component "
                "probably collapsed onto a point: try another seed or pass min_variance > 0"
            )
        mixture = mstep_fn(post, mixture)
        iteration += 1
        if callback is not None:
            callback(iteration, objective, mixture)
    return Outcome(mixture, post, objective, True, iteration)


def n_parameters(mixture: GaussianMixture) -> int:
    """Free parameters of a spherical mixture: K*d means + K variances + (K - 1) weights.

    mixture: a GaussianMixture or any (mu, var, p), mu: (K, d)."""
    K, d = np.shape(mixture[0])
    return K * d + K + (K - 1)


def bic(X, mixture: GaussianMixture, log_likelihood: float) -> float:
    """Bayesian information criterion in the course's sign: higher is better.

    BIC = log_likelihood - 0.5 * n_parameters * ln n, with n the number of rows of X
    (notebook 04 derives the penalty).
    """
    X = check_matrix(X, ratings=False, allow_sparse=True)
    mixture = as_mixture(mixture, X.shape[1])
    log_likelihood = check_number(log_likelihood, "log_likelihood")
    return float(log_likelihood - 0.5 * n_parameters(mixture) * np.log(X.shape[0]))


def rmse(X, Y) -> float:
    """Root mean squared error over *every* entry, as the course defines it.

    sqrt(mean((X - Y)^2)); when Y is a filled matrix, observed entries (copied from X)
    count too. ``cfcore.evaluation`` gives the held-out RMSE over hidden entries only.
    """
    X = check_matrix(X, "X", ratings=False, allow_sparse=False)
    Y = check_matrix(Y, "Y", ratings=False, allow_sparse=False)
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape, got {X.shape} and {Y.shape}")
    return float(np.sqrt(np.mean((X - Y) ** 2)))
