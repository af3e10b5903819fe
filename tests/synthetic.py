"""Small synthetic rating matrices for tests (import: from synthetic import random_ratings)."""

from __future__ import annotations

import numpy as np


def random_ratings(rng: np.random.Generator, n: int, d: int, density: float) -> np.ndarray:
    """(n, d) integer ratings 1-5 with about 1 - density of them set to 0 (missing)."""
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) > density] = 0.0
    return X
