"""Reading delimited text: decoding with a clear error, separators, fields, header lines."""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import numpy as np

#: the separators load_ratings recognises, in the order it looks for them
SEPARATORS = ("::", "\t", ",", ";", "|")
#: stand-ins for a longer separator (numpy splits on one character): the first absent one
_PLACEHOLDERS = ("\x1f", "\x07", "\x01", "\ue000", "\uf8ff")
#: an integer as str(int) writes it: no sign but "-", no leading zero, no space, no "-0"
CANONICAL_INTEGER = re.compile(r"-?[1-9][0-9]{0,18}|0")
INT64 = (-(2**63), 2**63)


def read_text(path: Path, encoding: str) -> str:
    """The file decoded; a byte that does not decode raises a ValueError naming its line."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except LookupError:
        raise ValueError(
            f"encoding={encoding!r} is not an encoding Python knows; pass e.g. 'utf-8' or 'latin-1'"
        ) from None
    except UnicodeDecodeError as err:
        raise decode_error(path, raw, encoding, err) from None


def decode_error(path: Path, raw: bytes, encoding: str, err: UnicodeDecodeError) -> ValueError:
    start = err.start
    if codecs.lookup(encoding).name == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
        start += len(codecs.BOM_UTF8)  # the codec counts from after the byte-order mark
    before = raw[:start].decode(encoding, errors="replace")
    line = len((before + "x").splitlines())  # numbered as load_ratings numbers lines
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    suggestion = "encoding='utf-16'" if utf16 else "encoding='latin-1' (or the file's encoding)"
    return ValueError(
        f"{path}, line {line}: byte {raw[start]:#04x} cannot be decoded as "
        f"encoding={encoding!r} ({err.reason}); pass {suggestion}"
    )


def typed_ids(written: list[str]) -> np.ndarray:
    """(n,) the ids as written: int64 if every one is an integer written as str(int) writes
    it, else strings (object dtype if one ends in NUL, which numpy strings would drop)."""
    if all(CANONICAL_INTEGER.fullmatch(text) for text in written):
        values = [int(text) for text in written]
        if all(INT64[0] <= value < INT64[1] for value in values):
            return np.array(values, dtype=np.int64)
    if any(text.endswith("\x00") for text in written):
        return np.array(written, dtype=object)
    return np.array(written, dtype=str)


def choose_separator(text: str, sep: str | None) -> str:
    """sep checked, or detected from the first non-blank line; " " means runs of whitespace."""
    if sep is None:
        first = next((line for line in text[: 1 << 16].splitlines() if line.strip()), "")
        return next((known for known in SEPARATORS if known in first), " ")
    if not isinstance(sep, str) or sep == "" or "\n" in sep or "\r" in sep:
        raise ValueError(f"sep must be a non-empty one-line string or None, got {sep!r}")
    return " " if sep.isspace() and sep != "\t" else sep


def one_character_separator(path: Path, text: str, sep: str) -> tuple[str, str]:
    """(text, sep) with a longer separator replaced by a character the text does not hold."""
    if len(sep) == 1:
        return text, sep
    free = next((char for char in _PLACEHOLDERS if char not in text), None)
    if free is None:
        raise ValueError(f"{path} holds every control character load_ratings could split on")
    return text.replace(sep, free), free


def split_lines(lines: list[str], sep: str):
    """The fields of every line: csv rules (quotes) for commas, runs of whitespace for " "."""
    if sep == ",":
        return (csv_fields(line) if '"' in line else line.split(",") for line in lines)
    if sep == " ":
        return (line.split() for line in lines)
    return (line.split(sep) for line in lines)


def csv_fields(line: str) -> list[str]:
    """One line read by the csv rules; a line they cannot read is split at every comma."""
    try:
        return next(csv.reader([line]))
    except csv.Error:
        return line.split(",")


def is_number(text: str) -> bool:
    """Whether text is a number, as float() reads it, but "1_0" is not."""
    if "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def looks_like_header(line: str, sep: str, usecols: tuple[int, int, int]) -> bool:
    """A first line whose rating field and id fields are not all numbers names columns."""
    fields = next(iter(split_lines([line], sep)))
    if len(fields) <= max(usecols):
        return False
    user, item, rating = (fields[column].strip() for column in usecols)
    return not is_number(rating) and not (is_number(user) and is_number(item))


def check_usecols(usecols) -> tuple[int, int, int]:
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


def without_blank_lines(lines: list[str], numbers: np.ndarray):
    kept = [k for k, line in enumerate(lines) if line and not line.isspace()]
    return [lines[k] for k in kept], numbers[kept]


def rating_lines(path: Path, text: str, sep: str, header, usecols):
    """(lines, numbers, body): the non-blank lines after the header, their numbers in the
    file, and the text from the end of the header on."""
    lines = text.splitlines()
    numbers = np.arange(1, len(lines) + 1)
    if "" in lines or (lines and lines[0].isspace()):
        lines, numbers = without_blank_lines(lines, numbers)
    if not lines:
        raise ValueError(f"{path} is empty: it holds no ratings")
    if header is None:
        header = looks_like_header(lines[0], sep, usecols)
    _refuse_a_dense_matrix(path, lines[int(bool(header)) :][:1], sep, usecols)
    body = text
    if header:
        body = text[text.find(lines[0]) + len(lines[0]) :]  # its first occurrence: the header
        lines, numbers = lines[1:], numbers[1:]
        if not lines:
            raise ValueError(f"{path} holds a header line but no ratings")
    return lines, numbers, body


#: more fields than this on a line of numbers, read by the default columns, is a dense matrix
DENSE_FIELDS = 20


def _refuse_a_dense_matrix(path: Path, first: list[str], sep: str, usecols) -> None:
    """A dense matrix (a row of ratings per user, as the course's files) would otherwise be
    read as (user, item, rating) from its first three numbers, every other column ignored."""
    if not first or usecols != (0, 1, 2):
        return
    fields = next(iter(split_lines(first, sep)))
    if len(fields) > DENSE_FIELDS and all(is_number(field) for field in fields):
        raise ValueError(
            f"{path}: its first line holds {len(fields):,} numbers, which reads as a dense "
            "matrix (one row per user, one column per item, 0 = missing), not as user, "
            "item, rating lines; load it with RatingsData.from_dense(np.loadtxt(path)) (the "
            "course's files: the data set 'course'), or pass usecols for a wide ratings file"
        )


# --- parsing: numpy's C reader for canonical integer ids, else line by line ----------------
