"""Regression tests: each pins a behaviour that was once wrong."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import cfcore
from cfcore import common, em, engine
from cfcore.apps.recommend import top_n
from cfcore.data import make_ratings
from cfcore.models import ResidualMixture, held_out_log_likelihood


def test_held_out_log_likelihood_refuses_an_overlap_at_a_stored_zero_rating():
    train = sp.csr_matrix((np.array([0.0, 3.0]), np.array([0, 1]), np.array([0, 2])), (1, 2))
    test = sp.csr_matrix((np.array([4.0]), np.array([0]), np.array([0, 1])), (1, 2))
    mixture = common.GaussianMixture(np.array([[2.0, 2.0]]), np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="share 1 entries"):
        held_out_log_likelihood(train, test, mixture)


def test_fit_takes_ratings_data_as_its_matrix():
    data, _ = make_ratings(120, 30, 3, 0.4, seed=0)
    from_data, from_matrix = cfcore.fit(data, 3, seeds=[0]), cfcore.fit(data.matrix, 3, seeds=[0])
    np.testing.assert_array_equal(from_data.mixture.mu, from_matrix.mixture.mu)
    assert from_data.log_likelihood == from_matrix.log_likelihood


def test_a_prior_toward_zero_is_refused_on_raw_ratings():
    with pytest.raises(ValueError, match="prior_variance=None"):
        ResidualMixture(biases=False)


def test_top_n_takes_item_ids_as_a_list():
    mixture = common.GaussianMixture(np.array([[1.0, 5.0, 3.0]]), np.ones(1), np.ones(1))
    (best,) = top_n({0: 4.0}, mixture, 1, item_ids=["a", "b", "c"])
    assert best.item_id == "b"


def test_a_float32_block_without_its_shift_is_refused():
    X = sp.csr_matrix(np.array([[1.0, 5.0], [4.0, 2.0]]))
    block = engine.prepare(X, dtype=np.float32).blocks[0]
    mixture = common.GaussianMixture(np.array([[3.0, 3.0]]), np.ones(1), np.ones(1))
    with pytest.raises(TypeError, match="shift"):
        em.estep(block, mixture)


def test_observed_refuses_several_blocks_instead_of_keeping_the_first():
    X = sp.csr_matrix(np.arange(1.0, 41.0).reshape(20, 2))
    with pytest.raises(ValueError, match="several blocks"):
        engine.observed(engine.prepare(X, block_size=5))
    assert engine.observed(engine.prepare(X)).X.shape == (20, 2)


def test_movielens_recommender_fits_once_per_process_without_data(movielens):
    from cfcore.apps import recommender

    assert recommender._default_movielens() is recommender._default_movielens()
    assert recommender.movielens_recommender() is recommender.movielens_recommender()
