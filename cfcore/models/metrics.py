"""Scores: held-out RMSE and MAE of predictions, and how well a clustering finds a planted one."""

from __future__ import annotations

import numpy as np

from .._validation import check_vector


def matched_accuracy(true_labels, found_labels) -> float:
    """Share of points whose found cluster is their true cluster, under the best relabelling.

    Cluster numbers are arbitrary, so the found labels are first renamed by the one-to-one
    map that maximises agreement (the Hungarian algorithm on the contingency table).
    true_labels, found_labels: (n,) integer arrays.
    """
    true_labels, found_labels = np.asarray(true_labels), np.asarray(found_labels)
    if true_labels.shape != found_labels.shape or true_labels.ndim != 1 or true_labels.size == 0:
        raise ValueError(
            f"true_labels and found_labels must be non-empty 1-D arrays of equal length, got "
            f"shapes {true_labels.shape} and {found_labels.shape}"
        )
    from scipy.optimize import linear_sum_assignment  # here: importing cfcore stays light

    _, true_index = np.unique(true_labels, return_inverse=True)
    _, found_index = np.unique(found_labels, return_inverse=True)
    table = np.zeros((true_index.max() + 1, found_index.max() + 1))
    np.add.at(table, (true_index, found_index), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / true_labels.size)


def held_out_errors(predictions, values) -> tuple[float, float]:
    """(RMSE, MAE) of predictions against held-out ratings, both (m,) arrays.

    RMSE = sqrt(mean_t (yhat_t - y_t)^2), MAE = mean_t |yhat_t - y_t|, over held-out
    ratings only (the course's ``common.rmse`` averages over every entry instead).
    """
    predictions, values = check_vector(predictions, "predictions"), check_vector(values, "values")
    if predictions.shape != values.shape:
        raise ValueError(
            f"predictions {predictions.shape} and values {values.shape} must have the same shape"
        )
    if predictions.size == 0:
        raise ValueError("predictions and values hold no held-out ratings; pass at least one")
    errors = predictions - values
    return float(np.sqrt(np.mean(errors**2))), float(np.mean(np.abs(errors)))
