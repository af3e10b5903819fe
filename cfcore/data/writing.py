"""Writing ratings back to a delimited file that ``load_ratings`` reads to the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .ratings import RatingsData


def _format_column(values: np.ndarray) -> np.ndarray:
    """Values as strings: integers without ".0", other floats in their shortest exact form."""
    if np.issubdtype(values.dtype, np.floating) and (values == np.round(values)).all():
        if values.size == 0 or np.abs(values).max() < 2**63:
            values = values.astype(np.int64)
    return values.astype(str)


#: characters str.splitlines breaks a line at: no id may hold one
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
#: characters of a formatted rating ("-1.5e-07", "inf"): a sep holding one is checked
_NUMBER_CHARACTERS = set("0123456789.-+eEinfa")


def _check_written(values: np.ndarray, sep: str, what: str) -> None:
    """Every value reads back as itself between sep and sep (or a line end), or a ValueError."""
    unreadable = next((text for text in values.tolist() if not _reads_back(str(text), sep)), None)
    if unreadable is not None:
        raise ValueError(
            f"some {what} contain sep={sep!r}, a line break or a quote, or are empty, so they "
            f"would not read back (e.g. {unreadable!r}); choose another sep"
        )


def _reads_back(text: str, sep: str) -> bool:
    if any(char in text for char in _LINE_BREAKS) or text.startswith("\ufeff"):
        return False
    if text.endswith("\x00"):
        return False  # numpy strings drop a trailing NUL
    if sep.isspace() and sep != "\t":
        return text != "" and not any(char.isspace() for char in text)
    if sep == "," and '"' in text:
        return False
    return (text + sep).find(sep) == len(text)


def save_ratings(data: RatingsData, path, sep: str = "\t", *, header: bool = False) -> Path:
    """Write data as "user<sep>item<sep>rating" lines, one per stored rating (row-major).

    load_ratings(path) reads it back to the same matrix, ids (as written: "007" stays
    "007") and ratings (float32 ratings are written in their shortest form, which reads
    back to the same float32). Ids that would not read back as written (they hold sep, a
    line break or, with sep=",", a quote) are refused with a ValueError.
    header=True writes "user<sep>item<sep>rating" first. Returns the path.
    """
    if not isinstance(sep, str) or sep == "" or "\n" in sep or "\r" in sep:
        raise ValueError(f"sep must be a separator such as '\\t', ',' or '::', got {sep!r}")
    path = Path(path)
    rows, cols, values = data.triples()
    for ids, what in ((data.user_ids, "user ids"), (data.item_ids, "item ids")):
        if ids.dtype.kind in "USO":
            _check_written(ids, sep, what)
    ratings = _format_column(values)
    if _NUMBER_CHARACTERS & set(sep):
        _check_written(np.unique(ratings), sep, "ratings")
    columns = [_format_column(data.user_ids)[rows], _format_column(data.item_ids)[cols]]
    line = np.char.add(np.char.add(columns[0], sep), np.char.add(columns[1], sep))
    line = np.char.add(line, ratings)
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        if header:
            stream.write(sep.join(("user", "item", "rating")) + "\n")
        for start in range(0, line.size, 1 << 20):
            stream.write("\n".join(line[start : start + (1 << 20)].tolist()) + "\n")
    return path
