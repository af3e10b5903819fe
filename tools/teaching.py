"""Student versions and autograding of the notebooks' exercises, with otter-grader.

    python tools/teaching.py build [DIST]      student notebooks and autograders into DIST
    python tools/teaching.py grade NOTEBOOK    grade one notebook locally; ends "score: X/Y"

The source notebooks (notebooks/NN_*.ipynb, solutions included) are otter-assign master
notebooks: a notebook with exercises opens with an "ASSIGNMENT CONFIG" raw cell, and each
exercise is a "BEGIN QUESTION" ... "END QUESTION" block with its solution and its tests.
``build`` runs ``otter assign`` on each of them and gathers DIST/student/NN_*.ipynb
(solutions replaced by stubs, hidden tests removed, outputs cleared) and
DIST/autograder/NN_*.zip. ``grade`` runs ``otter run`` (no container) on a source or a
student notebook against the autograder of the same name, building it first if needed.
Written exercises (``manual: true``) carry model answers for the instructor and are left
out of the autograded score.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DIST = ROOT / "dist"
BIN = Path(sys.executable).parent


def exercised_notebooks() -> list[Path]:
    """The source notebooks that hold exercises (an ASSIGNMENT CONFIG cell)."""
    return sorted(
        path
        for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
        if "# ASSIGNMENT CONFIG" in path.read_text(encoding="utf-8")
    )


def _environment(figures: Path) -> dict:
    """The grading environment: figures into a scratch folder, never into figures/."""
    return {**os.environ, "CFCORE_FIGURES": str(figures)}


def build_one(notebook: Path, dist: Path) -> tuple[Path, Path]:
    """otter assign one notebook; returns (student notebook, autograder zip) inside dist."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "assign"
        subprocess.run(
            [BIN / "otter", "assign", "--no-pdfs", str(notebook), str(out)],
            check=True,
            capture_output=True,
            text=True,
            env=_environment(Path(scratch) / "figures"),
        )
        (dist / "student").mkdir(parents=True, exist_ok=True)
        (dist / "autograder").mkdir(parents=True, exist_ok=True)
        student = dist / "student" / notebook.name
        shutil.copy(out / "student" / notebook.name, student)
        (archive,) = (out / "autograder").glob("*.zip")
        zipped = dist / "autograder" / f"{notebook.stem}.zip"
        shutil.copy(archive, zipped)
    return student, zipped


def build(dist: Path = DIST) -> list[tuple[Path, Path]]:
    """Student versions and autograders of every notebook with exercises."""
    return [build_one(notebook, dist) for notebook in exercised_notebooks()]


def questions_of(source: Path) -> dict[str, dict]:
    """{question name: its config (points, manual)} from a source notebook's BEGIN QUESTION
    cells, in order."""
    questions = {}
    for cell in json.loads(source.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] != "raw" or "# BEGIN QUESTION" not in text:
            continue
        config = dict(line.split(":", 1) for line in text.splitlines()[1:] if ":" in line)
        config = {key.strip(): value.strip() for key, value in config.items()}
        questions[config["name"]] = {
            "points": float(config.get("points", 0)),
            "manual": config.get("manual", "false").lower() == "true",
        }
    return questions


def assignment_of(notebook: Path) -> Path:
    """The source notebook whose exercises a submitted notebook answers, checked.

    By its number ("02_em_complete_data (1).ipynb", a renamed download, is assignment 02),
    then by the questions its otter metadata names, which must be that assignment's.
    """
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: no such file")
    try:
        submitted = json.loads(notebook.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{notebook}: not a notebook (it does not read as JSON: {err})") from None
    exercised = {path.name[:2]: path for path in exercised_notebooks()}
    source = exercised.get(notebook.name[:2])
    if source is None:
        raise FileNotFoundError(
            f"{notebook.name}: no notebook with exercises has its number; those with exercises "
            f"are {', '.join(path.name for path in exercised.values())}"
        )
    named = set(submitted.get("metadata", {}).get("otter", {}).get("tests", {}))
    expected = set(questions_of(source))
    if named and not named & expected:
        raise ValueError(
            f"{notebook.name} holds the questions {', '.join(sorted(named))}, not those of "
            f"{source.name} ({', '.join(sorted(expected))}): is it another notebook, renamed?"
        )
    if not submitted.get("cells"):
        print(
            f"teaching: warning: {notebook.name} holds no cells; every question scores 0",
            file=sys.stderr,
        )
    return source


def grade(
    notebook: Path, dist: Path = DIST, *, strict: bool = False
) -> tuple[float, float, dict[str, tuple]]:
    """Grade a notebook locally: (score, possible, {question: (score, max_score, why)}).

    The autograder is dist/autograder/<source notebook's name>.zip, (re)built first when it
    is absent or older than the source notebook. why: for a question short of its points,
    the last error line of its failing tests ("" otherwise). A question's points are shared
    among its test cases (otter's rule), so a partly right answer gets part of them.
    strict: fail if any cell of the notebook raises (otter otherwise grades what ran), the
    check that a student notebook runs top to bottom with its stubs unfilled.
    """
    notebook = Path(notebook).resolve()
    source = assignment_of(notebook)
    zipped = dist / "autograder" / f"{source.stem}.zip"
    if not zipped.is_file() or zipped.stat().st_mtime < source.stat().st_mtime:
        build_one(source, dist)  # absent, or older than the notebook's tests
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                BIN / "otter",
                "run",
                "--no-logo",
                *(["--debug"] if strict else []),
                "-a",
                str(zipped),
                "-o",
                scratch,
                str(notebook),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=_environment(Path(scratch) / "figures"),
        )
        results = json.loads((Path(scratch) / "results.json").read_text())
    questions = {
        test["name"]: (
            test["score"],
            test["max_score"],
            _why(test.get("output") or "") if test["score"] < test["max_score"] else "",
        )
        for test in results["tests"]
        if test.get("max_score") is not None
    }
    score = sum(score for score, _, _ in questions.values())
    possible = sum(most for _, most, _ in questions.values())
    return score, possible, questions


def _why(output: str) -> str:
    """The last error line of a failing test's output (its doctest trace is long)."""
    errors = [
        line.strip()
        for line in output.splitlines()
        if re.match(r"\s*[A-Za-z_.]*(Error|Exception)\b", line)
    ]
    return errors[-1] if errors else "a test case failed"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="student notebooks and autograders")
    build_parser.add_argument("dist", nargs="?", default=str(DIST))
    grade_parser = commands.add_parser("grade", help="grade one notebook locally")
    grade_parser.add_argument("notebook")
    grade_parser.add_argument("--dist", default=str(DIST))
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for student, zipped in build(Path(args.dist)):
                print(
                    f"{student.relative_to(Path(args.dist).parent)}  "
                    f"{zipped.relative_to(Path(args.dist).parent)}"
                )
            return 0
        score, possible, questions = grade(Path(args.notebook), Path(args.dist))
    except (FileNotFoundError, ValueError) as err:
        print(f"teaching: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        detail = getattr(err, "stderr", "") or ""
        print(f"teaching: {err}\n{detail.strip()[-2000:]}", file=sys.stderr)
        return 2
    for name, (got, most, why) in questions.items():
        print(f"{name}: {got:g}/{most:g}" + (f"  ({why})" if why else ""))
    print(f"score: {score:g}/{possible:g}")
    written = {
        name: config["points"]
        for name, config in questions_of(assignment_of(Path(args.notebook).resolve())).items()
        if config["manual"]
    }
    if written:
        print(
            f"written exercises, graded by hand: {', '.join(written)} "
            f"({sum(written.values()):g} points more; their model answers are in the source)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
