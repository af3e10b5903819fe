"""Benchmarks, measured side by side in one run: ``python -m cfcore bench [--json] [--quick]``.

Four sections:

- ``course``: EM with missing data, K=12, seeds 0-4, on the course's Netflix matrix:
  cfcore on the dense matrix, on the same matrix as CSR, and the per-user loop version of
  the same algorithm (``cfcore.bench.loop_em``);
- ``complete``: EM on complete data (``naive_em``) against scikit-learn's
  ``GaussianMixture(covariance_type="spherical")``, seconds per iteration;
- ``scale``: the sparse path at MovieLens-25M and Netflix-Prize size, in float64 and float32,
  the numpy path (four matrix products) beside the fused one-pass kernel: seconds per
  iteration, peak resident memory, ns per (rating x component) per iteration, and the
  distance to the floor (the bytes an iteration must move over the streaming bandwidth
  measured in the same process); then the residual mixture per fold on MovieLens 100K u1
  and on a long-tailed matrix, the reference path (numpy, one seed after another) beside the
  faster ones (``cfcore.bench.residual``);
- ``scaling``: seconds per iteration against the number of ratings and against K, drawn
  into figures/scaling_em_sparse.png;
- ``dask``: the Netflix-Prize-size matrix written to Parquet, then EM on a 2-worker Dask
  LocalCluster beside EM in one process, alternating, with their log-likelihood traces
  compared (``cfcore.bench.cluster``; needs the ``dask`` extra).

Timings are wall-clock seconds, the best of a few repeats; they depend on what else the
machine runs, so the ratios of timings taken side by side are the figures to compare.
"""

from __future__ import annotations

from ..engine import numba_available
from . import scale
from .report import RESIDUAL, format_report, targets
from .residual import LONG_TAIL, residual_benchmarks
from .sections import complete_data_em, course_em, course_matrix

SECTIONS = ("course", "complete", "scale", "scaling", "dask")

#: the sizes measured: full, and --quick (small, to check the benchmark runs end to end)
FULL = {
    "course": {"K": 12, "seeds": range(5), "repeat": 3},
    "complete": {"shapes": [(1_200, 1_200), (100_000, 50)], "K": 12, "iterations": (10, 60)},
    "scale": {
        "sizes": {
            "MovieLens-25M size": scale.MOVIELENS_25M,
            "Netflix-Prize size": scale.NETFLIX_PRIZE,
        },
        "K": 12,
        "n_iter": 10,
        "residual": {"K": 10, "seeds": range(20), "repeat": 3, "long_tail": LONG_TAIL},
    },
    "scaling": {
        "ratings": (1_000_000, 10_000_000, scale.NETFLIX_PRIZE[2]),
        "Ks": (4, 12, 32),
        "K": 12,
        "ratings_for_K": 10_000_000,
    },
    "dask": {"users": scale.NETFLIX_PRIZE[0], "K": 12, "iterations": 5, "rounds": 2},
}
QUICK = {
    "course": {"K": 4, "seeds": range(2), "repeat": 1, "users": 100},
    "complete": {"shapes": [(300, 40), (2_000, 10)], "K": 4, "iterations": (2, 4)},
    "scale": {
        "sizes": {"small": (2_000, 500, 20_000), "smaller": (1_000, 300, 6_000)},
        "K": 4,
        "n_iter": 3,
        "residual": {
            "K": 3,
            "seeds": range(2),
            "repeat": 1,
            "long_tail": (1_500, 800, 8_000),
            "movielens": False,
        },
    },
    "scaling": {
        "ratings": (10_000, 30_000, 100_000),
        "Ks": (2, 4, 8),
        "K": 4,
        "ratings_for_K": 30_000,
    },
    "dask": {"users": 2_000, "K": 3, "iterations": 2, "rounds": 1, "users_per_partition": 500},
}


def run(
    quick: bool = False, sections=SECTIONS, *, progress: bool = False, make_matrix=None
) -> dict:
    """Run the benchmark sections and return every figure (the CLI prints them).

    make_matrix: f(n_users, n_items, n_ratings, n_clusters) -> CSR matrix, the generator of
    the large matrices (default ``scale.planted_ratings``, i.e. ``data.make_ratings``);
    it must be a module-level function (it runs in a fresh process).
    A section that cannot run (a missing package or generator) reports {"error": ...}.
    """
    sizes = QUICK if quick else FULL
    make_matrix = make_matrix or scale.planted_ratings
    results: dict = {"quick": quick}
    for section in sections:
        if section not in SECTIONS:
            raise ValueError(f"sections must be among {SECTIONS}, got {section!r}")
    for section in sections:
        try:
            results[section] = _SECTION_RUNNERS[section](
                sizes[section], results, make_matrix, progress
            )
        except (ImportError, RuntimeError) as error:
            results[section] = {"error": f"{type(error).__name__}: {error}"}
    if not quick:
        results["targets"] = targets(results)
    return results


def _run_course(options, results, make_matrix, progress):
    X, source = course_matrix(options.get("users"))
    return {
        "data": source,
        **course_em(X, K=options["K"], seeds=options["seeds"], repeat=options["repeat"]),
    }


def _run_complete(options, results, make_matrix, progress):
    return [
        complete_data_em(n, d, K=options["K"], iterations=options["iterations"])
        for n, d in options["shapes"]
    ]


def _run_scale(options, results, make_matrix, progress):
    measured = {}
    engines = ("numpy", "fused") if numba_available() else ("numpy",)
    for name, (users, items, ratings) in options["sizes"].items():
        runs = [  # float64 first: the child casts the matrix once, to float32
            {
                "K": options["K"],
                "n_iter": options["n_iter"],
                "dtype": dtype,
                "engine": engine,
                "progress": progress,
            }
            for dtype in ("float64", "float32")
            for engine in engines
        ]
        arguments = (users, items, ratings, scale.PLANTED_CLUSTERS)
        measured[name] = scale.in_child(make_matrix, arguments, runs)
    measured[RESIDUAL] = residual_benchmarks(options["residual"])
    return measured


def _run_scaling(options, results, make_matrix, progress):
    known = {}
    for runs in results.get("scale", {}).values():
        if isinstance(runs, list):
            for result in runs:
                if result["dtype"] == "float64" and result["engine"] == _default_engine():
                    known[result["matrix_arguments"][2], result["K"]] = result
    law = scale.scaling_law(make_matrix, known=known, progress=progress, **options)
    # --quick checks the drawing too, but must not overwrite the README's figure
    name = "scaling_em_sparse_quick" if results.get("quick") else "scaling_em_sparse"
    law["figure"] = str(scale.plot_scaling(law, name))
    return law


def _run_dask(options, results, make_matrix, progress):
    from .cluster import measure  # it imports dask.distributed: ImportError without the extra

    return measure(**options)


def _default_engine() -> str:
    """The engine a fit uses by default here (the scaling section measures that one)."""
    return "fused" if numba_available() else "numpy"


_SECTION_RUNNERS = {
    "course": _run_course,
    "complete": _run_complete,
    "scale": _run_scale,
    "scaling": _run_scaling,
    "dask": _run_dask,
}


__all__ = ["SECTIONS", "course_em", "complete_data_em", "format_report", "run", "targets"]
