"""EM for a mixture of spherical Gaussians on complete data.

Mirrors ``naive_em.py`` of the course project; notebook 02 derives both steps. The E-step
works in the log domain (log-sum-exp), so far-away points do not underflow to a 0/0.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ._validation import check_matrix, check_non_negative, check_posterior
from .common import (
    EM_TOLERANCE,
    GaussianMixture,
    Outcome,
    as_mixture,
    iterate,
    normalise_log_weights,
    squared_distances,
)
from .engine.sparse import row_sq_norms


def _estep(X: np.ndarray, mixture: GaussianMixture, sq_norms: np.ndarray):
    """log p_j + log N(x_u | mu_j, var_j I) for every row and component, normalised."""
    d = X.shape[1]
    mu, var, p = mixture
    log_joint = squared_distances(X, mu, sq_norms)  # ||x_u - mu_j||^2, then in place:
    with np.errstate(over="ignore"):  # -inf: a density of 0, refused below if it is every one
        log_joint /= -2.0 * var
    with np.errstate(divide="ignore"):  # a weight of exactly 0 gives log 0 = -inf, as it should
        log_joint += np.log(p) - 0.5 * d * np.log(2.0 * np.pi * var)
    return normalise_log_weights(log_joint)


def estep(X: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Responsibilities of every component for every row.

    post_uj = p_j N(x_u | mu_j, var_j I) / sum_l p_l N(x_u | mu_l, var_l I), with
    N(x | mu, var I) = (2 pi var)^(-d/2) exp(-||x - mu||^2 / (2 var)).
    X: (n, d) array. Returns post: (n, K) and the log-likelihood
    sum_u log sum_j p_j N(x_u | mu_j, var_j I).
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    return _estep(X, as_mixture(mixture, X.shape[1]), row_sq_norms(X))


def _mstep(
    X: np.ndarray,
    post: np.ndarray,
    previous: GaussianMixture | None,
    min_variance: float,
    sq_norms: np.ndarray,
) -> GaussianMixture:
    n, d = X.shape
    n_hat = post.sum(axis=0)
    empty = n_hat == 0
    if empty.any() and previous is None:
        raise ValueError(
            f"component(s) {np.flatnonzero(empty).tolist()} have zero responsibility for every "
            "row, so their means are undefined; pass the previous mixture, or try another seed"
        )
    safe = np.where(empty, 1.0, n_hat)
    weighted = post.T @ X  # (K, d): sum_u post_uj x_u
    mu = weighted / safe[:, None]
    # sum_u post_uj ||x_u - mu_j||^2, expanded to reuse the product above
    sse = post.T @ sq_norms - 2.0 * (mu * weighted).sum(axis=1) + n_hat * (mu**2).sum(axis=1)
    var = np.maximum(sse, 0.0) / (d * safe)
    if empty.any():
        mu[empty], var[empty] = previous.mu[empty], previous.var[empty]
    var = np.maximum(var, min_variance)
    if (var <= 0).any():
        raise ValueError(
            f"component(s) {np.flatnonzero(var <= 0).tolist()} collapsed onto single points "
            "(variance 0), where the likelihood is unbounded; try another seed or a smaller K, "
            "or pass min_variance > 0"
        )
    return GaussianMixture(mu, var, n_hat / n)


def mstep(
    X: np.ndarray,
    post: np.ndarray,
    mixture: GaussianMixture | None = None,
    min_variance: float = 0.0,
) -> GaussianMixture:
    """Closed-form maximisers of the expected complete-data log-likelihood.

    n_j = sum_u post_uj, p_j = n_j / n, mu_j = sum_u post_uj x_u / n_j,
    var_j = sum_u post_uj ||x_u - mu_j||^2 / (d n_j), then max(var_j, min_variance).
    The course has no floor (min_variance=0). A component with zero total responsibility
    keeps its parameters from ``mixture``.
    X: (n, d) array, post: (n, K) array.
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    if mixture is not None:
        mixture = as_mixture(mixture, X.shape[1])
    post = check_posterior(post, X.shape[0], None if mixture is None else mixture.p.size)
    min_variance = check_non_negative(min_variance, "min_variance")
    return _mstep(X, post, mixture, min_variance, row_sq_norms(X))


def run(
    X: np.ndarray,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    min_variance: float = 0.0,
    max_iter: int | None = None,
    callback=None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate E- and M-steps until new_ll - old_ll <= 1e-6 |new_ll|.

    X: (n, d) array; mixture and post as returned by ``cfcore.common.init``.
    callback: optional f(iteration, log_likelihood, mixture) after every iteration.
    Returns (mixture, post, log_likelihood), the log-likelihood of the last E-step.
    """
    mixture, post, ll, _, _ = run_full(
        X, mixture, post, min_variance=min_variance, max_iter=max_iter, callback=callback
    )
    return mixture, post, ll


def run_full(
    X, mixture, post, *, min_variance=0.0, max_iter=None, callback=None, tol=EM_TOLERANCE
) -> Outcome:
    """``run`` that also says whether it converged and after how many iterations.

    tol: the relative rise of the log-likelihood below which the loop stops (the course's
    1e-6); the benchmarks pass -inf to time a fixed number of iterations.
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    mixture = as_mixture(mixture, X.shape[1])
    check_posterior(post, X.shape[0], mixture.mu.shape[0])
    sq_norms = row_sq_norms(X)  # computed once: X does not change between iterations
    estep_fn = partial(_estep, X, sq_norms=sq_norms)
    min_variance = check_non_negative(min_variance, "min_variance")
    mstep_fn = partial(_mstep, X, min_variance=min_variance, sq_norms=sq_norms)
    return iterate(estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback, tol=tol)
