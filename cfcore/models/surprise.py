"""scikit-surprise's algorithms as ``Model``s, on exactly the same folds.

An optional extra: ``pip install -e .[compare]``. ``surprise_available()`` says whether it
is installed; ``SurpriseModel`` raises ImportError with that command when it is not.

The training CSR matrix becomes a ``surprise.Trainset`` directly (inner ids = matrix row and
column indices, raw ids the same integers), so no file or data frame sits in between and
both libraries see the same ratings. Predictions go through ``algo.predict``, Surprise's own
path: clipped to the rating scale, and its default (the global mean, or the baseline
m + b_u where it applies) for a user or item it cannot score.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from .._validation import check_pairs
from ..engine import stored_rows
from .base import training_ratings

INSTALL_HINT = "pip install -e '.[compare]' (or pip install scikit-surprise)"

#: the four algorithms the comparison uses, with fixed seeds where they draw random numbers
ALGORITHMS = {
    "baselineonly": ("BaselineOnly", {"verbose": False}),
    "svd": ("SVD", {"random_state": 0}),
    "knnbaseline": ("KNNBaseline", {"verbose": False}),
    "coclustering": ("CoClustering", {"random_state": 0}),
}


def surprise_available() -> bool:
    return importlib.util.find_spec("surprise") is not None


def trainset_from_csr(X: sp.csr_matrix, rating_scale: tuple[float, float]):
    """A surprise.Trainset holding X's stored ratings.

    Raw ids are X's row and column indices; inner ids number the users and items that have
    ratings 0, 1, ... in index order (Surprise needs them contiguous), so a user or item
    without training ratings is unknown to Surprise, as it would be when loading a file.
    """
    from surprise import Trainset

    rows = stored_rows(X)
    users, user_inner = np.unique(rows, return_inverse=True)
    items, item_inner = np.unique(X.indices, return_inverse=True)
    user_ratings, item_ratings = defaultdict(list), defaultdict(list)
    for u, i, r in zip(user_inner.tolist(), item_inner.tolist(), X.data.tolist(), strict=True):
        user_ratings[u].append((i, r))
        item_ratings[i].append((u, r))
    return Trainset(
        user_ratings,
        item_ratings,
        len(users),
        len(items),
        X.nnz,
        rating_scale,
        {raw: inner for inner, raw in enumerate(users.tolist())},
        {raw: inner for inner, raw in enumerate(items.tolist())},
    )


class SurpriseModel:
    """One Surprise algorithm as a Model: ``SurpriseModel("svd")`` or any of ALGORITHMS.

    params override the defaults in ALGORITHMS; rating_scale None = the declared scale of a
    RatingsData train, else [min, max] of train.
    """

    def __init__(self, algorithm: str, *, name: str | None = None, rating_scale=None, **params):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, got {algorithm!r}")
        if not surprise_available():
            raise ImportError(f"scikit-surprise is not installed: {INSTALL_HINT}")
        self.algorithm = algorithm
        self.name = name or f"surprise-{algorithm}"
        class_name, defaults = ALGORITHMS[algorithm]
        self.params = {**defaults, **params}
        self.class_name, self.rating_scale = class_name, rating_scale

    def fit(self, train) -> SurpriseModel:
        import surprise

        X, declared = training_ratings(train)
        scale = self.rating_scale or declared or (float(X.data.min()), float(X.data.max()))
        self.__dict__.pop("algo_", None)  # a refit that fails leaves no half-replaced model
        algo = getattr(surprise, self.class_name)(**self.params)
        algo.fit(trainset_from_csr(X, scale))
        self.shape_, self.algo_ = X.shape, algo
        return self

    def predict(self, rows, cols) -> np.ndarray:
        if not hasattr(self, "algo_"):
            raise RuntimeError(f"{self.name}: call fit(train) before predict(rows, cols)")
        rows, cols = check_pairs(rows, cols, self.shape_)
        predict = self.algo_.predict
        return np.array(
            [predict(u, i).est for u, i in zip(rows.tolist(), cols.tolist(), strict=True)]
        )
