"""CSR plumbing: views of rows and values without copies, products in the fast order.

None of this is mathematics of the model; it is how the course modules' sums over observed
entries run on a ``scipy.sparse`` CSR matrix without densifying it or copying its arrays.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import is_sparse

#: rows of a CSR matrix squared at once by ``row_sq_norms``
_SQUARING_ROWS = 1 << 14


def stored_rows(X: sp.csr_matrix, dtype=np.intp) -> np.ndarray:
    """The row of every stored entry, in the order of X.data: (nnz,) array.

    np.repeat(arange(n), diff(indptr)): with X.indices, the (row, column) of each rating.
    """
    return np.repeat(np.arange(X.shape[0], dtype=dtype), np.diff(X.indptr))


def row_sq_norms(X) -> np.ndarray:
    """sum_i X_ui^2 for every row u: (n,) float64 array, for a dense array or a CSR matrix.

    A CSR matrix is squared a block of rows at a time, so that no copy of all its values is made.
    """
    if not is_sparse(X):
        return np.einsum("ui,ui->u", X, X, dtype=np.float64)
    n, d = X.shape
    ones = np.ones(d)
    norms = np.empty(n)
    for start in range(0, n, _SQUARING_ROWS):
        rows = csr_rows(X, start, min(start + _SQUARING_ROWS, n))
        norms[start : start + rows.shape[0]] = (
            with_data(rows, np.square(rows.data, dtype=float)) @ ones
        )
    return norms


def _compressed(kind, shape, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray):
    """A CSR or CSC matrix over exactly these arrays, never a copy of them.

    scipy copies an array that views less than half of a larger one when it builds a matrix
    from it (to free the rest); a block of users is such a view, so the arrays are attached
    after building an empty matrix of the right shape.
    """
    matrix = kind(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = (
        data,
        indices,
        indptr.astype(indices.dtype, copy=False),
    )
    return matrix


def with_data(X: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix with X's sparsity pattern (shared, not copied) and new stored values."""
    return _compressed(sp.csr_matrix, X.shape, data, X.indices, X.indptr)


def csr_rows(X: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows start:stop of a CSR matrix, sharing its values and column indices (no copy)."""
    first, last = X.indptr[start], X.indptr[stop]
    return _compressed(
        sp.csr_matrix,
        (stop - start, X.shape[1]),
        X.data[first:last],
        X.indices[first:last],
        X.indptr[start : stop + 1] - first,
    )


def transpose(X: sp.csr_matrix) -> sp.csr_matrix:
    """X^T as canonical CSR: items become rows, users their coordinates."""
    transposed = X.T.tocsr()
    transposed.sort_indices()
    return transposed


def weighted_sums(weights: np.ndarray, X) -> np.ndarray:
    """weights^T @ X: (K, d), sum_u weights_uj X_ui, for a dense array or a CSR matrix.

    weights: (n, K). A CSR matrix is multiplied as X^T @ weights with X^T the CSC matrix
    over X's own arrays (scipy's ``X.T`` would copy them when X is a block of a larger
    matrix); for a dense X, weights^T @ X is the order BLAS runs fastest.
    """
    if is_sparse(X):
        X_t = _compressed(sp.csc_matrix, X.shape[::-1], X.data, X.indices, X.indptr)
        return (X_t @ weights).T
    return weights.T @ X
