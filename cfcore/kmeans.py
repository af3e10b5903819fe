"""k-means (Lloyd's algorithm) as the course runs it, on complete data.

Mirrors ``kmeans.py`` of the course project; notebook 01 draws every step. k-means is the
hard-assignment limit of the spherical mixture (notebook 01, last section), so it returns
the same ``GaussianMixture`` type: p_j = n_j / n and var_j = mean squared distance of the
cluster's points to its mean, per coordinate.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ._validation import check_matrix, check_posterior
from .common import (
    KMEANS_TOLERANCE,
    GaussianMixture,
    Outcome,
    as_mixture,
    falls,
    iterate,
    squared_distances,
)
from .engine.sparse import row_sq_norms


def _estep(X: np.ndarray, mixture: GaussianMixture, sq_norms: np.ndarray):
    nearest = np.argmin(squared_distances(X, mixture.mu, sq_norms), axis=1)
    post = np.zeros((X.shape[0], mixture.mu.shape[0]))
    post[np.arange(X.shape[0]), nearest] = 1.0
    # the cost from the differences themselves, so it is exact to rounding
    cost = float(((X - mixture.mu[nearest]) ** 2).sum())
    return post, cost


def estep(X: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Assign every row to its nearest mean.

    X: (n, d) array; mixture.mu: (K, d).
    Returns post: (n, K) one-hot assignments, and the cost sum_u min_j ||x_u - mu_j||^2.
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    return _estep(X, as_mixture(mixture, X.shape[1], zero_variance=True), row_sq_norms(X))


def _mstep(X, post, previous: GaussianMixture | None, sq_norms) -> GaussianMixture:
    n, d = X.shape
    n_hat = post.sum(axis=0)
    empty = n_hat == 0
    if empty.any() and previous is None:
        raise ValueError(
            f"cluster(s) {np.flatnonzero(empty).tolist()} received no points, so their means "
            "are undefined; pass the previous mixture to keep them, or try another seed"
        )
    safe = np.where(empty, 1.0, n_hat)
    mu = (post.T @ X) / safe[:, None]
    sse = (post * squared_distances(X, mu, sq_norms)).sum(axis=0)
    var = sse / (d * safe)
    if empty.any():
        mu[empty], var[empty] = previous.mu[empty], previous.var[empty]
    return GaussianMixture(mu, var, n_hat / n)


def mstep(
    X: np.ndarray, post: np.ndarray, mixture: GaussianMixture | None = None
) -> GaussianMixture:
    """Move every mean to the centroid of the rows assigned to it.

    mu_j = sum_u post_uj x_u / n_j, var_j = sum_u post_uj ||x_u - mu_j||^2 / (d n_j),
    p_j = n_j / n, with n_j = sum_u post_uj. A cluster with no rows keeps its mean and
    variance from ``mixture`` (an error if none is given).
    X: (n, d) array, post: (n, K) array.
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    if mixture is not None:
        mixture = as_mixture(mixture, X.shape[1], zero_variance=True)
    post = check_posterior(post, X.shape[0], None if mixture is None else mixture.p.size)
    return _mstep(X, post, mixture, row_sq_norms(X))


def run(
    X: np.ndarray,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    max_iter: int | None = None,
    callback=None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate assignment and update while the cost falls by more than 1e-4.

    X: (n, d) array; mixture and post as returned by ``cfcore.common.init``.
    callback: optional f(iteration, cost, mixture) called after every update.
    Returns (mixture, post, cost), the cost being that of the last assignment step.
    """
    mixture, post, cost, _, _ = run_full(X, mixture, post, max_iter=max_iter, callback=callback)
    return mixture, post, cost


def run_full(X, mixture, post, *, max_iter=None, callback=None, tol=KMEANS_TOLERANCE) -> Outcome:
    """``run`` that also says whether it converged and after how many iterations."""
    X = check_matrix(X, ratings=False, allow_sparse=False)
    mixture = as_mixture(mixture, X.shape[1], zero_variance=True)
    check_posterior(post, X.shape[0], mixture.mu.shape[0])
    sq_norms = row_sq_norms(X)  # computed once: X does not change between iterations
    return iterate(
        partial(_estep, X, sq_norms=sq_norms),
        partial(_mstep, X, sq_norms=sq_norms),
        mixture,
        go_on=falls,
        tol=tol,
        max_iter=max_iter,
        callback=callback,
    )
