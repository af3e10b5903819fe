"""``python -m cfcore reproduce``: the course's k-means, EM and Netflix results, recomputed
and checked, after naming any course file that is missing."""

from __future__ import annotations

import argparse
import json

from .common import say


def _missing_course_files(data_dir) -> str | None:
    """None when every course file is there, else one sentence naming what is missing."""
    from ..data import course_dir
    from ..data.course import COURSE_FILES

    try:
        folder = course_dir(data_dir)
    except FileNotFoundError:
        return (
            "the course files are not in $CFCORE_DATA/netflix (CFCORE_DATA is not set); set it "
            "to the folder that holds netflix/, or name the files' folder with --data-dir"
        )
    files = [f"{name}.txt" for name in COURSE_FILES]
    if not folder.is_dir():
        return (
            f"the course files are not in {folder} (no such folder); put {', '.join(files)} "
            "there, or name their folder with --data-dir"
        )
    missing = [name for name in files if not (folder / name).is_file()]
    if not missing:
        return None
    if len(missing) == len(files):
        return (
            f"the course files are not in {folder}: put {', '.join(files)} there, or name "
            "their folder with --data-dir"
        )
    return (
        f"{', '.join(str(folder / name) for name in missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing; put the course's "
        f"{' and '.join(missing)} in {folder} (the other course files are there)"
    )


def _reproduce(args: argparse.Namespace) -> int:
    from ..evaluation.reproduce import as_records, format_table, reproduce

    missing = _missing_course_files(args.data_dir)
    if missing:
        say("reproduce", missing)
        return 2
    rows = reproduce(args.data_dir)
    if args.json:
        print(json.dumps(as_records(rows), indent=2))
    else:
        print(format_table(rows))
    return 0 if all(row.matches is not False for row in rows) else 1
