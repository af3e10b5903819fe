"""cfcore.apps.recommend: fold-in equals the fitted posterior; predictions, spread, top-N."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings, titled_ratings

from cfcore import common, em, fit
from cfcore.apps.recommend import cluster_support, fold_in, predict, spread, top_n, user_row
from cfcore.apps.recommender import Recommender, movielens_recommender
from cfcore.models import random_responsibilities


@pytest.fixture(scope="module")
def fitted():
    """A K = 3 mixture fitted on 60 x 12 random ratings (half missing)."""
    X = random_ratings(np.random.default_rng(0), 60, 12, 0.5)
    mixture, post = common.init(X, 3, seed=0)
    mixture, _, _ = em.run(X, mixture, post)
    return X, mixture


def test_fold_in_of_a_training_user_is_their_posterior(fitted):
    X, mixture = fitted
    expected, _ = em.estep(X, mixture)
    for u in range(X.shape[0]):
        as_mapping = {int(i): X[u, i] for i in np.flatnonzero(X[u])}
        for ratings in (X[u], sp.csr_matrix(X[u : u + 1]), as_mapping):
            np.testing.assert_allclose(fold_in(ratings, mixture), expected[u], rtol=1e-12)


def test_a_user_without_ratings_gets_the_mixing_weights(fitted):
    _, mixture = fitted
    np.testing.assert_allclose(fold_in({}, mixture), mixture.p, rtol=1e-12)
    np.testing.assert_allclose(fold_in(np.zeros(12), mixture), mixture.p, rtol=1e-12)


def test_predictions_and_spread_follow_their_formulas(fitted):
    _, mixture = fitted
    post = np.array([0.5, 0.3, 0.2])
    expected = sum(post[j] * mixture.mu[j] for j in range(3))
    np.testing.assert_allclose(predict(post, mixture), expected, rtol=1e-12)
    deviations = sum(post[j] * (mixture.mu[j] - expected) ** 2 for j in range(3))
    np.testing.assert_allclose(spread(post, mixture), np.sqrt(deviations), rtol=1e-9)
    # a posterior sure of one cluster: no disagreement left, the prediction is its mean
    certain = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(spread(certain, mixture), 0.0, atol=1e-7)
    np.testing.assert_allclose(predict(certain, mixture), mixture.mu[1])


def test_spread_shrinks_as_ratings_pin_down_the_cluster():
    mu = np.array([[1.0, 1.0, 1.0, 1.0], [5.0, 5.0, 5.0, 5.0]])
    mixture = common.GaussianMixture(mu, np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    spreads = [spread(fold_in({0: 5.0, 1: 5.0}, mixture), mixture)[3]]
    spreads.insert(0, spread(fold_in({}, mixture), mixture)[3])
    spreads.insert(1, spread(fold_in({0: 5.0}, mixture), mixture)[3])
    assert spreads[0] == pytest.approx(2.0)  # 50/50 between means 1 and 5
    assert spreads[0] > spreads[1] > spreads[2]


def test_top_n_ranks_unrated_items_and_drops_thin_support(fitted):
    X, mixture = fitted
    post = em.estep(X, mixture)[0]
    support = cluster_support(X, post)
    np.testing.assert_allclose(support.sum(axis=0), (X > 0).sum(axis=0))
    ratings = {0: 5.0, 3: 1.0, 7: 4.0}
    titles = np.array([f"film {i}" for i in range(12)])
    item_ids = np.arange(100, 112)
    recs = top_n(ratings, mixture, n=4, item_ids=item_ids, titles=titles)
    user_post = fold_in(ratings, mixture)
    predictions = predict(user_post, mixture)
    unrated = [i for i in range(12) if i not in ratings]
    best = sorted(unrated, key=lambda i: -predictions[i])[:4]
    assert [r.item for r in recs] == best
    assert [r.item_id for r in recs] == [100 + i for i in best]
    assert [r.title for r in recs] == [f"film {i}" for i in best]
    assert [r.predicted for r in recs] == pytest.approx(predictions[best])
    assert all(np.isnan(r.support) for r in recs)
    # with the training support, items below min_support are left out
    user_support = user_post @ support
    threshold = float(np.median(user_support[unrated]))
    kept = top_n(ratings, mixture, n=12, support=support, min_support=threshold)
    assert {r.item for r in kept} == {i for i in unrated if user_support[i] >= threshold}
    assert all(r.support >= threshold for r in kept)


def test_bad_ratings_are_named(fitted):
    _, mixture = fitted
    with pytest.raises(ValueError, match=r"ratings names column 12, outside the 12 items"):
        fold_in({12: 4.0}, mixture)
    with pytest.raises(ValueError, match=r"ratings must be a mapping .* \(12,\) array"):
        fold_in(np.ones(5), mixture)
    with pytest.raises(ValueError, match=r"ratings must hold finite ratings >= 0"):
        fold_in({1: -2.0}, mixture)
    with pytest.raises(ValueError, match=r"ratings holds NaN"):
        fold_in(np.full(12, np.nan), mixture)
    with pytest.raises(TypeError, match=r"ratings must map integer columns"):
        fold_in({"Toy Story": 4.0}, mixture)
    with pytest.raises(TypeError, match=r"mixture must be a GaussianMixture"):
        fold_in({1: 3.0}, None)
    with pytest.raises(ValueError, match=r"n must be a positive number"):
        top_n({1: 3.0}, mixture, n=0)
    assert user_row({5: 3.0, 2: 1.0}, 12).indices.tolist() == [2, 5]


# --- the Recommender on a small RatingsData -----------------------------------------------


def test_recommender_folds_in_by_item_id_and_matches_training_posteriors():
    data = titled_ratings()
    result = fit(data.matrix, 3, seeds=range(2))
    recommender = Recommender(result.mixture, data, min_support=0.0)
    np.testing.assert_allclose(recommender.post, em.estep(data.matrix, result.mixture)[0])
    for user_id in data.user_ids[:20]:
        user = recommender.fold_in(recommender.user_ratings(user_id))
        np.testing.assert_allclose(
            user.post, recommender.post[recommender.user_index(user_id)], rtol=1e-12
        )
        assert user.predictions.shape == (10,) and np.isfinite(user.predictions).all()
    recs = recommender.top_n({101: 5, 102: 1}, n=3, exclude=[103])
    assert {r.item_id for r in recs}.isdisjoint({101, 102, 103}) and len(recs) == 3
    assert recs[0].title.startswith("Film ") and recs[0].support >= 0
    assert [r.predicted for r in recs] == sorted((r.predicted for r in recs), reverse=True)


def test_recommender_checks_ids_and_the_scale():
    data = titled_ratings()
    recommender = Recommender(fit(data.matrix, 2, seeds=[0]).mixture, data)
    with pytest.raises(ValueError, match=r"item_id 5 is not one of the 10 items"):
        recommender.fold_in({5: 3})
    with pytest.raises(ValueError, match=r"rating 7, outside the scale 1-5"):
        recommender.fold_in({101: 7})
    with pytest.raises(TypeError, match=r"ratings must be a mapping"):
        recommender.fold_in([3, 4])
    with pytest.raises(ValueError, match=r"user_id 999 is not one of"):
        recommender.user_ratings(999)
    with pytest.raises(ValueError, match=r"min_support must be a number >= 0"):
        Recommender(recommender.mixture, data, min_support=-1)
    with pytest.raises(TypeError, match=r"train must be a RatingsData"):
        Recommender(recommender.mixture, data.matrix)


def test_search_is_case_insensitive_and_puts_the_most_rated_first():
    data = titled_ratings()
    recommender = Recommender(fit(data.matrix, 2, seeds=[0]).mixture, data)
    hits = recommender.search("film", limit=10)
    counts = np.bincount(data.matrix.indices, minlength=10)
    assert sorted(hits) == list(range(101, 111))
    assert [counts[h - 101] for h in hits] == sorted(counts, reverse=True)
    assert recommender.search("FILM c") == [103] and recommender.search("nothing") == []


def test_cluster_profiles_describe_every_cluster():
    data = titled_ratings()
    recommender = Recommender(fit(data.matrix, 3, seeds=[0]).mixture, data, min_support=2.0)
    profiles = recommender.cluster_profiles(n_titles=2)
    assert [p.cluster for p in profiles] == [0, 1, 2]
    assert sum(p.weight for p in profiles) == pytest.approx(1.0)
    for j, profile in enumerate(profiles):
        members = recommender.post[:, j]
        rated = data.to_dense() > 0
        given = (members[:, None] * data.to_dense()).sum() / (members[:, None] * rated).sum()
        assert profile.mean_rating == pytest.approx(given)
        assert {name for name, _ in profile.genres} <= {"Drama", "Comedy", "Horror"}
        scores = [score for _, score in profile.genres]
        assert scores == sorted(scores, reverse=True)
        assert len(profile.titles) == 2
        assert profile.titles[0][1] >= profile.titles[1][1]


class ShiftedRatings:
    """A mixture fitted on ratings + 10 (a stand-in for a model of transformed ratings)."""

    def encode(self, X):
        return sp.csr_matrix((X.data + 10.0, X.indices, X.indptr), shape=X.shape)

    def decode(self, X, values):
        return values - 10.0


def test_a_mixture_of_transformed_ratings_plugs_in_through_its_space():
    data = titled_ratings()
    space = ShiftedRatings()
    mixture = fit(space.encode(data.matrix), 2, seeds=[0]).mixture
    recommender = Recommender(mixture, data, space=space, min_support=0.0)
    ratings = {101: 5, 104: 2}
    user = recommender.fold_in(ratings)
    shifted = {column: rating + 10.0 for column, rating in ((0, 5.0), (3, 2.0))}
    np.testing.assert_allclose(user.post, fold_in(shifted, mixture), rtol=1e-12)
    np.testing.assert_allclose(user.predictions, predict(user.post, mixture) - 10.0)
    assert 0.0 < user.predictions.mean() < 6.0
    np.testing.assert_allclose(recommender.post, em.estep(space.encode(data.matrix), mixture)[0])


# --- the start used on sparse ratings -------------------------------------------------------


def test_random_responsibilities_is_an_m_step_from_seeded_soft_assignments():
    X = random_ratings(np.random.default_rng(5), 50, 8, 0.4)
    mixture, post = random_responsibilities(X, 3, seed=7)
    again, post_again = random_responsibilities(X, 3, seed=7)
    np.testing.assert_array_equal(post, post_again)
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    item_means = np.array([X[X[:, i] > 0, i].mean() for i in range(8)])
    expected = em.mstep(
        X, post, common.GaussianMixture(np.tile(item_means, (3, 1)), *[np.ones(3) / 3] * 2)
    )
    for got, want in zip(mixture, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    result = fit(X, 3, seeds=[7], init=random_responsibilities)
    assert np.isfinite(result.log_likelihood) and result.seed == 7
    with pytest.raises(TypeError, match=r"init must be a start.s name"):
        fit(X, 3, init=3)


# --- MovieLens 100K -------------------------------------------------------------------------


def test_the_course_start_leaves_one_user_components_on_movielens_and_this_one_does_not(
    movielens,
):
    X = movielens.folds["u1"].train.matrix
    course = fit(X, 4, seeds=[4], init="course")  # fit's default on CSR is "observed-rows"
    assert course.mixture.p.min() < 2.0 / X.shape[0]  # a component of (about) one user
    spread_out = fit(X, 4, seeds=[0], init=random_responsibilities)
    assert spread_out.mixture.p.min() > 0.1
    assert spread_out.log_likelihood > course.log_likelihood


def test_movielens_fold_in_equals_the_fitted_posterior_for_every_user(movielens):
    recommender = movielens_recommender(data=movielens)
    assert movielens_recommender(data=movielens) is recommender  # fitted once
    train = movielens.folds["u1"].train
    expected, _ = em.estep(train.matrix, recommender.mixture)
    for u in range(train.n_users):
        np.testing.assert_allclose(
            fold_in(train.matrix[u], recommender.mixture), expected[u], rtol=1e-10, atol=1e-300
        )
    for user_id in (1, 200, 943):
        user = recommender.fold_in(recommender.user_ratings(user_id))
        np.testing.assert_allclose(
            user.post, expected[recommender.user_index(user_id)], rtol=1e-10, atol=1e-300
        )


def test_a_new_movielens_user_with_five_ratings_gets_every_item_predicted(movielens):
    recommender = movielens_recommender(data=movielens)
    titles = ["Star Wars (1977)", "Toy Story (1995)", "Godfather, The (1972)"]
    ratings = {recommender.search(title)[0]: 5 for title in titles}
    ratings |= {recommender.search("Titanic (1997)")[0]: 2, recommender.search("Scream (")[0]: 1}
    assert len(ratings) == 5
    user = recommender.fold_in(ratings)
    assert user.predictions.shape == (1682,) and np.isfinite(user.predictions).all()
    assert user.rated.sum() == 5 and user.post.sum() == pytest.approx(1.0)
    recs = recommender.top_n(ratings, n=10)
    assert len(recs) == 10 and not {r.item_id for r in recs} & set(ratings)
    assert all(r.support >= recommender.min_support for r in recs)
    assert all(1.0 <= r.predicted <= 5.0 and r.spread >= 0 for r in recs)
