"""Loaders for the rating data the project uses, with pinned checksums.

The data itself is never shipped (its licences forbid redistribution): the loaders read it
from ``$CFCORE_DATA`` (or a folder you name) and check every file's sha256 before use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

#: sha256 of the course's text files (MITx 6.86x, "Collaborative Filtering via Gaussian Mixtures")
COURSE_FILES = {
    "netflix_incomplete": "7a81ae26f41725a5deeec079dceec27d06949e1b82795803d42ec68c0e00408c",
    "netflix_complete": "30c27318115235e50d6124ecbead6241d2376fc7c2116106834bf558d175dc35",
    "toy_data": "a558ed25342d216d432fc8fa80870ef5fca43f45aeebd9350c32529b39d492d7",
    "test_incomplete": "bef9922ca72b321f270c1c8e25e9b54bdac16102d8f1fdb8fd0539c732c3c37f",
    "test_complete": "0a5c494e5faf287544bae4af069d7557f50953116e64b39a80ec4be200e1772e",
    "test_solutions": "14ddb974dc3610dbdc50610f84d1c8534c32de5ac4d36816a463e63943a2234b",
}


def data_home() -> Path | None:
    """The folder named by ``$CFCORE_DATA``, or None when it is not set."""
    value = os.environ.get("CFCORE_DATA")
    return Path(value).expanduser() if value else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected_sha256: str) -> Path:
    """Return path after checking that the file's sha256 is the pinned one."""
    actual = sha256(path)
    if actual != expected_sha256:
        raise ValueError(
            f"{path} does not match its pinned checksum (sha256 {actual}, expected "
            f"{expected_sha256}): the file is corrupt or another version; replace it"
        )
    return path


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


def make_blobs(
    n_per_cluster: int | list[int] = 100,
    centres=((0.0, 0.0), (6.0, 1.0), (2.0, 6.0)),
    spread: float | list[float] = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points around known centres, for the k-means and EM pictures (notebooks 01, 02, 04).

    Cluster c has n_per_cluster[c] points drawn from N(centres[c], spread[c]^2 I).
    Returns X: (n, d) array and labels: (n,) int array, the planted cluster of each point.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"centres must be a (K, d) array of cluster centres, got {centres.shape}")
    K = centres.shape[0]
    sizes = np.broadcast_to(np.asarray(n_per_cluster), (K,))
    spreads = np.broadcast_to(np.asarray(spread, dtype=np.float64), (K,))
    if (sizes < 1).any() or (spreads <= 0).any():
        raise ValueError("every cluster needs n_per_cluster >= 1 and spread > 0")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(K), sizes)
    X = centres[labels] + rng.normal(size=(labels.size, centres.shape[1])) * spreads[labels, None]
    return X, labels
