"""fit and select_k: best of seeds, traces, warnings and the choice of K."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings

from cfcore import ConvergenceWarning, fit, select_k


def blobs(K=3, n_per=80, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])[:K]
    return np.concatenate([c + rng.normal(size=(n_per, 2)) for c in centres])


@pytest.mark.parametrize("method", ["naive_em", "em"])
def test_fit_keeps_the_best_seed_and_its_trace(method):
    X = blobs() + 20.0 if method == "em" else blobs()  # em reads 0 as missing
    result = fit(X, 3, seeds=range(4), method=method)
    assert result.log_likelihood == max(result.seed_scores.values())
    assert result.seed == max(result.seed_scores, key=result.seed_scores.get)
    assert result.trace[-1] == result.log_likelihood
    assert result.n_iter == len(result.trace) and result.converged
    assert np.all(np.diff(result.trace) >= -1e-9 * abs(result.log_likelihood))
    assert result.post.shape == (X.shape[0], 3)
    assert result.bic < result.log_likelihood


def test_kmeans_fit_reports_a_cost_and_no_likelihood():
    result = fit(blobs(), 3, seeds=range(4), method="kmeans")
    assert result.cost == min(result.seed_scores.values())
    assert result.log_likelihood is None and result.bic is None
    assert set(np.unique(result.post)) == {0.0, 1.0}


def test_bic_recovers_the_planted_number_of_clusters():
    selection = select_k(blobs(K=4), range(1, 7), seeds=range(3), method="naive_em")
    assert selection.best_k == 4
    assert [row["K"] for row in selection.table()] == list(range(1, 7))
    assert selection.best.bic == max(row["bic"] for row in selection.table())


def test_stopping_early_warns():
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        result = fit(blobs(), 3, seeds=[0], method="naive_em", max_iter=2)
    assert not result.converged and result.n_iter == 2


def test_fit_accepts_sparse_ratings_and_shows_progress(capsys):
    X = sp.csr_matrix(random_ratings(np.random.default_rng(0), 60, 10, 0.5))
    result = fit(X, 2, seeds=[0, 1], progress=True)
    assert np.isfinite(result.log_likelihood)
    assert "em K=2 seed=1" in capsys.readouterr().err


def test_min_variance_is_passed_to_em():
    X = random_ratings(np.random.default_rng(1), 40, 6, 0.7)
    result = fit(X, 4, seeds=[0], min_variance=0.6)
    assert (result.mixture.var >= 0.6).all()


def test_matched_accuracy_ignores_label_names():
    from cfcore.models import matched_accuracy

    assert matched_accuracy([0, 0, 1, 1, 2], [5, 5, 3, 3, 9]) == 1.0
    assert matched_accuracy([0, 0, 1, 1], [1, 1, 1, 1]) == 0.5
    assert matched_accuracy([0, 1, 2, 0], [0, 0, 0, 0]) == 0.5
    with pytest.raises(ValueError, match="equal length"):
        matched_accuracy([0, 1], [0])


def test_held_out_log_likelihood_is_the_predictive_density_of_the_test_ratings():
    from scipy.special import logsumexp

    from cfcore import em
    from cfcore.models import held_out_log_likelihood

    rng = np.random.default_rng(4)
    ratings = random_ratings(rng, 30, 8, 0.7)
    in_test = (ratings != 0) & (rng.random(ratings.shape) < 0.3)
    train, test = np.where(in_test, 0.0, ratings), np.where(in_test, ratings, 0.0)
    mixture = fit(train, 3, seeds=[0]).mixture
    post, _ = em.estep(train, mixture)
    # by hand: log sum_j p(j | x_train) prod_{i in test} N(x_ui | mu_ji, var_j)
    expected = 0.0
    for u in range(train.shape[0]):
        items = np.flatnonzero(test[u])
        log_density = [
            -0.5 * items.size * np.log(2 * np.pi * mixture.var[j])
            - ((test[u, items] - mixture.mu[j, items]) ** 2).sum() / (2 * mixture.var[j])
            for j in range(3)
        ]
        expected += logsumexp(np.log(post[u]) + np.array(log_density))
    assert held_out_log_likelihood(train, test, mixture) == pytest.approx(expected, rel=1e-9)
    sparse = held_out_log_likelihood(sp.csr_matrix(train), sp.csr_matrix(test), mixture)
    assert sparse == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="share"):
        held_out_log_likelihood(train, ratings, mixture)


# --- one loop for every algorithm --------------------------------------------------------


@pytest.mark.parametrize("method", ["kmeans", "naive_em", "em"])
def test_max_iter_is_honoured_by_every_method(method):
    X = np.abs(blobs(K=3)) + 1.0  # positive, so "em" reads it as complete ratings
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        result = fit(X, 3, seeds=[0], method=method, max_iter=1)
    assert result.n_iter == 1 and len(result.trace) == 1 and not result.converged


@pytest.mark.parametrize("method", ["kmeans", "naive_em", "em"])
def test_fit_returns_the_posterior_of_the_mixture_it_returns(method):
    from cfcore import em, kmeans, naive_em

    module = {"kmeans": kmeans, "naive_em": naive_em, "em": em}[method]
    X = np.abs(blobs(K=3)) + 1.0
    result = fit(X, 3, seeds=range(2), method=method)
    post, _ = module.estep(X, result.mixture)
    np.testing.assert_array_equal(result.post, post)


def test_kmeans_stops_by_the_course_rule_through_the_shared_loop():
    from cfcore import common, kmeans

    X = blobs(K=3)
    mixture, post = common.init(X, 3, seed=0)
    outcome = kmeans.run_full(X, mixture, post)
    costs = []
    kmeans.run(X, mixture, post, callback=lambda t, cost, m: costs.append(cost))
    assert outcome.converged and outcome.n_iter == len(costs)
    assert costs[-2] - costs[-1] <= common.KMEANS_TOLERANCE  # the last fall was too small
    assert (-np.diff(costs[:-1]) > common.KMEANS_TOLERANCE).all()  # every earlier one was not
