"""Item files: titles, genres and release years, read into an ``ItemTable`` and attached by id.

``load_items`` reads the item file of MovieLens 100K (``u.item``), MovieLens 1M
(``movies.dat``), MovieLens latest / 25M (``movies.csv``) or MovieTweetings (``movies.dat``);
``attach_items`` aligns its rows with the items of a ``RatingsData``. Ids are kept exactly
as written, by the rule ``load_ratings`` follows, and matched as written: the item
"0002844" of a MovieTweetings ratings file is the line "0002844::..." of its movies.dat,
never an item 2844.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .delimited import read_text, typed_ids
from .item_formats import (
    _LEADING_ZERO,
    ITEM_ENCODINGS,
    _check_format,
    _dat_item,
    _Item,
    _ml100k_genre_names,
    _ml100k_parser,
    _movies_csv_item,
    _movies_csv_records,
    _parse,
    _sorted_genres,
    _split_lines,
    detect_format,
)
from .ratings import RatingsData

#: what attach_items does with an item of the ratings that the item table lacks
MISSING = ("error", "fill")
#: ids shown in an error about missing items
SHOWN_IDS = 5

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


def _table(path: Path, items: list[_Item], genre_names: list[str]) -> ItemTable:
    """The ItemTable of the parsed items, refusing an empty file and a repeated id."""
    if not items:
        raise ValueError(f"{path} holds no items (no line after a header, if any, names one)")
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
