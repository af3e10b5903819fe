"""The ratings container every loader returns: ``RatingsData``.

A canonical CSR matrix (users x items, stored entries = observed ratings) with the original
user and item ids, the rating scale and, when the source has them, item titles, genres and
release years (``cfcore.data.attach_items`` adds them from an item file).
``to_dense`` and ``from_dense`` convert to and from the course's dense matrix, where 0
marks a missing rating."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import as_real_array, canonical_csr, check_real, check_scale
from ..engine.sparse import stored_rows
from .bad_lines import LoadReport


def index_dtype(largest: int) -> type:
    """int32 indices while they fit (half the memory of int64), else int64."""
    return np.int32 if largest < 2**31 else np.int64


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
    load_report: what load_ratings(..., on_bad_lines="skip"|"warn") left out of the file
        (a LoadReport), else None
    years: (n_items,) float release years, NaN where unknown, when the source has them
    The item fields (titles, genres, genre_names, years) and load_report are kept by
    with_matrix and so by every split.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    scale: tuple[float, float]
    titles: np.ndarray | None = None
    genres: np.ndarray | None = None
    genre_names: list[str] | None = None
    name: str = ""
    load_report: LoadReport | None = None
    years: np.ndarray | None = None

    def __post_init__(self):
        self.matrix = canonical_csr(self.matrix)
        n_users, n_items = self.matrix.shape
        self.user_ids = _check_ids(self.user_ids, n_users, "user_ids")
        self.item_ids = _check_ids(self.item_ids, n_items, "item_ids")
        self.scale = check_scale(self.scale)
        self._check_ratings_in_scale()
        if self.titles is not None:
            self.titles = _check_ids(self.titles, n_items, "titles")
        if self.genres is not None:
            self._check_genres()
        if self.years is not None:
            self._check_years()

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

    def _check_years(self) -> None:
        years = as_real_array(self.years, "years", "an (n_items,) array of release years")
        if years.shape != (self.n_items,):
            raise ValueError(
                f"years must have shape (n_items,) = ({self.n_items},), one per item, "
                f"got {years.shape}"
            )
        if np.isinf(years).any():
            raise ValueError(
                f"years holds an infinite value at item {np.flatnonzero(np.isinf(years))[0]}; "
                "write NaN for an unknown year"
            )
        self.years = years

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
        rows = stored_rows(X, X.indices.dtype)
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
        years=None,
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
        indptr = np.zeros(X.shape[0] + 1, dtype=index_dtype(X.size))
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
            years=years,
        )

    @classmethod
    def from_csr(cls, matrix, *, scale=None, name: str = "") -> RatingsData:
        """Ratings from a sparse matrix alone: ids 0..n-1, scale default (min, max) stored."""
        matrix = canonical_csr(matrix)
        if scale is None:
            scale = (matrix.data.min(), matrix.data.max()) if matrix.nnz else (0.0, 0.0)
        n_users, n_items = matrix.shape
        return cls(matrix, np.arange(n_users), np.arange(n_items), scale, name=name)

    def with_matrix(self, matrix, name: str | None = None) -> RatingsData:
        """The same users, items (titles, genres, years) and scale with other ratings (e.g. a
        training set)."""
        if getattr(matrix, "shape", None) != self.shape:
            raise ValueError(
                f"matrix must have the shape {self.shape} of these ratings, "
                f"got {getattr(matrix, 'shape', type(matrix).__name__)}"
            )
        return dataclasses.replace(self, matrix=matrix, name=self.name if name is None else name)


def _check_dense(X, missing: float) -> np.ndarray:
    if sp.issparse(X):
        raise TypeError("X is already sparse: build RatingsData(matrix, user_ids, ...) directly")
    check_real(X, "X")
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


def csr_from_indices(rows, cols, values, shape, dtype=np.float64, describe=None):
    """A canonical CSR matrix from (row, col, value) triples, refusing repeated pairs.

    rows, cols: (m,) integer indices; values: (m,). describe(k) says where triple k came
    from (e.g. "line 12"), for the error message. Stored zeros stay stored.
    """
    index = index_dtype(max(len(values), *shape))
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
