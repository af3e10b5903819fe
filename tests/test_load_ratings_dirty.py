"""Dirty ratings files: bad lines skipped and reported by reason, or the first one named; ids
kept exactly as written; undecodable bytes named by line and encoding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cfcore.data import REASONS, LoadReport, k_fold, load_folds, load_ratings, save_ratings
from cfcore.data import files as files_module


def write_lines(tmp_path, lines, name="ratings.csv"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


#: the bad lines of dirty_file by reason: their numbers in the file (the header is line 1)
DIRTY = {
    "empty rating": {5: "3,7,,978003", 17: "4,8, ,978004", 40: "8,9,,978008", 78: "15,2,,9780"},
    "non-numeric": {71: "14,14,four,978014"},
    "too few fields": {96: "19,3"},
    "outside scale": {9: "2,11,6,978002", 33: "7,12,0,978007", 62: "12,13,10,978012"},
    "duplicate pair": {51: 41, 91: 81},  # repeats the pair of that line, another rating
}
BLANK = 61


def dirty_file(tmp_path):
    """A 1-5 file of 20 users x 5 of 10 items with a header, a blank line and 11 bad lines.

    Returns (path, the clean ratings as {(user, item): rating})."""
    rng = np.random.default_rng(12)
    good, clean = [], {}
    for user in range(1, 21):
        for item in rng.choice(np.arange(1, 11), size=5, replace=False):
            rating = int(rng.integers(1, 6))
            clean[user, int(item)] = float(rating)
            good.append(f"{user},{item},{rating},97800{user}")
    reserved = {number for lines in DIRTY.values() for number in lines} | {BLANK}
    lines = {1: "userId,movieId,rating,timestamp", BLANK: ""}
    lines |= {number: line for found in list(DIRTY.values())[:4] for number, line in found.items()}
    free = (number for number in range(2, 200) if number not in reserved)
    lines |= dict(zip(free, good, strict=False))
    for number, repeated in DIRTY["duplicate pair"].items():
        user, item, rating, stamp = lines[repeated].split(",")
        lines[number] = f"{user},{item},{6 - int(rating)}.5,{stamp}"
    return write_lines(tmp_path, [lines[number] for number in sorted(lines)]), clean


def test_a_dirty_file_loads_with_skip_and_reports_each_reason(tmp_path):
    path, clean = dirty_file(tmp_path)
    data = load_ratings(path, scale=(1, 5), on_bad_lines="skip")
    report = data.load_report
    assert isinstance(report, LoadReport) and report.source == "ratings.csv"
    assert report.counts == {
        "empty rating": 4,
        "non-numeric": 1,
        "too few fields": 1,
        "outside scale": 3,
        "duplicate pair": 2,
    }
    assert report.first_lines == {reason: sorted(lines) for reason, lines in DIRTY.items()}
    assert report.n_lines == 100 + 11 and report.n_kept == 100 == data.n_ratings
    got = {
        (int(data.user_ids[u]), int(data.item_ids[i])): r
        for u, i, r in zip(*data.triples(), strict=True)
    }
    assert got == clean  # the first of each repeated pair is kept
    assert str(report) == (
        "ratings.csv: kept 100 of 111 lines; skipped 4 empty rating (lines 5, 17, 40, 78), "
        "1 non-numeric (line 71), 1 too few fields (line 96), 3 outside scale "
        "(lines 9, 33, 62), 2 duplicate pair (lines 51, 91)"
    )


def test_the_summary_shows_five_line_numbers_then_elides(tmp_path):
    lines = [f"{user},1,{'' if user % 2 else 3}" for user in range(1, 16)]
    data = load_ratings(write_lines(tmp_path, lines), on_bad_lines="skip")
    report = data.load_report
    assert report.counts["empty rating"] == 8 and report.n_kept == 7
    assert report.first_lines["empty rating"] == [1, 3, 5, 7, 9]
    assert "8 empty rating (lines 1, 3, 5, 7, 9, ...)" in str(report)
    assert set(report.counts) == set(report.first_lines) == set(REASONS)


def test_skip_on_a_file_numpy_reads_whole(tmp_path):
    """Integer ids (the fast reader): NaN, out-of-scale and repeated lines still skipped."""
    lines = ["1::1::4", "1::2::nan", "2::1::9", "1::1::2", "2::2::inf", "3::3::1"]
    data = load_ratings(write_lines(tmp_path, lines, "r.dat"), scale=(1, 5), on_bad_lines="skip")
    assert data.load_report.counts == {
        "empty rating": 0,
        "non-numeric": 2,
        "too few fields": 0,
        "outside scale": 1,
        "duplicate pair": 1,
    }
    assert data.load_report.first_lines["non-numeric"] == [2, 5]
    np.testing.assert_array_equal(data.user_ids, [1, 3])  # user 2 has no rating left
    np.testing.assert_array_equal(data.matrix.toarray(), [[4.0, 0.0], [0.0, 1.0]])


def test_warn_warns_once_with_the_summary(tmp_path):
    path, _ = dirty_file(tmp_path)
    with pytest.warns(UserWarning) as caught:
        data = load_ratings(path, scale=(1, 5), on_bad_lines="warn")
    assert len(caught) == 1 and str(caught[0].message) == str(data.load_report)
    assert caught[0].filename == __file__  # points at the caller
    clean = write_lines(tmp_path, ["1,1,4", "2,1,3"], "clean.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = load_ratings(clean, on_bad_lines="warn").load_report
    assert report.n_skipped == 0 and str(report) == "clean.csv: kept 2 of 2 lines; none skipped"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["1,1,4", "1,2,", "1,3,x"], r"ratings.csv, line 2: the rating is empty"),
        (["1,1,4", "1,3,x", "1,2,"], r"line 2: the rating 'x' is not a number"),
        (["1,1,4", "1,3,9", "1,2,x"], r"line 2: the rating 9 lies outside scale=\(1, 5\)"),
        (["1,1,4", "1,1,3", "1,2,x"], r"line 2: 1 duplicate .* first at line 1 and line 2"),
        (["a,b,4", "a,c", "a,d,9"], r"line 2: expected at least 3 fields separated by ','"),
        (["a,b,4", "a,c,9", "a,d"], r"line 2: the rating 9 lies outside"),
    ],
)
def test_error_names_the_first_bad_line(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message) as raised:
        load_ratings(write_lines(tmp_path, lines), scale=(1, 5))
    assert "on_bad_lines='skip'" in str(raised.value)
    assert load_ratings(write_lines(tmp_path, ["1,1,4"])).load_report is None


def test_nothing_left_after_skipping_is_refused(tmp_path):
    path = write_lines(tmp_path, ["1,1,", "1,2,x", "1,3"])
    with pytest.raises(ValueError, match=r"no usable rating: .*kept 0 of 3 lines"):
        load_ratings(path, on_bad_lines="skip")


@pytest.mark.parametrize("value", ["ignore", "SKIP", None, True])
def test_on_bad_lines_must_be_one_of_three(tmp_path, value):
    path = write_lines(tmp_path, ["1,1,4"])
    with pytest.raises(ValueError, match="on_bad_lines must be one of 'error', 'skip', 'warn'"):
        load_ratings(path, on_bad_lines=value)
    with pytest.raises(ValueError, match="on_bad_lines must be one of"):
        load_folds(str(path), on_bad_lines=value)


def test_the_report_follows_every_split(tmp_path):
    lines = [f"{user},{item},{1 + (user + item) % 5}" for user in range(12) for item in range(6)]
    path = write_lines(tmp_path, [*lines, "3,3,", "4,4,x"])
    data = load_ratings(path, on_bad_lines="skip")
    assert all(part.load_report is data.load_report for fold in k_fold(data, 3) for part in fold)
    folds = load_folds(str(path), on_bad_lines="skip")
    assert [fold.name for fold in folds] == ["f1", "f2", "f3", "f4", "f5"]
    assert folds[0].train.load_report.counts["empty rating"] == 1
    with pytest.raises(ValueError, match="line 73: the rating is empty"):
        load_folds(str(path))


# --- ids exactly as written -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "users"),
    [
        (["7::1::4", "007::1::3"], ["007", "7"]),  # numpy alone would read both as 7
        (["7\t1\t4", "+7\t1\t3", "-0\t1\t2", "0\t1\t1"], ["+7", "-0", "0", "7"]),
        (["7,movie,4", "007,movie,3"], ["007", "7"]),  # string items: read line by line
        (["7, 1, 4", "7,1,3"], [7]),  # users are ints; items " 1" and "1" are two
    ],
)
def test_ids_are_kept_exactly_as_written(tmp_path, lines, users):
    data = load_ratings(write_lines(tmp_path, lines))
    assert data.user_ids.tolist() == users
    assert data.n_ratings == len(lines)


def test_items_may_be_integers_when_users_are_not(tmp_path):
    data = load_ratings(write_lines(tmp_path, ["u7\t10\t4", "u007\t9\t3", "u7\t9\t5"]))
    assert data.user_ids.tolist() == ["u007", "u7"] and data.item_ids.dtype == np.int64
    assert data.item_ids.tolist() == [9, 10]


def test_canonical_integer_files_take_numpys_fast_reader(tmp_path, monkeypatch):
    def line_by_line(*args, **kwargs):
        raise AssertionError("the line-by-line reader was used")

    lines = ["1::10::4.5::0", "2::10::-0.5::0", "10::0::0::0", "-3::10::-10::0"]
    monkeypatch.setattr(files_module, "_parse_lines", line_by_line)
    data = load_ratings(write_lines(tmp_path, ["user::item::rating::time", *lines]))
    assert data.user_ids.dtype == np.int64 and data.user_ids.tolist() == [-3, 1, 2, 10]
    assert data.item_ids.tolist() == [0, 10] and data.scale == (-10.0, 4.5)


def test_ids_with_leading_zeros_round_trip(tmp_path):
    lines = ["007,01,4", "7,1,3", "7,01,2"]
    data = load_ratings(write_lines(tmp_path, lines))
    back = load_ratings(save_ratings(data, tmp_path / "back.tsv"))
    assert back.user_ids.tolist() == data.user_ids.tolist() == ["007", "7"]
    assert back.item_ids.tolist() == ["01", "1"]
    assert (back.matrix != data.matrix).nnz == 0


@pytest.mark.parametrize(("user", "sep"), [("a:", "::"), ("x\ny", "\t"), ('"q', ","), ("a b", " ")])
def test_save_refuses_ids_that_would_not_read_back(tmp_path, user, sep):
    data = load_ratings(write_lines(tmp_path, ["u\ti\t4", "v\ti\t3"]))
    data.user_ids = np.array([user, "v"])
    with pytest.raises(ValueError, match="would not read back"):
        save_ratings(data, tmp_path / "out.txt", sep=sep)


# --- encodings ----------------------------------------------------------------------------


def test_a_latin_1_file_is_named_with_its_line_and_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("u1,Heat,4\nu2,Amélie,5\nu3,Café,3\n".encode("latin-1"))
    with pytest.raises(ValueError) as raised:
        load_ratings(path)
    message = str(raised.value)
    assert type(raised.value) is ValueError  # not a bare UnicodeDecodeError
    assert str(path) in message and "line 2" in message and "'utf-8-sig'" in message
    assert "encoding='latin-1'" in message
    data = load_ratings(path, encoding="latin-1")
    assert data.item_ids.tolist() == ["Amélie", "Café", "Heat"]


def test_a_byte_order_mark_does_not_shift_the_line_number(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfu1,a,4\nu2,b,5\n" + "u3,Café,3\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"line 3: byte 0xe9 cannot be decoded"):
        load_ratings(path)


def test_an_unknown_encoding_is_named(tmp_path):
    with pytest.raises(ValueError, match="encoding='klingon' is not an encoding"):
        load_ratings(write_lines(tmp_path, ["1,1,4"]), encoding="klingon")


def test_underscores_do_not_make_a_number(tmp_path):
    path = write_lines(tmp_path, ["u,i,4", "u,j,1_0"])
    with pytest.raises(ValueError, match=r"line 2: the rating '1_0' is not a number"):
        load_ratings(path)
    assert load_ratings(path, on_bad_lines="skip").load_report.counts["non-numeric"] == 1


def test_ratings_too_large_for_any_model_are_named_with_the_file(tmp_path):
    path = write_lines(tmp_path, ["u,i,4", "u,j,1e300"])
    with pytest.raises(ValueError, match=r"ratings.csv: .*overflow"):
        load_ratings(path, on_bad_lines="skip")


def test_an_integer_dtype_is_refused_rather_than_cutting_half_stars(tmp_path):
    path = tmp_path / "half.csv"
    path.write_text("1,1,4.5\n2,1,3\n")
    with pytest.raises(TypeError, match="would cut 4.5 down to 4"):
        load_ratings(path, scale=(0, 5), dtype=np.int64)
