"""The baselines every model is shown beside: global mean, user mean, item mean, biases.

Each is a ``cfcore.evaluate.Model``: ``fit(train)`` on a CSR ratings matrix (users x items,
stored entries = observed ratings), then ``predict(rows, cols)`` for any (user, item) pairs.
All of them work on the stored ratings with sparse matrix products and ``np.bincount``; none
loops over users or items in Python.

The regularised biases model (notebook 06 derives it) is

    x_ui ~ m + b_u + c_i,   minimise  sum_{(u,i) observed} (x_ui - m - b_u - c_i)^2
                                      + reg_user sum_u b_u^2 + reg_item sum_i c_i^2,

with m the mean training rating. The objective is a strictly convex quadratic, so its
minimiser is unique; setting the gradient with respect to b (c held fixed) and then c
(b held fixed) to zero gives the alternating closed forms

    b_u = sum_{i in C_u} (x_ui - m - c_i) / (reg_user + |C_u|),
    c_i = sum_{u in U_i} (x_ui - m - b_u) / (reg_item + |U_i|),

repeated until neither moves (block coordinate descent converges to that minimiser). This is
the alternating least squares of scikit-surprise's BaselineOnly (Koren 2010, section 2.1),
with its default reg_user = 15 and reg_item = 10, run to convergence instead of 10 epochs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .evaluate import RatingModel, ratings_csr


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
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    return rows, X.indices.astype(np.intp)


def _check_regularisation(value: float, name: str) -> float:
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def fit_biases(
    X,
    reg_user: float = 15.0,
    reg_item: float = 10.0,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> Biases:
    """Regularised user and item biases by alternating closed forms (module docstring).

    X: (n, d) CSR ratings (or dense, 0 = missing). Stops when no offset moves by more than
    tol. With reg_user = reg_item = 0 a user or item without ratings gets offset 0 (the
    0 / 0 is read as "no evidence"); with regularisation that happens by itself.
    """
    X = ratings_csr(X)
    reg_user = _check_regularisation(reg_user, "reg_user")
    reg_item = _check_regularisation(reg_item, "reg_item")
    n, d = X.shape
    rows, cols = stored_pairs(X)
    mean = float(X.data.mean())
    user_counts = np.bincount(rows, minlength=n).astype(np.float64)
    item_counts = np.bincount(cols, minlength=d).astype(np.float64)
    user_denominator = np.maximum(reg_user + user_counts, 1e-300)
    item_denominator = np.maximum(reg_item + item_counts, 1e-300)
    user, item = np.zeros(n), np.zeros(d)
    for _ in range(max_iter):
        new_user = np.bincount(rows, X.data - mean - item[cols], n) / user_denominator
        new_item = np.bincount(cols, X.data - mean - new_user[rows], d) / item_denominator
        change = max(np.abs(new_user - user).max(), np.abs(new_item - item).max())
        user, item = new_user, new_item
        if change <= tol:
            break
    return Biases(mean, user, item)


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
