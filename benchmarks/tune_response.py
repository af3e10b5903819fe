"""How the response mixture's defaults were chosen: validation splits of u1's training data.

    python benchmarks/tune_response.py            # 20 seeds per fit, about eight minutes here
    python benchmarks/tune_response.py --json

The protocol, fixed before any score was seen (notebook 10 states it too):

- two validation splits are carved from the u1 fold's TRAINING ratings, 10% of them held
  out each (``holdout``, seeds 0 and 1); u1's test ratings and the other folds are never
  read;
- the criterion is the mean of the two validation RMSEs;
- the grid: response_weight x K x response_prior at prior_variance 0.16, then one
  coordinate step in prior_variance at the winner and one in response_prior; the winner
  becomes ``ResponseMixture``'s default, unless it lies on the grid's edge, which the
  script says.

Also printed, on the same splits: the path from the residual mixture to the chosen model,
one change at a time (the number at each step), and averaging the chosen model's
predictions over K in {10, 20, 30}.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from itertools import product

import numpy as np

from cfcore.common import ConvergenceWarning
from cfcore.data import holdout, load_movielens_100k
from cfcore.models import HybridMixture, ResidualMixture, ResponseMixture, held_out_errors

RESPONSE_WEIGHTS = (0.5, 0.7, 1.0)
KS = (15, 20, 30)
RESPONSE_PRIORS = (0.1, 0.3, 1.0)
PRIOR_VARIANCES = (0.08, 0.16, 0.3, 0.6)
AVERAGED_KS = (10, 20, 30)
SETTINGS = ("response_weight", "K", "response_prior", "prior_variance")


def validation_splits():
    train = load_movielens_100k().folds["u1"].train
    return [holdout(train, 0.1, seed=seed) for seed in (0, 1)]


def predictions(model, splits) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [model.fit(split.train).predict(split.rows, split.cols) for split in splits]


def scores(predicted, splits) -> dict[str, float]:
    rmse = [held_out_errors(p, s.values)[0] for p, s in zip(predicted, splits, strict=True)]
    return {"split_0": rmse[0], "split_1": rmse[1], "criterion": float(np.mean(rmse))}


def score(model, splits) -> dict[str, float]:
    started = time.perf_counter()
    result = scores(predictions(model, splits), splits)
    return {**result, "fit_seconds": (time.perf_counter() - started) / len(splits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per fit (default 20)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    seeds = range(args.seeds)
    splits = validation_splits()

    grid = []

    def add(**settings) -> dict:
        row = {"prior_variance": 0.16, **settings}
        row.update(score(ResponseMixture(seeds=seeds, **row), splits))
        grid.append(row)
        return row

    for weight, K, alpha in product(RESPONSE_WEIGHTS, KS, RESPONSE_PRIORS):
        add(response_weight=weight, K=K, response_prior=alpha)
    # then one coordinate step in tau^2 at the winner, and one more in alpha at that tau^2
    for name, values in (("prior_variance", PRIOR_VARIANCES), ("response_prior", RESPONSE_PRIORS)):
        best = min(grid, key=lambda row: row["criterion"])
        done = {row[name] for row in grid if all(row[k] == best[k] for k in SETTINGS if k != name)}
        for value in values:
            if value not in done:
                add(**{**{k: best[k] for k in SETTINGS}, name: value})
    best = min(grid, key=lambda row: row["criterion"])
    chosen = {key: best[key] for key in SETTINGS}
    edges = {
        "response_weight": RESPONSE_WEIGHTS,
        "K": KS,
        "response_prior": RESPONSE_PRIORS,
        "prior_variance": PRIOR_VARIANCES,
    }
    on_edge = [key for key, values in edges.items() if chosen[key] in (values[0], values[-1])]

    steps = [
        ("residual mixture, K=10 (its default)", ResidualMixture(seeds=seeds)),
        ("+ content: hybrid mixture, K=10", HybridMixture(seeds=seeds)),
        (
            f"hybrid mixture, K={chosen['K']}, tau2={chosen['prior_variance']:g}",
            HybridMixture(chosen["K"], seeds=seeds, prior_variance=chosen["prior_variance"]),
        ),
        (
            "+ responses: the chosen response mixture",
            ResponseMixture(seeds=seeds, **chosen),
        ),
    ]
    path = [{"step": name, **score(model, splits)} for name, model in steps]
    averaged = [
        predictions(ResponseMixture(seeds=seeds, **{**chosen, "K": K}), splits) for K in AVERAGED_KS
    ]
    mean_over_K = [np.mean(per_K, axis=0) for per_K in zip(*averaged, strict=True)]
    path.append({"step": f"averaged over K in {AVERAGED_KS}", **scores(mean_over_K, splits)})

    if args.json:
        print(json.dumps({"grid": grid, "chosen": chosen, "on_edge": on_edge, "path": path}))
        return
    header = ("weight", 6), ("K", 3), ("alpha", 5), ("tau2", 5), ("split 0", 8), ("split 1", 8)
    print(" ".join(f"{name:>{width}}" for name, width in header) + f" {'mean':>7}")
    for row in grid:
        print(
            f"{row['response_weight']:>6g} {row['K']:>3} {row['response_prior']:>5g} "
            f"{row['prior_variance']:>5g} {row['split_0']:>8.4f} {row['split_1']:>8.4f}"
            f" {row['criterion']:>7.4f}"
        )
    print("chosen: " + ", ".join(f"{k}={v:g}" for k, v in chosen.items()))
    if on_edge:
        print(f"on the grid's edge in {', '.join(on_edge)}: widen the grid there")
    print(f"\n{'step':<44} {'split 0':>8} {'split 1':>8} {'mean':>7} {'fit s':>6}")
    for row in path:
        fit = f"{row['fit_seconds']:>6.1f}" if "fit_seconds" in row else ""
        print(
            f"{row['step']:<44} {row['split_0']:>8.4f} {row['split_1']:>8.4f} "
            f"{row['criterion']:>7.4f} {fit}"
        )


if __name__ == "__main__":
    main()
