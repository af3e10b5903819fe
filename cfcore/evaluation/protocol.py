"""Held-out evaluation: RMSE and MAE over hidden ratings only, per fold and on average.

The course's RMSE (``common.rmse``) averages over every entry of the matrix, the observed
ones included. Here a model is fitted on a fold's training ratings and judged only on that
fold's test ratings, which it never saw:

    RMSE = sqrt(mean_t (yhat_t - y_t)^2),   MAE = mean_t |yhat_t - y_t|,

over the test triples (rows[t], cols[t], y_t), every y_t a real rating. A fold is a
``cfcore.data.Fold``, whose construction refuses a test pair stored in training; a model
follows ``cfcore.models.Model``. Choosing K or any setting happens inside a model's ``fit``
on its training ratings (validation splits carved from them), never on the test fold.

Every result also breaks the held-out RMSE down by support: the number of training ratings
of the test pair's item, in the bins of ``SUPPORT_BINS`` (0, 1-5, 6-20, >20), and the same
by the user's. Those squared errors are pooled over all folds per bin (``support``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..data import Fold
from ..models import Model, held_out_errors
from .support import (
    SUPPORT_LABELS,
    binned_squared_errors,
    empty_breakdown,
    pooled_rmse,
    training_support,
)


def _counts() -> dict[str, int]:
    return empty_breakdown(int)


@dataclass
class Result:
    """One model over several folds: RMSE, MAE and fit seconds per fold, in fold order, and
    the held-out RMSE by support pooled over the folds.

    sse_by_item_support, n_by_item_support: {bin label: sum of squared errors, number of
    test ratings} over the test pairs whose item has that many training ratings (bins:
    ``SUPPORT_BINS``); the user versions the same by the user's training ratings.
    """

    model: str
    folds: list[str] = field(default_factory=list)
    rmse_folds: list[float] = field(default_factory=list)
    mae_folds: list[float] = field(default_factory=list)
    fit_seconds_folds: list[float] = field(default_factory=list)
    sse_by_item_support: dict[str, float] = field(default_factory=empty_breakdown)
    n_by_item_support: dict[str, int] = field(default_factory=_counts)
    sse_by_user_support: dict[str, float] = field(default_factory=empty_breakdown)
    n_by_user_support: dict[str, int] = field(default_factory=_counts)

    @property
    def rmse_mean(self) -> float:
        return float(np.mean(self.rmse_folds))

    @property
    def mae_mean(self) -> float:
        return float(np.mean(self.mae_folds))

    @property
    def fit_seconds(self) -> float:
        """Mean fit time per fold, in seconds (wall clock, so it varies run to run)."""
        return float(np.mean(self.fit_seconds_folds))

    @property
    def rmse_by_item_support(self) -> dict[str, float | None]:
        """{bin label: RMSE pooled over folds}, None for a bin without test ratings."""
        return pooled_rmse(self.sse_by_item_support, self.n_by_item_support)

    @property
    def rmse_by_user_support(self) -> dict[str, float | None]:
        """{bin label: RMSE pooled over folds}, None for a bin without test ratings."""
        return pooled_rmse(self.sse_by_user_support, self.n_by_user_support)

    def add_support(self, fold: Fold, squared_errors: np.ndarray) -> None:
        """Pool a fold's squared errors, (n_test,) in its test order, into the bins of its
        test pairs' item and user support (their training ratings in fold.train)."""
        user_counts, item_counts = training_support(fold.train.matrix)
        sides = (
            (self.sse_by_item_support, self.n_by_item_support, item_counts[fold.cols]),
            (self.sse_by_user_support, self.n_by_user_support, user_counts[fold.rows]),
        )
        for sums, counts, support in sides:
            bin_sums, bin_counts = binned_squared_errors(support, squared_errors)
            for label, bin_sum, bin_count in zip(SUPPORT_LABELS, bin_sums, bin_counts, strict=True):
                sums[label] += float(bin_sum)
                counts[label] += int(bin_count)


def evaluate_model(model: Model, folds: list[Fold]) -> Result:
    """Fit model on every fold's train, predict its test pairs, and score them."""
    if not isinstance(model, Model):
        raise TypeError(f"model must have name, fit(train) and predict(rows, cols), got {model!r}")
    result = Result(model.name)
    for fold in folds:
        start = time.perf_counter()
        model.fit(fold.train)  # RatingsData: the training ratings and their scale
        seconds = time.perf_counter() - start
        predictions = np.asarray(model.predict(fold.rows, fold.cols), dtype=np.float64)
        if predictions.shape != fold.values.shape:
            raise ValueError(
                f"{model.name} returned {predictions.shape} predictions for "
                f"{fold.values.shape} test pairs on fold {fold.name}"
            )
        if not np.isfinite(predictions).all():
            raise ValueError(f"{model.name} predicted NaN or infinity on fold {fold.name}")
        rmse, mae = held_out_errors(predictions, fold.values)
        result.folds.append(fold.name)
        result.rmse_folds.append(rmse)
        result.mae_folds.append(mae)
        result.fit_seconds_folds.append(seconds)
        result.add_support(fold, (predictions - fold.values) ** 2)
    return result


def evaluate(models, folds: list[Fold], *, progress: bool = False) -> list[Result]:
    """Evaluate every model on the same folds; one Result per model, in the given order."""
    folds = list(folds)
    if not folds:
        raise ValueError("folds must hold at least one Fold")
    for fold in folds:
        if not isinstance(fold, Fold):
            raise TypeError(f"folds must be cfcore.data.Fold objects, got {type(fold).__name__}")
        if fold.train.n_ratings == 0 or fold.n_test == 0:
            raise ValueError(f"fold {fold.name}: train and test both need ratings to evaluate")
    results = []
    for model in models:
        results.append(evaluate_model(model, folds))
        if progress:
            row = results[-1]
            print(f"{row.model}: RMSE {row.rmse_mean:.4f}", file=sys.stderr, flush=True)
    return results
