"""EM on a 2-worker Dask LocalCluster from Parquet, beside EM in one process, in one run.

The ``dask`` section of ``python -m cfcore bench`` (``benchmarks/bench_dask.py`` runs it
alone, with its own options):

1. The planted matrix of the ``scale`` section (``make_ratings``, 480,189 x 17,770,
   100.5M ratings, 12 planted clusters, seed 0) is written to Parquet partition by
   partition from ``cfcore.data.planted_blocks``, in a fresh process whose peak resident
   memory is reported (the matrix is never held whole).
2. One process: the Parquet read back (``read_ratings``), ``init_observed_rows`` and
   ``em.run_full`` for exactly ``iterations`` iterations, in a fresh process, on every core.
3. Dask: a LocalCluster of 2 worker processes, 1 thread each, on 127.0.0.1; the partitions
   loaded by the workers (``load_dask_ratings``), ``init_observed_rows_dask`` and
   ``run_em_dask`` for the same iterations.
``measure`` returns the write time and peak memory, seconds per iteration side by side (the
median; the first iteration includes compiling the fused kernel where numba is installed
and the engine uses it), the largest relative difference of the two log-likelihood traces,
starts and final mixtures (the target: 1e-10), the workers' memory, and the load average
before and after; ``report`` says it as text. Needs the ``dask`` extra.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .processes import in_fresh_process
from .scale import NETFLIX_PRIZE, PLANTED_CLUSTERS

#: the tolerance between the Dask and the one-process log-likelihood traces
SAME = 1e-10
GIB = 1024**3


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _rss() -> int:
    import psutil  # a dependency of dask.distributed

    return psutil.Process().memory_info().rss


def write(path: str, users: int, items: int, density: float, users_per_partition: int) -> dict:
    """In a child: the planted matrix written as Parquet from its stream of blocks."""
    from ..data import planted_blocks, write_parquet

    after_imports = _peak_rss()
    start = time.perf_counter()
    stream, _ = planted_blocks(users, items, PLANTED_CLUSTERS, density, seed=0)
    meta = write_parquet(stream, path, users_per_partition=users_per_partition, overwrite=True)
    seconds = time.perf_counter() - start
    files = sum(f.stat().st_size for f in Path(path).iterdir())
    return {
        "write_seconds": seconds,
        "writer_peak_rss": _peak_rss(),
        "writer_rss_after_imports": after_imports,
        "users": meta.n_users,
        "items": meta.n_items,
        "ratings": meta.n_ratings,
        "partitions": meta.n_partitions,
        "parquet_bytes": files,
        "matrix_bytes": meta.n_ratings * 12 + (meta.n_users + 1) * 4,  # float64 + int32 CSR
    }


def _timed_run(run, *args, **kwargs) -> tuple[dict, object]:
    stamps, trace = [time.perf_counter()], []

    def record(iteration, ll, mixture):
        stamps.append(time.perf_counter())
        trace.append(float(ll))

    outcome = run(*args, callback=record, **kwargs)
    seconds = np.diff(stamps)
    return {
        "iteration_seconds": seconds.tolist(),
        "seconds_per_iteration": float(np.median(seconds)),
        "log_likelihood": trace,
    }, outcome


def one_process(path: str, K: int, iterations: int) -> dict:
    """In a child: the Parquet read back whole, then em.run_full on every core."""
    from .. import em
    from ..data import read_ratings
    from ..engine import prepare
    from ..models import init_observed_rows

    start = time.perf_counter()
    X = read_ratings(path).matrix
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    mixture, post = init_observed_rows(X, K, seed=0)
    init_seconds = time.perf_counter() - start
    data = prepare(X)
    figures, outcome = _timed_run(
        em.run_full, data, mixture, post, max_iter=iterations, tol=-np.inf
    )
    return {
        **figures,
        "read_seconds": read_seconds,
        "init_seconds": init_seconds,
        "threads": data.threads,
        "start": [np.asarray(a).tolist() for a in mixture],
        "final": [np.asarray(a).tolist() for a in outcome.mixture],
        "peak_rss": _peak_rss(),
    }


def dask_fit(ratings, K: int, iterations: int) -> dict:
    """init_observed_rows_dask and run_em_dask on ratings already on the cluster."""
    from ..models.distributed import init_observed_rows_dask, run_em_dask

    start = time.perf_counter()
    mixture, _ = init_observed_rows_dask(ratings, K, seed=0)
    init_seconds = time.perf_counter() - start
    figures, outcome = _timed_run(
        run_em_dask, ratings, mixture, max_iter=iterations, tol=-np.inf, gather_posterior=False
    )
    return {
        **figures,
        "init_seconds": init_seconds,
        "start": [np.asarray(a).tolist() for a in mixture],
        "final": [np.asarray(a).tolist() for a in outcome.mixture],
    }


def _rounds(runs: list[dict]) -> dict:
    """The runs of every round as one: the first's figures, every iteration's seconds."""
    seconds = [s for run in runs for s in run["iteration_seconds"]]
    return {
        **runs[0],
        "iteration_seconds": [run["iteration_seconds"] for run in runs],
        "seconds_per_iteration": float(np.median(seconds)),
        "best_iteration_seconds": float(np.min(seconds)),
        "traces": [run["log_likelihood"] for run in runs],
        "finals": [run["final"] for run in runs],
    }


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _uptime() -> str:
    try:
        with open("/proc/uptime") as up:
            seconds = float(up.read().split()[0])
    except OSError:
        seconds = float("nan")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"up {seconds / 3600:.1f} h, load average {load}"


def measure(
    *,
    users: int = NETFLIX_PRIZE[0],
    K: int = 12,
    iterations: int = 5,
    rounds: int = 2,
    workers: int = 2,
    users_per_partition: int = 50_000,
    folder: str | None = None,
) -> dict:
    """Write; then ``rounds`` times EM in one process and EM on Dask, one after the other
    (so both meet the same load on a busy machine): every figure of the report, as a dict."""
    from distributed import Client, LocalCluster

    from ..models.distributed import load_dask_ratings

    n_users, n_items, n_ratings = NETFLIX_PRIZE
    density = n_ratings / (n_users * n_items)  # the density of python -m cfcore bench's matrix
    scratch = folder is None
    folder = folder or tempfile.mkdtemp(prefix="cfcore-dask-")
    path = str(Path(folder) / "ratings")
    figures = {"uptime_before": _uptime(), "K": K, "iterations": iterations, "rounds": rounds}
    try:
        figures["written"] = in_fresh_process(
            write, path, users, n_items, density, users_per_partition
        )
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        with cluster, Client(cluster) as client:
            empty = client.run(_rss)  # the workers before they hold anything
            start = time.perf_counter()
            ratings = load_dask_ratings(client, path)
            load_seconds = time.perf_counter() - start
            singles, dasks = [], []
            for _ in range(rounds):
                singles.append(in_fresh_process(one_process, path, K, iterations))
                dasks.append(dask_fit(ratings, K, iterations))
            peaks, held = client.run(_peak_rss), client.run(_rss)
            ratings.release()
    finally:
        if scratch:
            shutil.rmtree(folder, ignore_errors=True)
    figures["uptime_after"] = _uptime()
    single, dask = figures["one_process"], figures["dask"] = _rounds(singles), _rounds(dasks)
    dask.update(
        load_seconds=load_seconds,
        workers=workers,
        worker_peak_rss=sorted(peaks.values()),
        worker_rss=sorted(held.values()),
        worker_rss_before=sorted(empty.values()),
    )
    figures["trace_difference"] = max(
        _relative(trace, single["log_likelihood"]) for trace in single["traces"] + dask["traces"]
    )
    figures["start_difference"] = max(
        _relative(a, b) for a, b in zip(dask["start"], single["start"], strict=True)
    )
    figures["final_difference"] = max(
        _relative(a, b)
        for final in single["finals"] + dask["finals"]
        for a, b in zip(final, single["final"], strict=True)
    )
    figures["same"] = figures["trace_difference"] < SAME
    for run in (single, dask):
        del run["start"], run["final"], run["finals"]
    return figures


def _seconds(rounds: list[list[float]]) -> str:
    return "; ".join(", ".join(f"{x:.2f}" for x in run) for run in rounds)


def report(figures: dict) -> str:
    w, single, dask = figures["written"], figures["one_process"], figures["dask"]
    ratio = dask["seconds_per_iteration"] / single["seconds_per_iteration"]
    best = dask["best_iteration_seconds"] / single["best_iteration_seconds"]
    lines = [
        f"EM with missing data, {w['users']:,} x {w['items']:,}, {w['ratings']:,} ratings, "
        f"K = {figures['K']}, {figures['rounds']} rounds of {figures['iterations']} iterations "
        f"each way ({figures['uptime_before']})",
        f"  Parquet written     {w['write_seconds']:.1f} s, {w['partitions']} partitions, "
        f"{w['parquet_bytes'] / GIB:.2f} GiB on disk; writer peak RSS "
        f"{w['writer_peak_rss'] / GIB:.2f} GiB (imports {w['writer_rss_after_imports'] / GIB:.2f}"
        f" GiB; the matrix as CSR would be {w['matrix_bytes'] / GIB:.2f} GiB)",
        f"  one process         {single['seconds_per_iteration']:.2f} s per iteration (median; "
        f"best {single['best_iteration_seconds']:.2f} s; {single['threads']} threads; read "
        f"{single['read_seconds']:.1f} s, start {single['init_seconds']:.1f} s; peak RSS "
        f"{single['peak_rss'] / GIB:.2f} GiB)",
        f"  Dask, {dask['workers']} workers      {dask['seconds_per_iteration']:.2f} s per "
        f"iteration (median; best {dask['best_iteration_seconds']:.2f} s; load "
        f"{dask['load_seconds']:.1f} s, start {dask['init_seconds']:.1f} s; workers' RSS "
        f"{', '.join(f'{p / GIB:.2f}' for p in dask['worker_rss'])} GiB after the fits, "
        f"{', '.join(f'{p / GIB:.2f}' for p in dask['worker_rss_before'])} GiB before the "
        "load, peak "
        f"{', '.join(f'{p / GIB:.2f}' for p in dask['worker_peak_rss'])} GiB)",
        f"  Dask / one process  {ratio:.2f} (median), {best:.2f} (best)",
        f"  iterations (s)      one process {_seconds(single['iteration_seconds'])}",
        f"                      Dask        {_seconds(dask['iteration_seconds'])}",
        f"  log-likelihood      {single['log_likelihood'][-1]:.6f} after {figures['iterations']}"
        f" iterations; traces differ by {figures['trace_difference']:.1e} relative at most "
        f"({'within' if figures['same'] else 'NOT within'} {SAME:g}); starts by "
        f"{figures['start_difference']:.1e}, final mixtures by {figures['final_difference']:.1e}",
        f"  after               {figures['uptime_after']}",
    ]
    return "\n".join(lines)
