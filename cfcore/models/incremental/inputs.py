"""What callers pass a ``LiveModel``, checked and parsed: indices, ratings and their values,
mappings {col: value}, batches of ratings, a new item's features and counts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from ..._validation import is_sparse
from ...engine import stored_rows

# -- indices ---------------------------------------------------------------------------------


def check_index(index, size: int, name: str, how: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise TypeError(f"{name} must be an integer index, got {index!r}")
    if not 0 <= index < size:
        raise ValueError(f"{name} must be in [0, {size}), got {index}; {how} makes a new one")
    return int(index)


def check_indices(indices, size: int, name: str) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.size and not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{name} must be integer indices, got dtype {indices.dtype}")
    indices = indices.astype(np.intp).ravel()
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise ValueError(f"{name} must lie in [0, {size}), got [{indices.min()}, {indices.max()}]")
    return indices


def check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


# -- ratings ---------------------------------------------------------------------------------


def check_values(values: np.ndarray, cols: np.ndarray, name: str, scale) -> np.ndarray:
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numbers (ratings), got {values!r}") from err
    low, high = scale
    outside = ~np.isfinite(values) | (values < low) | (values > high)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{name} must be finite ratings within the model's scale {low:g}-{high:g}, got "
            f"{values[k]:g} for column {cols[k]}"
        )
    return values


def check_ratings(ratings, n_items: int, scale) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(ratings, Mapping):
        kind = type(ratings).__name__
        raise TypeError(f"ratings must be a mapping {{col: value}}, got a {kind}")
    if not ratings:
        raise ValueError("ratings is empty: give at least one {col: value}")
    cols = np.array(
        [check_index(col, n_items, "col", "add_item()") for col in ratings],
        dtype=np.intp,
    )
    values = check_values(list(ratings.values()), cols, "value", scale)
    order = np.argsort(cols)
    return cols[order], values[order]


def check_batch(
    ratings, n_users: int, n_items: int, scale
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if is_sparse(ratings):
        matrix = sp.csr_matrix(ratings)
        if matrix.shape[1] != n_items or matrix.shape[0] < n_users:
            raise ValueError(
                f"ratings: a matrix must have the model's {n_items} columns and at "
                f"least its {n_users} rows, got shape {matrix.shape}"
            )
        matrix.sum_duplicates()
        rows, cols, values = stored_rows(matrix), matrix.indices, matrix.data
    else:
        try:
            rows, cols, values = ratings
        except (TypeError, ValueError) as err:
            raise TypeError("ratings must be (rows, cols, values) arrays or a CSR matrix") from err
    if not np.shape(rows) == np.shape(cols) == np.shape(values) or np.ndim(rows) != 1:
        raise ValueError("ratings: rows, cols and values must be 1-D arrays of one length")
    rows = check_indices(rows, n_users + len(rows), "rows")
    cols = check_indices(cols, n_items, "cols")
    values = check_values(values, cols, "values", scale)
    pairs = rows.astype(np.int64) * n_items + cols
    if np.unique(pairs).size != pairs.size:
        raise ValueError("ratings names a (row, col) pair twice; give one rating per pair")
    return rows, cols, values


# -- a new item ------------------------------------------------------------------------------


def check_features(features, known):
    """A new item's features against known, the model's (d, p) content features (None but
    for the hybrid)."""
    if known is None:
        if features is not None:
            raise ValueError("features: only a HybridMixture's items have content features")
        return None
    p = known.shape[1]
    if features is None:
        raise ValueError(f"features: a HybridMixture's new item needs its {p} content features")
    features = np.asarray(features, dtype=np.float64)
    if features.shape != (p,) or not np.isfinite(features).all():
        raise ValueError(f"features must be {p} finite numbers, got shape {features.shape}")
    return features
