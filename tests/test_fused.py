"""The fused kernel (cfcore.engine.fused) computes what the course module cfcore.em computes.

Every comparison runs the same step twice, on the numpy path (``engine.using("numpy")``)
and through the kernel, and asks for 1e-10 relative in float64 (1e-5 in float32): the
posteriors, the log-likelihood, each of the M-step's sums, a whole run's trace, MAP-EM, and
the residual mixture's predictions. Without numba the numpy path runs instead; that
fallback is tested too. The comparisons skip only when numba is missing, and fail then
under CI (which installs the ``fast`` extra).
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore import common, em, engine
from cfcore.data import RatingsData
from cfcore.engine import fused
from cfcore.models import map_em
from cfcore.models.mixtures import ResidualMixture
from cfcore.models.starts import init_observed


def _numba_or_skip():
    if engine.numba_available():
        return
    if os.environ.get("CI"):
        pytest.fail("numba is missing under CI: `make install` installs the fast extra")
    pytest.skip("numba is not installed (pip install -e '.[fast]')")


@pytest.fixture
def kernel():
    _numba_or_skip()
    with engine.using("fused"):
        yield


def random_csr(seed=0, n=120, d=30, density=0.2, *, negative=False, empty_users=(3, 50)):
    """Random ratings 1-5 (or residuals around 0) as CSR, with users and items unrated."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr")
    X.data = rng.normal(0.0, 0.8, X.nnz) if negative else rng.integers(1, 6, X.nnz) * 1.0
    users, items = np.ones(n), np.ones(d)
    users[list(empty_users)] = 0.0  # those users rate nothing
    items[[0, d - 1]] = 0.0  # nor does anyone rate the first and last item
    X = (sp.diags(users) @ X @ sp.diags(items)).tocsr()
    X.eliminate_zeros()
    X.sort_indices()
    return X


def on_numpy(step, *args, **kw):
    with engine.using("numpy"):
        return step(*args, **kw)


def assert_close(actual, expected, rtol=1e-10):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def a_mixture(X, K, seed=0):
    return common.init(X, K, seed)


# --- one E-step, one set of sums ---------------------------------------------------------


@pytest.mark.parametrize("K", [1, 3, 7])
def test_the_e_step_equals_the_numpy_path(kernel, K):
    X = random_csr()
    mixture, _ = a_mixture(X, K)
    post, ll = em.estep(X, mixture)
    expected_post, expected_ll = on_numpy(em.estep, X, mixture)
    assert_close(post, expected_post)
    assert ll == pytest.approx(expected_ll, rel=1e-10)
    np.testing.assert_array_equal(post[3], post[50])  # users without ratings: the prior
    assert_close(post[3], mixture.p)


@pytest.mark.parametrize("negative", [False, True])
def test_each_m_step_sum_equals_the_numpy_path(kernel, negative):
    X = random_csr(1, negative=negative)
    data = engine.prepare(X, allow_negative=True)
    post = np.random.default_rng(2).dirichlet(np.ones(4), size=X.shape[0])
    expected = on_numpy(em.statistics, data, post)
    for actual, wanted in zip(em.statistics(data, post), expected, strict=True):
        assert_close(actual, wanted)
    assert (em.statistics(data, post).support[:, [0, -1]] == 0).all()  # items nobody rated


def test_one_pass_gives_the_sums_of_the_posterior_it_computed(kernel):
    X = random_csr(2)
    data = engine.one_pass(engine.prepare(X))
    mixture, _ = a_mixture(X, 4)
    post, _ = em._estep(data, mixture)
    assert data.cache.post is post  # the sums were computed in the same pass
    cached = em.statistics(data, post)
    assert data.cache.post is None  # taken once
    for a, b in zip(cached, on_numpy(em.statistics, data, post), strict=True):
        assert_close(a, b)
    copy = post.copy()  # any other array gets its own pass
    for a, b in zip(em.statistics(data, copy), cached, strict=True):
        assert_close(a, b)


def test_the_public_steps_never_reuse_sums(kernel):
    X = random_csr(3)
    data = engine.prepare(X)
    mixture, _ = a_mixture(X, 3)
    post, _ = em.estep(data, mixture)
    post[:] = 1.0 / 3  # a caller may change the posterior before the M-step
    expected = on_numpy(em.mstep, data, post, mixture)
    for a, b in zip(em.mstep(data, post, mixture), expected, strict=True):
        assert_close(a, b)


# --- whole runs ----------------------------------------------------------------------------


def traced_run(X, K=4, seed=1, **options):
    trace = []
    mixture, post = a_mixture(X, K, seed)
    result = em.run(X, mixture, post, callback=lambda i, ll, m: trace.append(ll), **options)
    return result, np.array(trace)


@pytest.mark.parametrize("K", [1, 4])
@pytest.mark.parametrize("layout", [{}, {"block_size": 17, "threads": 2}])
@pytest.mark.parametrize("passes", [1, 2])  # E-step and sums together, or one after the other
def test_a_whole_em_run_equals_the_numpy_path(kernel, K, layout, passes, monkeypatch):
    if passes == 2:
        monkeypatch.setattr(fused, "ONE_PASS_BYTES", 0)
    X = random_csr(4, n=200, d=40)
    (mixture, post, ll), trace = traced_run(X, K, **layout)
    (mixture_np, post_np, ll_np), trace_np = on_numpy(traced_run, X, K, **layout)
    assert len(trace) == len(trace_np) >= 3
    assert_close(trace, trace_np)
    for a, b in zip(mixture, mixture_np, strict=True):
        assert_close(a, b)
    assert_close(post, post_np)
    assert ll == pytest.approx(ll_np, rel=1e-10)


def test_the_kernel_never_makes_the_indicator_s_buffer_of_ones(kernel):
    data = engine.prepare(random_csr(4, n=200, d=40), block_size=50)
    ones = data.blocks[0].indicator
    assert all(block.indicator is ones for block in data.blocks)  # one buffer for the blocks
    mixture, post = a_mixture(data.X, 3)
    em.run_full(data, mixture, post, max_iter=5)
    assert ones._array is None  # 8 bytes a rating the kernel's path does not hold
    with engine.using("numpy"):
        em.estep(data, mixture)
    assert ones._array is not None and ones._array.size == max(b.X.nnz for b in data.blocks)
    assert not ones._array.flags.writeable


def a_coinciding_start(X, K):
    """A start whose components 1 and K-1 sit on one point (a saddle of the likelihood)."""
    mixture, post = a_mixture(X, K)
    mu, var = mixture.mu.copy(), mixture.var.copy()
    mu[K - 1], var[K - 1] = mu[1], var[1]
    return common.GaussianMixture(mu, var, mixture.p), post


def test_the_weighted_sq_norms_are_the_numpy_paths_to_the_last_bit(kernel):
    X = engine.prepare(random_csr(5, n=500, d=40, negative=True), allow_negative=True)
    post = np.random.default_rng(0).random((500, 10))
    post[:, 9] = post[:, 1]  # two equal columns: where rounding would tell them apart
    expected = on_numpy(em.statistics, X, post).weighted_sq_norms
    np.testing.assert_array_equal(em.statistics(X, post).weighted_sq_norms, expected)


def test_a_run_from_coinciding_components_leaves_them_as_the_numpy_path_does(kernel):
    X = engine.prepare(random_csr(5, n=500, d=40, negative=True), allow_negative=True)
    start, post = a_coinciding_start(X.X, 10)
    fits = {}
    for path in ("numpy", "fused"):
        with engine.using(path):
            fits[path] = map_em.run_full(X, start, post, prior_variance=0.5, max_iter=30).mixture
    for mixture in fits.values():  # both left the saddle (which way is up to the rounding)
        assert np.abs(mixture.mu[9] - mixture.mu[1]).max() > 1e-9


def test_csr_through_the_kernel_equals_the_dense_numpy_path(kernel):
    X = random_csr(5)
    dense = X.toarray()  # 0 = missing: the same ratings, on the numpy path (dense never fuses)
    assert not fused.applies(engine.prepare(dense))
    (mixture, post, ll), trace = traced_run(X)
    (mixture_d, post_d, ll_d), trace_d = traced_run(dense)
    assert_close(trace, trace_d)
    for a, b in zip(mixture, mixture_d, strict=True):
        assert_close(a, b)
    assert_close(post, post_d)


def test_float32_is_within_1e_5_of_float64(kernel):
    X = random_csr(6, n=300, d=50)
    (mixture, _, ll), _ = traced_run(X, max_iter=30, dtype=np.float32)
    (mixture_64, _, ll_64), _ = on_numpy(traced_run, X, max_iter=30)
    (mixture_32, _, ll_32), _ = on_numpy(traced_run, X, max_iter=30, dtype=np.float32)
    assert ll == pytest.approx(ll_64, rel=1e-5) and ll == pytest.approx(ll_32, rel=1e-5)
    for a, b in zip(mixture, mixture_64, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_map_em_equals_the_numpy_path(kernel):
    R = random_csr(7, n=150, d=35, negative=True)
    mixture, post = init_observed(R, 3, 2, 0.1)
    options = dict(prior_variance=0.16, min_variance=0.1)
    result = map_em.run_full(R, mixture, post, **options)
    expected = on_numpy(map_em.run_full, R, mixture, post, **options)
    assert result.n_iter == expected.n_iter and result.converged == expected.converged
    assert result.objective == pytest.approx(expected.objective, rel=1e-10)
    for a, b in zip(result.mixture, expected.mixture, strict=True):
        assert_close(a, b)
    assert_close(result.post, expected.post)


def dense_ratings(seed=8, n=80, d=25):
    """Every user and item rated (no two seeded starts alike, no saddle to fall off)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, size=(n, d)) * (rng.random((n, d)) < 0.4)
    X[np.arange(n), rng.integers(0, d, n)] = 3
    X[rng.integers(0, n, d), np.arange(d)] = 4
    return RatingsData.from_dense(X.astype(float), scale=(1, 5))


def test_residual_mixture_predictions_equal_the_numpy_path(kernel):
    data = dense_ratings()
    rows, cols = np.meshgrid(np.arange(data.n_users), np.arange(data.n_items), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    model = ResidualMixture(K=3, seeds=range(3))
    predictions = model.fit(data).predict(rows, cols)
    expected = on_numpy(lambda: ResidualMixture(K=3, seeds=range(3)).fit(data).predict(rows, cols))
    assert_close(predictions, expected)


@pytest.mark.parametrize("path", ["numpy", "fused"])
def test_seeds_on_threads_leave_blas_as_they_found_it_and_fit_as_one_after_another(path):
    from threadpoolctl import threadpool_info

    from cfcore.bench.residual import long_tailed_fold

    if path == "fused":
        _numba_or_skip()

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    fold = long_tailed_fold(2_000, 800, 8_000)
    rows, cols, _ = fold.test.triples()
    before, fits = blas_threads(), []
    with engine.using(path):
        for threads in (1, 2, 2):  # each fit's own limits once undid the other's
            model = ResidualMixture(K=4, seeds=range(6), threads=threads).fit(fold.train)
            fits.append(model.predict(rows, cols))
            assert blas_threads() == before
    for predictions in fits[1:]:
        np.testing.assert_array_equal(predictions, fits[0])


# --- where the kernel runs, and where it does not ------------------------------------------


def test_the_engine_setting_chooses_the_path(monkeypatch):
    X = engine.prepare(random_csr())
    monkeypatch.setenv(fused.ENGINE_VARIABLE, "numpy")
    assert not fused.applies(X)
    monkeypatch.setenv(fused.ENGINE_VARIABLE, "auto")
    assert fused.applies(X) == engine.numba_available()
    with engine.using("numpy"):
        assert not fused.applies(X)
    monkeypatch.setenv(fused.ENGINE_VARIABLE, "gpu")
    with pytest.raises(ValueError, match="CFCORE_ENGINE='gpu'"):
        fused.applies(X)
    with pytest.raises(ValueError, match="engine must be one of"):
        with engine.using("fast"):
            pass


def test_without_numba_the_numpy_path_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "cfcore.engine._kernels", raising=False)
    monkeypatch.setattr(fused, "_kernel", None)  # forget what an earlier import found
    assert not engine.numba_available()
    X = random_csr(9)
    assert not fused.applies(engine.prepare(X))
    (mixture, _, ll), _ = traced_run(X)
    (mixture_np, _, ll_np), _ = on_numpy(traced_run, X)
    assert ll == ll_np
    for a, b in zip(mixture, mixture_np, strict=True):
        np.testing.assert_array_equal(a, b)
    with engine.using("fused"), pytest.raises(ImportError, match="needs numba"):
        em.estep(X, a_mixture(X, 2)[0])


def test_an_underflow_is_reported_as_on_the_numpy_path(kernel):
    X = random_csr(10)
    mu, var, p = a_mixture(X, 2)[0]
    tiny = common.GaussianMixture(mu + 1e5, np.full(2, 1e-300), p)
    with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="underflowed"):
        em.estep(X, tiny)


def test_threads_of_independent_fits_return_in_order():
    assert engine.map_threads(lambda x: x * x, range(7), threads=3) == [x * x for x in range(7)]
    assert engine.map_threads(str, [], threads=2) == []


# --- less overhead: the residual mixture's start ---------------------------------------------


@pytest.mark.parametrize("dense", [False, True])
def test_the_observed_start_takes_the_course_s_rows(dense):
    X = random_csr(13, negative=not dense)
    data = X.toarray() if dense else X
    mixture, post = init_observed(data, 4, 3, 0.1)
    course, _ = common.init(data, 4, 3)
    np.testing.assert_array_equal(mixture.mu, course.mu)
    np.testing.assert_array_equal(mixture.p, course.p)
    assert post.shape == (X.shape[0], 4)


def test_the_observed_start_warns_when_starts_must_coincide():
    X = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 0.0]]))
    with pytest.warns(UserWarning, match="only 2 distinct rows"):
        init_observed(X, 3, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init_observed(random_csr(14, empty_users=range(0, 120, 2)), 5, 0)  # two empty rows
