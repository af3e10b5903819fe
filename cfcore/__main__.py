"""Command line: ``python -m cfcore reproduce [--data-dir DIR] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys


def _reproduce(args: argparse.Namespace) -> int:
    from .datasets import course_available, course_dir
    from .reproduce import as_records, format_table, reproduce

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
