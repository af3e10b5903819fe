"""Time and peak memory of ``cfcore.data.make_ratings``, at Netflix-Prize size by default.

    python benchmarks/bench_generator.py                  # 480,189 x 17,770, density 0.01178
    python benchmarks/bench_generator.py --users 48019    # a tenth of the users
    python benchmarks/bench_generator.py --dtype float32

Every measurement runs in a fresh child process, so its peak resident memory (ru_maxrss)
belongs to that run alone: the interpreter with numpy and scipy, plus the generator. The
budget is 2 minutes and 4 GB. Beside it, on the first --loop-users users, the generator is
timed against a straightforward per-user loop (rng.choice without replacement, one user at
a time) producing the same kind of matrix, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

NETFLIX = {"users": 480_189, "items": 17_770, "density": 0.01178}
BUDGET_SECONDS, BUDGET_BYTES = 120.0, 4 * 1024**3


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _loop_version(n_users, n_items, n_clusters, density, seed, dtype):
    """The same model, one user at a time: what the streaming generator replaces."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    means = rng.uniform(1, 5, size=(n_clusters, n_items))
    clusters = rng.integers(0, n_clusters, size=n_users)
    indptr, indices, data = [0], [], []
    for user in range(n_users):
        items = np.sort(rng.choice(n_items, size=rng.binomial(n_items, density), replace=False))
        values = means[clusters[user], items] + 0.8 * rng.standard_normal(items.size)
        data.append(np.clip(np.rint(values), 1, 5).astype(dtype))
        indices.append(items.astype(np.int32))
        indptr.append(indptr[-1] + items.size)
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), (n_users, n_items)
    )


def child(args: argparse.Namespace) -> None:
    """Run one generator in this process and print its figures as JSON."""
    import numpy as np

    from cfcore.data import make_ratings

    dtype = np.dtype(args.dtype)
    rss_before = _peak_rss_bytes()
    start = time.perf_counter()
    if args.child == "stream":
        data, _ = make_ratings(
            args.users, args.items, args.clusters, args.density, seed=args.seed, dtype=dtype
        )
        matrix = data.matrix
    else:
        matrix = _loop_version(
            args.users, args.items, args.clusters, args.density, args.seed, dtype
        )
    seconds = time.perf_counter() - start
    csr_bytes = matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss": _peak_rss_bytes(),
                "rss_after_imports": rss_before,
                "n_ratings": int(matrix.nnz),
                "csr_bytes": int(csr_bytes),
                "density": matrix.nnz / (matrix.shape[0] * matrix.shape[1]),
            }
        )
    )


def run_child(kind: str, args: argparse.Namespace, users: int) -> dict:
    command = [
        sys.executable, __file__, "--child", kind, "--users", str(users),
        "--items", str(args.items), "--clusters", str(args.clusters),
        "--density", str(args.density), "--seed", str(args.seed), "--dtype", args.dtype,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=NETFLIX["users"])
    parser.add_argument("--items", type=int, default=NETFLIX["items"])
    parser.add_argument("--density", type=float, default=NETFLIX["density"])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument(
        "--loop-users", type=int, default=20_000, help="users for the side-by-side (0: skip)"
    )
    parser.add_argument("--child", choices=("stream", "loop"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    gib = 1024**3
    print(
        f"make_ratings: {args.users:,} users x {args.items:,} items, density {args.density}, "
        f"K = {args.clusters}, {args.dtype}, seed {args.seed}"
    )
    result = run_child("stream", args, args.users)
    print(f"  ratings            {result['n_ratings']:,} (density {result['density']:.5f})")
    seconds, peak = result["seconds"], result["peak_rss"]
    print(f"  time               {seconds:.1f} s ({seconds / BUDGET_SECONDS:.2f} of 2 minutes)")
    print(f"  peak RSS           {peak / gib:.2f} GiB ({peak / BUDGET_BYTES:.2f} of 4 GiB)")
    print(f"  of which imports   {result['rss_after_imports'] / gib:.2f} GiB")
    print(f"  CSR result         {result['csr_bytes'] / gib:.2f} GiB (data + indices + indptr)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"  (largest child ru_maxrss seen by this parent: {children / gib:.2f} GiB)")

    if args.loop_users > 0:
        users = min(args.loop_users, args.users)
        stream = run_child("stream", args, users)
        loop = run_child("loop", args, users)
        print(f"side by side on {users:,} users:")
        for label, figures in (("streaming generator", stream), ("per-user loop", loop)):
            rate = figures["n_ratings"] / figures["seconds"] / 1e6
            print(f"  {label:20s} {figures['seconds']:7.2f} s  {rate:6.1f} M ratings/s")
        print(f"  speed-up           {loop['seconds'] / stream['seconds']:.1f} x")
    ok = result["seconds"] < BUDGET_SECONDS and result["peak_rss"] < BUDGET_BYTES
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
