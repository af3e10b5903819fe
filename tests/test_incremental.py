"""Incremental EM (cfcore.models.incremental): a sweep of incremental E-steps is one batch
EM iteration, no update lowers the free energy, undo is exact, new users, re-ratings and new
items give what they should, and bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from synthetic import random_ratings, titled_ratings

from cfcore import em
from cfcore.data import RatingsData, movielens_100k_stream
from cfcore.engine import prepare, transpose
from cfcore.models import (
    CourseMixture,
    HybridMixture,
    LiveModel,
    ResidualMixture,
    map_em,
)
from cfcore.models.incremental import sides

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RTOL = 1e-10


def small_ratings(seed=0, n=40, d=12, density=0.5) -> RatingsData:
    dense = random_ratings(np.random.default_rng(seed), n, d, density)
    dense[0] = 0.0  # a user without ratings
    dense[1:, -1] = 0.0  # an item only user 0 could rate: nobody did
    return RatingsData.from_dense(dense, scale=(1, 5), name="small")


@pytest.fixture(scope="module")
def data():
    return small_ratings()


@pytest.fixture(scope="module")
def course(data):
    return CourseMixture([3], seeds=range(2)).fit(data)


@pytest.fixture(scope="module")
def residual(data):
    return ResidualMixture(3, seeds=range(3), max_iter=200).fit(data)


@pytest.fixture(scope="module")
def hybrid():
    return HybridMixture(3, seeds=range(2), max_iter=200).fit(titled_ratings(60, 10))


def assert_close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def assert_sums_match(live: LiveModel) -> None:
    """The sums the live model keeps are em.statistics of its residuals and posteriors."""
    for side in live._sides:
        matrix = live.residuals() if side == "users" else transpose(live.residuals())
        post = live.posteriors(side)
        N, S, K = post.shape
        expected = em.statistics(prepare(matrix, allow_negative=True), post.reshape(N, S * K))
        kept = live._sides[side]
        D = kept.n_coords
        assert_close(kept.weighted_ratings[:D].reshape(D, -1).T, expected.weighted_ratings)
        assert_close(kept.support[:D].reshape(D, -1).T, expected.support)
        assert_close(kept.weighted_sq_norms.ravel(), expected.weighted_sq_norms)
        assert_close(kept.weights.ravel(), expected.weights)


def free_energy(matrix: sp.csr_matrix, post: np.ndarray, mixture, prior_variance) -> float:
    """F(q, theta) written out row by row, independently of the module (its docstring)."""
    mu, var, p = mixture
    total = map_em.log_prior(mu, prior_variance)
    for u in range(matrix.shape[0]):
        cols = matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]
        x = matrix.data[matrix.indptr[u] : matrix.indptr[u + 1]]
        log_joint = (
            np.log(p + em.LOG_EPS)
            - 0.5 * cols.size * np.log(2 * np.pi * var)
            - ((x - mu[:, cols]) ** 2).sum(axis=1) / (2 * var)
        )
        q = post[u]
        total += (q * log_joint).sum() - (q[q > 0] * np.log(q[q > 0])).sum()
    return float(total)


def free_energies(live: LiveModel, side="users", matrix=None, state=None) -> np.ndarray:
    """Every live seed's F on side, for the model's data or matrix, its state or state."""
    matrix = live.residuals() if matrix is None else matrix
    matrix = matrix if side == "users" else transpose(matrix)
    post, mixtures = state or (live.posteriors(side), live.mixtures(side))
    prior = live._sides[side].prior_variance
    return np.array([free_energy(matrix, post[:, s], m, prior) for s, m in enumerate(mixtures)])


# -- (a) one sweep is one batch iteration ----------------------------------------------------


def test_the_live_model_starts_as_the_fitted_model(course, residual, hybrid):
    for model in (course, residual, hybrid):
        live = LiveModel(model)
        n, d = model.shape_
        rows, cols = np.repeat(np.arange(n), d), np.tile(np.arange(d), n)
        assert_close(live.predict(rows, cols), model.predict(rows, cols), 1e-12)
        assert_close(live.predict_user(5), model.predict(np.full(d, 5), np.arange(d)), 1e-12)


def test_a_sweep_with_the_mstep_at_the_end_is_one_batch_iteration_of_the_course_em(data, course):
    live = LiveModel(course)
    X = data.matrix
    post, log_likelihood = em.estep(X, course.mixture_)
    expected = em.mstep(X, post, course.mixture_, min_variance=0.25)
    assert_close(live.free_energy()[0], log_likelihood, 1e-12)  # q is the posterior: F = ll
    live.sweep(mstep="end")
    (mixture,) = live.mixtures()
    for actual, wanted in zip(mixture, expected, strict=True):
        assert_close(actual, wanted)
    assert_close(live.posteriors()[:, 0], post)
    dense = em.mstep(data.to_dense(), post, course.mixture_, min_variance=0.25)  # 0 = missing
    assert_close(mixture.mu, dense.mu)


@pytest.mark.parametrize("side", ["users", "items"])
def test_a_sweep_with_the_mstep_at_the_end_is_one_map_em_iteration(residual, side):
    live = LiveModel(residual)
    R = residual.biases_.residuals(residual.train_)
    R = R if side == "users" else transpose(R)
    expected = []
    for mixture in residual.mixtures_[side]:
        post, _ = em.estep(prepare(R, allow_negative=True), mixture)
        expected.append(
            map_em.map_mstep(R, post, mixture, residual.prior_variance_, residual.min_variance_)
        )
    live.sweep(side, mstep="end")
    for actual, wanted in zip(live.mixtures(side), expected, strict=True):
        for a, b in zip(actual, wanted, strict=True):
            assert_close(a, b)


def test_a_sweep_with_the_mstep_after_each_user_raises_the_free_energy(residual):
    live = LiveModel(residual)
    before = live.free_energy()
    live.sweep(mstep="each")
    assert (live.free_energy() >= before - 1e-9 * np.abs(before)).all()
    assert_close(live.free_energy(), free_energies(live), 1e-9)
    assert_sums_match(live)


# -- (b) no update lowers the free energy ----------------------------------------------------


@st.composite
def update_sequences(draw):
    """(data, K, kind, updates): small ratings, a model kind, a list of (user, col, value)."""
    seed = draw(st.integers(0, 2**31 - 1))
    n, d = draw(st.integers(6, 25)), draw(st.integers(3, 10))
    data = small_ratings(seed, n, d, draw(st.floats(0.3, 0.9)))
    assume(data.n_ratings >= n and np.unique(data.to_dense(), axis=0).shape[0] > 3)
    kind = draw(st.sampled_from(["course", "residual", "residual-fixed-biases"]))
    updates = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, d - 1), st.integers(1, 5)),
            min_size=1,
            max_size=8,
        )
    )
    return data, draw(st.integers(1, 3)), kind, updates


@pytest.mark.filterwarnings("ignore::cfcore.common.ConvergenceWarning")
@SETTINGS
@given(update_sequences())
def test_no_update_lowers_the_free_energy(case):
    data, K, kind, updates = case
    if kind == "course":
        live = LiveModel(CourseMixture([K], seeds=[0]).fit(data))
    else:
        model = ResidualMixture(K, seeds=[0, 1], max_iter=50).fit(data)
        live = LiveModel(model, learn_biases=kind == "residual")
    for user, col, value in updates:
        state = {side: (live.posteriors(side), live.mixtures(side)) for side in live._sides}
        live.rate(user, col, float(value))
        data_now = live.residuals()  # the residuals the update saw, offsets updated
        for side, before in state.items():
            old = free_energies(live, side, data_now, before)
            new = free_energies(live, side, data_now)
            assert (new >= old - 1e-9 * np.abs(old)).all(), f"{side}: F fell by {new - old}"
    assert_sums_match(live)


# -- (c) undo ---------------------------------------------------------------------------------


def snapshot(live: LiveModel) -> list[np.ndarray]:
    """Every array of the live model's state, as it is observable."""
    arrays = [live.ratings().toarray(), live.residuals().toarray()]
    o = live._offsets
    arrays += [o.user[: live.n_users], o.item[: live.n_items], o.item_prior[: live.n_items]]
    if o.features is not None:
        arrays += [o.tastes[: live.n_users], o.features]
    for side in live._sides.values():
        D, N = side.n_coords, side.n_rows
        arrays += [side.mu[:D], side.weighted_ratings[:D], side.support[:D], side.post[:N]]
        arrays += [side.var, side.p, side.weighted_sq_norms, side.weights, side.errors]
        arrays += [side.observed]
    return arrays


def assert_identical(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        assert a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("which", ["course", "residual", "hybrid"])
def test_undo_restores_the_state_bit_for_bit(which, course, residual, hybrid):
    model = {"course": course, "residual": residual, "hybrid": hybrid}[which]
    live = LiveModel(model)
    features = np.ones(model.features_.shape[1]) if which == "hybrid" else None
    steps = [  # (a learning step, how many calls it makes)
        (lambda: live.rate(3, 2, 5.0), 1),
        (lambda: live.update(4, {0: 1.0, 5: 2.0}), 1),
        (lambda: live.rate(live.add_user(), 1, 4.0), 2),
        (lambda: live.add_item(features), 1),
        (lambda: live.rate(2, live.n_items - 1, 3.0), 1),
        (lambda: live.partial_fit(([1, 2, live.n_users], [0, 1, 2], [2.0, 3.0, 4.0])), 1),
        (lambda: live.sweep(mstep="each"), 1),
        (lambda: live.refresh(), 1),
    ]
    states = []
    for step, calls in steps:
        states.append((snapshot(live), calls))
        step()
    for state, calls in reversed(states):
        for _ in range(calls):
            live.undo()
        assert_identical(state, snapshot(live))
    with pytest.raises(RuntimeError, match="nothing to undo"):
        live.undo()


def test_undo_remembers_max_undo_calls_and_a_failed_call_changes_nothing(residual, monkeypatch):
    live = LiveModel(residual, max_undo=2)
    for value in (1.0, 2.0, 3.0):
        live.rate(3, 2, value)
    live.undo()
    live.undo()
    with pytest.raises(RuntimeError, match="max_undo"):
        live.undo()
    before = snapshot(live)

    def failing_commit(self, patch, journal, **kw):
        raise FloatingPointError("boom")

    monkeypatch.setattr(sides.Side, "commit", failing_commit)
    with pytest.raises(FloatingPointError):
        live.rate(5, 1, 4.0)
    assert_identical(before, snapshot(live))


# -- (d) a new user, a re-rating, a new item -------------------------------------------------


def test_a_new_users_ratings_are_one_estep_and_one_mstep(data, course):
    live = LiveModel(course)
    live.refresh()  # every mean the M-step of the kept sums, so the next update is exact
    weights = live.mixtures()[0].p
    user = live.add_user()
    assert_close(live.posterior(user), weights, 1e-12)  # no ratings: the prior
    theta = live.mixtures()[0]  # its weight has joined p
    ratings = {1: 5.0, 4: 2.0, 7: 4.0}
    live.update(user, ratings)
    row = sp.csr_matrix((list(ratings.values()), ([0] * 3, list(ratings))), shape=(1, 12))
    q, _ = em.estep(row, theta)  # the E-step of the new row against the current mixture
    assert_close(live.posterior(user), q[0])
    X = sp.vstack([data.matrix, row], format="csr")
    post = np.vstack([live.posteriors()[:-1, 0], q])
    expected = em.mstep(X, post, theta, min_variance=0.25)  # then the M-step of every sum
    for actual, wanted in zip(live.mixtures()[0], expected, strict=True):
        assert_close(actual, wanted)
    assert_sums_match(live)


@pytest.mark.parametrize("which", ["residual", "hybrid"])
def test_fold_in_only_is_the_models_fold_in(which, residual, hybrid):
    model = residual if which == "residual" else hybrid
    live = LiveModel(model, fold_in_only=True)
    user = live.add_user()
    ratings = {0: 5.0, 3: 1.0, 6: 4.0}
    live.update(user, ratings)
    expected = model.fold_in(np.array(list(ratings)), np.array(list(ratings.values())))
    assert_close(live.predict_user(user), expected)
    # a known user's new ratings: folded in on top of their training row
    cols, values = model.train_[7].indices, model.train_[7].data
    extra = int(np.setdiff1d(np.arange(model.shape_[1]), cols)[0])
    live.rate(7, extra, 2.0)
    order = np.argsort(np.r_[cols, extra])
    expected = model.fold_in(np.r_[cols, extra][order], np.r_[values, 2.0][order])
    assert_close(live.predict_user(7), expected)
    fresh = LiveModel(model)  # the model never changed: its mixtures, weights and sums
    for side in ("users", "items"):
        for kept, fitted in zip(live.mixtures(side), fresh.mixtures(side), strict=True):
            np.testing.assert_array_equal(kept.var, fitted.var)
            np.testing.assert_array_equal(kept.p, fitted.p)
        np.testing.assert_array_equal(live._sides[side].weights, fresh._sides[side].weights)
    np.testing.assert_array_equal(live.mixtures()[0].mu, fresh.mixtures()[0].mu)


def test_a_re_rating_replaces_the_rating_and_its_terms(residual):
    live = LiveModel(residual)
    col = int(residual.train_[6].indices[0])
    old = residual.train_[6, col]
    new = 1.0 if old != 1.0 else 5.0
    live.rate(6, col, new)
    assert live.ratings().nnz == residual.train_.nnz
    assert live.ratings()[6, col] == new
    assert_sums_match(live)
    assert not np.allclose(live.predict_user(6), residual.predict(np.full(12, 6), np.arange(12)))


@pytest.mark.parametrize("which", ["course", "residual"])
def test_a_new_item_starts_at_its_fallback_and_learns(which, course, residual):
    model = course if which == "course" else residual
    live = LiveModel(model)
    weights = live._sides["items"].p.copy() if which == "residual" else None
    item = live.add_item()
    assert (live.n_items, item) == (13, 12)
    predictions = live.predict_user(3)
    if which == "course":  # the mixture's means of an unrated item: the training mean
        assert predictions[item] == pytest.approx(model.train_.data.mean())
    else:  # m + b_u + 0, and the items side's p @ mu_u (the posterior of no ratings)
        side = live._sides["items"]
        assert_close(side.post[item], weights, 1e-12)
        expected = live._offsets.mean + live._offsets.user[3]
        expected += np.einsum("sk,sk->", weights, side.mu[3]) / weights.shape[0]
        assert predictions[item] == pytest.approx(expected)
    live.rate(3, item, 5.0)
    live.rate(4, item, 5.0)
    assert live.predict_user(3)[item] > predictions[item] + 0.3  # it learnt the new column
    assert_sums_match(live)


def test_a_hybrid_item_needs_its_features(hybrid):
    live = LiveModel(hybrid)
    with pytest.raises(ValueError, match="content features"):
        live.add_item()
    p = hybrid.features_.shape[1]
    item = live.add_item(np.eye(p)[0])
    assert live._offsets.item[item] == pytest.approx(hybrid.content_weights_[0])
    live.update(2, {item: 4.0, 0: 3.0})
    assert_sums_match(live)


def test_partial_fit_is_the_same_updates_and_adds_users(residual):
    batch = ([3, 5, 3, 40, 41], [1, 2, 4, 0, 3], [5.0, 1.0, 2.0, 4.0, 3.0])
    one = LiveModel(residual)
    one.partial_fit(batch)
    other = LiveModel(residual)
    other.update(3, {1: 5.0, 4: 2.0})
    other.update(5, {2: 1.0})
    for user, col, value in ((40, 0, 4.0), (41, 3, 3.0)):
        other.add_user()
        other.update(user, {col: value})
    assert one.n_users == other.n_users == 42
    # the same updates, but new users joined before the updates rather than between them
    assert_close(one.ratings().toarray(), other.ratings().toarray())
    assert_sums_match(one)
    matrix = sp.csr_matrix(([2.0], ([42], [1])), shape=(43, 12))
    one.partial_fit(matrix)
    assert one.n_users == 43 and one.ratings()[42, 1] == 2.0
    one.undo()
    assert one.n_users == 42
    one.partial_fit(sp.csr_matrix(([2.0], ([43], [1])), shape=(46, 12)))
    assert one.n_users == 46  # a matrix's rows are the users after it, rated or not
    one.undo()
    one.partial_fit(([], [], []))  # nothing to learn: a call that changes nothing
    assert one.n_users == 42
    assert_close(one.ratings().toarray(), other.ratings().toarray())


# -- (e) bad input ----------------------------------------------------------------------------


def test_bad_input_gets_a_clear_error(course, residual):
    live = LiveModel(residual)
    cases = [
        (lambda: live.rate(40, 0, 3.0), ValueError, r"user must be in \[0, 40\).*add_user"),
        (lambda: live.rate(-1, 0, 3.0), ValueError, "user must be in"),
        (lambda: live.rate("3", 0, 3.0), TypeError, "user must be an integer"),
        (lambda: live.rate(True, 0, 3.0), TypeError, "user must be an integer"),
        (lambda: live.rate(3, 12, 3.0), ValueError, r"col must be in \[0, 12\).*add_item"),
        (lambda: live.rate(3, 1.5, 3.0), TypeError, "col must be an integer"),
        (lambda: live.rate(3, 0, 7.0), ValueError, "within the model's scale 1-5.*7 for column 0"),
        (lambda: live.rate(3, 0, np.nan), ValueError, "finite ratings"),
        (lambda: live.rate(3, 0, "good"), TypeError, "must be numbers"),
        (lambda: live.update(3, {}), ValueError, "ratings is empty"),
        (lambda: live.update(3, [(0, 3.0)]), TypeError, "mapping"),
        (lambda: live.partial_fit(([1, 2], [0], [3.0])), ValueError, "one length"),
        (lambda: live.partial_fit(([1, 1], [0, 0], [3.0, 4.0])), ValueError, "twice"),
        (
            lambda: live.partial_fit(sp.coo_matrix(([2.0, 2.0], ([0, 0], [1, 1])), shape=(40, 12))),
            ValueError,
            "1 duplicate",
        ),  # a COO matrix would otherwise sum them into one rating of 4
        (lambda: live.partial_fit(([45], [0], [3.0])), ValueError, r"rows must lie in \[0, 41\)"),
        (lambda: live.predict([[0, 1]], [0, 1]), ValueError, "1-D"),
        (lambda: live.rate(3, 0, None), TypeError, "got None"),
        (lambda: live.partial_fit(sp.csr_matrix((40, 5))), ValueError, "12 columns"),
        (lambda: live.partial_fit("ratings"), TypeError, "rows, cols, values"),
        (lambda: live.predict([0], [12]), ValueError, r"cols must lie in \[0, 12\)"),
        (lambda: live.sweep(mstep="never"), ValueError, "'each' or 'end'"),
        (lambda: live.mixtures("movies"), ValueError, "'users' or 'items'"),
        (lambda: live.add_item(np.ones(3)), ValueError, "HybridMixture"),
        (lambda: LiveModel(residual, seeds=[99]), ValueError, "seeds must be distinct seeds"),
        (lambda: LiveModel(course, seeds=[0]), ValueError, "leave seeds=None"),
        (lambda: LiveModel(ResidualMixture()), ValueError, "not fitted"),
        (lambda: LiveModel("model"), TypeError, "CourseMixture, ResidualMixture"),
        (lambda: LiveModel(residual, max_undo=-1), ValueError, "max_undo"),
        (lambda: LiveModel(residual, sp.csr_matrix((3, 3))), ValueError, "holds no ratings"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    with pytest.raises(ValueError, match="no items side"):
        LiveModel(ResidualMixture(2, sides=["users"], seeds=[0]).fit(small_ratings())).sweep(
            "items"
        )


def test_a_subset_of_seeds_stays_live(residual):
    live = LiveModel(residual, seeds=[2, 0])
    assert live.seeds == (2, 0)
    assert len(live.mixtures()) == 2
    np.testing.assert_array_equal(live.mixtures()[0].mu, residual.mixtures_["users"][2].mu)


def test_a_replay_of_movielens_in_time_order_keeps_the_sums_exact(movielens):
    stream = movielens_100k_stream(movielens.path, download=False)
    first = sp.csr_matrix(
        (stream.values[:5000], (stream.rows[:5000], stream.cols[:5000])),
        shape=movielens.ratings.shape,
    )
    model = ResidualMixture(3, seeds=[0, 1], rating_scale=(1, 5), max_iter=100).fit(first)
    live = LiveModel(model)
    errors = []
    for t in range(5000, 5300):
        user, col, value = int(stream.rows[t]), int(stream.cols[t]), stream.values[t]
        errors.append(live.predict([user], [col])[0] - value)
        live.rate(user, col, value)
    assert live.ratings().nnz == 5300
    assert_sums_match(live)
    assert np.sqrt(np.mean(np.square(errors))) < 1.2  # a sane model, not a benchmark
