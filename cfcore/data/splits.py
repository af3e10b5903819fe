"""Train/test splits with one type, ``Fold``, and one primitive that cuts a matrix in two.

The warm splits hold ratings out *within* users (a user's held-out ratings are predicted
from their other ratings): ``train_test_split`` a share of every user's ratings, ``k_fold``
partitions them into k test sets, ``holdout`` each rating independently with a
probability (the validation splits carved from a training fold). The cold-start splits
hold out whole items or nearly whole users: ``cold_items`` every rating of a seeded share
of the items, ``cold_users`` all but a small profile of a seeded share of the users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import (
    as_real_array,
    check_count,
    check_matrix,
    check_pairs,
    check_seed,
    check_seeds,
)
from ..engine.sparse import csr_rows, stored_rows
from .ratings import RatingsData


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split of the same users and items: the only fold type in cfcore.

    name: what to call it in a table ("u1", "f3", "course"); train, test: RatingsData of
    one shape, ids and titles, whose stored ratings are disjoint (no test rating leaks into
    training). ``rows, cols, values`` are the test ratings as triples (row-major). A fold
    unpacks as ``train, test = fold``.
    """

    name: str
    train: RatingsData
    test: RatingsData

    def __post_init__(self):
        for part in ("train", "test"):
            if not isinstance(getattr(self, part), RatingsData):
                raise TypeError(
                    f"fold {self.name}: {part} must be a RatingsData, "
                    f"got {type(getattr(self, part)).__name__}"
                )
        if self.train.shape != self.test.shape:
            raise ValueError(
                f"fold {self.name}: train {self.train.shape} and test {self.test.shape} must "
                "rate the same users and items"
            )
        leaked = _pattern(self.train.matrix).multiply(_pattern(self.test.matrix)).nnz
        if leaked:
            raise ValueError(
                f"fold {self.name}: {leaked} test pairs are also stored in train, so their "
                "ratings would leak into training; remove them from train"
            )

    @classmethod
    def from_arrays(cls, name: str, train, test, *, scale=None) -> Fold:
        """A fold from a training matrix and test triples (rows, cols, values).

        train: (n, d) CSR (stored = observed) or dense (0 = missing) ratings; test: three
        (m,) arrays, every value a finite rating. scale: default (min, max) of both.
        """
        matrix = check_matrix(train, f"fold {name}: train", ratings=True, allow_sparse=True)
        matrix = sp.csr_matrix(matrix)
        try:
            rows, cols, values = test
        except (TypeError, ValueError):
            raise TypeError(f"fold {name}: test must be (rows, cols, values)") from None
        rows, cols = check_pairs(rows, cols, matrix.shape, f"fold {name}: test rows, cols")
        values = as_real_array(values, f"fold {name}: test values")
        if rows.size == 0:
            raise ValueError(f"fold {name}: the test set is empty")
        if values.shape != rows.shape:
            raise ValueError(f"fold {name}: test values {values.shape} do not match {rows.shape}")
        if not np.isfinite(values).all():
            raise ValueError(f"fold {name}: test values must be finite ratings")
        test_matrix = sp.coo_matrix((values, (rows, cols)), shape=matrix.shape)
        if scale is None:
            both = np.concatenate([matrix.data, values])
            scale = (both.min(), both.max()) if both.size else (0.0, 0.0)
        train_data = RatingsData.from_csr(matrix, scale=scale, name=f"{name} train")
        try:
            test_data = RatingsData.from_csr(test_matrix, scale=scale, name=f"{name} test")
        except ValueError as err:
            raise ValueError(f"fold {name}: test: {err}") from None
        return cls(name, train_data, test_data)

    def __iter__(self) -> Iterator[RatingsData]:
        return iter((self.train, self.test))

    @property
    def rows(self) -> np.ndarray:
        return self.test.triples()[0].astype(np.intp)

    @property
    def cols(self) -> np.ndarray:
        return self.test.triples()[1].astype(np.intp)

    @property
    def values(self) -> np.ndarray:
        return self.test.triples()[2]

    @property
    def n_test(self) -> int:
        return self.test.n_ratings

    def __repr__(self) -> str:
        return f"Fold({self.name!r}: {self.train.n_ratings:,} train, {self.n_test:,} test ratings)"


def _pattern(X: sp.csr_matrix) -> sp.csr_matrix:
    """The 0/1 indicator of X's stored entries (a stored 0 counts)."""
    return sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)


#: users are shuffled in groups of about this many ratings (bounded working memory)
_RATINGS_PER_SHUFFLE = 1 << 22


def _random_ranks(X: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random order of every user's ratings: (nnz,) rank 0..n_u - 1 in its row.

    Sorting the keys (row << 32) + random 32-bit integer shuffles within rows exactly;
    users are taken in groups of about _RATINGS_PER_SHUFFLE ratings.
    """
    counts = np.diff(X.indptr)
    ranks = np.empty(X.nnz, dtype=X.indptr.dtype)
    row = 0
    while row < X.shape[0]:
        end = int(np.searchsorted(X.indptr, X.indptr[row] + _RATINGS_PER_SHUFFLE, "right")) - 1
        end = min(max(end, row + 1), X.shape[0])
        first, last = int(X.indptr[row]), int(X.indptr[end])
        local_rows = stored_rows(csr_rows(X, row, end), np.int64)
        keys = (local_rows << 32) + rng.integers(0, 1 << 32, size=last - first, dtype=np.int64)
        order = np.argsort(keys)
        row_starts = np.repeat(X.indptr[row:end].astype(np.int64) - first, counts[row:end])
        ranks[first + order] = np.arange(last - first) - row_starts
        row = end
    return ranks


def split_by(data: RatingsData, in_test: np.ndarray, name: str) -> Fold:
    """The fold whose test ratings are those where in_test (nnz,) is True, train the rest.

    Both keep data's shape, ids and titles; indptr comes from one running count of in_test.
    Every split rule here chooses in_test and calls this.
    """
    X = data.matrix
    before = np.zeros(X.nnz + 1, dtype=X.indptr.dtype)
    np.cumsum(in_test, out=before[1:])
    test_indptr = before[X.indptr]
    del before
    parts = []
    for keep, indptr in ((~in_test, X.indptr - test_indptr), (in_test, test_indptr)):
        matrix = sp.csr_matrix((X.data[keep], X.indices[keep], indptr), X.shape, copy=False)
        parts.append(matrix)
    train, test = (
        data.with_matrix(matrix, name=f"{data.name} {name} {part}".strip())
        for matrix, part in zip(parts, ("train", "test"), strict=True)
    )
    return Fold(name, train, test)


def _check_ratings_data(data) -> RatingsData:
    if not isinstance(data, RatingsData):
        raise TypeError(
            f"data must be a RatingsData (see load_ratings, RatingsData.from_dense), "
            f"got {type(data).__name__}"
        )
    return data


def train_test_split(
    data: RatingsData, test_fraction: float = 0.2, seed: int = 0, *, min_train_per_user: int = 1
) -> Fold:
    """Hold out a random test_fraction of every user's ratings: a Fold (train, test).

    User u with n_u ratings gives min(round(test_fraction * n_u), n_u - min_train_per_user)
    of them (chosen uniformly, seeded) to test and keeps the rest in train. The two are
    disjoint, their union is data, and both keep data's shape, ids and titles.
    """
    data = _check_ratings_data(data)
    if not (isinstance(test_fraction, (int, float, np.number)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be a fraction in (0, 1), got {test_fraction!r}")
    if (
        isinstance(min_train_per_user, bool)
        or not isinstance(min_train_per_user, (int, np.integer))
        or min_train_per_user < 0
    ):
        raise ValueError(f"min_train_per_user must be an integer >= 0, got {min_train_per_user!r}")
    counts = np.diff(data.matrix.indptr)
    n_test = np.minimum(
        np.floor(test_fraction * counts + 0.5).astype(counts.dtype),
        np.maximum(counts - min_train_per_user, 0),
    )
    rng = np.random.default_rng(check_seed(seed))
    in_test = _random_ranks(data.matrix, rng) < np.repeat(n_test, counts)
    return split_by(data, in_test, "split")


def k_fold(data: RatingsData, k: int = 5, seed: int = 0) -> list[Fold]:
    """k folds f1..fk whose test sets partition data, split within every user.

    Each user's ratings are shuffled (seeded) and dealt round-robin to the k folds from a
    random starting fold, so every user has n_u // k or n_u // k + 1 ratings in each test
    set. Train is everything outside the test set.
    """
    data = _check_ratings_data(data)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    rng = np.random.default_rng(check_seed(seed))
    counts = np.diff(data.matrix.indptr)
    fold = _random_ranks(data.matrix, rng)
    fold += np.repeat(rng.integers(0, k, size=data.n_users), counts)
    fold %= k
    return [split_by(data, fold == f, f"f{f + 1}") for f in range(k)]


def holdout(data, fraction: float = 0.1, seed: int = 0) -> Fold:
    """Hold out every rating independently with probability ``fraction`` (seeded).

    The rule of the validation splits carved from a training fold (choosing K and the
    like, never looking at the test fold). data: RatingsData, or a CSR ratings matrix.
    """
    if not isinstance(data, RatingsData):
        data = RatingsData.from_csr(data, name="train")
    if not (isinstance(fraction, (int, float, np.number)) and 0 < fraction < 1):
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction!r}")
    held = np.random.default_rng(check_seed(seed)).random(data.n_ratings) < fraction
    return split_by(data, held, "validation")


# ------------------------------------------------------------------------- cold start


def _check_fraction(fraction) -> float:
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float, np.number))
        or not 0 < fraction < 1
    ):
        raise ValueError(
            f"fraction must be a share strictly between 0 and 1 (e.g. 0.1), got {fraction!r}"
        )
    return float(fraction)


def _distinct_seeds(seeds) -> list[int]:
    """Seeds as integers; a repeated seed would repeat a fold under the same name."""
    seeds = check_seeds(seeds)
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds must be distinct (each names one fold), got {seeds}")
    return seeds


def _share(fraction: float, n: int) -> int:
    """round(fraction * n), at least 1 (half rounds up, as in train_test_split)."""
    return max(1, int(np.floor(fraction * n + 0.5)))


def _with_training_ratings(fold: Fold, advice: str) -> Fold:
    if fold.train.n_ratings == 0:
        raise ValueError(f"fold {fold.name} leaves no training rating; {advice}")
    return fold


def cold_items(data: RatingsData, fraction: float = 0.1, seeds=range(5)) -> list[Fold]:
    """One fold per seed whose test set is EVERY rating of a seeded share of the items.

    For seed s, ``round(fraction * n_rated)`` items (at least 1, at most n_rated - 1) are
    drawn without replacement by ``numpy.random.default_rng(s)`` from the n_rated items
    that have a rating (an unrated item has nothing to hold out); all their ratings go to
    test, every other rating stays in train. A model meets these items with no training
    rating at all, so it is scored on its fallback for a new item. Folds are named
    "cold-items-<s>" and keep data's (n_users, n_items) shape, ids, titles and genres.
    """
    data = _check_ratings_data(data)
    fraction, seeds = _check_fraction(fraction), _distinct_seeds(seeds)
    rated = np.flatnonzero(np.bincount(data.matrix.indices, minlength=data.n_items))
    if rated.size < 2:
        raise ValueError(
            f"data rates {rated.size} item(s); cold_items needs at least 2 rated items "
            "(one to hold out, one to train on)"
        )
    n_cold = min(_share(fraction, rated.size), rated.size - 1)
    folds = []
    for seed in seeds:
        is_cold = np.zeros(data.n_items, dtype=bool)
        is_cold[np.random.default_rng(seed).choice(rated, n_cold, replace=False)] = True
        folds.append(split_by(data, is_cold[data.matrix.indices], f"cold-items-{seed}"))
    return folds


def cold_users(
    data: RatingsData, fraction: float = 0.1, profile: int = 5, seeds=range(5)
) -> list[Fold]:
    """One fold per seed whose test set is the ratings of new users beyond a small profile.

    The users eligible are those with more than ``profile`` ratings (so each has at least
    one to test). For seed s, ``numpy.random.default_rng(s)`` draws ``round(fraction *
    n_eligible)`` of them (at least 1) without replacement; each keeps ``profile`` of their
    ratings, drawn uniformly with the same generator, in train and gives the rest to test.
    Every other user keeps all their ratings in train.

    The choice: a cold user is someone who has just joined and rated a few items (a sign-up
    questionnaire). RatingsData holds no timestamps, so the profile is a uniform sample of
    what the user rated rather than their first ratings. profile=0 holds out every rating
    of the chosen users (a user nobody knows). Folds are named "cold-users-<s>" and keep
    data's (n_users, n_items) shape, ids, titles and genres.
    """
    data = _check_ratings_data(data)
    fraction, seeds = _check_fraction(fraction), _distinct_seeds(seeds)
    profile = check_count(profile, "profile", minimum=0)
    counts = np.diff(data.matrix.indptr)
    eligible = np.flatnonzero(counts > profile)
    if eligible.size == 0:
        raise ValueError(
            f"no user has more than profile={profile} ratings (the most is "
            f"{counts.max(initial=0)}), so none has a rating left to test; lower profile"
        )
    n_cold = _share(fraction, eligible.size)
    rows = stored_rows(data.matrix, np.intp)
    folds = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        is_cold = np.zeros(data.n_users, dtype=bool)
        is_cold[rng.choice(eligible, n_cold, replace=False)] = True
        in_test = is_cold[rows] & (_random_ranks(data.matrix, rng) >= profile)
        fold = split_by(data, in_test, f"cold-users-{seed}")
        folds.append(_with_training_ratings(fold, "raise profile or lower fraction"))
    return folds
