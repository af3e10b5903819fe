"""Rating data: verified loaders, any ratings file, a planted-cluster generator, splits.

The data itself is never shipped (its licences forbid redistribution): the loaders read it
from ``$CFCORE_DATA`` (or a folder you name), or download it into the user's cache, and
check every file's sha256 before use.

Every loader returns a ``RatingsData``: a canonical CSR matrix (users x items, stored
entries = observed ratings) with the original user and item ids, the rating scale and, when
the source has them, item titles and genres. ``to_dense`` and ``from_dense`` convert to and
from the course's dense matrix, where 0 marks a missing rating.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

#: sha256 of the course's text files (MITx 6.86x, "Collaborative Filtering via Gaussian Mixtures")
COURSE_FILES = {
    "netflix_incomplete": "7a81ae26f41725a5deeec079dceec27d06949e1b82795803d42ec68c0e00408c",
    "netflix_complete": "30c27318115235e50d6124ecbead6241d2376fc7c2116106834bf558d175dc35",
    "toy_data": "a558ed25342d216d432fc8fa80870ef5fca43f45aeebd9350c32529b39d492d7",
    "test_incomplete": "bef9922ca72b321f270c1c8e25e9b54bdac16102d8f1fdb8fd0539c732c3c37f",
    "test_complete": "0a5c494e5faf287544bae4af069d7557f50953116e64b39a80ec4be200e1772e",
    "test_solutions": "14ddb974dc3610dbdc50610f84d1c8534c32de5ac4d36816a463e63943a2234b",
}


def data_home() -> Path | None:
    """The folder named by ``$CFCORE_DATA``, or None when it is not set."""
    value = os.environ.get("CFCORE_DATA")
    return Path(value).expanduser() if value else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected_sha256: str) -> Path:
    """Return path after checking that the file's sha256 is the pinned one."""
    actual = sha256(path)
    if actual != expected_sha256:
        raise ValueError(
            f"{path} does not match its pinned checksum (sha256 {actual}, expected "
            f"{expected_sha256}): the file is corrupt or another version; replace it"
        )
    return path


def course_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the course files: data_dir, else ``$CFCORE_DATA/netflix``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    home = data_home()
    if home is None:
        raise FileNotFoundError(
            "the course files were not found: set CFCORE_DATA to a folder whose netflix/ "
            "subfolder holds netflix_incomplete.txt and the other course files, or pass data_dir"
        )
    return home / "netflix"


def course_file(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of a course file after its checksum was verified."""
    if name not in COURSE_FILES:
        raise ValueError(f"name must be one of {sorted(COURSE_FILES)}, got {name!r}")
    path = course_dir(data_dir) / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: put the course's {name}.txt there (set CFCORE_DATA to the "
            "folder that holds netflix/, or pass data_dir)"
        )
    return verified(path, COURSE_FILES[name])


def load_course(name: str, data_dir: str | os.PathLike | None = None) -> np.ndarray:
    """One of the course's matrices as a float array (0 = missing in the ratings).

    name: netflix_incomplete (1200, 1200), netflix_complete (1200, 1200), toy_data (250, 2),
    test_incomplete (20, 5) or test_complete (20, 5).
    """
    if name == "test_solutions":
        raise ValueError(
            "test_solutions is a text report, not a matrix; open course_file() instead"
        )
    return np.loadtxt(course_file(name, data_dir))


def course_available(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether every course matrix is present (checksums are checked when loading)."""
    try:
        folder = course_dir(data_dir)
    except FileNotFoundError:
        return False
    return all((folder / f"{name}.txt").is_file() for name in COURSE_FILES)


def make_blobs(
    n_per_cluster: int | list[int] = 100,
    centres=((0.0, 0.0), (6.0, 1.0), (2.0, 6.0)),
    spread: float | list[float] = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points around known centres, for the k-means and EM pictures (notebooks 01, 02, 04).

    Cluster c has n_per_cluster[c] points drawn from N(centres[c], spread[c]^2 I).
    Returns X: (n, d) array and labels: (n,) int array, the planted cluster of each point.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"centres must be a (K, d) array of cluster centres, got {centres.shape}")
    K = centres.shape[0]
    sizes = np.broadcast_to(np.asarray(n_per_cluster), (K,))
    spreads = np.broadcast_to(np.asarray(spread, dtype=np.float64), (K,))
    if (sizes < 1).any() or (spreads <= 0).any():
        raise ValueError("every cluster needs n_per_cluster >= 1 and spread > 0")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(K), sizes)
    X = centres[labels] + rng.normal(size=(labels.size, centres.shape[1])) * spreads[labels, None]
    return X, labels


# ----------------------------------------------------------------------------------------
# The ratings container


def _index_dtype(largest: int) -> type:
    """int32 indices while they fit (half the memory of int64), else int64."""
    return np.int32 if largest < 2**31 else np.int64


def _canonical_csr(matrix, name: str = "matrix") -> sp.csr_matrix:
    """matrix as a float CSR matrix with sorted indices, after refusing duplicates and NaN."""
    if not sp.issparse(matrix):
        raise TypeError(
            f"{name} must be a scipy.sparse matrix whose stored entries are the observed "
            f"ratings, got {type(matrix).__name__}; for the course's dense matrix (0 = missing) "
            "use RatingsData.from_dense"
        )
    if not (np.issubdtype(matrix.dtype, np.integer) or np.issubdtype(matrix.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {matrix.dtype}")
    dtype = np.float32 if matrix.dtype == np.float32 else np.float64
    stored = matrix.nnz
    X = sp.csr_matrix(matrix, dtype=dtype)  # COO input: duplicates are summed here
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts the column indices of every row
    if X.nnz != stored:
        raise ValueError(
            f"{name} stores {stored - X.nnz} duplicate (user, item) entries; store each rating once"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); it needs a user and an item")
    if not np.isfinite(X.data).all():
        raise ValueError(
            f"{name} stores {int((~np.isfinite(X.data)).sum())} NaN or infinite ratings; "
            "store only observed, finite ratings"
        )
    return X


def _check_scale(scale) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in scale)
    except (TypeError, ValueError):
        raise TypeError(
            f"scale must be (lowest, highest) possible rating, two numbers, got {scale!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"scale must be (lowest, highest) with lowest <= highest, got {scale!r}")
    return low, high


def _check_ids(ids, size: int, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.shape != (size,):
        raise ValueError(
            f"{name} must have shape ({size},), one per matrix row/column, got {ids.shape}"
        )
    return ids


@dataclass(repr=False, eq=False)
class RatingsData:
    """Ratings of n_users users on n_items items, with their ids and the rating scale.

    matrix: (n_users, n_items) canonical CSR matrix, stored entries = observed ratings
        (float64, or float32 when asked); a stored 0 is a rating of 0, not a missing entry
    user_ids: (n_users,) the original user ids (ints or strings), row u is user user_ids[u]
    item_ids: (n_items,) the original item ids
    scale: (lowest, highest) possible rating; every stored rating lies in it
    titles: (n_items,) str, when the source has them; genres: (n_items, n_genres) bool,
    with genre_names: n_genres names; name: what the data is, for printing
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    scale: tuple[float, float]
    titles: np.ndarray | None = None
    genres: np.ndarray | None = None
    genre_names: list[str] | None = None
    name: str = ""

    def __post_init__(self):
        self.matrix = _canonical_csr(self.matrix)
        n_users, n_items = self.matrix.shape
        self.user_ids = _check_ids(self.user_ids, n_users, "user_ids")
        self.item_ids = _check_ids(self.item_ids, n_items, "item_ids")
        self.scale = _check_scale(self.scale)
        self._check_ratings_in_scale()
        if self.titles is not None:
            self.titles = _check_ids(self.titles, n_items, "titles")
        if self.genres is not None:
            self._check_genres()

    def _check_ratings_in_scale(self) -> None:
        low, high = self.scale
        data = self.matrix.data
        if data.size and (data.min() < low or data.max() > high):
            raise ValueError(
                f"matrix stores ratings from {data.min():g} to {data.max():g}, outside the "
                f"scale {self.scale}; pass the scale the ratings are on"
            )

    def _check_genres(self) -> None:
        self.genres = np.asarray(self.genres, dtype=bool)
        names = self.genre_names
        if self.genres.ndim != 2 or self.genres.shape[0] != self.n_items:
            raise ValueError(
                f"genres must have shape (n_items, n_genres) = ({self.n_items}, ...), "
                f"got {self.genres.shape}"
            )
        if names is None or len(names) != self.genres.shape[1]:
            raise ValueError(
                f"genre_names must name the {self.genres.shape[1]} genre columns, got {names!r}"
            )
        self.genre_names = [str(genre) for genre in names]

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def n_ratings(self) -> int:
        return self.matrix.nnz

    @property
    def density(self) -> float:
        """Fraction of the n_users x n_items entries that hold a rating."""
        return self.n_ratings / (self.n_users * self.n_items)

    def __repr__(self) -> str:
        low, high = self.scale
        return (
            f"RatingsData({self.name!r}: {self.n_users:,} users x {self.n_items:,} items, "
            f"{self.n_ratings:,} ratings, density {self.density:.4g}, scale {low:g}-{high:g})"
        )

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, values), three (n_ratings,) arrays in row-major order.

        rows and cols are matrix indices (user_ids[rows] are the original ids); cols and
        values are read-only views of the matrix, rows is new.
        """
        X = self.matrix
        rows = np.repeat(np.arange(self.n_users, dtype=X.indices.dtype), np.diff(X.indptr))
        cols, values = X.indices.view(), X.data.view()
        cols.flags.writeable = values.flags.writeable = False
        return rows, cols, values

    def to_dense(self, missing: float = 0.0) -> np.ndarray:
        """The (n_users, n_items) dense matrix with `missing` where there is no rating.

        The default 0 is the course's format; it is refused when 0 is a possible rating on
        this scale (pass missing=np.nan, or a value outside the scale, instead).
        """
        low, high = self.scale
        if not np.isnan(missing) and low <= missing <= high:
            raise ValueError(
                f"missing={missing:g} is a possible rating on the scale {self.scale}, so a dense "
                "matrix could not tell it from a rating; pass missing=np.nan or a value outside "
                "the scale, or work with the CSR matrix"
            )
        dense = np.full(self.shape, missing, dtype=self.matrix.dtype)
        rows, cols, values = self.triples()
        dense[rows, cols] = values
        return dense

    @classmethod
    def from_dense(
        cls,
        X,
        *,
        missing: float = 0.0,
        scale=None,
        user_ids=None,
        item_ids=None,
        titles=None,
        genres=None,
        genre_names=None,
        name: str = "",
        dtype=np.float64,
    ) -> RatingsData:
        """Ratings from a dense (n_users, n_items) matrix where `missing` marks no rating.

        missing: 0 for the course's matrices (the default), or np.nan.
        scale: default (smallest, largest) observed rating. Ids default to 0..n-1.
        """
        X = _check_dense(X, missing)
        observed = np.isnan(X) if np.isnan(missing) else X == missing
        np.logical_not(observed, out=observed)
        if scale is None:
            if not observed.any():
                raise ValueError("X holds no rating, so its scale is unknown; pass scale")
            scale = (X[observed].min(), X[observed].max())
        indptr = np.zeros(X.shape[0] + 1, dtype=_index_dtype(X.size))
        np.cumsum(observed.sum(axis=1), out=indptr[1:])
        rows, cols = np.nonzero(observed)  # row-major: sorted columns within each row
        matrix = sp.csr_matrix(
            (X[rows, cols].astype(dtype), cols.astype(indptr.dtype), indptr), shape=X.shape
        )
        n_users, n_items = X.shape
        return cls(
            matrix,
            np.arange(n_users) if user_ids is None else user_ids,
            np.arange(n_items) if item_ids is None else item_ids,
            scale,
            titles=titles,
            genres=genres,
            genre_names=genre_names,
            name=name,
        )

    def with_matrix(self, matrix, name: str | None = None) -> RatingsData:
        """The same users, items, titles and scale with other ratings (e.g. a training set)."""
        if getattr(matrix, "shape", None) != self.shape:
            raise ValueError(
                f"matrix must have the shape {self.shape} of these ratings, "
                f"got {getattr(matrix, 'shape', type(matrix).__name__)}"
            )
        return dataclasses.replace(self, matrix=matrix, name=self.name if name is None else name)


def _check_dense(X, missing: float) -> np.ndarray:
    if sp.issparse(X):
        raise TypeError("X is already sparse: build RatingsData(matrix, user_ids, ...) directly")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"X must be a 2-D numeric array; converting it failed: {err}") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D (users x items) array, got shape {X.shape}")
    if not np.isnan(missing) and np.isnan(X).any():
        raise ValueError(
            f"X contains NaN while missing={missing:g} marks the missing ratings; pass "
            "missing=np.nan if NaN marks them"
        )
    if np.isinf(X).any():
        raise ValueError("X contains infinite values")
    return X


def _csr_from_indices(rows, cols, values, shape, dtype=np.float64, describe=None):
    """A canonical CSR matrix from (row, col, value) triples, refusing repeated pairs.

    rows, cols: (m,) integer indices; values: (m,). describe(k) says where triple k came
    from (e.g. "line 12"), for the error message. Stored zeros stay stored.
    """
    index = _index_dtype(max(len(values), *shape))
    triples = (np.asarray(values, dtype=dtype), (rows.astype(index), cols.astype(index)))
    matrix = sp.coo_matrix(triples, shape=shape).tocsr()  # O(m); sums repeated pairs
    if matrix.nnz != len(values):
        raise _duplicate_error(rows, cols, shape, describe)
    return matrix


def _duplicate_error(rows, cols, shape, describe) -> ValueError:
    """The error naming the earliest triple that repeats an earlier (row, col) pair."""
    keys = np.asarray(rows, dtype=np.int64) * shape[1] + cols
    order = np.argsort(keys, kind="stable")  # repeats stay in input order
    repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    at = repeated[np.argmin(order[repeated + 1])]
    first, second = order[at], order[at + 1]
    where = (
        f"{describe(first)} and {describe(second)}"
        if describe
        else f"entries {first} and {second} (row {rows[first]}, column {cols[first]})"
    )
    return ValueError(
        f"{repeated.size} duplicate (user, item) pair(s), the first at {where}; keep one "
        "rating per pair"
    )


# ----------------------------------------------------------------------------------------
# Any delimited ratings file: user, item, rating[, timestamp ...]

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
        low, high = _check_scale(scale)
        outside = np.flatnonzero((ratings < low) | (ratings > high))
        if outside.size:
            raise ValueError(
                f"{path}, {describe(outside[0])}: the rating {ratings[outside[0]]:g} lies "
                f"outside scale={scale}"
            )
    else:
        scale = (ratings.min(), ratings.max())
    shape = (user_ids.size, item_ids.size)
    matrix = _csr_from_indices(rows, cols, ratings, shape, dtype, describe)
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


# ----------------------------------------------------------------------------------------
# MovieLens 100K (GroupLens): 100,000 ratings 1-5 of 943 users on 1,682 movies

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
ML100K_BYTES = 4_924_029
#: the canonical train/test splits: u1..u5 (5-fold, 80/20), ua and ub (10 test ratings per user)
ML100K_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
#: sha256 of the files the loader reads, as extracted from ml-100k.zip
ML100K_FILES = {
    "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
}
#: where pooch unpacks the archive, inside its cache folder (the zip holds ml-100k/...)
_ML100K_UNPACKED = "ml-100k.zip.unzip"
#: the data sets whose licence notice was printed in this process
_NOTICES_SHOWN: set[str] = set()


@dataclass(repr=False, eq=False)
class MovieLens100K:
    """MovieLens 100K: all ratings and the canonical train/test folds.

    ratings: 943 users x 1,682 items, 100,000 ratings 1-5, with titles and 19 genres
    folds: "u1".."u5", "ua", "ub" -> (train, test), each with the shape, ids and titles of
        ratings (user u and item i are the same row and column everywhere)
    citation: the reference the licence asks you to cite; path: the folder read
    """

    ratings: RatingsData
    folds: dict[str, tuple[RatingsData, RatingsData]]
    citation: str = ""
    path: Path | None = None

    def __repr__(self) -> str:
        return f"MovieLens100K({self.ratings!r}, folds {list(self.folds)}, from {self.path})"


def _movielens_cache(cache_dir=None) -> Path:
    import pooch

    return Path(cache_dir) if cache_dir is not None else Path(pooch.os_cache("cfcore"))


def _has_movielens_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ML100K_FILES)


def movielens_100k_available(data_dir=None) -> bool:
    """Whether the extracted files are in data_dir (or $CFCORE_DATA/ml-100k): no download."""
    return any(_has_movielens_files(folder) for folder in _movielens_candidates(data_dir))


def _movielens_candidates(data_dir) -> list[Path]:
    """Folders that may hold the extracted files, in the order they are tried."""
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        return [folder, folder / "ml-100k"]
    home = data_home()
    return [] if home is None else [home / "ml-100k"]


def _where_to_put_movielens(data_dir) -> str:
    if data_dir is not None:
        place = f"{Path(data_dir).expanduser()}"
    elif data_home() is not None:
        place = f"{data_home() / 'ml-100k'} ($CFCORE_DATA/ml-100k)"
    else:
        place = "$CFCORE_DATA/ml-100k (set CFCORE_DATA to the folder that holds ml-100k/)"
    return (
        f"download {ML100K_URL} ({ML100K_BYTES:,} bytes, sha256 {ML100K_SHA256}) and unzip "
        f"it so that u.data, u.item and the other files are in {place}"
    )


def movielens_100k_dir(data_dir=None, *, download: bool = True) -> Path:
    """The folder holding the extracted MovieLens 100K files, downloading them if needed.

    Looks in data_dir (or data_dir/ml-100k) when given, else in $CFCORE_DATA/ml-100k, then
    in the download cache (pooch.os_cache("cfcore")); downloads into that cache when
    download=True and data_dir is None. Checksums are checked when the files are read.
    """
    for folder in _movielens_candidates(data_dir):
        if _has_movielens_files(folder):
            return folder
    if data_dir is not None:
        raise FileNotFoundError(
            f"MovieLens 100K is not in {Path(data_dir).expanduser()}: "
            + _where_to_put_movielens(data_dir)
        )
    unpacked = _movielens_cache() / _ML100K_UNPACKED / "ml-100k"
    if _has_movielens_files(unpacked):
        return unpacked
    if not download:
        raise FileNotFoundError(
            "MovieLens 100K was not found and download=False: " + _where_to_put_movielens(None)
        )
    return _fetch_movielens_100k()


def _fetch_movielens_100k(url: str = ML100K_URL, sha256: str = ML100K_SHA256, cache_dir=None):
    """Download the zip into the cache with pooch (checked against sha256) and unpack it.

    Returns the folder of the extracted files. url, sha256 and cache_dir are parameters so
    that tests can serve the archive from a local server.
    """
    import pooch

    cache = _movielens_cache(cache_dir)
    try:
        paths = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname="ml-100k.zip",
            path=cache,
            processor=pooch.Unzip(extract_dir=_ML100K_UNPACKED),
            progressbar=False,
        )
    except ValueError as err:  # pooch: the download's hash is not the pinned one
        raise ValueError(
            f"the download from {url} was rejected, nothing was kept: {err} Try again; if it "
            "persists, " + _where_to_put_movielens(None)
        ) from err
    except OSError as err:  # no network, refused connection, HTTP error (requests' errors)
        raise FileNotFoundError(
            f"MovieLens 100K could not be downloaded from {url} ({err}); "
            + _where_to_put_movielens(None)
        ) from err
    found = [Path(name).parent for name in paths if Path(name).name == "u.data"]
    if len(found) != 1:
        raise ValueError(f"{cache / 'ml-100k.zip'} does not hold exactly one u.data")
    return found[0]


def movielens_citation(readme: Path) -> str:
    """The paragraph after "please cite the following paper:" in the README, on one line."""
    text = Path(readme).read_text(encoding="latin-1")
    _, found, rest = text.partition("following paper:")
    paragraph = rest.strip().split("\n\n", 1)[0]
    if not found or not paragraph:
        raise ValueError(f"{readme} has no citation paragraph after 'following paper:'")
    return " ".join(paragraph.split())


def _show_notice_once(dataset: str, notice: str) -> None:
    """Print notice to stderr the first time `dataset` is loaded in this process."""
    if dataset not in _NOTICES_SHOWN:
        _NOTICES_SHOWN.add(dataset)
        print(notice, file=sys.stderr)


def _read_movielens_items(folder: Path):
    """item ids (n,), titles (n,) str and genres (n, 19) bool from u.item (Latin-1, '|')."""
    rows = [
        line.split("|")
        for line in (folder / "u.item").read_text(encoding="latin-1").splitlines()
        if line.strip()
    ]
    if any(len(row) != 24 for row in rows):
        raise ValueError(f"{folder / 'u.item'}: every line must have 24 '|'-separated fields")
    rows.sort(key=lambda row: int(row[0]))  # ids in increasing order, as np.unique gives them
    item_ids = np.array([int(row[0]) for row in rows])
    titles = np.array([row[1] for row in rows])
    genres = np.array([[flag == "1" for flag in row[5:]] for row in rows])
    return item_ids, titles, genres


def _read_movielens_genres(folder: Path) -> list[str]:
    """Genre names in column order, from u.genre ("name|index" lines)."""
    pairs = [
        line.rsplit("|", 1)
        for line in (folder / "u.genre").read_text(encoding="latin-1").splitlines()
        if line.strip()
    ]
    return [name for name, _ in sorted(pairs, key=lambda pair: int(pair[1]))]


def _read_movielens_table(path: Path) -> np.ndarray:
    """(m, 3) int64 user, item, rating of a tab-separated MovieLens file (timestamps dropped)."""
    return np.loadtxt(path, dtype=np.int64, delimiter="\t", usecols=(0, 1, 2), ndmin=2)


def _movielens_ratings(table: np.ndarray, path: Path, template: RatingsData) -> RatingsData:
    """The (user, item, rating) rows of table as ratings indexed like template."""
    indices = []
    for column, ids, what in ((0, template.user_ids, "user"), (1, template.item_ids, "item")):
        index = np.minimum(np.searchsorted(ids, table[:, column]), ids.size - 1)
        unknown = np.flatnonzero(ids[index] != table[:, column])
        if unknown.size:
            line = int(unknown[0]) + 1
            raise ValueError(f"{path}, line {line}: unknown {what} id {table[line - 1, column]}")
        indices.append(index)
    matrix = _csr_from_indices(
        *indices, table[:, 2], template.shape, describe=lambda k: f"{path} line {k + 1}"
    )
    return template.with_matrix(matrix, name=f"ml-100k {path.name}")


def load_movielens_100k(data_dir=None, *, download: bool = True) -> MovieLens100K:
    """MovieLens 100K with titles, genres and the canonical folds, every file sha256-checked.

    data_dir: the folder of the extracted files (u.data, u.item, ...) or its parent;
    default $CFCORE_DATA/ml-100k, then the download cache, then a download with pooch of
    ML100K_URL into pooch.os_cache("cfcore") when download=True. Without network and
    without the files, the error says where to put them. The licence forbids
    redistribution; the first load in a process prints the citation it asks for (stderr).
    """
    folder = movielens_100k_dir(data_dir, download=download)
    for name, digest in ML100K_FILES.items():
        verified(folder / name, digest)
    item_ids, titles, genres = _read_movielens_items(folder)
    table = _read_movielens_table(folder / "u.data")
    user_ids = np.unique(table[:, 0])
    template = RatingsData(
        sp.csr_matrix((user_ids.size, item_ids.size)),
        user_ids,
        item_ids,
        (1.0, 5.0),
        titles=titles,
        genres=genres,
        genre_names=_read_movielens_genres(folder),
        name="ml-100k",
    )
    ratings = template.with_matrix(_movielens_ratings(table, folder / "u.data", template).matrix)
    folds = {
        fold: tuple(
            _movielens_ratings(_read_movielens_table(path), path, template)
            for path in (folder / f"{fold}.base", folder / f"{fold}.test")
        )
        for fold in ML100K_FOLDS
    }
    citation = movielens_citation(folder / "README")
    _show_notice_once(
        "ml-100k",
        "MovieLens 100K, GroupLens Research, University of Minnesota: research use only, not "
        f"for redistribution. Publications using it must cite: {citation}",
    )
    return MovieLens100K(ratings, folds, citation=citation, path=folder)


# ----------------------------------------------------------------------------------------
# A planted-cluster generator, up to Netflix-Prize size

#: about this many ratings are generated at a time (a few tens of MB of working memory)
_RATINGS_PER_BLOCK = 1 << 20


@dataclass(repr=False, eq=False)
class PlantedClusters:
    """The ground truth of make_ratings.

    assignments: (n_users,) int, the cluster of every user
    means: (n_clusters, n_items), the mean rating of every item in every cluster
    p: (n_clusters,), the probability of each cluster
    noise: the standard deviation of a rating around its cluster mean (before rounding)
    """

    assignments: np.ndarray
    means: np.ndarray
    p: np.ndarray
    noise: float = 0.0

    def __repr__(self) -> str:
        K, d = self.means.shape
        return f"PlantedClusters({K} clusters over {d} items, p={np.round(self.p, 3)})"


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _check_positive(value, name: str) -> float:
    if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _cluster_weights(weights, n_clusters: int) -> np.ndarray:
    if weights is None:
        return np.full(n_clusters, 1.0 / n_clusters)
    p = np.asarray(weights, dtype=np.float64)
    if p.shape != (n_clusters,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise ValueError(
            f"weights must be {n_clusters} non-negative numbers (one per cluster), got {weights!r}"
        )
    return p / p.sum()


def _bernoulli_positions(rng: np.random.Generator, cells: int, density: float) -> np.ndarray:
    """Sorted positions in [0, cells) of the successes of `cells` Bernoulli(density) trials.

    The gaps between successive successes are Geometric(density), so the work is
    proportional to the number of successes, not of cells.
    """
    if density >= 1.0:
        return np.arange(cells, dtype=np.int64)
    expected = cells * density
    chunks, last = [], -1
    while last < cells:
        gaps = rng.geometric(density, size=int(expected + 6.0 * math.sqrt(expected) + 64))
        positions = np.cumsum(gaps)
        positions += last
        chunks.append(positions)
        last = int(positions[-1])
    positions = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return positions[: np.searchsorted(positions, cells)]


def _round_to_scale(values: np.ndarray, low: float, high: float, step: float) -> np.ndarray:
    """values rounded to the nearest of low, low + step, ..., high (clipped to the scale)."""
    values -= low
    values /= step
    np.rint(values, out=values)
    values *= step
    values += low
    return np.clip(values, low, high, out=values)


def _planted_block(rng, clusters, n_items, density, truth: PlantedClusters, scale, step):
    """Ratings of a block of users: per-user counts (b,), columns and values, row-major."""
    positions = _bernoulli_positions(rng, clusters.size * n_items, density)
    row_starts = np.arange(clusters.size + 1, dtype=np.int64) * n_items
    counts = np.diff(np.searchsorted(positions, row_starts))
    positions -= np.repeat(row_starts[:-1], counts)  # now the column of every rating
    values = truth.means[np.repeat(clusters, counts), positions]
    values += truth.noise * rng.standard_normal(values.size)
    return counts, positions, _round_to_scale(values, *scale, step)


def _planted_truth(rng, n_users, n_items, n_clusters, weights, scale, noise, separation):
    """Cluster weights, assignments and item means of the planted model.

    mean_ki = clip(centre + b_i + c_ki, low, high): b_i ~ N(0, (0.15 width)^2) makes some
    items better liked by everyone, c_ki ~ N(0, separation^2) separates the clusters.
    """
    low, high = scale
    p = _cluster_weights(weights, n_clusters)
    assignments = rng.choice(n_clusters, size=n_users, p=p)
    item_effect = rng.normal(0.0, 0.15 * (high - low), size=n_items)
    cluster_effect = rng.normal(0.0, separation, size=(n_clusters, n_items))
    means = np.clip((low + high) / 2 + item_effect + cluster_effect, low, high)
    return PlantedClusters(assignments, means, p, noise)


def make_ratings(
    n_users: int,
    n_items: int,
    n_clusters: int,
    density: float,
    seed: int = 0,
    *,
    scale=(1, 5),
    step: float = 1.0,
    noise: float | None = None,
    separation: float | None = None,
    weights=None,
    dtype=np.float64,
    name: str | None = None,
) -> tuple[RatingsData, PlantedClusters]:
    """Ratings with planted user clusters, streamed into CSR block by block.

    Each user u belongs to cluster z_u ~ Categorical(p) (p = weights, default uniform). Each
    entry (u, i) is observed independently with probability `density` (so density is the
    expected fraction of observed entries and a user's count is Binomial(n_items, density)),
    and its rating is r_ui = round_to_step(means[z_u, i] + noise * N(0, 1)), clipped to the
    scale. noise defaults to 0.2 x (high - low), separation (the spread of the cluster means
    around an item's mean) to 0.25 x (high - low); step=0.5 gives half stars.

    The matrix is built in blocks of users, never as a dense users x items array: memory
    is the CSR result (12 bytes a rating with float64, 8 with dtype=np.float32) plus about
    100 MB of working blocks. Netflix-Prize size (480,189 x 17,770, density 0.01178) is
    ~100M ratings. The same arguments and seed give the same matrix.
    Returns (RatingsData, PlantedClusters).
    """
    n_users, n_items = _check_count(n_users, "n_users"), _check_count(n_items, "n_items")
    n_clusters = _check_count(n_clusters, "n_clusters")
    if not (isinstance(density, (int, float, np.number)) and 0 < density <= 1):
        raise ValueError(f"density must be a fraction in (0, 1], got {density!r}")
    low, high = scale = _check_scale(scale)
    step = _check_positive(step, "step")
    if low == high or not math.isclose(
        round((high - low) / step) * step, high - low, rel_tol=1e-9, abs_tol=1e-12
    ):
        raise ValueError(f"scale={scale} must span a whole number of steps of size {step}")
    noise = 0.2 * (high - low) if noise is None else float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    separation = (
        0.25 * (high - low) if separation is None else _check_positive(separation, "separation")
    )
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}")

    def block_rng(index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))

    truth = _planted_truth(
        block_rng(0), n_users, n_items, n_clusters, weights, scale, noise, separation
    )
    matrix = _stream_planted(truth, n_users, n_items, density, scale, step, dtype, block_rng)
    name = f"planted {n_users} x {n_items}, K={n_clusters}" if name is None else name
    data = RatingsData(matrix, np.arange(n_users), np.arange(n_items), scale, name=name)
    return data, truth


def _planted_capacity(cells: int, density: float) -> int:
    """Room for the Binomial(cells, density) ratings: mean + 8 sd, grown in the rare miss."""
    expected = cells * density
    return min(cells, int(expected + 8.0 * math.sqrt(expected) + 1024))


def _stream_planted(truth, n_users, n_items, density, scale, step, dtype, block_rng):
    """The CSR matrix of make_ratings, filled block by block into preallocated arrays."""
    capacity = _planted_capacity(n_users * n_items, density)
    index = _index_dtype(max(capacity, n_items) * 2)
    data, indices = np.empty(capacity, dtype=dtype), np.empty(capacity, dtype=index)
    indptr = np.zeros(n_users + 1, dtype=index)
    block_users = max(1, int(_RATINGS_PER_BLOCK / (n_items * density)))
    filled = 0
    for block, start in enumerate(range(0, n_users, block_users), start=1):
        stop = min(start + block_users, n_users)
        counts, cols, values = _planted_block(
            block_rng(block), truth.assignments[start:stop], n_items, density, truth, scale, step
        )
        if filled + cols.size > data.size:
            grow = max(filled + cols.size, int(1.25 * data.size))
            data, indices = np.resize(data, grow), np.resize(indices, grow)
        data[filled : filled + cols.size] = values
        indices[filled : filled + cols.size] = cols
        np.cumsum(counts, out=indptr[start + 1 : stop + 1])
        indptr[start + 1 : stop + 1] += filled
        filled += cols.size
    return sp.csr_matrix(
        (data[:filled], indices[:filled], indptr), shape=(n_users, n_items), copy=False
    )


# ----------------------------------------------------------------------------------------
# Train/test splits by held-out ratings per user

#: users are shuffled in groups of about this many ratings (bounded working memory)
_RATINGS_PER_SHUFFLE = 1 << 22


def _random_ranks(X: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random order of every user's ratings: (nnz,) rank 0..n_u - 1 in its row.

    Sorting the keys (row << 32) + random 32-bit integer shuffles within rows exactly;
    users are taken in groups of about _RATINGS_PER_SHUFFLE ratings.
    """
    counts = np.diff(X.indptr)
    ranks = np.empty(X.nnz, dtype=X.indptr.dtype)
    row = 0
    while row < X.shape[0]:
        end = int(np.searchsorted(X.indptr, X.indptr[row] + _RATINGS_PER_SHUFFLE, "right")) - 1
        end = min(max(end, row + 1), X.shape[0])
        first, last = int(X.indptr[row]), int(X.indptr[end])
        local_rows = np.repeat(np.arange(end - row, dtype=np.int64), counts[row:end])
        keys = (local_rows << 32) + rng.integers(0, 1 << 32, size=last - first, dtype=np.int64)
        order = np.argsort(keys)
        row_starts = np.repeat(X.indptr[row:end].astype(np.int64) - first, counts[row:end])
        ranks[first + order] = np.arange(last - first) - row_starts
        row = end
    return ranks


def _split_by(data: RatingsData, in_test: np.ndarray, names: tuple[str, str]):
    """(train, test): the ratings where in_test (nnz,) is False, and where it is True.

    Both keep data's shape, ids and titles; indptr comes from one running count of in_test.
    """
    X = data.matrix
    before = np.zeros(X.nnz + 1, dtype=X.indptr.dtype)
    np.cumsum(in_test, out=before[1:])
    test_indptr = before[X.indptr]
    del before
    parts = []
    for keep, indptr in ((~in_test, X.indptr - test_indptr), (in_test, test_indptr)):
        matrix = sp.csr_matrix((X.data[keep], X.indices[keep], indptr), X.shape, copy=False)
        parts.append(matrix)
    return tuple(
        data.with_matrix(matrix, name=f"{data.name} {name}".strip())
        for matrix, name in zip(parts, names, strict=True)
    )


def _check_ratings_data(data) -> RatingsData:
    if not isinstance(data, RatingsData):
        raise TypeError(
            f"data must be a RatingsData (see load_ratings, RatingsData.from_dense), "
            f"got {type(data).__name__}"
        )
    return data


def train_test_split(
    data: RatingsData, test_fraction: float = 0.2, seed: int = 0, *, min_train_per_user: int = 1
) -> tuple[RatingsData, RatingsData]:
    """Hold out a random test_fraction of every user's ratings: (train, test).

    User u with n_u ratings gives min(round(test_fraction * n_u), n_u - min_train_per_user)
    of them (chosen uniformly, seeded) to test and keeps the rest in train. The two are
    disjoint, their union is data, and both keep data's shape, ids and titles.
    """
    data = _check_ratings_data(data)
    if not (isinstance(test_fraction, (int, float, np.number)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be a fraction in (0, 1), got {test_fraction!r}")
    if (
        isinstance(min_train_per_user, bool)
        or not isinstance(min_train_per_user, (int, np.integer))
        or min_train_per_user < 0
    ):
        raise ValueError(f"min_train_per_user must be an integer >= 0, got {min_train_per_user!r}")
    counts = np.diff(data.matrix.indptr)
    n_test = np.minimum(
        np.floor(test_fraction * counts + 0.5).astype(counts.dtype),
        np.maximum(counts - min_train_per_user, 0),
    )
    in_test = _random_ranks(data.matrix, np.random.default_rng(seed)) < np.repeat(n_test, counts)
    return _split_by(data, in_test, ("train", "test"))


def k_fold(data: RatingsData, k: int = 5, seed: int = 0) -> list[tuple[RatingsData, RatingsData]]:
    """k (train, test) pairs whose test sets partition data, split within every user.

    Each user's ratings are shuffled (seeded) and dealt round-robin to the k folds from a
    random starting fold, so every user has n_u // k or n_u // k + 1 ratings in each test
    set. Train is everything outside the test set.
    """
    data = _check_ratings_data(data)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    rng = np.random.default_rng(seed)
    counts = np.diff(data.matrix.indptr)
    fold = _random_ranks(data.matrix, rng)
    fold += np.repeat(rng.integers(0, k, size=data.n_users), counts)
    fold %= k
    return [
        _split_by(data, fold == f, (f"train {f + 1}/{k}", f"test {f + 1}/{k}")) for f in range(k)
    ]
