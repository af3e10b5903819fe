"""The residual mixture per fold: the reference path beside the faster ones, one fold, one run.

Small and long-tailed data (MovieLens 100K; a generated matrix where most users have one or
two ratings) make EM's cost per iteration mostly overhead: four sparse products, a
log-sum-exp over (n, K) temporaries and the M-step's (K, d) arrays, a few milliseconds an
iteration, a few thousand iterations a fold (20 seeds x 2 sides). Three ways are timed:

- ``reference``: the numpy engine (``engine.using("numpy")``), one seed after another;
- ``numpy, seeds at once``: the numpy engine, the seeds' fits on every core;
- ``fused``: the compiled one-pass kernel (``cfcore.engine.fused``), seeds on every core.

Each is fitted on the fold's training ratings and scored on its test ratings; the report
gives seconds per fold, the RMSE of each and the largest difference of any prediction from
the reference's (rounding; a run whose start puts two components on the same point sits on a
saddle, where rounding decides which way EM leaves it).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ..common import ConvergenceWarning
from ..engine import numba_available, prepare, transpose, using
from ..models.mixtures import ResidualMixture
from ..models.starts import init_observed

#: (users, items, ratings) of the long-tailed matrix, and its exponents (make_ratings)
LONG_TAIL = (16_554, 10_506, 100_000)
LONG_TAIL_EXPONENTS = {"item_popularity": 1.0, "user_activity": 1.0}

#: a run's means against the reference's, where both start from K distinct points
SAME_RUN = 1e-8

#: name -> (engine, threads for the seeds)
PATHS = {
    "reference": ("numpy", 1),
    "numpy, seeds at once": ("numpy", None),
    "fused": ("fused", None),
}


def long_tailed_fold(users: int, items: int, ratings: int, seed: int = 0):
    """A ``Fold`` of a long-tailed planted matrix: 20% of every user's ratings held out."""
    from ..data import make_ratings, train_test_split

    density = ratings / (users * items)
    data, _ = make_ratings(users, items, 12, density, seed=seed, **LONG_TAIL_EXPONENTS)
    return train_test_split(data, 0.2, seed=seed)


def _fit_and_score(fold, engine: str, threads, options: dict):
    with using(engine):
        start = time.perf_counter()
        model = ResidualMixture(threads=threads, **options).fit(fold.train)
        rows, cols, values = fold.test.triples()
        predictions = model.predict(rows, cols)
        seconds = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((predictions - values) ** 2)))
    return seconds, predictions, rmse, model


def coinciding_starts(model) -> dict:
    """side -> [for each seed, how many of its K starting means repeat another]: the
    residual mixture's start (``init_observed``) takes K seeded rows of the residuals, and
    two rows alike (two users with no training ratings, say) start two components on one
    point, a saddle of the likelihood that rounding decides how EM leaves."""
    residuals = model.biases_.residuals(model.train_)
    counts = {}
    for side in model.sides:
        data = prepare(residuals if side == "users" else transpose(residuals), allow_negative=True)
        counts[side] = []
        for seed in model.seeds:
            mixture, _ = init_observed(data, model.K, seed, model.min_variance_)
            counts[side].append(_repeats(mixture.mu))
    return counts


def _repeats(mu: np.ndarray) -> int:
    """How many of the rows of mu (K, d) repeat another, to the last bit."""
    return mu.shape[0] - len({row.tobytes() for row in mu + 0.0})


def _still_on_saddle(model, saddles: dict) -> int:
    """How many runs that started with coinciding components end with them still equal, as
    EM in exact arithmetic leaves them (equal components get equal posteriors and sums)."""
    return sum(
        _repeats(mu) == repeats
        for side in model.sides
        for (_, mu), repeats in zip(model.fits_[side], saddles[side], strict=True)
        if repeats
    )


def compare_runs(model, reference) -> dict:
    """Run by run, how far model's means are from the reference's, apart for runs that start with
    two components on one point (``coinciding_starts``) and runs that do not; and how many
    of the former each path kept on that saddle."""
    saddles = coinciding_starts(reference)
    apart = {"distinct": [], "coinciding": []}
    for side in reference.sides:
        pairs = zip(model.fits_[side], reference.fits_[side], strict=True)
        for ((_, mu), (_, mu_reference)), repeats in zip(pairs, saddles[side], strict=True):
            difference = float(np.abs(mu - mu_reference).max())
            apart["coinciding" if repeats else "distinct"].append(difference)
    return {
        "runs": len(apart["distinct"]) + len(apart["coinciding"]),
        "distinct_starts": len(apart["distinct"]),
        "largest_difference_distinct_starts": max(apart["distinct"], default=0.0),
        "coinciding_starts_that_moved": sum(x > SAME_RUN for x in apart["coinciding"]),
        "coinciding_starts": len(apart["coinciding"]),
        "kept_on_saddle": _still_on_saddle(model, saddles),
        "kept_on_saddle_reference": _still_on_saddle(reference, saddles),
    }


def residual_per_fold(fold, *, K: int = 10, seeds=range(20), repeat: int = 1) -> dict:
    """Seconds per fold (fit + predict, the best of ``repeat``) of the three ways, side by
    side, with each one's test RMSE and its largest prediction difference from the reference's."""
    options = {"K": K, "seeds": seeds}
    paths = {name: way for name, way in PATHS.items() if way[0] != "fused" or numba_available()}
    if "fused" in paths:  # compile (or load) the kernel for this K before any timing
        start = time.perf_counter()
        with warnings.catch_warnings():  # two iterations do not converge, as meant
            warnings.simplefilter("ignore", ConvergenceWarning)
            _fit_and_score(fold, "fused", 1, {"K": K, "seeds": range(1), "max_iter": 2})
        warm_up = time.perf_counter() - start
    else:
        warm_up = None
    measured = {}
    for _ in range(repeat):
        for name, (engine, threads) in paths.items():  # interleaved: each meets the same load
            seconds, predictions, rmse, model = _fit_and_score(fold, engine, threads, options)
            if name not in measured or seconds < measured[name]["seconds"]:
                measured[name] = {
                    "seconds": seconds, "rmse": rmse, "predictions": predictions, "model": model
                }  # fmt: skip
    reference = measured["reference"]
    return {
        "train": [*fold.train.shape, int(fold.train.n_ratings)],
        "test_ratings": int(fold.test.n_ratings),
        "K": K,
        "seeds": len(list(seeds)),
        "first_fused_call_seconds": warm_up,
        "ways": {
            name: {
                "seconds": r["seconds"],
                "speedup": reference["seconds"] / r["seconds"],
                "rmse": r["rmse"],
                "largest_prediction_difference": float(
                    np.max(np.abs(r["predictions"] - reference["predictions"]))
                ),
                "runs": compare_runs(r["model"], reference["model"]),
            }
            for name, r in measured.items()
        },
    }


def residual_benchmarks(options: dict) -> dict:
    """The residual mixture per fold on MovieLens 100K u1 (when its files are there) and on
    the long-tailed matrix; options: K, seeds, repeat, long_tail, movielens (bool)."""
    from ..data import load_movielens_100k, movielens_100k_available

    settings = {key: options[key] for key in ("K", "seeds", "repeat")}
    results = {}
    if options.get("movielens", True):
        if movielens_100k_available():
            fold = load_movielens_100k(download=False).folds["u1"]
            results["MovieLens 100K u1"] = residual_per_fold(fold, **settings)
        else:
            results["MovieLens 100K u1"] = {"error": "MovieLens 100K not found ($CFCORE_DATA)"}
    users, items, ratings = options.get("long_tail", LONG_TAIL)
    name = f"long-tailed {users:,} x {items:,}, {ratings:,} ratings"
    results[name] = residual_per_fold(long_tailed_fold(users, items, ratings), **settings)
    return results
