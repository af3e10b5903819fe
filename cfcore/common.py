"""What the course's three models share: the mixture, its initialisation, BIC and RMSE.

Mirrors ``common.py`` of the MITx 6.86x project "Collaborative Filtering via Gaussian
Mixtures". Notebooks 01 (init), 04 (BIC) and 05 (RMSE) derive and use these.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

from ._checks import check_matrix, check_mixture, check_n_components, is_sparse


class GaussianMixture(NamedTuple):
    """A mixture of K spherical Gaussians in d dimensions.

    mu: (K, d) array, the component means
    var: (K,) array, the variance of component j, shared by its d coordinates
    p: (K,) array, the mixing weights, p_j >= 0, sum_j p_j = 1
    """

    mu: np.ndarray
    var: np.ndarray
    p: np.ndarray


def row_sq_norms(X) -> np.ndarray:
    """sum_i X_ui^2 for every row u: (n,) array, for a dense array or a CSR matrix."""
    if is_sparse(X):
        return np.asarray(with_data(X, X.data * X.data) @ np.ones(X.shape[1], X.dtype))
    return np.einsum("ui,ui->u", X, X)


def with_data(X: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix with X's sparsity pattern (shared, not copied) and new stored values."""
    return sp.csr_matrix((data, X.indices, X.indptr), shape=X.shape, copy=False)


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
    rows = np.random.RandomState(seed).choice(n, K, replace=False)
    mu = X[rows].toarray() if is_sparse(X) else X[rows].copy()
    mu = mu.astype(np.float64)
    # sum_u ||x_u - mu_j||^2 = sum_u ||x_u||^2 - 2 mu_j . sum_u x_u + n ||mu_j||^2
    column_sums = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    total_sq = float(row_sq_norms(X).sum())
    var = (total_sq - 2.0 * mu @ column_sums + n * (mu**2).sum(axis=1)) / (n * d)
    if (var <= 1e-12 * max(total_sq / (n * d), 1e-300)).any():  # 0 up to rounding
        raise ValueError(
            "X: every row of X equals the chosen initial mean, so the initial variance is 0; "
            "a mixture needs at least two distinct rows"
        )
    p = np.full(K, 1.0 / K)
    post = np.full((n, K), 1.0 / K)
    return GaussianMixture(mu, var, p), post


def normalise_log_weights(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Responsibilities and log-likelihood from unnormalised log joint densities.

    log_weights: (n, K) array, log p_j + log N(x_u | mu_j, var_j)
    Returns post: (n, K), post_uj = exp(log_weights_uj - logsumexp_j log_weights_uj),
    and the log-likelihood sum_u logsumexp_j log_weights_uj (no underflow, notebook 02).
    """
    log_norm = logsumexp(log_weights, axis=1, keepdims=True)
    post = np.exp(log_weights - log_norm)
    return post, float(log_norm.sum())


def iterate(estep_fn, mstep_fn, mixture, *, max_iter=None, callback=None):
    """The course's EM loop, shared by ``naive_em.run`` and ``em.run``.

    estep_fn(mixture) -> (post, ll); mstep_fn(post, mixture) -> mixture.

    Repeats post, ll = estep_fn(mixture); mixture = mstep_fn(post, mixture) while
    ll - previous_ll > 1e-6 |ll|, or until max_iter iterations.
    Returns (mixture, post, ll, converged, n_iter).
    """
    if max_iter is not None and max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer or None, got {max_iter}")
    previous_ll, ll, post, iteration = None, None, None, 0
    while previous_ll is None or ll - previous_ll > 1e-6 * abs(ll):
        if max_iter is not None and iteration == max_iter:
            return mixture, post, ll, False, iteration
        previous_ll = ll
        post, ll = estep_fn(mixture)
        if not np.isfinite(ll):
            raise FloatingPointError(
                f"the log-likelihood became {ll} at iteration {iteration + 1}; a component "
                "probably collapsed onto a point: try another seed or pass min_variance > 0"
            )
        mixture = mstep_fn(post, mixture)
        iteration += 1
        if callback is not None:
            callback(iteration, ll, mixture)
    return mixture, post, ll, True, iteration


def n_parameters(mixture: GaussianMixture) -> int:
    """Free parameters of a spherical mixture: K*d means + K variances + (K - 1) weights."""
    K, d = np.shape(mixture.mu)
    return K * d + K + (K - 1)


def bic(X, mixture: GaussianMixture, log_likelihood: float) -> float:
    """Bayesian information criterion in the course's sign: higher is better.

    BIC = log_likelihood - 0.5 * n_parameters * ln n, with n the number of rows of X
    (notebook 04 derives the penalty).
    """
    X = check_matrix(X, ratings=False, allow_sparse=True)
    mixture = check_mixture(mixture, X.shape[1])
    if not np.isfinite(log_likelihood):
        raise ValueError(f"log_likelihood must be finite, got {log_likelihood}")
    return float(log_likelihood - 0.5 * n_parameters(mixture) * np.log(X.shape[0]))


def rmse(X, Y) -> float:
    """Root mean squared error over *every* entry, as the course defines it.

    sqrt(mean((X - Y)^2)); when Y is a filled matrix, observed entries (copied from X)
    count too. cfcore.evaluate gives the held-out RMSE over hidden entries only.
    """
    X = check_matrix(X, "X", ratings=False, allow_sparse=False)
    Y = check_matrix(Y, "Y", ratings=False, allow_sparse=False)
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape, got {X.shape} and {Y.shape}")
    return float(np.sqrt(np.mean((X - Y) ** 2)))
