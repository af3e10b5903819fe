"""How EM runs fast: a ratings matrix laid out once in blocks of users, worked on by threads.

A user's posterior needs only that user's ratings, and the M-step needs only sums over
users, so both of EM's steps run a block of users at a time (the (block, K) temporaries
bound the extra memory: the ratings, the n x K posteriors and one block's work), several
blocks at once on separate cores, and, if asked, with the ratings and the products in
float32. The mathematics stays in ``cfcore.em``: it hands ``sum_over_blocks`` a function of
one block, and this module decides which blocks, in which threads, in which dtype.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import reduce
from operator import add
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from .._validation import check_matrix, is_sparse
from .sparse import csr_rows, row_sq_norms, with_data

#: the largest default block of users, in stored entries (ratings, or n x d when dense): it
#: bounds the memory of a block's (block, K) temporaries and of its indicator's ones
BLOCK_ENTRIES = 1 << 24

#: the fewest entries per block worth a thread of its own
MIN_BLOCK_ENTRIES = 1 << 21

DTYPES = (np.float64, np.float32)


class Ones:
    """A read-only buffer of ones, made on first use and kept: what the indicators of a
    CSR matrix's blocks hold as their values (``Ratings.M``). The compiled kernel never
    asks for it, so on its path the buffer (8 bytes a rating in float64) is never made."""

    def __init__(self, size: int, dtype):
        self.size, self.dtype = int(size), np.dtype(dtype)
        self._array: np.ndarray | None = None
        self._indicators: dict = {}  # id(block) -> (block, its indicator), made once each
        self._lock = threading.Lock()

    def indicator(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """X's indicator: X's structure with this buffer's ones as values (made once)."""
        with self._lock:
            block, M = self._indicators.get(id(X), (None, None))
            if block is not X:
                M = with_data(X, self._made()[: X.nnz])
                self._indicators[id(X)] = (X, M)
            return M

    def _made(self) -> np.ndarray:
        if self._array is None:
            self._array = np.ones(self.size, self.dtype)
            self._array.flags.writeable = False
        return self._array


class Ratings(NamedTuple):
    """A ratings matrix, or a block of its users, with what every EM step needs from it.

    X: (n, d) ratings, dense ndarray (0 = missing) or CSR matrix (stored = observed);
       in float32, the ratings minus ``RatingBlocks.shift``
    indicator: for dense X, M itself; for CSR, the ``Ones`` that M's values view
    sq_norms: (n,) float64, sum_{i in C_u} x_ui^2 (of X's stored values)
    counts: (n,) float64, |C_u|, the number of ratings of user u
    """

    X: np.ndarray | sp.csr_matrix
    indicator: np.ndarray | Ones
    sq_norms: np.ndarray
    counts: np.ndarray

    @property
    def M(self) -> np.ndarray | sp.csr_matrix:
        """(n, d) indicator of observed entries, in the same format and dtype as X."""
        if isinstance(self.indicator, Ones):
            return self.indicator.indicator(self.X)
        return self.indicator


class RatingBlocks(NamedTuple):
    """A ratings matrix prepared for EM: consecutive blocks of users, views into X.

    X: (n, d) the ratings minus ``shift`` where observed, in the dtype of the products
    blocks: one ``Ratings`` per block of users (their sq_norms are sum_{i in C_u} (x_ui - shift)^2)
    starts: (len(blocks) + 1,) the first user of every block, then n
    threads: how many blocks are worked on at once
    shift: subtracted from every observed rating (0 in float64; see ``prepare``)
    cache: None, or the fit loop's cache of the M-step's sums (``engine.fused.one_pass``)
    """

    X: np.ndarray | sp.csr_matrix
    blocks: tuple[Ratings, ...]
    starts: np.ndarray
    threads: int
    shift: float = 0.0
    cache: object = None

    def rows(self, b: int) -> slice:
        """The users of block b."""
        return slice(int(self.starts[b]), int(self.starts[b + 1]))

    @property
    def n_users(self) -> int:
        return self.X.shape[0]

    def stored(self, mu: np.ndarray) -> np.ndarray:
        """mu (K, d) in the frame and dtype of the stored ratings, transposed: (d, K).

        The products X mu^T then run in X's dtype (a float32 X is never upcast) on means
        shifted like the ratings, so that every distance is unchanged by the shift.
        """
        return np.ascontiguousarray((mu - self.shift).T, dtype=self.X.dtype)


def prepare(
    X,
    *,
    dtype=np.float64,
    block_size: int | None = None,
    threads: int | None = None,
    allow_negative: bool = False,
):
    """Check a ratings matrix once and lay it out for EM; every function here accepts the result.

    X: (n, d) array (0 = missing) or scipy.sparse matrix (stored = observed).
    dtype: np.float64 (default) or np.float32, the dtype of the ratings and of the four matrix
        products of every iteration. float32 halves the memory of the ratings and speeds the
        products up; sums of squares, logarithms and posteriors stay float64. The ratings are
        then stored minus their mean rounded to an integer (``shift``): distances do not
        change, but the sums in the products become small, so float32 loses little to
        rounding (integer and half-star ratings stay exact). On the course's Netflix matrix
        the log-likelihood of a fit moves by about 1e-7 relative, the mixture by about 1e-6.
    block_size: users per block (default: as few blocks as keep each under 16M ratings, and
        a multiple of ``threads`` of them when every block still holds 2M ratings or more).
        Every per-user quantity is computed a block at a time, so the (block, K) temporaries
        bound the extra memory; fewer, larger blocks cost less time.
    threads: blocks worked on at once, each by one thread (default: every available core;
        never more than the blocks). scipy's sparse products, BLAS and numpy's array
        operations release the GIL, so the threads run on separate cores.
    allow_negative: accept negative stored values in a CSR matrix (real-valued data such as
        residuals after biases: every stored entry, 0 included, is observed); a dense X still
        uses 0 = missing and must be non-negative.
    Returns a ``RatingBlocks``; the blocks are views of X, never copies (nor is X copied
    when it is a float64 CSR matrix and dtype is float64).
    """
    if isinstance(X, RatingBlocks):
        return X
    if isinstance(X, Ratings):
        if X.X.dtype != np.float64:
            raise TypeError(
                "X is a float32 block of prepare(..., dtype=np.float32), whose ratings are "
                "stored minus a shift the block does not carry; pass the RatingBlocks itself"
            )
        return RatingBlocks(X.X, (X,), np.array([0, X.X.shape[0]]), 1)
    X = check_matrix(X, ratings=True, allow_sparse=True, allow_negative_sparse=allow_negative)
    dtype = _check_dtype(dtype)
    n, d = X.shape
    threads = _check_threads(threads)
    block_size = _check_block_size(block_size, n, X.nnz if is_sparse(X) else n * d, threads)
    starts = np.append(np.arange(0, n, block_size), n)
    spans = [slice(a, b) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    shift = 0.0 if dtype is np.float64 else _rounded_mean_rating(X)
    if dtype is np.float32:
        _check_float32_range(X, shift)
    if is_sparse(X):
        X = with_data(X, _shifted(X.data, shift, dtype))
        counts = np.diff(X.indptr).astype(np.float64)
        blocks = [csr_rows(X, rows.start, rows.stop) for rows in spans]
        # the indicator of every block shares one buffer of ones, made when first needed
        masks = [Ones(max(block.nnz for block in blocks), dtype)] * len(blocks)
    else:
        seen = X != 0
        X = np.where(seen, X - shift, 0.0).astype(dtype) if shift else X.astype(dtype, copy=False)
        M = seen.astype(dtype)
        counts = np.count_nonzero(seen, axis=1).astype(np.float64)
        blocks, masks = [X[rows] for rows in spans], [M[rows] for rows in spans]
    sq_norms = row_sq_norms(X)  # in float64, from the stored values
    ratings = tuple(
        Ratings(block, mask, sq_norms[rows], counts[rows])
        for block, mask, rows in zip(blocks, masks, spans, strict=True)
    )
    threads = min(threads, len(ratings))
    return RatingBlocks(X, ratings, starts, threads, shift)


#: the magnitudes (after the shift) whose squares and products float32 holds with room to spare
FLOAT32_RANGE = (1e-15, 1e15)


def _check_float32_range(X, shift: float) -> None:
    """Refuse float32 for ratings whose squares would overflow it or fall below its normal
    numbers, which would give wrong distances without any error."""
    values = X.data if is_sparse(X) else X[X != 0]
    if not values.size:
        return
    low, high = float(values.min()), float(values.max())
    largest = max(abs(low - shift), abs(high - shift))
    size = max(abs(low), abs(high))
    if largest > FLOAT32_RANGE[1] or size < FLOAT32_RANGE[0]:
        raise ValueError(
            f"dtype float32 holds the squares of ratings of magnitude {FLOAT32_RANGE[0]:g} to "
            f"{FLOAT32_RANGE[1]:g} (after the shift by their rounded mean), and these reach "
            f"{largest if largest > FLOAT32_RANGE[1] else size:.3g}; use dtype=np.float64, or "
            "rescale the ratings"
        )


def _rounded_mean_rating(X) -> float:
    observed_values = X.data if is_sparse(X) else X[X != 0]
    return float(np.round(observed_values.mean())) if observed_values.size else 0.0


def _shifted(values: np.ndarray, shift: float, dtype) -> np.ndarray:
    """values - shift in dtype, a slice at a time (no float64 copy of all the values)."""
    if not shift and values.dtype == dtype:
        return values
    out = np.empty(values.shape, dtype)
    for start in range(0, values.size, 1 << 22):
        chunk = slice(start, start + (1 << 22))
        np.subtract(values[chunk], shift, out=out[chunk], casting="same_kind")
    return out


#: a block size that puts every user in one block
_ALL_USERS = np.iinfo(np.int64).max


def observed(X, *, allow_negative: bool = False) -> Ratings:
    """Check a ratings matrix (dense or CSR) and precompute its mask and row statistics,
    as one block (``allow_negative`` as in ``prepare``)."""
    if isinstance(X, Ratings):
        return X
    if isinstance(X, RatingBlocks):
        if len(X.blocks) != 1 or X.shift:
            raise ValueError(
                "X is a RatingBlocks of several blocks (or shifted float32 ratings); pass the "
                "ratings matrix itself, which observed lays out as one float64 block"
            )
        return X.blocks[0]
    return prepare(X, block_size=_ALL_USERS, threads=1, allow_negative=allow_negative).blocks[0]


def _check_dtype(dtype) -> type:
    for allowed in DTYPES:
        if np.dtype(dtype) == allowed:
            return allowed
    raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")


def _check_block_size(block_size, n: int, entries: int, threads: int) -> int:
    if block_size is None:  # as few blocks as memory allows, at least one per thread if worth it
        n_blocks = max(-(-entries // BLOCK_ENTRIES), 1)
        if entries >= threads * MIN_BLOCK_ENTRIES:
            n_blocks = threads * -(-n_blocks // threads)
        return max(1, -(-n // n_blocks))
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer):
        raise TypeError(f"block_size must be a number of users, got {block_size!r}")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1 user, got {block_size}")
    return int(block_size)


def _check_threads(threads) -> int:
    if threads is None:
        return available_cores()
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_blas = ThreadpoolController()


def map_threads(work, items, threads: int | None = None) -> list:
    """[work(item) for item in items], ``threads`` items at a time (default every core).

    For independent fits that share read-only data, e.g. the seeds of a model: each runs
    exactly as it would alone (same blocks, same order of sums), so the results do not
    depend on the threads; numpy, scipy and ``engine.fused``'s kernel release the GIL, so
    the threads run on separate cores. The results come back in the order of ``items``.
    BLAS is held to one thread throughout (the cores are the fits'): set once here, not by
    each fit, whose limits would otherwise undo each other's while the other is computing.
    """
    items = list(items)
    threads = min(_check_threads(threads), max(len(items), 1))
    if threads == 1:
        return [work(item) for item in items]
    with _blas.limit(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def sum_over_blocks(work, data: RatingBlocks, plus=add, *, limit_blas: bool = True):
    """work(0) + work(1) + ... over the blocks, ``data.threads`` blocks at a time.

    Each thread adds up its own share of the blocks (every threads-th one), so at most one
    partial sum per thread is held. BLAS is held to one thread meanwhile: the blocks are the
    parallel work, and for products with K columns BLAS threads gain little on their own,
    while on a busy machine those waiting for a core make the products several times slower.
    limit_blas=False skips that (work that calls no BLAS, such as ``engine.fused``'s
    kernel, saves the cost of switching it, which small data sets pay at every step).
    """
    blocks = range(len(data.blocks))
    if data.threads == 1 and not limit_blas:
        return reduce(plus, map(work, blocks))
    with _blas.limit(limits=1, user_api="blas") if limit_blas else nullcontext():
        if data.threads == 1:
            return reduce(plus, map(work, blocks))
        shares = [blocks[t :: data.threads] for t in range(data.threads)]
        with ThreadPoolExecutor(data.threads) as pool:
            return reduce(plus, pool.map(lambda share: reduce(plus, map(work, share)), shares))
