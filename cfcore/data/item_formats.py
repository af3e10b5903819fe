"""The item-file formats ``load_items`` reads: detecting a file's format, its parsers.

One parser per format (MovieLens 100K ``u.item``, MovieLens 1M ``movies.dat``, the
``movies.csv`` of MovieLens latest / 25M, MovieTweetings' ``movies.dat``) and their small
helpers: each turns a file's lines into ``_Item`` tuples, ids kept as written, which
``items`` assembles into an ``ItemTable``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .delimited import read_text

#: the item-file formats load_items reads
ITEM_FORMATS = ("ml-100k", "ml-1m", "movies-csv", "movietweetings")
#: the encoding each format is written in (utf-8-sig: UTF-8 with or without a byte-order mark)
ITEM_ENCODINGS = {
    "ml-100k": "latin-1",
    "ml-1m": "latin-1",
    "movies-csv": "utf-8-sig",
    "movietweetings": "utf-8-sig",
}
#: MovieLens 100K's genre columns in u.item order, as its README and u.genre list them
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
#: the fields of a u.item line before its genre flags: id, title, release date, video
#: release date, IMDb URL
ML100K_LEADING_FIELDS = 5
#: the header of a movies.csv file (MovieLens latest, 25M, 20M)
MOVIES_CSV_HEADER = ["movieId", "title", "genres"]
#: what movies.csv writes for a movie without a genre
NO_GENRES = "(no genres listed)"

#: a title's trailing year, "(1995)", or the first year of a range, "(1975-1979)"
_TITLE_YEAR = re.compile(r"\((\d{4})(?:[-\u2013]\d{4})?\)\s*$")
#: u.item's release date: "01-Jan-1995" (the day may have one digit)
_RELEASE_DATE = re.compile(r"\d{1,2}-[A-Za-z]{3}-(\d{4})")
#: an id written with a leading zero ("0000008", MovieTweetings' IMDb numbers)
_LEADING_ZERO = re.compile(r"0[0-9]")


class _BadLine(ValueError):
    """What is wrong with one line of an item file; the caller names the file and line."""


class _Item(NamedTuple):
    """One item as its line gives it: the line number, id as written, title, genres, year."""

    line: int
    item_id: str
    title: str
    genres: tuple[str, ...]
    year: float


class _Record(NamedTuple):
    """One non-blank line of an item file: its number, its text and its fields."""

    number: int
    text: str
    fields: list[str]


# --- detecting and reading lines -----------------------------------------------------------


def _check_format(format) -> str:
    if format not in ITEM_FORMATS:
        raise ValueError(
            f"format must be one of {', '.join(map(repr, ITEM_FORMATS))} or None (detect it), "
            f"got {format!r}"
        )
    return format


def detect_format(path: Path) -> str:
    """The format of an item file (one of ITEM_FORMATS), from its name and first line."""
    if path.name == "u.item":
        return "ml-100k"
    with open(path, "rb") as file:
        head = file.read(1 << 16).removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    first = next((line for line in head.splitlines() if line.strip()), "")
    if path.suffix.lower() == ".csv" or first.split(",")[:3] == MOVIES_CSV_HEADER:
        return "movies-csv"
    if "::" in first:
        return "movietweetings" if _LEADING_ZERO.match(first) else "ml-1m"
    if first.count("|") == ML100K_LEADING_FIELDS + len(ML100K_GENRES) - 1:
        return "ml-100k"
    raise ValueError(
        f"{path}: cannot tell its format from its name or first line {first[:80]!r}; pass "
        f"format= one of {', '.join(map(repr, ITEM_FORMATS))}"
    )


def _parse(path: Path, records: Iterable[_Record], parse_fields: Callable) -> list[_Item]:
    """The items of the records; parse_fields(fields) -> (id, title, genres, year)."""
    items = []
    for record in records:
        try:
            items.append(_Item(record.number, *parse_fields(record.fields)))
        except _BadLine as err:
            raise ValueError(f"{path}, line {record.number}: {err}, got {record.text!r}") from None
    return items


def _split_lines(text: str, sep: str | None) -> Iterator[_Record]:
    """The non-blank lines, numbered from 1, split at sep (None: kept whole)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield _Record(number, line, [line] if sep is None else line.split(sep))


def _title_year(title: str) -> float:
    found = _TITLE_YEAR.search(title)
    return float(found.group(1)) if found else np.nan


def _genre_list(text: str) -> tuple[str, ...]:
    """ "Animation|Comedy" -> ("Animation", "Comedy"); "" and NO_GENRES -> ()."""
    if text.strip() in ("", NO_GENRES):
        return ()
    return tuple(genre for genre in text.split("|") if genre)


def _sorted_genres(items: list[_Item]) -> list[str]:
    return sorted({genre for item in items for genre in item.genres})


def _checked_id(item_id: str) -> str:
    if not item_id.strip():
        raise _BadLine("the item id is empty")
    return item_id


# --- the formats ---------------------------------------------------------------------------


def _ml100k_genre_names(u_genre: Path) -> list[str]:
    """Genre names in column order from u.genre ("name|index" lines), else ML100K_GENRES."""
    if not u_genre.is_file():
        return list(ML100K_GENRES)
    names: dict[int, str] = {}
    for record in _split_lines(read_text(u_genre, "latin-1"), None):
        name, _, index = record.text.rpartition("|")
        if not index.isdigit() or int(index) in names:
            raise ValueError(
                f"{u_genre}, line {record.number}: expected 'name|column' with a new column "
                f"number, got {record.text!r}"
            )
        names[int(index)] = name
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{u_genre} must number its genres 0, 1, 2, ..., got {sorted(names)}")
    return [names[index] for index in range(len(names))]


def _ml100k_parser(genre_names: list[str]) -> Callable:
    """The parser of a u.item line with one 0/1 flag per genre of genre_names."""
    n_fields = ML100K_LEADING_FIELDS + len(genre_names)

    def parse(fields: list[str]):
        flags = fields[ML100K_LEADING_FIELDS:]
        if len(fields) != n_fields or any(flag not in ("0", "1") for flag in flags):
            raise _BadLine(
                f"expected {n_fields} '|'-separated fields (id|title|release date|video "
                f"release date|IMDb URL, then {len(genre_names)} genre flags 0 or 1)"
            )
        item_id, title, released = fields[:3]
        genres = tuple(name for name, flag in zip(genre_names, flags, strict=True) if flag == "1")
        return _checked_id(item_id), title, genres, _release_year(released, title)

    return parse


def _release_year(released: str, title: str) -> float:
    """The film's year: the title's "(1976)", else u.item's release date, else NaN.

    The title first, as every other format has it: u.item's date is often a re-release or
    video date ("Taxi Driver (1976)" is dated 16-Feb-1996), not the film's era.
    """
    dated = np.nan
    if released.strip():
        found = _RELEASE_DATE.fullmatch(released.strip())
        if found is None:
            raise _BadLine(f"the release date {released!r} is not written like 01-Jan-1995")
        dated = float(found.group(1))
    year = _title_year(title)
    return dated if np.isnan(year) else year


def _dat_item(fields: list[str]):
    """id::title::genres (MovieLens 1M, MovieTweetings); a title may itself hold "::"."""
    item_id, first, rest = fields[0].partition("::")
    title, second, genres = rest.rpartition("::")
    if not first or not second:
        raise _BadLine("expected 3 '::'-separated fields: id::title::genres")
    return _checked_id(item_id), title, _genre_list(genres), _title_year(title)


def _movies_csv_records(path: Path, text: str) -> Iterator[_Record]:
    """The records after the movieId,title,genres header, read by the csv rules (quotes)."""
    lines = [line.rstrip("\r\n") for line in io.StringIO(text, newline="").readlines()]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for fields in reader:
            if start == 1 and fields != MOVIES_CSV_HEADER:
                raise ValueError(
                    f"{path}, line 1: expected the header {','.join(MOVIES_CSV_HEADER)}, got "
                    f"{lines[0]!r}; pass the format the file is in"
                )
            if start > 1 and fields:
                yield _Record(start, lines[start - 1], fields)
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValueError(
            f"{path}, line {reader.line_num}: not readable as CSV ({err}); quote a field that "
            'holds a comma or a quote, doubling its quotes ("")'
        ) from None


def _movies_csv_item(fields: list[str]):
    if len(fields) != len(MOVIES_CSV_HEADER):
        raise _BadLine("expected 3 fields (movieId,title,genres); quote a title that holds a comma")
    item_id, title, genres = fields
    return _checked_id(item_id), title, _genre_list(genres), _title_year(title)
