"""Input checks shared by every public function.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument, says what is
wrong and what to do, so that bad input never surfaces as a NaN or as a traceback from deep
inside numpy. The numeric core calls these once per public call, never inside its loops.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp


def is_sparse(X: Any) -> bool:
    return sp.issparse(X)


def _first_bad_entry(bad: np.ndarray) -> str:
    row, col = np.argwhere(bad)[0]
    return f"{int(bad.sum())} entries, the first at row {row}, column {col}"


def check_matrix(
    X: Any,
    name: str = "X",
    *,
    ratings: bool,
    allow_sparse: bool,
    allow_negative_sparse: bool = False,
):
    """Return X as a float64 ndarray, or as a canonical float CSR matrix, after checking it.

    ratings=True means the course's rating format: entries >= 0, 0 = missing (dense), or
    stored entries = observed ratings (sparse). ratings=False means complete data (any real).
    allow_negative_sparse=True lets a sparse X store negative values (e.g. residuals after
    biases); a dense X keeps the course format, where 0 means missing and nothing is negative.
    """
    if is_sparse(X):
        if not allow_sparse:
            raise TypeError(
                f"{name} is a scipy.sparse matrix, but this function needs complete data as a "
                "dense array; for ratings with missing entries use cfcore.em"
            )
        X = sp.csr_matrix(X, dtype=np.float64 if X.dtype != np.float32 else np.float32)
        if not X.has_canonical_format:
            canonical = X.copy()
            canonical.sum_duplicates()  # also sorts the column indices of each row
            if canonical.nnz != X.nnz:
                raise ValueError(
                    f"{name} stores {X.nnz - canonical.nnz} duplicate (row, column) entries; "
                    "store each rating once"
                )
            X = canonical
        data = X.data
        if not np.isfinite(data).all():
            raise ValueError(
                f"{name} stores {int((~np.isfinite(data)).sum())} NaN or infinite ratings; "
                "a sparse ratings matrix stores only observed, finite ratings"
            )
        if ratings and not allow_negative_sparse and (data < 0).any():
            raise ValueError(
                f"{name} stores {int((data < 0).sum())} negative ratings; ratings must be >= 0 "
                "(shift the rating scale so that every rating is non-negative)"
            )
        _check_shape(X.shape, name)
        return X

    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(X).__name__}")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a 2-D numeric array or a scipy.sparse matrix; "
            f"converting it to float failed: {err}"
        ) from None
    if X.ndim != 2:
        hint = " (a single user is X[None, :])" if X.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (rows x columns), got shape {X.shape}{hint}")
    _check_shape(X.shape, name)
    finite = np.isfinite(X)
    if not finite.all():
        missing_hint = (
            " (the course format codes a missing rating as 0, not NaN)" if ratings else ""
        )
        raise ValueError(
            f"{name} contains NaN or infinite values at {_first_bad_entry(~finite)}{missing_hint}"
        )
    if ratings and (X < 0).any():
        raise ValueError(
            f"{name} has negative ratings at {_first_bad_entry(X < 0)}; ratings must be >= 0 "
            "with 0 meaning missing (shift the rating scale so that every rating is positive)"
        )
    return X


def _check_shape(shape: tuple[int, int], name: str) -> None:
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one row and column")


def check_n_components(K: Any, n: int, name: str = "K") -> int:
    if isinstance(K, bool) or not isinstance(K, numbers.Integral):
        raise TypeError(f"{name} must be an integer number of components, got {K!r}")
    if not 1 <= K <= n:
        raise ValueError(f"{name} must be between 1 and the number of rows of X ({n}), got {K}")
    return int(K)


def check_mixture(mixture: Any, d: int, name: str = "mixture"):
    """Check a GaussianMixture (mu (K, d), var (K,), p (K,)) against data with d columns."""
    from .common import GaussianMixture

    try:
        mu, var, p = mixture
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a GaussianMixture(mu, var, p), got {type(mixture).__name__}"
        ) from None
    mu, var, p = (np.asarray(a, dtype=np.float64) for a in (mu, var, p))
    if mu.ndim != 2:
        raise ValueError(f"{name}.mu must be 2-D (K, d), got shape {mu.shape}")
    K = mu.shape[0]
    if mu.shape[1] != d:
        raise ValueError(
            f"{name}.mu has {mu.shape[1]} columns but X has {d}; "
            "the mixture was fitted on data of another width"
        )
    for field, value in (("var", var), ("p", p)):
        if value.shape != (K,):
            raise ValueError(
                f"{name}.{field} must have shape ({K},) to match mu, got {value.shape}"
            )
    for field, value in (("mu", mu), ("var", var), ("p", p)):
        if not np.isfinite(value).all():
            raise ValueError(f"{name}.{field} contains NaN or infinite values")
    if (var <= 0).any():
        raise ValueError(f"{name}.var must be positive, got {var}")
    if (p < 0).any() or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}.p must be non-negative weights summing to 1, got {p}")
    return GaussianMixture(mu, var, p)


def check_posterior(post: Any, n: int, K: int | None = None, name: str = "post") -> np.ndarray:
    """Check responsibilities: (n, K) finite and non-negative; K=None takes K from post."""
    post = np.asarray(post, dtype=np.float64)
    expected = (n, post.shape[1] if K is None and post.ndim == 2 else K)
    if post.shape != expected:
        raise ValueError(f"{name} must have shape (n, K) = {expected}, got {post.shape}")
    if not np.isfinite(post).all() or (post < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative responsibilities")
    return post


def check_pairs(rows, cols, shape, name: str = "rows, cols") -> tuple[np.ndarray, np.ndarray]:
    """rows, cols as equal-length 1-D intp arrays of valid indices into a matrix of shape."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    if rows.ndim != 1 or rows.shape != cols.shape:
        raise ValueError(
            f"{name} must be two 1-D arrays of equal length, got shapes {rows.shape}, {cols.shape}"
        )
    for label, index, size in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
        if index.size and not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"{label} must be integers (indices), got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{label} must lie in [0, {size}), got [{index.min()}, {index.max()}]")
    return rows.astype(np.intp), cols.astype(np.intp)
