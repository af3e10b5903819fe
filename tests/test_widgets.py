"""cfcore.apps.widgets without a browser: every callback, and the widgets driven from Python."""

from __future__ import annotations

import os

import numpy as np
import pytest
from synthetic import titled_ratings

from cfcore import common, engine, fit
from cfcore.apps import widgets
from cfcore.apps.app import (
    APP_ENGINE,
    CACHE_ENTRIES_KEPT,
    LiveSession,
    RecommenderApp,
    fitted_model,
    live_model,
    model_cache_dir,
)
from cfcore.apps.recommender import Recommender, movielens_recommender
from cfcore.apps.widgets import (
    EMData,
    EMExplorer,
    RateAndRecommend,
    UserExplorer,
    em_figure,
    em_summary,
    figure_png,
    format_posterior,
    format_recommendations,
    rate,
    run_em,
    search_options,
    session_view,
    user_report,
    users_with_held_out,
)
from cfcore.data import make_blobs
from cfcore.models import HybridMixture, LiveModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def points() -> EMData:
    X, _ = make_blobs(n_per_cluster=[60, 40, 50], seed=2)
    return EMData.points(X, "three groups")


@pytest.fixture(scope="module")
def ratings_data():
    return titled_ratings(n_users=120, n_items=12)


@pytest.fixture(scope="module")
def split(ratings_data):
    """(train, held_out): about a fifth of every user's ratings held out."""
    from cfcore.data import train_test_split

    return train_test_split(ratings_data, 0.2, seed=0)


@pytest.fixture(scope="module")
def recommender(split) -> Recommender:
    train, _ = split
    return Recommender(fit(train.matrix, 3, seeds=range(2)).mixture, train, min_support=2.0)


# --- EM explorer ----------------------------------------------------------------------------


def test_run_em_keeps_every_iteration_of_the_course_fit(points):
    run = run_em(points, 3, seed=1)
    result = fit(points.X, 3, seeds=[1], method="naive_em")
    assert run.error is None and run.converged
    assert run.n_iter == result.n_iter == len(run.mixtures) - 1 == len(run.log_likelihoods) - 1
    for got, want in zip(run.mixtures[-1], result.mixture, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # fit reports the last E-step, made before the last M-step: log p(X | mixtures[-2])
    assert run.log_likelihoods[-2] == pytest.approx(result.log_likelihood, rel=1e-12)
    assert np.all(np.diff(run.log_likelihoods) >= -1e-9)  # EM never goes down
    expected_bic = common.bic(points.X, run.mixtures[-1], run.log_likelihoods[-1])
    assert run.bic == pytest.approx(expected_bic)
    assert run_em(points, 3, seed=1) is run  # cached: a slider going back is instant


def test_run_em_on_ratings_from_either_start(ratings_data):
    data = EMData.ratings(ratings_data, "small ratings", min_ratings=1)
    assert data.genre_names == ["Drama", "Comedy", "Horror"]
    for start in ("course", "random"):
        run = run_em(data, 2, seed=0, start=start)
        assert run.error is None and run.start == start
        assert np.all(np.diff(run.log_likelihoods) >= -1e-9 * abs(run.log_likelihoods[-1]))
    with pytest.raises(ValueError, match=r"start must be one of"):
        run_em(data, 2, 0, start="k-means++")


def test_an_impossible_run_says_why_instead_of_raising(points):
    run = run_em(points, 500, seed=0)
    assert run.error is not None and "K must be between 1" in run.error
    assert "EM could not run: K must be between 1" in em_summary(run)
    assert figure_png(em_figure(run)).startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match=r"start='random' needs ratings"):
        run_em(points, 2, 0, start="random")


def test_em_summary_reports_the_iteration_the_likelihood_and_bic(points):
    run = run_em(points, 3, seed=0)
    text = em_summary(run, 2)
    assert "K = 3, seed 0" in text and "showing iteration 2" in text
    assert f"log-likelihood at iteration 2: {run.log_likelihoods[2]:,.4f}" in text
    assert f"BIC of the fitted K = 3 mixture: {run.bic:,.4f}" in text
    assert f"- {common.n_parameters(run.mixtures[-1])} parameters / 2 x ln 150" in text
    assert f"showing iteration {run.n_iter}" in em_summary(run)  # default: the last
    assert f"showing iteration {run.n_iter}" in em_summary(run, 10_000)  # clipped


def test_em_figure_draws_trace_and_clusters_or_profiles(points, ratings_data):
    figure = em_figure(run_em(points, 3, 0), 1)
    assert len(figure.axes) == 2 and "iteration 1" in figure.axes[1].get_title()
    marker = figure.axes[0].lines[1]
    assert list(marker.get_xdata()) == [1]
    profiles = em_figure(run_em(EMData.ratings(ratings_data, min_ratings=1), 2, 0))
    assert len(profiles.axes) == 3  # trace, heat map, colour bar
    assert figure_png(profiles).startswith(PNG_MAGIC)


def test_em_explorer_reruns_when_k_or_seed_move_and_steps_through_iterations(points, ratings_data):
    ratings = EMData.ratings(ratings_data, "ratings", min_ratings=1)
    explorer = EMExplorer([points, ratings], K=2)
    assert explorer.start_choice.disabled  # 2-D points start from K rows only
    first_text, first_png = explorer.readout.value, bytes(explorer.figure.value)
    assert "K = 2, seed 0" in first_text and first_png.startswith(PNG_MAGIC)

    explorer.k_slider.value = 3
    assert "K = 3, seed 0" in explorer.readout.value
    assert bytes(explorer.figure.value) != first_png
    run = explorer.current_run()
    assert explorer.iteration_slider.max == run.n_iter == explorer.iteration_slider.value

    explorer.iteration_slider.value = 1
    assert "showing iteration 1" in explorer.readout.value

    explorer.seed_choice.value = 4
    assert "K = 3, seed 4" in explorer.readout.value
    assert explorer.iteration_slider.value == explorer.current_run().n_iter

    explorer.data_choice.value = "ratings"
    assert not explorer.start_choice.disabled and "EM on ratings" in explorer.readout.value
    explorer.start_choice.value = "random"
    assert "start: random responsibilities" in explorer.readout.value


def test_em_explorer_updates_its_figure_before_its_text(points):
    explorer = EMExplorer([points], K=2)
    updates = []
    explorer.figure.observe(lambda change: updates.append("figure"), names="value")
    explorer.readout.observe(lambda change: updates.append("text"), names="value")
    explorer.k_slider.value = 3
    assert updates == ["figure", "text"]  # one figure, then the text that describes it
    explorer.iteration_slider.value = 1
    assert updates == ["figure", "text"] * 2
    explorer.seed_choice.value = 2
    assert updates == ["figure", "text"] * 3
    assert "K = 3, seed 2" in explorer.readout.value


def test_explorers_show_a_stable_plain_text_form(points):
    bundle = EMExplorer([points])._repr_mimebundle_()
    assert bundle["text/plain"].startswith("EMExplorer: EM on 2-D points or ratings")
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --- readouts -------------------------------------------------------------------------------


def test_format_posterior_draws_bars_and_the_change():
    text = format_posterior(np.array([0.75, 0.25]), previous=np.array([0.5, 0.5]), width=8)
    assert text.splitlines() == [
        "cluster 0  ██████··  0.750   (was 0.500, +0.250)",
        "cluster 1  ██······  0.250   (was 0.500, -0.250)",
    ]


def test_format_recommendations_marks_held_out_ratings(recommender):
    recs = recommender.top_n({101: 5.0}, n=3)
    held_out = {recs[0].item_id: 4.0}
    lines = format_recommendations(recs, held_out).splitlines()
    assert lines[0].split() == ["#", "predicted", "spread", "support", "held", "out", "title"]
    assert lines[1].split()[4] == "4" and lines[1].endswith(recs[0].title)
    assert lines[2].split()[4] == "—"
    assert len(lines) == 4


# --- user explorer --------------------------------------------------------------------------


def test_user_report_compares_recommendations_with_the_held_out_fold(recommender, split):
    train, held_out = split
    user_id = users_with_held_out(held_out)[0][1]
    report = user_report(recommender, held_out, user_id, n=4)
    u = recommender.user_index(user_id)
    np.testing.assert_allclose(report.post, recommender.post[u], rtol=1e-12)
    truth_row = held_out.matrix[u]
    assert report.held_out == {
        int(held_out.item_ids[i]): float(r)
        for i, r in zip(truth_row.indices, truth_row.data, strict=True)
    }
    predictions = report.post @ recommender.mixture.mu
    expected_rmse = np.sqrt(np.mean((predictions[truth_row.indices] - truth_row.data) ** 2))
    assert report.rmse == pytest.approx(expected_rmse)
    assert [p for _, _, p in report.held_out_predictions] == sorted(
        predictions[truth_row.indices], reverse=True
    )
    with pytest.raises(ValueError, match=r"held_out must rate the recommender's \(120, 12\)"):
        user_report(recommender, titled_ratings(n_users=5, n_items=12), user_id)
    trained = set(recommender.user_ratings(user_id))
    assert trained.isdisjoint(r.item_id for r in report.recommendations)
    assert report.n_train == len(trained)


def test_user_explorer_changes_its_readouts_with_the_user(recommender, split):
    _, held_out = split
    explorer = UserExplorer(recommender, held_out, n=4)
    options = explorer.user_choice.options
    assert len(options) == int((np.diff(held_out.matrix.indptr) > 0).sum())
    first_report = explorer.report.value
    assert f"user {options[0][1]}:" in first_report
    assert "cluster 0 (p " in explorer.clusters.value
    user_id = options[1][1]
    explorer.user_choice.value = user_id
    assert explorer.report.value != first_report and f"user {user_id}:" in explorer.report.value
    report = user_report(recommender, held_out, user_id, 4)
    assert explorer.report.value == widgets.pre(widgets.format_user_report(report))
    assert explorer.posterior.value == widgets.pre(format_posterior(report.post))


# --- rate and recommend ---------------------------------------------------------------------


def test_search_and_rate_are_plain_functions(recommender):
    assert search_options(recommender, "film c") == [("Film C (1992)", 103)]
    assert len(search_options(recommender, "", limit=5)) == 5
    ratings = rate({}, 103, 4)
    ratings = rate(ratings, 105, 2)
    assert rate(ratings, 103, 5) == {105: 2.0, 103: 5.0}  # re-rating replaces
    view = session_view(recommender, ratings, previous_post=recommender.mixture.p)
    assert "4 ★  Film C (1992)" in view.ratings_text
    assert "(was " in view.posterior_text
    np.testing.assert_allclose(view.user.post, recommender.fold_in(ratings).post)
    assert "Film C" not in view.recommendations_text  # rated items are not recommended


def choose(app, item_id, stars) -> None:
    """What a person does: find the movie, select it, choose the stars, press Rate."""
    app.search_box.value = app.recommender.title(item_id)
    app.results.value = item_id
    app.stars.value = stars
    app.rate_button.click()


def test_rate_and_recommend_updates_at_every_rating_and_can_undo(recommender):
    app = RateAndRecommend(recommender, n=5, limit=10)
    assert "no ratings yet" in app.ratings_view.value
    before = (app.posterior.value, app.recommendations.value)
    seen_posteriors, seen_lists = [before[0]], [before[1]]
    for query, stars in (("film a", 5), ("film b", 1), ("film j", 5)):
        app.search_box.value = query
        assert [label for label, _ in app.results.options] == [
            recommender.title(i) for i in recommender.search(query, 10)
        ]
        app.results.value = recommender.search(query, 10)[0]
        app.stars.value = stars
        app.rate_button.click()
        seen_posteriors.append(app.posterior.value)
        seen_lists.append(app.recommendations.value)
    assert app.ratings == {101: 5.0, 102: 1.0, 110: 5.0}
    assert len(set(seen_posteriors)) == 4  # the posterior readout changed at every rating
    before_last = recommender.fold_in({101: 5.0, 102: 1.0}).post
    expected = session_view(recommender, app.ratings, before_last, 5)
    assert app.recommendations.value == widgets.pre(expected.recommendations_text)
    assert app.posterior.value == widgets.pre(expected.posterior_text)
    app.undo_button.click()
    assert app.ratings == {101: 5.0, 102: 1.0}
    assert app.recommendations.value == seen_lists[2]
    app.search_box.value = "no such film"
    assert app.results.options == () and app.results.value is None
    app.rate_button.click()  # nothing selected: nothing happens
    assert app.ratings == {101: 5.0, 102: 1.0}


def test_the_panel_starts_with_nothing_chosen_and_rate_disabled(recommender):
    app = RateAndRecommend(recommender, n=5, limit=10)
    assert app.results.value is None and app.stars.value is None
    assert app.rate_button.disabled and app.undo_button.disabled
    assert app.hint.value == "Pick a movie in the list and choose a rating."
    app.rate_button.click()  # a click that reaches a disabled button rates nothing
    assert app.ratings == {}
    app.results.value = 103
    assert app.rate_button.disabled and app.hint.value == "Choose a rating."
    app.stars.value = 4
    assert not app.rate_button.disabled and app.hint.value == "Press Rate."
    app.rate_button.click()
    assert app.ratings == {103: 4.0}
    assert app.stars.value is None and app.rate_button.disabled  # the next rating is chosen anew
    assert not app.undo_button.disabled
    app.search_box.value = "film"  # a new list of titles selects none of them by itself
    assert len(app.results.options) > 1 and app.results.value is None
    assert app.rate_button.disabled


def test_undo_after_a_re_rating_restores_the_earlier_rating(recommender):
    app = RateAndRecommend(recommender, n=5, limit=10)
    choose(app, 103, 4)
    choose(app, 105, 2)
    shown = (app.ratings_view.value, app.recommendations.value)
    choose(app, 103, 1)  # re-rated: replaced in place
    assert list(app.ratings.items()) == [(103, 1.0), (105, 2.0)]
    assert app.recommendations.value == widgets.pre(
        session_view(recommender, {103: 1.0, 105: 2.0}, n=5).recommendations_text
    )
    app.undo_button.click()
    assert list(app.ratings.items()) == [(103, 4.0), (105, 2.0)]  # the 4 is back, not gone
    assert (app.ratings_view.value, app.recommendations.value) == shown
    app.undo_button.click()
    assert app.ratings == {103: 4.0}
    app.undo_button.click()
    assert app.ratings == {} and app.undo_button.disabled
    app.undo_button.click()  # nothing left to undo: nothing happens
    assert app.ratings == {}


def test_was_compares_with_the_posterior_before_the_last_action(recommender):
    app = RateAndRecommend(recommender, n=5, limit=10)
    assert "(was " not in app.posterior.value  # nothing happened yet
    posts = [recommender.mixture.p]
    for item_id, stars in ((101, 5), (102, 1), (101, 2)):
        choose(app, item_id, stars)
        posts.append(app.session.user().post)
        np.testing.assert_allclose(app.shown_post, posts[-1])
        assert app.posterior.value == widgets.pre(format_posterior(posts[-1], posts[-2]))
    app.undo_button.click()  # back to the second state; "was" is what the undo replaced
    np.testing.assert_allclose(app.shown_post, posts[2])
    assert app.posterior.value == widgets.pre(format_posterior(posts[2], posts[3]))
    app.undo_button.click()
    assert app.posterior.value == widgets.pre(format_posterior(posts[1], posts[2]))


def test_a_rating_session_keeps_the_values_it_replaced():
    class Checked:
        """What a session uses of a Recommender: item ids, its checks of a row, fold_in."""

        scale = (1.0, 5.0)

        def item_id(self, item):
            return item

        def row(self, ratings):
            for rating in ratings.values():
                if not 1 <= float(rating) <= 5:
                    raise ValueError(f"rating {rating} outside the scale 1-5")

        def fold_in(self, ratings):
            return dict(ratings)

    session = widgets.RatingSession(Checked())
    assert not session.can_undo and session.undo() is None
    session.rate("a", 3)
    session.rate("b", 5)
    change = session.rate("a", 1)
    assert change == widgets.RatingChange("a", 1.0, 3.0)
    assert [c.previous for c in session.undo_stack] == [None, None, 3.0]
    with pytest.raises(ValueError, match="outside the scale"):
        session.rate("c", 9)
    assert session.ratings == {"a": 1.0, "b": 5.0} and len(session.undo_stack) == 3
    assert session.undo() == change and session.user() == {"a": 3.0, "b": 5.0}
    session.undo()
    session.undo()
    assert session.ratings == {} and not session.can_undo


# --- the web app's support (cfcore.apps.app) -------------------------------------------------


def small_hybrid():
    return HybridMixture(2, seeds=range(2))


@pytest.fixture(scope="module")
def live_recommender(ratings_data):
    """(recommender, fitted model): a small hybrid mixture on titled ratings."""
    model = small_hybrid().fit(ratings_data)
    return Recommender.from_model(ratings_data, model), model


def test_the_fitted_model_is_cached_by_data_settings_and_code(ratings_data, tmp_path):
    first = fitted_model(ratings_data, small_hybrid(), tmp_path)
    assert not first.from_cache and first.path.parent == tmp_path
    again = fitted_model(ratings_data, small_hybrid(), tmp_path)
    assert again.from_cache and again.path == first.path and again.model is not first.model
    np.testing.assert_array_equal(again.model.fold_in([0], [5.0]), first.model.fold_in([0], [5.0]))
    other_settings = fitted_model(ratings_data, HybridMixture(2, seeds=range(1)), tmp_path)
    other_data = fitted_model(titled_ratings(n_users=90, n_items=12), small_hybrid(), tmp_path)
    assert len({first.path, other_settings.path, other_data.path}) == 3
    assert sorted(tmp_path.iterdir()) == sorted(
        {first.path, other_settings.path, other_data.path}
    )  # written atomically: no temporary file is left
    with pytest.raises(ValueError, match=r"already fitted .* pass the unfitted model"):
        fitted_model(ratings_data, first.model, tmp_path)


def test_the_cache_keeps_the_most_recently_used_entries_of_a_model(ratings_data, tmp_path):
    stale = [tmp_path / f"hybrid-mixture-{key}.pickle" for key in "abcde"]
    for age, path in enumerate(reversed(stale)):  # stale[0] the newest, stale[4] the oldest
        path.write_bytes(b"an entry of older code")
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    other = tmp_path / "biases-f.pickle"  # another model's entry is left alone
    other.write_bytes(b"")
    os.utime(other, (1, 1))
    fresh = fitted_model(ratings_data, small_hybrid(), tmp_path)
    kept = sorted(tmp_path.glob("hybrid-mixture-*.pickle"))
    assert len(kept) == CACHE_ENTRIES_KEPT and fresh.path in kept
    assert set(kept) == {fresh.path, *stale[: CACHE_ENTRIES_KEPT - 1]}
    assert other.exists()
    os.utime(fresh.path, (2, 2))  # now the oldest entry; reading it makes it the newest
    assert fitted_model(ratings_data, small_hybrid(), tmp_path).from_cache
    assert fresh.path.stat().st_mtime > stale[0].stat().st_mtime


def test_a_cache_entry_that_cannot_be_read_is_fitted_again(ratings_data, tmp_path):
    path = fitted_model(ratings_data, small_hybrid(), tmp_path).path
    path.write_bytes(b"half a pickle")
    with pytest.warns(RuntimeWarning, match=r"could not be read .* fitting it again"):
        refitted = fitted_model(ratings_data, small_hybrid(), tmp_path)
    assert not refitted.from_cache
    assert fitted_model(ratings_data, small_hybrid(), tmp_path).from_cache


def test_the_cache_folder_is_cfcore_cache_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path))
    assert model_cache_dir() == tmp_path
    monkeypatch.delenv("CFCORE_CACHE")
    assert model_cache_dir().name == "models"


def test_a_live_session_learns_each_rating_and_undo_restores_it_exactly(live_recommender):
    recommender, model = live_recommender
    session = LiveSession(recommender, live_model(model))
    with engine.using(APP_ENGINE):  # the same calls made by hand, on the session's engine
        twin = LiveModel(model)
        user = twin.add_user()
        np.testing.assert_array_equal(session.user().predictions, twin.predict_user(user))
        states = []
        for item_id, stars in ((103, 4), (105, 2), (103, 1)):  # the last one re-rates
            states.append(session.user())
            session.rate(item_id, stars)
            twin.rate(user, recommender.column(item_id), stars)
            got = session.user()
            np.testing.assert_array_equal(got.predictions, twin.predict_user(user))
            np.testing.assert_array_equal(got.post, twin.posterior(user))
            assert got.rated.sum() == len(session.ratings)
    assert session.ratings == {103: 1.0, 105: 2.0}
    for state in reversed(states):
        session.undo()
        np.testing.assert_array_equal(session.user().predictions, state.predictions)
        np.testing.assert_array_equal(session.user().post, state.post)
    assert session.ratings == {} and session.undo() is None
    with pytest.raises(ValueError, match=r"outside the scale 1-5"):
        session.rate(103, 7)
    assert session.ratings == {} and not session.can_undo  # nothing learnt from it


def test_a_session_keeps_no_more_undo_than_its_model_can_take_back(live_recommender):
    recommender, model = live_recommender
    session = LiveSession(recommender, LiveModel(model, max_undo=2))  # keeps 2 calls
    assert session.max_undo == 2
    for item_id in (101, 102, 103):
        session.rate(item_id, 3)
    assert [change.item_id for change in session.undo_stack] == [102, 103]
    session.undo()
    session.undo()
    assert session.ratings == {101: 3.0} and not session.can_undo
    with pytest.raises(ValueError, match=r"max_undo must be a number of ratings >= 0"):
        widgets.RatingSession(recommender, max_undo=-1)


def test_a_session_on_a_model_without_undo_keeps_nothing_to_undo(live_recommender):
    recommender, model = live_recommender
    session = LiveSession(recommender, LiveModel(model, max_undo=0))
    session.rate(101, 3)
    assert not session.can_undo and session.undo() is None
    assert session.ratings == {101: 3.0}


def test_a_session_undoes_only_its_own_ratings_of_a_shared_model(live_recommender):
    recommender, model = live_recommender
    live = live_model(model)
    first, second = LiveSession(recommender, live), LiveSession(recommender, live)
    first.rate(101, 5)
    before = first.user().predictions
    second.rate(102, 1)
    with pytest.raises(RuntimeError, match="learnt from another caller"):
        first.undo()  # live's undo would take back the second session's rating
    assert first.ratings == {101: 5.0} and first.can_undo  # refused: nothing changed
    second.undo()
    np.testing.assert_array_equal(first.user().predictions, before)
    first.undo()
    assert first.ratings == {} and live.n_users == model.shape_[0] + 2


def test_a_rating_session_keys_ratings_by_item_id_however_the_item_is_named(live_recommender):
    recommender, _ = live_recommender
    session = widgets.RatingSession(recommender)
    title = recommender.title(101)
    session.rate(title, 4)
    change = session.rate(101, 2)  # the same item by its id: a re-rating
    assert change.previous == 4.0 and session.ratings == {101: 2.0}
    session.undo()
    assert session.ratings == {101: 4.0}


def test_the_app_panel_rates_through_the_live_model(live_recommender):
    recommender, model = live_recommender
    app = RecommenderApp(recommender, live_model(model), citation="Cite this.")
    assert isinstance(app.panel.session, LiveSession) and app.panel.session is app.session
    assert "cfcore-app" in app._dom_classes
    style, _, footer = app.children
    assert "<style>" in style.value and "font-family: 'DejaVu Sans Mono'" in style.value
    assert "Cite this." in footer.value
    assert "cluster 0" in app.panel.posterior.value  # the live user's posterior
    choose(app.panel, 104, 5)
    user = app.session.user()
    assert app.panel.recommendations.value == widgets.pre(
        session_view(recommender, {104: 5.0}, n=10, user=user).recommendations_text
    )
    app.panel.undo_button.click()
    assert app.panel.ratings == {} and app.panel.undo_button.disabled


# --- on MovieLens 100K ----------------------------------------------------------------------


def test_the_explorers_on_movielens(movielens):
    recommender = movielens_recommender(data=movielens)
    held_out = movielens.folds["u1"].test
    explorer = UserExplorer(recommender, held_out)
    assert len(explorer.user_choice.options) == 459  # u1's test users
    explorer.user_choice.value = 13
    assert explorer.report.value.startswith('<pre class="cfcore-mono" style="font-family: ')
    assert "user 13: " in explorer.report.value
    app = RateAndRecommend(recommender)
    app.search_box.value = "star wars"
    assert app.results.options[0] == ("Star Wars (1977)", 50)
    assert app.results.value is None and app.stars.value is None  # nothing chosen for you
    app.results.value = 50
    app.stars.value = 5
    app.rate_button.click()
    assert "5 ★  Star Wars (1977)" in app.ratings_view.value
    assert "Star Wars (1977)" not in app.recommendations.value


def test_figures_go_to_the_repository_figures_folder_unless_redirected(monkeypatch, tmp_path):
    from pathlib import Path

    from cfcore.apps.plotting import figures_dir

    monkeypatch.delenv("CFCORE_FIGURES", raising=False)
    assert figures_dir() == Path(__file__).resolve().parents[1] / "figures"
    monkeypatch.setenv("CFCORE_FIGURES", str(tmp_path))
    assert figures_dir() == tmp_path


def _catalogue_with(titles: list[str]):
    from cfcore.apps.catalogue import ItemCatalogue
    from cfcore.data import RatingsData

    dense = np.random.default_rng(0).integers(1, 6, size=(6, len(titles))).astype(float)
    return ItemCatalogue(RatingsData.from_dense(dense, titles=titles, scale=(1, 5)))


def test_search_ignores_case_accents_and_a_trailing_article():
    titles = ["Godfather, The (1972)", "Misérables, Les (1995)", "Chasing Amy (1997)"]
    items = _catalogue_with(titles)
    assert items.search("the godfather") == items.search("GODFATHER") == [items.item_id(titles[0])]
    assert items.search("miserables") == items.search("Misérables") == [items.item_id(titles[1])]
    assert items.search("les miserables") == [items.item_id(titles[1])]
    assert items.search("nothing like it") == []
    assert len(items.search("", None)) == 3


def test_two_films_of_one_title_are_told_apart_by_their_ids(live_recommender):
    recommender, _ = live_recommender
    items = _catalogue_with(["Chasing Amy (1997)", "Chasing Amy (1997)", "Fargo (1996)"])
    twins = items.search("chasing")
    assert len(twins) == 2 and all(items.has_twin(item) for item in twins)
    assert not items.has_twin(items.search("fargo")[0])
    labels = [widgets.option_label(recommender, item) for item in recommender.search("Film")]
    assert labels == [recommender.title(item) for item in recommender.search("Film")]


def test_the_hint_says_when_a_search_finds_nothing_or_more_than_it_lists(live_recommender):
    recommender, _ = live_recommender
    panel = widgets.RateAndRecommend(recommender, limit=4)
    panel.search_box.value = "no such film"
    assert "No movie title contains 'no such film'" in panel.hint.value
    panel.search_box.value = "film"
    n_films = len(recommender.search("film", None))
    assert f"Showing the 4 most rated of {n_films} matches" in panel.hint.value
    assert len(panel.results.options) == 4


def test_the_hint_names_the_undo_limit_once_it_is_reached(live_recommender):
    recommender, model = live_recommender
    session = LiveSession(recommender, LiveModel(model, max_undo=2))
    panel = widgets.RateAndRecommend(recommender, session=session)
    for item_id in (101, 102, 103):
        session.rate(item_id, 3)
    session.undo()
    session.undo()
    panel.refresh()
    assert not session.can_undo and "Undo takes back the last 2 ratings only." in panel.hint.value


def test_recommendations_leave_out_the_spread_column_when_no_row_has_one(live_recommender):
    from cfcore.apps.recommend import Recommendation
    from cfcore.apps.render import format_recommendations

    rows = [Recommendation(0, 101, "Film A", 4.2, np.nan, 12.0)]
    assert "spread" not in format_recommendations(rows)
    with_spread = [Recommendation(0, 101, "Film A", 4.2, 0.3, 12.0)]
    assert "spread" in format_recommendations(with_spread)
