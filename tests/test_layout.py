"""How the work is laid out (blocks of users, threads, float32) changes results by rounding only;
blocks are views, never copies; the progress display reports every iteration."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings

from cfcore import common, em, engine, fit


def ratings_with_an_empty_user(seed=0, n=90, d=25, density=0.35):
    X = random_ratings(np.random.default_rng(seed), n, d, density)
    X[7] = 0.0  # a user with no ratings falls inside a block too
    return X


def fitted(X, K=3, seed=1, **layout):
    return em.run(X, *common.init(X, K, seed), **layout)


def assert_same_fit(actual, expected, rtol):
    for a, b in zip(expected[0], actual[0], strict=True):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(actual[1], expected[1], rtol=rtol, atol=rtol)
    assert actual[2] == pytest.approx(expected[2], rel=rtol)


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
@pytest.mark.parametrize("block_size", [1, 4, 13, 89, 1000])
def test_block_size_changes_results_by_rounding_only(fmt, block_size):
    X = ratings_with_an_empty_user()
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    whole = fitted(data, block_size=len(X), threads=1)
    blocked = fitted(data, block_size=block_size, threads=1)
    assert_same_fit(blocked, whole, rtol=1e-12)


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threads_change_results_by_rounding_only(fmt, threads):
    X = ratings_with_an_empty_user(seed=1)
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    serial = fitted(data, block_size=10, threads=1)
    parallel = fitted(data, block_size=10, threads=threads)
    assert_same_fit(parallel, serial, rtol=1e-12)
    assert engine.prepare(data, block_size=10, threads=threads).threads == threads


def test_steps_accept_prepared_ratings_and_give_the_same_numbers():
    X = sp.csr_matrix(ratings_with_an_empty_user(seed=2))
    mixture, post = common.init(X, 3, seed=0)
    prepared = engine.prepare(X, block_size=7, threads=2)
    post_a, ll_a = em.estep(X, mixture)
    post_b, ll_b = em.estep(prepared, mixture)
    np.testing.assert_allclose(post_b, post_a, rtol=1e-12, atol=1e-15)
    assert ll_b == pytest.approx(ll_a, rel=1e-13)
    for a, b in zip(em.mstep(X, post_a, mixture), em.mstep(prepared, post_a, mixture), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12)
    pairs = (np.arange(20), np.arange(20) % 5)
    np.testing.assert_allclose(
        em.fill_matrix(prepared, mixture, pairs), em.fill_matrix(X, mixture, pairs), rtol=1e-12
    )


def test_sparse_blocks_share_the_arrays_of_the_matrix():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(3), 500, 40, 0.2))
    prepared = engine.prepare(X, block_size=64)
    assert len(prepared.blocks) == 8
    assert np.shares_memory(prepared.X.data, X.data)  # float64 CSR in: not even X is copied
    ones = prepared.blocks[0].M.data
    for block in prepared.blocks:
        assert np.shares_memory(block.X.data, X.data)
        assert np.shares_memory(block.X.indices, X.indices)
        assert np.shares_memory(block.M.data, ones)  # one buffer of ones for every block
    assert ones.size == max(block.X.nnz for block in prepared.blocks)
    rows = np.concatenate([block.X.toarray() for block in prepared.blocks])
    np.testing.assert_array_equal(rows, X.toarray())


def test_dense_blocks_are_views():
    X = random_ratings(np.random.default_rng(4), 50, 6, 0.5)
    prepared = engine.prepare(X, block_size=16)
    assert [block.X.shape[0] for block in prepared.blocks] == [16, 16, 16, 2]
    assert all(np.shares_memory(block.X, prepared.X) for block in prepared.blocks)


def test_by_default_every_thread_gets_blocks_when_they_are_large_enough():
    X = random_ratings(np.random.default_rng(5), 5000, 900, 0.05)  # 4.5M entries when dense
    two = engine.prepare(X, threads=2)  # 2 blocks of 2.25M entries
    assert len(two.blocks) == 2 and two.threads == 2
    three = engine.prepare(X, threads=3)  # 3 blocks would hold under 2M entries each
    assert len(three.blocks) == 1 and three.threads == 1
    sparse = engine.prepare(sp.csr_matrix(X), threads=2)  # 225k ratings: one block
    assert len(sparse.blocks) == 1 and sparse.threads == 1
    prepared = engine.prepare(sp.csr_matrix(X), block_size=1000)
    assert prepared.threads == min(5, engine.available_cores())


@pytest.mark.parametrize(
    ("option", "value", "error", "message"),
    [
        ("dtype", np.float16, ValueError, "dtype must be np.float64 or np.float32"),
        ("block_size", 0, ValueError, "block_size must be at least 1"),
        ("block_size", 2.5, TypeError, "block_size must be a number of users"),
        ("threads", 0, ValueError, "threads must be a positive integer"),
    ],
)
def test_bad_layout_options_are_named(option, value, error, message):
    X = random_ratings(np.random.default_rng(6), 20, 5, 0.5)
    with pytest.raises(error, match=message):
        em.run(X, *common.init(X, 2), **{option: value})


# float32: the ratings are stored minus a rounded mean, the products run in float32


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_float32_keeps_integer_ratings_exact(fmt):
    X = random_ratings(np.random.default_rng(7), 40, 9, 0.5)
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    prepared = engine.prepare(data, dtype=np.float32)
    assert prepared.X.dtype == np.float32 and prepared.shift == 3.0
    stored = prepared.X.toarray() if fmt == "sparse" else prepared.X
    np.testing.assert_array_equal(np.where(X != 0, stored + prepared.shift, 0.0), X)
    mixture, _, _ = em.run(data, *common.init(X, 2, seed=0))
    filled = em.fill_matrix(prepared, mixture, pairs="all")
    np.testing.assert_array_equal(filled[X != 0], X[X != 0])


def float32_versus_float64(data, K, seeds):
    """The worst relative differences over seeds after one iteration (ll, mu, var, p, post)
    and after a whole fit (ll)."""
    worst = np.zeros(6)
    for seed in seeds:
        start = common.init(data, K, seed)
        one = [em.run(data, *start, max_iter=1, dtype=dt) for dt in (np.float64, np.float32)]
        full = [em.run(data, *start, dtype=dt) for dt in (np.float64, np.float32)]
        (m64, p64, ll64), (m32, p32, ll32) = one
        differences = [
            abs(ll32 / ll64 - 1),
            np.abs(m32.mu - m64.mu).max() / np.abs(m64.mu).max(),
            np.abs(m32.var / m64.var - 1).max(),
            np.abs(m32.p / m64.p - 1).max(),
            np.abs(p32 - p64).max(),
            abs(full[1][2] / full[0][2] - 1),
        ]
        worst = np.maximum(worst, differences)
    return dict(zip(["ll", "mu", "var", "p", "post", "fitted ll"], worst, strict=True))


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_float32_changes_results_by_less_than_1e_5_on_random_ratings(fmt):
    X = random_ratings(np.random.default_rng(8), 300, 60, 0.3)
    worst = float32_versus_float64(sp.csr_matrix(X) if fmt == "sparse" else X, 4, range(3))
    assert max(worst.values()) < 1e-5, worst


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_float32_changes_the_course_netflix_results_by_less_than_1e_5(course, netflix_fit, fmt):
    X = course("netflix_incomplete")
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    worst = float32_versus_float64(data, 12, [0, 1])
    assert max(worst.values()) < 1e-5, worst
    # and what a user reads off the fit: the course's RMSE of the filled matrix (seed 1)
    assert netflix_fit.seed == 1  # the float64 fit from seed 1 is the shared one
    fits = [netflix_fit.mixture, em.run(data, *common.init(X, 12, 1), dtype=np.float32)[0]]
    gold = course("netflix_complete")
    rmse64, rmse32 = (common.rmse(gold, em.fill_matrix(X, mixture)) for mixture in fits)
    assert rmse32 == pytest.approx(rmse64, rel=1e-5)


# the progress display


def test_progress_bar_shows_iterations_log_likelihood_and_relative_change(monkeypatch):
    import tqdm.auto

    stream = io.StringIO()
    original = tqdm.auto.tqdm
    monkeypatch.setattr(tqdm.auto, "tqdm", lambda *a, **k: original(*a, file=stream, **k))
    X = random_ratings(np.random.default_rng(9), 60, 10, 0.5)
    trace = []
    with engine.ProgressBar("EM K=3", leave=True) as show:

        def callback(iteration, ll, mixture):
            trace.append(ll)
            show(iteration, ll, mixture)

        em.run(X, *common.init(X, 3, seed=0), callback=callback)
    text = stream.getvalue()
    assert text.startswith("\rEM K=3") or "EM K=3" in text
    last = text.rsplit("\r", 1)[-1]
    assert f"{len(trace)}it" in last
    assert f"objective={trace[-1]:.6g}" in last
    assert f"rel_change={abs(trace[-1] - trace[-2]) / abs(trace[-1]):.2e}" in last


def test_a_disabled_progress_bar_draws_nothing(capsys):
    X = random_ratings(np.random.default_rng(10), 30, 6, 0.5)
    with engine.ProgressBar(enabled=False) as show:
        em.run(X, *common.init(X, 2, seed=0), callback=show)
    assert show.bar is None
    assert capsys.readouterr().err == ""


def test_fit_shows_progress_on_stderr_when_asked(capsys):
    X = random_ratings(np.random.default_rng(11), 40, 8, 0.5)
    fit(X, 2, seeds=[0], progress=True)
    assert "em K=2 seed=0" in capsys.readouterr().err
    fit(X, 2, seeds=[0])
    assert capsys.readouterr().err == ""
