"""Held-out RMSE broken down by support: how many training ratings a test pair's item (or
user) has. A model that does well on items rated hundreds of times may still be guessing on
an item rated twice; the breakdown says which.

For bin b, over the test ratings t of every fold whose item (user) has a training count in b:

    RMSE_b = sqrt(sum_t (yhat_t - y_t)^2 / n_b),

the squared errors pooled over folds (not a mean of per-fold RMSEs, since a bin may hold a
handful of ratings in one fold and none in another). An empty bin (n_b = 0) has no RMSE:
None, never NaN.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: the support bins: (label, fewest, most) training ratings, both ends included
SUPPORT_BINS: tuple[tuple[str, float, float], ...] = (
    ("0", 0, 0),
    ("1-5", 1, 5),
    ("6-20", 6, 20),
    (">20", 21, np.inf),
)
#: the bins' labels, in order: the keys of every breakdown
SUPPORT_LABELS = tuple(label for label, _, _ in SUPPORT_BINS)


def training_support(train: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(user_counts (n_users,), item_counts (n_items,)): training ratings per user and item."""
    return np.diff(train.indptr), np.bincount(train.indices, minlength=train.shape[1])


def support_bin(counts) -> np.ndarray:
    """The index into SUPPORT_BINS of every count: (m,) ints -> (m,) ints in 0..len - 1."""
    fewest = np.array([low for _, low, _ in SUPPORT_BINS])
    return np.searchsorted(fewest, np.asarray(counts), side="right") - 1


def binned_squared_errors(counts, squared_errors) -> tuple[np.ndarray, np.ndarray]:
    """(sum of squared errors, number of test ratings) per bin, two (n_bins,) arrays.

    counts: (m,) training ratings of each test pair's item (or user); squared_errors: (m,).
    """
    bins, n_bins = support_bin(counts), len(SUPPORT_BINS)
    sums = np.bincount(bins, weights=squared_errors, minlength=n_bins)
    return sums, np.bincount(bins, minlength=n_bins)


def empty_breakdown(kind=float) -> dict[str, float]:
    """{label: 0} for every bin: the start of a pooled sum."""
    return {label: kind(0) for label in SUPPORT_LABELS}


def pooled_rmse(sums: dict[str, float], counts: dict[str, int]) -> dict[str, float | None]:
    """{label: sqrt(sums / counts)}, None where a bin holds no test rating."""
    return {
        label: float(np.sqrt(sums[label] / counts[label])) if counts[label] else None
        for label in SUPPORT_LABELS
    }
