"""python -m cfcore reproduce: the table, the JSON and the message when files are absent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cfcore.cli import main
from cfcore.evaluation.reproduce import COURSE_RESULTS


def test_reproduce_prints_every_course_result_as_json(course, capsys):
    assert main(["reproduce", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    by_name = {record["result"]: record for record in records}
    assert set(COURSE_RESULTS) <= set(by_name)
    assert all(by_name[name]["matches"] for name in COURSE_RESULTS)
    held_out = by_name["EM netflix K=12 RMSE (held-out entries only)"]
    assert held_out["course"] is None and 0.9 < held_out["value"] < 1.1


@pytest.mark.slow
def test_reproduce_table_runs_as_a_module(course):
    completed = subprocess.run(
        [sys.executable, "-m", "cfcore", "reproduce"], capture_output=True, text=True, check=True
    )
    assert "EM netflix K=12 RMSE (all entries)" in completed.stdout
    assert " NO " not in completed.stdout


def test_reproduce_says_where_to_put_missing_files(tmp_path, capsys):
    assert main(["reproduce", "--data-dir", str(tmp_path)]) == 2
    message = capsys.readouterr().err
    assert str(tmp_path) in message and "netflix_incomplete.txt" in message
