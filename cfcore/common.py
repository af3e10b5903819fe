"""What the course's three models share: the mixture, its initialisation, BIC and RMSE.

Mirrors ``common.py`` of the MITx 6.86x project "Collaborative Filtering via Gaussian
Mixtures". Notebooks 01 (init), 04 (BIC) and 05 (RMSE) derive and use these.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

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


#: rows of a CSR matrix squared at once by ``row_sq_norms``
_SQUARING_ROWS = 1 << 14


def row_sq_norms(X) -> np.ndarray:
    """sum_i X_ui^2 for every row u: (n,) float64 array, for a dense array or a CSR matrix.

    A CSR matrix is squared a block of rows at a time, so that no copy of all its values is made.
    """
    if not is_sparse(X):
        return np.einsum("ui,ui->u", X, X, dtype=np.float64)
    n, d = X.shape
    ones = np.ones(d)
    norms = np.empty(n)
    for start in range(0, n, _SQUARING_ROWS):
        rows = csr_rows(X, start, min(start + _SQUARING_ROWS, n))
        norms[start : start + rows.shape[0]] = (
            with_data(rows, np.square(rows.data, dtype=float)) @ ones
        )
    return norms


def _compressed(kind, shape, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray):
    """A CSR or CSC matrix over exactly these arrays, never a copy of them.

    scipy copies an array that views less than half of a larger one when it builds a matrix
    from it (to free the rest); a block of users is such a view, so the arrays are attached
    after building an empty matrix of the right shape.
    """
    matrix = kind(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = (
        data,
        indices,
        indptr.astype(indices.dtype, copy=False),
    )
    return matrix


def with_data(X: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix with X's sparsity pattern (shared, not copied) and new stored values."""
    return _compressed(sp.csr_matrix, X.shape, data, X.indices, X.indptr)


def csr_rows(X: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows start:stop of a CSR matrix, sharing its values and column indices (no copy)."""
    first, last = X.indptr[start], X.indptr[stop]
    return _compressed(
        sp.csr_matrix,
        (stop - start, X.shape[1]),
        X.data[first:last],
        X.indices[first:last],
        X.indptr[start : stop + 1] - first,
    )


def weighted_sums(weights: np.ndarray, X) -> np.ndarray:
    """weights^T @ X: (K, d), sum_u weights_uj X_ui, for a dense array or a CSR matrix.

    weights: (n, K). These are the M-step's sums over users. A CSR matrix is multiplied as
    X^T @ weights with X^T the CSC matrix over X's own arrays (scipy's ``X.T`` would copy
    them when X is a block of a larger matrix); for a dense X, weights^T @ X is the order
    BLAS runs fastest.
    """
    if is_sparse(X):
        X_t = _compressed(sp.csc_matrix, X.shape[::-1], X.data, X.indices, X.indptr)
        return (X_t @ weights).T
    return weights.T @ X


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
    column_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
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


_SMALLEST_NORMAL_FLOAT32 = float(np.finfo(np.float32).tiny)


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
    sum it enters beyond 1e-37, while as a subnormal number (in float64, or once cast to
    float32 for the products) it makes the M-step's products several times slower on common
    processors.
    """
    top = log_weights.max(axis=1, keepdims=True)
    post = np.exp(log_weights - top, out=np.empty_like(log_weights))
    total = post.sum(axis=1, keepdims=True)
    post /= total
    post *= post >= _SMALLEST_NORMAL_FLOAT32  # cheaper than post[post < ...] = 0
    return post, float((top + np.log(total)).sum())


def iterate(estep_fn, mstep_fn, mixture, *, max_iter=None, callback=None, tol=1e-6):
    """The course's EM loop, shared by ``naive_em.run`` and ``em.run``.

    estep_fn(mixture) -> (post, ll); mstep_fn(post, mixture) -> mixture.

    Repeats post, ll = estep_fn(mixture); mixture = mstep_fn(post, mixture) while
    ll - previous_ll > tol |ll| (the course's tol is 1e-6), or until max_iter iterations.
    Returns (mixture, post, ll, converged, n_iter).
    """
    if max_iter is not None and max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer or None, got {max_iter}")
    previous_ll, ll, post, iteration = None, None, None, 0
    while previous_ll is None or ll - previous_ll > tol * abs(ll):
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


class ProgressBar:
    """A progress display for long fits, to pass as ``callback`` to ``run`` (em, naive_em, kmeans).

        with ProgressBar("EM K=12") as show:
            mixture, post, ll = em.run(X, mixture, post, callback=show)

    Shows the iteration, the objective (log-likelihood, or k-means' cost) and its relative
    change |new - old| / |new|, the quantity the stopping rule compares with 1e-6. It uses
    ``tqdm.auto``: a widget in Jupyter, a text line on a terminal (written to stderr).
    ``enabled=False`` makes it a no-op, so callers can keep one code path. The bar appears at
    the first iteration; leave it with ``with`` (or call ``close()``) when the fit ends.
    """

    def __init__(self, description: str = "EM", *, enabled: bool = True, leave: bool = False):
        self.description, self.enabled, self.leave = description, enabled, leave
        self.bar, self.previous = None, None

    def __call__(self, iteration: int, objective: float, mixture=None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=self.description, unit="it", leave=self.leave)
        change = (
            float("nan")
            if self.previous is None
            else abs(objective - self.previous) / max(abs(objective), 1e-300)
        )
        self.previous = objective
        self.bar.set_postfix(
            objective=f"{objective:.6g}", rel_change=f"{change:.2e}", refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


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
