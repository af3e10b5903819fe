"""k-means (Lloyd's algorithm) as the course runs it, on complete data.

Mirrors ``kmeans.py`` of the course project; notebook 01 draws every step. k-means is the
hard-assignment limit of the spherical mixture (notebook 01, last section), so it returns
the same ``GaussianMixture`` type: p_j = n_j / n and var_j = mean squared distance of the
cluster's points to its mean, per coordinate.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_matrix, check_mixture, check_posterior
from .common import GaussianMixture


def squared_distances(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """||x_u - mu_j||^2 for every row u and mean j: (n, K) array.

    Expanded as ||x_u||^2 - 2 x_u . mu_j + ||mu_j||^2 so that it is one matrix product;
    clipped at 0 because rounding can make a tiny distance negative.
    X: (n, d) array, mu: (K, d) array.
    """
    dist = np.einsum("ui,ui->u", X, X)[:, None] - 2.0 * (X @ mu.T) + (mu**2).sum(axis=1)
    return np.maximum(dist, 0.0, out=dist)


def _estep(X: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    nearest = np.argmin(squared_distances(X, mixture.mu), axis=1)
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
    return _estep(X, check_mixture(mixture, X.shape[1]))


def _mstep(X: np.ndarray, post: np.ndarray, previous: GaussianMixture | None) -> GaussianMixture:
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
    sse = (post * squared_distances(X, mu)).sum(axis=0)
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
    post = check_posterior(post, X.shape[0])
    if mixture is not None:
        mixture = check_mixture(mixture, X.shape[1])
    return _mstep(X, post, mixture)


def run(
    X: np.ndarray, mixture: GaussianMixture, post: np.ndarray, *, callback=None
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate assignment and update while the cost falls by more than 1e-4.

    X: (n, d) array; mixture and post as returned by ``cfcore.common.init``.
    callback: optional f(iteration, cost, mixture) called after every update.
    Returns (mixture, post, cost), the cost being that of the last assignment step.
    """
    X = check_matrix(X, ratings=False, allow_sparse=False)
    mixture = check_mixture(mixture, X.shape[1])
    check_posterior(post, X.shape[0], mixture.mu.shape[0])
    previous_cost, cost, iteration = None, None, 0
    while previous_cost is None or previous_cost - cost > 1e-4:
        previous_cost = cost
        post, cost = _estep(X, mixture)
        mixture = _mstep(X, post, mixture)
        iteration += 1
        if callback is not None:
            callback(iteration, cost, mixture)
    return mixture, post, cost
