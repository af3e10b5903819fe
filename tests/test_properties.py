"""Properties that hold for any data: EM never lowers the likelihood, posteriors are
distributions, fill_matrix keeps observed ratings, and em reduces to naive_em on complete data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from synthetic import incomplete_ratings, random_ratings

from cfcore import common, em, engine, naive_em

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def complete_data(draw):
    """(X, K, seed): n x d Gaussian blobs, n >= 5 K, so no component collapses on a point."""
    K = draw(st.integers(1, 4))
    n = draw(st.integers(5 * K, 60))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=draw(st.floats(0.5, 8.0)), size=(K, d))
    X = centres[rng.integers(K, size=n)] + rng.normal(size=(n, d))
    return X, K, draw(st.integers(0, 100))


def traced_run(module, X, K, seed, **options):
    trace = []
    mixture, post = common.init(X, K, seed)
    result = run_unless_collapsed(
        module, X, mixture, post, callback=lambda i, ll, m: trace.append(ll), **options
    )
    return result, np.array(trace)


def run_unless_collapsed(module, X, mixture, post, **options):
    """Run EM; a component collapsing onto one point (naive EM has no variance floor) is a
    legitimate outcome that cfcore reports as an error, so hypothesis discards that case."""
    try:
        return module.run(X, mixture, post, **options)
    except ValueError as err:
        assume("collapsed onto single points" not in str(err))
        raise


def assert_non_decreasing(trace):
    steps = np.diff(trace)
    assert (steps >= -1e-9 * np.abs(trace[1:])).all(), f"log-likelihood fell: {steps.min()}"


@SETTINGS
@given(complete_data())
def test_naive_em_never_lowers_the_log_likelihood(case):
    X, K, seed = case
    (_, post, _), trace = traced_run(naive_em, X, K, seed, max_iter=200)
    assert_non_decreasing(trace)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)


@SETTINGS
@given(incomplete_ratings(), st.sampled_from(["dense", "sparse"]))
def test_em_with_missing_data_never_lowers_the_log_likelihood(case, fmt):
    X, K, seed = case
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    (mixture, post, _), trace = traced_run(em, data, K, seed, max_iter=200)
    if (common.init(X, K, seed)[0].var < 0.25).any():
        # the first E-step used an initial variance below the floor; the first M-step lifts
        # it to 0.25, which can lower the likelihood (e.g. X = [[2], [3] * 6], K = 1); from
        # there on every mixture respects the floor and EM cannot lower it
        trace = trace[1:]
    assert_non_decreasing(trace)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    assert (mixture.var >= 0.25).all()


@SETTINGS
@given(incomplete_ratings())
def test_fill_matrix_keeps_every_observed_rating(case):
    X, K, seed = case
    mixture, _, _ = em.run(X, *common.init(X, K, seed), max_iter=50)
    filled = em.fill_matrix(X, mixture)
    observed = X != 0
    np.testing.assert_array_equal(filled[observed], X[observed])
    assert np.isfinite(filled).all()
    post, _ = em.estep(X, mixture)
    np.testing.assert_allclose(filled[~observed], (post @ mixture.mu)[~observed])


# the equality holds also when K exceeds the distinct rows, which init warns about
@pytest.mark.filterwarnings("ignore:K=.* distinct row:UserWarning")
@SETTINGS
@given(incomplete_ratings())
def test_sparse_path_equals_dense_path(case):
    # the course module's products on both formats; the compiled kernel that CSR takes by
    # default sums in another order, which at a knife edge of the support rule (a support
    # of 1 +- 1 ulp, as with two users split evenly) can choose the other branch:
    # tests/test_fused.py compares it with this path away from such edges
    X, K, seed = case
    with engine.using("numpy"):
        dense = em.run(X, *common.init(X, K, seed), max_iter=30)
        sparse = em.run(sp.csr_matrix(X), *common.init(sp.csr_matrix(X), K, seed), max_iter=30)
    for a, b in zip(dense[0], sparse[0], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse[2], dense[2], rtol=1e-8)


@SETTINGS
@given(complete_data())
def test_em_on_complete_data_equals_naive_em(case):
    X, K, seed = case
    X = X - X.min() + 1.0  # fully observed: no entry is 0
    naive_support = []
    naive = run_unless_collapsed(
        naive_em,
        X,
        *common.init(X, K, seed),
        max_iter=100,
        callback=lambda i, ll, m: naive_support.append(m.p.min() * X.shape[0]),
    )
    # em updates a mean only where its support sum_u post_uj >= 1; naive_em always does
    assume(min(naive_support) >= 1.0)
    missing = em.run(X, *common.init(X, K, seed), min_variance=0.0, max_iter=100)
    for a, b in zip(naive[0], missing[0], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(missing[2], naive[2], rtol=1e-9)


def test_a_user_with_no_ratings_gets_the_prior_and_the_mixture_mean():
    rng = np.random.default_rng(0)
    X = random_ratings(rng, 30, 8, 0.6)
    X[[4, 17]] = 0.0  # two users who rated nothing
    mixture, _, _ = em.run(X, *common.init(X, 3, seed=2))
    post, _ = em.estep(X, mixture)
    prior = (mixture.p + em.LOG_EPS) / (mixture.p + em.LOG_EPS).sum()
    np.testing.assert_allclose(post[[4, 17]], [prior, prior], rtol=1e-12)
    filled = em.fill_matrix(X, mixture)
    np.testing.assert_allclose(filled[[4, 17]], [prior @ mixture.mu] * 2, rtol=1e-12)
    sparse_values = em.fill_matrix(sp.csr_matrix(X), mixture, pairs=(np.full(8, 4), np.arange(8)))
    np.testing.assert_allclose(sparse_values, prior @ mixture.mu, rtol=1e-12)
