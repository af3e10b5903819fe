"""Rating data: the ratings container, verified loaders, any ratings file, generators, splits.

The data itself is never shipped (its licences forbid redistribution): the loaders read it
from ``$CFCORE_DATA`` (or a folder you name), or download it into the user's cache, and
check every file's sha256 before use. Every loader returns a ``RatingsData``; every split
is a ``Fold``; ``load_items`` and ``attach_items`` add titles, genres and release years
from an item file.
"""

from .bad_lines import ON_BAD_LINES, REASONS, LoadReport
from .checksums import data_home, sha256, verified
from .course import (
    COURSE_FILES,
    COURSE_SCALE,
    course_available,
    course_dir,
    course_file,
    course_fold,
    course_held_out,
    load_course,
)
from .delimited import SEPARATORS
from .files import load_ratings
from .item_formats import ITEM_FORMATS
from .items import ItemTable, attach_items, load_items
from .movielens import (
    CANONICAL_FOLDS,
    ML100K_SPLITS,
    MovieLens100K,
    RatingStream,
    load_movielens_100k,
    movielens_100k_available,
    movielens_100k_dir,
    movielens_100k_stream,
    movielens_citation,
)
from .parquet import ParquetRatings, read_metadata, read_partition, read_ratings, write_parquet
from .planted_stream import BlockStream, planted_blocks
from .ratings import RatingsData
from .registry import DATASET_RATINGS, DATASETS, PROTOCOLS, load_dataset, load_folds
from .splits import Fold, cold_items, cold_users, holdout, k_fold, train_test_split
from .synthetic import PlantedClusters, make_blobs, make_ratings
from .writing import save_ratings

__all__ = [
    "CANONICAL_FOLDS",
    "COURSE_FILES",
    "COURSE_SCALE",
    "BlockStream",
    "DATASETS",
    "ITEM_FORMATS",
    "DATASET_RATINGS",
    "ML100K_SPLITS",
    "ON_BAD_LINES",
    "PROTOCOLS",
    "REASONS",
    "SEPARATORS",
    "Fold",
    "ItemTable",
    "LoadReport",
    "MovieLens100K",
    "ParquetRatings",
    "PlantedClusters",
    "RatingStream",
    "RatingsData",
    "attach_items",
    "cold_items",
    "cold_users",
    "course_available",
    "course_dir",
    "course_file",
    "course_fold",
    "course_held_out",
    "data_home",
    "holdout",
    "k_fold",
    "load_course",
    "load_dataset",
    "load_folds",
    "load_items",
    "load_movielens_100k",
    "load_ratings",
    "make_blobs",
    "make_ratings",
    "movielens_100k_available",
    "movielens_100k_dir",
    "movielens_100k_stream",
    "movielens_citation",
    "planted_blocks",
    "read_metadata",
    "read_partition",
    "read_ratings",
    "save_ratings",
    "sha256",
    "train_test_split",
    "verified",
    "write_parquet",
]
