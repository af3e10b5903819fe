"""The sparse path: same numbers as the dense one, and never a dense users x items matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings

from cfcore import common, em, fit


def big_sparse_ratings(n=40_000, d=20_000, per_user=12, seed=0) -> sp.csr_matrix:
    """n x d ratings, `per_user` each: dense, this would take n * d * 8 bytes = 6.4 GB."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, d, size=(n, per_user))
    cols.sort(axis=1)
    rows = np.repeat(np.arange(n), per_user)
    values = rng.integers(1, 6, size=n * per_user).astype(float)
    X = sp.csr_matrix((values, (rows, cols.ravel())), shape=(n, d))
    X.sum_duplicates()
    return X


def test_em_on_sparse_input_never_builds_a_dense_matrix():
    X = big_sparse_ratings()
    n, d = X.shape
    tracemalloc.start()
    try:
        mixture, post = common.init(X, 4, seed=0)
        mixture, post, ll = em.run(X, mixture, post, max_iter=3)
        em.mstep(X, post, mixture)
        values = em.fill_matrix(X, mixture, pairs=(np.arange(1000), np.arange(1000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(ll) and np.isfinite(values).all()
    dense_bytes = n * d * 8
    # the working set is a few copies of the ratings (nnz) and of the (n, K) posteriors
    assert peak < dense_bytes / 50, (
        f"peak {peak / 1e6:.0f} MB for a {dense_bytes / 1e9:.1f} GB matrix"
    )


@pytest.mark.parametrize(
    "convert", [sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.coo_matrix], ids=lambda f: f.__name__
)
def test_every_scipy_sparse_format_gives_the_dense_numbers(convert):
    X = random_ratings(np.random.default_rng(1), 50, 9, 0.5)
    mixture, post = common.init(X, 3, seed=1)
    dense_post, dense_ll = em.estep(X, mixture)
    sparse_post, sparse_ll = em.estep(convert(X), mixture)
    np.testing.assert_allclose(sparse_post, dense_post, rtol=1e-10, atol=1e-14)
    assert sparse_ll == pytest.approx(dense_ll, rel=1e-12)


def test_sparse_init_equals_dense_init():
    X = random_ratings(np.random.default_rng(2), 60, 7, 0.4)
    for seed in range(5):
        dense, sparse = common.init(X, 4, seed), common.init(sp.csr_matrix(X), 4, seed)
        for a, b in zip(dense[0], sparse[0], strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-12)


def test_predictions_at_pairs_equal_the_filled_dense_matrix():
    rng = np.random.default_rng(3)
    X = random_ratings(rng, 80, 15, 0.3)
    result = fit(sp.csr_matrix(X), 3, seeds=[0])
    filled = em.fill_matrix(X, result.mixture)
    rows, cols = rng.integers(0, 80, 500), rng.integers(0, 15, 500)
    values = em.fill_matrix(sp.csr_matrix(X), result.mixture, pairs=(rows, cols))
    np.testing.assert_allclose(values, filled[rows, cols], rtol=1e-10)
    np.testing.assert_allclose(em.fill_matrix(X, result.mixture, pairs=(rows, cols)), values)
    everything = em.fill_matrix(sp.csr_matrix(X), result.mixture, pairs="all")
    np.testing.assert_allclose(everything, filled, rtol=1e-10)


def test_duplicate_entries_in_a_csr_matrix_are_an_error():
    X = sp.csr_matrix((np.array([4.0, 5.0]), np.array([1, 1]), np.array([0, 2, 2])), shape=(2, 3))
    mixture = common.GaussianMixture(np.ones((1, 3)), np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match="1 duplicate"):
        em.estep(X, mixture)
