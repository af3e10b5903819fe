"""Any delimited ratings file: user, item, rating[, timestamp ...] lines, read and written.

``load_ratings`` keeps every id exactly as written ("7" and "007" are two users) and either
stops at the first bad line (``on_bad_lines="error"``) or leaves bad lines out and says which
(``"skip"``, ``"warn"``) in a ``LoadReport``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._validation import check_scale
from .bad_lines import (
    DUPLICATE,
    EMPTY,
    NON_NUMERIC,
    OUTSIDE,
    TOO_FEW,
    BadLines,
    check_on_bad_lines,
)
from .delimited import (
    check_usecols,
    choose_separator,
    is_number,
    one_character_separator,
    rating_lines,
    read_text,
    split_lines,
    typed_ids,
    without_blank_lines,
)
from .items import ItemTable, attach_items, load_items
from .ratings import RatingsData, index_dtype


class _Ids(NamedTuple):
    """One id column: (m,) int64 codes, the ids themselves (written = None, integer ids from
    the fast path) or indices into written, the distinct ids as written (str)."""

    codes: np.ndarray
    written: list[str] | None = None


class _Table(NamedTuple):
    """Parsed lines: users and items (m,) _Ids, ratings (m,) float64, index (m,) of the lines."""

    users: _Ids
    items: _Ids
    ratings: np.ndarray
    index: np.ndarray

    def take(self, keep: np.ndarray) -> _Table:
        users, items = (_Ids(ids.codes[keep], ids.written) for ids in (self.users, self.items))
        return _Table(users, items, self.ratings[keep], self.index[keep])


def _integers_written_canonically(body: str, sep: str) -> bool:
    """False if a field of body (the text of the rating lines) that numpy would read as an
    integer might not be written as str(int) writes it: a leading zero, "+", a space, a
    quote, "-0". Fast: scans for characters that are rare in clean files, then a regular
    expression per character that may start a field."""
    if not body.isascii() or "+" in body or (sep == "," and '"' in body):
        return False
    if any(char in body for char in "\x0b\x0c\x1c\x1d\x1e"):  # line breaks but \n, \r
        return False
    starts = "\n\r \t" if sep == " " else "\n\r" + sep
    if any(char in body for char in " \t\x1f" if char not in starts):
        return False
    negative_zero = f"-0(?:[0-9{re.escape(starts)}]|\\Z)"
    if re.match(f"0[0-9]|{negative_zero}", body):  # the first field follows no separator
        return False
    patterns = [re.escape(char) + "0[0-9]" for char in starts if char in body]
    if "-" in body:
        patterns += [re.escape(char) + negative_zero for char in starts if char in body]
    return not any(re.search(pattern, body) for pattern in patterns)  # literal prefix: fast


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


def _parse_numeric(lines: list[str], body: str, sep: str, usecols) -> _Table | None:
    """Integer ids and numeric ratings parsed by numpy's C reader, or None if it cannot.

    body: the text of the lines (the file's text after the header)."""
    if not _integers_written_canonically(body, sep):
        return None  # "007" is not "7": the line-by-line reader keeps both as written
    options = dict(
        delimiter=None if sep == " " else sep,
        usecols=usecols,
        comments=None,
        dtype=[("user", np.int64), ("item", np.int64), ("rating", np.float64)],
        ndmin=1,
    )
    try:
        table = np.loadtxt(lines, **options)
    except (ValueError, OverflowError):
        return None  # string ids or a bad line: the line-by-line reader says which
    if table.size != len(lines):
        return None  # numpy skipped whitespace-only lines: count lines line by line
    index = np.arange(len(lines))
    return _Table(_Ids(table["user"]), _Ids(table["item"]), table["rating"], index)


def _parse_lines(lines, sep, usecols, stop: bool) -> tuple[_Table, list[tuple[int, str]]]:
    """Any ids and ratings, line by line: the table of the lines that parse and the
    (index, reason) of those that do not (only the first if stop)."""
    needed = max(usecols) + 1
    user_column, item_column, rating_column = usecols
    users, items = {}, {}
    user_codes, item_codes, ratings, bad = [], [], [], []
    for k, fields in enumerate(split_lines(lines, sep)):
        try:  # "1_0" is not a rating, though float() reads it as 10
            text = fields[rating_column] if len(fields) >= needed else "_"
            rating = float(text) if "_" not in text else None
        except ValueError:
            rating = None
        if rating is None:
            bad.append((k, _parse_reason(fields, needed, rating_column)))
            if stop:
                break
            continue
        ratings.append(rating)
        user_codes.append(users.setdefault(fields[user_column], len(users)))
        item_codes.append(items.setdefault(fields[item_column], len(items)))
    index = np.delete(np.arange(len(ratings) + len(bad)), [k for k, _ in bad])
    table = _Table(
        _Ids(np.array(user_codes, dtype=np.int64), list(users)),
        _Ids(np.array(item_codes, dtype=np.int64), list(items)),
        np.array(ratings, dtype=np.float64),
        index,
    )
    return table, bad


def _parse_reason(fields: list[str], needed: int, rating_column: int) -> str:
    if len(fields) < needed:
        return TOO_FEW
    return EMPTY if not fields[rating_column].strip() else NON_NUMERIC


def _factorize(ids: _Ids) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, (m,) index of every entry among them), for the kept entries."""
    if ids.written is None:
        return _factorize_integers(ids.codes)
    used, index = _factorize_integers(ids.codes)
    values = typed_ids([ids.written[code] for code in used])
    order = np.argsort(values, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return values[order], rank[index]


# --- bad lines: found, left out, reported or raised ---------------------------------------


def _check_ratings(table: _Table, scale, dtype, bad: BadLines) -> _Table:
    """The table without non-finite ratings (non-numeric) and ratings outside scale."""
    ratings = table.ratings
    finite = np.isfinite(ratings)
    if np.issubdtype(dtype, np.floating) and np.dtype(dtype).itemsize < 8:
        with np.errstate(over="ignore"):
            finite &= np.isfinite(ratings.astype(dtype))
    keep = finite
    if scale is not None:
        inside = (ratings >= scale[0]) & (ratings <= scale[1])
        bad.add(OUTSIDE, table.index[finite & ~inside])
        keep = finite & inside
    bad.add(NON_NUMERIC, table.index[~finite])
    return table if keep.all() else table.take(keep)


def _repeats(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the entries that repeat an earlier (row, col) pair, positions of that
    earlier entry), both (r,)."""
    keys = rows.astype(np.int64) * n_cols + cols
    order = np.argsort(keys, kind="stable")  # within a pair, in input order
    sorted_keys = keys[order]
    new = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    group_first = order[np.flatnonzero(new)][np.cumsum(new) - 1]
    repeat = np.flatnonzero(~new)
    return order[repeat], group_first[repeat]


def _csr(rows, cols, values, shape, dtype) -> sp.csr_matrix:
    """CSR from (m,) triples; a repeated pair is summed, so nnz < m tells of one."""
    index = index_dtype(max(len(values), *shape))
    triples = (np.asarray(values, dtype=dtype), (rows.astype(index), cols.astype(index)))
    return sp.coo_matrix(triples, shape=shape).tocsr()


class _Context(NamedTuple):
    """What a message about a line needs: the file, its lines and how they split."""

    path: Path
    lines: list[str]
    numbers: np.ndarray
    sep: str
    given_sep: str
    usecols: tuple[int, int, int]
    scale: object
    dtype: np.dtype


def _bad_line_error(context: _Context, bad: BadLines) -> ValueError:
    """The error naming the earliest bad line, its reason and what to do."""
    k, reason = bad.first()
    line = context.lines[k]
    fields = next(iter(split_lines([line], context.sep)))
    where = f"{context.path}, line {context.numbers[k]}"
    skip = "fix it, or pass on_bad_lines='skip' to leave such lines out"
    if reason == DUPLICATE:
        first = context.numbers[bad.repeated[k]]
        return ValueError(
            f"{where}: {len(bad.index[DUPLICATE])} duplicate (user, item) pair(s) read, the "
            f"first at line {first} and line {context.numbers[k]}; keep one rating per pair, "
            "or pass on_bad_lines='skip' to keep the first of each"
        )
    shown = line.replace(context.sep, context.given_sep)
    if reason == TOO_FEW:
        separated = "whitespace" if context.given_sep == " " else repr(context.given_sep)
        return ValueError(
            f"{where}: expected at least {max(context.usecols) + 1} fields separated by "
            f"{separated}, found {len(fields)}: {shown!r}; {skip}"
        )
    text = fields[context.usecols[2]]
    if reason == EMPTY:
        return ValueError(f"{where}: the rating is empty: {shown!r}; {skip}")
    if reason == OUTSIDE:
        return ValueError(
            f"{where}: the rating {float(text):g} lies outside scale={context.scale}; pass "
            "the scale the ratings are on, or on_bad_lines='skip' to leave such lines out"
        )
    if is_number(text):
        return ValueError(
            f"{where}: the rating {float(text)} is not finite (as {context.dtype.name}): "
            f"{shown!r}; {skip}"
        )
    return ValueError(f"{where}: the rating {text.strip()!r} is not a number: {shown!r}; {skip}")


# --- load_ratings -----------------------------------------------------------------------


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
    on_bad_lines: str = "error",
    items=None,
) -> RatingsData:
    """Ratings from a delimited text file of (user, item, rating[, timestamp, ...]) lines.

    sep: the field separator; None detects it from the first line: "::" (MovieLens 1M,
        MovieTweetings), tab, comma (quoted fields allowed), ";", "|", else whitespace.
        A field is kept exactly as written, spaces included: pass sep=", " for "1, 2, 4".
    header: whether the first line names the columns; None guesses (a first line whose
        rating field is not a number, and whose ids are not both numbers, is a header).
    scale: (lowest, highest) possible rating, default (smallest, largest) in the file; give
        it when the file need not contain both ends (e.g. (0, 10)). A rating of 0 is a
        rating like any other: it is stored in the CSR matrix.
    usecols: the columns holding user, item and rating.
    encoding: the file's text encoding ("utf-8-sig": UTF-8, with or without a byte-order
        mark); a byte it cannot decode raises a ValueError naming the line.
    on_bad_lines: what a bad line does. A line is bad when its rating is empty, is not a
        finite number, lies outside scale, or it has too few fields, or it repeats a
        (user, item) pair of an earlier line. "error" (default): a ValueError naming the
        first bad line. "skip": bad lines are left out (of a repeated pair, the first line
        is kept) and the result's load_report (a LoadReport) counts them by reason, with
        their first line numbers; "warn": the same, and a UserWarning with that summary
        when a line was left out. A file left without ratings raises a ValueError.
    items: an item file's path (read by load_items, its format detected) or an ItemTable,
        whose titles, genres and years are attached by item id (attach_items); an item
        rated in the file but absent from it raises a ValueError.

    Ids are kept exactly as written: integers when every id of a column is an integer
    written as str(int) writes it (no leading zero, "+" or space), else strings, so "7"
    and "007" are two ids. They are kept in user_ids/item_ids (sorted) and replaced by
    contiguous indices in the matrix. Blank lines are skipped and not counted. Canonical
    integer ids go through numpy's C reader (a MovieLens-1M file takes about half a
    second); other files are read line by line.
    """
    path = Path(path)
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(
            f"dtype must be a float dtype (float64 or float32), got {np.dtype(dtype)}: an "
            "integer dtype would cut 4.5 down to 4"
        )
    usecols = check_usecols(usecols)
    on_bad_lines = check_on_bad_lines(on_bad_lines)
    given_scale, scale = scale, None if scale is None else check_scale(scale)
    text = read_text(path, encoding)
    given_sep = choose_separator(text, sep)
    text, sep = one_character_separator(path, text, given_sep)
    lines, numbers, body = rating_lines(path, text, sep, header, usecols)
    table, parse_bad = _parse_numeric(lines, body, sep, usecols), []
    if table is None:
        lines, numbers = without_blank_lines(lines, numbers)
        table, parse_bad = _parse_lines(lines, sep, usecols, stop=on_bad_lines == "error")
    context = _Context(path, lines, numbers, sep, given_sep, usecols, given_scale, np.dtype(dtype))
    ratings = _ratings_from_table(
        context, table, BadLines(parse_bad), scale, name, dtype, on_bad_lines
    )
    return ratings if items is None else attach_items(ratings, _item_table(items))


def _item_table(items) -> ItemTable:
    """items as an ItemTable: itself, or the item file at that path."""
    if isinstance(items, ItemTable):
        return items
    if isinstance(items, (str, os.PathLike)):
        return load_items(items)
    raise TypeError(
        f"items must be an item file's path or an ItemTable, got {type(items).__name__}"
    )


def _ratings_from_table(context, table, bad, scale, name, dtype, on_bad_lines) -> RatingsData:
    """RatingsData from the parsed lines, bad ones left out (or the first raised)."""
    table = _check_ratings(table, scale, dtype, bad)
    if table.ratings.size == 0:
        raise _no_rating_error(context, bad, on_bad_lines)
    user_ids, rows = _factorize(table.users)
    item_ids, cols = _factorize(table.items)
    shape = (user_ids.size, item_ids.size)
    matrix = _csr(rows, cols, table.ratings, shape, dtype)
    if matrix.nnz != table.ratings.size:
        repeat, first = _repeats(rows, cols, shape[1])
        bad.add(DUPLICATE, table.index[repeat])
        bad.repeated = dict(
            zip(table.index[repeat].tolist(), table.index[first].tolist(), strict=True)
        )
        keep = np.ones(rows.size, dtype=bool)
        keep[repeat] = False
        rows, cols, table = rows[keep], cols[keep], table.take(keep)
        matrix = _csr(rows, cols, table.ratings, shape, dtype)
    if on_bad_lines == "error" and bad.any():
        raise _bad_line_error(context, bad)
    if scale is None:
        scale = (table.ratings.min(), table.ratings.max())
    name = context.path.name if name is None else name
    report = None
    if on_bad_lines != "error":
        report = bad.report(context.path.name, context.numbers, table.ratings.size)
        if on_bad_lines == "warn" and report.n_skipped:
            warnings.warn(str(report), UserWarning, stacklevel=3)
    try:
        return RatingsData(matrix, user_ids, item_ids, scale, name=name, load_report=report)
    except ValueError as err:  # e.g. ratings so large that their squares overflow
        raise ValueError(f"{context.path}: {err}") from None


def _no_rating_error(context: _Context, bad: BadLines, on_bad_lines: str) -> ValueError:
    if not bad.any():
        return ValueError(f"{context.path} is empty: it holds no ratings, only blank lines")
    if on_bad_lines == "error":
        return _bad_line_error(context, bad)
    report = bad.report(context.path.name, context.numbers, 0)
    return ValueError(f"{context.path} holds no usable rating: {report}")
