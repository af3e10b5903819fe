"""``python -m cfcore bench``: run the benchmark sections (``cfcore.bench``) and print the
report."""

from __future__ import annotations

import argparse
import json


def _bench(args: argparse.Namespace) -> int:
    from ..bench import SECTIONS, format_report, run

    results = run(args.quick, args.only or SECTIONS, progress=not args.no_progress)
    print(json.dumps(results, indent=2) if args.json else format_report(results))
    failed = [name for name in SECTIONS if "error" in (results.get(name) or {})]
    return 1 if failed else 0
