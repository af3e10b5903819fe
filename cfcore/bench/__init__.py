"""Benchmarks, measured side by side in one run: ``python -m cfcore bench [--json] [--quick]``.

Four sections:

- ``course``: EM with missing data, K=12, seeds 0-4, on the course's Netflix matrix:
  cfcore on the dense matrix, on the same matrix as CSR, and the per-user loop version of
  the same algorithm (``cfcore.bench.loop_em``);
- ``complete``: EM on complete data (``naive_em``) against scikit-learn's
  ``GaussianMixture(covariance_type="spherical")``, seconds per iteration;
- ``scale``: the sparse path at MovieLens-25M and Netflix-Prize size, in float64 and float32:
  seconds per iteration, peak resident memory, ns per (rating x component) per iteration;
- ``scaling``: seconds per iteration against the number of ratings and against K, drawn
  into figures/scaling_em_sparse.png.

Timings are wall-clock seconds, the best of a few repeats; they depend on what else the
machine runs, so the ratios of timings taken side by side are the figures to compare.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp

from .. import common, em, naive_em
from . import loop_em, scale

SECTIONS = ("course", "complete", "scale", "scaling")

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
    },
    "scaling": {
        "ratings": (1_000_000, 10_000_000, scale.NETFLIX_PRIZE[2]),
        "Ks": (4, 12, 32),
        "K": 12,
        "ratings_for_K": 10_000_000,
    },
}
QUICK = {
    "course": {"K": 4, "seeds": range(2), "repeat": 1, "users": 100},
    "complete": {"shapes": [(300, 40), (2_000, 10)], "K": 4, "iterations": (2, 4)},
    "scale": {
        "sizes": {"small": (2_000, 500, 20_000), "smaller": (1_000, 300, 6_000)},
        "K": 4,
        "n_iter": 3,
    },
    "scaling": {
        "ratings": (10_000, 30_000, 100_000),
        "Ks": (2, 4, 8),
        "K": 4,
        "ratings_for_K": 30_000,
    },
}


def _best_time(work, repeat: int):
    """(the shortest wall-clock time of ``repeat`` calls, the result of the last call)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def course_matrix(users: int | None = None) -> tuple[np.ndarray, str]:
    """The course's netflix_incomplete (its first ``users`` rows), or, when its files are
    absent, random ratings of the same shape and share of missing entries."""
    from ..data import course_available, load_course

    if course_available():
        X, source = load_course("netflix_incomplete"), "course netflix_incomplete.txt"
    else:
        rng = np.random.default_rng(0)
        X = rng.integers(1, 6, size=(1_200, 1_200)).astype(float)
        X[rng.random(X.shape) < 0.228] = 0.0
        source = "random 1-5 ratings, 22.8% missing (course files not found)"
    if users is not None:
        X, source = X[:users], f"{source}, first {users} users"
    return X, source


def course_em(X: np.ndarray, *, K: int = 12, seeds=range(5), repeat: int = 3) -> dict:
    """EM with missing data from every seed, timed on the same matrix three ways.

    cfcore on the dense matrix, cfcore on the matrix as CSR, and ``loop_em`` (the same
    algorithm as a loop over users). Each is the best of ``repeat`` runs (the loop version
    runs once: it takes long enough to be steady). Every run includes ``common.init``.
    """

    def best_of_seeds(run, data):
        return max(run(data, *common.init(data, K, seed))[2] for seed in seeds)

    sparse = sp.csr_matrix(X)
    timings = {
        "dense": _best_time(lambda: best_of_seeds(em.run, X), repeat),
        "sparse": _best_time(lambda: best_of_seeds(em.run, sparse), repeat),
        "loop": _best_time(lambda: best_of_seeds(loop_em.run, X), 1),
    }
    seconds = {name: t for name, (t, _) in timings.items()}
    best_ll = {name: ll for name, (_, ll) in timings.items()}
    return {
        "shape": list(X.shape),
        "K": K,
        "seeds": list(seeds),
        "seconds": seconds,
        "log_likelihood": best_ll,
        "loop_over_dense": seconds["loop"] / seconds["dense"],
        "loop_over_sparse": seconds["loop"] / seconds["sparse"],
        "sparse_over_dense": seconds["sparse"] / seconds["dense"],
        "largest_relative_difference": float(
            max(abs(ll / best_ll["dense"] - 1) for ll in best_ll.values())
        ),
    }


def overlapping_blobs(n: int, d: int, K: int, spread: float = 0.3, seed: int = 0) -> np.ndarray:
    """n points in d dimensions around K centres drawn from N(0, spread^2 I), each point
    the centre of its cluster plus N(0, I) noise: the clusters overlap, so EM has work to do."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(K, d))
    return centres[rng.integers(K, size=n)] + rng.normal(size=(n, d))


def complete_data_em(n: int, d: int, *, K: int = 12, iterations=(10, 60), repeat: int = 3) -> dict:
    """Seconds per EM iteration on complete data: cfcore's naive_em and scikit-learn's
    spherical GaussianMixture, on the same data from the same initial mixture.

    Both run exactly the same number of iterations (scikit-learn with tol=0 and max_iter, so
    that it never stops early; cfcore with max_iter and its stopping rule switched off), once
    iterations[0] and once iterations[1]; the difference of the two times divided by the
    difference of the iterations is the cost of one iteration, free of either library's
    fixed costs (input checks, initialisation, scikit-learn's final E-step). Both start from
    ``common.init``: means_init, weights_init and precisions_init = 1 / var; reg_covar=0, as
    cfcore adds nothing to the variances.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = overlapping_blobs(n, d, K)
    mixture, post = common.init(X, K, seed=0)

    def cfcore_fit(max_iter):
        _, _, ll, _, done = naive_em.run_full(X, mixture, post, max_iter=max_iter, tol=-np.inf)
        return ll, done

    def sklearn_fit(max_iter):
        model = GaussianMixture(
            K,
            covariance_type="spherical",
            tol=0.0,
            reg_covar=0.0,
            max_iter=max_iter,
            weights_init=mixture.p,
            means_init=mixture.mu,
            precisions_init=1.0 / mixture.var,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        return model.lower_bound_ * n, model.n_iter_

    fits = {"cfcore": cfcore_fit, "scikit-learn": sklearn_fit}
    best = {(name, m): np.inf for name in fits for m in iterations}
    outcome = {}
    for _ in range(repeat):  # interleaved, so that both libraries meet the same load
        for m in iterations:
            for name, fit in fits.items():
                seconds, outcome[name, m] = _best_time(lambda fit=fit, m=m: fit(m), 1)
                best[name, m] = min(best[name, m], seconds)
    few, many = iterations
    for name in fits:
        done = outcome[name, many][1]
        if done != many:
            raise RuntimeError(f"{name} stopped after {done} of {many} iterations")
    per_iteration = {name: (best[name, many] - best[name, few]) / (many - few) for name in fits}
    ll = {name: outcome[name, many][0] for name in fits}
    return {
        "shape": [n, d],
        "K": K,
        "iterations": list(iterations),
        "seconds_per_iteration": per_iteration,
        "ratio": per_iteration["cfcore"] / per_iteration["scikit-learn"],
        "log_likelihood": ll,
        "relative_difference": abs(ll["cfcore"] / ll["scikit-learn"] - 1),
    }


def run(
    quick: bool = False, sections=SECTIONS, *, progress: bool = False, make_matrix=None
) -> dict:
    """Run the benchmark sections and return every figure (the CLI prints them).

    make_matrix: f(n_users, n_items, n_ratings, n_clusters) -> CSR matrix, the generator of
    the large matrices (default ``scale.planted_ratings``, i.e. ``datasets.make_ratings``);
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
    for name, (users, items, ratings) in options["sizes"].items():
        runs = [
            {"K": options["K"], "n_iter": options["n_iter"], "dtype": dtype, "progress": progress}
            for dtype in ("float64", "float32")
        ]
        arguments = (users, items, ratings, scale.PLANTED_CLUSTERS)
        measured[name] = scale.in_child(make_matrix, arguments, runs)
    return measured


def _run_scaling(options, results, make_matrix, progress):
    known = {}
    for runs in results.get("scale", {}).values():
        if isinstance(runs, list):
            for result in runs:
                if result["dtype"] == "float64":
                    known[result["matrix_arguments"][2], result["K"]] = result
    law = scale.scaling_law(make_matrix, known=known, progress=progress, **options)
    # --quick checks the drawing too, but must not overwrite the README's figure
    name = "scaling_em_sparse_quick" if results.get("quick") else "scaling_em_sparse"
    law["figure"] = str(scale.plot_scaling(law, name))
    return law


_SECTION_RUNNERS = {
    "course": _run_course,
    "complete": _run_complete,
    "scale": _run_scale,
    "scaling": _run_scaling,
}


def targets(results: dict) -> list[dict]:
    """The acceptance targets, each with the measured value and whether it was met."""
    checks = []

    def check(name, value, target, met):
        checks.append({"target": name, "value": value, "goal": target, "met": bool(met)})

    course = results.get("course", {})
    if "seconds" in course:
        check(
            "course EM K=12 seeds 0-4, dense (s)",
            course["seconds"]["dense"],
            "<= 1.0",
            course["seconds"]["dense"] <= 1.0,
        )
        check(
            "course EM, loop version / cfcore dense",
            course["loop_over_dense"],
            ">= 20",
            course["loop_over_dense"] >= 20,
        )
    for result in results.get("complete", []) if isinstance(results.get("complete"), list) else []:
        n, d = result["shape"]
        check(
            f"naive EM {n} x {d} K={result['K']}, cfcore / scikit-learn per iteration",
            result["ratio"],
            "<= 1.0",
            result["ratio"] <= 1.0,
        )
    netflix = results.get("scale", {}).get("Netflix-Prize size")
    if isinstance(netflix, list):
        default = next(r for r in netflix if r["dtype"] == "float64")
        check(
            "Netflix-Prize size K=12, float64 (s per iteration)",
            default["seconds_per_iteration"],
            "<= 2.5",
            default["seconds_per_iteration"] <= 2.5,
        )
        check(
            "Netflix-Prize size K=12, float64, peak resident memory (GB)",
            default["peak_rss_bytes"] / 1e9,
            "<= 4",
            default["peak_rss_bytes"] <= 4e9,
        )
        check(
            "Netflix-Prize size, log-likelihood rises at every one of the iterations",
            default["monotonic"],
            "True",
            default["monotonic"],
        )
    return checks


def _rising(result: dict) -> str:
    if result["monotonic"]:
        return "log-likelihood rose at every iteration"
    return (
        f"log-likelihood fell by up to {result['largest_relative_fall']:.1e} relative "
        "at some iteration"
    )


def format_report(results: dict) -> str:
    """The benchmark's figures as text, one block per section."""
    lines = []
    if results.get("quick"):
        lines.append("(--quick: small sizes, to check that the benchmark runs; not the figures)")
    course = results.get("course")
    if course is not None:
        lines += ["", "EM with missing data, best of seeds (course matrix)"]
        if "error" in course:
            lines.append(f"  not run: {course['error']}")
        else:
            n, d = course["shape"]
            lines.append(
                f"  data: {course['data']} ({n} x {d}), K={course['K']}, "
                f"seeds {course['seeds'][0]}-{course['seeds'][-1]}"
            )
            for name, seconds in course["seconds"].items():
                lines.append(
                    f"  {name:<21} {seconds:8.3f} s   best log-likelihood "
                    f"{course['log_likelihood'][name]:.6f}"
                )
            lines.append(
                f"  loop / dense {course['loop_over_dense']:.1f}x, loop / sparse "
                f"{course['loop_over_sparse']:.1f}x, sparse / dense "
                f"{course['sparse_over_dense']:.2f}; log-likelihoods agree to "
                f"{course['largest_relative_difference']:.1e}"
            )
    complete = results.get("complete")
    if complete is not None:
        lines += ["", "EM on complete data, spherical: seconds per iteration"]
        if isinstance(complete, dict):
            lines.append(f"  not run: {complete['error']}")
        else:
            for r in complete:
                n, d = r["shape"]
                per = r["seconds_per_iteration"]
                lines.append(
                    f"  {n:>7} x {d:<5} K={r['K']}: cfcore {per['cfcore'] * 1e3:8.2f} ms, "
                    f"scikit-learn {per['scikit-learn'] * 1e3:8.2f} ms, ratio "
                    f"{r['ratio']:.2f} (log-likelihoods agree to "
                    f"{r['relative_difference']:.1e})"
                )
            few, many = complete[0]["iterations"]
            lines.append(
                f"  (time of {many} iterations minus time of {few}, divided by "
                f"{many - few}: fixed costs cancel)"
            )
    measured = results.get("scale")
    if measured is not None:
        lines += ["", "EM with missing data on sparse matrices (each size in a fresh process)"]
        if "error" in measured:
            lines.append(f"  not run: {measured['error']}")
        for name, runs in measured.items():
            if name == "error":
                continue
            first = runs[0]
            lines.append(
                f"  {name}: {first['users']:,} users x {first['items']:,} items, "
                f"{first['ratings']:,} ratings, K={first['K']}, "
                f"threads: {first['threads']}, blocks: {first['blocks']}"
            )
            for r in runs:
                lines.append(
                    f"    {r['dtype']}: {r['seconds_per_iteration']:.3f} s per iteration, "
                    f"{r['ns_per_rating_component']:.3f} ns per rating x component, peak "
                    f"{r['peak_rss_bytes'] / 1e9:.2f} GB (the matrix: "
                    f"{r['matrix_bytes'] / 1e9:.2f} GB), {_rising(r)}"
                )
    law = results.get("scaling")
    if law is not None:
        lines += ["", "Scaling: seconds per iteration"]
        if "error" in law:
            lines.append(f"  not run: {law['error']}")
        else:
            for p in sorted(
                law["points"], key=lambda p: (p["K"] != law["K"], p["K"], p["ratings"])
            ):
                lines.append(
                    f"  {p['stored_ratings']:>12,} ratings K={p['K']:<3} "
                    f"{p['seconds_per_iteration']:8.3f} s "
                    f"({p['ns_per_rating_component']:.3f} ns per rating x component)"
                )
            lines.append(
                f"  time ~ ratings^{law['exponent_ratings']:.2f}, time ~ "
                f"K^{law['exponent_K']:.2f}; figure: {law['figure']}"
            )
    if results.get("targets"):
        lines += ["", "Targets"]
        for t in results["targets"]:
            value = t["value"] if isinstance(t["value"], bool) else f"{t['value']:.3f}"
            lines.append(
                f"  {'met ' if t['met'] else 'MISS'} {t['target']}: {value} (goal {t['goal']})"
            )
    return "\n".join(lines).strip("\n")
