"""Properties of the data layer for any ratings: splits never leak and lose nothing, the
dense and file formats give back what went in, and any file contents are read or refused
with a clear ValueError."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cfcore.data import (
    ON_BAD_LINES,
    RatingsData,
    k_fold,
    load_ratings,
    save_ratings,
    train_test_split,
)

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


# --- load_ratings over any file contents --------------------------------------------------

FILE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SEPARATORS = ["\t", ",", "::", " ", ";", "|"]
WRITTEN_ID = st.one_of(
    st.integers(-3, 40).map(str),
    st.integers(0, 40).map(lambda value: f"{value:03d}"),  # leading zeros: a string id
    st.text("0123456789abxé+-_ .,:;|\"'\t", max_size=4),
)
WRITTEN_RATING = st.one_of(
    st.integers(-2, 8).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "x", "nan", "-inf", "4.5", " 3 ", "+3", "1e400", "5,5", '"4"']),
)


@st.composite
def rating_line(draw, sep: str) -> str:
    """A line of good and bad fields: any user, item and rating, maybe too few or extra."""
    if draw(st.integers(0, 9)) == 0:  # any text at all
        return draw(st.text(max_size=12)).replace("\n", " ")
    fields = [draw(WRITTEN_ID), draw(WRITTEN_ID), draw(WRITTEN_RATING)]
    fields += draw(st.lists(st.sampled_from(["978300760", "", "x"]), max_size=2))
    return sep.join(fields[: draw(st.integers(0, len(fields)))] if draw(st.booleans()) else fields)


@st.composite
def ratings_file(draw) -> tuple[bytes, str, tuple | None]:
    """(file bytes, separator written, declared scale or None): a header maybe, blank lines
    maybe, lines of good and bad fields, in UTF-8, Latin-1 or raw bytes."""
    sep = draw(st.sampled_from(SEPARATORS))
    lines = draw(st.lists(rating_line(sep), max_size=12))
    if draw(st.booleans()):
        lines.insert(0, sep.join(["user", "item", "rating"]))
    if lines and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  ", "\t"])))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    encoded = draw(
        st.sampled_from(
            [
                lambda t: t.encode("utf-8"),
                lambda t: t.encode("latin-1", errors="replace"),
                lambda t: t.encode("utf-8") + b"\xff",
            ]
        )
    )(text)
    scale = draw(st.sampled_from([None, (1, 5), (-10, 10)]))
    return encoded, sep, scale


def load_or_error(path, **options):
    """(RatingsData or None, the ValueError or None, the warnings): other exceptions fail."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return load_ratings(path, **options), None, caught
        except ValueError as err:
            assert type(err) is ValueError, f"{type(err).__name__}: {err}"  # never bare decoding
            assert path.name in str(err)  # a clear message names the file ...
            return None, err, caught


def first_bad_line(err: ValueError) -> int | None:
    found = re.search(r", line (\d+):", str(err))
    return int(found.group(1)) if found else None


@FILE_SETTINGS
@given(ratings_file(), st.sampled_from([None, ","]))
def test_load_ratings_refuses_or_skips_any_contents_clearly(contents, sep):
    raw, _, scale = contents
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.txt"
        path.write_bytes(raw)
        strict, err, _ = load_or_error(path, sep=sep, scale=scale)
        skipped, skip_err, caught = load_or_error(path, sep=sep, scale=scale, on_bad_lines="warn")
    if skip_err is not None:  # only a file without a single usable rating, or undecodable
        assert re.search(
            "no usable rating|is empty|header line but no ratings|cannot be decoded"
            "|squares overflow",  # a rating near 1e154 or above: no model could use it
            str(skip_err),
        ), skip_err
        assert err is not None
        return
    report = skipped.load_report
    assert report.n_kept == skipped.n_ratings > 0
    assert report.n_kept + report.n_skipped == report.n_lines
    assert len(caught) == (report.n_skipped > 0)  # one warning, only when lines were left out
    for reason, numbers in report.first_lines.items():
        assert len(numbers) == min(report.counts[reason], 5) and numbers == sorted(set(numbers))
    assert np.isfinite(skipped.matrix.data).all()
    if scale is not None:
        assert scale[0] <= skipped.matrix.data.min() <= skipped.matrix.data.max() <= scale[1]
    if err is None:  # a clean file: both ways read the same ratings
        assert report.n_skipped == 0 and (strict.matrix != skipped.matrix).nnz == 0
    else:  # "error" names the first line "skip" left out
        first = min(number for numbers in report.first_lines.values() for number in numbers)
        assert first_bad_line(err) == first


@FILE_SETTINGS
@given(st.binary(max_size=200), st.sampled_from(list(ON_BAD_LINES)))
def test_load_ratings_on_any_bytes_raises_only_clear_value_errors(raw, on_bad_lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bytes.dat"
        path.write_bytes(raw)
        data, _, _ = load_or_error(path, on_bad_lines=on_bad_lines)
    assert data is None or data.n_ratings > 0


# --- save_ratings / load_ratings round trip: ids as written, ratings exact ---------------

ID_TEXT = st.text("0123456789abzé中_", min_size=1, max_size=5)


@st.composite
def ratings_with_written_ids(draw) -> RatingsData:
    """Up to 12 x 8 ratings, any finite floats, ids integers or strings (leading zeros too)."""
    n, d = draw(st.integers(1, 12)), draw(st.integers(1, 8))
    ids = [
        draw(
            st.one_of(
                st.lists(
                    st.integers(-(2**63), 2**63 - 1), min_size=size, max_size=size, unique=True
                ),
                st.lists(ID_TEXT, min_size=size, max_size=size, unique=True),
            )
        )
        for size in (n, d)
    ]
    rated = draw(st.lists(st.booleans(), min_size=n * d, max_size=n * d))
    assume(any(rated))
    rows, cols = np.divmod(np.flatnonzero(rated), d)
    finite = draw(  # float32 values, or float64 ones whose squares stay finite
        st.sampled_from(
            [st.floats(width=32, allow_nan=False, allow_infinity=False), st.floats(-1e150, 1e150)]
        )
    )
    values = np.array(draw(st.lists(finite, min_size=rows.size, max_size=rows.size)))
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(n, d))
    return RatingsData(matrix, np.array(ids[0]), np.array(ids[1]), (values.min(), values.max()))


def by_written_id(data: RatingsData) -> dict[tuple[str, str], float]:
    rows, cols, values = data.triples()
    users, items = data.user_ids.astype(str), data.item_ids.astype(str)
    return dict(zip(zip(users[rows], items[cols], strict=True), values.tolist(), strict=True))


@FILE_SETTINGS
@given(ratings_with_written_ids(), st.sampled_from(SEPARATORS), st.booleans())
def test_save_load_round_trips_ids_and_ratings_exactly(data, sep, header):
    with tempfile.TemporaryDirectory() as folder:
        back = load_ratings(save_ratings(data, Path(folder) / "r.txt", sep, header=header))
    assert by_written_id(back) == by_written_id(data)
    assert back.scale == data.scale
    rows, cols, _ = data.triples()
    for ids, written in (
        (back.user_ids, data.user_ids[rows]),
        (back.item_ids, data.item_ids[cols]),
    ):
        canonical = all(re.fullmatch(r"-?[1-9][0-9]*|0", str(value)) for value in written)
        assert ids.dtype.kind == ("i" if canonical else "U")  # "007" stays a string
