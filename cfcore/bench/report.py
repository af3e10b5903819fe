"""The benchmark's figures as text, and the performance targets they are checked against."""

from __future__ import annotations

from .cluster import SAME
from .cluster import report as cluster_report
from .residual import SAME_RUN  # a fused run's means against the reference's, from distinct starts

#: the key of the scale section's residual-mixture comparison (beside the sizes)
RESIDUAL = "residual mixture per fold"

#: (name in the scale section, dtype, engine, seconds per iteration at most)
SPEED_TARGETS = (
    ("Netflix-Prize size", "float64", "fused", 0.75),
    ("Netflix-Prize size", "float32", "fused", 0.5),
    ("MovieLens-25M size", "float64", "fused", 0.45),
)
#: the peak memory of the numpy path at Netflix-Prize size, float64 (GB): the fused path's bound
NETFLIX_PEAK_BEFORE_GB = 1.64
#: how much faster the residual mixture must fit and predict a fold than the reference path
RESIDUAL_SPEEDUP = 4.0
#: a fused fold's test RMSE against the reference's: RMSEs are published to 4 decimals, and this is
#: a tenth of their last digit (runs that leave a saddle end wherever rounding sends them)
SAME_RMSE = 1e-5
#: the most the log-likelihood may fall at an iteration, relative: rounding, not EM
ROUNDING_FALL = 1e-12


def _run(runs, dtype: str, engine: str):
    """The run of that dtype and engine among a size's runs, or None."""
    return next((r for r in runs if r["dtype"] == dtype and r.get("engine") == engine), None)


def targets(results: dict) -> list[dict]:
    """The performance targets, each with the measured value and whether it was met."""
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
    measured = results.get("scale", {})
    for name, dtype, engine, limit in SPEED_TARGETS:
        runs = measured.get(name)
        run = _run(runs, dtype, engine) if isinstance(runs, list) else None
        if run is not None:
            check(
                f"{name} K={run['K']}, {dtype}, {engine} (s per iteration)",
                run["seconds_per_iteration"],
                f"<= {limit}",
                run["seconds_per_iteration"] <= limit,
            )
    netflix = measured.get("Netflix-Prize size")
    if isinstance(netflix, list) and _run(netflix, "float64", "fused") is not None:
        fused, numpy = _run(netflix, "float64", "fused"), _run(netflix, "float64", "numpy")
        check(
            "Netflix-Prize size K=12, float64, peak memory, fused / numpy (same run)",
            fused["peak_rss_bytes"] / numpy["peak_rss_bytes"],
            "<= 1",
            fused["peak_rss_bytes"] <= numpy["peak_rss_bytes"],
        )
    if isinstance(netflix, list):
        for engine in ("numpy", "fused"):
            run = _run(netflix, "float64", engine)
            if run is None:
                continue
            if engine == "fused":  # (the numpy path's peak is the baseline)
                check(
                    f"Netflix-Prize size K=12, float64, {engine}, peak resident memory (GB)",
                    run["peak_rss_bytes"] / 1e9,
                    f"<= {NETFLIX_PEAK_BEFORE_GB}",
                    run["peak_rss_bytes"] <= NETFLIX_PEAK_BEFORE_GB * 1e9,
                )
            check(
                f"Netflix-Prize size, {engine}, largest relative fall of the log-likelihood "
                "(rounding: sums of 100M terms)",
                run["largest_relative_fall"],
                f"<= {ROUNDING_FALL:g}",
                run["largest_relative_fall"] <= ROUNDING_FALL,
            )
    for name, result in (measured.get(RESIDUAL) or {}).items():
        fused = result.get("ways", {}).get("fused")
        if fused is not None:
            check(
                f"residual mixture per fold, {name}: reference / fused",
                fused["speedup"],
                f">= {RESIDUAL_SPEEDUP}",
                fused["speedup"] >= RESIDUAL_SPEEDUP,
            )
            runs = fused["runs"]
            check(
                f"residual mixture, {name}: fused runs that start from K distinct points "
                f"({runs['distinct_starts']} of {runs['runs']}), largest |mu - the reference's mu|",
                runs["largest_difference_distinct_starts"],
                f"<= {SAME_RUN:g}",
                runs["largest_difference_distinct_starts"] <= SAME_RUN,
            )
            reference = result["ways"]["reference"]
            check(
                f"residual mixture, {name}: fused test RMSE - the reference's",
                fused["rmse"] - reference["rmse"],
                f"within {SAME_RMSE:g}",
                abs(fused["rmse"] - reference["rmse"]) <= SAME_RMSE,
            )
            check(
                f"residual mixture, {name}: runs from two components on one point still on "
                "it at the end, fused (the reference's beside it)",
                f"{runs['kept_on_saddle']} of {runs['coinciding_starts']} "
                f"({runs['kept_on_saddle_reference']})",
                "as many as the reference",
                runs["kept_on_saddle"] == runs["kept_on_saddle_reference"],
            )
    cluster = results.get("dask", {})
    if "trace_difference" in cluster:
        check(
            "Dask from Parquet, 2 workers: log-likelihood trace against one process "
            "(largest relative difference)",
            cluster["trace_difference"],
            f"<= {SAME:g}",
            cluster["same"],
        )
    return checks


def _rising(result: dict) -> str:
    if result["monotonic"]:
        return "log-likelihood rose at every iteration"
    return (
        f"log-likelihood fell by up to {result['largest_relative_fall']:.1e} relative "
        "at some iteration"
    )


def _scale_lines(name: str, runs: list[dict]) -> list[str]:
    first = runs[0]
    lines = [
        f"  {name}: {first['users']:,} users x {first['items']:,} items, "
        f"{first['ratings']:,} ratings, K={first['K']}, "
        f"threads: {first['threads']}, blocks: {first['blocks']}; floor: "
        f"{first['bytes_per_iteration'] / 1e9:.2f} GB read once at "
        f"{first['stream_bytes_per_second'] / 1e9:.1f} GB/s (one core, measured here)"
    ]
    for r in runs:
        lines.append(
            f"    {r['dtype']} {r['engine']:<5}: {r['seconds_per_iteration']:.3f} s per "
            f"iteration, {r['ns_per_rating_component']:.3f} ns per rating x component, "
            f"(best {r['best_iteration_seconds']:.3f} s), {r['over_floor']:.1f}x the floor "
            f"({r['floor_seconds']:.3f} s), peak {r['peak_rss_bytes'] / 1e9:.2f} GB"
            f"{_iterations_peak(r)} (the matrix: {r['matrix_bytes'] / 1e9:.2f} GB), {_rising(r)}"
        )
    for dtype in ("float64", "float32"):
        numpy, fused = _run(runs, dtype, "numpy"), _run(runs, dtype, "fused")
        if numpy and fused:
            ratio = numpy["seconds_per_iteration"] / fused["seconds_per_iteration"]
            lines.append(f"    {dtype}: numpy / fused {ratio:.2f}x per iteration")
    return lines


def _iterations_peak(run: dict) -> str:
    peak = run.get("iterations_peak_rss_bytes")
    return "" if peak is None else f", {peak / 1e9:.2f} GB while iterating"


def _residual_lines(residual: dict) -> list[str]:
    lines = ["", "Residual mixture per fold (fit on train + predict test), side by side"]
    for name, result in residual.items():
        if "error" in result:
            lines.append(f"  {name}: not run: {result['error']}")
            continue
        n, d, ratings = result["train"]
        lines.append(
            f"  {name}: train {n:,} x {d:,}, {ratings:,} ratings; K={result['K']}, "
            f"{result['seeds']} seeds x 2 sides"
        )
        for way, r in result["ways"].items():
            lines.append(
                f"    {way:<22} {r['seconds']:7.2f} s  ({r['speedup']:.2f}x the reference)  "
                f"test RMSE {r['rmse']:.6f}, predictions within "
                f"{r['largest_prediction_difference']:.1e} of the reference's"
            )
            runs = r["runs"]
            if way != "reference":
                lines.append(
                    f"{'':29}runs from K distinct points: {runs['distinct_starts']} of "
                    f"{runs['runs']}, means within "
                    f"{runs['largest_difference_distinct_starts']:.1e} of the reference's; "
                    "from two "
                    f"components on one point: {runs['coinciding_starts']}, of which "
                    f"{runs['coinciding_starts_that_moved']} ended elsewhere; still on that "
                    f"point at the end (as exact EM stays): {runs['kept_on_saddle']} here, "
                    f"{runs['kept_on_saddle_reference']} in the reference"
                )
        if result.get("first_fused_call_seconds") is not None:
            lines.append(
                f"    (the kernel's first call, compiling or loading it: "
                f"{result['first_fused_call_seconds']:.2f} s, not counted)"
            )
    return lines


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
            if isinstance(runs, list):
                lines += _scale_lines(name, runs)
        if isinstance(measured.get(RESIDUAL), dict):
            lines += _residual_lines(measured[RESIDUAL])
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
    cluster = results.get("dask")
    if cluster is not None:
        lines += ["", "EM on a Dask cluster from Parquet, beside one process (alternating)"]
        if "error" in cluster:
            lines.append(f"  not run: {cluster['error']}")
        else:
            lines += [
                "  " + line.strip() if i == 0 else line
                for i, line in enumerate(cluster_report(cluster).splitlines())
            ]
    if results.get("targets"):
        lines += ["", "Targets"]
        for t in results["targets"]:
            value = t["value"]
            if isinstance(value, float | int) and not isinstance(value, bool):
                # a tiny difference in its own digits, not 0.000
                value = f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"
            lines.append(
                f"  {'met ' if t['met'] else 'MISS'} {t['target']}: {value} (goal {t['goal']})"
            )
    return "\n".join(lines).strip("\n")
