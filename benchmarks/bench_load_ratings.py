"""Time of ``cfcore.data.load_ratings`` on a MovieLens-1M-sized file, beside a plain loop.

    python benchmarks/bench_load_ratings.py               # 6,040 x 3,952, 1,000,209 ratings
    python benchmarks/bench_load_ratings.py --ratings 200000

The file is written to a temporary folder in the MovieLens 1M format
(user::item::rating::timestamp, shuffled lines) from make_ratings, then read back by
load_ratings and by a straightforward csv-module loop with a dict remapping the ids; the
two matrices are checked to be equal and the ratio of the times is printed. A second file
has string ids ("u17", "movie 42") and a header, in CSV.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cfcore.data import load_ratings, make_ratings


def write_movielens_1m_format(path: Path, n_users, n_items, n_ratings, strings: bool) -> int:
    data, _ = make_ratings(n_users, n_items, 5, n_ratings / (n_users * n_items), seed=0)
    rows, cols, values = data.triples()
    rng = np.random.default_rng(0)
    order = rng.permutation(rows.size)
    stamps = rng.integers(956_703_932, 1_046_454_590, size=rows.size)
    with open(path, "w") as stream:
        if strings:
            stream.write("user,item,rating,timestamp\n")
            template = "u{},movie {},{:g},{}\n"
        else:
            template = "{}::{}::{:g}::{}\n"
        for k in order:
            stream.write(template.format(rows[k] + 1, cols[k] + 1, values[k], stamps[k]))
    return rows.size


def plain_loop(path: Path, strings: bool) -> sp.csr_matrix:
    """The straightforward reader: split every line in Python, remap ids with dicts."""
    users, items, rows, cols, values = {}, {}, [], [], []
    with open(path, newline="") as stream:
        reader = csv.reader(stream) if strings else (line.split("::") for line in stream)
        if strings:
            next(reader)
        for fields in reader:
            rows.append(users.setdefault(fields[0], len(users)))
            cols.append(items.setdefault(fields[1], len(items)))
            values.append(float(fields[2]))
    # number the ids in sorted order, as load_ratings does
    user_rank = _sorted_ranks(users, strings)
    item_rank = _sorted_ranks(items, strings)
    matrix = sp.csr_matrix(
        (values, (user_rank[rows], item_rank[cols])), shape=(len(users), len(items))
    )
    matrix.sort_indices()
    return matrix


def _sorted_ranks(ids: dict, strings: bool) -> np.ndarray:
    keys = list(ids) if strings else [int(key) for key in ids]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    return rank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6_040)
    parser.add_argument("--items", type=int, default=3_952)
    parser.add_argument("--ratings", type=int, default=1_000_209, help="expected number")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for strings, label in ((False, "MovieLens 1M format (::, integer ids)"),
                               (True, "CSV with a header and string ids")):  # fmt: skip
            path = Path(folder) / ("ratings.csv" if strings else "ratings.dat")
            n = write_movielens_1m_format(path, args.users, args.items, args.ratings, strings)
            start = time.perf_counter()
            data = load_ratings(path)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            reference = plain_loop(path, strings)
            loop = time.perf_counter() - start
            assert (data.matrix != reference).nnz == 0 and data.shape == reference.shape
            print(f"{label}: {n:,} lines, {path.stat().st_size / 1e6:.1f} MB")
            print(f"  load_ratings   {ours:6.2f} s")
            print(f"  plain loop     {loop:6.2f} s")
            print(f"  speed-up       {loop / ours:6.1f} x (same matrix)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
