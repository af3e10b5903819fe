"""The undo journal (``Journal``: every write saves what it overwrites first), the growth of
arrays with spare room (``with_room``) and the ratings stored by row (``Rows``)."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import scipy.sparse as sp

# -- undo ------------------------------------------------------------------------------------


class Journal:
    """What one call overwrote, so that ``restore`` puts the state back bit for bit.

    Every write saves first: ``keep`` an attribute about to be replaced, ``keep_item`` a
    list element, ``keep_rows`` the rows of an array about to be written in place.
    """

    _serials = itertools.count()

    def __init__(self):
        self._saved = []
        self.serial = next(Journal._serials)  # which call this is, unique in the process

    def keep(self, owner, name: str) -> None:
        self._saved.append((setattr, owner, name, getattr(owner, name)))

    def keep_item(self, container, key) -> None:
        self._saved.append((operator.setitem, container, key, container[key]))

    def keep_rows(self, array: np.ndarray, index, rows=None) -> None:
        """rows: array[index] as it is now, if the caller already holds a copy of it."""
        rows = array[index].copy() if rows is None else rows
        self._saved.append((operator.setitem, array, index, rows))

    def restore(self) -> None:
        for put, target, key, old in reversed(self._saved):
            put(target, key, old)


def with_room(array: np.ndarray, size: int) -> np.ndarray:
    """array itself if it has at least size rows (axis 0), else a copy with twice the room."""
    if array.shape[0] >= size:
        return array
    grown = np.zeros((2 * size, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


# -- the ratings, by row ---------------------------------------------------------------------


class Rows:
    """A ragged ratings matrix: for every row, (indices, values), indices sorted."""

    def __init__(self, matrix: sp.csr_matrix):
        indptr = matrix.indptr
        self.rows = [
            (matrix.indices[a:b].astype(np.intp), matrix.data[a:b].astype(np.float64))
            for a, b in zip(indptr[:-1], indptr[1:], strict=True)
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows[r]

    def append(self, journal: Journal) -> None:
        journal.keep(self, "rows")
        self.rows = [*self.rows, (np.zeros(0, np.intp), np.zeros(0))]

    def set(self, r: int, keys: np.ndarray, values: np.ndarray, journal: Journal) -> None:
        """Add or replace the ratings of row r at keys (sorted, distinct) with values."""
        indices, old = self.rows[r]
        at = np.searchsorted(indices, keys)
        present = at < indices.size
        present[present] = indices[at[present]] == keys[present]
        merged = old.copy()
        merged[at[present]] = values[present]
        new = ~present
        journal.keep_item(self.rows, r)
        self.rows[r] = (
            np.insert(indices, at[new], keys[new]),
            np.insert(merged, at[new], values[new]),
        )
