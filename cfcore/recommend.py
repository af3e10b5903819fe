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

``Recommender`` holds a fitted mixture with the items' ids, titles and genres. What the
mixture models is set by a ``RatingSpace``: ``RawRatings`` (the ratings themselves, the
course's model) by default; a model fitted to transformed ratings (e.g. residuals after
user and item biases) plugs in with its own ``encode`` and ``decode``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp

from . import em
from ._checks import check_mixture
from .common import GaussianMixture
from .datasets import RatingsData
from .selection import fit, random_responsibilities

# ----------------------------------------------------------------------------------------
# Fold-in on arrays: items are column indices 0..d-1


def user_row(ratings, d: int, name: str = "ratings") -> sp.csr_matrix:
    """One user's ratings as a (1, d) CSR matrix whose stored entries are the ratings.

    ratings: {column: rating} mapping, a (d,) array with 0 = missing (the course's format),
    or a (1, d) sparse matrix (stored entries = ratings). Ratings must be finite and >= 0.
    """
    if isinstance(ratings, Mapping):
        row = _row_from_mapping(ratings, d, name)
    elif sp.issparse(ratings):
        if ratings.shape != (1, d):
            raise ValueError(f"{name} must be a (1, {d}) sparse row, got shape {ratings.shape}")
        row = sp.csr_matrix(ratings, dtype=np.float64)
    else:
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


def _checked(mixture) -> GaussianMixture:
    """check_mixture with d taken from the mixture itself."""
    try:
        d = np.shape(mixture[0])[1]
    except (TypeError, IndexError, KeyError):
        raise TypeError(
            f"mixture must be a GaussianMixture(mu (K, d), var (K,), p (K,)), "
            f"got {type(mixture).__name__}"
        ) from None
    return check_mixture(mixture, d)


def fold_in(ratings, mixture: GaussianMixture) -> np.ndarray:
    """Posterior over the K clusters of a user who was not in the training data: (K,).

    post_j = p_j N(x_C | mu_jC, var_j I) / sum_l p_l N(x_C | mu_lC, var_l I): one
    ``em.estep`` on the user's row, nothing refitted. A user with no ratings gets p.
    ratings: {column: rating}, a (d,) array (0 = missing) or a (1, d) sparse row.
    """
    mixture = _checked(mixture)
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
    R = em.observed(X)
    return np.asarray(R.M.T @ np.asarray(post)).T


class Recommendation(NamedTuple):
    """One recommended item: its column, id and title, its predicted rating and how sure.

    spread: sqrt(sum_j post_j (mu_ji - predicted)^2), the disagreement of the clusters the
    user may belong to (module docstring); support: sum_j post_j s_ji, the number of
    training ratings the prediction averages, counted in the user's clusters (NaN when
    unknown).
    """

    item: int
    item_id: object
    title: str
    predicted: float
    spread: float
    support: float


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
    mixture = _checked(mixture)
    row = user_row(ratings, mixture.mu.shape[1])
    post = fold_in(row, mixture)
    rated = np.zeros(mixture.mu.shape[1], dtype=bool)
    rated[row.indices] = True
    user = UserFold(post, predict(post, mixture), spread(post, mixture), rated)
    return _best(user, n, item_ids, titles, support, min_support)


@dataclass(frozen=True)
class UserFold:
    """A user folded into a mixture: what one E-step says about them.

    post: (K,) posterior over clusters; predictions: (d,) posterior-mean rating of every
    item (rated ones included); spread: (d,) see the module docstring; rated: (d,) bool.
    """

    post: np.ndarray
    predictions: np.ndarray
    spread: np.ndarray
    rated: np.ndarray


def _best(user: UserFold, n, item_ids, titles, support, min_support, excluded=None):
    """The n candidates (unrated, supported, not excluded) with the highest prediction."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of recommendations, got {n!r}")
    d = user.predictions.shape[0]
    if support is None:
        user_support = np.full(d, np.nan)
        candidates = ~user.rated
    else:
        user_support = user.post @ support
        candidates = ~user.rated & (user_support >= min_support)
    if excluded is not None:
        candidates &= ~excluded
    columns = np.flatnonzero(candidates)
    order = columns[np.argsort(-user.predictions[columns], kind="stable")[:n]]
    return [
        Recommendation(
            item=int(i),
            item_id=int(i) if item_ids is None else item_ids[i].item(),
            title="" if titles is None else str(titles[i]),
            predicted=float(user.predictions[i]),
            spread=float(user.spread[i]),
            support=float(user_support[i]),
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


# ----------------------------------------------------------------------------------------
# A fitted model with titles: the object the widgets and notebook 07 use


@dataclass(frozen=True)
class ClusterProfile:
    """What cluster j likes.

    weight: p_j; mean_rating: the mean of the ratings its members gave, each weighted by
    post_uj (sum_u post_uj sum_{i in C_u} x_ui / sum_i s_ji); genres: (genre, score) for
    every genre, most liked first, the score being how much more than everyone the members
    like the genre, beyond their own generosity (``Recommender.cluster_profiles``);
    titles: (title, mu_ji) of its best-rated items with support s_ji >= min_support.
    """

    cluster: int
    weight: float
    mean_rating: float
    genres: list[tuple[str, float]]
    titles: list[tuple[str, float]]


class Recommender:
    """A fitted mixture over the items of a RatingsData: fold in new users and recommend.

    mixture: GaussianMixture over the d items of ``train`` (in ``space``'s values)
    train: the training ratings (ids, titles and genres of the items; the users it knows)
    space: what the mixture models (default ``RawRatings()``, the course's model)
    min_support: recommendations leave out items whose support sum_j post_j s_ji (training
    ratings behind the prediction, ``cluster_support``) is below this.
    Attributes: post (n, K), every training user's posterior under ``mixture`` (one E-step,
    exactly what ``fold_in`` gives for that user); support (K, d), s_ji; item_titles (d,)
    str (the ids as text when the data has no titles).
    Item arguments are item *ids* (``train.item_ids``), as a person would name them.
    """

    def __init__(
        self,
        mixture: GaussianMixture,
        train: RatingsData,
        *,
        space: RatingSpace | None = None,
        min_support: float = 20.0,
        name: str = "",
    ):
        if not isinstance(train, RatingsData):
            raise TypeError(f"train must be a RatingsData, got {type(train).__name__}")
        if not np.isfinite(min_support) or min_support < 0:
            raise ValueError(f"min_support must be a number >= 0, got {min_support!r}")
        self.train, self.space = train, RawRatings() if space is None else space
        self.mixture = check_mixture(mixture, train.n_items)
        self.min_support, self.name = float(min_support), name
        encoded = self.space.encode(train.matrix)
        self.post, _ = em.estep(encoded, self.mixture)
        self.support = cluster_support(encoded, self.post)
        self._column_of = {item_id.item(): k for k, item_id in enumerate(train.item_ids)}
        titles = train.titles if train.titles is not None else train.item_ids
        self.item_titles = titles.astype(str)
        self._lower_titles = np.char.lower(self.item_titles)
        self._n_ratings = np.bincount(train.matrix.indices, minlength=train.n_items)

    @property
    def K(self) -> int:
        return self.mixture.mu.shape[0]

    def __repr__(self) -> str:
        return (
            f"Recommender({self.name or self.train.name!r}: K={self.K} clusters over "
            f"{self.train.n_items:,} items, {self.space!r}, fitted on {self.train.n_users:,} "
            "users)"
        )

    # -- items and users ------------------------------------------------------------------

    def column(self, item_id) -> int:
        """The matrix column of an item id; a ValueError names an unknown id."""
        key = item_id.item() if isinstance(item_id, np.generic) else item_id
        try:
            return self._column_of[key]
        except (KeyError, TypeError):
            raise ValueError(
                f"item_id {item_id!r} is not one of the {self.train.n_items} items "
                f"(ids run from {self.train.item_ids[0]} to {self.train.item_ids[-1]})"
            ) from None

    def title(self, item_id) -> str:
        return str(self.item_titles[self.column(item_id)])

    def search(self, query: str, limit: int = 20) -> list:
        """Ids of the items whose title contains query (case-insensitive), most rated first."""
        query = str(query).lower().strip()
        hits = np.flatnonzero(np.char.find(self._lower_titles, query) >= 0)
        hits = hits[np.argsort(-self._n_ratings[hits], kind="stable")][:limit]
        return [self.train.item_ids[k].item() for k in hits]

    def user_index(self, user_id) -> int:
        """Row of a training user id."""
        index = np.flatnonzero(self.train.user_ids == user_id)
        if index.size != 1:
            raise ValueError(f"user_id {user_id!r} is not one of the {self.train.n_users} users")
        return int(index[0])

    def user_ratings(self, user_id) -> dict:
        """{item id: rating} of a training user, as a new user would give them."""
        row = self.train.matrix[self.user_index(user_id)]
        return {
            self.train.item_ids[k].item(): float(r)
            for k, r in zip(row.indices, row.data, strict=True)
        }

    # -- folding in -----------------------------------------------------------------------

    def row(self, ratings) -> sp.csr_matrix:
        """A user given as {item id: rating} as a (1, d) CSR row, after checking ids and scale."""
        if not isinstance(ratings, Mapping):
            raise TypeError(
                f"ratings must be a mapping {{item id: rating}}, got {type(ratings).__name__}"
            )
        low, high = self.train.scale
        columns = {}
        for item_id, rating in ratings.items():
            rating = float(rating)
            if not low <= rating <= high:
                raise ValueError(
                    f"ratings gives item {item_id!r} the rating {rating:g}, outside the scale "
                    f"{low:g}-{high:g}"
                )
            columns[self.column(item_id)] = rating
        return user_row(columns, self.train.n_items)

    def fold_in(self, ratings: Mapping) -> UserFold:
        """One E-step for a user given as {item id: rating}; no refit."""
        row = self.row(ratings)
        post = fold_in(self.space.encode(row), self.mixture)
        predictions = self.space.decode(row, predict(post, self.mixture)[None, :])[0]
        rated = np.zeros(self.train.n_items, dtype=bool)
        rated[row.indices] = True
        return UserFold(post, predictions, spread(post, self.mixture), rated)

    def top_n(self, ratings: Mapping, n: int = 10, *, exclude: Iterable = ()) -> list:
        """The n best unrated items for a user given as {item id: rating} (Recommendation).

        Items with support below ``min_support``, and the ids in exclude, are left out.
        """
        return self.recommend(self.fold_in(ratings), n, exclude=exclude)

    def recommend(self, user: UserFold, n: int = 10, *, exclude: Iterable = ()) -> list:
        """The n best unrated items of an already folded-in user (a ``UserFold``)."""
        excluded = np.zeros(self.train.n_items, dtype=bool)
        for item_id in exclude:
            excluded[self.column(item_id)] = True
        return _best(
            user,
            n,
            self.train.item_ids,
            self.item_titles,
            self.support,
            self.min_support,
            excluded,
        )

    # -- what the clusters like -----------------------------------------------------------

    def cluster_profiles(self, n_titles: int = 3) -> list[ClusterProfile]:
        """Per cluster: weight, mean rating, genres by relative liking, best titles.

        A genre's score is (mean rating cluster j's members gave the genre - their mean
        rating) - (the same for all users): > 0 means the cluster likes the genre more
        than everyone does, after allowing for how generously each rates. Genres with fewer
        than ``min_support`` ratings in some cluster are left out.
        A member's ratings count by their posterior weight post_uj.
        """
        mu, support = self.mixture.mu, self.support
        weighted = np.asarray(self.train.matrix.T @ self.post).T  # (K, d) sum_u post_uj x_ui
        mean_rating = weighted.sum(axis=1) / support.sum(axis=1)
        overall = weighted.sum() / support.sum()
        genre_scores = None
        if self.train.genres is not None:
            genres = self.train.genres.astype(np.float64)
            counts = support @ genres  # (K, genres)
            with np.errstate(invalid="ignore", divide="ignore"):
                by_cluster = (weighted @ genres) / counts - mean_rating[:, None]
                everyone = (weighted @ genres).sum(0) / counts.sum(0) - overall
            genre_scores = by_cluster - everyone
            genre_scores[:, counts.min(axis=0) < self.min_support] = np.nan  # too few ratings
        profiles = []
        for j in range(self.K):
            genres_j = []
            if genre_scores is not None:
                scores = genre_scores[j]
                order = [g for g in np.argsort(-scores, kind="stable") if np.isfinite(scores[g])]
                genres_j = [(self.train.genre_names[g], float(scores[g])) for g in order]
            known = np.flatnonzero(support[j] >= self.min_support)
            best = known[np.argsort(-mu[j, known], kind="stable")[:n_titles]]
            titles_j = [(str(self.item_titles[i]), float(mu[j, i])) for i in best]
            profile = ClusterProfile(
                j, float(self.mixture.p[j]), float(mean_rating[j]), genres_j, titles_j
            )
            profiles.append(profile)
        return profiles


# ----------------------------------------------------------------------------------------
# The MovieLens 100K model, fitted once per process


def movielens_recommender(
    fold: str = "u1",
    K: int = 4,
    seeds: Iterable[int] = range(3),
    *,
    data=None,
    min_support: float = 20.0,
) -> Recommender:
    """A Recommender fitted on the training part of a MovieLens 100K fold, cached.

    cfcore.em on the training ratings, best of ``seeds`` started from
    ``random_responsibilities`` (the course's start leaves one-user components on data
    this sparse); titles and genres from u.item. data: a ``load_movielens_100k()`` result
    (default: loaded from $CFCORE_DATA, else downloaded). The same arguments return the
    same object: fitting happens once per process.
    """
    if data is None:
        from .datasets import load_movielens_100k

        data = load_movielens_100k()
    if fold not in data.folds:
        raise ValueError(f"fold must be one of {sorted(data.folds)}, got {fold!r}")
    return _fitted_movielens(data, fold, K, tuple(seeds), float(min_support))


@functools.lru_cache(maxsize=8)
def _fitted_movielens(data, fold, K, seeds, min_support) -> Recommender:
    train, _ = data.folds[fold]
    result = fit(train.matrix, K, seeds=seeds, init=random_responsibilities)
    return Recommender(
        result.mixture, train, min_support=min_support, name=f"MovieLens 100K {fold}, K={K}"
    )
