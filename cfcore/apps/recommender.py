"""Recommendations for a new user from any fitted model over the items of a RatingsData.

A ``Recommender`` holds the data (ids, titles and genres of the items; titles default to
the ids as text) and a way to fold a new user in without refitting. It is built

- from any fitted cfcore model with ``fold_in(cols, values)`` (``CourseMixture``,
  ``ResidualMixture``, ``HybridMixture``): ``Recommender.from_model(data, model)``, or
  ``fit_recommender(data, "residual-mixture")`` to fit a registered model on data first;
- from a course ``GaussianMixture`` itself, ``Recommender(mixture, train)`` (notebook 07,
  ``movielens_recommender``): the fold-in is one E-step, so it also gives the posterior
  over clusters, the spread of a prediction and what each cluster likes.

Support and ``min_support``. A prediction resting on a handful of training ratings is a
poor estimate (a 5.0 from two ratings would top every list), so recommendations leave out
items whose *support* is below ``min_support``. The support of item i is its number of
training ratings n_i for a model, and for a mixture the user's cluster support
sum_j post_j s_ji (``recommend.cluster_support``: the training ratings of i counted in the
user's clusters). ``min_support="auto"`` (the default) is relative to the data
(``auto_min_support``): sort the items by the support a user who rated nothing would see
(n_i; for a mixture, sum_j p_j s_ji) and leave out the least-supported items that together
hold ``LONG_TAIL_SHARE`` = 5% of it, the long tail. On all of MovieLens 100K that keeps
the 957 of 1,682 items with at least 19 ratings (those left out hold 4.7% of the ratings);
on a data set whose items are rated about equally often it keeps every item; and any
units work, since the rule is a share. A number >= 0 is an absolute threshold in the
support's units (ratings).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from .. import em
from ..common import GaussianMixture, as_mixture
from ..data import RatingsData
from ..models import MODELS, fit, make_models
from .catalogue import ItemCatalogue
from .recommend import (
    RatingSpace,
    RawRatings,
    UserFold,
    best_items,
    cluster_support,
    fold_in,
    plain_value,
    predict,
    spread,
    user_row,
)
from .recommender_options import _check_min_support, _folds_in, auto_min_support, fold_in_models
from .recommender_output import ClusterProfile


class Recommender:
    """A fitted model over the items of a RatingsData: fold in new users and recommend.

    ``Recommender(mixture, train, space=None, min_support="auto")``: a course mixture.
    mixture: GaussianMixture over the d items of ``train`` (in ``space``'s values, default
    ``RawRatings()``, the ratings themselves); train: the training ratings (ids, titles and
    genres of the items; the users it knows). Attributes: post (n, K), every training
    user's posterior under ``mixture`` (one E-step, exactly what ``fold_in`` gives for that
    user); support (K, d), s_ji.
    ``Recommender.from_model(data, model)``: any fitted model with ``fold_in(cols,
    values)``; then ``model`` is set, ``mixture`` and ``post`` are None and support is (d,),
    the items' numbers of training ratings.
    min_support: "auto" or a number >= 0 (module docstring); the attribute holds the
    threshold in use. item_titles (d,) str: the titles, or the ids as text.
    Item arguments are item *ids* (``train.item_ids``) or titles, as a person names them.
    """

    def __init__(
        self,
        mixture: GaussianMixture,
        train: RatingsData,
        *,
        space: RatingSpace | None = None,
        min_support="auto",
        name: str = "",
    ):
        self._set_data(train, min_support, name)
        self.model, self.space = None, RawRatings() if space is None else space
        self.mixture = as_mixture(mixture, train.n_items)
        encoded = self.space.encode(train.matrix)
        self.post, _ = em.estep(encoded, self.mixture)
        self.support = cluster_support(encoded, self.post)
        self._set_min_support(self.mixture.p @ self.support)

    @classmethod
    def from_model(cls, data: RatingsData, model, *, min_support="auto", name: str = ""):
        """A Recommender folding new users into a fitted model (one with ``fold_in``).

        data: the RatingsData the model was fitted on (or one with the same items): ids,
        titles, genres, the scale. Support = each item's number of ratings in data.
        """
        if not callable(getattr(model, "fold_in", None)):
            raise TypeError(
                f"model {getattr(model, 'name', type(model).__name__)!r} cannot fold in a new "
                f"user (it has no fold_in(cols, values)); use one of {', '.join(fold_in_models())}"
            )
        if not hasattr(model, "shape_"):
            raise ValueError(f"model {model.name!r} is not fitted: call model.fit(data) first")
        recommender = cls.__new__(cls)
        recommender._set_data(data, min_support, name)
        if model.shape_[1] != data.n_items:
            raise ValueError(
                f"model {model.name!r} was fitted on {model.shape_[1]:,} items but data has "
                f"{data.n_items:,}; pass the RatingsData the model was fitted on"
            )
        recommender.model, recommender.space = model, None
        recommender.mixture = recommender.post = None
        recommender.support = recommender._n_ratings.astype(np.float64)
        recommender._set_min_support(recommender.support)
        return recommender

    def _set_data(self, train: RatingsData, min_support, name: str) -> None:
        if not isinstance(train, RatingsData):
            raise TypeError(f"train must be a RatingsData, got {type(train).__name__}")
        self.train, self.name = train, name
        self.min_support_rule = _check_min_support(min_support)
        self.items = ItemCatalogue(train)
        self.item_titles, self.item_genres = self.items.titles, self.items.genres
        self._n_ratings = self.items.n_ratings

    def _set_min_support(self, typical_support: np.ndarray) -> None:
        rule = self.min_support_rule
        self.min_support = auto_min_support(typical_support) if rule == "auto" else rule

    @property
    def K(self) -> int:
        return self.require_mixture("K").mu.shape[0]

    @property
    def scale(self) -> tuple[float, float]:
        """(low, high) of the ratings: what a new user's ratings must lie in."""
        return self.train.scale

    def __repr__(self) -> str:
        what = (
            f"model {self.model.name!r} over {self.train.n_items:,} items"
            if self.model is not None
            else f"K={self.K} clusters over {self.train.n_items:,} items, {self.space!r}"
        )
        return (
            f"Recommender({self.name or self.train.name!r}: {what}, fitted on "
            f"{self.train.n_users:,} users)"
        )

    def require_mixture(self, what: str) -> GaussianMixture:
        """The course mixture, or a TypeError saying that ``what`` needs one."""
        if self.mixture is None:
            raise TypeError(
                f"{what} needs the clusters of a course mixture: this Recommender folds users "
                f"into {self.model.name!r}, which has no single set of clusters; build "
                "Recommender(mixture, train) from a GaussianMixture (e.g. a CourseMixture's "
                "mixture_) for the posterior and cluster views"
            )
        return self.mixture

    # -- items and users ------------------------------------------------------------------

    def column(self, item) -> int:
        """The matrix column of an item id or title (``ItemCatalogue.column``)."""
        return self.items.column(item)

    def find(self, text: str):
        """The id of the one item that ``text`` names (``ItemCatalogue.find``)."""
        return self.items.find(text)

    def title(self, item) -> str:
        return self.items.title(item)

    def item_id(self, item):
        """The id of an item given by id or title (``ItemCatalogue.item_id``)."""
        return self.items.item_id(item)

    def search(self, query: str, limit: int | None = 20) -> list:
        """Ids of the items whose title contains query, most rated first
        (``ItemCatalogue.search``: case, accents and a trailing article ignored)."""
        return self.items.search(query, limit)

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
            plain_value(self.train.item_ids[k]): float(r)
            for k, r in zip(row.indices, row.data, strict=True)
        }

    # -- folding in -----------------------------------------------------------------------

    def row(self, ratings) -> sp.csr_matrix:
        """A user given as {item id or title: rating} as a (1, d) CSR row, ids and scale checked."""
        if not isinstance(ratings, Mapping):
            raise TypeError(
                f"ratings must be a mapping {{item id: rating}}, got {type(ratings).__name__}"
            )
        low, high = self.train.scale
        columns = {}
        for item, given in ratings.items():
            try:
                rating = float(given)
            except (TypeError, ValueError):
                raise TypeError(
                    f"ratings gives item {item!r} the rating {given!r}, which is not a number"
                ) from None
            if not low <= rating <= high:
                raise ValueError(
                    f"ratings gives item {item!r} the rating {rating:g}, outside the scale "
                    f"{low:g}-{high:g}"
                )
            column = self.column(item)
            if column in columns:
                raise ValueError(
                    f"ratings names item {self.title(item)!r} twice (as {item!r}); rate it once"
                )
            columns[column] = rating
        if self.model is not None:  # any scale, negative ratings included
            return _stored_row(columns, self.train.n_items)
        return user_row(columns, self.train.n_items)  # what an E-step reads: ratings >= 0

    def fold_in(self, ratings: Mapping) -> UserFold:
        """A user given as {item id or title: rating}, folded in without refitting.

        A mixture: one E-step (post, posterior-mean predictions, spread); a model: its
        ``fold_in`` (post None, spread NaN). Predictions are clipped to the data's scale.
        """
        row = self.row(ratings)
        rated = np.zeros(self.train.n_items, dtype=bool)
        rated[row.indices] = True
        if self.model is not None:
            predictions = self.model.fold_in(row.indices, row.data)
            no_spread = np.full(self.train.n_items, np.nan)
            return UserFold(None, np.clip(predictions, *self.train.scale), no_spread, rated)
        post = fold_in(self.space.encode(row), self.mixture)
        predictions = self.space.decode(row, predict(post, self.mixture)[None, :])[0]
        predictions = np.clip(predictions, *self.train.scale)
        return UserFold(post, predictions, spread(post, self.mixture), rated)

    def top_n(self, ratings: Mapping, n: int = 10, *, exclude: Iterable = ()) -> list:
        """The n best unrated items for a user given as {item id or title: rating}.

        Returns ``Recommendation``s (item id, title, predicted rating, genres, ...), best
        first. Items with support below ``min_support``, and the items in exclude, are left
        out.
        """
        return self.recommend(self.fold_in(ratings), n, exclude=exclude)

    def recommend(self, user: UserFold, n: int = 10, *, exclude: Iterable = ()) -> list:
        """The n best unrated items of an already folded-in user (a ``UserFold``)."""
        excluded = np.zeros(self.train.n_items, dtype=bool)
        for item in exclude:
            excluded[self.column(item)] = True
        return best_items(
            user,
            n,
            self.train.item_ids,
            self.item_titles,
            self.support,
            self.min_support,
            excluded,
            self.item_genres,
        )

    # -- what the clusters like -----------------------------------------------------------

    def cluster_profiles(self, n_titles: int = 3) -> list[ClusterProfile]:
        """Per cluster: weight, mean rating, genres by relative liking, best titles.

        A genre's score is (mean rating cluster j's members gave the genre - their mean
        rating) - (the same for all users): > 0 means the cluster likes the genre more
        than everyone does, after allowing for how generously each rates. Genres with fewer
        than ``min_support`` ratings in some cluster are left out.
        A member's ratings count by their posterior weight post_uj. A mixture only.
        """
        mixture = self.require_mixture("cluster_profiles")
        mu, support = mixture.mu, self.support
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
                j, float(mixture.p[j]), float(mean_rating[j]), genres_j, titles_j
            )
            profiles.append(profile)
        return profiles


def _stored_row(columns: dict[int, float], d: int) -> sp.csr_matrix:
    """{column: rating} as a (1, d) CSR row with sorted columns, every rating stored."""
    indices = np.fromiter(columns, dtype=np.intp, count=len(columns))
    values = np.fromiter(columns.values(), dtype=np.float64, count=len(columns))
    order = np.argsort(indices)
    return sp.csr_matrix((values[order], indices[order], np.array([0, indices.size])), (1, d))


# ----------------------------------------------------------------------------------------
# Any data set, any model that folds in


def fit_recommender(
    data: RatingsData, model="residual-mixture", *, min_support="auto", name: str = ""
) -> Recommender:
    """Fit a model on all of data and wrap it: ``Recommender.from_model(data, model)``.

    model: a registered name (``fold_in_models()``: course-em, residual-mixture, ...) or an
    unfitted model with ``fold_in``; it is fitted on data (every rating: nothing is held
    out, since nothing is scored).
    """
    if isinstance(model, str):
        if model in MODELS and not _folds_in(MODELS[model]):
            raise ValueError(
                f"model {model!r} cannot fold in a new user (it has no fold_in); choose one "
                f"of {', '.join(fold_in_models())}"
            )
        (model,) = make_models([model])
    if not callable(getattr(model, "fold_in", None)):
        raise TypeError(
            f"model {getattr(model, 'name', type(model).__name__)!r} cannot fold in a new user "
            f"(it has no fold_in(cols, values)); use one of {', '.join(fold_in_models())}"
        )
    model.fit(data)
    return Recommender.from_model(data, model, min_support=min_support, name=name)


# ----------------------------------------------------------------------------------------
# The MovieLens 100K model of notebook 07, fitted once per process

#: notebook 07's min_support: its prose and outputs were computed with it
MOVIELENS_MIN_SUPPORT = 20.0


def movielens_recommender(
    fold: str | None = None,
    K: int = 4,
    seeds: Iterable[int] = range(3),
    *,
    data=None,
    min_support=MOVIELENS_MIN_SUPPORT,
) -> Recommender:
    """A course-mixture Recommender on MovieLens 100K (notebook 07), cached.

    cfcore.em, best of ``seeds`` started from the "random" start
    (``models.random_responsibilities``: the course's start leaves one-user components on
    data this sparse, where every mean starts near the item means), on the training part of
    ``fold`` (default "u1"); titles and genres from u.item. data: a
    ``load_movielens_100k()`` result (default: loaded from $CFCORE_DATA, else downloaded),
    or a RatingsData (e.g. its ``.ratings``), which is fitted whole (it has no folds, so
    fold must stay None). The same arguments return the same object: fitting happens once
    per process. For another data set or model, use ``fit_recommender``.
    """
    if data is None:
        data = _default_movielens()  # one load per process, so the fit below is cached too
    if isinstance(data, RatingsData):
        if fold is not None:
            raise ValueError(
                f"fold={fold!r} names a fold of a MovieLens100K, but data is a RatingsData, "
                "which is fitted whole; leave fold out, or pass load_movielens_100k()"
            )
        train, label = data, data.name or "ratings"
    else:
        folds = getattr(data, "folds", None)
        if not isinstance(folds, Mapping):
            raise TypeError(
                f"data must be a load_movielens_100k() result or a RatingsData, got "
                f"{type(data).__name__}"
            )
        fold = "u1" if fold is None else fold
        if fold not in folds:
            raise ValueError(f"fold must be one of {sorted(folds)}, got {fold!r}")
        train, label = folds[fold].train, f"MovieLens 100K {fold}"
    return _fitted_mixture(train, label, K, tuple(seeds), _check_min_support(min_support))


@functools.lru_cache(maxsize=1)
def _default_movielens():
    from ..data import load_movielens_100k

    return load_movielens_100k()


@functools.lru_cache(maxsize=8)
def _fitted_mixture(train, label, K, seeds, min_support) -> Recommender:
    result = fit(train.matrix, K, seeds=seeds, init="random")
    return Recommender(result.mixture, train, min_support=min_support, name=f"{label}, K={K}")
