"""Recommendations from any data set with any fold-in model, on any rating scale.

Fold-in on the models (equal to the model's own prediction where an identity holds exactly,
one MAP M-step on the items side), the Recommender on titled and untitled data, min_support
"auto", the rate-and-recommend widget on half stars and 0-10, and ``python -m cfcore
recommend``.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import titled_ratings

from cfcore.apps.catalogue import ItemCatalogue
from cfcore.apps.recommender import Recommender, fit_recommender, movielens_recommender
from cfcore.apps.recommender_options import LONG_TAIL_SHARE, auto_min_support, fold_in_models
from cfcore.apps.widgets import (
    RateAndRecommend,
    UserExplorer,
    rating_step,
    rating_steps,
    session_view,
)
from cfcore.cli import main
from cfcore.common import GaussianMixture
from cfcore.data import RatingsData, attach_items, load_items, load_ratings
from cfcore.engine import transpose
from cfcore.models import BiasesModel, CourseMixture, ResidualMixture, map_em

#: the registered models a new user can be folded into, as the recommender tests use them
FOLD_IN_MODELS = [
    "residual-mixture",
    "hybrid-mixture",
    "course-em",
]

# --- a small movies.csv-style data set, two tastes --------------------------------------------

MOVIES = [
    (1, "Toy Story (1995)", "Animation|Children|Comedy"),
    (2, "Heat (1995)", "Action|Crime|Thriller"),
    (3, '"Good, the Bad and the Ugly, The (1966)"', "Action|Western"),
    (4, "Casablanca (1942)", "Drama|Romance"),
    (5, "Alien (1979)", "Horror|Sci-Fi"),
    (6, "Fargo (1996)", "Comedy|Crime|Drama"),
    (7, "Babe (1995)", "Children|Drama"),
    (8, "Jumanji (1995)", "Adventure|Children|Fantasy"),
    (9, "Balto (1995)", "Animation|Children"),
    (10, "Pocahontas (1995)", "Animation|Children|Musical"),
    (11, "Aladdin (1992)", "Animation|Children|Comedy"),
    (12, "Dumbo (1941)", "Animation|Children|Drama"),
]
#: the first six movies are one taste, the last six the other
FIRST_TASTE = {1, 2, 3, 4, 5, 6}


def two_tastes(n_users: int = 40, seed: int = 0) -> np.ndarray:
    """(n_users, 12) dense ratings 1-5, 0 = missing: half the users like movies 1-6 (4-5
    stars) and dislike 7-12 (1-2), the other half the reverse; about 70% rated."""
    rng = np.random.default_rng(seed)
    likes_first = np.arange(n_users) % 2 == 0
    first = np.arange(12) < 6
    liked = likes_first[:, None] == first[None, :]
    ratings = np.where(liked, rng.integers(4, 6, (n_users, 12)), rng.integers(1, 3, (n_users, 12)))
    ratings = ratings.astype(float)
    ratings[rng.random((n_users, 12)) > 0.7] = 0.0
    return ratings


def write_movielens_latest(folder, dense: np.ndarray):
    """ratings.csv (userId,movieId,rating,timestamp) and movies.csv (quoted commas) in folder."""
    lines = ["userId,movieId,rating,timestamp"]
    for u, i in zip(*np.nonzero(dense), strict=True):
        lines.append(f"{u + 1},{i + 1},{dense[u, i]:g},964982703")
    ratings = folder / "ratings.csv"
    ratings.write_text("\n".join(lines) + "\n")
    movies = folder / "movies.csv"
    rows = ["movieId,title,genres"] + [f"{i},{t},{g}" for i, t, g in MOVIES]
    movies.write_text("\n".join(rows) + "\n")
    return ratings, movies


@pytest.fixture(scope="module")
def latest_files(tmp_path_factory):
    return write_movielens_latest(tmp_path_factory.mktemp("latest"), two_tastes())


@pytest.fixture(scope="module")
def titled_data(latest_files) -> RatingsData:
    ratings, movies = latest_files
    return attach_items(load_ratings(ratings), load_items(movies))


FIRST_TASTE_USER = {
    "Toy Story": 5,
    "Heat (1995)": 4,
    "The Good, the Bad and the Ugly": 5,
    "Babe": 1,
    8: 2,  # Jumanji, by its id
}


@pytest.mark.parametrize("model", FOLD_IN_MODELS)
def test_a_new_user_with_five_ratings_gets_titled_recommendations(titled_data, model):
    recommender = fit_recommender(titled_data, model)
    recs = recommender.top_n(FIRST_TASTE_USER, n=4)
    rated = {recommender.column(item) for item in FIRST_TASTE_USER}
    assert len(rated) == 5 and len(recs) == 4
    assert not rated & {r.item for r in recs}
    assert recs[0].item_id in FIRST_TASTE  # the unrated movies of the user's taste come first
    by_id = {movie_id: title.strip('"') for movie_id, title, _ in MOVIES}
    assert [r.title for r in recs] == [by_id[r.item_id] for r in recs]
    assert all(r.genres and set(r.genres) <= set(titled_data.genre_names) for r in recs)
    assert all(1.0 <= r.predicted <= 5.0 for r in recs)
    assert [r.predicted for r in recs] == sorted((r.predicted for r in recs), reverse=True)
    assert recommender.find("good, the bad") == 3  # the quoted comma survived


def test_titles_and_ids_are_matched_as_a_person_types_them(titled_data):
    items = ItemCatalogue(titled_data)
    assert items.find("toy story (1995)") == 1  # exact, any case
    assert items.find("12") == 12  # an id written as text
    assert items.find("The Good, the Bad and the Ugly") == 3  # no year, article in front
    assert items.find("casabl") == 4  # the one title containing it
    with pytest.raises(ValueError, match=r"'Toy Stroy'.*close matches: Toy Story \(1995\)"):
        items.find("Toy Stroy")
    with pytest.raises(ValueError, match=r"'\(1995\)' matches 6 items: .* \(id \d+\)"):
        items.find("(1995)")
    with pytest.raises(ValueError, match=r"no item is titled 'zzzz', and no title is close"):
        items.find("zzzz")


def test_the_recommender_works_on_ratings_without_titles():
    data = RatingsData.from_dense(two_tastes(), item_ids=np.arange(101, 113), scale=(1, 5))
    model = ResidualMixture(2, seeds=range(2)).fit(data)
    recommender = Recommender.from_model(data, model)
    assert list(recommender.item_titles[:2]) == ["101", "102"]
    assert recommender.find("105") == 105
    recs = recommender.top_n({101: 5, 102: 5, "103": 4, 107: 1}, n=3)
    assert [r.title for r in recs] == [str(r.item_id) for r in recs]
    assert all(r.genres == () for r in recs) and np.isnan(recs[0].spread)
    assert recs[0].item_id in {104, 105, 106}
    user = recommender.fold_in({101: 5})
    assert user.post is None and user.predictions.shape == (12,)


def test_search_on_ids_as_titles_finds_every_id_containing_the_text():
    data = RatingsData.from_dense(two_tastes(), item_ids=np.arange(101, 113), scale=(1, 5))
    recommender = Recommender.from_model(data, BiasesModelWithFoldIn().fit(data))
    assert sorted(recommender.search("11")) == [110, 111, 112]


class BiasesModelWithFoldIn(BiasesModel):
    """The biases alone as a fold-in model (a stand-in: any model with fold_in works)."""

    def fold_in(self, cols, values):
        m, c = self.biases_.mean, self.biases_.item
        b = np.sum(np.asarray(values) - m - c[cols]) / (self.reg_user + len(cols))
        return np.clip(m + b + c, *self.scale_)


def test_models_without_fold_in_are_refused_with_the_ones_that_have_it(titled_data):
    assert {"residual-mixture", "course-em"} <= set(fold_in_models())
    assert "biases" not in fold_in_models()
    with pytest.raises(ValueError, match=r"model 'biases' cannot fold in .* residual-mixture"):
        fit_recommender(titled_data, "biases")
    with pytest.raises(TypeError, match=r"'biases' cannot fold in a new user"):
        Recommender.from_model(titled_data, BiasesModel().fit(titled_data))
    with pytest.raises(ValueError, match=r"not fitted: call model.fit\(data\) first"):
        Recommender.from_model(titled_data, ResidualMixture())
    other = ResidualMixture(2, seeds=[0]).fit(titled_ratings())
    with pytest.raises(ValueError, match=r"fitted on 10 items but data has 12"):
        Recommender.from_model(titled_data, other)


def test_cluster_views_need_a_course_mixture(titled_data):
    recommender = Recommender.from_model(
        titled_data, ResidualMixture(2, seeds=[0]).fit(titled_data)
    )
    with pytest.raises(TypeError, match=r"cluster_profiles needs the clusters of a course mixture"):
        recommender.cluster_profiles()
    with pytest.raises(TypeError, match=r"UserExplorer needs the clusters"):
        UserExplorer(recommender, titled_data)
    course = CourseMixture([2], seeds=[0]).fit(titled_data)
    assert Recommender(course.mixture_, titled_data).K == 2


def test_movielens_recommender_accepts_a_ratings_data():
    data = titled_ratings(n_users=60, n_items=10)
    recommender = movielens_recommender(K=2, seeds=[0], data=data)
    assert recommender.train is data and recommender.K == 2
    assert movielens_recommender(K=2, seeds=[0], data=data) is recommender  # cached
    with pytest.raises(ValueError, match=r"fold='u2' names a fold of a MovieLens100K"):
        movielens_recommender("u2", data=data)
    with pytest.raises(TypeError, match=r"data must be a load_movielens_100k\(\) result"):
        movielens_recommender(data=data.matrix)


# --- min_support ------------------------------------------------------------------------------


def test_auto_min_support_leaves_out_the_long_tail():
    counts = np.array([1, 1, 2, 3, 50, 60, 80, 100])  # the first four hold 7 of 297 ratings
    assert auto_min_support(counts) == 50.0  # 1 + 1 + 2 + 3 = 7 <= 5% of 297 = 14.85
    assert auto_min_support(counts, 0.01) == 2.0  # 1 + 1 <= 2.97
    assert auto_min_support(counts, 0.001) == 1.0  # no item is that small: every one kept
    assert auto_min_support(counts, 0.5) == 80.0
    assert auto_min_support(np.full(12, 30)) == 30.0  # equal shares: nothing left out
    assert auto_min_support(np.zeros(3)) == 0.0
    left_out = counts < auto_min_support(counts)
    assert counts[left_out].sum() <= LONG_TAIL_SHARE * counts.sum()


def test_min_support_auto_is_the_default_and_a_count_still_works(titled_data):
    dense = two_tastes(60)
    dense[:, 9:] = 0.0
    dense[:3, 9:] = 5.0  # three movies with 3 ratings each, all 5 stars: the long tail
    data = RatingsData.from_dense(dense, scale=(1, 5), item_ids=np.arange(1, 13))
    model = ResidualMixture(2, seeds=[0]).fit(data)
    auto = Recommender.from_model(data, model)
    counts = np.bincount(data.matrix.indices, minlength=12)
    assert auto.min_support_rule == "auto" and auto.min_support == auto_min_support(counts)
    assert auto.min_support > 3
    first_taste = {1: 5, 2: 5, 3: 5}
    assert {10, 11, 12}.isdisjoint(r.item_id for r in auto.top_n(first_taste, n=9))
    everything = Recommender.from_model(data, model, min_support=0)
    assert len(everything.top_n(first_taste, n=9)) == 9
    assert Recommender.from_model(data, model, min_support=3).min_support == 3.0
    for bad in (-1, "most", float("nan"), True):
        with pytest.raises(ValueError, match=r"min_support must be a number >= 0 .* or 'auto'"):
            Recommender.from_model(data, model, min_support=bad)


# --- fold-in on the models ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ratings_0_10() -> RatingsData:
    """titled_ratings on 0-10 (2 x stars): a scale whose low end is not the course's 1."""
    data = titled_ratings(n_users=120, n_items=12)
    return RatingsData(data.matrix * 2.0, data.user_ids, data.item_ids, (0, 10))


@pytest.mark.parametrize("scale_data", ["stars", "0-10"])
def test_course_fold_in_of_a_training_row_is_its_prediction(scale_data, ratings_0_10):
    data = titled_ratings(n_users=120, n_items=12) if scale_data == "stars" else ratings_0_10
    model = CourseMixture([1, 2, 3], seeds=[0, 1]).fit(data)
    everything = np.arange(data.n_items)
    for u in range(0, data.n_users, 7):
        row = data.matrix[u]
        expected = model.predict(np.full(data.n_items, u), everything)
        np.testing.assert_allclose(model.fold_in(row.indices, row.data), expected, rtol=1e-12)
    no_ratings = model.fold_in([], [])
    np.testing.assert_allclose(no_ratings, np.clip(model.mixture_.p @ model.mixture_.mu, 0, 10))


def test_residual_fold_in_of_a_training_row_is_its_prediction_on_the_users_side():
    data = titled_ratings(n_users=120, n_items=12)
    model = ResidualMixture(3, sides=("users",), seeds=range(3)).fit(data)
    everything = np.arange(12)
    for u in range(0, 120, 11):
        row = data.matrix[u]
        # the closed-form bias is the fitted b_u (the normal equation, to CG's tolerance) ...
        bias = model.new_user_bias(row.indices, row.data)
        assert bias == pytest.approx(model.biases_.user[u], abs=1e-9)
        # ... and the users-side E-step is the fit's final one: the fold-in is predict
        expected = model.predict(np.full(12, u), everything)
        np.testing.assert_allclose(model.fold_in(row.indices, row.data), expected, atol=1e-9)


@pytest.mark.parametrize("prior_variance", [0.16, None])
def test_items_side_fold_in_is_one_map_m_step_on_a_new_coordinate(prior_variance):
    data = titled_ratings(n_users=120, n_items=12)
    model = ResidualMixture(3, sides=("items",), seeds=range(2), prior_variance=prior_variance)
    model.fit(data)
    cols, values = np.array([0, 3, 4, 9]), np.array([5.0, 1.0, 4.0, 2.0])
    bias = model.new_user_bias(cols, values)
    m, c = model.biases_.mean, model.biases_.item
    residuals = values - m - bias - c[cols]
    # the new user is column n of the (items x users) residuals; one MAP M-step at the
    # fitted posteriors and variances gives every cluster's mean on it
    items_by_users = transpose(model.biases_.residuals(data.matrix))
    new_column = sp.csr_matrix((residuals, (cols, np.zeros(4, int))), shape=(12, 1))
    extended = sp.hstack([items_by_users, new_column], format="csr")
    expected = np.zeros(12)
    for (post, _), mixture in zip(model.fits_["items"], model.mixtures_["items"], strict=True):
        mu = np.hstack([mixture.mu, np.zeros((3, 1))])  # the new coordinate starts at 0
        start = GaussianMixture(mu, mixture.var, mixture.p)
        step = map_em.map_mstep(extended, post, start, model.prior_variance_, model.min_variance_)
        expected += post @ step.mu[:, -1] / 2
    np.testing.assert_allclose(model.items_side_fold_in(cols, residuals), expected, atol=1e-12)
    np.testing.assert_allclose(
        model.fold_in(cols, values), np.clip(m + bias + c + expected, 1, 5), atol=1e-12
    )
    # a training user's row: the same step from a converged fit, so close to predict
    row = data.matrix[5]
    np.testing.assert_allclose(
        model.fold_in(row.indices, row.data),
        model.predict(np.full(12, 5), np.arange(12)),
        atol=0.01,
    )


@pytest.mark.parametrize("low, high, step", [(0.5, 5.0, 0.5), (0.0, 10.0, 1.0), (-10, 10, 0.5)])
def test_fold_in_is_finite_and_on_the_scale_for_any_scale(low, high, step):
    rng = np.random.default_rng(1)
    steps = np.arange(low, high + step / 2, step)
    dense = rng.choice(steps, size=(50, 9))
    observed = rng.random((50, 9)) < 0.6
    matrix = sp.csr_matrix((dense[observed], np.nonzero(observed)), shape=(50, 9))
    data = RatingsData(matrix, np.arange(50), np.arange(9), (low, high))
    for model in (CourseMixture([2], seeds=[0]), ResidualMixture(2, seeds=range(2))):
        model.fit(data)
        for values in ([high, high, high], [low, low, low], [low, high, (low + high) / 2]):
            predictions = model.fold_in([0, 4, 8], values)
            assert predictions.shape == (9,) and np.isfinite(predictions).all()
            assert predictions.min() >= low and predictions.max() <= high


def test_fold_in_names_what_is_wrong():
    data = titled_ratings(n_users=40, n_items=8)
    with pytest.raises(RuntimeError, match=r"call fit\(train\) before fold_in"):
        ResidualMixture().fold_in([0], [4.0])
    model = ResidualMixture(2, seeds=[0]).fit(data)
    cases = [
        (([8], [4.0]), ValueError, r"cols must lie in \[0, 8\)"),
        (([1, 1], [4.0, 3.0]), ValueError, r"cols names an item twice"),
        (([1], [7.0]), ValueError, r"values must be finite ratings within the model's scale 1-5"),
        (([1], [np.nan]), ValueError, r"values must be finite ratings"),
        (([1, 2], [4.0]), ValueError, r"cols and values must be two 1-D arrays of equal length"),
        (([1.0], [4.0]), TypeError, r"cols must be integer column indices"),
        (([1], ["four"]), TypeError, r"values must be an \(m,\) array of ratings"),
    ]
    for (cols, values), error, message in cases:
        with pytest.raises(error, match=message):
            model.fold_in(cols, values)


# --- the rate-and-recommend widget on any scale ---------------------------------------------


def scaled_data(low: float, high: float, step: float) -> RatingsData:
    """titled_ratings' users, items and titles with random ratings from low to high by step."""
    data = titled_ratings(n_users=120, n_items=12)
    steps = np.arange(low, high + step / 2, step)
    values = np.random.default_rng(0).choice(steps, size=data.n_ratings)
    matrix = sp.csr_matrix((values, data.matrix.indices, data.matrix.indptr), data.shape)
    return RatingsData(
        matrix, data.user_ids, data.item_ids, (low, high), titles=data.titles, name="scaled"
    )


def test_rating_steps_are_read_from_the_data():
    assert rating_step(titled_ratings()) == 1.0
    assert rating_step(scaled_data(0.5, 5.0, 0.5)) == 0.5
    assert rating_step(scaled_data(0, 10, 1)) == 1.0
    assert rating_steps((0.5, 5.0), 0.5) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert rating_steps((0, 10), 1.0) == list(range(11))
    assert rating_steps((1, 5), 1.5) == [1.0, 2.5, 4.0, 5.0]  # the top end is always offered


@pytest.mark.parametrize(
    "low, high, step, labels, text",
    [
        (0.5, 5.0, 0.5, ["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"], "3.5 ★"),
        (0.0, 10.0, 1.0, [str(k) for k in range(11)], "3.5/10"),
    ],
)
def test_rate_and_recommend_offers_the_scale_s_steps(low, high, step, labels, text):
    data = scaled_data(low, high, step)
    recommender = Recommender.from_model(data, ResidualMixture(2, seeds=range(2)).fit(data))
    app = RateAndRecommend(recommender, n=4, step=step)
    assert [label for label, _ in app.stars.options] == labels
    assert app.stars.value is None and app.rate_button.disabled  # nothing chosen for the user
    assert "no posterior over clusters to show" in app.posterior.value
    app.search_box.value = "film c"
    app.results.value = 103
    app.stars.value = 3.5 if step == 0.5 else 10
    app.rate_button.click()
    rated = 3.5 if step == 0.5 else 10.0
    assert app.ratings == {103: rated}
    assert (text if step == 0.5 else "10/10") + "  Film C (1992)" in app.ratings_view.value
    view = session_view(recommender, app.ratings, n=4)
    assert all(low <= value <= high for value in view.user.predictions)
    assert "Film C" not in view.recommendations_text
    app.undo_button.click()
    assert app.ratings == {}


def test_rate_and_recommend_reads_the_step_when_none_is_given():
    data = scaled_data(0.5, 5.0, 0.5)
    recommender = Recommender(CourseMixture([2], seeds=[0]).fit(data).mixture_, data)
    app = RateAndRecommend(recommender)
    assert app.step == rating_step(data) == 0.5
    assert len(app.stars.options) == 10


# --- python -m cfcore recommend -------------------------------------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


RATES = ["--rate", "Toy Story=5", "--rate", "heat=4", "--rate", "Babe (1995)=1", "--rate", "9=2"]


def test_recommend_prints_json_with_titles(latest_files, capsys):
    ratings, movies = latest_files
    command = ["recommend", "--ratings", str(ratings), "--items", str(movies), *RATES]
    assert main([*command, "-n", "3", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3 and set(records[0]) == {"item", "title", "predicted", "genres"}
    assert records[0]["item"] in FIRST_TASTE and isinstance(records[0]["item"], int)
    assert all(1.0 <= r["predicted"] <= 5.0 for r in records)
    assert not {1, 2, 7, 9} & {r["item"] for r in records}


def test_recommend_prints_a_table_and_works_without_items(latest_files, capsys):
    ratings, _ = latest_files
    rates = ["--rate", "1=5", "--rate", "2=4", "--rate", "7=1"]
    assert main(["recommend", "--ratings", str(ratings), *rates, "-n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["#", "predicted", "title", "genres"]
    assert len(lines) == 4 and lines[2].split()[0] == "1"


@pytest.mark.parametrize(
    "rate, message",
    [
        ("Toy Stroy=5", r"--rate 'Toy Stroy=5': no item is titled 'Toy Stroy'; close matches: Toy"),
        ("(1995)=4", r"'\(1995\)' matches 6 items: .*; give the full title or the id"),
        ("Toy Story=6", r"--rate 'Toy Story=6': 6 is outside the ratings' scale 1-5"),
        ("Toy Story", r"write TITLE=RATING or ITEMID=RATING"),
        ("Toy Story=five", r"the rating 'five' is not a number"),
    ],
)
def test_recommend_refuses_a_bad_rate_in_one_line(latest_files, capsys, rate, message):
    ratings, movies = latest_files
    command = ["recommend", "--ratings", str(ratings), "--items", str(movies), "--rate", rate]
    assert main(command) == 2
    line = _one_line(capsys)
    assert line.startswith("cfcore recommend: ")
    assert re.search(message, line), line


def test_recommend_refuses_models_without_fold_in_and_missing_files(latest_files, capsys):
    ratings, _ = latest_files
    assert main(["recommend", "--ratings", str(ratings), "--rate", "1=5", "--model", "biases"]) == 2
    assert "--model biases cannot fold in a new user" in _one_line(capsys)
    assert main(["recommend", "--ratings", "missing.csv", "--rate", "1=5"]) == 2
    assert "--ratings missing.csv: no such file" in _one_line(capsys)


def test_recommend_from_movielens_100k(movielens, capsys):
    rates = ["--rate", "Toy Story=5", "--rate", "Star Wars=5", "--rate", "Scream (1996)=1"]
    command = ["recommend", "--ratings", "ml-100k", *rates, "--model", "residual-mixture-users"]
    assert main([*command, "-n", "5", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 5 and not {1, 50, 288} & {r["item"] for r in records}
    assert all(r["title"].endswith(")") and r["genres"] for r in records)
