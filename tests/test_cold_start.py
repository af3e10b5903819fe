"""Cold-start protocols and the RMSE by support: the splits hold out what they say, the
breakdown matches a hand computation, empty bins are None, and the CLI runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore import evaluation as ev
from cfcore.cli import main
from cfcore.data import (
    PROTOCOLS,
    Fold,
    RatingsData,
    cold_items,
    cold_users,
    load_dataset,
    load_folds,
    load_ratings,
)

N_USERS, N_ITEMS = 40, 30


def ratings(seed=0, density=0.4) -> RatingsData:
    """A random N_USERS x N_ITEMS matrix of 1-5 stars with string ids, titles and genres;
    item 0 is never rated, so no split can choose it."""
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 6, size=(N_USERS, N_ITEMS)) * (rng.random((N_USERS, N_ITEMS)) < density)
    dense[:, 0] = 0
    return RatingsData.from_dense(
        dense.astype(float),
        scale=(1, 5),
        user_ids=np.array([f"u{k}" for k in range(N_USERS)]),
        item_ids=np.array([f"i{k}" for k in range(N_ITEMS)]),
        titles=np.array([f"movie {k}" for k in range(N_ITEMS)]),
        genres=np.arange(N_ITEMS)[:, None] % 2 == 0,
        genre_names=["even"],
        name="toy",
    )


def assert_keeps_metadata(fold: Fold, data: RatingsData) -> None:
    for part in fold:
        assert part.shape == data.shape and part.scale == data.scale
        np.testing.assert_array_equal(part.user_ids, data.user_ids)
        np.testing.assert_array_equal(part.item_ids, data.item_ids)
        np.testing.assert_array_equal(part.titles, data.titles)
        np.testing.assert_array_equal(part.genres, data.genres)
    np.testing.assert_array_equal((fold.train.matrix + fold.test.matrix).toarray(), data.to_dense())


# ------------------------------------------------------------------------- cold items


def cold_set(fold: Fold) -> set[int]:
    return set(np.unique(fold.cols).tolist())


def test_cold_items_hold_out_every_rating_of_the_chosen_items():
    data = ratings()
    dense = data.to_dense()
    folds = cold_items(data, fraction=0.2)
    assert [fold.name for fold in folds] == [f"cold-items-{s}" for s in range(5)]
    for fold in folds:
        cold = sorted(cold_set(fold))
        assert len(cold) == round(0.2 * (N_ITEMS - 1)) == 6  # 29 rated items
        assert 0 not in cold
        test, train = fold.test.to_dense(), fold.train.to_dense()
        np.testing.assert_array_equal(test[:, cold], dense[:, cold])  # every rating
        assert not train[:, cold].any()  # and none in train
        warm = np.setdiff1d(np.arange(N_ITEMS), cold)
        np.testing.assert_array_equal(train[:, warm], dense[:, warm])
        assert_keeps_metadata(fold, data)


def test_cold_items_repeat_by_seed_and_differ_across_seeds():
    data = ratings()
    first, again = cold_items(data, seeds=[7, 8]), cold_items(data, seeds=[7, 8])
    assert [cold_set(f) for f in first] == [cold_set(f) for f in again]
    sets = [frozenset(cold_set(f)) for f in cold_items(data)]
    assert len(set(sets)) == 5
    assert all(len(s) == 3 for s in sets)  # round(0.1 * 29)


def test_at_least_one_item_is_cold_and_one_stays_warm():
    data = ratings()
    assert len(cold_set(cold_items(data, fraction=0.001, seeds=[0])[0])) == 1
    two = RatingsData.from_dense(np.array([[4.0, 2.0, 0.0]]), scale=(1, 5))
    (fold,) = cold_items(two, fraction=0.9, seeds=[0])
    assert fold.n_test == 1 and fold.train.n_ratings == 1


# ------------------------------------------------------------------------- cold users


def test_cold_users_keep_exactly_their_profile():
    data = ratings()
    counts = np.diff(data.matrix.indptr)
    eligible = np.flatnonzero(counts > 8)
    dense = data.to_dense()
    for fold in cold_users(data, fraction=0.25, profile=8, seeds=range(3)):
        cold = np.unique(fold.rows)
        assert cold.size == int(np.floor(0.25 * eligible.size + 0.5))  # half rounds up
        assert set(cold) <= set(eligible)
        train_counts = np.diff(fold.train.matrix.indptr)
        assert (train_counts[cold] == 8).all()
        np.testing.assert_array_equal(np.diff(fold.test.matrix.indptr)[cold], counts[cold] - 8)
        warm = np.setdiff1d(np.arange(N_USERS), cold)
        np.testing.assert_array_equal(fold.train.to_dense()[warm], dense[warm])
        assert_keeps_metadata(fold, data)


def test_cold_users_repeat_by_seed_and_differ_across_seeds():
    data = ratings()
    first, again = cold_users(data, seeds=[3]), cold_users(data, seeds=[3])
    np.testing.assert_array_equal(first[0].train.matrix.toarray(), again[0].train.matrix.toarray())
    folds = cold_users(data, fraction=0.2)
    assert [f.name for f in folds] == [f"cold-users-{s}" for s in range(5)]
    assert len({frozenset(np.unique(f.rows).tolist()) for f in folds}) == 5


def test_profile_zero_holds_out_every_rating_of_the_chosen_users():
    data = ratings()
    (fold,) = cold_users(data, fraction=0.1, profile=0, seeds=[1])
    cold = np.unique(fold.rows)
    assert cold.size == 4
    assert (np.diff(fold.train.matrix.indptr)[cold] == 0).all()


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, True, "0.1", None])
def test_a_bad_fraction_is_named(fraction):
    for split in (cold_items, cold_users):
        with pytest.raises(ValueError, match="fraction must be a share strictly between 0 and 1"):
            split(ratings(), fraction=fraction)


def test_bad_profiles_and_seeds_are_named():
    data = ratings()
    with pytest.raises(ValueError, match="profile must be an integer >= 0, got -1"):
        cold_users(data, profile=-1)
    with pytest.raises(TypeError, match="profile must be an integer"):
        cold_users(data, profile=2.5)
    most = int(np.diff(data.matrix.indptr).max())
    with pytest.raises(ValueError, match=f"no user has more than profile={most} ratings"):
        cold_users(data, profile=most)
    with pytest.raises(ValueError, match="seeds must be distinct"):
        cold_items(data, seeds=[1, 1])
    with pytest.raises(TypeError, match="data must be a RatingsData"):
        cold_items(data.to_dense())
    one_item = RatingsData.from_dense(np.array([[4.0, 0.0], [3.0, 0.0]]), scale=(1, 5))
    with pytest.raises(ValueError, match="at least 2 rated items"):
        cold_items(one_item)


def test_a_cold_user_fold_without_training_ratings_is_refused():
    lonely = RatingsData.from_dense(np.array([[4.0, 3.0]]), scale=(1, 5))
    with pytest.raises(ValueError, match="leaves no training rating; raise profile"):
        cold_users(lonely, profile=0)


# ------------------------------------------------------------------------- the breakdown


class Constant:
    """Predicts 3 stars for every pair."""

    name = "three"

    def fit(self, train):
        return self

    def predict(self, rows, cols):
        return np.full(len(rows), 3.0)


def support_train() -> sp.csr_matrix:
    """23 users x 25 items whose training counts fall in every bin.

    items: 0 has 22 ratings (users 0-21), 1 has 7 (users 0-6), 2 has 1 (user 0), 3 none,
    4-10 have 2 (users 0, 1), 11-24 have 1 (user 0). users: 0 has 24, 1 has 9, 2-6 have 2,
    7-21 have 1, 22 none.
    """
    train = np.zeros((23, 25))
    train[:22, 0] = train[:7, 1] = train[0, 2] = 3.0
    train[0, 4:] = train[1, 4:11] = 3.0
    return sp.csr_matrix(train)


#: (user, item, rating): squared error against 3 stars; item bin; user bin
FOLD_A = [(22, 0, 5.0), (0, 3, 1.0), (1, 2, 4.0)]  # 4 >20 0; 4 0 >20; 1 1-5 6-20
FOLD_B = [(2, 2, 3.0), (10, 1, 1.0), (5, 3, 4.0)]  # 0 1-5 1-5; 4 6-20 1-5; 1 0 1-5


def support_fold(name, triples) -> Fold:
    rows, cols, values = (np.array(column) for column in zip(*triples, strict=True))
    return Fold.from_arrays(name, support_train(), (rows, cols, values), scale=(1, 5))


def test_the_support_bins_by_hand():
    assert ev.SUPPORT_LABELS == ("0", "1-5", "6-20", ">20")
    from cfcore.evaluation.support import support_bin

    counts = [0, 1, 5, 6, 20, 21, 400]
    np.testing.assert_array_equal(support_bin(counts), [0, 1, 1, 2, 2, 3, 3])


def test_the_breakdown_pools_squared_errors_over_folds():
    (result,) = ev.evaluate([Constant()], [support_fold("a", FOLD_A), support_fold("b", FOLD_B)])
    assert result.n_by_item_support == {"0": 2, "1-5": 2, "6-20": 1, ">20": 1}
    assert result.rmse_by_item_support == pytest.approx(
        {"0": np.sqrt((4 + 1) / 2), "1-5": np.sqrt((1 + 0) / 2), "6-20": 2.0, ">20": 2.0}
    )
    assert result.n_by_user_support == {"0": 1, "1-5": 3, "6-20": 1, ">20": 1}
    assert result.rmse_by_user_support == pytest.approx(
        {"0": 2.0, "1-5": np.sqrt((0 + 4 + 1) / 3), "6-20": 1.0, ">20": 2.0}
    )
    # pooled, not the mean of the folds' bins (item bin "0": 2 in fold a, 1 in fold b)
    assert result.rmse_by_item_support["0"] != pytest.approx(1.5)


def test_an_empty_bin_is_none_in_the_result_the_json_and_the_table():
    (result,) = ev.evaluate([Constant()], [support_fold("a", FOLD_A[:1])])
    assert result.rmse_by_item_support == {"0": None, "1-5": None, "6-20": None, ">20": 2.0}
    assert result.n_by_user_support == {"0": 1, "1-5": 0, "6-20": 0, ">20": 0}
    (record,) = ev.as_records([result])
    assert record["rmse_by_user_support"] == {"0": 2.0, "1-5": None, "6-20": None, ">20": None}
    assert "NaN" not in json.dumps(record)
    table = ev.format_table([result])
    item_block = table.split("\n\n")[1].splitlines()
    assert item_block[2].split() == ["test", "ratings", "0", "0", "0", "1"]
    assert item_block[4].split() == ["three", "-", "-", "-", "2.0000"]


def test_a_result_built_by_hand_has_every_bin_empty():
    result = ev.Result("nothing")
    assert result.rmse_by_item_support == dict.fromkeys(ev.SUPPORT_LABELS)
    assert result.n_by_user_support == dict.fromkeys(ev.SUPPORT_LABELS, 0)


# ------------------------------------------------------------------------- loading


def write_ratings_file(path) -> None:
    rng = np.random.default_rng(4)
    lines = ["user,item,rating"]
    for user in range(N_USERS):
        for item in np.flatnonzero(rng.random(N_ITEMS) < 0.5):
            lines.append(f"u{user},i{item},{rng.integers(1, 6)}")
    path.write_text("\n".join(lines) + "\n")


def test_load_folds_splits_a_file_by_the_protocol(tmp_path):
    path = tmp_path / "ratings.csv"
    write_ratings_file(path)
    data = load_dataset(str(path))
    assert data.shape == load_ratings(path).shape
    folds = load_folds(str(path), ["cold-users-2"], protocol="cold-users")
    expected = cold_users(data, seeds=[2])[0]
    np.testing.assert_array_equal(folds[0].test.matrix.toarray(), expected.test.matrix.toarray())
    assert PROTOCOLS == ("folds", "cold-items", "cold-users")
    with pytest.raises(ValueError, match="protocol must be one of folds, cold-items, cold-users"):
        load_folds(str(path), protocol="cold")
    with pytest.raises(ValueError, match=r"choose from \['cold-items-0'"):
        load_folds(str(path), ["f1"], protocol="cold-items")
    with pytest.raises(FileNotFoundError, match="there is no file .*nope.csv"):
        load_dataset(str(tmp_path / "nope.csv"))


def test_the_course_ratings_are_netflix_incomplete(course):
    data = load_dataset("course")
    np.testing.assert_array_equal(data.to_dense(), course("netflix_incomplete"))
    assert data.scale == (1.0, 5.0)


def test_movielens_cold_items_keep_titles(movielens):
    (fold,) = load_folds("ml-100k", ["cold-items-0"], protocol="cold-items")
    assert fold.train.n_ratings + fold.n_test == 100_000
    assert len(cold_set(fold)) == round(0.1 * 1682)
    np.testing.assert_array_equal(fold.test.titles, movielens.ratings.titles)


# ------------------------------------------------------------------------- the command line

RECORD_KEYS = {
    "model",
    "rmse_mean",
    "rmse_folds",
    "mae_mean",
    "fit_seconds",
    "rmse_by_item_support",
    "n_by_item_support",
    "rmse_by_user_support",
    "n_by_user_support",
}


def test_evaluate_cold_items_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    write_ratings_file(path)
    args = ["evaluate", "--dataset", str(path), "--protocol", "cold-items"]
    assert main([*args, "--models", "global-mean,item-mean", "--json"]) == 0
    captured = capsys.readouterr()
    assert "no training ratings" not in captured.err  # cold on purpose: no warning
    global_mean, item_mean = json.loads(captured.out)
    assert set(global_mean) == RECORD_KEYS and global_mean["model"] == "global-mean"
    assert len(global_mean["rmse_folds"]) == 5
    # every test rating belongs to a cold item: bin "0", pooled over the five folds
    folds = cold_items(load_ratings(path))
    n_test = sum(fold.n_test for fold in folds)
    assert global_mean["n_by_item_support"] == {"0": n_test, "1-5": 0, "6-20": 0, ">20": 0}
    assert global_mean["rmse_by_item_support"]["1-5"] is None
    errors = np.concatenate([fold.values - fold.train.matrix.data.mean() for fold in folds])
    expected = float(np.sqrt(np.mean(errors**2)))
    assert global_mean["rmse_by_item_support"]["0"] == pytest.approx(expected, abs=5e-5)
    # an item without training ratings gets the global mean from item-mean too
    assert item_mean["rmse_by_item_support"] == global_mean["rmse_by_item_support"]
    assert sum(global_mean["n_by_user_support"].values()) == n_test


def test_evaluate_picks_folds_of_a_cold_protocol_and_prints_both_blocks(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    write_ratings_file(path)
    args = ["evaluate", "--dataset", str(path), "--protocol", "cold-users", "--models", "biases"]
    assert main([*args, "--folds", "cold-users-1,cold-users-3"]) == 0
    folds_block, items_block, users_block = capsys.readouterr().out.split("\n\n")
    assert folds_block.splitlines()[0].split()[3:5] == ["cold-users-1", "cold-users-3"]
    assert items_block.startswith("RMSE by the item's number of training ratings")
    assert users_block.startswith("RMSE by the user's number of training ratings")
    # every cold user keeps a profile of 5 training ratings: all in bin 1-5
    counts = users_block.splitlines()[2].split()[2:]
    assert counts[0] == counts[2] == counts[3] == "0" and counts[1] != "0"


def test_a_bad_protocol_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--dataset", "ml-100k", "--protocol", "cold-movies"])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "--protocol: invalid choice: 'cold-movies'" in lines[0]
    assert "'cold-items'" in lines[0]
