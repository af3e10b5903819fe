"""cfcore.widgets without a browser: every callback, and the widgets driven from Python."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import titled_ratings

from cfcore import common, fit
from cfcore.apps import widgets
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
        app.stars.value = stars
        app.rate_button.click()
        seen_posteriors.append(app.posterior.value)
        seen_lists.append(app.recommendations.value)
    assert app.ratings == {101: 5.0, 102: 1.0, 110: 5.0}
    assert len(set(seen_posteriors)) == 4  # the posterior readout changed at every rating
    expected = session_view(recommender, app.ratings, app.history[-1], 5)
    assert app.recommendations.value == widgets.pre(expected.recommendations_text)
    assert app.posterior.value == widgets.pre(expected.posterior_text)
    app.undo_button.click()
    assert app.ratings == {101: 5.0, 102: 1.0}
    assert app.posterior.value == seen_posteriors[2]
    app.search_box.value = "no such film"
    assert app.results.options == () and app.results.value is None
    app.rate_button.click()  # nothing selected: nothing happens
    assert app.ratings == {101: 5.0, 102: 1.0}


# --- on MovieLens 100K ----------------------------------------------------------------------


def test_the_explorers_on_movielens(movielens):
    recommender = movielens_recommender(data=movielens)
    held_out = movielens.folds["u1"].test
    explorer = UserExplorer(recommender, held_out)
    assert len(explorer.user_choice.options) == 459  # u1's test users
    explorer.user_choice.value = 13
    assert explorer.report.value.startswith('<pre class="" style=')
    assert "user 13: " in explorer.report.value
    app = RateAndRecommend(recommender)
    app.search_box.value = "star wars"
    assert app.results.options[0] == ("Star Wars (1977)", 50)
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
