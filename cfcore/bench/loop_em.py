"""EM with missing ratings written as a plain loop over users: the benchmark's reference.

This is the algorithm of ``cfcore.em`` (same initialisation, same updates, the same loop
``common.iterate``), written the straightforward way: one user at a time, numpy inside. The
benchmark times it beside ``cfcore.em.run`` to show what the matrix-product formulation buys;
a test checks that both give the same mixture and log-likelihood.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..common import EM_TOLERANCE, MIN_VARIANCE, GaussianMixture, iterate


def estep(X: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Posterior of every component for every user, one user at a time.

    X: (n, d) array, 0 = missing. Returns post: (n, K) and the log-likelihood.
    """
    mu, var, p = mixture
    n, K = X.shape[0], len(p)
    post = np.empty((n, K))
    log_likelihood = 0.0
    for u in range(n):
        seen = X[u] != 0
        sq_dist = ((X[u, seen] - mu[:, seen]) ** 2).sum(axis=1)  # (K,)
        log_joint = (
            np.log(p + 1e-16) - 0.5 * seen.sum() * np.log(2 * np.pi * var) - sq_dist / (2 * var)
        )
        top = log_joint.max()
        log_total = top + np.log(np.exp(log_joint - top).sum())
        post[u] = np.exp(log_joint - log_total)
        log_likelihood += log_total
    return post, log_likelihood


def mstep(
    X: np.ndarray, post: np.ndarray, mixture: GaussianMixture, min_variance: float = MIN_VARIANCE
) -> GaussianMixture:
    """The M-step of ``cfcore.em.mstep``, accumulating its sums one user at a time."""
    n, d = X.shape
    K = post.shape[1]
    weighted_ratings, support = np.zeros((K, d)), np.zeros((K, d))
    for u in range(n):
        seen = X[u] != 0
        weighted_ratings[:, seen] += np.outer(post[u], X[u, seen])
        support[:, seen] += post[u][:, None]
    mu = mixture.mu.copy()
    supported = support >= 1
    mu[supported] = weighted_ratings[supported] / support[supported]

    sse, n_observed = np.zeros(K), np.zeros(K)
    for u in range(n):
        seen = X[u] != 0
        sse += post[u] * ((X[u, seen] - mu[:, seen]) ** 2).sum(axis=1)
        n_observed += post[u] * seen.sum()
    var = mixture.var.copy()
    var[n_observed > 0] = sse[n_observed > 0] / n_observed[n_observed > 0]
    return GaussianMixture(mu, np.maximum(var, min_variance), post.sum(axis=0) / n)


def run(
    X: np.ndarray,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    min_variance: float = MIN_VARIANCE,
    max_iter: int | None = None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate the E- and M-steps until new_ll - old_ll <= 1e-6 |new_ll| (as ``em.run``).

    X: (n, d) array, 0 = missing; mixture and post from ``cfcore.common.init``.
    Returns (mixture, post, log_likelihood) of the last E-step.
    """
    mstep_fn = partial(mstep, X, min_variance=min_variance)
    outcome = iterate(partial(estep, X), mstep_fn, mixture, tol=EM_TOLERANCE, max_iter=max_iter)
    return outcome.mixture, outcome.post, outcome.objective
