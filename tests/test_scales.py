"""Rating scales and the real-data start: any numeric scale, negative included, end to end.

Every cfcore model is fitted on ratings from -10 to 10 (Jester's scale) and on half stars;
predictions are finite and inside the declared scale, which is what they are clipped to
(never the training fold's range). The real-data start (``starts.init_observed_rows``)
never reads a missing entry as a 0 rating: on MovieLens u1, ``fit`` + ``em.fill_matrix``
predicts inside 1-5 before any clipping.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

import cfcore
from cfcore import common, em
from cfcore.cli import main
from cfcore.data import RatingsData, k_fold, load_folds, make_ratings, save_ratings
from cfcore.evaluation import evaluate
from cfcore.models import (
    MODELS,
    CourseMixture,
    GlobalMean,
    default_start,
    init_observed,
    init_observed_rows,
    make_models,
    surprise_available,
)
from cfcore.models.registry import available

#: every cfcore model, small enough to fit in a test (the registry's own settings)
CFCORE_MODELS = [name for name in MODELS if not name.startswith("surprise-")]


def small_models():
    """The registry's cfcore models with fewer Ks and seeds, so the suite stays fast."""
    models = make_models(CFCORE_MODELS)
    for model in models:
        if isinstance(model, CourseMixture):
            model.Ks, model.seeds = (1, 2, 3), (0, 1)
        elif hasattr(model, "K"):  # the residual mixtures
            model.K, model.seeds = 3, (0, 1)
    return models


@pytest.fixture(scope="module")
def jester_like():
    """A planted data set on -10..10, integer steps: (RatingsData, its 3 folds)."""
    data, _ = make_ratings(120, 30, 3, 0.4, seed=0, scale=(-10, 10))
    return data, k_fold(data, 3, seed=0)


@pytest.fixture(scope="module")
def half_stars():
    data, _ = make_ratings(120, 30, 3, 0.4, seed=1, scale=(0.5, 5), step=0.5)
    return data, k_fold(data, 3, seed=0)


def predictions_of(model, folds):
    """(predictions, scale_) of every fold, the model refitted on each."""
    out = []
    for fold in folds:
        model.fit(fold.train)
        out.append((model.predict(fold.rows, fold.cols), model.scale_))
    return out


@pytest.mark.parametrize("name", CFCORE_MODELS)
def test_every_cfcore_model_predicts_inside_a_negative_scale(jester_like, name):
    data, folds = jester_like
    assert data.matrix.data.min() < 0
    model = next(m for m in small_models() if m.name == name)
    for predictions, scale in predictions_of(model, folds):
        assert scale == (-10.0, 10.0)  # the declared scale, not the fold's range
        assert np.isfinite(predictions).all()
        assert predictions.min() >= -10 and predictions.max() <= 10


@pytest.mark.parametrize("name", CFCORE_MODELS)
def test_every_cfcore_model_predicts_inside_a_half_star_scale(half_stars, name):
    _, folds = half_stars
    model = next(m for m in small_models() if m.name == name)
    for predictions, scale in predictions_of(model, folds):
        assert scale == (0.5, 5.0)
        assert np.isfinite(predictions).all()
        assert predictions.min() >= 0.5 and predictions.max() <= 5


def test_evaluate_runs_end_to_end_on_a_negative_scale(jester_like):
    _, folds = jester_like
    results = evaluate(small_models(), folds)
    assert [r.model for r in results] == CFCORE_MODELS
    for result in results:
        assert np.isfinite(result.rmse_folds).all() and max(result.rmse_folds) < 20


@pytest.mark.skipif(not surprise_available(), reason="scikit-surprise is not installed")
def test_surprise_models_predict_inside_a_negative_scale(jester_like):
    _, folds = jester_like
    for name in [name for name in MODELS if name.startswith("surprise-") and available(name)]:
        model = MODELS[name]()
        model.fit(folds[0].train)
        predictions = model.predict(folds[0].rows, folds[0].cols)
        assert np.isfinite(predictions).all(), name
        assert predictions.min() >= -10 and predictions.max() <= 10, name


def test_the_cli_evaluates_a_negative_scale_file(jester_like, tmp_path, capsys):
    data, _ = jester_like
    path = save_ratings(data, tmp_path / "jester.tsv")
    models = "global-mean,biases,course-em,residual-mixture-users"
    assert main(["evaluate", "--dataset", str(path), "--models", models, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [record["model"] for record in records] == models.split(",")
    assert all(np.isfinite(record["rmse_folds"]).all() for record in records)
    assert load_folds(str(path))[0].train.scale[0] < 0


def test_clipping_uses_the_declared_scale_not_the_training_range():
    matrix = sp.csr_matrix(np.array([[2.0, 3.0], [3.0, 0.0]]))
    model = GlobalMean().fit(RatingsData.from_csr(matrix, scale=(-10, 10)))
    assert model.scale_ == (-10.0, 10.0)
    assert GlobalMean().fit(matrix).scale_ == (2.0, 3.0)  # a bare matrix: its own range
    assert GlobalMean(rating_scale=(0, 5)).fit(matrix).scale_ == (0.0, 5.0)


def test_a_rating_scale_that_misses_the_training_ratings_is_refused():
    matrix = sp.csr_matrix(np.array([[2.0, 7.0]]))
    with pytest.raises(ValueError, match="outside rating_scale"):
        GlobalMean(rating_scale=(1, 5)).fit(matrix)


def test_the_course_mixture_does_not_depend_on_where_the_scale_starts(jester_like):
    data, folds = jester_like
    fold = folds[0]
    matrix = fold.train.matrix.copy()
    matrix.data = matrix.data + 10.0
    moved = RatingsData.from_csr(matrix, scale=(0, 20))
    a = CourseMixture([2], seeds=[0]).fit(fold.train).predict(fold.rows, fold.cols)
    b = CourseMixture([2], seeds=[0]).fit(moved).predict(fold.rows, fold.cols)
    np.testing.assert_allclose(b - 10.0, a, rtol=1e-12, atol=1e-12)


# --- the real-data start ------------------------------------------------------------------


def test_the_real_data_start_takes_observed_ratings_and_item_means_elsewhere():
    X = sp.csr_matrix(
        np.array([[5.0, 0.0, 1.0, 0.0], [0.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
    )  # item 3: nobody rated it
    mixture, post = init_observed_rows(X, 2, seed=0)
    users = np.random.RandomState(0).choice(3, 2, replace=False)  # the course's rows
    item_means = np.array([4.5, 2.0, 2.0, 3.0])  # column means; 15 / 5 = 3 for item 3
    dense = X.toarray()
    for j, u in enumerate(users):
        expected = np.where(dense[u] != 0, dense[u], item_means)
        np.testing.assert_allclose(mixture.mu[j], expected)
    assert (mixture.mu > 0).all()
    np.testing.assert_allclose(post, 0.5)
    # the variance over observed entries, as init_observed measures it (then floored)
    sq = [((dense - mixture.mu[j]) ** 2 * (dense != 0)).sum() / 5 for j in range(2)]
    np.testing.assert_allclose(mixture.var, np.maximum(sq, common.MIN_VARIANCE))


def test_the_real_data_start_on_a_dense_matrix_equals_its_csr_form():
    rng = np.random.default_rng(3)
    X = rng.integers(1, 6, (30, 8)) * (rng.random((30, 8)) < 0.5)
    dense, _ = init_observed_rows(X.astype(float), 4, seed=2)
    sparse, _ = init_observed_rows(sp.csr_matrix(X.astype(float)), 4, seed=2)
    for a, b in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fit_starts_the_course_way_on_dense_input_and_from_observed_ratings_on_csr():
    X = np.array([[5.0, 0.0, 1.0], [0.0, 2.0, 3.0], [4.0, 4.0, 0.0], [1.0, 0.0, 5.0]])
    assert default_start(X) == "course"
    assert default_start(sp.csr_matrix(X)) == "observed-rows"
    assert default_start(RatingsData.from_csr(sp.csr_matrix(X))) == "observed-rows"
    dense = cfcore.fit(X, 2, seeds=[0])
    course = cfcore.fit(X, 2, seeds=[0], init="course")
    np.testing.assert_array_equal(dense.mixture.mu, course.mixture.mu)
    sparse = cfcore.fit(sp.csr_matrix(X), 2, seeds=[0])
    observed_rows = cfcore.fit(sp.csr_matrix(X), 2, seeds=[0], init="observed-rows")
    np.testing.assert_array_equal(sparse.mixture.mu, observed_rows.mixture.mu)


def test_a_mean_without_support_keeps_the_item_mean_not_a_copied_zero():
    # item 2 is rated by user 0 only: every component but user 0's has no support there
    X = sp.csr_matrix(np.array([[5.0, 4.0, 2.0], [1.0, 2.0, 0.0], [1.0, 1.0, 0.0]]))
    mixture, post = init_observed_rows(X, 3, seed=0)
    fitted, _, _ = em.run(X, mixture, post)
    assert fitted.mu.min() >= 1.0
    assert init_observed(X, 3, seed=0)[0].mu.min() == 0.0  # the residuals' start: 0


# --- fill_matrix and the scale ------------------------------------------------------------


def test_fill_matrix_clips_csr_to_the_observed_range_and_leaves_the_course_matrix_alone():
    X = np.array([[5.0, 0.0], [4.0, 3.0]])
    below = common.GaussianMixture(np.array([[0.0, 0.0]]), np.array([1.0]), np.array([1.0]))
    assert em.fill_matrix(X, below)[0, 1] == 0.0  # the course's fill, unclipped
    assert em.fill_matrix(X, below, scale=(1, 5))[0, 1] == 1.0
    pairs = (np.array([0]), np.array([1]))
    assert em.fill_matrix(sp.csr_matrix(X), below, pairs=pairs)[0] == 3.0  # [min, max] = [3, 5]
    assert em.fill_matrix(sp.csr_matrix(X), below, pairs=pairs, scale=None)[0] == 0.0
    data = RatingsData.from_csr(sp.csr_matrix(X), scale=(1, 5))
    assert em.fill_matrix(data, below, pairs=pairs)[0] == 1.0  # the declared scale
    with pytest.raises(ValueError, match="scale"):
        em.fill_matrix(X, below, scale="observed")


def test_movielens_u1_quick_start_predicts_inside_the_scale_before_clipping(movielens):
    train, test = movielens.folds["u1"]
    rows, cols, _ = test.triples()
    result = cfcore.fit(train.matrix, 4)  # the quick-start path: K = 4, seeds 0-4
    assert result.mixture.mu.min() >= 1.0  # no mean is a copied 0
    post, _ = em.estep(train.matrix, result.mixture)
    raw = em.predict_pairs(post, result.mixture.mu, rows, cols)  # before any clipping
    assert raw.min() >= 1.0 - 1e-12 and raw.max() <= 5.0 + 1e-12
    filled = em.fill_matrix(train.matrix, result.mixture, pairs=(rows, cols))
    assert (filled != 0).all() and filled.min() >= 1.0 and filled.max() <= 5.0
    np.testing.assert_array_equal(em.fill_matrix(train, result.mixture, pairs=(rows, cols)), filled)
