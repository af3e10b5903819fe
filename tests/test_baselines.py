"""The baselines against values computed by hand on tiny matrices, and against the normal
equations of the regularised biases solved directly."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore.models import BiasesModel, GlobalMean, ItemMean, UserMean, fit_biases

# users x items, 0 = missing: ratings (0,0)=5 (0,1)=3 (1,0)=4 (1,2)=1 (2,1)=2; item 3 unrated
SMALL = np.array(
    [
        [5.0, 3.0, 0.0, 0.0],
        [4.0, 0.0, 1.0, 0.0],
        [0.0, 2.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],  # a user with no ratings
    ]
)
ALL_ROWS, ALL_COLS = np.divmod(np.arange(16), 4)


def predictions(model, X=SMALL):
    return model.fit(sp.csr_matrix(X)).predict(ALL_ROWS, ALL_COLS).reshape(X.shape)


def test_global_mean_is_the_mean_training_rating():
    np.testing.assert_allclose(predictions(GlobalMean()), 15 / 5)


def test_user_mean_falls_back_to_the_global_mean_for_a_user_without_ratings():
    expected = np.repeat([[4.0], [2.5], [2.0], [3.0]], 4, axis=1)
    np.testing.assert_allclose(predictions(UserMean()), expected)


def test_item_mean_falls_back_to_the_global_mean_for_an_unrated_item():
    expected = np.tile([4.5, 2.5, 1.0, 3.0], (4, 1))
    np.testing.assert_allclose(predictions(ItemMean()), expected)


def test_dense_and_sparse_training_matrices_give_the_same_model():
    np.testing.assert_array_equal(
        UserMean().fit(SMALL).predict(ALL_ROWS, ALL_COLS),
        UserMean().fit(sp.csr_matrix(SMALL)).predict(ALL_ROWS, ALL_COLS),
    )


def test_biases_on_one_item_by_hand():
    # m = 3; minimise (1 - b0 - c)^2 + (-1 - b1 - c)^2 + b0^2 + b1^2 (reg_item = 0):
    # b0 = (1 - c) / 2, b1 = (-1 - c) / 2, and the item equation gives c = 0.
    biases = fit_biases(sp.csr_matrix([[4.0], [2.0]]), reg_user=1.0, reg_item=0.0)
    assert biases.mean == 3.0
    np.testing.assert_allclose(biases.user, [0.5, -0.5], atol=1e-9)
    np.testing.assert_allclose(biases.item, [0.0], atol=1e-9)


def test_unregularised_biases_are_the_two_way_additive_fit():
    # complete 2 x 2: prediction = row mean + column mean - grand mean
    X = np.array([[5.0, 3.0], [4.0, 1.0]])
    biases = fit_biases(X, reg_user=0.0, reg_item=0.0)
    fitted = biases.mean + biases.user[:, None] + biases.item[None, :]
    np.testing.assert_allclose(fitted, [[5.25, 2.75], [3.75, 1.25]], atol=1e-9)
    # the model clips 5.25 to the top of the training scale [1, 5]
    model = BiasesModel(0.0, 0.0).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(model.predict([0, 0, 1, 1], [0, 1, 0, 1]), [5, 2.75, 3.75, 1.25])


@pytest.mark.parametrize("density", [0.3, 1.0])  # dense ratings: where alternating creeps
def test_biases_solve_the_regularised_normal_equations(density):
    rng = np.random.default_rng(3)
    X = sp.random(30, 20, density=density, random_state=4, format="csr")
    X.data = rng.integers(1, 6, X.nnz).astype(float)
    reg_user, reg_item = 2.5, 4.0
    rows, cols = X.nonzero()
    values = np.asarray(X[rows, cols]).ravel()
    # least squares over theta = (b, c) with design rows e_u + e_i, ridge on each block
    design = np.zeros((X.nnz, 50))
    design[np.arange(X.nnz), rows] = 1.0
    design[np.arange(X.nnz), 30 + cols] = 1.0
    ridge = np.diag(np.r_[np.full(30, reg_user), np.full(20, reg_item)])
    theta = np.linalg.solve(design.T @ design + ridge, design.T @ (values - values.mean()))
    biases = fit_biases(X, reg_user, reg_item)
    np.testing.assert_allclose(biases.user, theta[:30], atol=1e-8)
    np.testing.assert_allclose(biases.item, theta[30:], atol=1e-8)


def test_biases_give_unseen_users_and_items_zero_offsets():
    model = BiasesModel().fit(sp.csr_matrix(SMALL))
    assert model.biases_.user[3] == 0.0 and model.biases_.item[3] == 0.0
    assert model.predict([3], [3])[0] == pytest.approx(3.0)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_biases_reject_a_bad_regularisation(bad):
    with pytest.raises(ValueError, match="reg_user"):
        fit_biases(SMALL, reg_user=bad)


def test_a_model_without_ratings_or_before_fit_says_so():
    with pytest.raises(ValueError, match="no ratings"):
        GlobalMean().fit(sp.csr_matrix((3, 3)))
    with pytest.raises(RuntimeError, match="call fit"):
        GlobalMean().predict([0], [0])
    with pytest.raises(ValueError, match="cols must lie in"):
        GlobalMean().fit(SMALL).predict([0], [4])
