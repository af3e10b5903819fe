"""Response-aware MAP-EM and the response mixture: which items were rated, as evidence."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import random_ratings
from test_hybrid import genre_ratings

from cfcore.common import GaussianMixture
from cfcore.models import (
    HybridMixture,
    LiveModel,
    ResidualMixture,
    ResponseMixture,
    map_em,
    response_em,
)
from cfcore.models.starts import init_observed

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def residual_like(seed: int, n: int = 30, d: int = 10, density: float = 0.5) -> sp.csr_matrix:
    """Ratings 1-5 minus 3 where observed: CSR values around 0, as a residual model sees."""
    X = sp.csr_matrix(random_ratings(np.random.default_rng(seed), n, d, density))
    X.data -= 3.0
    X.eliminate_zeros()  # a stored 0 would be an observed 0; keep the pattern as drawn
    return X


def trace_of(X, K, seed, **settings):
    mixture, post = init_observed(X, K, seed)
    trace = []
    outcome = response_em.run_full(
        X, mixture, post, callback=lambda i, objective, m: trace.append(objective), **settings
    )
    return np.array(trace), outcome


def brute_force_log_joint(X: np.ndarray, observed: np.ndarray, mixture, weight: float):
    """a_uj = log p_j + sum_{i in C_u} [log N(x_ui | mu_ji, var_j) + weight log phi_ji]."""
    mu, var, p, log_phi = mixture
    n, K = X.shape[0], mu.shape[0]
    a = np.zeros((n, K))
    for u in range(n):
        for j in range(K):
            a[u, j] = np.log(p[j] + 1e-16)
            for i in np.flatnonzero(observed[u]):
                a[u, j] += -0.5 * np.log(2 * np.pi * var[j]) - (X[u, i] - mu[j, i]) ** 2 / (
                    2 * var[j]
                )
                a[u, j] += weight * log_phi[j, i]
    return a


def test_the_estep_is_the_formula_written_out():
    rng = np.random.default_rng(0)
    X = residual_like(1, n=8, d=5)
    K = 3
    mixture = response_em.ResponseMixture(
        rng.normal(size=(K, 5)),
        rng.uniform(0.5, 2.0, K),
        np.array([0.2, 0.5, 0.3]),
        np.log(rng.dirichlet(np.ones(5), size=K)),
    )
    post, ll = response_em.estep(X, mixture, 0.7)
    a = brute_force_log_joint(X.toarray(), X.toarray() != 0, mixture, 0.7)
    expected = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(post, expected / expected.sum(axis=1, keepdims=True), rtol=1e-10)
    top = a.max(axis=1)
    assert ll == pytest.approx(np.sum(top + np.log(np.exp(a - top[:, None]).sum(axis=1))))


def test_the_response_distributions_are_the_smoothed_supports():
    X = residual_like(2)
    trace, outcome = trace_of(
        X, 3, 0, response_weight=1.0, response_prior=0.5, prior_variance=0.2, max_iter=1
    )
    mixture, post = outcome.mixture, outcome.post
    support = post.T @ (X.toarray() != 0)  # S_ji = sum_u post_uj [i in C_u]
    phi = (support + 0.5) / (support.sum(axis=1, keepdims=True) + 0.5 * X.shape[1])
    np.testing.assert_allclose(np.exp(mixture.log_response), phi, rtol=1e-10)
    np.testing.assert_allclose(np.exp(mixture.log_response).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("prior_variance", [0.3, None])
def test_without_the_response_term_it_is_map_em(prior_variance):
    X = residual_like(3)
    mixture, post = init_observed(X, 3, 1)
    theirs = []
    expected = map_em.run_full(
        X,
        mixture,
        post,
        prior_variance=prior_variance,
        callback=lambda i, objective, m: theirs.append(objective),
    )
    ours, outcome = trace_of(
        X, 3, 1, response_weight=0.0, response_prior=0.0, prior_variance=prior_variance
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(outcome.mixture.mu, expected.mixture.mu, rtol=1e-12)
    np.testing.assert_allclose(outcome.mixture.var, expected.mixture.var, rtol=1e-12)


@SETTINGS
@given(
    st.integers(0, 10_000),
    st.integers(1, 4),
    st.floats(0.0, 2.0),
    st.floats(0.01, 2.0),
    st.sampled_from([0.1, 1.0, None]),
)
def test_the_objective_never_decreases(seed, K, weight, alpha, prior_variance):
    X = residual_like(seed, n=25, d=8, density=0.5)
    K = min(K, X.shape[0])
    trace, _ = trace_of(
        X,
        K,
        seed % 5,
        response_weight=weight,
        response_prior=alpha,
        prior_variance=prior_variance,
        max_iter=40,
    )
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[1:])).all(), np.diff(trace).min()


def test_with_weight_0_the_model_is_the_hybrid_mixture():
    data = genre_ratings(seed=7, n=60, d=20, density=0.5)
    rows, cols = np.divmod(np.arange(60 * 20), 20)
    ours = ResponseMixture(3, seeds=range(3), response_weight=0.0, prior_variance=0.2).fit(data)
    hybrid = HybridMixture(3, seeds=range(3), prior_variance=0.2).fit(data)
    np.testing.assert_allclose(ours.predict(rows, cols), hybrid.predict(rows, cols), rtol=1e-12)


def test_without_content_or_responses_it_is_the_residual_mixture():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(8), 40, 12, 0.5))
    rows, cols = np.divmod(np.arange(480), 12)
    ours = ResponseMixture(3, seeds=range(3), response_weight=0.0, prior_variance=0.2).fit(X)
    residual = ResidualMixture(3, seeds=range(3), prior_variance=0.2).fit(X)
    np.testing.assert_allclose(ours.predict(rows, cols), residual.predict(rows, cols), rtol=1e-12)


def test_which_items_were_rated_separates_the_clusters():
    """Two groups rate their own items all 3 (the Gaussian sees no difference between
    them) and item 0 differently: group 0 gives it 5, group 1 gives it 1. For a user of
    group 0 who did not rate item 0, only the response term (which items they rated) tells
    their group, so only it predicts their 5."""
    rng = np.random.default_rng(9)
    n, d = 80, 21
    group = np.arange(n) % 2
    X = np.zeros((n, d))
    for u in range(n):
        X[u, rng.choice(np.arange(1, 11) + 10 * group[u], 6, replace=False)] = 3.0
    X[:, 0] = np.where(group == 0, 5.0, 1.0)
    test_users = np.flatnonzero(group == 0)[:20]
    X[test_users, 0] = 0.0  # they never said so
    errors = {}
    for weight in (0.0, 1.0):
        model = ResponseMixture(2, seeds=range(3), response_weight=weight, sides=("users",))
        predicted = model.fit(sp.csr_matrix(X)).predict(test_users, np.zeros(20, dtype=int))
        errors[weight] = np.sqrt(np.mean((predicted - 5.0) ** 2))
    assert errors[1.0] < errors[0.0] - 0.5, errors


def test_folding_in_a_training_user_reproduces_their_predictions():
    data = genre_ratings(seed=6, n=60, d=20, density=0.5)
    model = ResponseMixture(3, sides=("users",), seeds=range(2)).fit(data)
    X = data.matrix
    for user in (0, 7, 33):
        cols, values = X.indices[X.indptr[user] : X.indptr[user + 1]], X[user].data
        expected = model.predict(np.full(20, user), np.arange(20))
        np.testing.assert_allclose(model.fold_in(cols, values), expected, rtol=1e-8)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="response_weight"):
        ResponseMixture(response_weight=-1.0)
    with pytest.raises(ValueError, match="response_prior must be > 0"):
        ResponseMixture(response_weight=0.5, response_prior=0.0)
    mixture = GaussianMixture(np.zeros((2, 4)), np.ones(2), np.full(2, 0.5))
    with pytest.raises(ValueError, match="log_response must have the means' shape"):
        response_em.estep(residual_like(0, d=4), (*mixture, np.zeros((2, 3))), 1.0)


def test_the_live_model_says_it_cannot_learn_the_response_term():
    data = genre_ratings(seed=6, n=30, d=10, density=0.5)
    model = ResponseMixture(2, seeds=[0]).fit(data)
    with pytest.raises(TypeError, match="response"):
        LiveModel(model)
