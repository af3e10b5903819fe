"""nbval runs every notebook; notebooks that read data need it under $CFCORE_DATA.

Without the data such a notebook is skipped with the reason shown in the test summary;
CI sets CFCORE_REQUIRE_DATA=1, which turns the skip into a failure.
"""

from __future__ import annotations

import os

import pytest

from cfcore.data import course_available, movielens_100k_available

#: which data each notebook reads (notebooks not listed read none)
NEEDS = {
    "03_em_missing_ratings.ipynb": ["movielens"],
    "04_choosing_k.ipynb": ["movielens"],
    "05_reproducing_the_course.ipynb": ["course"],
    "06_evaluation.ipynb": ["course", "movielens"],
    "07_interactive.ipynb": ["movielens"],
    "08_hybrid.ipynb": ["movielens"],
    "09_incremental.ipynb": ["movielens"],
    "10_beyond_the_course.ipynb": ["movielens"],
}

AVAILABLE = {
    "course": course_available,
    "movielens": movielens_100k_available,
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        missing = [name for name in NEEDS.get(item.path.name, []) if not AVAILABLE[name]()]
        if not missing:
            continue
        reason = f"{item.path.name} needs the {', '.join(missing)} data: set CFCORE_DATA"
        if os.environ.get("CFCORE_REQUIRE_DATA") == "1":
            raise pytest.UsageError(reason + " (CFCORE_REQUIRE_DATA=1)")
        item.add_marker(pytest.mark.skip(reason=reason))
