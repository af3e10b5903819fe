"""What callers pass a ``LiveModel``, checked and parsed: indices, ratings and their values,
mappings {col: value}, batches of ratings, a new item's features and counts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..._validation import canonical_csr, is_sparse
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
    if indices.ndim > 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {indices.shape}")
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
    if any(value is None for value in np.ravel(np.asarray(values, dtype=object))):
        raise TypeError(f"{name} must be numbers (ratings), got None")
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(rows, cols, values, how many users the model has after the batch).

    A matrix's rows are the users after it; arrays may name at most len(rows) new users
    (rows up to n_users + len(rows) - 1), so that a mistyped index cannot add thousands.
    """
    if is_sparse(ratings):
        matrix = canonical_csr(ratings, "ratings")  # refuses a pair stored twice
        if matrix.shape[1] != n_items or matrix.shape[0] < n_users:
            raise ValueError(
                f"ratings: a matrix must have the model's {n_items} columns and at "
                f"least its {n_users} rows, got shape {matrix.shape}"
            )
        rows, cols, values = stored_rows(matrix), matrix.indices, matrix.data
        users_after = matrix.shape[0]
    else:
        try:
            rows, cols, values = ratings
        except (TypeError, ValueError) as err:
            raise TypeError("ratings must be (rows, cols, values) arrays or a CSR matrix") from err
        users_after = None
    if not np.shape(rows) == np.shape(cols) == np.shape(values) or np.ndim(rows) != 1:
        raise ValueError("ratings: rows, cols and values must be 1-D arrays of one length")
    rows = check_indices(rows, users_after or n_users + len(rows), "rows")
    cols = check_indices(cols, n_items, "cols")
    values = check_values(values, cols, "values", scale)
    pairs = rows.astype(np.int64) * n_items + cols
    if np.unique(pairs).size != pairs.size:
        raise ValueError("ratings names a (row, col) pair twice; give one rating per pair")
    if users_after is None:
        users_after = max(n_users, int(rows.max()) + 1 if rows.size else 0)
    return rows, cols, values, users_after


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
