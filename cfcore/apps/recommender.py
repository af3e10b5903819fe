"""A fitted mixture over the items of a RatingsData, with titles: the object notebook 07's
widgets use. Fold in new users, recommend, and say what each cluster likes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import em
from ..common import GaussianMixture, as_mixture
from ..data import RatingsData
from ..models import fit
from .recommend import (
    RatingSpace,
    RawRatings,
    UserFold,
    best_items,
    cluster_support,
    fold_in,
    predict,
    spread,
    user_row,
)

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
        self.mixture = as_mixture(mixture, train.n_items)
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
        """One E-step for a user given as {item id: rating}; no refit.

        The predictions are clipped to the training data's declared scale.
        """
        row = self.row(ratings)
        post = fold_in(self.space.encode(row), self.mixture)
        predictions = self.space.decode(row, predict(post, self.mixture)[None, :])[0]
        predictions = np.clip(predictions, *self.train.scale)
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
        return best_items(
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
    the "random" start (``models.random_responsibilities``: the course's start leaves
    one-user components on data this sparse, where every mean starts near the item means);
    titles and genres from u.item. data: a ``load_movielens_100k()`` result
    (default: loaded from $CFCORE_DATA, else downloaded). The same arguments return the
    same object: fitting happens once per process.
    """
    if data is None:
        data = _default_movielens()  # one load per process, so the fit below is cached too
    if fold not in data.folds:
        raise ValueError(f"fold must be one of {sorted(data.folds)}, got {fold!r}")
    return _fitted_movielens(data, fold, K, tuple(seeds), float(min_support))


@functools.lru_cache(maxsize=1)
def _default_movielens():
    from ..data import load_movielens_100k

    return load_movielens_100k()


@functools.lru_cache(maxsize=8)
def _fitted_movielens(data, fold, K, seeds, min_support) -> Recommender:
    train, _ = data.folds[fold]
    result = fit(train.matrix, K, seeds=seeds, init="random")
    return Recommender(
        result.mixture, train, min_support=min_support, name=f"MovieLens 100K {fold}, K={K}"
    )
