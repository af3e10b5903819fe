"""The course's published results, reproduced from its files (CFCORE_DATA/netflix)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _solutions import parse

from cfcore import common, em, fit, select_k
from cfcore import data as datasets

SEEDS = range(5)


@pytest.mark.parametrize(
    ("K", "expected"),
    [
        (1, 5462.297452340002),
        (2, 1684.9079502962372),
        (3, 1329.59486715443),
        (4, 1035.499826539466),
    ],
)
def test_kmeans_best_cost_on_toy_data(course, K, expected):
    result = fit(course("toy_data"), K, seeds=SEEDS, method="kmeans")
    assert result.cost == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("K", "log_likelihood", "bic"),
    [
        (1, -1307.2234317600937, -1315.5057),
        (2, -1175.7146293666792, -1195.0397),
        (3, -1138.8908996872674, -1169.2589347355097),
        (4, -1138.601175699485, -1180.0121),
    ],
)
def test_naive_em_best_log_likelihood_and_bic_on_toy_data(course, K, log_likelihood, bic):
    result = fit(course("toy_data"), K, seeds=SEEDS, method="naive_em")
    assert result.log_likelihood == pytest.approx(log_likelihood, rel=1e-10)
    # the course prints three BICs to 4 decimals; its K=1 value is 7.7e-5 off ln L - 1.5 ln 250
    assert result.bic == pytest.approx(bic, abs=1e-4)


def test_bic_selects_three_components_on_toy_data(course):
    selection = select_k(course("toy_data"), range(1, 5), seeds=SEEDS, method="naive_em")
    assert selection.best_k == 3
    assert selection.best.bic == pytest.approx(-1169.2589347355097, rel=1e-10)


@pytest.fixture(scope="module")
def solutions(course):
    return parse(datasets.course_file("test_solutions"))


def assert_close(actual, expected):
    """The solutions file prints 8 decimals (or 9 significant digits)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-8)


def test_init_matches_the_solutions_file(course, solutions):
    X = course("test_incomplete")
    np.testing.assert_array_equal(X, solutions["Input"]["X"])
    mixture, post = common.init(X, 4, seed=0)
    np.testing.assert_array_equal(mixture.mu, solutions["Input"]["Mu"])
    assert_close(mixture.var, solutions["Input"]["Var"])
    assert_close(mixture.p, solutions["Input"]["P"])
    np.testing.assert_array_equal(post, np.full((20, 4), 0.25))


def test_init_draws_the_same_rows_as_the_global_seed(course):
    X = course("netflix_incomplete")
    np.random.seed(3)  # noqa: NPY002 (the course's own call, which init must equal)
    rows = np.random.choice(X.shape[0], 12, replace=False)  # noqa: NPY002
    np.testing.assert_array_equal(common.init(X, 12, seed=3)[0].mu, X[rows])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_em_steps_match_the_solutions_file(course, solutions, sparse):
    X = course("test_incomplete")
    data = sp.csr_matrix(X) if sparse else X
    mixture, post = common.init(data, 4, seed=0)

    post, ll = em.estep(data, mixture)
    assert_close(post, solutions["After first E-step"]["post"])
    assert ll == pytest.approx(-152.16319226209848, rel=1e-10)

    updated = em.mstep(data, post, mixture)
    step = solutions["After first M-step"]
    for actual, name in zip(updated, ("Mu", "Var", "P"), strict=True):
        assert_close(actual, step[name])

    fitted, post, ll = em.run(data, *common.init(data, 4, seed=0))
    final = solutions["After a run"]
    for actual, name in zip(fitted, ("Mu", "Var", "P"), strict=True):
        assert_close(actual, final[name])
    assert_close(post, final["post"])
    assert ll == pytest.approx(-84.98451993042474, rel=1e-10)

    filled = em.fill_matrix(X, fitted)
    assert_close(filled, final["X_pred"])
    gold = course("test_complete")
    np.testing.assert_array_equal(gold, final["X_gold"])
    assert common.rmse(gold, filled) == pytest.approx(0.3152301205749675, rel=1e-10)


@pytest.fixture(scope="module")
def netflix_fits(course, netflix_fit):
    X = course("netflix_incomplete")
    fits = {
        # init="course": on sparse input fit's default is the real-data start
        (K, fmt): fit(
            sp.csr_matrix(X) if fmt == "sparse" else X, K, seeds=SEEDS, method="em", init="course"
        )
        for K, fmt in ((1, "dense"), (1, "sparse"), (12, "sparse"))
    }
    return {**fits, (12, "dense"): netflix_fit}


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
@pytest.mark.parametrize(
    ("K", "log_likelihood", "seed"), [(1, -1521060.9539852454, 0), (12, -1390234.422346942, 1)]
)
def test_em_on_netflix_matches_the_course(netflix_fits, fmt, K, log_likelihood, seed):
    result = netflix_fits[K, fmt]
    assert result.log_likelihood == pytest.approx(log_likelihood, rel=1e-10)
    assert result.seed == seed


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_filled_netflix_matrix_has_the_course_rmse(course, netflix_fits, fmt):
    X = course("netflix_incomplete")
    mixture = netflix_fits[12, fmt].mixture
    if fmt == "dense":
        filled = em.fill_matrix(X, mixture)
    else:
        # scale=None: the course's fill, unclipped (a sparse X is clipped by default)
        filled = em.fill_matrix(sp.csr_matrix(X), mixture, pairs="all", scale=None)
    assert common.rmse(course("netflix_complete"), filled) == pytest.approx(
        0.48049085054006835, rel=1e-10
    )


def test_sparse_netflix_fit_equals_dense_fit(netflix_fits):
    dense, sparse = netflix_fits[12, "dense"], netflix_fits[12, "sparse"]
    for a, b in zip(dense.mixture, sparse.mixture, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sparse.post, dense.post, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sparse.trace, dense.trace, rtol=1e-8)
