"""Item files: titles, genres and release years, read into an ``ItemTable`` and attached by id.

``load_items`` reads the item file of MovieLens 100K (``u.item``), MovieLens 1M
(``movies.dat``), MovieLens latest / 25M (``movies.csv``) or MovieTweetings (``movies.dat``);
``attach_items`` aligns its rows with the items of a ``RatingsData``. Ids are kept exactly
as written, by the rule ``load_ratings`` follows, and matched as written: the item
"0002844" of a MovieTweetings ratings file is the line "0002844::..." of its movies.dat,
never an item 2844.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .delimited import read_text, typed_ids
from .ratings import RatingsData

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
#: what attach_items does with an item of the ratings that the item table lacks
MISSING = ("error", "fill")
#: ids shown in an error about missing items
SHOWN_IDS = 5

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


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class ItemTable:
    """Titles, genres and release years of n items, in the order of the file they came from.

    item_ids: (n,) the ids as written: int64 when every id is an integer written as str(int)
        writes it, else str (the rule load_ratings applies to a ratings file's ids)
    titles: (n,) str, as written (a MovieLens title ends in its year: "Toy Story (1995)")
    genres: (n, n_genres) bool, genres[i, g] = item i has genre genre_names[g]
    genre_names: n_genres names; years: (n,) float release years, NaN where unknown
    source: the file read, for messages
    """

    item_ids: np.ndarray
    titles: np.ndarray
    genres: np.ndarray
    genre_names: list[str]
    years: np.ndarray
    source: str = ""

    def __post_init__(self):
        item_ids = np.asarray(self.item_ids)
        if item_ids.ndim != 1 or item_ids.size == 0:
            raise ValueError(f"item_ids must be a non-empty (n,) array, got shape {item_ids.shape}")
        n = item_ids.size
        genres = np.asarray(self.genres, dtype=bool)
        if genres.ndim != 2 or genres.shape[0] != n or len(self.genre_names) != genres.shape[1]:
            raise ValueError(
                f"genres must be ({n}, n_genres) bool with genre_names naming its columns, got "
                f"shape {genres.shape} and {len(self.genre_names)} names"
            )
        fields = {"titles": np.asarray(self.titles, dtype=str), "years": _float_years(self.years)}
        for name, values in fields.items():
            if values.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), one per item, got {values.shape}")
        _check_unique(_written(item_ids))
        for name, value in (("item_ids", item_ids), ("genres", genres), *fields.items()):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "genre_names", [str(name) for name in self.genre_names])

    @property
    def n_items(self) -> int:
        return self.item_ids.shape[0]

    def __repr__(self) -> str:
        dated = int(np.isfinite(self.years).sum())
        return (
            f"ItemTable({self.source!r}: {self.n_items:,} items, {len(self.genre_names)} "
            f"genres, {dated:,} with a year)"
        )


def _float_years(years) -> np.ndarray:
    try:
        years = np.asarray(years, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("years must be numbers (NaN where unknown)") from None
    if np.isinf(years).any():
        raise ValueError("years holds an infinite value; write NaN for an unknown year")
    return years


def _written(ids) -> list[str]:
    """The ids as a file writes them: str(int) for integer ids, the strings themselves."""
    return [str(value) for value in np.asarray(ids).tolist()]


def _check_unique(written: list[str]) -> None:
    seen: set[str] = set()
    for item_id in written:
        if item_id in seen:
            raise ValueError(f"item_ids must be distinct; {item_id!r} appears twice")
        seen.add(item_id)


# --- load_items ----------------------------------------------------------------------------


def load_items(path, format: str | None = None, *, encoding: str | None = None) -> ItemTable:
    """The items of an item file: ids, titles, genres and release years, in file order.

    format: "ml-100k" (u.item: id|title|release date|video date|URL|19 genre flags),
        "ml-1m" (movies.dat: id::title::Genre|Genre), "movies-csv" (movies.csv of
        MovieLens latest/25M: a movieId,title,genres header, quoted titles, genres "|"-separated
        or "(no genres listed)"), "movietweetings" (movies.dat as ml-1m, UTF-8, ids such as
        "0000008", genres may be empty). None detects it: a file named u.item is ml-100k; a
        .csv file or a first line movieId,title,genres is movies-csv; a "::" first line is
        movietweetings when its id has a leading zero, else ml-1m.
    encoding: default the format's (ITEM_ENCODINGS: Latin-1 for ml-100k and ml-1m, UTF-8
        otherwise); a byte it cannot decode raises a ValueError naming the line.

    Ids are kept as written (see ItemTable) and titles as written. years: the title's
    trailing "(1995)" (the first year of a range "(1975-1979)"), else u.item's release date
    ("01-Jan-1995" -> 1995; not first, as it can be a re-release: "Taxi Driver (1976)" is
    dated 16-Feb-1996), else NaN. genre_names: u.item's columns in
    order (from the u.genre beside it, else ML100K_GENRES); for the other formats every
    genre named, sorted, so the columns do not depend on the order of the lines. A
    malformed line, a repeated id or an undecodable byte raises a ValueError naming the
    file and line.
    """
    path = Path(path)
    format = detect_format(path) if format is None else _check_format(format)
    text = read_text(path, ITEM_ENCODINGS[format] if encoding is None else encoding)
    if format == "ml-100k":
        genre_names = _ml100k_genre_names(path.with_name("u.genre"))
        items = _parse(path, _split_lines(text, "|"), _ml100k_parser(genre_names))
    elif format == "movies-csv":
        items = _parse(path, _movies_csv_records(path, text), _movies_csv_item)
        genre_names = _sorted_genres(items)
    else:
        items = _parse(path, _split_lines(text, None), _dat_item)
        genre_names = _sorted_genres(items)
    return _table(path, items, genre_names)


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


def _table(path: Path, items: list[_Item], genre_names: list[str]) -> ItemTable:
    """The ItemTable of the parsed items, refusing an empty file and a repeated id."""
    if not items:
        raise ValueError(f"{path} holds no items, only blank lines")
    first_line: dict[str, int] = {}
    for item in items:
        earlier = first_line.setdefault(item.item_id, item.line)
        if earlier != item.line:
            raise ValueError(
                f"{path}, line {item.line}: the item id {item.item_id!r} repeats line "
                f"{earlier}; keep one line per item"
            )
    column = {name: g for g, name in enumerate(genre_names)}
    genres = np.zeros((len(items), len(genre_names)), dtype=bool)
    for row, item in enumerate(items):
        genres[row, [column[genre] for genre in item.genres]] = True
    return ItemTable(
        typed_ids([item.item_id for item in items]),
        np.array([item.title for item in items], dtype=str),
        genres,
        genre_names,
        np.array([item.year for item in items], dtype=np.float64),
        source=str(path),
    )


# --- attach_items --------------------------------------------------------------------------


def attach_items(ratings: RatingsData, items: ItemTable, *, missing: str = "error") -> RatingsData:
    """ratings with the titles, genres, genre_names and years of items, by item id.

    Row i of the result's titles/genres/years describes the item ratings.item_ids[i]: ids
    are matched as both files write them, so 8 (written "8") matches "8" but not "0000008".
    Items of the table that ratings does not rate are left out. missing: what an item of
    ratings absent from the table does: "error" (default) raises a ValueError counting them;
    "fill" gives it its id as title, no genre and a NaN year. The matrix, ids, scale, name
    and load_report are those of ratings; ratings itself is not changed.
    """
    if not isinstance(ratings, RatingsData):
        raise TypeError(f"ratings must be a RatingsData, got {type(ratings).__name__}")
    if not isinstance(items, ItemTable):
        raise TypeError(
            f"items must be an ItemTable (from load_items(path)), got {type(items).__name__}"
        )
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(map(repr, MISSING))}, got {missing!r}")
    wanted = _written(ratings.item_ids)
    row_of = {item_id: row for row, item_id in enumerate(_written(items.item_ids))}
    rows = np.array([row_of.get(item_id, -1) for item_id in wanted], dtype=np.int64)
    found = rows >= 0
    if not found.all() and missing == "error":
        raise _missing_items_error(ratings, items, np.flatnonzero(~found))
    if not found.any():
        note = _kinds_note(ratings, items)
        warnings.warn(f"{_NONE_FOUND}. {note}".strip(), UserWarning, stacklevel=2)
    rows[~found] = 0
    return dataclasses.replace(
        ratings,
        titles=np.where(found, items.titles[rows], np.array(wanted, dtype=str)),
        genres=items.genres[rows] & found[:, None],
        genre_names=list(items.genre_names),
        years=np.where(found, items.years[rows], np.nan),
    )


_NONE_FOUND = "no item id of ratings is in items: every item was filled"


def _missing_items_error(ratings: RatingsData, items: ItemTable, absent: np.ndarray):
    shown = ", ".join(repr(value) for value in ratings.item_ids[absent[:SHOWN_IDS]].tolist())
    more = ", ..." if absent.size > SHOWN_IDS else ""
    return ValueError(
        f"{absent.size:,} of the {ratings.n_items:,} items of ratings are not in items "
        f"({items.source or 'the ItemTable'}): ids {shown}{more}. {_kinds_note(ratings, items)}"
        "Load the item file that lists them, or call attach_items(ratings, items, "
        "missing='fill') to give them their id as title, no genre and a NaN year"
    )


def _kinds_note(ratings: RatingsData, items: ItemTable) -> str:
    """A sentence saying how the two id columns are written, when one is integers only."""
    kinds = [_id_kind(ratings.item_ids), _id_kind(items.item_ids)]
    if kinds[0] == kinds[1] or "integers" not in kinds:
        return ""
    return (
        f"The ratings item ids are {kinds[0]}, the item file ids are {kinds[1]}; ids match "
        "only as written (8 is not '0000008'), so read both files with their ids written "
        "alike. "
    )


def _id_kind(ids: np.ndarray) -> str:
    if np.issubdtype(ids.dtype, np.integer):
        return "integers"
    zeros = any(_LEADING_ZERO.match(item_id) for item_id in _written(ids))
    return "strings with leading zeros" if zeros else "strings"
