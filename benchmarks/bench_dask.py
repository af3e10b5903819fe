"""EM on a 2-worker Dask LocalCluster from Parquet, beside EM in one process, in one run.

    python benchmarks/bench_dask.py                    # Netflix-Prize size, 5 iterations, K = 12
    python benchmarks/bench_dask.py --users 48019      # a tenth of the users, same density
    python benchmarks/bench_dask.py --json             # the figures as JSON (last line)

The ``dask`` section of ``python -m cfcore bench`` with options of its own; what it
measures is said in ``cfcore.bench.cluster``. Exits 1 when the two log-likelihood traces
differ by more than 1e-10 relative.
"""

from __future__ import annotations

import argparse
import json
import sys

from cfcore.bench.cluster import measure, report
from cfcore.bench.scale import NETFLIX_PRIZE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=NETFLIX_PRIZE[0])
    parser.add_argument("--K", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="fits each way, alternating")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users-per-partition", type=int, default=50_000)
    parser.add_argument("--folder", help="where to write the Parquet (kept); default: scratch")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(
        users=args.users,
        K=args.K,
        iterations=args.iterations,
        rounds=args.rounds,
        workers=args.workers,
        users_per_partition=args.users_per_partition,
        folder=args.folder,
    )
    print(report(figures))
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
