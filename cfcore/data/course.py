"""The course's files (MITx 6.86x, "Collaborative Filtering via Gaussian Mixtures"),
sha256-checked, and the course's matrix as a held-out fold.

The files are never shipped: they are read from ``$CFCORE_DATA/netflix`` (or a folder you
name). 0 marks a missing rating in the course's dense matrices."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .checksums import data_home, verified
from .ratings import RatingsData
from .splits import Fold

#: the course's ratings are whole stars 1-5; 0 marks a missing one
COURSE_SCALE = (1.0, 5.0)

#: sha256 of the course's text files (MITx 6.86x, "Collaborative Filtering via Gaussian Mixtures")
COURSE_FILES = {
    "netflix_incomplete": "7a81ae26f41725a5deeec079dceec27d06949e1b82795803d42ec68c0e00408c",
    "netflix_complete": "30c27318115235e50d6124ecbead6241d2376fc7c2116106834bf558d175dc35",
    "toy_data": "a558ed25342d216d432fc8fa80870ef5fca43f45aeebd9350c32529b39d492d7",
    "test_incomplete": "bef9922ca72b321f270c1c8e25e9b54bdac16102d8f1fdb8fd0539c732c3c37f",
    "test_complete": "0a5c494e5faf287544bae4af069d7557f50953116e64b39a80ec4be200e1772e",
    "test_solutions": "14ddb974dc3610dbdc50610f84d1c8534c32de5ac4d36816a463e63943a2234b",
}


def course_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the course files: data_dir, else ``$CFCORE_DATA/netflix``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    home = data_home()
    if home is None:
        raise FileNotFoundError(
            "the course files were not found: set CFCORE_DATA to a folder whose netflix/ "
            "subfolder holds netflix_incomplete.txt and the other course files, or pass data_dir"
        )
    return home / "netflix"


def course_file(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of a course file after its checksum was verified."""
    if name not in COURSE_FILES:
        raise ValueError(f"name must be one of {sorted(COURSE_FILES)}, got {name!r}")
    path = course_dir(data_dir) / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: put the course's {name}.txt there (set CFCORE_DATA to the "
            "folder that holds netflix/, or pass data_dir)"
        )
    return verified(path, COURSE_FILES[name])


def load_course(name: str, data_dir: str | os.PathLike | None = None) -> np.ndarray:
    """One of the course's matrices as a float array (0 = missing in the ratings).

    name: netflix_incomplete (1200, 1200), netflix_complete (1200, 1200), toy_data (250, 2),
    test_incomplete (20, 5) or test_complete (20, 5).
    """
    if name == "test_solutions":
        raise ValueError(
            "test_solutions is a text report, not a matrix; open course_file() instead"
        )
    return np.loadtxt(course_file(name, data_dir))


def course_available(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether every course matrix is present (checksums are checked when loading)."""
    try:
        folder = course_dir(data_dir)
    except FileNotFoundError:
        return False
    return all((folder / f"{name}.txt").is_file() for name in COURSE_FILES)


def course_held_out(incomplete: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(n, d) bool: the entries missing from incomplete that gold holds a rating for.

    The course's netflix_complete is 0 at 2,429 entries netflix_incomplete also misses:
    there is no rating to judge a prediction against there, so they are not held out.
    """
    if incomplete.shape != gold.shape:
        raise ValueError(f"the course matrices differ in shape: {incomplete.shape}, {gold.shape}")
    return (incomplete == 0) & (gold != 0)


def course_fold(data_dir=None) -> Fold:
    """The course's matrix as one fold: train = netflix_incomplete (0 = missing), test =
    every entry missing from it, judged against netflix_complete where that holds a rating."""
    incomplete = load_course("netflix_incomplete", data_dir)
    gold = load_course("netflix_complete", data_dir)
    held_out = course_held_out(incomplete, gold)
    train = RatingsData.from_dense(incomplete, scale=COURSE_SCALE, name="netflix_incomplete")
    test = RatingsData.from_dense(
        np.where(held_out, gold, 0.0), scale=COURSE_SCALE, name="netflix_complete, held out"
    )
    return Fold("course", train, test)
