"""make_ratings with long tails: item popularity and user activity follow Zipf-like laws,
the expected number of ratings stays density x cells, and the matrix is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.data import make_ratings
from cfcore.data.synthetic import (
    _bands,
    _skewed_positions,
    propensity_scale,
    zipf_propensities,
)


def slope_by_rank(counts: np.ndarray, propensity: np.ndarray, ranks: slice) -> float:
    """The log-log slope of counts against the planted rank (+1), over ``ranks``."""
    order = np.argsort(-propensity, kind="stable")[ranks]
    rank = np.arange(len(propensity))[ranks] + 1.0
    return float(np.polyfit(np.log(rank), np.log(counts[order]), 1)[0])


@pytest.mark.parametrize("s", [0.6, 1.0, 1.4])
def test_item_counts_fall_with_rank_as_the_exponent_says(s):
    n, d, density = 20_000, 2_000, 0.0012  # no probability reaches the cap of 1
    data, truth = make_ratings(n, d, 3, density, seed=1, item_popularity=s)
    counts = np.bincount(data.matrix.indices, minlength=d)
    assert truth.propensity_scale == pytest.approx(density)  # nothing capped
    assert slope_by_rank(counts, truth.item_propensity, slice(0, 200)) == pytest.approx(
        -s, abs=0.06
    )
    expected = density * n * d
    assert abs(data.n_ratings - expected) < 5 * np.sqrt(expected)
    np.testing.assert_allclose(truth.user_propensity, 1.0)  # users stay uniform


def test_user_activity_gives_most_users_one_or_two_ratings():
    n, d = 16_554, 10_506
    density = 100_000 / (n * d)
    data, truth = make_ratings(n, d, 5, density, seed=0, item_popularity=1.0, user_activity=1.0)
    counts = np.diff(data.matrix.indptr)
    assert abs(data.n_ratings - 100_000) < 5 * np.sqrt(100_000)  # capped ones given back
    assert truth.propensity_scale > density  # the most active users hit the cap
    assert np.median(counts) <= 2 and counts.max() > 1_000
    assert np.mean((counts >= 1) & (counts <= 2)) > 0.4
    items = np.bincount(data.matrix.indices, minlength=d)
    assert items.max() > 50 * max(np.median(items), 1)
    assert data.matrix.has_canonical_format


def test_the_scale_keeps_the_expected_number_of_ratings():
    rng = np.random.default_rng(3)
    user, item = rng.pareto(1.5, 300) + 0.01, rng.pareto(1.0, 200) + 0.01
    user, item = user / user.mean(), item / item.mean()
    for density in (0.001, 0.05, 0.4, 0.9):
        c = propensity_scale(user, item, density)
        expected = np.minimum(1.0, c * np.outer(user, item)).sum()
        assert expected == pytest.approx(density * 300 * 200, rel=1e-9)
    assert propensity_scale(user, item, 1.0) * user.min() * item.min() >= 1.0


def test_skewed_ratings_are_seeded_and_uniform_ones_unchanged():
    a, _ = make_ratings(500, 80, 3, 0.05, seed=4, item_popularity=1.2, user_activity=0.7)
    b, _ = make_ratings(500, 80, 3, 0.05, seed=4, item_popularity=1.2, user_activity=0.7)
    c, _ = make_ratings(500, 80, 3, 0.05, seed=5, item_popularity=1.2, user_activity=0.7)
    assert (a.matrix != b.matrix).nnz == 0 and (a.matrix != c.matrix).nnz > 0
    plain, truth = make_ratings(500, 80, 3, 0.05, seed=4)
    zero, _ = make_ratings(500, 80, 3, 0.05, seed=4, item_popularity=0.0, user_activity=None)
    assert (plain.matrix != zero.matrix).nnz == 0 and truth.item_propensity is None
    assert set(np.unique(a.matrix.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_every_entry_is_drawn_with_its_own_probability():
    rng = np.random.default_rng(0)
    user = zipf_propensities(rng, 60, 1.0)
    item = zipf_propensities(rng, 40, 1.5)
    c = propensity_scale(user, item, 0.1)
    p = np.minimum(1.0, c * np.outer(user, item))
    assert (p == 1.0).any() and (p < 0.01).any()  # capped cells and rare ones
    replicates = 400
    hits = np.zeros_like(p)
    for _ in range(replicates):
        rows, cols = _skewed_positions(rng, user, _bands(item), item, c)
        assert (np.diff(rows * 40 + cols) > 0).all()  # row-major, no entry twice
        hits[rows, cols] += 1
    sd = np.sqrt(p * (1 - p) / replicates) + 1e-3
    assert (np.abs(hits / replicates - p) < 5 * sd).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"item_popularity": -1.0}, "item_popularity must be a finite number >= 0"),
        ({"user_activity": float("nan")}, "user_activity must be a finite number >= 0"),
        ({"item_popularity": 20.0}, "item_popularity must be at most 8"),
    ],
)
def test_bad_exponents_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_ratings(10, 5, 2, 0.5, **kwargs)
