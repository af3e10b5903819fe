"""The benchmark: its loop reference computes what cfcore.em computes, and every section runs
end to end on small sizes (timings are printed by the benchmark, never asserted here)."""

from __future__ import annotations

import json
import types
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings

from cfcore import bench, common, em, engine
from cfcore import data as datasets
from cfcore.bench import loop_em, scale
from cfcore.bench.report import RESIDUAL
from cfcore.cli import main
from cfcore.data import RatingsData
from cfcore.models.mixtures import ResidualMixture


def small_ratings_matrix(n_users, n_items, n_ratings, n_clusters, seed=0, dtype=None):
    """Random 1-5 ratings as CSR: a stand-in generator for the scale sections' small runs."""
    density = min(n_ratings / (n_users * n_items), 1.0)
    X = random_ratings(np.random.default_rng(seed), n_users, n_items, density)
    return sp.csr_matrix(X, dtype=dtype or np.float64)


def failing_matrix(*arguments):
    raise MemoryError("no room for the matrix")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loop_version_computes_what_cfcore_em_computes(seed):
    X = random_ratings(np.random.default_rng(seed), 40, 12, 0.5)
    X[3] = 0.0  # a user without ratings
    mixture, post = common.init(X, 3, seed)
    for loop_step, step in ((loop_em.estep, em.estep),):
        (p_loop, ll_loop), (p_em, ll_em) = loop_step(X, mixture), step(X, mixture)
        np.testing.assert_allclose(p_loop, p_em, rtol=1e-12, atol=1e-30)
        assert ll_loop == pytest.approx(ll_em, rel=1e-13)
    for a, b in zip(loop_em.mstep(X, post, mixture), em.mstep(X, post, mixture), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    looped, vectorised = loop_em.run(X, mixture, post), em.run(X, mixture, post)
    for a, b in zip(looped[0], vectorised[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(looped[1], vectorised[1], rtol=1e-10, atol=1e-30)
    assert looped[2] == pytest.approx(vectorised[2], rel=1e-12)


def test_loop_version_reproduces_the_course_test_case(course):
    X = course("test_incomplete")
    _, _, ll = loop_em.run(X, *common.init(X, 4, seed=0))
    assert ll == pytest.approx(-84.98451993042474, rel=1e-10)


def test_a_fit_in_a_child_process_reports_time_memory_and_the_trace():
    runs = [{"K": 3, "n_iter": 4}, {"K": 3, "n_iter": 4, "dtype": "float32", "threads": 1}]
    results = scale.in_child(small_ratings_matrix, (400, 60, 6000, 3), runs)
    assert [r["dtype"] for r in results] == ["float64", "float32"]
    for result in results:
        assert result["engine"] == ("fused" if engine.numba_available() else "numpy")
        assert result["floor_seconds"] > 0 and result["stream_bytes_per_second"] > 1e8
        assert result["iterations"] == 4 and len(result["log_likelihood"]) == 4
        assert result["ratings"] > 0 and result["matrix_arguments"] == [400, 60, 6000, 3]
        assert result["peak_rss_bytes"] >= result["matrix_bytes"] > 0
        assert result["seconds_per_iteration"] > 0 and result["ns_per_rating_component"] > 0
    trace = results[0]["log_likelihood"]  # float64: EM never lowers the log-likelihood
    assert results[0]["monotonic"] and (np.diff(trace) >= 0).all()
    assert results[1]["largest_relative_fall"] < 1e-6  # float32: rounding only
    assert results[1]["matrix_bytes"] < results[0]["matrix_bytes"]  # float32 values
    assert results[1]["threads"] == 1


def test_a_failure_in_the_child_process_is_reported():
    with pytest.raises(RuntimeError, match="MemoryError: no room for the matrix"):
        scale.in_child(failing_matrix, (10, 10, 10, 2), [{"K": 2}])


def test_the_large_matrices_come_from_make_ratings(monkeypatch):
    calls = []

    def make_ratings(n_users, n_items, n_clusters, density, seed=0, *, dtype=np.float64):
        calls.append((n_users, n_items, n_clusters, density, seed, dtype))
        return types.SimpleNamespace(matrix=sp.csr_matrix((n_users, n_items))), None

    monkeypatch.setattr(datasets, "make_ratings", make_ratings, raising=False)
    X = scale.planted_ratings(200, 50, 1000, 4)
    assert X.shape == (200, 50)
    assert calls == [(200, 50, 4, 0.1, 0, np.float64)]


def test_shapes_scale_the_netflix_users_with_the_ratings():
    assert scale.shape_with_ratings(scale.NETFLIX_PRIZE[2]) == scale.NETFLIX_PRIZE
    users, items, ratings = scale.shape_with_ratings(10_000_000)
    assert items == 17_770 and ratings == 10_000_000 and users == pytest.approx(47_789, abs=1)


@pytest.mark.slow
def test_quick_benchmark_runs_every_section_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("CFCORE_FIGURES", str(tmp_path))
    results = bench.run(quick=True)  # the large matrices from datasets.make_ratings
    for section in bench.SECTIONS:
        assert "error" not in results[section], results[section]

    course = results["course"]
    assert set(course["seconds"]) == {"dense", "sparse", "loop"}
    assert course["largest_relative_difference"] < 1e-10  # all compute the same fits
    for shape_result in results["complete"]:
        # cfcore and scikit-learn ran the same iterations from the same mixture
        assert shape_result["relative_difference"] < 1e-8
        per = shape_result["seconds_per_iteration"]  # its size is for the benchmark to report
        assert shape_result["ratio"] == pytest.approx(per["cfcore"] / per["scikit-learn"])
    engines = ["numpy", "fused"] if engine.numba_available() else ["numpy"]
    for name, runs in results["scale"].items():
        if name == RESIDUAL:
            continue
        assert [(r["dtype"], r["engine"]) for r in runs] == [
            (dtype, way) for dtype in ("float64", "float32") for way in engines
        ]
        for r in runs:  # the floor: bytes read once over the bandwidth measured beside it
            assert r["floor_seconds"] == pytest.approx(
                r["bytes_per_iteration"] / r["stream_bytes_per_second"]
            )
            assert r["over_floor"] > 1
        by_way = {r["engine"]: r for r in runs if r["dtype"] == "float64"}
        if "fused" in by_way:  # the two paths fit the same mixture
            np.testing.assert_allclose(
                by_way["fused"]["log_likelihood"], by_way["numpy"]["log_likelihood"], rtol=1e-10
            )
    for name, result in results["scale"][RESIDUAL].items():
        assert set(result["ways"]) >= {"reference", "numpy, seeds at once"}, name
        reference = result["ways"]["reference"]
        for way in result["ways"].values():
            assert way["largest_prediction_difference"] < 1e-8
            assert way["rmse"] == pytest.approx(reference["rmse"], rel=1e-8)
    law = results["scaling"]
    assert len(law["points"]) == 5
    quick_ratings = bench.QUICK["scaling"]["ratings"]
    at_k = [
        (p["stored_ratings"], p["seconds_per_iteration"])
        for p in law["points"]
        if p["K"] == law["K"] and p["ratings"] in quick_ratings
    ]
    x, y = np.log(np.array(at_k)).T
    assert law["exponent_ratings"] == pytest.approx(np.polyfit(x, y, 1)[0])
    # a quick run draws its own figure, never the one the README shows
    assert (tmp_path / "scaling_em_sparse_quick.png").stat().st_size > 0
    assert not (tmp_path / "scaling_em_sparse.png").exists()

    cluster = results["dask"]  # EM on a 2-worker LocalCluster from Parquet, beside one process
    assert cluster["same"] and cluster["trace_difference"] < 1e-10
    assert len(cluster["dask"]["worker_peak_rss"]) == 2
    report = bench.format_report(results)
    for heading in (
        "EM with missing data",
        "complete data",
        "sparse matrices",
        "the floor",
        "Residual mixture per fold",
        "Scaling",
        "EM on a Dask cluster from Parquet",
    ):
        assert heading in report
    json.dumps(results)  # what --json prints


def test_bench_command_prints_json(capsys):
    argv = ["bench", "--quick", "--json", "--no-progress", "--only", "course"]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["quick"] and set(results) == {"quick", "course"}
    assert results["course"]["loop_over_dense"] > 0


def test_a_section_that_cannot_run_says_why():
    results = bench.run(quick=True, sections=["scale"], make_matrix=failing_matrix)
    assert "MemoryError: no room for the matrix" in results["scale"]["error"]
    assert "not run: RuntimeError: MemoryError" in bench.format_report(results)
    with pytest.raises(ValueError, match="sections must be among"):
        bench.run(quick=True, sections=["everything"])


def test_the_numpy_and_fused_paths_run_side_by_side():
    runs = [{"K": 3, "n_iter": 3, "engine": way} for way in ("numpy", "auto")]
    numpy_run, default_run = scale.in_child(small_ratings_matrix, (300, 40, 3000, 3), runs)
    assert numpy_run["engine"] == "numpy"
    np.testing.assert_allclose(
        default_run["log_likelihood"], numpy_run["log_likelihood"], rtol=1e-10
    )


def test_the_residual_benchmark_compares_the_reference_with_the_faster_paths():
    fold = bench.residual.long_tailed_fold(600, 300, 3_000)
    result = bench.residual.residual_per_fold(fold, K=2, seeds=range(2))
    ways = result["ways"]
    assert ways["reference"]["speedup"] == 1.0
    assert ("fused" in ways) == engine.numba_available()
    for way in ways.values():
        assert way["largest_prediction_difference"] < 1e-8 and way["seconds"] > 0
        runs = way["runs"]  # 2 seeds x 2 sides, each compared with the reference's run
        assert runs["runs"] == runs["distinct_starts"] + runs["coinciding_starts"] == 4
        assert runs["largest_difference_distinct_starts"] < 1e-8
        assert 0 <= runs["kept_on_saddle"] <= runs["coinciding_starts"]
    assert "reference" in "\n".join(bench.report._residual_lines({"long-tailed": result}))


def test_coinciding_starts_counts_the_seeded_means_that_repeat():
    X = np.zeros((8, 5))
    X[:4] = [[5, 3, 0, 1, 2], [4, 0, 2, 5, 1], [1, 2, 3, 4, 5], [2, 5, 4, 0, 3]]
    data = RatingsData.from_dense(X)  # users 4-7 rated nothing: their residual rows are 0
    model = ResidualMixture(K=4, seeds=range(6), threads=1, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data)
    counts = bench.residual.coinciding_starts(model)
    for seed, repeats in enumerate(counts["users"]):
        users = np.random.RandomState(seed).choice(8, 4, replace=False)  # the course's choice
        assert repeats == max(np.sum(users >= 4) - 1, 0)  # the empty rows coincide, no others
    assert len(counts["items"]) == 6
