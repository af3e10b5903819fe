"""Small synthetic ratings for tests (import: from synthetic import random_ratings)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from cfcore.data import RatingsData


def random_ratings(rng: np.random.Generator, n: int, d: int, density: float) -> np.ndarray:
    """(n, d) integer ratings 1-5 with about 1 - density of them set to 0 (missing)."""
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) > density] = 0.0
    return X


def titled_ratings(n_users: int = 80, n_items: int = 10, seed: int = 3) -> RatingsData:
    """Random 1-5 ratings (60% observed) of films with ids 101.., titles and three genres."""
    X = random_ratings(np.random.default_rng(seed), n_users, n_items, 0.6)
    titles = [f"Film {chr(65 + i)} ({1990 + i})" for i in range(n_items)]
    genres = np.random.default_rng(seed + 1).random((n_items, 3)) < 0.5
    genres[:, 0] = True  # every film is a drama, so every genre is rated
    return RatingsData.from_dense(
        X,
        item_ids=np.arange(101, 101 + n_items),
        titles=titles,
        genres=genres,
        genre_names=["Drama", "Comedy", "Horror"],
        scale=(1, 5),
        name="small",
    )


@st.composite
def incomplete_ratings(draw):
    """(X, K, seed): ratings 1-5 with a random share missing; some users may have none."""
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 12))
    K = draw(st.integers(1, min(n, 5)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = random_ratings(rng, n, d, draw(st.floats(0.2, 1.0)))
    assume(np.unique(X, axis=0).shape[0] > 1)  # init needs two distinct rows
    return X, K, draw(st.integers(0, 100))
