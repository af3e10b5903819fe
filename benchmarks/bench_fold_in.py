"""Time of folding a new MovieLens user into a fitted mixture, beside refitting with them.

    python benchmarks/bench_fold_in.py                  # K = 4, five ratings, u1 fold
    python benchmarks/bench_fold_in.py --K 12 --ratings 20

Fits ``movielens_recommender`` (cfcore.em on the u1 training ratings, 943 users x 1,682
movies) once, then times, for a new user who rated a handful of movies:

- ``Recommender.fold_in``: one E-step on their row and the posterior-mean prediction and
  spread for all 1,682 items (what the widgets call at every rating);
- ``Recommender.top_n``: the same plus ranking the unrated items;
- the alternative without fold-in: refit the mixture on the 944 users (same K, same seeds).

Each fold-in figure is the median (and 99th percentile) of many repeats; the refit is run
a few times. Needs MovieLens 100K under $CFCORE_DATA/ml-100k (else it is downloaded).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from cfcore import fit
from cfcore.apps.recommender import movielens_recommender
from cfcore.data import load_movielens_100k
from cfcore.models import random_responsibilities


def timings(function, repeats: int) -> np.ndarray:
    """Seconds of each of `repeats` calls, after one warm-up call."""
    function()
    seconds = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        function()
        seconds[k] = time.perf_counter() - start
    return seconds


def new_user(recommender, n_ratings: int, seed: int = 0) -> dict:
    """n_ratings of the most rated movies, chosen at random, rated 1-5 at random."""
    rng = np.random.default_rng(seed)
    popular = recommender.search("", limit=200)
    chosen = rng.choice(popular, size=n_ratings, replace=False)
    return {int(item): int(rng.integers(1, 6)) for item in chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--K", type=int, default=4, help="clusters (default 4)")
    parser.add_argument("--ratings", type=int, default=5, help="the new user's ratings")
    parser.add_argument("--repeats", type=int, default=2000, help="fold-ins timed")
    parser.add_argument("--refits", type=int, default=3, help="refits timed")
    args = parser.parse_args()

    data = load_movielens_100k()
    seeds = range(3)
    start = time.perf_counter()
    recommender = movielens_recommender("u1", K=args.K, seeds=seeds, data=data)
    print(f"fit once: K={args.K}, seeds 0-2, {time.perf_counter() - start:.2f} s")
    ratings = new_user(recommender, args.ratings)
    user = recommender.fold_in(ratings)
    print(
        f"new user: {len(ratings)} ratings -> posterior {np.round(user.post, 3).tolist()}, "
        f"{user.predictions.size:,} items predicted, {int((~user.rated).sum()):,} of them unrated"
    )

    fold = timings(lambda: recommender.fold_in(ratings), args.repeats)
    top = timings(lambda: recommender.top_n(ratings, 10), args.repeats)

    train = recommender.train.matrix
    row = recommender.row(ratings)
    with_user = sp.vstack([train, row], format="csr")
    refit = timings(
        lambda: fit(with_user, args.K, seeds=seeds, init=random_responsibilities), args.refits
    )

    median_fold, median_refit = np.median(fold), np.median(refit)
    print(f"{'':28s}{'median':>12s}{'99th pct':>12s}")
    for label, seconds in (("fold_in (all 1,682 items)", fold), ("top_n (fold_in + rank)", top)):
        p50, p99 = np.percentile(seconds, [50, 99]) * 1e3
        print(f"{label:28s}{p50:10.3f} ms{p99:10.3f} ms")
    print(f"{'refit on 944 users':28s}{median_refit * 1e3:10.1f} ms")
    print(f"fold-in is {median_refit / median_fold:,.0f} x faster than refitting")
    verdict = "meets" if np.percentile(fold, 99) < 0.010 else "MISSES"
    print(f"target: fold-in under 10 ms -> {verdict} it (99th percentile)")


if __name__ == "__main__":
    main()
