"""MovieLens 100K in time order (movielens_100k_stream): aligned with the loader's indices,
every rating once, timestamps non-decreasing, ties in a fixed order, files checksum-checked."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore import data as datasets
from cfcore.data import movielens as movielens_module


@pytest.fixture(scope="module")
def stream(movielens):
    return datasets.movielens_100k_stream(movielens.path, download=False)


def test_the_stream_is_every_rating_once_at_the_loaders_indices(movielens, stream):
    rows, cols, values, timestamps = stream
    assert len(values) == 100_000 and rows.dtype == cols.dtype == np.intp
    matrix = sp.csr_matrix((values, (rows, cols)), shape=movielens.ratings.shape)
    assert matrix.nnz == 100_000  # no (user, item) pair twice
    assert (matrix != movielens.ratings.matrix).nnz == 0


def test_the_stream_is_in_time_order_with_ties_by_row_then_column(stream):
    order = np.lexsort((stream.cols, stream.rows, stream.timestamps))
    np.testing.assert_array_equal(order, np.arange(len(order)))
    assert (np.diff(stream.timestamps) >= 0).all()
    # u.data's first line: user 196 gave item 242 three stars at 881250949
    (at,) = np.flatnonzero((stream.rows == 195) & (stream.cols == 241))
    assert (stream.values[at], stream.timestamps[at]) == (3.0, 881250949)
    # the earliest rating of the data set
    assert stream.timestamps[0] == 874724710 and stream.rows[0] == 258


def test_a_prefix_of_the_stream_is_a_ratings_matrix_of_the_full_shape(movielens, stream):
    half = len(stream.values) // 2
    first = sp.csr_matrix(
        (stream.values[:half], (stream.rows[:half], stream.cols[:half])),
        shape=movielens.ratings.shape,
    )
    assert first.nnz == half
    assert 0 < (first.getnnz(axis=1) > 0).sum() < movielens.ratings.n_users


def test_a_changed_u_data_fails_its_checksum(movielens, tmp_path):
    for name in movielens_module.ML100K_FILES:  # every file present, u.data altered
        (tmp_path / name).write_bytes(b"")
    for name in ("README", "u.item", "u.genre"):
        shutil.copy(movielens.path / name, tmp_path / name)
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n")
    with pytest.raises(ValueError, match=r"u\.data does not match its pinned checksum"):
        datasets.movielens_100k_stream(tmp_path, download=False)


def test_without_the_files_the_error_says_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="MovieLens 100K is not in"):
        datasets.movielens_100k_stream(tmp_path / "nothing", download=False)
