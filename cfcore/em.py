"""EM for a spherical Gaussian mixture when ratings are missing.

Mirrors ``em.py`` of the course project; notebook 03 derives both steps. A user u rated
the items C_u; the density of a spherical Gaussian over those coordinates is the marginal
N(x_{C_u} | mu_{j,C_u}, var_j I_{|C_u|}), so every sum runs over observed entries only.

X is either the course's dense matrix (0 = missing) or a ``scipy.sparse`` CSR matrix
(stored entries = observed ratings). Both go through the same code: every per-user sum over
observed entries is a matrix product with X or with the indicator M of observed entries,

    sum_{i in C_u} (x_ui - mu_ji)^2 = ||x_u||^2 - 2 (X mu^T)_uj + (M (mu^2)^T)_uj,

and those products work on either format without ever building a dense matrix from a
sparse one. A user with no ratings is valid: their posterior is the prior p and their
predictions are the mixture mean sum_j p_j mu_j.

Large matrices: ``prepare`` lays X out once. A user's posterior needs only that user's
ratings and the M-step needs only sums over users, so both steps run a block of users at
a time (the (block, K) temporaries bound the extra memory: the ratings, the n x K
posteriors and one block's work), several blocks at once on separate cores, and, if asked,
with the ratings and the products in float32. An iteration is four passes over the ratings:
X mu^T and M (mu^2)^T in the E-step, X^T post and M^T post in the M-step.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial, reduce
from operator import add
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from ._checks import check_matrix, check_mixture, check_pairs, check_posterior, is_sparse
from .common import (
    GaussianMixture,
    csr_rows,
    iterate,
    normalise_log_weights,
    row_sq_norms,
    weighted_sums,
    with_data,
)

#: added to p_j before its log, as in the course, so an empty component stays finite
LOG_EPS = 1e-16

#: the largest default block of users, in stored entries (ratings, or n x d when dense): it
#: bounds the memory of a block's (block, K) temporaries and of its indicator's ones
BLOCK_ENTRIES = 1 << 24

#: the fewest entries per block worth a thread of its own
MIN_BLOCK_ENTRIES = 1 << 21

DTYPES = (np.float64, np.float32)


class Ratings(NamedTuple):
    """A ratings matrix, or a block of its users, with what every EM step needs from it.

    X: (n, d) ratings, dense ndarray (0 = missing) or CSR matrix (stored = observed);
       in float32, the ratings minus ``RatingBlocks.shift``
    M: (n, d) indicator of observed entries, in the same format and dtype as X
    sq_norms: (n,) float64, sum_{i in C_u} x_ui^2 (of X's stored values)
    counts: (n,) float64, |C_u|, the number of ratings of user u
    """

    X: np.ndarray | sp.csr_matrix
    M: np.ndarray | sp.csr_matrix
    sq_norms: np.ndarray
    counts: np.ndarray


class RatingBlocks(NamedTuple):
    """A ratings matrix prepared for EM: consecutive blocks of users, views into X.

    X: (n, d) the ratings minus ``shift`` where observed, in the dtype of the products
    blocks: one ``Ratings`` per block of users (their sq_norms are sum_{i in C_u} (x_ui - shift)^2)
    starts: (len(blocks) + 1,) the first user of every block, then n
    threads: how many blocks are worked on at once
    shift: subtracted from every observed rating (0 in float64; see ``prepare``)
    """

    X: np.ndarray | sp.csr_matrix
    blocks: tuple[Ratings, ...]
    starts: np.ndarray
    threads: int
    shift: float = 0.0

    def rows(self, b: int) -> slice:
        """The users of block b."""
        return slice(int(self.starts[b]), int(self.starts[b + 1]))


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
        return RatingBlocks(X.X, (X,), np.array([0, X.X.shape[0]]), 1)
    X = check_matrix(X, ratings=True, allow_sparse=True, allow_negative_sparse=allow_negative)
    dtype = _check_dtype(dtype)
    n, d = X.shape
    threads = _check_threads(threads)
    block_size = _check_block_size(block_size, n, X.nnz if is_sparse(X) else n * d, threads)
    starts = np.append(np.arange(0, n, block_size), n)
    spans = [slice(a, b) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    shift = 0.0 if dtype is np.float64 else _rounded_mean_rating(X)
    if is_sparse(X):
        X = with_data(X, _shifted(X.data, shift, dtype))
        counts = np.diff(X.indptr).astype(np.float64)
        blocks = [csr_rows(X, rows.start, rows.stop) for rows in spans]
        # the indicator of every block shares one buffer of ones
        ones = np.ones(max(block.nnz for block in blocks), dtype)
        masks = [with_data(block, ones[: block.nnz]) for block in blocks]
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
        return _available_cores()
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_blas = ThreadpoolController()


def _sum_over_blocks(work, data: RatingBlocks, plus=add):
    """work(0) + work(1) + ... over the blocks, ``data.threads`` blocks at a time.

    Each thread adds up its own share of the blocks (every threads-th one), so at most one
    partial sum per thread is held. BLAS is held to one thread meanwhile: the blocks are the
    parallel work, and for products with K columns BLAS threads gain little on their own,
    while on a busy machine those waiting for a core make the products several times slower.
    """
    blocks = range(len(data.blocks))
    with _blas.limit(limits=1, user_api="blas"):
        if data.threads == 1:
            return reduce(plus, map(work, blocks))
        shares = [blocks[t :: data.threads] for t in range(data.threads)]
        with ThreadPoolExecutor(data.threads) as pool:
            return reduce(plus, pool.map(lambda share: reduce(plus, map(work, share)), shares))


def _squared_distances(R: Ratings, means: np.ndarray, squared_means: np.ndarray) -> np.ndarray:
    """sum_{i in C_u} (x_ui - mu_ji)^2: (n, K), clipped at 0 against rounding.

    means: (d, K) mu^T and squared_means: (d, K) (mu^2)^T, in the dtype of R.X.
    """
    dist = R.sq_norms[:, None] - 2.0 * (R.X @ means) + R.M @ squared_means
    return np.maximum(dist, 0.0, out=dist)


def _estep(data: RatingBlocks, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    mu, var, p = mixture
    means = np.ascontiguousarray((mu - data.shift).T, dtype=data.X.dtype)
    squared_means = means**2
    log_prior, log_norm = np.log(p + LOG_EPS), 0.5 * np.log(2.0 * np.pi * var)
    post = np.empty((data.X.shape[0], mu.shape[0]))

    def block_estep(b: int) -> float:
        R = data.blocks[b]
        log_joint = (
            log_prior
            - R.counts[:, None] * log_norm
            - _squared_distances(R, means, squared_means) / (2.0 * var)
        )
        post[data.rows(b)], ll = normalise_log_weights(log_joint)
        return ll

    return post, _sum_over_blocks(block_estep, data)


def estep(X, mixture: GaussianMixture) -> tuple[np.ndarray, float]:
    """Posterior of every component for every user, from their observed ratings only.

    log post_uj = log(p_j + 1e-16) - |C_u|/2 log(2 pi var_j)
                  - sum_{i in C_u} (x_ui - mu_ji)^2 / (2 var_j) - log-normaliser_u.
    X: (n, d) array (0 = missing), CSR matrix, or ``prepare(X)``. Returns post: (n, K) and
    the log-likelihood sum_u logsumexp_j of the unnormalised terms.
    """
    data = prepare(X)
    return _estep(data, check_mixture(mixture, data.X.shape[1]))


def log_likelihood(X, mixture: GaussianMixture) -> float:
    """log p(observed ratings of X | mixture); e.g. on held-out users (notebook 04)."""
    return estep(X, mixture)[1]


class _Sums(NamedTuple):
    """The sums over users the M-step needs; sums over blocks of users add up to them.

    weighted_ratings: (K, d) sum_u post_uj x_ui;  support: (K, d) sum_u post_uj [i in C_u];
    weighted_sq_norms: (K,) sum_u post_uj sum_{i in C_u} x_ui^2;  weights: (K,) sum_u post_uj
    (x_ui as stored: minus the shift in float32)
    """

    weighted_ratings: np.ndarray
    support: np.ndarray
    weighted_sq_norms: np.ndarray
    weights: np.ndarray

    def plus(self, other: _Sums) -> _Sums:
        return _Sums(*(a + b for a, b in zip(self, other, strict=True)))


def _block_sums(R: Ratings, post: np.ndarray) -> _Sums:
    """The M-step's sums over the users of one block; post: (n_block, K)."""
    weights = post.astype(R.X.dtype, copy=False)
    return _Sums(
        np.asarray(weighted_sums(weights, R.X), dtype=np.float64),
        np.asarray(weighted_sums(weights, R.M), dtype=np.float64),
        post.T @ R.sq_norms,
        post.sum(axis=0),
    )


def _sums(data: RatingBlocks, post: np.ndarray) -> _Sums:
    """The M-step's sums over all users, a block at a time; post: (n, K)."""
    return _sum_over_blocks(
        lambda b: _block_sums(data.blocks[b], post[data.rows(b)]), data, plus=_Sums.plus
    )


def _mstep(
    data: RatingBlocks, post: np.ndarray, previous: GaussianMixture, min_variance: float
) -> GaussianMixture:
    sums = _sums(data, post)
    mu = previous.mu - data.shift  # the means in the frame of the stored ratings
    supported = sums.support >= 1.0
    mu[supported] = sums.weighted_ratings[supported] / sums.support[supported]
    return _variances_and_weights(data, sums, mu, previous, min_variance)


def _variances_and_weights(
    data: RatingBlocks, sums: _Sums, mu: np.ndarray, previous: GaussianMixture, min_variance
) -> GaussianMixture:
    """The rest of an M-step once the means are updated (mu: (K, d), in the stored frame).

    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u post_uj |C_u|)
    (a component with no data keeps its variance), p_j = sum_u post_uj / n. Also the M-step of
    ``mixture_models``' MAP-EM, whose prior changes the means only.
    """
    # sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2, expanded to reuse the two products
    sse = (
        sums.weighted_sq_norms
        - 2.0 * (mu * sums.weighted_ratings).sum(axis=1)
        + (mu**2 * sums.support).sum(axis=1)
    )
    n_observed = sums.support.sum(axis=1)  # sum_u post_uj |C_u|
    has_data = n_observed > 0
    var = previous.var.copy()
    var[has_data] = np.maximum(sse[has_data], 0.0) / n_observed[has_data]
    var = np.maximum(var, min_variance)
    if (var <= 0).any():
        raise ValueError(
            f"component(s) {np.flatnonzero(var <= 0).tolist()} reached variance 0, where the "
            "likelihood is unbounded; keep min_variance > 0 (the course uses 0.25)"
        )
    return GaussianMixture(mu + data.shift, var, sums.weights / data.X.shape[0])


def _squared_distance_totals(data: RatingBlocks, mu: np.ndarray) -> np.ndarray:
    """sum_u sum_{i in C_u} (x_ui - mu_ji)^2 for every component j: (K,) array."""
    means = np.ascontiguousarray((mu - data.shift).T, dtype=data.X.dtype)
    return _sum_over_blocks(
        lambda b: _squared_distances(data.blocks[b], means, means**2).sum(axis=0), data
    )


def mstep(
    X, post: np.ndarray, mixture: GaussianMixture, min_variance: float = 0.25
) -> GaussianMixture:
    """Maximise the expected complete-data log-likelihood over observed entries.

    p_j = sum_u post_uj / n;
    mu_ji = sum_u post_uj x_ui [i in C_u] / sum_u post_uj [i in C_u], updated only where
    that support is >= 1 (elsewhere mu_ji keeps its previous value from ``mixture``);
    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2
                              / sum_u post_uj |C_u|).
    X: (n, d) array, CSR matrix or ``prepare(X)``; post: (n, K) array.
    """
    data = prepare(X)
    mixture = check_mixture(mixture, data.X.shape[1])
    post = check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    return _mstep(data, post, mixture, _check_min_variance(min_variance))


def _check_min_variance(min_variance: float) -> float:
    if not np.isfinite(min_variance) or min_variance < 0:
        raise ValueError(f"min_variance must be a finite number >= 0, got {min_variance}")
    return float(min_variance)


def run(
    X,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    min_variance: float = 0.25,
    max_iter: int | None = None,
    callback=None,
    dtype=np.float64,
    block_size: int | None = None,
    threads: int | None = None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """Alternate E- and M-steps until new_ll - old_ll <= 1e-6 |new_ll|.

    X: (n, d) array (0 = missing), CSR matrix or ``prepare(X)``; mixture and post from
    ``common.init``. callback: optional f(iteration, log_likelihood, mixture) after every
    iteration (``common.ProgressBar`` shows a progress bar). dtype, block_size, threads:
    how the work is laid out, see ``prepare``; they change results by rounding only.
    Returns (mixture, post, log_likelihood), the log-likelihood of the last E-step.
    """
    mixture, post, ll, _, _ = _run(
        X,
        mixture,
        post,
        min_variance=min_variance,
        max_iter=max_iter,
        callback=callback,
        dtype=dtype,
        block_size=block_size,
        threads=threads,
    )
    return mixture, post, ll


def _run(X, mixture, post, *, min_variance=0.25, max_iter=None, callback=None, tol=1e-6, **layout):
    """``run`` that also says whether it converged: (mixture, post, ll, converged, n_iter).

    tol: the relative rise of the log-likelihood below which the loop stops (the course's
    1e-6); the benchmarks pass -inf to time a fixed number of iterations.
    """
    data = prepare(X, **layout)
    mixture = check_mixture(mixture, data.X.shape[1])
    check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    estep_fn = partial(_estep, data)
    mstep_fn = partial(_mstep, data, min_variance=_check_min_variance(min_variance))
    return iterate(estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback, tol=tol)


def _check_pairs(pairs, shape) -> tuple[np.ndarray, np.ndarray]:
    try:
        rows, cols = pairs
    except (TypeError, ValueError):
        raise TypeError("pairs must be (rows, cols), two integer arrays, or 'all'") from None
    return check_pairs(rows, cols, shape, "pairs")


def predict_pairs(post: np.ndarray, mu: np.ndarray, rows, cols, block: int = 1 << 20) -> np.ndarray:
    """Posterior-mean predictions sum_j post_uj mu_ji at the pairs (rows[t], cols[t]): (m,)."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), block):
        r, c = rows[start : start + block], cols[start : start + block]
        out[start : start + block] = np.einsum("tj,jt->t", post[r], mu[:, c])
    return out


def fill_matrix(X, mixture: GaussianMixture, pairs=None):
    """Predict missing ratings by their posterior mean, keeping every observed rating.

    X_pred_ui = x_ui where observed, else sum_j post_uj mu_ji, post from one E-step.
    X dense (n, d), pairs=None: the filled (n, d) matrix, as the course returns it.
    pairs=(rows, cols): a (m,) array of the filled values at those entries only; the way to
    ask for predictions from a sparse X, whose filled matrix would be dense.
    pairs="all": the filled (n, d) dense matrix for either format (asks for the memory).
    """
    data = prepare(X)
    X = data.X
    mixture = check_mixture(mixture, X.shape[1])
    post, _ = _estep(data, mixture)
    if pairs is None and is_sparse(X):
        n, d = X.shape
        raise ValueError(
            f"X is sparse: filling every entry would build a dense {n} x {d} matrix; pass "
            "pairs=(rows, cols) for the entries you need, or pairs='all' to build it anyway"
        )
    if is_sparse(X):  # stored = observed, even a stored 0
        seen = with_data(X, np.ones(X.nnz, np.int8))
    else:
        seen = np.concatenate([R.M for R in data.blocks]) > 0
    if pairs is None or (isinstance(pairs, str) and pairs == "all"):
        filled = post @ mixture.mu
        if is_sparse(X):
            users = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            filled[users, X.indices] = X.data + data.shift
            return filled
        return np.where(seen, X + data.shift, filled)
    rows, cols = _check_pairs(pairs, X.shape)
    values = predict_pairs(post, mixture.mu, rows, cols)
    known = np.asarray(seen[rows, cols]).ravel() > 0
    values[known] = np.asarray(X[rows[known], cols[known]]).ravel() + data.shift
    return values
