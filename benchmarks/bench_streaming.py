"""Learning from each new rating: a prequential replay of MovieLens 100K in time order.

    python benchmarks/bench_streaming.py                    # residual mixture, K = 12, 20 seeds
    python benchmarks/bench_streaming.py --json             # one JSON row per variant
    python benchmarks/bench_streaming.py --model course-em  # the course model, K = 12
    python benchmarks/bench_streaming.py --limit 5000       # replay the first 5,000 only
    python benchmarks/bench_streaming.py --only incremental # one variant (its latency)

The 100,000 ratings in the order they were given (``cfcore.data.movielens_100k_stream``);
the model is fitted on the first 50%, then the other 50,000 are replayed in order, each
predicted before it is learnt. The matrix is 943 x 1,682 throughout: a user or movie not
seen yet is an empty row or column, which the model starts at its prior (87% of the
replayed ratings are by users absent from the first half). Variants:

(a) fold-in: the model never changes; each user's ratings since the fit are folded in,
    a known user's on top of their training row (their offset b_u, taste and posterior
    re-estimated from all their ratings, the item offsets and every cluster fixed):
    ``LiveModel(model, fold_in_only=True)``, which is ``model.fold_in`` of the user's row;
(b) incremental EM: ``LiveModel(model).rate`` per rating (module docstring of
    ``cfcore.models.incremental``), every seed of the model live;
(c) refit every 1,000 ratings: the same model class and settings fitted from scratch on
    every rating so far, and between refits the fold-in of (a) on the latest refit.

For each: RMSE over the replayed ratings; compute seconds, the CPU time of this process
spent predicting and learning (every core's, so other processes on the machine do not
count; the initial fit, shared by all three, excluded), and the wall-clock seconds; and the
wall-clock milliseconds of the call that learns one rating, p50, p99 and max, with its
CPU-time p99 beside (on a busy machine the wall clock also counts the waits for a core; in
(c) the refit is counted in the update of the rating that triggers it, so its p99 is the
fold-in's and its maximum the refit's). Ratios are measured side by side in the one run.
Needs MovieLens 100K under $CFCORE_DATA/ml-100k (else it is downloaded).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from cfcore.data import movielens_100k_stream
from cfcore.models import CourseMixture, LiveModel, ResidualMixture

#: the rating scale of MovieLens 100K
SCALE = (1.0, 5.0)
SHAPE = (943, 1682)


@dataclass
class Replay:
    """What one variant measured over the replayed ratings."""

    variant: str
    errors: list[float] = field(default_factory=list)
    update_seconds: list[float] = field(default_factory=list)  # wall-clock, per rating
    update_cpu: list[float] = field(default_factory=list)  # CPU time, per rating
    cpu_predict: float = 0.0
    wall: float = 0.0

    def row(self) -> dict:
        updates = np.array(self.update_seconds) * 1e3
        p50, p99 = np.percentile(updates, [50, 99])
        cpu = np.array(self.update_cpu)
        return {
            "variant": self.variant,
            "rmse": float(np.sqrt(np.mean(np.square(self.errors)))),
            "seconds": self.cpu_predict + float(cpu.sum()),
            "learn_seconds": float(cpu.sum()),
            "wall_seconds": self.wall,
            "p50_update_ms": float(p50),
            "p99_update_ms": float(p99),
            "max_update_ms": float(updates.max()),
            "p99_update_cpu_ms": float(np.percentile(cpu, 99) * 1e3),
            "ratings": len(self.errors),
        }


def make_model(name: str, K: int, seeds: int):
    if name == "course-em":
        return CourseMixture([K], seeds=range(seeds), rating_scale=SCALE)
    return ResidualMixture(K, seeds=range(seeds), rating_scale=SCALE)


def ratings_matrix(stream, stop: int) -> sp.csr_matrix:
    """The first `stop` ratings of the stream as a 943 x 1,682 CSR matrix."""
    rows, cols, values = stream.rows[:stop], stream.cols[:stop], stream.values[:stop]
    return sp.csr_matrix((values, (rows, cols)), shape=SHAPE)


def replay(stream, start: int, stop: int, live: LiveModel, variant: str, refit=None) -> Replay:
    """Predict each rating start..stop-1, then learn it (live.rate); refit(t) -> a new live
    model fitted on the first t ratings, called every `refit.every` ratings."""
    result, clock = Replay(variant), time.process_time
    wall = time.perf_counter()
    for t in range(start, stop):
        user, col, value = int(stream.rows[t]), int(stream.cols[t]), float(stream.values[t])
        begin = clock()
        predicted = live.predict([user], [col])[0]
        middle, middle_wall = clock(), time.perf_counter()
        if refit is not None and t > start and (t - start) % refit.every == 0:
            live = refit(t)
        live.rate(user, col, value)
        result.update_seconds.append(time.perf_counter() - middle_wall)
        result.update_cpu.append(clock() - middle)
        result.cpu_predict += middle - begin
        result.errors.append(predicted - value)
    result.wall = time.perf_counter() - wall
    return result


class Refit:
    """Refit the model from scratch on the first t ratings, then fold in (variant c)."""

    def __init__(self, stream, args):
        self.stream, self.args, self.every = stream, args, args.refit_every

    def __call__(self, t: int) -> LiveModel:
        model = make_model(self.args.model, self.args.K, self.args.seeds)
        model.fit(ratings_matrix(self.stream, t))
        return LiveModel(model, fold_in_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", choices=("residual-mixture", "course-em"), default="residual-mixture"
    )
    parser.add_argument("--K", type=int, default=12, help="components per mixture (default 12)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--refit-every", type=int, default=1000, help="variant (c)'s period")
    parser.add_argument("--limit", type=int, default=None, help="replay only this many ratings")
    parser.add_argument("--json", action="store_true", help="print one JSON row per variant")
    parser.add_argument(
        "--only",
        default="fold-in,incremental,refit",
        help="the variants to run, comma-separated (default all three, whose ratios it prints)",
    )
    args = parser.parse_args()

    stream = movielens_100k_stream()
    start = len(stream.values) // 2
    stop = len(stream.values) if args.limit is None else min(start + args.limit, len(stream.values))
    begin = time.perf_counter()
    model = make_model(args.model, args.K, args.seeds).fit(ratings_matrix(stream, start))
    fit_seconds = time.perf_counter() - begin

    variants = {
        "fold-in": lambda: replay(
            stream, start, stop, LiveModel(model, fold_in_only=True), "fold-in"
        ),
        "incremental": lambda: replay(stream, start, stop, LiveModel(model), "incremental"),
        "refit": lambda: replay(
            stream,
            start,
            stop,
            LiveModel(model, fold_in_only=True),
            f"refit-{args.refit_every}",
            refit=Refit(stream, args),
        ),
    }
    rows = [variants[name]().row() for name in args.only.split(",")]
    if args.json:
        for row in rows:
            print(json.dumps({"model": args.model, "K": args.K, "seeds": args.seeds, **row}))
        return
    print(
        f"{args.model}, K = {args.K}, seeds 0-{args.seeds - 1}: fitted on the first {start:,} "
        f"ratings in {fit_seconds:.2f} s; {stop - start:,} ratings replayed in time order"
    )
    print(
        f"{'variant':14s}{'RMSE':>8s}{'CPU s':>9s}{'learn':>9s}{'wall s':>9s}"
        f"{'p50 ms':>9s}{'p99 ms':>9s}{'max ms':>10s}{'p99 CPU ms':>12s}"
    )
    for row in rows:
        print(
            f"{row['variant']:14s}{row['rmse']:8.4f}{row['seconds']:9.2f}"
            f"{row['learn_seconds']:9.2f}{row['wall_seconds']:9.2f}{row['p50_update_ms']:9.3f}"
            f"{row['p99_update_ms']:9.3f}{row['max_update_ms']:10.1f}"
            f"{row['p99_update_cpu_ms']:12.3f}"
        )
    if len(rows) < 3:
        return
    fold, incremental, refit = rows
    print(
        f"incremental against the refit: RMSE {incremental['rmse'] - refit['rmse']:+.4f}, "
        f"{refit['seconds'] / incremental['seconds']:.1f} x less compute (CPU; "
        f"{refit['learn_seconds'] / incremental['learn_seconds']:.1f} x less learning, "
        f"{refit['wall_seconds'] / incremental['wall_seconds']:.1f} x less wall-clock); "
        f"against fold-in: RMSE {incremental['rmse'] - fold['rmse']:+.4f}"
    )


if __name__ == "__main__":
    main()
