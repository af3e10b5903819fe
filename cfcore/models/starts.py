"""Where EM starts: one registry of initialisations, used by ``fit``, the models and widgets.

Every start is f(X, K, seed) -> (mixture, post) with post: (n, K).

``course``
    The course's ``common.init``: K distinct seeded rows of X as the means, the variance
    over all entries (missing ones counted as 0). Reproduces the course's numbers.
``random``
    Random soft assignments and one M-step (``random_responsibilities``): every mean starts
    near the item means, which suits ratings as sparse as MovieLens 100K.
``observed``
    The course's seeded rows, with the variance measured over observed entries only
    (``init_observed``): the start of the residual mixture.
"""

from __future__ import annotations

import numpy as np

from .. import em
from .._validation import check_n_components, check_non_negative
from ..common import MIN_VARIANCE, GaussianMixture, init, squared_distances
from ..engine import observed, prepare, sum_over_blocks


def random_responsibilities(X, K: int, seed: int = 0) -> tuple[GaussianMixture, np.ndarray]:
    """Start EM on sparse ratings from random soft assignments and one M-step.

    The course's ``common.init`` takes K users' rows as the means. On a matrix as sparse as
    MovieLens 100K (94% missing) such a row is 0 on almost every item, the first E-step
    puts each of those K users alone in "their" component, and EM ends with components of
    one user (p_j = 1/n). Here instead every user gets random responsibilities
    post_u ~ Dirichlet(1, ..., 1) (seeded) and ``em.mstep`` turns them into means, variances
    and weights: every mean starts near the item means, from which EM separates the groups.
    An item a component barely covers (soft support < 1) starts at the item's mean rating
    (the global mean for an item nobody rated).

    X: (n, d) ratings, dense (0 = missing) or CSR. Returns (mixture, post), post: (n, K).
    """
    R = observed(X)
    n, d = R.X.shape
    K = check_n_components(K, n)
    post = np.random.default_rng(seed).dirichlet(np.ones(K), size=n)
    totals = np.asarray(R.X.sum(axis=0), dtype=np.float64).ravel()
    support = np.asarray(R.M.sum(axis=0), dtype=np.float64).ravel()
    global_mean = totals.sum() / max(support.sum(), 1.0)
    item_means = np.where(support > 0, totals / np.maximum(support, 1.0), global_mean)
    start = GaussianMixture(np.tile(item_means, (K, 1)), np.ones(K), np.full(K, 1.0 / K))
    return em.mstep(R, post, start), post


def init_observed(
    X, K: int, seed: int = 0, min_variance: float = MIN_VARIANCE
) -> tuple[GaussianMixture, np.ndarray]:
    """The course's seeded init, with var_j measured over the observed entries only.

    mu and p are ``common.init``'s (K distinct seeded rows, uniform weights); var_j =
    max(min_variance, sum_u sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u |C_u|). The course's
    var counts every missing entry as a 0 rating, which on a sparse residual matrix (values
    around 0, 94% missing) makes the first E-step nearly hard; measured on observed entries
    it starts at the data's scale. The floor makes the start a point the M-step can reach,
    so the objective cannot drop at the first iteration.
    X: dense (0 = missing) or CSR, whose stored values may be negative (residuals).
    """
    data = prepare(X, allow_negative=True)
    mixture, post = init(data.X, K, seed)  # seeded rows of the stored ratings
    mu = mixture.mu + data.shift
    means = data.stored(mu).T
    totals = sum_over_blocks(
        lambda b: squared_distances(
            data.blocks[b].X, means, data.blocks[b].sq_norms, data.blocks[b].M
        ).sum(axis=0),
        data,
    )
    n_observed = sum(block.counts.sum() for block in data.blocks)
    floor = check_non_negative(min_variance, "min_variance")
    var = np.maximum(totals / max(n_observed, 1.0), floor)
    if (var <= 0).any():
        raise ValueError(
            "X: the initial variance over observed entries is 0; pass min_variance > 0"
        )
    return GaussianMixture(mu, var, mixture.p), post


#: name -> start f(X, K, seed) -> (mixture, post)
STARTS = {"course": init, "random": random_responsibilities, "observed": init_observed}


def get_start(start):
    """A start by name (``STARTS``), or a function f(X, K, seed) -> (mixture, post) as it is."""
    if callable(start):
        return start
    if not isinstance(start, str):
        raise TypeError(
            f"init must be a start's name {list(STARTS)} or a function f(X, K, seed), "
            f"got {start!r}"
        )
    if start not in STARTS:
        raise ValueError(f"init must be one of {list(STARTS)} or a function, got {start!r}")
    return STARTS[start]
