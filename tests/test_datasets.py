"""cfcore.data: the ratings container, any ratings file, the planted generator, splits."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from cfcore import common, em
from cfcore import data as datasets
from cfcore.data import (
    PlantedClusters,
    RatingsData,
    k_fold,
    load_ratings,
    make_ratings,
    save_ratings,
    train_test_split,
)


def course_format_ratings(rng: np.random.Generator, n: int, d: int, density: float) -> np.ndarray:
    """(n, d) integer ratings 1-5, about 1 - density of them 0 (missing): the course format."""
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) > density] = 0.0
    return X


def same_ratings(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    """Same shape, same stored entries (explicit zeros included) and same values."""
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


# --- RatingsData -------------------------------------------------------------------------


def test_dense_round_trip_keeps_the_course_format():
    X = course_format_ratings(np.random.default_rng(0), 30, 12, 0.4)
    data = RatingsData.from_dense(X)
    assert data.shape == (30, 12) and data.scale == (1.0, 5.0)
    assert data.n_ratings == np.count_nonzero(X)
    assert data.density == pytest.approx(np.count_nonzero(X) / X.size)
    assert data.matrix.has_canonical_format and data.matrix.dtype == np.float64
    np.testing.assert_array_equal(data.to_dense(), X)
    np.testing.assert_array_equal(data.matrix.toarray(), X)


def test_triples_are_the_stored_entries_and_read_only():
    X = course_format_ratings(np.random.default_rng(1), 8, 6, 0.5)
    rows, cols, values = RatingsData.from_dense(X).triples()
    np.testing.assert_array_equal(np.column_stack(np.nonzero(X)), np.column_stack((rows, cols)))
    np.testing.assert_array_equal(values, X[rows, cols])
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 1.0


def test_a_zero_rating_is_stored_and_never_taken_for_missing():
    X = np.array([[0.0, np.nan, 10.0], [np.nan, 7.0, 0.0]])
    data = RatingsData.from_dense(X, missing=np.nan, scale=(0, 10))
    assert data.n_ratings == 4  # the two zeros are ratings
    np.testing.assert_array_equal(data.matrix.data, [0.0, 10.0, 7.0, 0.0])
    with pytest.raises(ValueError, match="missing=0 is a possible rating.*np.nan"):
        data.to_dense()
    np.testing.assert_array_equal(data.to_dense(missing=np.nan), X)
    np.testing.assert_array_equal(data.to_dense(missing=-1), np.nan_to_num(X, nan=-1))


def test_with_matrix_keeps_ids_titles_and_genres():
    X = course_format_ratings(np.random.default_rng(2), 5, 4, 0.6)
    data = RatingsData.from_dense(
        X,
        user_ids=["u1", "u2", "u3", "u4", "u5"],
        item_ids=[10, 20, 30, 40],
        titles=["A", "B", "C", "D"],
        genres=np.eye(4, 2, dtype=bool),
        genre_names=["Drama", "Comedy"],
        name="tiny",
    )
    half = data.with_matrix(data.matrix.multiply(data.matrix > 3).tocsr(), name="high")
    assert half.name == "high" and list(half.user_ids) == list(data.user_ids)
    assert list(half.titles) == ["A", "B", "C", "D"] and half.genre_names == ["Drama", "Comedy"]
    assert half.n_ratings == np.count_nonzero(X > 3)
    with pytest.raises(ValueError, match=r"shape \(5, 4\)"):
        data.with_matrix(sp.csr_matrix((5, 3)))


def test_unsorted_csr_input_is_made_canonical():
    unsorted = sp.csr_matrix(
        (np.array([2.0, 1.0]), np.array([3, 0]), np.array([0, 2])), shape=(1, 4)
    )
    data = RatingsData(unsorted, [7], [0, 1, 2, 3], (1, 5))
    assert data.matrix.has_canonical_format
    np.testing.assert_array_equal(data.matrix.indices, [0, 3])


@pytest.mark.parametrize(
    ("matrix", "user_ids", "scale", "error", "message"),
    [
        (np.ones((2, 2)), [0, 1], (1, 5), TypeError, "from_dense"),
        (
            sp.coo_matrix(([3.0, 4.0], ([0, 0], [1, 1])), shape=(2, 2)),
            [0, 1],
            (1, 5),
            ValueError,
            "1 duplicate",
        ),
        (sp.csr_matrix(np.array([[np.nan, 1.0], [0, 2]])), [0, 1], (1, 5), ValueError, "NaN"),
        (sp.csr_matrix(np.array([[6.0, 1.0], [0, 2]])), [0, 1], (1, 5), ValueError, "outside"),
        (sp.csr_matrix(np.eye(2)), [0, 1, 2], (1, 5), ValueError, "user_ids must have shape"),
        (sp.csr_matrix(np.eye(2)), [0, 1], (5, 1), ValueError, "lowest <= highest"),
        (sp.csr_matrix(np.eye(2)), [0, 1], "1-5", TypeError, "two numbers"),
        (sp.csr_matrix((0, 2)), [], (1, 5), ValueError, "empty"),
    ],
)
def test_ratings_data_rejects_bad_input(matrix, user_ids, scale, error, message):
    with pytest.raises(error, match=message):
        RatingsData(matrix, user_ids, np.arange(2), scale)


def test_genres_must_match_items_and_names():
    with pytest.raises(ValueError, match="genre_names must name the 2"):
        RatingsData.from_dense(np.eye(3), genres=np.ones((3, 2)), genre_names=["Drama"])
    with pytest.raises(ValueError, match="genres must have shape"):
        RatingsData.from_dense(np.eye(3), genres=np.ones((2, 2)), genre_names=["a", "b"])


def test_from_dense_rejects_nan_when_zero_marks_missing():
    with pytest.raises(ValueError, match="missing=np.nan"):
        RatingsData.from_dense(np.array([[1.0, np.nan]]))


# --- load_ratings ------------------------------------------------------------------------

TABLE = [(1, 10, 4.0), (1, 30, 2.0), (2, 10, 5.0), (3, 20, 1.0), (3, 30, 3.0)]
EXPECTED = np.array([[4.0, 0.0, 2.0], [5.0, 0.0, 0.0], [0.0, 1.0, 3.0]])


def write_lines(tmp_path, lines, name="ratings.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "sep",
    ["::", "\t", ",", ";", "|", " ", "   "],
    ids=["colons", "tab", "comma", "semicolon", "bar", "space", "spaces"],
)
@pytest.mark.parametrize("timestamp", [False, True])
def test_separators_are_detected(tmp_path, sep, timestamp):
    lines = [
        sep.join(f"{v:g}" for v in row) + (f"{sep}88125094{k}" if timestamp else "")
        for k, row in enumerate(TABLE)
    ]
    data = load_ratings(write_lines(tmp_path, lines))
    np.testing.assert_array_equal(data.to_dense(), EXPECTED)
    np.testing.assert_array_equal(data.user_ids, [1, 2, 3])
    np.testing.assert_array_equal(data.item_ids, [10, 20, 30])
    assert data.scale == (1.0, 5.0) and data.name == "ratings.txt"


def test_a_header_line_is_detected_or_forced(tmp_path):
    lines = ["userId,movieId,rating,timestamp"] + [f"{u},{i},{r:g},0" for u, i, r in TABLE]
    path = write_lines(tmp_path, lines)
    np.testing.assert_array_equal(load_ratings(path).to_dense(), EXPECTED)
    np.testing.assert_array_equal(load_ratings(path, header=True).to_dense(), EXPECTED)
    with pytest.raises(ValueError, match=r"line 1: the rating 'rating' is not a number"):
        load_ratings(path, header=False)


def test_string_ids_are_remapped_and_kept(tmp_path):
    lines = ["alice\tThe Matrix\t5", "bob\tAmélie\t4", "alice\tAmélie\t3", "carol\t42\t1"]
    data = load_ratings(write_lines(tmp_path, lines))
    assert list(data.user_ids) == ["alice", "bob", "carol"]
    assert list(data.item_ids) == ["42", "Amélie", "The Matrix"]
    np.testing.assert_array_equal(
        data.to_dense(), [[0.0, 3.0, 5.0], [0.0, 4.0, 0.0], [1.0, 0.0, 0.0]]
    )


def test_quoted_csv_fields_may_hold_commas(tmp_path):
    lines = ['"Smith, Jane","Heat (1995)",4.5', '"Doe, John","Heat (1995)",3']
    data = load_ratings(write_lines(tmp_path, lines))
    assert list(data.user_ids) == ["Doe, John", "Smith, Jane"]
    np.testing.assert_array_equal(data.matrix.toarray(), [[3.0], [4.5]])


def test_half_stars_keep_their_scale(tmp_path):
    lines = ["1,1,0.5", "1,2,3.5", "2,1,5.0", "2,3,2.5"]
    data = load_ratings(write_lines(tmp_path, lines))
    assert data.scale == (0.5, 5.0)
    np.testing.assert_array_equal(np.sort(data.matrix.data), [0.5, 2.5, 3.5, 5.0])


def test_zero_to_ten_ratings_store_their_zeros(tmp_path):
    lines = ["u1 i1 0", "u1 i2 10", "u2 i1 7", "u2 i2 0"]
    data = load_ratings(write_lines(tmp_path, lines), scale=(0, 10))
    assert data.n_ratings == 4 and data.scale == (0.0, 10.0)
    np.testing.assert_array_equal(data.matrix.toarray(), [[0.0, 10.0], [7.0, 0.0]])
    with pytest.raises(ValueError, match="possible rating"):
        data.to_dense()


def test_usecols_picks_the_columns(tmp_path):
    lines = [f"{r:g}\t{i}\t{u}" for u, i, r in TABLE]
    data = load_ratings(write_lines(tmp_path, lines), usecols=(2, 1, 0))
    np.testing.assert_array_equal(data.to_dense(), EXPECTED)


def test_float32_on_request(tmp_path):
    data = load_ratings(write_lines(tmp_path, ["1,1,4.5", "1,2,3"]), dtype=np.float32)
    assert data.matrix.dtype == np.float32


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["1,1,4", "2,2,3", "2,2,1", "", "1,1,5"], r"2 duplicate .* first at line 2 and line 3"),
        (["1\t1\t4", "2\t1", "3\t1\t2"], r"line 2: expected at least 3 fields"),
        (["a::x::4", "b::y::4", "c::z::four"], r"line 3: the rating 'four' is not a number"),
        (["1,1,4", "", "", "2,2,x", "3,3,3"], r"line 4: the rating 'x'"),
        (["u1 i1 4", "u2 i2 nan"], r"line 2: the rating nan is not finite"),
        (["1,1,4", "1,2,6"], r"line 2: the rating 6 lies outside scale=\(1, 5\)"),
    ],
)
def test_bad_lines_are_named_by_number(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message):
        load_ratings(write_lines(tmp_path, lines), scale=(1, 5))


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("\n  \n\n", "is empty"), ("user,item,rating\n", "header line but no")],
)
def test_empty_files_are_refused(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_ratings(path)


def test_bad_arguments_are_named(tmp_path):
    path = write_lines(tmp_path, ["1,1,4"])
    with pytest.raises(ValueError, match="usecols"):
        load_ratings(path, usecols=(0, 0, 2))
    with pytest.raises(ValueError, match="sep must be"):
        load_ratings(path, sep="")
    with pytest.raises(FileNotFoundError):
        load_ratings(tmp_path / "nowhere.csv")


# --- save_ratings and the round trip -----------------------------------------------------


@pytest.mark.parametrize("sep", ["\t", "::", ",", " "])
@pytest.mark.parametrize("header", [False, True])
def test_load_ratings_reads_back_what_make_ratings_wrote(tmp_path, sep, header):
    data, _ = make_ratings(120, 40, 3, 0.3, seed=5)
    path = save_ratings(data, tmp_path / "planted.txt", sep=sep, header=header)
    back = load_ratings(path, scale=data.scale)
    assert back.shape == data.shape and back.scale == data.scale
    np.testing.assert_array_equal(back.user_ids, data.user_ids)
    np.testing.assert_array_equal(back.item_ids, data.item_ids)
    assert same_ratings(back.matrix, data.matrix)


def test_round_trip_of_float32_half_stars_and_string_ids(tmp_path):
    planted, _ = make_ratings(60, 30, 2, 0.4, seed=6, scale=(0.5, 5), step=0.5, dtype=np.float32)
    data = RatingsData(
        planted.matrix,
        np.array([f"user {u}" for u in range(60)]),
        np.array([f"item-{i:03d}" for i in range(30)]),
        planted.scale,
    )
    path = save_ratings(data, tmp_path / "half.csv", sep=",")
    back = load_ratings(path, scale=data.scale, dtype=np.float32)
    np.testing.assert_array_equal(back.user_ids, np.sort(data.user_ids))
    np.testing.assert_array_equal(back.item_ids, data.item_ids)
    order = np.argsort(data.user_ids)
    assert same_ratings(back.matrix, data.matrix[order])


def test_save_ratings_refuses_a_separator_inside_ids(tmp_path):
    data = RatingsData.from_dense(np.eye(2) + 1, user_ids=["a,b", "c"])
    with pytest.raises(ValueError, match="user ids contain sep=','"):
        save_ratings(data, tmp_path / "x.csv", sep=",")


# --- make_ratings ------------------------------------------------------------------------


def test_planted_ratings_follow_the_model():
    data, truth = make_ratings(2000, 300, 4, 0.05, seed=1)
    assert isinstance(truth, PlantedClusters)
    assert data.shape == (2000, 300) and data.matrix.dtype == np.float64
    assert data.matrix.indices.dtype == np.int32 and data.matrix.has_canonical_format
    expected = 2000 * 300 * 0.05
    assert abs(data.n_ratings - expected) < 5 * np.sqrt(expected)  # Binomial(600000, 0.05)
    counts = np.diff(data.matrix.indptr)
    assert counts.std() > 3  # per-user counts vary (Binomial(300, 0.05): sd 3.8)
    assert set(np.unique(data.matrix.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert truth.assignments.shape == (2000,) and truth.means.shape == (4, 300)
    np.testing.assert_allclose(truth.p, 0.25)
    assert np.bincount(truth.assignments, minlength=4).min() > 400
    rows, cols, values = data.triples()
    planted_means = truth.means[truth.assignments[rows], cols]
    residual = values - planted_means
    assert abs(residual.mean()) < 0.05  # the rounding and clipping leave no big bias
    assert np.corrcoef(values, planted_means)[0, 1] > 0.7


def test_planted_ratings_are_seeded():
    a, truth_a = make_ratings(300, 50, 3, 0.2, seed=4)
    b, truth_b = make_ratings(300, 50, 3, 0.2, seed=4)
    c, _ = make_ratings(300, 50, 3, 0.2, seed=5)
    assert same_ratings(a.matrix, b.matrix)
    np.testing.assert_array_equal(truth_a.assignments, truth_b.assignments)
    assert not same_ratings(a.matrix, c.matrix)


def test_half_stars_float32_and_weights():
    data, truth = make_ratings(
        500, 40, 2, 0.5, seed=2, scale=(0.5, 5), step=0.5, weights=[3, 1], dtype=np.float32
    )
    assert data.matrix.dtype == np.float32 and data.scale == (0.5, 5.0)
    np.testing.assert_array_equal(np.unique(data.matrix.data * 2) % 1, 0)
    assert len(np.unique(data.matrix.data)) > 5
    np.testing.assert_allclose(truth.p, [0.75, 0.25])


def test_the_arrays_grow_when_the_ratings_outnumber_the_room_made(monkeypatch):
    expected, _ = make_ratings(3000, 40, 2, 0.3, seed=8)
    monkeypatch.setattr(datasets.synthetic, "_planted_capacity", lambda cells, density: 10)
    grown, _ = make_ratings(3000, 40, 2, 0.3, seed=8)
    assert same_ratings(grown.matrix, expected.matrix)


def test_density_one_observes_everything():
    data, _ = make_ratings(20, 7, 2, 1.0, seed=0)
    assert data.n_ratings == 140


def test_the_generator_never_builds_a_dense_matrix():
    n_users, n_items = 200_000, 50_000  # dense float64: 80 GB
    tracemalloc.start()
    try:
        data, _ = make_ratings(n_users, n_items, 5, 2e-4, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    csr_bytes = data.matrix.data.nbytes + data.matrix.indices.nbytes + data.matrix.indptr.nbytes
    assert data.n_ratings > 1_900_000
    assert peak < 4 * csr_bytes + 50e6, f"peak {peak / 1e6:.0f} MB for {csr_bytes / 1e6:.0f} MB"


def test_em_recovers_the_planted_clusters():
    data, truth = make_ratings(600, 120, 4, 0.25, seed=3)
    best_ll, best_post = -np.inf, None
    for seed in range(5):
        mixture, post = common.init(data.matrix, 4, seed=seed)
        mixture, post, ll = em.run(data.matrix, mixture, post)
        if ll > best_ll:
            best_ll, best_post = ll, post
    found = best_post.argmax(axis=1)
    agreement = np.zeros((4, 4))
    np.add.at(agreement, (truth.assignments, found), 1)
    planted, matched = linear_sum_assignment(agreement, maximize=True)
    accuracy = agreement[planted, matched].sum() / data.n_users
    assert accuracy > 0.97, f"EM recovered {accuracy:.3f} of the planted assignments"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_users": 0}, ValueError, "n_users must be an integer >= 1"),
        ({"n_items": 2.5}, TypeError, "n_items must be an integer >= 1"),
        ({"density": 0.0}, ValueError, r"density must be a fraction in \(0, 1\]"),
        ({"density": 1.5}, ValueError, "density"),
        ({"scale": (1, 5), "step": 0.3}, ValueError, "whole number of steps"),
        ({"noise": -1.0}, ValueError, "noise"),
        ({"weights": [1, 2]}, ValueError, "weights must be 3"),
        ({"dtype": np.int64}, TypeError, "dtype"),
    ],
)
def test_make_ratings_rejects_bad_arguments(kwargs, error, message):
    arguments = {"n_users": 10, "n_items": 5, "n_clusters": 3, "density": 0.5} | kwargs
    with pytest.raises(error, match=message):
        make_ratings(**arguments)


# --- splits ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted() -> RatingsData:
    return make_ratings(400, 60, 3, 0.2, seed=7)[0]


def test_train_test_split_partitions_every_users_ratings(planted):
    train, test = train_test_split(planted, test_fraction=0.25, seed=1)
    assert train.shape == test.shape == planted.shape
    assert train.matrix.multiply(test.matrix).nnz == 0  # disjoint
    assert train.n_ratings + test.n_ratings == planted.n_ratings
    assert same_ratings((train.matrix + test.matrix).tocsr(), planted.matrix)  # the union
    counts = np.diff(planted.matrix.indptr)
    held_out = np.diff(test.matrix.indptr)
    expected = np.minimum(np.floor(0.25 * counts + 0.5), np.maximum(counts - 1, 0))
    np.testing.assert_array_equal(held_out, expected)
    assert (np.diff(train.matrix.indptr) >= np.minimum(counts, 1)).all()
    assert train.name.endswith("train") and test.name.endswith("test")


def test_min_train_per_user_is_respected():
    data = RatingsData.from_dense(np.array([[1.0, 2, 3, 4, 5], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]))
    train, test = train_test_split(data, test_fraction=0.9, seed=0, min_train_per_user=2)
    np.testing.assert_array_equal(np.diff(train.matrix.indptr), [2, 1, 0])
    np.testing.assert_array_equal(np.diff(test.matrix.indptr), [3, 0, 0])


def test_splits_are_seeded(planted):
    a = train_test_split(planted, seed=3).test.matrix
    b = train_test_split(planted, seed=3).test.matrix
    c = train_test_split(planted, seed=4).test.matrix
    assert same_ratings(a, b) and not same_ratings(a, c)
    folds_a, folds_b = k_fold(planted, 4, seed=3), k_fold(planted, 4, seed=3)
    assert all(
        same_ratings(x.test.matrix, y.test.matrix) for x, y in zip(folds_a, folds_b, strict=True)
    )


def test_every_rating_is_equally_likely_to_be_held_out():
    data = RatingsData.from_dense(np.arange(1.0, 11.0)[None, :], scale=(1, 10))
    trials = 2000
    times_held_out = np.zeros(10)
    for seed in range(trials):
        times_held_out += train_test_split(data, 0.3, seed=seed).test.to_dense()[0] > 0
    sd = np.sqrt(trials * 0.3 * 0.7)
    assert np.abs(times_held_out - 0.3 * trials).max() < 5 * sd, times_held_out


def test_k_fold_test_sets_partition_the_data(planted):
    folds = k_fold(planted, k=5, seed=2)
    assert len(folds) == 5
    total = sp.csr_matrix(planted.shape)
    per_user = []
    for train, test in folds:
        assert train.matrix.multiply(test.matrix).nnz == 0
        assert same_ratings((train.matrix + test.matrix).tocsr(), planted.matrix)
        total = total + test.matrix
        per_user.append(np.diff(test.matrix.indptr))
    assert sum(test.n_ratings for _, test in folds) == planted.n_ratings
    assert same_ratings(total.tocsr(), planted.matrix)  # every rating in exactly one test set
    per_user = np.array(per_user)
    assert (per_user.max(axis=0) - per_user.min(axis=0) <= 1).all()  # balanced within users
    sizes = per_user.sum(axis=1)  # a user's extra ratings go to random folds, not the first
    assert sizes.max() - sizes.min() < 0.1 * planted.n_ratings / 5, sizes


def test_split_arguments_are_checked(planted):
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(planted, test_fraction=1.0)
    with pytest.raises(ValueError, match="min_train_per_user"):
        train_test_split(planted, min_train_per_user=-1)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        k_fold(planted, k=1)
    with pytest.raises(TypeError, match="RatingsData"):
        train_test_split(planted.matrix)
