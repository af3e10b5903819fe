"""What every rating model is: ``fit(train)`` on observed ratings, ``predict(rows, cols)``.

``Model`` is the protocol ``cfcore.evaluation`` needs (Surprise's adapter follows it too);
``RatingModel`` is the base of cfcore's own models. It checks input once, records the rating
scale and clips predictions to it, and refuses to return a non-finite prediction: a user or
item absent from training gets the model's documented fallback (the global mean, or the
biases with a zero offset). A subclass implements ``_fit(X)`` on a canonical CSR matrix and
``_predict(rows, cols)``.

The scale every prediction is clipped to is, in this order: the model's ``rating_scale``,
the declared scale of a RatingsData it is fitted on (never the training fold's range, which
may miss the scale's ends), else the [min, max] of the training ratings. Any numeric scale
works, negative included (e.g. -10..10): the training ratings are stored values of a CSR
matrix, and a model that needs non-negative ratings shifts them by ``scale_[0]`` itself.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .._validation import check_matrix, check_pairs, check_scale
from ..data import RatingsData


@runtime_checkable
class Model(Protocol):
    """What ``evaluate`` needs from a rating predictor."""

    name: str

    def fit(self, train) -> Model:
        """Learn from train: RatingsData, or (n, d) CSR ratings (stored entries = observed)."""

    def predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Predicted ratings at (rows[t], cols[t]): (m,) finite array."""


def training_ratings(train, name: str = "train") -> tuple[sp.csr_matrix, tuple | None]:
    """(canonical float CSR matrix of the ratings, the declared scale or None).

    train: RatingsData (its matrix and scale), a CSR matrix (stored = observed, any real
    values, negative included) or a dense array (0 = missing, so nothing negative).
    """
    scale = None
    if isinstance(train, RatingsData):
        train, scale = train.matrix, train.scale
    X = check_matrix(train, name, ratings=True, allow_sparse=True, allow_negative_sparse=True)
    X = sp.csr_matrix(X)
    if X.nnz == 0:
        raise ValueError(f"{name} holds no ratings; every model needs at least one")
    return X, scale


class RatingModel:
    """Base of the cfcore models: checks input, records the rating scale, clips predictions.

    rating_scale: (low, high) to clip to; None = the declared scale of a RatingsData
    train, else [min, max] of the training ratings (module docstring).
    """

    name = "model"

    def __init__(self, *, name: str | None = None, rating_scale=None):
        if name is not None:
            self.name = name
        self.rating_scale = None if rating_scale is None else check_scale(rating_scale)

    def fit(self, train) -> RatingModel:
        X, declared = training_ratings(train)
        low, high = self.rating_scale or declared or (X.data.min(), X.data.max())
        self.scale_ = (float(low), float(high))
        if X.data.min() < low or X.data.max() > high:
            raise ValueError(
                f"{self.name}: train holds ratings from {X.data.min():g} to {X.data.max():g}, "
                f"outside rating_scale {self.scale_}; pass the scale the ratings are on"
            )
        self.__dict__.pop("shape_", None)  # a refit that fails leaves no half-replaced model
        self._fit(X)
        self.shape_ = X.shape  # fitted only once _fit has succeeded
        return self

    def predict(self, rows, cols) -> np.ndarray:
        if not hasattr(self, "shape_"):
            raise RuntimeError(f"{self.name}: call fit(train) before predict(rows, cols)")
        rows, cols = check_pairs(rows, cols, self.shape_)
        predictions = np.asarray(self._predict(rows, cols), dtype=np.float64)
        if not np.isfinite(predictions).all():
            raise FloatingPointError(f"{self.name} produced non-finite predictions")
        return np.clip(predictions, *self.scale_)

    def _fit(self, X: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
