"""How the course modules run fast: layout, blocks of users, threads, float32, CSR plumbing.

The engine decides layout and speed and never re-implements the mathematics: ``cfcore.em``
writes each step once and calls ``prepare`` and ``sum_over_blocks`` to run it.
"""

from .blocks import (
    DTYPES,
    RatingBlocks,
    Ratings,
    available_cores,
    observed,
    prepare,
    sum_over_blocks,
)
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
    "ProgressBar",
    "RatingBlocks",
    "Ratings",
    "available_cores",
    "csr_rows",
    "observed",
    "prepare",
    "row_sq_norms",
    "stored_rows",
    "sum_over_blocks",
    "transpose",
    "weighted_sums",
    "with_data",
]
