"""What every mixture's ``fold_in`` shares: a new user's ratings checked, predictions clipped,
and the cluster means of a new coordinate (the items side's view of a new user).

``new_user_row`` refuses what a fold-in cannot use (unknown columns, repeated items, ratings
outside the model's scale) with an error naming it; ``new_coordinate_means`` is the MAP
M-step of one coordinate with the posteriors fixed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import as_real_array
from .base import RatingModel


def new_user_row(model: RatingModel, cols, values) -> sp.csr_matrix:
    """A new user's ratings as a (1, d) CSR row (sorted columns), checked against ``model``.

    cols: (m,) distinct integer column indices in [0, d) of the fitted model; values: (m,)
    finite ratings within its ``scale_``. m = 0 (no ratings) is allowed.
    """
    if not hasattr(model, "shape_"):
        raise RuntimeError(f"{model.name}: call fit(train) before fold_in(cols, values)")
    d = model.shape_[1]
    cols = np.asarray(cols)
    values = as_real_array(values, "values", "an (m,) array of ratings")
    if cols.ndim != 1 or values.shape != cols.shape:
        raise ValueError(
            f"cols and values must be two 1-D arrays of equal length (one rating per rated "
            f"item), got shapes {cols.shape} and {values.shape}"
        )
    if cols.size and not np.issubdtype(cols.dtype, np.integer):
        raise TypeError(f"cols must be integer column indices, got dtype {cols.dtype}")
    if cols.size and (cols.min() < 0 or cols.max() >= d):
        raise ValueError(
            f"cols must lie in [0, {d}), the model's items; got [{cols.min()}, {cols.max()}]"
        )
    if np.unique(cols).size != cols.size:
        raise ValueError("cols names an item twice; give one rating per item")
    low, high = model.scale_
    outside = ~np.isfinite(values) | (values < low) | (values > high)
    if outside.any():
        raise ValueError(
            f"values must be finite ratings within the model's scale {low:g}-{high:g}, got "
            f"{values[outside][0]:g} for column {cols[outside][0]}"
        )
    order = np.argsort(cols)
    indptr = np.array([0, cols.size])
    return sp.csr_matrix((values[order], cols[order].astype(np.intp), indptr), shape=(1, d))


def clipped_fold_in(model: RatingModel, predictions: np.ndarray) -> np.ndarray:
    """A fold-in's (d,) predictions clipped to ``model.scale_``; non-finite ones refused."""
    if not np.isfinite(predictions).all():
        raise FloatingPointError(f"{model.name} produced non-finite fold-in predictions")
    return np.clip(predictions, *model.scale_)


def new_coordinate_means(weighted, support, var, prior_variance) -> np.ndarray:
    """(K,) cluster means of a new coordinate from sum_i post_ij r_i and sum_i post_ij.

    weighted, support, var: (K,). MAP: weighted / (support + var / prior_variance); with
    prior_variance None, the course's support rule: weighted / support where support >= 1,
    else 0.
    """
    if prior_variance is not None:
        return weighted / (support + var / prior_variance)
    means = np.zeros_like(weighted)
    supported = support >= 1.0
    means[supported] = weighted[supported] / support[supported]
    return means
