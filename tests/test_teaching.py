"""The teaching kit: student versions and autograders built from the source notebooks.

Both directions of the grading are checked: every source notebook (with its solutions)
gets full marks, and every student notebook, as generated, gets 0 on every autograded
exercise while still running top to bottom (its later cells use cfcore, not the stubs).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import teaching  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.teaching]

SOLUTION = re.compile(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", re.S)


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def questions(notebook: Path) -> list[dict]:
    """The BEGIN QUESTION configs of a source notebook, in order."""
    found = []
    for cell in cells(notebook):
        source = "".join(cell["source"])
        if cell["cell_type"] == "raw" and source.startswith("# BEGIN QUESTION"):
            config = dict(line.split(": ", 1) for line in source.splitlines()[1:] if ": " in line)
            found.append(config)
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory, movielens, course):
    """make student, into a scratch dist/ (the notebooks read the course and MovieLens data)."""
    dist = tmp_path_factory.mktemp("dist")
    return dist, dict(zip(teaching.exercised_notebooks(), teaching.build(dist), strict=True))


def test_there_are_at_least_twelve_exercises_and_two_per_notebook():
    per_notebook = {nb.name: questions(nb) for nb in teaching.exercised_notebooks()}
    assert {name[:2] for name in per_notebook} >= {"01", "02", "03", "04", "06"}
    assert all(len(found) >= 2 for found in per_notebook.values()), per_notebook
    assert sum(len(found) for found in per_notebook.values()) >= 12


def test_every_exercise_has_a_solution():
    for notebook in teaching.exercised_notebooks():
        text = "".join("".join(c["source"]) + "\n" for c in cells(notebook))
        blocks = text.split("# BEGIN QUESTION")[1:]
        for block in blocks:
            assert "# BEGIN SOLUTION" in block.split("# END QUESTION")[0], notebook.name


def test_student_versions_hold_no_solution_code_and_no_outputs(built):
    """No line of a solution survives in the student notebook, nor stands in another code
    cell of it (a hint quoted in a markdown prompt is allowed)."""
    dist, pairs = built
    for source, (student, autograder) in pairs.items():
        assert autograder.is_file() and autograder.stat().st_size > 0
        student_code = "\n".join(
            "".join(c["source"]) for c in cells(student) if c["cell_type"] == "code"
        )
        for cell in cells(source):
            for solution in SOLUTION.findall("".join(cell["source"])):
                for line in solution.strip().splitlines():
                    if len(line.strip()) > 12:  # a line of real code, not a bracket
                        assert line.strip() not in student_code, (student.name, line)
        assert all(not c.get("outputs") for c in cells(student) if c["cell_type"] == "code")


def test_solutions_score_full_marks_and_students_zero(built):
    dist, pairs = built
    for source, (student, _) in pairs.items():
        score, possible, _ = teaching.grade(source, dist)
        assert possible > 0 and score == possible, (source.name, score, possible)
        score, possible, per_question = teaching.grade(student, dist, strict=True)
        assert all(got == 0 for got, _, _ in per_question.values()), (student.name, per_question)
        assert all(why for _, _, why in per_question.values())  # each says why it failed


def test_make_grade_prints_the_score_line(built, capsys):
    dist, pairs = built
    source = next(iter(pairs))
    assert teaching.main(["grade", str(source), "--dist", str(dist)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    (score,) = [line for line in lines if line.startswith("score: ")]
    assert re.fullmatch(r"score: (\d+(\.\d+)?)/\1", score), score
    written = [q for q, c in teaching.questions_of(source).items() if c["manual"]]
    if written:
        assert lines[-1].startswith(f"written exercises, graded by hand: {', '.join(written)}")
    assert teaching.main(["grade", str(ROOT / "README.md"), "--dist", str(dist)]) == 2


def test_a_submission_is_matched_to_its_assignment_or_refused_saying_why(tmp_path):
    exercised = teaching.exercised_notebooks()
    first, second = exercised[0], exercised[1]
    renamed = tmp_path / f"{second.stem} (1).ipynb"  # a browser's second download
    shutil.copy(second, renamed)
    assert teaching.assignment_of(renamed) == second
    wrong = tmp_path / second.name
    student = json.loads(first.read_text(encoding="utf-8"))
    names = {name: {"name": name} for name in teaching.questions_of(first)}
    student.setdefault("metadata", {})["otter"] = {"tests": names}
    wrong.write_text(json.dumps(student), encoding="utf-8")
    with pytest.raises(ValueError, match=f"not those of {second.name}"):
        teaching.assignment_of(wrong)
    empty = tmp_path / first.name
    empty.write_text("")
    with pytest.raises(ValueError, match="not a notebook"):
        teaching.assignment_of(empty)
    with pytest.raises(FileNotFoundError, match="no such file"):
        teaching.assignment_of(tmp_path / "absent.ipynb")
    without = teaching.NOTEBOOKS / "05_reproducing_the_course.ipynb"
    assert without not in exercised
    with pytest.raises(FileNotFoundError, match="no notebook with exercises has its number"):
        teaching.assignment_of(without)
    assert teaching.main(["grade", str(without), "--dist", str(tmp_path / "dist")]) == 2
    assert not (tmp_path / "dist").exists()  # nothing built for a notebook without exercises
