"""Ratings as a stream of CSR blocks of users: ``BlockStream``, and ``planted_blocks``.

``planted_blocks`` draws the matrix of ``make_ratings`` one block at a time, so that
``write_parquet`` (``cfcore.data.parquet``) writes it at any size without ever holding it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import check_count, check_positive, check_scale, check_seed
from .ratings import index_dtype
from .synthetic import _RATINGS_PER_BLOCK, PlantedClusters, _planted_block, _planted_truth


@dataclass(frozen=True, eq=False)
class BlockStream:
    """Ratings as consecutive blocks of users, for ``write_parquet`` to write as they come.

    blocks: an iterable of CSR matrices (b, n_items), the users in order, every block's
    ratings in the scale; n_items, scale (lowest, highest), name: as in ``RatingsData``.
    """

    blocks: Iterable
    n_items: int
    scale: tuple[float, float]
    name: str = ""


def planted_blocks(
    n_users: int,
    n_items: int,
    n_clusters: int,
    density: float,
    seed: int = 0,
    *,
    scale=(1, 5),
    step: float = 1.0,
    noise: float | None = None,
    separation: float | None = None,
    weights=None,
    dtype=np.float64,
    name: str | None = None,
) -> tuple[BlockStream, PlantedClusters]:
    """The matrix of ``make_ratings`` with the same arguments, as a stream of CSR blocks.

    The same planted truth and the same blocks, drawn one at a time when the stream is
    read, so that no process ever holds the whole matrix: ``write_parquet`` of the stream
    writes the matrix ``make_ratings`` returns (``tests/test_dask.py`` checks it entry by
    entry). Arguments as ``make_ratings`` (uniform propensities only).
    Returns (BlockStream, PlantedClusters).
    """
    n_users, n_items = check_count(n_users, "n_users"), check_count(n_items, "n_items")
    seed = check_seed(seed)
    n_clusters = check_count(n_clusters, "n_clusters")
    if not (isinstance(density, (int, float, np.number)) and 0 < density <= 1):
        raise ValueError(f"density must be a fraction in (0, 1], got {density!r}")
    low, high = scale = check_scale(scale)
    step = check_positive(step, "step")
    if low == high or not math.isclose(
        round((high - low) / step) * step, high - low, rel_tol=1e-9, abs_tol=1e-12
    ):
        raise ValueError(f"scale={scale} must span a whole number of steps of size {step}")
    noise = 0.2 * (high - low) if noise is None else float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    separation = (
        0.25 * (high - low) if separation is None else check_positive(separation, "separation")
    )
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}")

    def block_rng(index: int) -> np.random.Generator:  # make_ratings' streams, block by block
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))

    truth = _planted_truth(
        block_rng(0), n_users, n_items, n_clusters, weights, scale, noise, separation
    )
    block_users = max(1, int(_RATINGS_PER_BLOCK / (n_items * density)))

    def blocks() -> Iterator[sp.csr_matrix]:
        for block, start in enumerate(range(0, n_users, block_users), start=1):
            stop = min(start + block_users, n_users)
            counts, cols, values = _planted_block(
                block_rng(block),
                truth.assignments[start:stop],
                n_items,
                density,
                truth,
                scale,
                step,
            )
            index = index_dtype(max(cols.size, n_items))
            indptr = np.zeros(stop - start + 1, dtype=index)
            np.cumsum(counts, out=indptr[1:])
            yield sp.csr_matrix(
                (values.astype(dtype), cols.astype(index), indptr), shape=(stop - start, n_items)
            )

    name = f"planted {n_users} x {n_items}, K={n_clusters}" if name is None else name
    return BlockStream(blocks(), n_items, scale, name), truth
