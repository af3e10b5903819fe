"""Bad input raises a TypeError or ValueError that names the problem; never a NaN."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore import GaussianMixture, common, em, fit, kmeans, naive_em, select_k

X = np.array([[5.0, 0.0, 3.0], [4.0, 2.0, 0.0], [0.0, 1.0, 1.0], [3.0, 3.0, 4.0]])
MIXTURE = common.init(X, 2, seed=0)[0]


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.array([5.0, 3.0]), ValueError, "2-D"),
        (np.zeros((2, 2, 2)), ValueError, "2-D"),
        (np.zeros((0, 3)), ValueError, "empty"),
        (np.array([[1.0, np.nan, 3.0]] * 3), ValueError, "NaN"),
        (np.array([[1.0, np.inf, 3.0]] * 3), ValueError, "infinite"),
        (np.array([[1.0, -2.0, 3.0]] * 3), ValueError, "negative"),
        ("ratings.txt", TypeError, "numeric array"),
        ([["a", "b", "c"]], TypeError, "float"),
        (sp.csr_matrix(np.array([[1.0, np.nan, 3.0]] * 3)), ValueError, "NaN"),
        (sp.csr_matrix(np.array([[1.0, -1.0, 3.0]] * 3)), ValueError, "negative"),
    ],
)
@pytest.mark.parametrize("function", [em.estep, em.fill_matrix, em.log_likelihood])
def test_em_rejects_malformed_ratings(function, bad, error, message):
    with pytest.raises(error, match=message):
        function(bad, MIXTURE)


def test_messages_name_the_first_bad_entry():
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2, column 1.*missing rating as 0"):
        em.estep(bad, MIXTURE)


@pytest.mark.parametrize(
    ("K", "error"), [(0, ValueError), (5, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_init_rejects_impossible_numbers_of_components(K, error):
    with pytest.raises(error, match="K"):
        common.init(X, K)


@pytest.mark.parametrize(
    ("mixture", "message"),
    [
        (MIXTURE._replace(mu=MIXTURE.mu[:, :2]), "2 columns but X has 3"),
        (MIXTURE._replace(mu=MIXTURE.mu[0]), "2-D"),
        (MIXTURE._replace(var=MIXTURE.var[:1]), r"var must have shape \(2,\)"),
        (MIXTURE._replace(p=np.array([0.5, 0.5, 0.0])), r"p must have shape \(2,\)"),
        (MIXTURE._replace(var=np.array([1.0, -1.0])), "positive"),
        (MIXTURE._replace(var=np.array([1.0, np.nan])), "NaN"),
        (MIXTURE._replace(p=np.array([0.9, 0.9])), "summing to 1"),
        ((1, 2), "GaussianMixture"),
        (None, "GaussianMixture"),
    ],
)
def test_mismatched_mixtures_are_rejected(mixture, message):
    with pytest.raises((ValueError, TypeError), match=message):
        em.estep(X, mixture)


def test_posteriors_of_the_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match=r"post must have shape \(n, K\) = \(4, 2\)"):
        em.mstep(X, np.full((3, 2), 0.5), MIXTURE)
    with pytest.raises(ValueError, match="finite, non-negative"):
        em.mstep(X, np.full((4, 2), np.nan), MIXTURE)


def test_negative_min_variance_is_rejected():
    with pytest.raises(ValueError, match="min_variance"):
        em.run(X, MIXTURE, np.full((4, 2), 0.5), min_variance=-1.0)


def test_rmse_needs_matching_shapes():
    with pytest.raises(ValueError, match="same shape"):
        common.rmse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        common.rmse(np.zeros((2, 2)), np.full((2, 2), np.nan))


def test_complete_data_methods_refuse_sparse_input():
    for module in (kmeans, naive_em):
        with pytest.raises(TypeError, match="cfcore.em"):
            module.estep(sp.csr_matrix(X), MIXTURE)


def test_sparse_fill_matrix_asks_which_entries_to_predict():
    with pytest.raises(ValueError, match="pairs=\\(rows, cols\\)"):
        em.fill_matrix(sp.csr_matrix(X), MIXTURE)
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 4\)"):
        em.fill_matrix(sp.csr_matrix(X), MIXTURE, pairs=([0, 4], [0, 1]))
    with pytest.raises(TypeError, match="integers"):
        em.fill_matrix(X, MIXTURE, pairs=([0.5], [1.0]))
    with pytest.raises(ValueError, match="equal length"):
        em.fill_matrix(X, MIXTURE, pairs=([0, 1], [1]))


def test_identical_rows_cannot_start_a_mixture():
    with pytest.warns(UserWarning, match="only 1 distinct row,"):
        with pytest.raises(ValueError, match="two distinct rows"):
            common.init(np.ones((5, 3)), 2)


def test_naive_em_reports_a_collapsed_component_instead_of_nan():
    points = np.array([[0.0], [0.0], [5.0], [6.0]])
    mixture = GaussianMixture(np.array([[0.0], [5.5]]), np.array([1.0, 1.0]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="collapsed onto single points"):
        naive_em.run(points, mixture, np.full((4, 2), 0.5))
    fitted, post, ll = naive_em.run(points, mixture, np.full((4, 2), 0.5), min_variance=1e-3)
    assert np.isfinite(ll) and np.isfinite(fitted.mu).all()


def test_kmeans_reports_an_empty_cluster_without_a_previous_mixture():
    post = np.array([[1.0, 0.0]] * 4)
    with pytest.raises(ValueError, match="received no points"):
        kmeans.mstep(X, post)
    kept = kmeans.mstep(X, post, MIXTURE)
    np.testing.assert_array_equal(kept.mu[1], MIXTURE.mu[1])


def test_fit_checks_its_options():
    with pytest.raises(ValueError, match="method must be one of"):
        fit(X, 2, method="gmm")
    with pytest.raises(ValueError, match="at least one seed"):
        fit(X, 2, seeds=[])
    with pytest.raises(ValueError, match="k-means has none"):
        select_k(X, [1, 2], method="kmeans")
    with pytest.raises(ValueError, match="max_iter"):
        fit(X, 2, max_iter=0)


# -- models: a failed fit, K against the data, a scale without width -------------------------


def _ratings_6x5() -> sp.csr_matrix:
    dense = np.array([[5, 4, 0, 0, 1], [4, 5, 1, 0, 0], [0, 0, 0, 0, 0], [1, 0, 5, 0, 4]])
    return sp.csr_matrix(np.vstack([dense, [[2, 1, 4, 0, 5], [5, 0, 0, 0, 2]]]).astype(float))


@pytest.mark.parametrize("make", ["course", "residual"])
def test_a_refit_that_fails_leaves_the_model_unfitted_not_half_replaced(make):
    from cfcore.data import make_ratings
    from cfcore.models import CourseMixture, ResidualMixture

    model = CourseMixture([8], seeds=[0]) if make == "course" else ResidualMixture(8, seeds=[0])
    model.fit(make_ratings(60, 12, 3, 0.5, seed=0)[0])
    with pytest.raises(ValueError, match="exceeds the 6 users"):
        model.fit(_ratings_6x5())
    with pytest.raises(RuntimeError, match="call fit"):
        model.predict([0], [0])


def test_k_is_checked_against_the_side_it_clusters_and_named():
    from cfcore.models import CourseMixture, ResidualMixture

    with pytest.raises(ValueError, match="K=6 exceeds the 5 items"):
        ResidualMixture(6, seeds=[0], sides=("items",)).fit(_ratings_6x5())
    with pytest.raises(ValueError, match=r"every K in Ks=\[10, 12\] exceeds the 6 users"):
        CourseMixture([10, 12]).fit(_ratings_6x5())
    with pytest.raises(ValueError, match="exceeds the 6 users"):
        CourseMixture([7], select="validation").fit(_ratings_6x5())
    for bad, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="K must be an integer"):
            ResidualMixture(bad)
        with pytest.raises(error, match="every K in Ks must be an integer"):
            CourseMixture([bad])


def test_a_scale_without_width_is_named_with_what_to_pass():
    from cfcore.models import CourseMixture, ResidualMixture

    constant = sp.csr_matrix(np.full((5, 4), 3.0))
    for model in (ResidualMixture(2, seeds=[0]), CourseMixture([1])):
        with pytest.raises(ValueError, match=r"\(3, 3\) has no width.*rating_scale="):
            model.fit(constant)
    fitted = ResidualMixture(2, seeds=[0], rating_scale=(1, 5)).fit(constant)
    np.testing.assert_allclose(fitted.predict([0, 4], [0, 3]), 3.0)


def test_item_features_must_be_one_row_per_item():
    from cfcore.models import HybridMixture

    with pytest.raises(ValueError, match=r"\(items, features\) array.*got shape \(5,\)"):
        HybridMixture(2, seeds=[0], item_features=np.ones(5)).fit(_ratings_6x5())


# -- the course layer: a start below the floor, K of post, float32's range --------------------


def test_fit_raises_a_start_below_the_floor_so_em_cannot_fall_at_its_first_step():
    rng = np.random.default_rng(0)
    small = rng.integers(1, 6, size=(60, 8)) / 10.0  # ratings 0.1-0.5: var below the 0.25 floor
    small[rng.random(small.shape) < 0.3] = 0
    result = fit(small, 3, seeds=range(3))
    assert np.all(np.diff(result.trace) >= -1e-12 * np.abs(result.trace[1:]))
    assert result.n_iter > 2 and np.all(result.mixture.var >= 0.25)


@pytest.mark.parametrize("module", [kmeans, naive_em])
def test_an_mstep_refuses_a_posterior_of_another_k(module):
    data = np.random.default_rng(1).normal(size=(40, 3)) + 5
    mixture, _ = common.init(data, 3)
    for K in (2, 4):
        with pytest.raises(
            ValueError, match=rf"post must have shape \(n, K\) = \(40, 3\), got \(40, {K}\)"
        ):
            module.mstep(data, np.full((40, K), 1.0 / K), mixture)


@pytest.mark.parametrize("scale", [1e-25, 1e20])
def test_float32_refuses_ratings_whose_squares_it_cannot_hold(scale):
    from cfcore import engine

    ratings = np.random.default_rng(0).integers(1, 6, size=(50, 6)) * scale
    with pytest.raises(ValueError, match="dtype float32 holds the squares"):
        engine.prepare(ratings, dtype=np.float32)
    assert engine.prepare(ratings).X.dtype == np.float64  # float64 takes them


def test_select_k_names_a_bad_ks_and_n_parameters_takes_a_tuple():
    with pytest.raises(TypeError, match="Ks must be the K values to try"):
        select_k(X, 3)
    with pytest.raises(TypeError, match="Ks must be the K values to try"):
        select_k(X, "12")
    assert common.n_parameters(tuple(MIXTURE)) == common.n_parameters(MIXTURE) == 2 * 3 + 2 + 1


def test_fit_on_csr_warns_when_k_exceeds_the_distinct_rows():
    rows = np.random.default_rng(0).integers(1, 6, size=(3, 4)).astype(float)
    with pytest.warns(UserWarning, match="only 3 distinct rows"):
        fit(sp.csr_matrix(np.repeat(rows, 4, axis=0)), 5, seeds=[0])
