"""How the hybrid mixture's defaults were chosen: validation splits of training data only.

    python benchmarks/tune_hybrid.py            # 5 seeds per fit, about four minutes here
    python benchmarks/tune_hybrid.py --json

Two validation splits are carved from the u1 fold's TRAINING ratings (u1's test ratings,
and every other fold, are never read):

- warm: 10% of the training ratings held out (``holdout``, seed 0), what most
  predictions are;
- cold: every rating of a seeded 10% of the training items held out (``cold_items``,
  seed 100), the items content must carry.

Every (reg_content, reg_taste) of the grid is fitted on the rest and scored on both; the
criterion, fixed before any score was seen, is the mean of the two validation RMSEs (the
model serves both kinds of item). The winner is ``HybridMixture``'s default, unless the
grid's edge wins, which the script says. Also printed: the residual mixture on the same
splits, and the unweighted content regression, the alternative to weighting by counts.
"""

from __future__ import annotations

import argparse
import json
import warnings
from itertools import product

from cfcore.common import ConvergenceWarning
from cfcore.data import cold_items, holdout, load_movielens_100k
from cfcore.models import HybridMixture, ResidualMixture, held_out_errors

REG_CONTENT = (10.0, 100.0, 1000.0)
REG_TASTE = (5.0, 10.0, 20.0, 40.0, 80.0)


def validation_splits():
    train = load_movielens_100k().folds["u1"].train
    return {
        "warm": holdout(train, 0.1, seed=0),
        "cold": cold_items(train, 0.1, seeds=[100])[0],
    }


def score(model, splits) -> dict[str, float]:
    scores = {}
    for name, split in splits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            predictions = model.fit(split.train).predict(split.rows, split.cols)
        scores[name] = held_out_errors(predictions, split.values)[0]
    scores["criterion"] = (scores["warm"] + scores["cold"]) / 2
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per fit (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    seeds = range(args.seeds)
    splits = validation_splits()
    rows = [{"model": "residual-mixture", **score(ResidualMixture(seeds=seeds), splits)}]
    for reg_content, reg_taste in product(REG_CONTENT, REG_TASTE):
        model = HybridMixture(seeds=seeds, reg_content=reg_content, reg_taste=reg_taste)
        rows.append(
            {
                "model": "hybrid-mixture",
                "reg_content": reg_content,
                "reg_taste": reg_taste,
                **score(model, splits),
            }
        )
    best = min(rows[1:], key=lambda row: row["criterion"])
    chosen = {"reg_content": best["reg_content"], "reg_taste": best["reg_taste"]}
    unweighted = HybridMixture(seeds=seeds, content_weights="items", **chosen)
    rows.append({"model": "hybrid, items alike", **chosen, **score(unweighted, splits)})
    edge = best["reg_content"] in REG_CONTENT[::2] or best["reg_taste"] in REG_TASTE[::4]
    if args.json:
        print(json.dumps({"rows": rows, "best": best, "on_grid_edge": edge}, indent=1))
        return
    print(f"{'model':<18} {'reg_content':>11} {'reg_taste':>9} {'warm':>7} {'cold':>7} {'mean':>7}")
    for row in rows:
        print(
            f"{row['model']:<18} {row.get('reg_content', ''):>11} {row.get('reg_taste', ''):>9}"
            f" {row['warm']:>7.4f} {row['cold']:>7.4f} {row['criterion']:>7.4f}"
        )
    print(
        f"chosen: reg_content={best['reg_content']:g}, reg_taste={best['reg_taste']:g}"
        + (" (on the grid's edge: widen it)" if edge else "")
    )


if __name__ == "__main__":
    main()
