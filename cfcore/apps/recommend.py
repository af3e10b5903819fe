"""Recommendations for a new user from a fitted mixture, without refitting (notebook 07).

A fitted mixture (mu (K, d), var (K,), p (K,)) already says everything a new user needs.
Their ratings x_C on the items C they rated go through one E-step against it,

    post_j = p(j | x_C) = p_j N(x_C | mu_jC, var_j I) / sum_l p_l N(x_C | mu_lC, var_l I),

which is ``em.estep`` on a one-row matrix (the same computation, in the log domain, as for
every user during fitting), and every item i gets the posterior mean

    pred_i = E[x_i | x_C] = sum_j post_j mu_ji.

How sure is that prediction? By the law of total variance the predictive variance of x_i
splits into sum_j post_j var_j (the spread of ratings inside a cluster) plus

    spread_i^2 = sum_j post_j (mu_ji - pred_i)^2,

the variance of the cluster means under the posterior: how much the prediction would move
if we knew which cluster the user belongs to. It is large while a few ratings leave the
posterior spread over clusters that disagree about item i, and falls to 0 as the posterior
settles on one cluster; it does not say how well that cluster's mean mu_ji was estimated,
which is what the item's number of training ratings (``Recommendation.n_ratings``) tells.

The fold-in costs one (1 x d) @ (d x K) product: well under a millisecond for MovieLens
(``benchmarks/bench_fold_in.py``), against about a second to refit.

``cfcore.apps.recommender.Recommender`` holds a fitted mixture, or any fitted cfcore model
with a ``fold_in(cols, values)`` (``cfcore.models.ResidualMixture``, ...), with the items'
ids, titles and genres. What a mixture given as such models is set by a ``RatingSpace``:
``RawRatings`` (the ratings themselves, the course's model) by default; a mixture fitted to
transformed ratings plugs in with its own ``encode`` and ``decode``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp

from .. import em
from .._validation import check_non_negative, check_real
from ..common import GaussianMixture, as_mixture
from ..engine import observed

# ----------------------------------------------------------------------------------------
# Fold-in on arrays: items are column indices 0..d-1


def user_row(ratings, d: int, name: str = "ratings") -> sp.csr_matrix:
    """One user's ratings as a (1, d) CSR matrix whose stored entries are the ratings.

    ratings: {column: rating} mapping, a (d,) array with 0 = missing (the course's format),
    or a (1, d) sparse matrix (stored entries = ratings). Ratings must be finite and >= 0.
    A mapping or a sparse row keeps a given 0 as a rating of 0, the array form reads it as
    missing; the scale is not checked here (``Recommender.row`` checks it against the data's).
    """
    if isinstance(ratings, Mapping):
        row = _row_from_mapping(ratings, d, name)
    elif sp.issparse(ratings):
        if ratings.shape != (1, d):
            raise ValueError(f"{name} must be a (1, {d}) sparse row, got shape {ratings.shape}")
        row = sp.csr_matrix(ratings, dtype=np.float64)
    else:
        check_real(ratings, name)
        try:
            dense = np.asarray(ratings, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a mapping {{column: rating}}, a ({d},) array or a sparse row, "
                f"got {type(ratings).__name__}"
            ) from None
        if dense.shape != (d,):
            raise ValueError(
                f"{name} must be a mapping {{column: rating}}, a ({d},) array (0 = missing) or "
                f"a (1, {d}) sparse row, got shape {dense.shape}"
            )
        if not np.isfinite(dense).all():
            raise ValueError(f"{name} holds NaN or infinite values; 0 marks a missing rating")
        row = sp.csr_matrix(dense[None, :])
    if not np.isfinite(row.data).all() or (row.data < 0).any():
        raise ValueError(f"{name} must hold finite ratings >= 0, got {row.data.tolist()}")
    return row


def _row_from_mapping(ratings: Mapping, d: int, name: str) -> sp.csr_matrix:
    try:
        columns = np.array([operator.index(column) for column in ratings], dtype=np.int64)
        values = np.array([float(value) for value in ratings.values()], dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must map integer columns to numeric ratings, got {dict(ratings)!r}"
        ) from None
    outside = (columns < 0) | (columns >= d)
    if outside.any():
        raise ValueError(
            f"{name} names column {int(columns[outside][0])}, outside the {d} items [0, {d})"
        )
    order = np.argsort(columns)
    indptr = np.array([0, columns.size])
    return sp.csr_matrix((values[order], columns[order], indptr), shape=(1, d))


def _checked_mixture(mixture) -> GaussianMixture:
    """The mixture checked, with d taken from the mixture itself."""
    try:
        d = np.shape(mixture[0])[1]
    except (TypeError, IndexError, KeyError):
        raise TypeError(
            f"mixture must be a GaussianMixture(mu (K, d), var (K,), p (K,)), "
            f"got {type(mixture).__name__}"
        ) from None
    return as_mixture(mixture, d)


def fold_in(ratings, mixture: GaussianMixture) -> np.ndarray:
    """Posterior over the K clusters of a user who was not in the training data: (K,).

    post_j = p_j N(x_C | mu_jC, var_j I) / sum_l p_l N(x_C | mu_lC, var_l I): one
    ``em.estep`` on the user's row, nothing refitted. A user with no ratings gets p.
    ratings: {column: rating}, a (d,) array (0 = missing) or a (1, d) sparse row.
    """
    mixture = _checked_mixture(mixture)
    post, _ = em.estep(user_row(ratings, mixture.mu.shape[1]), mixture)
    return post[0]


def predict(post: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    """Posterior-mean rating of every item, pred_i = sum_j post_j mu_ji: (d,)."""
    return np.asarray(post) @ mixture.mu


def spread(post: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    """sqrt(sum_j post_j (mu_ji - pred_i)^2) for every item: (d,), see the module docstring.

    Computed as sqrt(sum_j post_j mu_ji^2 - pred_i^2), clipped at 0 against rounding.
    """
    post = np.asarray(post)
    second_moment = post @ (mixture.mu**2)
    return np.sqrt(np.maximum(second_moment - predict(post, mixture) ** 2, 0.0))


def cluster_support(X, post: np.ndarray) -> np.ndarray:
    """s_ji = sum_u post_uj [i in C_u]: how many training ratings cluster j has of item i.

    The denominator of the M-step's mu_ji (``em.mstep``): mu_ji is an average of about
    s_ji ratings. X: (n, d) ratings (dense, 0 = missing, or CSR), post: (n, K). Returns (K, d).
    """
    R = observed(X)
    return np.asarray(R.M.T @ np.asarray(post)).T


class Recommendation(NamedTuple):
    """One recommended item: its column, id and title, its predicted rating and how sure.

    spread: sqrt(sum_j post_j (mu_ji - predicted)^2), the disagreement of the clusters the
    user may belong to (module docstring; NaN for a model without one posterior);
    support: the training ratings behind the prediction: sum_j post_j s_ji, counted in the
    user's clusters, for a mixture, the item's number of training ratings for another model
    (NaN when unknown); genres: the item's genre names (empty when the data has none).
    """

    item: int
    item_id: object
    title: str
    predicted: float
    spread: float
    support: float
    genres: tuple[str, ...] = ()


def top_n(
    ratings,
    mixture: GaussianMixture,
    n: int = 10,
    *,
    item_ids=None,
    titles=None,
    support=None,
    min_support: float = 0.0,
) -> list[Recommendation]:
    """The n unrated items with the highest predicted rating, after folding the user in.

    ratings: {column: rating}, (d,) array (0 = missing) or (1, d) sparse row.
    item_ids, titles: (d,) arrays naming the items (default: the column, "").
    support: (K, d) ``cluster_support`` of the training data; with it, items whose support
    sum_j post_j s_ji is below min_support are left out (a cluster mean over two ratings is
    a poor estimate, and a 5.0 from it would top every list). Ties go to the lower column.
    """
    mixture = _checked_mixture(mixture)
    row = user_row(ratings, mixture.mu.shape[1])
    post = fold_in(row, mixture)
    rated = np.zeros(mixture.mu.shape[1], dtype=bool)
    rated[row.indices] = True
    user = UserFold(post, predict(post, mixture), spread(post, mixture), rated)
    return best_items(user, n, item_ids, titles, support, min_support)


@dataclass(frozen=True)
class UserFold:
    """A user folded into a model: what it says about them, without refitting.

    post: (K,) posterior over clusters (one E-step of a mixture), or None for a model
    without one posterior (e.g. a residual mixture averaged over seeds and sides);
    predictions: (d,) predicted rating of every item (rated ones included); spread: (d,)
    see the module docstring (NaN without a posterior); rated: (d,) bool.
    """

    post: np.ndarray
    predictions: np.ndarray
    spread: np.ndarray
    rated: np.ndarray


def _check_item_arrays(d: int, user: UserFold, item_ids, titles, support, min_support) -> None:
    """item_ids, titles: (d,) or None; support: (K, d), (d,) or None; min_support >= 0."""
    for name, values in (("item_ids", item_ids), ("titles", titles)):
        if values is not None and np.shape(values) != (d,):
            raise ValueError(f"{name} must name the {d} items, got shape {np.shape(values)}")
    shapes = [(d,)] if user.post is None else [(user.post.shape[0], d), (d,)]
    if support is not None and np.shape(support) not in shapes:
        raise ValueError(
            f"support must be the {' or '.join(map(str, shapes))} support of the training "
            f"data (cluster_support, or ratings per item), got shape {np.shape(support)}"
        )
    check_non_negative(min_support, "min_support")


def plain_value(value):
    """A numpy scalar as the Python value it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def best_items(
    user: UserFold, n, item_ids, titles, support, min_support, excluded=None, genres=None
):
    """The n candidates (unrated, supported, not excluded) with the highest prediction.

    support: (K, d) ``cluster_support`` (the user's support is post @ support), (d,) the
    support of every item for this user (e.g. its number of training ratings), or None
    (nothing left out). genres: (d,) tuples of genre names, or None.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of recommendations, got {n!r}")
    d = user.predictions.shape[0]
    _check_item_arrays(d, user, item_ids, titles, support, min_support)
    item_ids = None if item_ids is None else np.asarray(item_ids)  # a list works too
    if support is None:
        user_support = np.full(d, np.nan)
        candidates = ~user.rated
    else:
        support = np.asarray(support)
        user_support = user.post @ support if support.ndim == 2 else support
        candidates = ~user.rated & (user_support >= min_support)
    if excluded is not None:
        candidates &= ~excluded
    columns = np.flatnonzero(candidates)
    order = columns[np.argsort(-user.predictions[columns], kind="stable")[:n]]
    return [
        Recommendation(
            item=int(i),
            item_id=int(i) if item_ids is None else plain_value(item_ids[i]),
            title="" if titles is None else str(titles[i]),
            predicted=float(user.predictions[i]),
            spread=float(user.spread[i]),
            support=float(user_support[i]),
            genres=() if genres is None else tuple(genres[i]),
        )
        for i in order
    ]


# ----------------------------------------------------------------------------------------
# What the mixture models: the ratings themselves, or a transform of them


class RatingSpace(Protocol):
    """How ratings map to what a mixture was fitted on, and its predictions back.

    encode(X): (n, d) CSR ratings -> (n, d) CSR of the values the mixture models, with the
        same stored entries; decode(X, values): (n, d) CSR ratings and (n, d) mixture-space
        predictions -> predicted ratings. For a model of residuals x_ui - m - b_u - c_i,
        encode subtracts the offsets (estimating b_u from the user's own ratings) and decode
        adds them back; a shift leaves ``spread`` in rating units.
    """

    def encode(self, X: sp.csr_matrix) -> sp.csr_matrix: ...

    def decode(self, X: sp.csr_matrix, values: np.ndarray) -> np.ndarray: ...


class RawRatings:
    """The course's model: the mixture is fitted on the ratings themselves."""

    def encode(self, X: sp.csr_matrix) -> sp.csr_matrix:
        return X

    def decode(self, X: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
        return values

    def __repr__(self) -> str:
        return "RawRatings()"
