"""The data sets ``python -m cfcore evaluate --dataset NAME`` knows: one loader and one line each.

A loader takes ``data_dir`` (None = ``$CFCORE_DATA`` or the download cache) and returns the
data set's folds (``DATASETS``); ``DATASET_RATINGS`` gives all of a data set's ratings, which
the cold-start protocols split. Any other name is read as the path of a ratings file, split
into 5 seeded folds within users, or by a cold-start protocol.

The protocols (``PROTOCOLS``) say what a fold holds out:
    folds       the data set's own folds (ml-100k: u1..u5; course: the entries missing from
                netflix_incomplete; a file: 5 seeded folds f1..f5 within users)
    cold-items  every rating of a seeded 10% of the items, one fold per seed 0..4
                (``cold_items``: cold-items-0 .. cold-items-4)
    cold-users  a seeded 10% of the users with more than 5 ratings keep 5 of them, the rest
                are held out, one fold per seed 0..4 (``cold_users``: cold-users-0 ..)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from .bad_lines import check_on_bad_lines
from .course import COURSE_SCALE, course_fold, load_course
from .files import load_ratings
from .movielens import CANONICAL_FOLDS, load_movielens_100k
from .ratings import RatingsData
from .splits import Fold, cold_items, cold_users, k_fold

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


def _course_ratings(data_dir) -> RatingsData:
    """netflix_incomplete's observed ratings (the course fold's training matrix)."""
    incomplete = load_course("netflix_incomplete", data_dir)
    return RatingsData.from_dense(incomplete, scale=COURSE_SCALE, name="netflix_incomplete")


def _movielens_ratings(data_dir) -> RatingsData:
    return load_movielens_100k(data_dir).ratings


#: name -> loader of all its ratings, what the cold-start protocols split
DATASET_RATINGS: dict[str, Callable[..., RatingsData]] = {
    "course": _course_ratings,  # netflix_incomplete (1200 x 1200, scale 1-5)
    "ml-100k": _movielens_ratings,  # all 100,000 ratings, with titles and genres
}

#: the cold-start protocols: share of the items (users) made cold, profile, seeds
COLD_FRACTION, COLD_PROFILE, COLD_SEEDS = 0.1, 5, range(5)

#: protocol -> the split of a data set's ratings into its folds (one per seed)
COLD_PROTOCOLS: dict[str, Callable[[RatingsData], list[Fold]]] = {
    "cold-items": partial(cold_items, fraction=COLD_FRACTION, seeds=COLD_SEEDS),
    "cold-users": partial(
        cold_users, fraction=COLD_FRACTION, profile=COLD_PROFILE, seeds=COLD_SEEDS
    ),
}

#: what ``load_folds(protocol=...)`` accepts: the data set's own folds, or a cold start
PROTOCOLS = ("folds", *COLD_PROTOCOLS)


def _unknown_dataset(dataset: str) -> FileNotFoundError:
    names = ", ".join(DATASETS)
    if not dataset.strip():
        return FileNotFoundError(f"dataset is empty: name one of {names} or a ratings file")
    if Path(dataset).is_dir():
        why = f"{dataset} is a folder, not a ratings file"
    elif Path(dataset).suffix or "/" in dataset:  # written as a path
        why = f"there is no file {dataset}"
    else:
        why = f"{dataset} is neither"
    return FileNotFoundError(f"dataset must be one of {names} or a ratings file; {why}")


def _file_ratings(dataset: str, on_bad_lines: str, scale) -> RatingsData | None:
    """The ratings of the file at that path (None if there is none); scale as load_ratings."""
    if not Path(dataset).is_file():
        return None
    return load_ratings(dataset, on_bad_lines=on_bad_lines, scale=scale)


def _named_set(dataset: str, scale) -> bool:
    """Whether dataset is a named data set, whose scale is its own (scale must be None)."""
    if dataset not in DATASETS:
        return False
    if scale is not None:
        raise ValueError(f"scale: {dataset} declares its own scale; give scale for a file only")
    return True


def load_dataset(dataset: str, data_dir=None, *, on_bad_lines="error", scale=None) -> RatingsData:
    """All the ratings of a named data set (``DATASET_RATINGS``) or of a ratings file.

    ml-100k: 943 x 1,682, 100,000 ratings with titles and genres; course: the observed
    ratings of netflix_incomplete (1,200 x 1,200). on_bad_lines, scale: as in ``load_folds``.
    """
    on_bad_lines = check_on_bad_lines(on_bad_lines)
    if _named_set(dataset, scale):
        return DATASET_RATINGS[dataset](data_dir)
    data = _file_ratings(dataset, on_bad_lines, scale)
    if data is None:
        raise _unknown_dataset(dataset)
    return data


def _check_protocol(protocol) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    return protocol


def _own_folds(dataset: str, data_dir, on_bad_lines: str, scale) -> list[Fold]:
    if _named_set(dataset, scale):
        return DATASETS[dataset](data_dir)
    data = _file_ratings(dataset, on_bad_lines, scale)
    if data is None:
        raise _unknown_dataset(dataset)
    return k_fold(data, k=FILE_FOLDS, seed=FILE_SEED)


def _check_folds_hold_ratings(folds: list[Fold], dataset: str) -> None:
    """Every fold needs training and test ratings: a file too small to split says so here,
    not as every model failing on it."""
    for fold in folds:
        for part, data in (("training", fold.train), ("test", fold.test)):
            if data.n_ratings == 0:
                total = fold.train.n_ratings + fold.test.n_ratings
                raise ValueError(
                    f"{dataset}: fold {fold.name} has no {part} ratings ({total:,} rating(s) in "
                    "all): the data is too small for this protocol's folds; give more ratings"
                )


def load_folds(
    dataset: str,
    fold_names=None,
    data_dir=None,
    *,
    on_bad_lines="error",
    protocol="folds",
    scale=None,
) -> list[Fold]:
    """The folds of a named data set (``DATASETS``) or of a ratings file, by a protocol.

    protocol: "folds" (default) the data set's own folds (a ratings file: f1..f5);
        "cold-items" or "cold-users" the cold-start folds of all its ratings
        (``cold_items``, ``cold_users`` with COLD_FRACTION, COLD_PROFILE, COLD_SEEDS).
    fold_names: the folds to keep, in that order (default: all), e.g. ["u1"] or
        ["cold-items-0"].
    on_bad_lines: for a ratings file, what its bad lines do (see ``load_ratings``): with
        "skip" or "warn" every fold's train and test carry the file's ``load_report``.
        The named data sets are checksummed and have none.
    scale: a ratings file's (lowest, highest) possible rating (``load_ratings``; default
        the file's smallest and largest); the named data sets declare their own.
    Every fold kept must hold training and test ratings (else a ValueError says so).
    """
    on_bad_lines = check_on_bad_lines(on_bad_lines)
    protocol = _check_protocol(protocol)
    if protocol == "folds":
        folds = _own_folds(dataset, data_dir, on_bad_lines, scale)
    else:
        data = load_dataset(dataset, data_dir, on_bad_lines=on_bad_lines, scale=scale)
        folds = COLD_PROTOCOLS[protocol](data)
    by_name = {fold.name: fold for fold in folds}
    names = list(by_name) if fold_names is None else list(fold_names)
    unknown = [name for name in names if name not in by_name]
    if unknown or not names:
        raise ValueError(f"folds {unknown} are not folds of {dataset}; choose from {list(by_name)}")
    if len(set(names)) != len(names):
        raise ValueError(f"folds {names} name a fold more than once; name each once")
    chosen = [by_name[name] for name in names]
    _check_folds_hold_ratings(chosen, dataset)
    return chosen
