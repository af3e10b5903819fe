"""Shared fixtures: the course files and MovieLens 100K, read through CFCORE_DATA."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from cfcore import data as datasets
from cfcore import fit

# CI runs the property tests on a fixed sequence of examples, so a run can be repeated
# exactly; locally every run draws new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CFCORE_REQUIRE_DATA") == "1":
    settings.load_profile("ci")


def require_data(available: bool, reason: str) -> None:
    """Skip when data is missing; fail instead when CI sets CFCORE_REQUIRE_DATA=1."""
    if available:
        return
    if os.environ.get("CFCORE_REQUIRE_DATA") == "1":
        pytest.fail(reason + " (CFCORE_REQUIRE_DATA=1)")
    pytest.skip(reason)


def course_or_skip():
    require_data(
        datasets.course_available(),
        "course files not found: set CFCORE_DATA to the folder holding netflix/",
    )


@pytest.fixture(scope="session")
def course():
    """Load a course matrix by name: course('toy_data')."""
    course_or_skip()
    cache: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = datasets.load_course(name)
        return cache[name].copy()

    return load


@pytest.fixture(scope="session")
def netflix_fit(course):
    """The course's Netflix fit: EM on netflix_incomplete (dense), K = 12, best of seeds 0-4.

    Fitted once per test session for every test that needs it (about 1 s).
    """
    return fit(course("netflix_incomplete"), 12, seeds=range(5), method="em")


def movielens_or_skip():
    require_data(
        datasets.movielens_100k_available(),
        "MovieLens 100K not found: set CFCORE_DATA to the folder holding ml-100k/",
    )


@pytest.fixture(scope="session")
def movielens() -> datasets.MovieLens100K:
    """MovieLens 100K from $CFCORE_DATA/ml-100k (never downloaded); shared, do not modify."""
    movielens_or_skip()
    return datasets.load_movielens_100k(download=False)


def pytest_collection_modifyitems(config, items):
    """Mark every test by the data it reads, so ``-m course`` or ``-m "not movielens"`` work."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "course" in fixtures:
            item.add_marker(pytest.mark.course)
        if "movielens" in fixtures:
            item.add_marker(pytest.mark.movielens)
