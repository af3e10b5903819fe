"""The benchmark's figures as text, and the acceptance targets they are checked against."""

from __future__ import annotations


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
