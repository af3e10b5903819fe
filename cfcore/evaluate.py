"""Held-out evaluation: RMSE and MAE over hidden ratings only, per fold and on average.

The course's RMSE (``common.rmse``) averages over every entry of the matrix, the observed
ones included. Here a model is fitted on a fold's training ratings and judged only on that
fold's test ratings, which it never saw:

    RMSE = sqrt(mean_t (yhat_t - y_t)^2),   MAE = mean_t |yhat_t - y_t|,

over the test triples (rows[t], cols[t], y_t), every y_t a real rating.

A fold is a ``Fold``: train is a scipy.sparse CSR matrix, users x items, whose stored entries
are the observed ratings; test is three arrays (rows, cols, values). ``make_fold`` refuses
a fold whose test pairs are stored in its training matrix, so no test rating can leak into
training. A model follows the ``Model`` protocol: ``fit(train_csr) -> self``,
``predict(rows, cols) -> (m,) ratings`` and a ``name``.

Every cfcore model (``RatingModel`` subclasses) clips its predictions to the rating scale
it saw in training, [min, max] of the training ratings (1 to 5 on both data sets here), and
never returns NaN: a user or item absent from training gets the model's documented fallback
(the global mean, or the biases with a zero offset).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from ._checks import check_matrix, check_pairs


@runtime_checkable
class Model(Protocol):
    """What ``evaluate`` needs from a rating predictor."""

    name: str

    def fit(self, train: sp.csr_matrix) -> Model:
        """Learn from train: (n, d) CSR ratings, stored entries = observed."""

    def predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Predicted ratings at (rows[t], cols[t]): (m,) finite array."""


def ratings_csr(X, name: str = "train") -> sp.csr_matrix:
    """X as a canonical float CSR matrix of ratings (a dense X uses 0 = missing)."""
    X = sp.csr_matrix(check_matrix(X, name, ratings=True, allow_sparse=True))
    if X.nnz == 0:
        raise ValueError(f"{name} holds no ratings; every model needs at least one")
    return X


class RatingModel:
    """Base of the cfcore models: checks input, records the rating scale, clips predictions.

    Subclasses implement ``_fit(X)`` on a canonical CSR matrix and ``_predict(rows, cols)``.
    rating_scale: (low, high) to clip to; None = [min, max] of the training ratings.
    """

    name = "model"

    def __init__(self, *, name: str | None = None, rating_scale=None):
        if name is not None:
            self.name = name
        self.rating_scale = rating_scale

    def fit(self, train) -> RatingModel:
        X = ratings_csr(train)
        self.shape_ = X.shape
        low, high = self.rating_scale or (X.data.min(), X.data.max())
        self.scale_ = (float(low), float(high))
        self._fit(X)
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


@dataclass(frozen=True)
class Fold:
    """One train/test split: train (n, d) CSR; test ratings values[t] at (rows[t], cols[t])."""

    name: str
    train: sp.csr_matrix
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray

    @property
    def n_test(self) -> int:
        return len(self.values)


def make_fold(name: str, train, test) -> Fold:
    """Check a split and return it as a Fold.

    train: (n, d) CSR (stored = observed) or dense (0 = missing) ratings;
    test: (rows, cols, values) with every value a real, finite rating. Raises ValueError if
    a test pair appears twice or is stored in train (the test rating would leak).
    """
    X = ratings_csr(train, f"fold {name}: train")
    try:
        rows, cols, values = test
    except (TypeError, ValueError):
        raise TypeError(f"fold {name}: test must be (rows, cols, values)") from None
    rows, cols = check_pairs(rows, cols, X.shape, f"fold {name}: test rows, cols")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != rows.shape:
        raise ValueError(f"fold {name}: test values {values.shape} do not match rows {rows.shape}")
    if rows.size == 0:
        raise ValueError(f"fold {name}: the test set is empty")
    if not np.isfinite(values).all():
        raise ValueError(f"fold {name}: test values must be finite ratings")
    test_keys = rows.astype(np.int64) * X.shape[1] + cols
    if np.unique(test_keys).size != test_keys.size:
        raise ValueError(f"fold {name}: a (row, col) pair appears twice in the test set")
    train_rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    leaked = np.isin(test_keys, train_rows * X.shape[1] + X.indices)
    if leaked.any():
        raise ValueError(
            f"fold {name}: {int(leaked.sum())} test pairs are also stored in train, so their "
            "ratings would leak into training; remove them from train"
        )
    return Fold(name, X, rows, cols, values)


def validation_split(X, fraction: float = 0.1, seed: int = 0):
    """Hold out a seeded share of a training matrix's ratings, for choosing K and the like.

    X: (n, d) CSR ratings. Each stored rating is held out with probability ``fraction``.
    Returns (rest: CSR with the other ratings, (rows, cols, values) of the held-out ones).
    """
    X = ratings_csr(X)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    held = np.random.default_rng(seed).random(X.nnz) < fraction
    keep = ~held
    rest = sp.csr_matrix((X.data[keep], (rows[keep], X.indices[keep])), shape=X.shape)
    return rest, (rows[held], X.indices[held].astype(np.intp), X.data[held])


def held_out_errors(predictions, values) -> tuple[float, float]:
    """(RMSE, MAE) of predictions against the held-out values, both (m,) arrays."""
    predictions, values = np.asarray(predictions, float), np.asarray(values, float)
    if predictions.shape != values.shape:
        raise ValueError(
            f"predictions {predictions.shape} and values {values.shape} must have the same shape"
        )
    if not np.isfinite(predictions).all():
        raise ValueError("predictions contain NaN or infinite values")
    errors = predictions - values
    return float(np.sqrt(np.mean(errors**2))), float(np.mean(np.abs(errors)))


@dataclass
class Result:
    """One model over several folds: RMSE, MAE and fit seconds per fold, in fold order."""

    model: str
    folds: list[str] = field(default_factory=list)
    rmse_folds: list[float] = field(default_factory=list)
    mae_folds: list[float] = field(default_factory=list)
    fit_seconds_folds: list[float] = field(default_factory=list)

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


def evaluate_model(model: Model, folds: list[Fold]) -> Result:
    """Fit model on every fold's train, predict its test pairs, and score them."""
    if not isinstance(model, Model):
        raise TypeError(f"model must have name, fit(train) and predict(rows, cols), got {model!r}")
    result = Result(model.name)
    for fold in folds:
        start = time.perf_counter()
        model.fit(fold.train)
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
    return result


def evaluate(models, folds: list[Fold], *, progress: bool = False) -> list[Result]:
    """Evaluate every model on the same folds; one Result per model, in the given order."""
    folds = list(folds)
    if not folds:
        raise ValueError("folds must hold at least one Fold")
    results = []
    for model in models:
        results.append(evaluate_model(model, folds))
        if progress:
            import sys

            row = results[-1]
            print(f"{row.model}: RMSE {row.rmse_mean:.4f}", file=sys.stderr, flush=True)
    return results


#: decimals shown in the table and in the JSON (the JSON is what the table shows)
RMSE_DECIMALS, SECONDS_DECIMALS = 4, 2


def as_records(results: list[Result]) -> list[dict]:
    """The table as JSON-ready dicts: model, rmse_mean, rmse_folds, mae_mean, fit_seconds."""
    return [
        {
            "model": r.model,
            "rmse_mean": round(r.rmse_mean, RMSE_DECIMALS),
            "rmse_folds": [round(x, RMSE_DECIMALS) for x in r.rmse_folds],
            "mae_mean": round(r.mae_mean, RMSE_DECIMALS),
            "fit_seconds": round(r.fit_seconds, SECONDS_DECIMALS),
        }
        for r in results
    ]


def format_table(results: list[Result]) -> str:
    """A plain-text table of ``as_records``: one row per model, one RMSE column per fold."""
    if not results:
        return ""
    records = as_records(results)
    fold_names = results[0].folds
    width = max(len("model"), *(len(r["model"]) for r in records))
    header = f"{'model':<{width}}  {'RMSE mean':>9}  " + "  ".join(f"{f:>7}" for f in fold_names)
    header += f"  {'MAE mean':>8}  {'fit s/fold':>10}"
    lines = [header, "-" * len(header)]
    for r in records:
        folds = "  ".join(f"{x:>7.{RMSE_DECIMALS}f}" for x in r["rmse_folds"])
        lines.append(
            f"{r['model']:<{width}}  {r['rmse_mean']:>9.{RMSE_DECIMALS}f}  {folds}"
            f"  {r['mae_mean']:>8.{RMSE_DECIMALS}f}  {r['fit_seconds']:>10.{SECONDS_DECIMALS}f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------- data sets and models


def course_fold(data_dir=None) -> Fold:
    """The course's matrix as one fold: train = netflix_incomplete (0 = missing), test =
    every entry missing from it, judged against netflix_complete where that holds a rating."""
    from .datasets import load_course

    incomplete = load_course("netflix_incomplete", data_dir)
    gold = load_course("netflix_complete", data_dir)
    if incomplete.shape != gold.shape:
        raise ValueError(f"the course matrices differ in shape: {incomplete.shape}, {gold.shape}")
    rows, cols = np.nonzero((incomplete == 0) & (gold != 0))
    return make_fold("course", sp.csr_matrix(incomplete), (rows, cols, gold[rows, cols]))


def fold_from_ratings(name: str, train, test) -> Fold:
    """A Fold from two ``RatingsData`` (``.matrix`` CSR and ``.triples()``) of one split."""
    return make_fold(name, train.matrix, test.triples())


ML100K_FOLDS = ("u1", "u2", "u3", "u4", "u5")


def load_folds(dataset: str, fold_names=None, data_dir=None) -> list[Fold]:
    """Folds of a named data set.

    "course": one fold, the course's missing entries (``course_fold``; data_dir is the
    folder of the course files);
    "ml-100k": MovieLens 100K's canonical folds u1..u5 (``fold_names`` picks some), from
    ``data_dir`` if given (see ``datasets.load_movielens_100k``);
    any other string: a ratings file read by ``datasets.load_ratings``, split by
    ``datasets.k_fold(data, k=5, seed=0)`` into folds f1..f5.
    """
    from . import datasets

    if dataset == "course":
        available = {"course": lambda: course_fold(data_dir)}
    elif dataset == "ml-100k":
        movielens = datasets.load_movielens_100k(data_dir)
        available = {
            name: (lambda name=name: fold_from_ratings(name, *movielens.folds[name]))
            for name in ML100K_FOLDS
        }
    else:
        from pathlib import Path

        if not Path(dataset).is_file():
            raise FileNotFoundError(
                f"dataset must be 'course', 'ml-100k' or a ratings file; {dataset} is none"
            )
        ratings = datasets.load_ratings(dataset)
        splits = datasets.k_fold(ratings, k=5, seed=0)
        available = {
            f"f{k}": (lambda pair=pair, k=k: fold_from_ratings(f"f{k}", *pair))
            for k, pair in enumerate(splits, start=1)
        }
    names = list(available) if fold_names is None else list(fold_names)
    unknown = [name for name in names if name not in available]
    if unknown or not names:
        raise ValueError(
            f"folds {unknown} are not folds of {dataset}; choose from {list(available)}"
        )
    return [available[name]() for name in names]


def model_registry() -> dict:
    """Name -> factory of every model the CLI knows; Surprise's only when it is installed."""
    from .baselines import BiasesModel, GlobalMean, ItemMean, UserMean
    from .compare import ALGORITHMS, SurpriseModel, surprise_available
    from .mixture_models import CourseMixture, ResidualMixture

    registry = {
        "global-mean": GlobalMean,
        "user-mean": UserMean,
        "item-mean": ItemMean,
        "biases": BiasesModel,
        "course-em": CourseMixture,
        "course-em-validation": lambda: CourseMixture(
            select="validation", name="course-em-validation"
        ),
        "residual-mixture-users": lambda: ResidualMixture(
            sides=("users",), name="residual-mixture-users"
        ),
        "residual-mixture-items": lambda: ResidualMixture(
            sides=("items",), name="residual-mixture-items"
        ),
        "residual-mixture": ResidualMixture,
    }
    if surprise_available():
        for algorithm in ALGORITHMS:
            registry[f"surprise-{algorithm}"] = lambda a=algorithm: SurpriseModel(a)
    return registry


#: every model name the CLI accepts (the surprise-* ones need the compare extra)
MODEL_NAMES = (
    "global-mean",
    "user-mean",
    "item-mean",
    "biases",
    "course-em",
    "course-em-validation",
    "residual-mixture-users",
    "residual-mixture-items",
    "residual-mixture",
    "surprise-baselineonly",
    "surprise-svd",
    "surprise-knnbaseline",
    "surprise-coclustering",
)


def make_models(names=None) -> list:
    """Fresh models by name; None = every model available here."""
    registry = model_registry()
    if names is None:
        return [factory() for factory in registry.values()]
    models = []
    for name in names:
        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
        if name not in registry:
            from .compare import INSTALL_HINT

            raise ImportError(f"{name} needs scikit-surprise: {INSTALL_HINT}")
        models.append(registry[name]())
    return models
