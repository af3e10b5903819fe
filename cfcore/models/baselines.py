"""The baselines every model is shown beside: global mean, user mean, item mean, biases.

Each is a ``RatingModel``: ``fit(train)`` on a CSR ratings matrix (users x items,
stored entries = observed ratings), then ``predict(rows, cols)`` for any (user, item) pairs.
All of them work on the stored ratings with sparse matrix products and ``np.bincount``; none
loops over users or items in Python.

The regularised biases model (notebook 06 derives it) is

    x_ui ~ m + b_u + c_i,   minimise  sum_{(u,i) observed} (x_ui - m - b_u - c_i)^2
                                      + reg_user sum_u b_u^2 + reg_item sum_i c_i^2,

with m the mean training rating. The objective is a strictly convex quadratic, so its
minimiser is unique; setting its gradient to zero gives, for every user and item,

    (reg_user + |C_u|) b_u + sum_{i in C_u} c_i = sum_{i in C_u} (x_ui - m),
    (reg_item + |U_i|) c_i + sum_{u in U_i} b_u = sum_{u in U_i} (x_ui - m).

Solving the first for b_u with c fixed, and the second for c_i with b fixed, gives the
alternating closed forms of scikit-surprise's BaselineOnly (Koren 2010, section 2.1), whose
defaults reg_user = 15 and reg_item = 10 are used here. Alternating converges slowly when
the ratings are dense (shifting every b_u up and every c_i down by the same t barely changes
the fit), so ``fit_biases`` solves the same linear system by preconditioned conjugate
gradients, to 1e-12 relative, with sparse products instead of loops.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._validation import check_non_negative
from ..engine import stored_rows
from .base import RatingModel, training_ratings


class Biases(NamedTuple):
    """m + b_u + c_i: the mean training rating m, user offsets b (n,), item offsets c (d,)."""

    mean: float
    user: np.ndarray
    item: np.ndarray

    def predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """m + b_u + c_i at the pairs (rows[t], cols[t]): (m,) array."""
        return self.mean + self.user[rows] + self.item[cols]

    def residuals(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """x_ui - m - b_u - c_i at X's stored entries, in a CSR matrix with X's pattern."""
        rows, cols = stored_pairs(X)
        return sp.csr_matrix(
            (X.data - self.predict(rows, cols), X.indices, X.indptr), shape=X.shape
        )


def stored_pairs(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of X's stored entries, in the order of X.data (explicit zeros included)."""
    return stored_rows(X), X.indices.astype(np.intp)


def fit_biases(
    X,
    reg_user: float = 15.0,
    reg_item: float = 10.0,
    *,
    item_prior=None,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> Biases:
    """Regularised user and item biases: the minimiser of the module docstring's objective.

    Solves its normal equations (module docstring) by scipy's conjugate gradients,
    preconditioned with their diagonal, reg + counts: the same system the alternating closed
    forms solve, without their slow creep along b_u + t, c_i - t when the ratings are dense.
    Stops when the residual norm is below tol times the norm of the right-hand side.
    X: (n, d) CSR ratings (or dense, 0 = missing). A user or item without ratings gets
    offset 0 (with regularisation 0 its equation is 0 = 0 and is left out).
    item_prior: (d,) prior means g_i of the item offsets, replacing the penalty
    reg_item c_i^2 by reg_item (c_i - g_i)^2, so an item without ratings gets c_i = g_i
    (the hybrid model's content prior); its normal equation gains reg_item g_i on the right.
    None is g = 0, the objective above.
    """
    from scipy.sparse.linalg import LinearOperator, cg  # here: importing cfcore stays light

    X, _ = training_ratings(X)
    reg_user = check_non_negative(reg_user, "reg_user")
    reg_item = check_non_negative(reg_item, "reg_item")
    n, d = X.shape
    rows, cols = stored_pairs(X)
    mean = float(X.data.mean())
    centred = X.data - mean
    M = sp.csr_matrix((np.ones(X.nnz), (rows, cols)), shape=(n, d))  # observed indicator
    diagonal = np.r_[
        reg_user + np.bincount(rows, minlength=n), reg_item + np.bincount(cols, minlength=d)
    ].astype(np.float64)

    def normal_matrix_times(theta):  # (A^T A + Lambda) theta, A the design of m + b_u + c_i
        b, c = theta[:n], theta[n:]
        return diagonal * theta + np.r_[M @ c, M.T @ b]

    item_rhs = np.bincount(cols, centred, d)
    if item_prior is not None:
        item_rhs = item_rhs + reg_item * _check_item_prior(item_prior, d)
    rhs = np.r_[np.bincount(rows, centred, n), item_rhs]
    inverse_diagonal = 1.0 / np.where(diagonal > 0, diagonal, 1.0)
    shape = (n + d, n + d)
    theta, info = cg(
        LinearOperator(shape, matvec=normal_matrix_times, dtype=np.float64),
        rhs,
        rtol=tol,
        atol=0.0,
        maxiter=max_iter,
        M=LinearOperator(shape, matvec=lambda r: inverse_diagonal * r, dtype=np.float64),
    )
    if info > 0:
        raise RuntimeError(
            f"conjugate gradients did not reach tol={tol} in {max_iter} iterations; "
            "raise max_iter or the regularisation"
        )
    return Biases(mean, theta[:n], theta[n:])


def _check_item_prior(item_prior, d: int) -> np.ndarray:
    item_prior = np.asarray(item_prior, dtype=np.float64)
    if item_prior.shape != (d,) or not np.isfinite(item_prior).all():
        raise ValueError(
            f"item_prior must be {d} finite prior means, one per item, got shape {item_prior.shape}"
        )
    return item_prior


class GlobalMean(RatingModel):
    """Every prediction is the mean training rating."""

    name = "global-mean"

    def _fit(self, X: sp.csr_matrix) -> None:
        self.mean_ = float(X.data.mean())

    def _predict(self, rows, cols):
        return np.full(len(rows), self.mean_)


def _axis_means(X: sp.csr_matrix, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean rating of every row (axis=1) or column (axis=0) and how many ratings it has."""
    rows, cols = stored_pairs(X)
    index = rows if axis == 1 else cols
    size = X.shape[0] if axis == 1 else X.shape[1]
    counts = np.bincount(index, minlength=size).astype(np.float64)
    sums = np.bincount(index, X.data, minlength=size)
    return sums / np.maximum(counts, 1.0), counts


class UserMean(RatingModel):
    """The user's mean training rating; a user without ratings gets the global mean."""

    name = "user-mean"

    def _fit(self, X):
        means, counts = _axis_means(X, axis=1)
        self.user_means_ = np.where(counts > 0, means, X.data.mean())

    def _predict(self, rows, cols):
        return self.user_means_[rows]


class ItemMean(RatingModel):
    """The item's mean training rating; an item without ratings gets the global mean."""

    name = "item-mean"

    def _fit(self, X):
        means, counts = _axis_means(X, axis=0)
        self.item_means_ = np.where(counts > 0, means, X.data.mean())

    def _predict(self, rows, cols):
        return self.item_means_[cols]


class BiasesModel(RatingModel):
    """m + b_u + c_i with regularised offsets (``fit_biases``); unseen users/items get 0."""

    def __init__(
        self,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        *,
        name: str = "biases",
        rating_scale=None,
    ):
        super().__init__(name=name, rating_scale=rating_scale)
        self.reg_user, self.reg_item = reg_user, reg_item

    def _fit(self, X):
        self.biases_ = fit_biases(X, self.reg_user, self.reg_item)

    def _predict(self, rows, cols):
        return self.biases_.predict(rows, cols)
