"""MAP-EM on residuals: the log-posterior never decreases, posteriors are distributions, one
M-step matches a hand computation, the model reduces to the course's EM in its limits, and
em.observed accepts negative stored values only when asked and only for sparse input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from synthetic import incomplete_ratings, random_ratings

from cfcore import em, engine
from cfcore.common import ConvergenceWarning, GaussianMixture, init
from cfcore.data import RatingsData, make_ratings
from cfcore.engine import with_data
from cfcore.models import fit_biases, map_em, matched_accuracy
from cfcore.models.mixtures import CourseMixture, ResidualMixture
from cfcore.models.starts import init_observed, init_observed_rows

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def residual_matrices(draw):
    """(R, K, seed, tau2, floor): CSR residuals (negative and 0 stored), prior, var floor."""
    X, K, seed = draw(incomplete_ratings())
    assume((X > 0).sum() >= 2)
    residuals = fit_biases(X, 1.0, 1.0).residuals(sp.csr_matrix(X))
    assume(np.unique(residuals.toarray(), axis=0).shape[0] > 1)
    tau2 = draw(st.sampled_from([0.01, 0.16, 1.0, 100.0]))
    floor = draw(st.sampled_from([0.01, 0.25]))
    return residuals, K, seed, tau2, floor


def traced(R, K, seed, tau2, floor, **options):
    trace = []
    mixture, post = init_observed(R, K, seed, floor)
    result = map_em.run(
        R,
        mixture,
        post,
        prior_variance=tau2,
        min_variance=floor,
        callback=lambda i, objective, m: trace.append(objective),
        **options,
    )
    return result, np.array(trace)


@SETTINGS
@given(residual_matrices())
def test_map_em_never_lowers_the_log_posterior(case):
    (mixture, post, objective), trace = traced(*case, max_iter=100)
    steps = np.diff(trace)
    assert (steps >= -1e-9 * np.abs(trace[1:])).all(), f"log-posterior fell by {steps.min()}"
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(mixture.p.sum(), 1.0, rtol=1e-12)
    assert objective == trace[-1]
    R, tau2 = case[0], case[3]
    previous = _previous_mixture(*case, n_iter=len(trace))
    assert objective == pytest.approx(map_em.log_posterior(R, previous, tau2))


def _previous_mixture(R, K, seed, tau2, floor, n_iter):
    """The mixture the last E-step was run on: n_iter - 1 full iterations from the init."""
    mixture, post = init_observed(R, K, seed, floor)
    if n_iter > 1:
        mixture, _, _ = map_em.run(
            R, mixture, post, prior_variance=tau2, min_variance=floor, max_iter=n_iter - 1
        )
    return mixture


@SETTINGS
@given(residual_matrices())
def test_the_log_posterior_is_the_log_likelihood_plus_the_log_prior(case):
    R, K, seed, tau2, floor = case
    mixture, _ = init_observed(R, K, seed, floor)
    log_likelihood = em.log_likelihood(engine.observed(R, allow_negative=True), mixture)
    expected = log_likelihood + np.sum(-0.5 * mixture.mu**2 / tau2 - 0.5 * np.log(2 * np.pi * tau2))
    assert map_em.log_posterior(R, mixture, tau2) == pytest.approx(expected, rel=1e-12)


def test_one_map_mstep_by_hand():
    # K = 1, two users rating one item 2 and 4, previous var 1, tau^2 = 0.5:
    # mu = (2 + 4) / (2 + 1 / 0.5) = 1.5; var = ((2 - 1.5)^2 + (4 - 1.5)^2) / 2 = 3.25
    X = sp.csr_matrix([[2.0], [4.0]])
    previous = GaussianMixture(np.array([[0.0]]), np.array([1.0]), np.array([1.0]))
    mixture = map_em.map_mstep(X, np.ones((2, 1)), previous, 0.5, min_variance=0.0)
    np.testing.assert_allclose(mixture.mu, [[1.5]])
    np.testing.assert_allclose(mixture.var, [3.25])
    np.testing.assert_allclose(mixture.p, [1.0])


def test_a_strong_prior_pulls_unsupported_means_to_zero():
    X = sp.csr_matrix([[2.0, 0.0], [0.0, -1.0]])
    X.eliminate_zeros()
    previous = GaussianMixture(np.ones((1, 2)), np.array([1.0]), np.array([1.0]))
    weak = map_em.map_mstep(X, np.ones((2, 1)), previous, 1e12, min_variance=0.1)
    strong = map_em.map_mstep(X, np.ones((2, 1)), previous, 1e-6, min_variance=0.1)
    np.testing.assert_allclose(weak.mu, [[2.0, -1.0]], rtol=1e-9)
    assert np.abs(strong.mu).max() < 1e-5


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 4), st.sampled_from(["dense", "sparse"]))
def test_a_vanishing_prior_is_the_course_mstep(seed, K, fmt):
    # complete data and sum_u post_uj >= 1, so the course updates every mean
    rng = np.random.default_rng(seed)
    n, d = 12, 5
    X = rng.integers(1, 6, (n, d)).astype(float)
    post = rng.dirichlet(np.ones(K), size=n) * 0.5 + 0.5 / K
    assume((post.sum(axis=0) >= 1).all())
    data = sp.csr_matrix(X) if fmt == "sparse" else X
    mixture, _ = init(X, K, 0)
    course = em.mstep(data, post, mixture)
    limit = map_em.map_mstep(data, post, mixture, 1e12)
    for field in ("mu", "var", "p"):
        np.testing.assert_allclose(getattr(limit, field), getattr(course, field), rtol=1e-8)


def test_no_prior_runs_exactly_the_course_em():
    X = random_ratings(np.random.default_rng(0), 30, 8, 0.6)
    mixture, post = init(X, 3, 1)
    course = em.run(X, mixture, post)
    ours = map_em.run(X, mixture, post, prior_variance=None)
    for a, b in zip(course[0], ours[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert course[2] == ours[2]


def test_residual_mixture_without_biases_or_prior_is_the_course_model():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(1), 40, 10, 0.5))
    model = ResidualMixture(
        3, sides=("users",), prior_variance=None, seeds=[2], biases=False, rating_scale=(-9, 9)
    ).fit(X)
    floor = model.min_variance_  # 0.25 on 1-5 stars, times (18 / 4)^2 on this -9..9 scale
    assert floor == 0.25 * (18 / 4) ** 2
    mixture, post = init_observed_rows(X, 3, 2, floor)  # ratings, not residuals: real-data start
    fitted, _, _ = em.run(X, mixture, post, min_variance=floor)
    rows, cols = np.divmod(np.arange(400), 10)
    expected = em.predict_pairs(em.estep(X, fitted)[0], fitted.mu, rows, cols)
    np.testing.assert_allclose(model.predict(rows, cols), expected, rtol=1e-12)


def test_residual_mixture_predicts_unseen_users_and_items_without_nan():
    X = random_ratings(np.random.default_rng(2), 20, 8, 0.7)
    X[5], X[:, 3] = 0.0, 0.0  # user 5 and item 3 have no training ratings
    model = ResidualMixture(3, seeds=range(3)).fit(sp.csr_matrix(X))
    rows, cols = np.divmod(np.arange(160), 8)
    predictions = model.predict(rows, cols)
    assert np.isfinite(predictions).all()
    assert predictions.min() >= 1.0 and predictions.max() <= 5.0
    # an unseen item gets no correction from the user clusters (its means are 0, the prior's)
    for _post, mu in model.fits_["users"]:
        np.testing.assert_array_equal(mu[:, 3], 0.0)


def test_residual_mixture_is_deterministic():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(3), 30, 12, 0.5))
    rows, cols = np.divmod(np.arange(360), 12)
    first = ResidualMixture(4, seeds=range(3)).fit(X).predict(rows, cols)
    second = ResidualMixture(4, seeds=range(3)).fit(X).predict(rows, cols)
    np.testing.assert_array_equal(first, second)


def test_course_mixture_finds_the_planted_k_by_bic_on_the_training_matrix():
    data, truth = make_ratings(300, 40, 3, 0.6, seed=0, noise=0.4, separation=1.2)
    model = CourseMixture(Ks=range(1, 7), seeds=range(3)).fit(data)
    assert model.K_ == 3  # the planted number of user clusters
    assert matched_accuracy(truth.assignments, model.post_.argmax(axis=1)) == 1.0
    predictions = model.predict(*np.divmod(np.arange(300 * 40), 40))
    assert np.isfinite(predictions).all() and predictions.min() >= 1 and predictions.max() <= 5


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="prior_variance"):
        ResidualMixture(prior_variance=0.0)
    with pytest.raises(ValueError, match="sides"):
        ResidualMixture(sides=("movies",))
    with pytest.raises(ValueError, match="seeds"):
        ResidualMixture(seeds=[])


# ---------------------------------------------------- engine.observed(allow_negative=...)


def test_observed_accepts_negative_sparse_values_only_when_asked():
    R = sp.csr_matrix(np.array([[1.5, -2.0, 0.0], [0.0, 0.0, -0.5]]))
    with pytest.raises(ValueError, match="negative"):
        engine.observed(R)
    ratings = engine.observed(R, allow_negative=True)
    np.testing.assert_allclose(ratings.counts, [2, 1])
    np.testing.assert_allclose(ratings.sq_norms, [1.5**2 + 4.0, 0.25])


def test_observed_keeps_dense_input_non_negative():
    with pytest.raises(ValueError, match="negative"):
        engine.observed(np.array([[1.0, -1.0]]), allow_negative=True)


def test_a_stored_zero_residual_is_observed():
    R = sp.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])), shape=(1, 3))
    assert R.nnz == 2
    np.testing.assert_allclose(engine.observed(R, allow_negative=True).counts, [2])


def test_course_mixture_can_choose_k_on_a_validation_split_of_the_training_matrix():
    X = sp.csr_matrix(random_ratings(np.random.default_rng(5), 40, 8, 0.8))
    model = CourseMixture(Ks=(1, 2, 3), seeds=range(2), select="validation").fit(X)
    scores = model.validation_rmse_
    assert set(scores) == {1, 2, 3} and model.K_ == min(scores, key=scores.get)
    with pytest.raises(ValueError, match="select"):
        CourseMixture(select="test")


@pytest.mark.parametrize("a, b", [(2.0, -2.0), (0.5, 0.0), (2.5, -2.5)])  # 0-8, half stars, 0-10
def test_residual_mixture_settings_follow_the_rating_scale(a, b):
    """On ratings a x + b, on the scale a [1, 5] + b, the predictions are a yhat + b.

    Biases are linear in the ratings, and the floor and the prior variance scale by a^2
    (``scaled_variance``), so the posteriors are the same and every mean scales by a. The
    stopping rule compares log-likelihoods, which shift by log a per rating, so both run a
    fixed number of iterations.
    """
    X = sp.csr_matrix(random_ratings(np.random.default_rng(3), 30, 12, 0.5))
    stretched = with_data(X, a * X.data + b)
    settings = dict(seeds=range(2), max_iter=8)
    with pytest.warns(ConvergenceWarning):
        model = ResidualMixture(3, **settings).fit(RatingsData.from_csr(X, scale=(1, 5)))
    scale = (a * 1 + b, a * 5 + b)
    with pytest.warns(ConvergenceWarning):
        other = ResidualMixture(3, **settings).fit(RatingsData.from_csr(stretched, scale=scale))
    assert other.min_variance_ == pytest.approx(0.25 * a**2)
    assert other.prior_variance_ == pytest.approx(0.16 * a**2)
    rows, cols = np.divmod(np.arange(360), 12)
    np.testing.assert_allclose(
        other.predict(rows, cols), a * model.predict(rows, cols) + b, rtol=1e-9, atol=1e-9
    )
