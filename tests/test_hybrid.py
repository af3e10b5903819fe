"""The hybrid mixture: content priors on item offsets and user tastes, then MAP-EM."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import random_ratings, titled_ratings

from cfcore.data import RatingsData
from cfcore.engine import stored_rows
from cfcore.models import HybridMixture, ResidualMixture, fit_biases, item_features, map_em
from cfcore.models.hybrid import content_prior_weights, taste_at, user_tastes
from cfcore.models.starts import init_observed


def genre_ratings(seed=0, n=120, d=40, density=0.3, effect=1.2):
    """1-5 ratings whose item offsets are +effect for genre 0 and -effect for genre 1."""
    rng = np.random.default_rng(seed)
    genres = rng.random((d, 3)) < 0.5
    offsets = effect * (genres[:, 0].astype(float) - genres[:, 1])
    X = np.clip(np.rint(3 + offsets + rng.normal(0, 0.7, (n, d))), 1, 5)
    X[rng.random((n, d)) > density] = 0.0
    return RatingsData.from_dense(
        X, genres=genres, genre_names=["Up", "Down", "Noise"], scale=(1, 5), name="genres"
    )


def test_an_item_prior_moves_only_the_item_offsets_toward_it():
    dense = random_ratings(np.random.default_rng(0), 30, 8, 0.5)
    dense[:, 5] = 0.0  # item 5 has no ratings
    X = sp.csr_matrix(dense)
    plain = fit_biases(X)
    zero = fit_biases(X, item_prior=np.zeros(8))
    np.testing.assert_array_equal(zero.item, plain.item)
    np.testing.assert_array_equal(zero.user, plain.user)
    prior = np.linspace(-1, 1, 8)
    shrunk = fit_biases(X, item_prior=prior)
    assert shrunk.item[5] == pytest.approx(prior[5], abs=1e-10)  # no ratings: the prior
    # the normal equation of every item: (reg + |U_i|) c_i = sum (x - m - b_u) + reg g_i
    rows, cols = stored_rows(X), X.indices
    left = (10 + np.bincount(cols, minlength=8)) * shrunk.item
    right = np.bincount(cols, X.data - shrunk.mean - shrunk.user[rows], 8) + 10 * prior
    np.testing.assert_allclose(left, right, atol=1e-9)


def test_a_bad_item_prior_is_named():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(0), 10, 4, 0.7))
    with pytest.raises(ValueError, match="item_prior must be 4 finite"):
        fit_biases(X, item_prior=np.zeros(3))


def test_content_weights_are_the_count_weighted_least_squares():
    rng = np.random.default_rng(1)
    F, c, counts = rng.random((50, 4)), rng.normal(size=50), rng.integers(0, 30, 50)
    w = content_prior_weights(c, F, counts, reg=0.0)
    root = np.sqrt(counts)[:, None]
    expected = np.linalg.lstsq(F * root, c * root[:, 0], rcond=None)[0]
    np.testing.assert_allclose(w, expected, rtol=1e-9)


def test_user_tastes_are_each_users_ridge_regression():
    rng = np.random.default_rng(2)
    dense = rng.normal(size=(25, 30)) * (rng.random((25, 30)) < 0.3)
    dense[4] = 0.0  # a user without ratings
    R = sp.csr_matrix(dense)
    F = (rng.random((30, 5)) < 0.4).astype(float)
    tastes = user_tastes(R, F, reg=3.0)
    for u in range(25):
        items = R.indices[R.indptr[u] : R.indptr[u + 1]]
        Fu, r = F[items], R.data[R.indptr[u] : R.indptr[u + 1]]
        expected = np.linalg.solve(Fu.T @ Fu + 3.0 * np.eye(5), Fu.T @ r)
        np.testing.assert_allclose(tastes[u], expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(tastes[4], 0.0)


def test_features_are_genres_and_year_indicators():
    data = titled_ratings(n_items=10)
    data.years = np.array([1931, 1955, 1990, 1991, 1992, 1993, 1994, 1995, 1996, np.nan])
    F, names = item_features(data)
    assert names[:3] == ["genre: Drama", "genre: Comedy", "genre: Horror"]
    assert "year >= 1940" in names and "year >= 1990" in names and "year 1996" in names
    assert names[-1] == "year unknown"
    np.testing.assert_array_equal(F[:, :3], data.genres)
    column = names.index("year >= 1990")
    np.testing.assert_array_equal(F[:, column], [0, 0, 1, 1, 1, 1, 1, 1, 1, 0])
    assert F[9, -1] == 1 and F[9, 3:-1].sum() == 0  # unknown year: that indicator only


def test_without_content_the_hybrid_is_the_residual_mixture():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(4), 40, 12, 0.5))
    hybrid = HybridMixture(3, seeds=range(3)).fit(X)  # a bare matrix has no content
    residual = ResidualMixture(3, seeds=range(3)).fit(X)
    rows, cols = np.divmod(np.arange(480), 12)
    np.testing.assert_allclose(hybrid.predict(rows, cols), residual.predict(rows, cols), rtol=1e-12)


def test_content_predicts_items_nobody_rated():
    data = genre_ratings()
    cold = np.arange(30, 40)  # hold out every rating of the last ten items
    X = data.matrix.tolil()
    test = data.matrix[:, cold].tocoo()
    X[:, cold] = 0
    train = data.with_matrix(sp.csr_matrix(X))
    rows, cols, truth = test.row, cold[test.col], test.data
    errors = {}
    for model in (ResidualMixture(3, seeds=range(3)), HybridMixture(3, seeds=range(3))):
        predictions = model.fit(train).predict(rows, cols)
        errors[model.name] = np.sqrt(np.mean((predictions - truth) ** 2))
    assert errors["hybrid-mixture"] < errors["residual-mixture"] - 0.3, errors


def test_an_items_offset_moves_from_content_to_its_ratings():
    data = genre_ratings(seed=5)
    model = HybridMixture(2, seeds=[0], reg_item=10.0).fit(data)
    X, b = data.matrix, model.biases_
    prior = model.features_ @ model.content_weights_
    rows, cols = stored_rows(X), X.indices
    counts = np.bincount(cols, minlength=X.shape[1])
    own = np.bincount(cols, X.data - b.mean - b.user[rows], X.shape[1])
    np.testing.assert_allclose(b.item, (own + 10.0 * prior) / (10.0 + counts), atol=1e-9)


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_map_em_on_what_content_leaves_never_lowers_the_log_posterior(seed, K):
    data = genre_ratings(seed=seed, n=30, d=12, density=0.5)
    model = HybridMixture(K, seeds=[seed % 7]).fit(data)
    X = data.matrix
    rows = stored_rows(X)
    left = model.biases_.residuals(X)
    left.data -= taste_at(model.tastes_, model.features_, rows, X.indices)
    mixture, post = init_observed(left, K, seed % 7, model.min_variance_)
    trace = []
    map_em.run(
        left,
        mixture,
        post,
        prior_variance=model.prior_variance_,
        min_variance=model.min_variance_,
        max_iter=60,
        callback=lambda i, objective, m: trace.append(objective),
    )
    trace = np.array(trace)
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[1:])).all()


def test_bad_item_features_are_named():
    data = genre_ratings()
    with pytest.raises(ValueError, match="one row per item"):
        HybridMixture(2, seeds=[0], item_features=np.ones((3, 2))).fit(data)
    with pytest.raises(ValueError, match="needs biases"):
        HybridMixture(2, biases=False, prior_variance=None)


def test_folding_in_a_training_users_ratings_reproduces_their_predictions():
    """With the user clusters only, fold-in recomputes b, the taste and the posterior of a
    training user exactly as fitting did, so it predicts what predict does."""
    data = genre_ratings(seed=6, n=60, d=20, density=0.5)
    model = HybridMixture(3, sides=("users",), seeds=range(2)).fit(data)
    X = data.matrix
    for user in (0, 7, 33):
        cols, values = X.indices[X.indptr[user] : X.indptr[user + 1]], X[user].data
        expected = model.predict(np.full(20, user), np.arange(20))
        np.testing.assert_allclose(model.fold_in(cols, values), expected, rtol=1e-8)
