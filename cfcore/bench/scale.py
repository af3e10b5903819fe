"""EM with missing data on large sparse matrices: seconds per iteration, peak memory, scaling.

``sparse_em`` fits a CSR matrix for a few iterations and times each one. ``in_child`` builds
a matrix and runs ``sparse_em`` on it in a fresh process, so that the peak resident memory it
reports belongs to that fit alone (the matrix included), not to whatever the calling process
holds. ``scaling_law`` and ``plot_scaling`` measure and draw the time per iteration against the
number of ratings and against K.
"""

from __future__ import annotations

import gc
import time

import numpy as np

from .. import common, em
from ..engine import ProgressBar, prepare, using, with_data
from .processes import in_fresh_process

#: (users, items, ratings) of the two public data sets whose size the benchmark reproduces
MOVIELENS_25M = (162_541, 59_047, 25_000_095)
NETFLIX_PRIZE = (480_189, 17_770, 100_480_507)

#: clusters planted in every generated matrix (the data does not change with the K fitted)
PLANTED_CLUSTERS = 12


def sparse_em(
    X,
    *,
    K: int = 12,
    n_iter: int = 10,
    seed: int = 0,
    dtype=np.float64,
    threads: int | None = None,
    progress: bool = False,
    engine: str = "auto",
) -> dict:
    """Run exactly ``n_iter`` EM iterations on a CSR ratings matrix and time every one.

    engine: "numpy" (the four matrix products of ``cfcore.em``), "fused" (the compiled
    one-pass kernel, ``cfcore.engine.fused``) or "auto" (the kernel when numba is there).
    Returns seconds per iteration (the median), ns per (rating x component) per iteration,
    the log-likelihood trace, whether it rose at every iteration and its largest relative
    fall (rounding can make a converged log-likelihood dip by ~1e-15), and the time spent
    checking and laying out X (``engine.prepare``) and initialising (``common.init``).
    """
    with using(engine):
        result = _sparse_em(X, K, n_iter, seed, dtype, threads, progress)
    result["engine"] = "fused" if engine == "fused" or (engine == "auto" and _fuses()) else "numpy"
    return result


def _fuses() -> bool:
    from ..engine import numba_available

    return numba_available()


def _sparse_em(X, K, n_iter, seed, dtype, threads, progress) -> dict:
    start = time.perf_counter()
    mixture, post = common.init(X, K, seed)
    init_seconds = time.perf_counter() - start
    start = time.perf_counter()
    data = prepare(X, dtype=dtype, threads=threads)
    prepare_seconds = time.perf_counter() - start

    gc.collect()
    setup_peak = _peak_memory()  # init and layout
    reset = _reset_peak_memory()  # from here: the iterations' own peak (the layout included)
    stamps, trace = [time.perf_counter()], []
    with ProgressBar(f"EM K={K} {np.dtype(dtype).name}", enabled=progress) as show:

        def record(iteration, ll, mixture):
            stamps.append(time.perf_counter())
            trace.append(float(ll))
            show(iteration, ll)

        # exactly n_iter iterations, even where the course's stopping rule would stop
        em.run_full(data, mixture, post, max_iter=n_iter, callback=record, tol=-np.inf)
    iterations_peak = _peak_memory() if reset else None
    seconds = np.diff(stamps)
    per_iteration = float(np.median(seconds))
    return {
        "setup_peak_rss_bytes": setup_peak,
        "iterations_peak_rss_bytes": iterations_peak,
        "best_iteration_seconds": float(np.min(seconds)),
        "users": X.shape[0],
        "items": X.shape[1],
        "ratings": int(X.nnz),
        "K": K,
        "dtype": np.dtype(dtype).name,
        "threads": data.threads,
        "blocks": len(data.blocks),
        "iterations": len(trace),
        "seconds_per_iteration": per_iteration,
        "iteration_seconds": seconds.tolist(),
        "ns_per_rating_component": per_iteration / (X.nnz * K) * 1e9,
        "init_seconds": init_seconds,
        "prepare_seconds": prepare_seconds,
        "log_likelihood": trace,
        "monotonic": bool(np.all(np.diff(trace) >= 0)),
        "largest_relative_fall": float(max(0.0, -np.min(np.diff(trace) / np.abs(trace[1:]))))
        if len(trace) > 1
        else 0.0,
    }


def matrix_bytes(X) -> int:
    """Memory held by a CSR matrix: its values, column indices and row pointers."""
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def bytes_per_iteration(X, K: int) -> int:
    """The least an EM iteration must move: the ratings read once (values, column indices,
    row pointers) and the n x K posteriors written once, in bytes."""
    return matrix_bytes(X) + X.shape[0] * K * 8


#: the array streamed by ``streaming_bandwidth``: larger than any cache
_STREAM_BYTES = 1 << 28


def streaming_bandwidth(repeat: int = 5) -> float:
    """Bytes per second one core reads from memory: a numpy sum over a 256 MB array, the
    best of ``repeat``. The floor of an iteration is ``bytes_per_iteration`` over it."""
    values = np.ones(_STREAM_BYTES // 8)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        values.sum()
        best = min(best, time.perf_counter() - start)
    return values.nbytes / best


def with_floor(result: dict, X, bandwidth: float) -> dict:
    """The result with the floor of its iteration: bytes moved / streaming bandwidth."""
    moved = bytes_per_iteration(X, result["K"])
    floor = moved / bandwidth
    result.update(
        bytes_per_iteration=moved,
        stream_bytes_per_second=bandwidth,
        floor_seconds=floor,
        over_floor=result["seconds_per_iteration"] / floor,
    )
    return result


def _proc_status(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status, in bytes (None off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_memory() -> bool:
    """Restart the peak resident memory (VmHWM) from the current one; False if Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _peak_memory() -> int:
    peak = _proc_status("VmHWM")
    if peak is None:  # not Linux: the peak over the whole process, in kB (bytes on macOS)
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == "darwin" else 1024
    return peak


def _measure(X, options: dict) -> dict:
    """``sparse_em`` with the peak resident memory of this process while it ran."""
    gc.collect()
    reset = _reset_peak_memory()
    before = _proc_status("VmRSS")
    result = sparse_em(X, **options)
    result.update(
        peak_rss_bytes=max(result["setup_peak_rss_bytes"], _peak_memory()),
        rss_before_bytes=before,
        matrix_bytes=matrix_bytes(X),
        peak_covers="the fit alone (the matrix included)" if reset else "the whole process",
    )
    return result


def _fit_runs(make_matrix, arguments: tuple, runs: list[dict]) -> list[dict]:
    """In the child: build the matrix, then every run on it (``in_child``)."""
    start = time.perf_counter()
    X = make_matrix(*arguments)
    made = {
        "matrix_arguments": list(arguments),
        "make_seconds": time.perf_counter() - start,
        "make_peak_bytes": _peak_memory(),
    }
    bandwidth = streaming_bandwidth()  # in this process, beside the fits it is the floor of
    results = []
    for options in runs:
        dtype = np.dtype(options.get("dtype", np.float64))
        if X.dtype != dtype:  # hold the matrix in the run's dtype only, as a user would
            X = with_data(X, X.data.astype(dtype))
        results.append(with_floor({**made, **_measure(X, options)}, X, bandwidth))
    return results


def in_child(make_matrix, arguments: tuple, runs: list[dict]) -> list[dict]:
    """Build X = make_matrix(*arguments) in a fresh process, then ``sparse_em(X, **options)``
    for every options dict in ``runs`` (float64 runs first: X is cast to each run's dtype).

    make_matrix must be importable by name (a module-level function), since the child
    process starts afresh. Each result adds the peak resident memory during that fit
    (``peak_rss_bytes``, the matrix included), the memory of X and the time to build it.
    Raises RuntimeError with the child's message if building or fitting failed.
    """
    return in_fresh_process(_fit_runs, make_matrix, arguments, runs)


def planted_ratings(
    n_users: int, n_items: int, n_ratings: int, n_clusters: int, seed=0, dtype=None
):
    """A CSR matrix of about n_ratings ratings 1-5 from users in n_clusters planted clusters
    (``cfcore.data.make_ratings``)."""
    from ..data import make_ratings

    density = n_ratings / (n_users * n_items)
    data, _ = make_ratings(
        n_users, n_items, n_clusters, density, seed=seed, dtype=dtype or np.float64
    )
    return data.matrix


def shape_with_ratings(n_ratings: int, shape=NETFLIX_PRIZE) -> tuple[int, int, int]:
    """(users, items, ratings): the users of ``shape`` scaled to hold n_ratings ratings."""
    users, items, ratings = shape
    return max(round(users * n_ratings / ratings), 2), items, int(n_ratings)


def scaling_law(
    make_matrix=planted_ratings,
    *,
    ratings=(1_000_000, 10_000_000, 100_000_000),
    Ks=(4, 12, 32),
    K: int = 12,
    ratings_for_K: int = 10_000_000,
    n_iter: int = 3,
    known: dict | None = None,
    progress: bool = False,
) -> dict:
    """Seconds per iteration against the number of ratings (at K) and against K.

    Every matrix is Netflix-shaped (17,770 items, users scaled to the number of ratings,
    12 planted clusters) and built in a fresh process that runs ``n_iter`` iterations for
    every K it is measured at. known: {(ratings, K): result} of points already measured
    (e.g. the Netflix-size run), reused instead of measured again.
    Returns the points and the fitted exponents a, b of time ~ ratings^a and time ~ K^b.
    """
    known = dict(known or {})
    wanted = {r: [K] for r in ratings}
    for_K = wanted.setdefault(ratings_for_K, [])
    for_K += [k for k in Ks if k not in for_K]
    for n_ratings, components in wanted.items():
        missing = [k for k in components if (n_ratings, k) not in known]
        if missing:
            users, items, _ = shape_with_ratings(n_ratings)
            runs = [{"K": k, "n_iter": n_iter, "progress": progress} for k in missing]
            results = in_child(make_matrix, (users, items, n_ratings, PLANTED_CLUSTERS), runs)
            known.update(
                {(n_ratings, k): result for k, result in zip(missing, results, strict=True)}
            )
    points = [
        {
            "ratings": n_ratings,
            "stored_ratings": known[n_ratings, k]["ratings"],
            "K": k,
            "seconds_per_iteration": known[n_ratings, k]["seconds_per_iteration"],
            "ns_per_rating_component": known[n_ratings, k]["ns_per_rating_component"],
        }
        for n_ratings, components in wanted.items()
        for k in components
    ]
    by_ratings = [p for p in points if p["K"] == K and p["ratings"] in ratings]
    by_K = [p for p in points if p["ratings"] == ratings_for_K]
    return {
        "points": points,
        "K": K,
        "ratings_for_K": ratings_for_K,
        "exponent_ratings": _slope(by_ratings, "stored_ratings"),
        "exponent_K": _slope(by_K, "K"),
    }


def _slope(points: list[dict], key: str) -> float:
    """The exponent a of seconds ~ x^a, by least squares on log-log axes."""
    x = np.log([p[key] for p in points])
    y = np.log([p["seconds_per_iteration"] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def plot_scaling(law: dict, name: str = "scaling_em_sparse"):
    """Draw seconds per iteration against ratings and against K; save figures/<name>.png."""
    import matplotlib.pyplot as plt

    from ..apps.plotting import savefig

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    panels = (
        (
            left,
            [p for p in law["points"] if p["K"] == law["K"]],
            "stored_ratings",
            "ratings",
            f"K = {law['K']}",
            law["exponent_ratings"],
        ),
        (
            right,
            [p for p in law["points"] if p["ratings"] == law["ratings_for_K"]],
            "K",
            "components K",
            f"{law['ratings_for_K']:,} ratings",
            law["exponent_K"],
        ),
    )
    for ax, points, key, label, title, exponent in panels:
        points = sorted(points, key=lambda p: p[key])
        x = np.array([p[key] for p in points], dtype=float)
        y = np.array([p["seconds_per_iteration"] for p in points])
        ax.loglog(x, y, "o-", label=f"measured (slope {exponent:.2f})")
        ax.loglog(x, y[0] * x / x[0], "k:", label="proportional (slope 1)")
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per EM iteration")
        ax.set_title(title)
        ax.legend()
        if key == "K":  # label the K measured, not powers of ten
            ax.set_xticks(x, [f"{k:g}" for k in x])
            ax.set_xticks([], minor=True)
    fig.suptitle("EM with missing data on sparse ratings: time per iteration")
    fig.tight_layout()
    path = savefig(name, fig)
    plt.close(fig)
    return path
