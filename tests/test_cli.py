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


# ---------------------------------------------------------------------------- failures


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_reproduce_names_the_one_corrupted_file(course, tmp_path, capsys):
    import shutil

    from cfcore.data import course_dir
    from cfcore.data.course import COURSE_FILES

    for name in COURSE_FILES:
        shutil.copy(course_dir() / f"{name}.txt", tmp_path / f"{name}.txt")
    with open(tmp_path / "test_complete.txt", "a") as stream:
        stream.write("1 2 3 4 5\n")
    assert main(["reproduce", "--data-dir", str(tmp_path)]) == 2
    line = _one_line(capsys)
    assert line.startswith("cfcore reproduce: ") and "test_complete.txt" in line
    assert not any(f"{name}.txt" in line for name in COURSE_FILES if name != "test_complete")


def test_reproduce_names_the_one_missing_file(tmp_path, capsys):
    from cfcore.data.course import COURSE_FILES

    for name in COURSE_FILES:
        if name != "toy_data":
            (tmp_path / f"{name}.txt").write_text("1 2\n")
    assert main(["reproduce", "--data-dir", str(tmp_path)]) == 2
    line = _one_line(capsys)
    assert "toy_data.txt is missing" in line and "netflix_incomplete" not in line


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate"])
    assert stop.value.code == 2
    assert "--dataset" in _one_line(capsys)


@pytest.mark.parametrize("option", ["--models", "--folds"])
def test_an_empty_list_of_names_is_an_error(option, capsys):
    assert main(["evaluate", "--dataset", "ml-100k", option, ""]) == 2
    assert f"cfcore evaluate: {option} names no" in _one_line(capsys)


def _fold(n_users=30, cold_users=0, n_items=8):
    """A fold whose first cold_users users have test ratings only."""
    import numpy as np
    import scipy.sparse as sp

    from cfcore.data import Fold

    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(n_users, n_items)).astype(float)
    test = np.zeros_like(dense, dtype=bool)
    test[np.arange(n_users), np.arange(n_users) % n_items] = True
    test[:cold_users] = True
    rows, cols = np.nonzero(test)
    train = sp.csr_matrix(np.where(test, 0.0, dense))
    return Fold.from_arrays("f1", train, (rows, cols, dense[rows, cols]), scale=(1, 5))


@pytest.fixture
def folds_of(monkeypatch):
    """Make load_folds return given folds and record its keyword arguments."""
    import cfcore.data

    calls = []

    def use(*folds):
        def load_folds(dataset, fold_names=None, data_dir=None, **options):
            calls.append(options)
            return list(folds)

        monkeypatch.setattr(cfcore.data, "load_folds", load_folds)
        return calls

    return use


def test_evaluate_warns_when_most_test_users_are_cold(folds_of, capsys):
    folds_of(_fold(cold_users=20))
    assert main(["evaluate", "--dataset", "x", "--models", "global-mean"]) == 0
    captured = capsys.readouterr()
    assert "global-mean" in captured.out
    warnings = [line for line in captured.err.splitlines() if "cold" in line]
    assert len(warnings) == 1 and "most test users" in warnings[0] and "f1 20 of 30" in warnings[0]


def test_evaluate_does_not_warn_on_warm_folds(folds_of, capsys):
    folds_of(_fold(cold_users=3))
    assert main(["evaluate", "--dataset", "x", "--models", "global-mean"]) == 0
    assert "cold" not in capsys.readouterr().err


def test_evaluate_passes_on_bad_lines_and_prints_the_report(folds_of, capsys):
    import dataclasses

    fold = _fold()

    class Report:
        def __str__(self):
            return "r.csv: kept 232 of 240 lines; skipped 8 empty rating (lines 3, 8)"

    train = fold.train
    if "load_report" in {f.name for f in dataclasses.fields(train)}:
        train = dataclasses.replace(train, load_report=Report())
    else:  # before RatingsData has the field: an attribute does as well here
        object.__setattr__(train, "load_report", Report())
    calls = folds_of(type(fold)("f1", train, fold.test))
    assert (
        main(
            ["evaluate", "--dataset", "r.csv", "--models", "global-mean", "--on-bad-lines", "skip"]
        )
        == 0
    )
    assert calls == [{"on_bad_lines": "skip"}]
    assert "cfcore evaluate: r.csv: kept 232 of 240 lines" in capsys.readouterr().err


def test_evaluate_refuses_a_model_that_would_not_fit_in_memory(folds_of, monkeypatch, capsys):
    from cfcore.cli import evaluate as cli_evaluate
    from cfcore.models import surprise_available

    if not surprise_available():
        pytest.skip("scikit-surprise is not installed")
    folds_of(_fold(n_users=2000))
    monkeypatch.setattr(cli_evaluate, "available_memory", lambda: 20_000_000)
    code = main(["evaluate", "--dataset", "x", "--models", "global-mean,surprise-knnbaseline"])
    captured = capsys.readouterr()
    assert code == 1 and "global-mean" in captured.out
    line = _one_line_of(captured.err)
    assert "surprise-knnbaseline would need about 96.7 MB (3 x 8 x 2,000^2 bytes" in line
    assert "20.0 MB are available" in line and "--models global-mean" in line


def _one_line_of(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_memory_estimates_grow_as_documented():
    from cfcore.cli import memory_estimate
    from cfcore.models import CourseMixture, GlobalMean

    class Knn:
        name = "surprise-knnbaseline"
        params = {}

    knn, _ = memory_estimate(Knn(), 16_000, 1_000, 100_000)
    assert knn > 3 * 8 * 16_000**2  # a 16,000-user file: several GB
    small, _ = memory_estimate(GlobalMean(), 16_000, 1_000, 100_000)
    assert small < 10**7
    mixture, how = memory_estimate(CourseMixture(), 16_000, 1_000, 100_000)
    assert small < mixture < knn and "K x (users + items)" in how


def test_a_model_that_fails_is_one_line_and_the_others_run(folds_of, monkeypatch, capsys):
    import cfcore.models
    from cfcore.models import GlobalMean

    class Broken(GlobalMean):
        name = "broken"

        def _fit(self, X):
            raise ValueError("K=10 but train has 4 users; pass Ks up to 4")

    monkeypatch.setattr(cfcore.models, "make_models", lambda names: [Broken(), GlobalMean()])
    folds_of(_fold())
    assert main(["evaluate", "--dataset", "x", "--models", "broken,global-mean"]) == 1
    captured = capsys.readouterr()
    assert "global-mean" in captured.out
    assert _one_line_of(captured.err) == (
        "cfcore evaluate: broken failed: K=10 but train has 4 users; pass Ks up to 4"
    )


@pytest.mark.parametrize(
    "error",
    [
        FloatingPointError("overflow"),
        MemoryError(),
        UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "bad"),
    ],
)
def test_errors_inside_a_command_never_print_a_traceback(error, folds_of, monkeypatch, capsys):
    import cfcore.data

    def load_folds(*args, **kwargs):
        raise error

    monkeypatch.setattr(cfcore.data, "load_folds", load_folds)
    assert main(["evaluate", "--dataset", "x", "--models", "global-mean"]) in (1, 2)
    assert _one_line(capsys).startswith("cfcore evaluate: ")


@pytest.mark.parametrize("option", ["--models", "--folds"])
def test_a_name_given_twice_is_an_error_not_counted_twice(option, capsys):
    names = "global-mean,global-mean" if option == "--models" else "u1,u1"
    assert main(["evaluate", "--dataset", "ml-100k", option, names]) == 2
    assert f"{option} names {names.split(',')[0]} more than once" in _one_line(capsys)


def test_evaluate_passes_scale_for_a_file_and_refuses_it_for_a_named_data_set(folds_of, capsys):
    calls = folds_of(_fold())
    command = ["evaluate", "--dataset", "r.csv", "--models", "global-mean", "--scale", "1", "5"]
    assert main(command) == 0
    assert calls == [{"scale": (1.0, 5.0)}]
    assert main(["evaluate", "--dataset", "ml-100k", "--scale", "1", "5"]) == 2
    assert "--scale: ml-100k declares its own scale" in _one_line(capsys)


def _write(path, lines) -> str:
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


def test_files_that_cannot_be_split_or_read_as_ratings_exit_2_saying_why(tmp_path, capsys):
    single = _write(tmp_path / "single.csv", ["1,10,5"])
    assert main(["evaluate", "--dataset", single, "--models", "global-mean"]) == 2
    assert "fold f1 has no test ratings (1 rating(s) in all)" in _one_line(capsys)
    dense = _write(tmp_path / "dense.txt", [" ".join(["0", "5", "3"] * 10)] * 4)
    assert main(["evaluate", "--dataset", dense, "--models", "global-mean"]) == 2
    assert "its first line holds 30 numbers, which reads as a dense matrix" in _one_line(capsys)
    assert main(["evaluate", "--dataset", str(tmp_path / "absent.csv")]) == 2
    assert "there is no file" in _one_line(capsys)
    assert main(["evaluate", "--dataset", str(tmp_path)]) == 2
    assert "is a folder, not a ratings file" in _one_line(capsys)


def test_recommend_takes_scale_and_bad_lines_and_names_a_model_for_a_small_file(tmp_path, capsys):
    lines = [f"{u},{i},{2 + (u * i) % 4}" for u in range(12) for i in range(8)]  # 2..5 only
    path = _write(tmp_path / "r.csv", [*lines, "0,0,4"])  # the last line repeats a pair
    command = ["recommend", "--ratings", path, "--rate", "3=1", "--model", "course-em"]
    assert main(command) == 2
    assert "pass --on-bad-lines skip" in _one_line(capsys)
    assert main([*command, "--on-bad-lines", "skip"]) == 2
    assert "1 is outside the ratings' scale 2-5" in capsys.readouterr().err
    assert main([*command, "--on-bad-lines", "skip", "--scale", "1", "5", "--json"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 duplicate pair" in captured.err
    assert all(1 <= record["predicted"] <= 5 for record in json.loads(captured.out))
    small = _write(tmp_path / "small.csv", lines[:24])  # 3 users
    assert main(["recommend", "--ratings", small, "--rate", "3=4"]) == 2
    assert "exceeds the 3 users" in (line := _one_line(capsys)) and "--model course-em" in line
    assert main(["recommend", "--ratings", str(tmp_path), "--rate", "3=4"]) == 2
    assert "is a folder, not a file" in _one_line(capsys)
