"""Any delimited ratings file: user, item, rating[, timestamp ...] lines, read and written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .._validation import check_scale
from .ratings import RatingsData, csr_from_indices

#: the separators load_ratings recognises, in the order it looks for them
SEPARATORS = ("::", "\t", ",", ";", "|")
_UNIT_SEPARATOR = "\x1f"  # stands for a longer separator: numpy splits on one character


def _choose_separator(text: str, sep: str | None) -> str:
    """sep checked, or detected from the first non-blank line; " " means runs of whitespace."""
    if sep is None:
        first = next((line for line in text[: 1 << 16].splitlines() if line.strip()), "")
        return next((known for known in SEPARATORS if known in first), " ")
    if not isinstance(sep, str) or sep == "" or "\n" in sep or "\r" in sep:
        raise ValueError(f"sep must be a non-empty one-line string or None, got {sep!r}")
    return " " if sep.isspace() and sep != "\t" else sep


def _split_lines(lines: list[str], sep: str):
    """The fields of every line: csv rules (quotes) for commas, runs of whitespace for " "."""
    if sep == ",":
        return csv.reader(lines)
    if sep == " ":
        return (line.split() for line in lines)
    return (line.split(sep) for line in lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(line: str, sep: str, usecols: tuple[int, int, int]) -> bool:
    """A first line whose rating field and id fields are not all numbers names columns."""
    fields = next(iter(_split_lines([line], sep)))
    if len(fields) <= max(usecols):
        return False
    user, item, rating = (fields[column].strip() for column in usecols)
    return not _is_number(rating) and not (_is_number(user) and _is_number(item))


def _check_usecols(usecols) -> tuple[int, int, int]:
    try:
        columns = tuple(int(column) for column in usecols)
    except (TypeError, ValueError):
        raise TypeError(f"usecols must be three column numbers, got {usecols!r}") from None
    if len(columns) != 3 or len(set(columns)) != 3 or min(columns) < 0:
        raise ValueError(
            f"usecols must be three distinct column numbers >= 0 (user, item, rating), "
            f"got {usecols!r}"
        )
    return columns


def _without_blank_lines(lines: list[str], numbers: np.ndarray):
    kept = [k for k, line in enumerate(lines) if line and not line.isspace()]
    return [lines[k] for k in kept], numbers[kept]


def _factorize_integers(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, index of every id among them): np.unique(ids, return_inverse=True)
    in O(n) when the ids span a range not much wider than their number."""
    low, high = int(ids.min()), int(ids.max())
    if high - low > 4 * ids.size + 1024:
        return np.unique(ids, return_inverse=True)
    present = np.zeros(high - low + 1, dtype=bool)
    present[ids - low] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, rank[ids - low]


def _parse_numeric(lines: list[str], sep: str, usecols):
    """Integer ids and numeric ratings parsed by numpy's C reader, or None if it cannot."""
    options = dict(
        delimiter=None if sep == " " else sep,
        usecols=usecols,
        quotechar='"' if sep == "," else None,
        comments=None,
        dtype=[("user", np.int64), ("item", np.int64), ("rating", np.float64)],
        ndmin=1,
    )
    try:
        table = np.loadtxt(lines, **options)
    except ValueError:
        return None  # string ids or a bad line: the line-by-line reader says which
    if table.size != len(lines):
        return None  # numpy skipped whitespace-only lines: count lines line by line
    users, rows = _factorize_integers(table["user"])
    items, cols = _factorize_integers(table["item"])
    return users, rows, items, cols, table["rating"]


def _sorted_ids(first_seen: dict[str, int], codes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Ids (integers if every one is) in sorted order and the index of every code among them."""
    ids = list(first_seen)
    try:
        as_integers = [int(value) for value in ids]
        if len(set(as_integers)) == len(ids):  # "7" and "007" would merge: keep strings then
            ids = as_integers
    except ValueError:
        pass
    ids = np.array(ids)
    order = np.argsort(ids, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return ids[order], rank[np.asarray(codes, dtype=np.int64)]


def _parse_lines(path, lines, numbers, sep, usecols, given_sep):
    """Any ids and numeric ratings, line by line, naming the first line that does not parse."""
    needed = max(usecols) + 1
    user_column, item_column, rating_column = usecols
    users, items = {}, {}
    user_codes, item_codes, ratings = [], [], []
    for k, fields in enumerate(_split_lines(lines, sep)):
        try:
            ratings.append(float(fields[rating_column]))
            user_codes.append(users.setdefault(fields[user_column].strip(), len(users)))
            item_codes.append(items.setdefault(fields[item_column].strip(), len(items)))
        except (IndexError, ValueError):
            raise _bad_line_error(
                path, lines[k], numbers[k], sep, needed, rating_column, given_sep
            ) from None
    return (*_sorted_ids(users, user_codes), *_sorted_ids(items, item_codes), np.array(ratings))


def _bad_line_error(path, line, number, sep, needed, rating_column, given_sep) -> ValueError:
    fields = next(iter(_split_lines([line], sep)))
    shown = line.replace(sep, given_sep) if sep != given_sep else line
    if len(fields) < needed:
        separated = "whitespace" if given_sep == " " else repr(given_sep)
        return ValueError(
            f"{path}, line {number}: expected at least {needed} fields separated by "
            f"{separated}, found {len(fields)}: {shown!r}"
        )
    return ValueError(
        f"{path}, line {number}: the rating {fields[rating_column].strip()!r} is not a "
        f"number: {shown!r}"
    )


def load_ratings(
    path,
    sep: str | None = None,
    *,
    header: bool | None = None,
    scale=None,
    name: str | None = None,
    usecols=(0, 1, 2),
    dtype=np.float64,
    encoding: str = "utf-8-sig",
) -> RatingsData:
    """Ratings from a delimited text file of (user, item, rating[, timestamp, ...]) lines.

    sep: the field separator; None detects it from the first line: "::" (MovieLens 1M,
        MovieTweetings), tab, comma (quoted fields allowed), ";", "|", else whitespace.
    header: whether the first line names the columns; None guesses (a first line whose
        rating field is not a number, and whose ids are not both numbers, is a header).
    scale: (lowest, highest) possible rating, default (smallest, largest) in the file; give
        it when the file need not contain both ends (e.g. (0, 10)). A rating of 0 is a
        rating like any other: it is stored in the CSR matrix.
    usecols: the columns holding user, item and rating.
    Ids may be integers or strings; they are kept in user_ids/item_ids (sorted) and
    replaced by contiguous indices in the matrix. Blank lines are skipped. A repeated
    (user, item) pair, a line that cannot be parsed, a NaN rating or an empty file raise a
    ValueError that gives the line number. Integer ids go through numpy's C reader (a
    MovieLens-1M file takes about a second); other ids are read line by line.
    """
    path = Path(path)
    usecols = _check_usecols(usecols)
    text = path.read_text(encoding=encoding)
    given_sep = sep = _choose_separator(text, sep)
    if len(sep) > 1:
        if _UNIT_SEPARATOR in text:
            raise ValueError(f"{path} contains the control character \\x1f; pass sep")
        text, sep = text.replace(sep, _UNIT_SEPARATOR), _UNIT_SEPARATOR
    lines = text.splitlines()
    numbers = np.arange(1, len(lines) + 1)
    if "" in lines or (lines and lines[0].isspace()):
        lines, numbers = _without_blank_lines(lines, numbers)
    if not lines:
        raise ValueError(f"{path} is empty: it holds no ratings")
    if header is None:
        header = _looks_like_header(lines[0], sep, usecols)
    if header:
        lines, numbers = lines[1:], numbers[1:]
        if not lines:
            raise ValueError(f"{path} holds a header line but no ratings")
    parsed = _parse_numeric(lines, sep, usecols)
    if parsed is None:
        lines, numbers = _without_blank_lines(lines, numbers)
        parsed = _parse_lines(path, lines, numbers, sep, usecols, given_sep)
    return _ratings_from_columns(path, *parsed, numbers, scale, name, dtype)


def _ratings_from_columns(
    path, user_ids, rows, item_ids, cols, ratings, numbers, scale, name, dtype
):
    """RatingsData from parallel (m,) indices and ratings; numbers[k] is the line of entry k."""

    def describe(k: int) -> str:
        return f"line {numbers[k]}"

    bad = np.flatnonzero(~np.isfinite(ratings))
    if bad.size:
        raise ValueError(f"{path}, {describe(bad[0])}: the rating {ratings[bad[0]]} is not finite")
    if scale is not None:
        low, high = check_scale(scale)
        outside = np.flatnonzero((ratings < low) | (ratings > high))
        if outside.size:
            raise ValueError(
                f"{path}, {describe(outside[0])}: the rating {ratings[outside[0]]:g} lies "
                f"outside scale={scale}"
            )
    else:
        scale = (ratings.min(), ratings.max())
    shape = (user_ids.size, item_ids.size)
    matrix = csr_from_indices(rows, cols, ratings, shape, dtype, describe)
    return RatingsData(matrix, user_ids, item_ids, scale, name=path.name if name is None else name)


def _format_column(values: np.ndarray) -> np.ndarray:
    """Values as strings: integers without ".0", other floats in their shortest exact form."""
    if np.issubdtype(values.dtype, np.floating) and (values == np.round(values)).all():
        values = values.astype(np.int64)
    return values.astype(str)


def save_ratings(data: RatingsData, path, sep: str = "\t", *, header: bool = False) -> Path:
    """Write data as "user<sep>item<sep>rating" lines, one per stored rating (row-major).

    load_ratings(path) reads it back to the same matrix, ids and ratings (float32 ratings
    are written in their shortest form, which reads back to the same float32).
    header=True writes "user<sep>item<sep>rating" first. Returns the path.
    """
    if not isinstance(sep, str) or sep == "" or "\n" in sep or "\r" in sep:
        raise ValueError(f"sep must be a separator such as '\\t', ',' or '::', got {sep!r}")
    path = Path(path)
    rows, cols, values = data.triples()
    columns = [_format_column(data.user_ids)[rows], _format_column(data.item_ids)[cols]]
    for column, what in zip(columns, ("user", "item"), strict=True):
        if (np.char.find(column, sep) >= 0).any() or (np.char.find(column, "\n") >= 0).any():
            raise ValueError(
                f"some {what} ids contain sep={sep!r} or a line break; choose another sep"
            )
    line = np.char.add(np.char.add(columns[0], sep), np.char.add(columns[1], sep))
    line = np.char.add(line, _format_column(values))
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        if header:
            stream.write(sep.join(("user", "item", "rating")) + "\n")
        for start in range(0, line.size, 1 << 20):
            stream.write("\n".join(line[start : start + (1 << 20)].tolist()) + "\n")
    return path
