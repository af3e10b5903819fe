"""scikit-surprise wrapped as cfcore models (skipped when the compare extra is absent)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import random_ratings

from cfcore import evaluation as ev
from cfcore.data import Fold
from cfcore.models import BiasesModel
from cfcore.models.surprise import ALGORITHMS, SurpriseModel, surprise_available

needs_surprise = pytest.mark.skipif(
    not surprise_available(),
    reason="scikit-surprise is not installed (optional: pip install -e '.[compare]')",
)


def training_matrix():
    X = random_ratings(np.random.default_rng(0), 40, 25, 0.5)
    X[7], X[:, 4] = 0.0, 0.0  # a user and an item without training ratings
    return sp.csr_matrix(X)


@needs_surprise
def test_converged_baselineonly_equals_cfcore_biases():
    X = training_matrix()
    options = {"method": "als", "n_epochs": 300, "reg_u": 15, "reg_i": 10}
    surprise = SurpriseModel("baselineonly", bsl_options=options).fit(X)
    ours = BiasesModel(15, 10).fit(X)
    rows, cols = np.divmod(np.arange(40 * 25), 25)
    known = (rows != 7) & (cols != 4)
    np.testing.assert_allclose(
        surprise.predict(rows[known], cols[known]),
        ours.predict(rows[known], cols[known]),
        atol=1e-6,
    )


@needs_surprise
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_predicts_finite_clipped_repeatable_ratings(algorithm):
    X = training_matrix()
    rows, cols = np.divmod(np.arange(40 * 25), 25)
    first = SurpriseModel(algorithm).fit(X).predict(rows, cols)
    second = SurpriseModel(algorithm).fit(X).predict(rows, cols)
    np.testing.assert_array_equal(first, second)
    assert np.isfinite(first).all() and first.min() >= 1.0 and first.max() <= 5.0


@needs_surprise
def test_surprise_models_run_in_the_evaluation_on_the_same_folds():
    X = training_matrix()
    rows, cols = X.nonzero()
    hidden = np.arange(rows.size) % 5 == 0
    train = X.toarray()
    train[rows[hidden], cols[hidden]] = 0.0
    fold = Fold.from_arrays("f", train, (rows[hidden], cols[hidden], X.data[hidden]))
    (result,) = ev.evaluate([SurpriseModel("svd")], [fold])
    assert result.model == "surprise-svd" and 0.0 < result.rmse_mean < 2.5


def test_an_unknown_algorithm_is_named():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        SurpriseModel("slopeone")
