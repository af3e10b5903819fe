"""Ratings as a stream of CSR blocks of users: ``BlockStream``, and ``planted_blocks``.

``planted_blocks`` draws the matrix of ``make_ratings`` one block at a time, so that
``write_parquet`` (``cfcore.data.parquet``) writes it at any size without ever holding it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .ratings import index_dtype
from .synthetic import (
    _RATINGS_PER_BLOCK,
    PlantedClusters,
    _planted_block,
    _planted_truth,
    checked_planted_settings,
)


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
    n_users, n_items, n_clusters, density, seed, scale, step, noise, separation = (
        checked_planted_settings(
            n_users, n_items, n_clusters, density, seed, scale, step, noise, separation, dtype
        )
    )

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
