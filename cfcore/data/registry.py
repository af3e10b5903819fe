"""The data sets ``python -m cfcore evaluate --dataset NAME`` knows: one loader and one line each.

A loader takes ``data_dir`` (None = ``$CFCORE_DATA`` or the download cache) and returns the
data set's folds. Any other name is read as the path of a ratings file, split into 5 seeded
folds within users.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .bad_lines import check_on_bad_lines
from .course import course_fold
from .files import load_ratings
from .movielens import CANONICAL_FOLDS, load_movielens_100k
from .splits import Fold, k_fold

#: folds of a ratings file given by its path: a seeded 5-fold split within users
FILE_FOLDS, FILE_SEED = 5, 0


def _course_folds(data_dir) -> list[Fold]:
    return [course_fold(data_dir)]


def _movielens_folds(data_dir) -> list[Fold]:
    folds = load_movielens_100k(data_dir).folds
    return [folds[name] for name in CANONICAL_FOLDS]


#: name -> loader of its folds
DATASETS: dict[str, Callable[..., list[Fold]]] = {
    "course": _course_folds,  # the entries netflix_incomplete misses, judged by netflix_complete
    "ml-100k": _movielens_folds,  # MovieLens 100K's canonical folds u1..u5
}


def load_folds(dataset: str, fold_names=None, data_dir=None, *, on_bad_lines="error") -> list[Fold]:
    """The folds of a named data set (``DATASETS``) or of a ratings file (f1..f5).

    fold_names: the folds to keep, in that order (default: all).
    on_bad_lines: for a ratings file, what its bad lines do (see ``load_ratings``): with
        "skip" or "warn" every fold's train and test carry the file's ``load_report``.
        The named data sets are checksummed and have none.
    """
    on_bad_lines = check_on_bad_lines(on_bad_lines)
    if dataset in DATASETS:
        folds = DATASETS[dataset](data_dir)
    elif Path(dataset).is_file():
        data = load_ratings(dataset, on_bad_lines=on_bad_lines)
        folds = k_fold(data, k=FILE_FOLDS, seed=FILE_SEED)
    else:
        raise FileNotFoundError(
            f"dataset must be one of {', '.join(DATASETS)} or a ratings file; {dataset} is none"
        )
    by_name = {fold.name: fold for fold in folds}
    names = list(by_name) if fold_names is None else list(fold_names)
    unknown = [name for name in names if name not in by_name]
    if unknown or not names:
        raise ValueError(f"folds {unknown} are not folds of {dataset}; choose from {list(by_name)}")
    return [by_name[name] for name in names]
