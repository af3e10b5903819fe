"""Command line.

``python -m cfcore reproduce [--data-dir DIR] [--json]``
``python -m cfcore evaluate --dataset ml-100k|course|PATH [--folds u1,u2] [--models a,b] [--json]``
``python -m cfcore bench [--json] [--quick] [--only SECTION ...] [--no-progress]``
"""

from __future__ import annotations

import argparse
import json
import sys


def _reproduce(args: argparse.Namespace) -> int:
    from .data import course_available, course_dir
    from .evaluation.reproduce import as_records, format_table, reproduce

    if not course_available(args.data_dir):
        try:
            where = str(course_dir(args.data_dir))
        except FileNotFoundError:
            where = "$CFCORE_DATA/netflix (CFCORE_DATA is not set)"
        print(
            f"cfcore reproduce: the course files are not in {where}.\n"
            "Put netflix_incomplete.txt, netflix_complete.txt, toy_data.txt, test_incomplete.txt,\n"
            "test_complete.txt and test_solutions.txt there, or name their folder with --data-dir.",
            file=sys.stderr,
        )
        return 2
    rows = reproduce(args.data_dir)
    if args.json:
        print(json.dumps(as_records(rows), indent=2))
    else:
        print(format_table(rows))
    return 0 if all(row.matches is not False for row in rows) else 1


def _evaluate(args: argparse.Namespace) -> int:
    from .data import load_folds
    from .evaluation import as_records, evaluate, format_table
    from .models import make_models

    names = lambda text: [part.strip() for part in text.split(",") if part.strip()]  # noqa: E731
    try:
        models = make_models(None if args.models is None else names(args.models))
        folds = load_folds(
            args.dataset, None if args.folds is None else names(args.folds), args.data_dir
        )
    except (ValueError, ImportError, FileNotFoundError) as err:
        print(f"cfcore evaluate: {err}", file=sys.stderr)
        return 2
    results = evaluate(models, folds, progress=args.progress)
    if args.json:
        print(json.dumps(as_records(results), indent=2))
    else:
        print(format_table(results))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import SECTIONS, format_report, run

    results = run(args.quick, args.only or SECTIONS, progress=not args.no_progress)
    print(json.dumps(results, indent=2) if args.json else format_report(results))
    failed = [name for name in SECTIONS if "error" in (results.get(name) or {})]
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cfcore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    reproduce = commands.add_parser(
        "reproduce", help="recompute the course's k-means, EM and Netflix results"
    )
    reproduce.add_argument(
        "--data-dir", help="folder of the course files (default $CFCORE_DATA/netflix)"
    )
    reproduce.add_argument("--json", action="store_true", help="print JSON instead of a table")
    reproduce.set_defaults(handler=_reproduce)

    evaluate = commands.add_parser(
        "evaluate", help="held-out RMSE of every model beside the baselines, per fold"
    )
    evaluate.add_argument(
        "--dataset",
        required=True,
        help="ml-100k (folds u1..u5), course (the entries missing from netflix_incomplete) "
        "or the path of a ratings file (seeded 5-fold split f1..f5)",
    )
    evaluate.add_argument("--folds", help="comma-separated fold names (default: all)")
    from .models import MODELS

    evaluate.add_argument(
        "--models",
        help="comma-separated model names (default: every available model): " + ", ".join(MODELS),
    )
    evaluate.add_argument(
        "--data-dir",
        help="folder of the course files (--dataset course) or of MovieLens 100K (ml-100k)",
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument(
        "--progress", action="store_true", help="report each model on stderr as it finishes"
    )
    evaluate.set_defaults(handler=_evaluate)

    bench = commands.add_parser(
        "bench",
        help="time cfcore side by side with a loop version, scikit-learn, and at scale",
    )
    bench.add_argument("--json", action="store_true", help="print JSON instead of text")
    bench.add_argument(
        "--quick", action="store_true", help="small sizes: check that every section runs"
    )
    bench.add_argument(
        "--only",
        action="append",
        choices=["course", "complete", "scale", "scaling"],
        help="run this section only (repeat for several)",
    )
    bench.add_argument(
        "--no-progress", action="store_true", help="no progress bars for the long fits"
    )
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
