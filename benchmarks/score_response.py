"""The response mixture on the test folds, scored once, with its spread over seed sets.

    python benchmarks/score_response.py                  # both data sets, about 12 minutes
    python benchmarks/score_response.py --dataset ml-100k
    python benchmarks/score_response.py --json

Run after ``benchmarks/tune_response.py`` chose the defaults on validation splits of u1's
training ratings: this script changes no setting. Data sets:

- ml-100k: MovieLens 100K's canonical folds u1..u5 (u.data's format, with u.item's genres
  and years as the content);
- course: the course's Netflix matrix ``netflix_incomplete.txt`` (a dense text matrix,
  0 = missing, no content), its observed ratings split into 5 seeded folds within users
  (``k_fold``, seed 0), the settings unchanged.

The response mixture is fitted 5 times per fold, with the seed sets 0-19, 20-39, ..., 80-99
(each a 20-seed model): the table gives the mean over the 5 and their spread (sample
standard deviation, and min-max), per fold and for the mean over folds. Beside it, on the
same folds: biases, the residual and hybrid mixtures and Surprise's SVD and KNNBaseline
(one run each, their defaults).
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from cfcore.common import ConvergenceWarning
from cfcore.data import k_fold
from cfcore.data.registry import DATASET_RATINGS, load_folds
from cfcore.evaluation import evaluate_model
from cfcore.models import ResponseMixture, make_models, surprise_available

SEED_SETS = [range(20 * r, 20 * r + 20) for r in range(5)]
BESIDE = ["biases", "residual-mixture", "hybrid-mixture"]
SURPRISE = ["surprise-svd", "surprise-knnbaseline"]


def folds_of(dataset: str):
    if dataset == "ml-100k":
        return load_folds("ml-100k")
    return k_fold(DATASET_RATINGS["course"](None), 5, seed=0)


def score(dataset: str) -> dict:
    folds = folds_of(dataset)
    names = BESIDE + (SURPRISE if surprise_available() else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        repeats = [evaluate_model(ResponseMixture(seeds=seeds), folds) for seeds in SEED_SETS]
        beside = [evaluate_model(model, folds) for model in make_models(names)]
    per_fold = np.array([result.rmse_folds for result in repeats])  # (seed sets, folds)
    means = per_fold.mean(axis=1)
    return {
        "dataset": dataset,
        "folds": [fold.name for fold in folds],
        "response_mixture": {
            "rmse_mean": float(means.mean()),
            "rmse_mean_std": float(means.std(ddof=1)),
            "rmse_mean_range": [float(means.min()), float(means.max())],
            "rmse_folds": per_fold.mean(axis=0).tolist(),
            "rmse_folds_std": per_fold.std(axis=0, ddof=1).tolist(),
            "rmse_by_seed_set": per_fold.tolist(),
            "fit_seconds": float(np.mean([result.fit_seconds for result in repeats])),
            "fit_seconds_max": float(max(max(r.fit_seconds_folds) for r in repeats)),
        },
        "beside": [
            {
                "model": result.model,
                "rmse_mean": result.rmse_mean,
                "rmse_folds": result.rmse_folds,
                "fit_seconds": result.fit_seconds,
            }
            for result in beside
        ],
    }


def print_table(report: dict) -> None:
    folds, ours = report["folds"], report["response_mixture"]
    print(f"\n{report['dataset']}: test RMSE per fold, and the mean over the folds")
    print(f"{'model':<24}" + "".join(f"{name:>9}" for name in folds) + f"{'mean':>9}{'fit s':>7}")
    spread = "".join(f"{s:>9.4f}" for s in ours["rmse_folds_std"])
    print(
        f"{'response-mixture':<24}"
        + "".join(f"{value:>9.4f}" for value in ours["rmse_folds"])
        + f"{ours['rmse_mean']:>9.4f}{ours['fit_seconds']:>7.1f}"
    )
    print(f"{'  std over 5 seed sets':<24}{spread}{ours['rmse_mean_std']:>9.4f}")
    low, high = ours["rmse_mean_range"]
    print(f"{'  range of the mean':<24}{'':>{9 * len(folds)}}  {low:.4f}-{high:.4f}")
    for row in report["beside"]:
        print(
            f"{row['model']:<24}"
            + "".join(f"{value:>9.4f}" for value in row["rmse_folds"])
            + f"{row['rmse_mean']:>9.4f}{row['fit_seconds']:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", choices=["ml-100k", "course"], action="append", help="default: both"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    reports = [score(name) for name in args.dataset or ["ml-100k", "course"]]
    if args.json:
        print(json.dumps(reports))
        return
    for report in reports:
        print_table(report)


if __name__ == "__main__":
    main()
