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
    (``init_observed``): the start of the residual mixture, whose ratings are residuals, so
    that a coordinate the seeded user did not rate starts at 0, the prior mean ("no
    correction to the biases").
``observed-rows``
    The real-data start (``init_observed_rows``): the course's seeded rows, their observed
    ratings only; a coordinate the seeded user did not rate starts at the item's mean rating
    (the global mean for an item nobody rated), never at a copied "missing" 0; the variance
    over observed entries as ``observed``. The default of ``fit`` on CSR or RatingsData.

``default_start(X)`` says which start ``fit(X, K)`` uses when no ``init`` is given: "course"
for the course's dense matrix (0 = missing: the course's exact numbers), "observed-rows" for
a sparse matrix or a RatingsData.
"""

from __future__ import annotations

import numpy as np

from .. import em
from .._validation import check_n_components, check_non_negative, check_seed, is_sparse
from ..common import (
    MIN_VARIANCE,
    GaussianMixture,
    init,
    squared_distances,
    warn_if_too_few_distinct_rows,
)
from ..data import RatingsData
from ..engine import RatingBlocks, observed, prepare, sum_over_blocks


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
    post = np.random.default_rng(check_seed(seed)).dirichlet(np.ones(K), size=n)
    item_means = _item_means(prepare(R))  # R as one block: the same sums as R's own
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
    n = data.n_users
    K = check_n_components(K, n)
    users = np.random.RandomState(check_seed(seed)).choice(n, K, replace=False)  # as init's
    mu = _stored_rows(data.X, users) + data.shift
    warn_if_too_few_distinct_rows(data.X, mu, stacklevel=4)  # as common.init warns
    var = _observed_variance(data, mu, min_variance)
    return GaussianMixture(mu, var, np.full(K, 1.0 / K)), np.full((n, K), 1.0 / K)


def _stored_rows(X, rows: np.ndarray) -> np.ndarray:
    """The rows of X (dense, or CSR with its missing entries as 0) as a (len(rows), d)
    float64 array, exactly as ``common.init`` takes its means."""
    return (X[rows].toarray() if is_sparse(X) else X[rows].copy()).astype(np.float64)


def init_observed_rows(
    X, K: int, seed: int = 0, min_variance: float = MIN_VARIANCE
) -> tuple[GaussianMixture, np.ndarray]:
    """The real-data start: the course's seeded rows, observed ratings only.

    The K users are the course's (``np.random.RandomState(seed).choice(n, K,
    replace=False)``, as ``common.init``). mu_ji = x_{u_j i}, the rating the j-th seeded user
    u_j gave item i, where u_j rated it; elsewhere the item's mean rating over X
    (sum_u x_ui [i in C_u] / sum_u [i in C_u]), or the global mean rating for an item
    nobody rated. Nowhere is a missing entry read as a 0 rating, and since the M-step keeps
    a mean without support at its start value, no mean ever becomes a copied 0.
    var_j = max(min_variance, sum_u sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u |C_u|), as in
    ``init_observed``; p and post are uniform.
    X: (n, d) dense (0 = missing), CSR (stored values may be negative), a RatingsData or
    ``engine.prepare(X)``. Returns (mixture, post), post: (n, K).
    """
    data = prepare(_matrix(X), allow_negative=True)
    n, d = data.X.shape
    K = check_n_components(K, n)
    users = np.random.RandomState(check_seed(seed)).choice(n, K, replace=False)
    mu = np.tile(_item_means(data), (K, 1))  # in the stored frame
    for j, u in enumerate(users):
        values, seen = _user_row(data, int(u))
        mu[j, seen] = values[seen]
    warn_if_too_few_distinct_rows(data.X, mu, stacklevel=4)  # as common.init warns
    mu += data.shift
    var = _observed_variance(data, mu, min_variance)
    return GaussianMixture(mu, var, np.full(K, 1.0 / K)), np.full((n, K), 1.0 / K)


def _matrix(X):
    return X.matrix if isinstance(X, RatingsData) else X


def _item_means(data: RatingBlocks) -> np.ndarray:
    """Every item's mean stored rating; the global mean for an item nobody rated: (d,)."""
    return _means_of_columns(_column_sums(data))


def _column_sums(data: RatingBlocks) -> np.ndarray:
    """(2, d): every item's sum of stored ratings and its number of ratings; sums of these
    over blocks of users (or partitions on a cluster) add up."""

    def column_sums(b: int) -> np.ndarray:
        R = data.blocks[b]
        sums = [np.asarray(A.sum(axis=0), dtype=np.float64).ravel() for A in (R.X, R.M)]
        return np.stack(sums)

    return sum_over_blocks(column_sums, data)


def _means_of_columns(column_sums: np.ndarray) -> np.ndarray:
    """The item means of ``_column_sums``; the global mean for an item nobody rated: (d,)."""
    totals, support = column_sums
    global_mean = totals.sum() / max(support.sum(), 1.0)
    return np.where(support > 0, totals / np.maximum(support, 1.0), global_mean)


def _user_row(data: RatingBlocks, u: int) -> tuple[np.ndarray, np.ndarray]:
    """User u's stored ratings and observed indicator: two (d,) arrays."""
    b = int(np.searchsorted(data.starts, u, side="right")) - 1
    R, i = data.blocks[b], u - int(data.starts[b])
    values, seen = R.X[i : i + 1], R.M[i : i + 1]
    if is_sparse(values):
        values, seen = values.toarray(), seen.toarray()
    return np.asarray(values, dtype=np.float64).ravel(), np.asarray(seen).ravel() > 0


def _observed_variance(data: RatingBlocks, mu: np.ndarray, min_variance) -> np.ndarray:
    """max(min_variance, sum_u sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u |C_u|): (K,)."""
    return _variance_of_squared_errors(_observed_squared_errors(data, mu), min_variance)


def _observed_squared_errors(data: RatingBlocks, mu: np.ndarray) -> tuple[np.ndarray, float]:
    """(sum_u sum_{i in C_u} (x_ui - mu_ji)^2: (K,), sum_u |C_u|); sums of these over blocks
    of users (or partitions on a cluster) add up."""
    means = data.stored(mu).T
    totals = sum_over_blocks(
        lambda b: squared_distances(
            data.blocks[b].X, means, data.blocks[b].sq_norms, data.blocks[b].M
        ).sum(axis=0),
        data,
    )
    return totals, float(sum(block.counts.sum() for block in data.blocks))


def _variance_of_squared_errors(squared_errors, min_variance) -> np.ndarray:
    """The variance of ``_observed_variance`` from ``_observed_squared_errors``: (K,)."""
    totals, n_observed = squared_errors
    floor = check_non_negative(min_variance, "min_variance")
    var = np.maximum(totals / max(n_observed, 1.0), floor)
    if (var <= 0).any():
        raise ValueError(
            "X: the initial variance over observed entries is 0; pass min_variance > 0"
        )
    return var


#: name -> start f(X, K, seed) -> (mixture, post)
STARTS = {
    "course": init,
    "random": random_responsibilities,
    "observed": init_observed,
    "observed-rows": init_observed_rows,
}


def default_start(X) -> str:
    """The start ``fit`` uses without ``init``: "course" for a dense X, else "observed-rows".

    The course's dense matrix (0 = missing) keeps the course's start and numbers; a sparse
    matrix or a RatingsData holds real data, where a copied "missing" 0 would be a rating.
    """
    sparse = isinstance(X, RatingsData | RatingBlocks) or is_sparse(X)
    return "observed-rows" if sparse else "course"


def get_start(start, X=None):
    """A start by name (``STARTS``), or a function f(X, K, seed) -> (mixture, post) as it is.

    start=None: ``default_start(X)``.
    """
    if start is None:
        start = default_start(X)
    if callable(start):
        return start
    if not isinstance(start, str):
        raise TypeError(
            f"init must be a start's name {list(STARTS)} or a function f(X, K, seed), got {start!r}"
        )
    if start not in STARTS:
        raise ValueError(f"init must be one of {list(STARTS)} or a function, got {start!r}")
    return STARTS[start]
