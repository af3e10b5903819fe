"""How the course modules run fast: layout, blocks of users, threads, float32, CSR plumbing.

The engine decides layout and speed and never re-implements the mathematics: ``cfcore.em``
writes each step once and calls ``prepare`` and ``sum_over_blocks`` to run it. ``fused``
holds the one compiled kernel (numba, optional), which runs em's E-step and M-step sums on
CSR ratings in one pass and is tested against em's numpy path; ``using("numpy")`` (or
``CFCORE_ENGINE=numpy``) keeps to the numpy path.
"""

from . import fused
from .blocks import (
    DTYPES,
    RatingBlocks,
    Ratings,
    available_cores,
    map_threads,
    observed,
    prepare,
    sum_over_blocks,
)
from .distributed import DaskRatings, distribute
from .fused import numba_available, one_pass, using
from .progress import ProgressBar
from .sparse import (
    csr_rows,
    row_sq_norms,
    stored_rows,
    transpose,
    weighted_sums,
    with_data,
)

__all__ = [
    "DTYPES",
    "DaskRatings",
    "ProgressBar",
    "RatingBlocks",
    "Ratings",
    "available_cores",
    "csr_rows",
    "distribute",
    "fused",
    "map_threads",
    "numba_available",
    "observed",
    "one_pass",
    "prepare",
    "row_sq_norms",
    "stored_rows",
    "sum_over_blocks",
    "transpose",
    "using",
    "weighted_sums",
    "with_data",
]
