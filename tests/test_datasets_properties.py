"""Properties of the data layer for any ratings: splits never leak and lose nothing, the
dense and file formats give back what went in."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cfcore.data import RatingsData, k_fold, load_ratings, save_ratings, train_test_split

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def course_format_ratings(rng: np.random.Generator, n: int, d: int, density: float) -> np.ndarray:
    """(n, d) integer ratings 1-5, about 1 - density of them 0 (missing): the course format."""
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) > density] = 0.0
    return X


@st.composite
def ratings_data(draw) -> RatingsData:
    """Ratings 1-5 on up to 30 x 12 entries, any density; some users may have none."""
    n, d = draw(st.integers(1, 30)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = course_format_ratings(rng, n, d, draw(st.floats(0.05, 1.0)))
    return RatingsData.from_dense(X, scale=(1, 5))


def assert_partition(data: RatingsData, parts: list[RatingsData]) -> None:
    """parts are disjoint, keep data's shape and ids, and together hold exactly data."""
    total = np.zeros(data.shape)
    covered = np.zeros(data.shape, dtype=int)
    for part in parts:
        assert part.shape == data.shape and part.user_ids is data.user_ids
        dense = part.to_dense()
        total += dense
        covered += dense > 0
    assert covered.max() <= 1  # no rating in two parts
    np.testing.assert_array_equal(total, data.to_dense())  # nothing lost, nothing invented


@SETTINGS
@given(ratings_data(), st.floats(0.05, 0.95), st.integers(0, 3), st.integers(0, 1000))
def test_train_test_split_partitions_within_users(data, fraction, min_train, seed):
    train, test = train_test_split(data, fraction, seed, min_train_per_user=min_train)
    assert_partition(data, [train, test])
    counts = np.diff(data.matrix.indptr)
    train_counts = np.diff(train.matrix.indptr)
    assert (train_counts >= np.minimum(counts, min_train)).all()
    np.testing.assert_array_equal(
        np.diff(test.matrix.indptr),
        np.minimum(np.floor(fraction * counts + 0.5), np.maximum(counts - min_train, 0)),
    )


@SETTINGS
@given(ratings_data(), st.integers(2, 6), st.integers(0, 1000))
def test_k_fold_test_sets_partition_and_trains_complement(data, k, seed):
    folds = k_fold(data, k, seed)
    assert_partition(data, [test for _, test in folds])
    for train, test in folds:
        assert_partition(data, [train, test])
    per_user = np.array([np.diff(test.matrix.indptr) for _, test in folds])
    assert (per_user.max(axis=0) - per_user.min(axis=0) <= 1).all()


@SETTINGS
@given(ratings_data())
def test_dense_round_trip(data):
    back = RatingsData.from_dense(data.to_dense(), scale=data.scale)
    assert (back.matrix != data.matrix).nnz == 0 and back.n_ratings == data.n_ratings


@SETTINGS
@given(ratings_data(), st.sampled_from(["\t", ",", "::", " ", ";"]), st.booleans())
def test_file_round_trip(data, sep, header):
    assume(data.n_ratings > 0)  # an empty file is refused, rightly
    with tempfile.TemporaryDirectory() as folder:
        back = load_ratings(save_ratings(data, Path(folder) / "r.txt", sep, header=header))
    rated_users = np.diff(data.matrix.indptr) > 0  # a file has no line for a silent user
    rated_items = np.diff(data.matrix.tocsc().indptr) > 0
    np.testing.assert_array_equal(back.user_ids, data.user_ids[rated_users])
    np.testing.assert_array_equal(back.item_ids, data.item_ids[rated_items])
    np.testing.assert_array_equal(
        back.to_dense(), data.to_dense()[np.ix_(rated_users, rated_items)]
    )
