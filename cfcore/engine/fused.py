"""One pass over the ratings per EM iteration: a compiled kernel for CSR blocks of users.

``cfcore.em`` writes the E-step as matrix products (``X mu^T``, ``M (mu^2)^T``), then a
log-sum-exp, and the M-step's sums as two more (``post^T X``, ``post^T M``): four passes
over the ratings, and (block, K) temporaries in between. The kernel here (numba, in
``_kernels.block_pass``) does the same arithmetic in one pass over a block of users: for
each user, the squared distances from that user's ratings, the log joint density, the
posterior and its log-sum-exp, and then, with those ratings still in cache, the user's share
of the M-step's sums (``em.Statistics``), accumulated in float64 whatever the ratings' dtype.
The mathematics stays in ``cfcore.em``: tests/test_fused.py checks every output of this
kernel against em's numpy path (1e-10 relative in float64, 1e-5 in float32).

When it runs: on CSR input, when numba is importable (the ``fast`` extra:
``pip install cfcore[fast]``) and the engine is not set to numpy. A dense input (the
course's matrices) stays on the numpy path, where BLAS's dense products are already at
their floor. ``CFCORE_ENGINE=numpy`` in the environment, or ``with engine.using("numpy"):``,
forces the numpy path (the default; ``"fused"`` insists on the kernel and fails without
numba; ``"auto"`` takes the kernel whenever it can). Without numba the numpy path runs,
with the same results up to rounding.

One pass per iteration: ``em.run_full`` marks its ``RatingBlocks`` with ``one_pass`` (a
private cache); the fused E-step on such data then also accumulates the M-step's sums of the
posterior it just computed, and ``em.statistics`` takes them from the cache when it is asked
about that very posterior array (``is``, not a copy; each cached result serves once). The
fit loop hands the E-step's posterior straight to the M-step, so an iteration reads the
ratings once. Any other posterior (or data not so marked) gets its sums by a second pass.

Threads: the kernel releases the GIL; the blocks of ``engine.prepare`` are worked on by
``data.threads`` threads (``sum_over_blocks``), each block accumulating its own sums.

Beside the passes over the ratings, ``means_and_errors`` computes the M-step's means (the
course's support rule, or MAP-EM's) and the sums its variances need in one pass over the
(K, d) sums, where numpy takes a dozen: on sparse long-tailed data (d large, few ratings per
item) those cost as much as the E-step.
"""

from __future__ import annotations

import importlib
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .._validation import is_sparse
from .blocks import RatingBlocks, sum_over_blocks

#: the environment variable that chooses the engine: "numpy" (default), "auto" or "fused"
ENGINE_VARIABLE = "CFCORE_ENGINE"
ENGINES = ("auto", "numpy", "fused")
#: the engine when neither ``using`` nor $CFCORE_ENGINE says: numpy, the reference. Where a
#: run starts with two components on one point, both paths leave that saddle, each the way
#: its own rounding sends it (``_weighted_sq_norms``), so such runs end elsewhere and
#: published digits could move: the kernel is opt-in ("auto")
DEFAULT_ENGINE = "numpy"

_override: str | None = None  # set by ``using``; wins over the environment variable
_kernel = None  # the kernels module once loaded; False when numba is not importable


def _load_kernel():
    """The module ``_kernels``, or None when numba cannot be imported (checked once)."""
    global _kernel
    if _kernel is None:
        try:
            _kernel = importlib.import_module("._kernels", __package__)
        except ImportError:
            _kernel = False
    return _kernel or None


def numba_available() -> bool:
    """Whether the compiled kernel can run here (numba importable)."""
    return _load_kernel() is not None


def engine_setting() -> str:
    """The engine asked for: ``using``'s, else $CFCORE_ENGINE, else ``DEFAULT_ENGINE``."""
    setting = _override or os.environ.get(ENGINE_VARIABLE, "").strip().lower() or DEFAULT_ENGINE
    if setting not in ENGINES:
        raise ValueError(
            f"{ENGINE_VARIABLE}={setting!r}: the engine must be one of {ENGINES} "
            "('numpy' forces the numpy path, 'fused' the compiled kernel)"
        )
    return setting


@contextmanager
def using(engine: str):
    """Run the enclosed code on one engine: "numpy", "fused" or "auto" (then restored).

    E.g. ``with cfcore.engine.using("numpy"): em.run(X, ...)`` times or checks the matrix
    products' path beside the kernel. Not thread-local: it sets the engine for the whole
    process meanwhile.
    """
    global _override
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    previous, _override = _override, engine
    try:
        yield
    finally:
        _override = previous


def applies(data: RatingBlocks) -> bool:
    """Whether EM's steps on ``data`` run through the kernel (CSR ratings, engine, numba)."""
    setting = engine_setting()
    if setting == "numpy" or not is_sparse(data.X):
        return False
    if numba_available():
        return True
    if setting == "fused":
        raise ImportError(
            f"{ENGINE_VARIABLE}=fused asks for the compiled kernel, which needs numba: "
            "pip install 'cfcore[fast]' (or unset it to fall back to the numpy path)"
        )
    return False


@dataclass(eq=False)
class _OnePass:
    """The sums of the last fused E-step's posterior, for the M-step that follows it, and the
    tables (the means, each block's sums) that every E-step of the run writes again: a
    fresh one each time costs its pages' first-touch faults (on the long-tailed matrix,
    zeroing a new 1.7 MB table of sums took 0.57 ms, a seventh of a fit's time)."""

    post: np.ndarray | None = None
    sums: tuple | None = None
    tables: dict = field(default_factory=dict)

    def keep(self, post: np.ndarray, sums: tuple) -> None:
        self.post, self.sums = post, sums

    def table(self, key, shape: tuple, dtype=np.float64) -> np.ndarray:
        """The run's table for key (uninitialised the first time), 64-byte aligned."""
        table = self.tables.get(key)
        if table is None or table.shape != shape or table.dtype != dtype:
            table = self.tables[key] = _aligned_empty(shape, dtype)
        return table

    def take(self, post: np.ndarray) -> tuple | None:
        if self.post is None or post is not self.post:
            return None
        sums, self.post, self.sums = self.sums, None, None
        return sums


def one_pass(data: RatingBlocks) -> RatingBlocks:
    """``data`` marked for the fit loop: its fused E-steps also compute the M-step's sums.

    The same blocks (no copy); only the mark differs. For loops that pass each E-step's
    posterior, unmodified, to the next M-step (``common.iterate``), as em.run_full does:
    the sums the M-step gets are views of tables the next E-step on ``data`` rewrites.
    """
    if isinstance(data.cache, _OnePass):
        return data
    return data._replace(cache=_OnePass())


@dataclass(eq=False)
class _Sums:
    """The M-step sums (item-major) and the log-likelihood of a mixture over some blocks."""

    log_likelihood: float
    bad_user: int  # a user whose density underflowed, else -1
    rated: np.ndarray | None = None  # (d, 2 K): weighted ratings, then support, per item
    weighted_sq_norms: np.ndarray | None = None  # (K,)
    weights: np.ndarray | None = None

    def plus(self, other: _Sums) -> _Sums:
        self.log_likelihood += other.log_likelihood
        if self.bad_user < 0:
            self.bad_user = other.bad_user
        if self.rated is not None:
            self.rated += other.rated
            self.weighted_sq_norms += other.weighted_sq_norms
            self.weights += other.weights
        return self

    def statistics(self) -> tuple:
        """(weighted_ratings, support, weighted_sq_norms, weights), as em.Statistics holds
        them: (K, d), (K, d), (K,), (K,)."""
        K = self.weights.size
        return self.rated[:, :K].T, self.rated[:, K:].T, self.weighted_sq_norms, self.weights


_EMPTY_2D, _EMPTY_1D = np.zeros((0, 0)), np.zeros(0)

#: a block's ratings are read once for the E-step and the sums together while the means and
#: the sums (24 d K bytes) fit in this much (a core's L2 here); beyond it, twice in a row:
#: one pass per table keeps each in cache (measured on MovieLens 100K: the same time at
#: 16 columns, 1.3x less at 56; rereading a block costs less than two tables' cache misses)
ONE_PASS_BYTES = 1 << 20


def _run(data: RatingBlocks, means, log_prior, log_norm, inv_two_var, post, *, estep, sums):
    """The kernel over every block of data (``data.threads`` at a time), sums added up.
    means: (d, K), item-major; log_prior, log_norm, inv_two_var: (K,); post: (n, K)."""
    kernels = _load_kernel()
    d, K = data.X.shape[1], post.shape[1]
    width = (0,) * K
    # a fit's E-steps write their sums into the run's own tables (``_OnePass.table``): its
    # M-step has taken them before the next E-step writes them again
    kept = data.cache if estep and isinstance(data.cache, _OnePass) else None

    def sums_table(b: int) -> np.ndarray:
        if kept is None:
            return _aligned_zeros((d, 2 * K))
        table = kept.table(("sums", b), (d, 2 * K))
        table.fill(0)
        return table

    def block(b: int) -> _Sums:
        R, rows = data.blocks[b], data.rows(b)
        out = _Sums(0.0, -1)
        if sums:
            out.rated, out.weights = sums_table(b), np.zeros(K)
            arrays = (out.rated, out.weights)
        else:
            arrays = (_EMPTY_2D, _EMPTY_1D)
        first = (width, R.X.indptr, R.X.indices, R.X.data, means, log_prior, log_norm, inv_two_var)
        large = 24 * d * K > ONE_PASS_BYTES  # the tables outgrow a core's cache
        passes = [(True, False), (False, True)] if estep and sums and large else [(estep, sums)]
        ahead = kernels.AHEAD if large else 0
        for step, add in passes:
            arguments = (*first, post[rows], step, add, *arrays, ahead)
            kernels.compile_vectorised(kernels.block_pass, arguments)
            log_likelihood, bad_user = kernels.block_pass(*arguments)
            out.log_likelihood += log_likelihood
            if bad_user >= 0 and out.bad_user < 0:
                out.bad_user = rows.start + bad_user
        if sums:  # em's own product (why: ``_weighted_sq_norms``)
            out.weighted_sq_norms = _weighted_sq_norms(post[rows], R.sq_norms)
        return out

    # BLAS on one thread while the sums are made, as em's numpy path holds it: its product
    # (``_weighted_sq_norms``) then rounds the same way at every call
    return sum_over_blocks(block, data, plus=_Sums.plus, limit_blas=sums)


def _weighted_sq_norms(post: np.ndarray, sq_norms: np.ndarray) -> np.ndarray:
    """sum_u post_uj ||x_u||^2: (K,), from post (b, K) and sq_norms (b,), by the BLAS product
    em's numpy path uses, not in the kernel. Its rounding differs from one column of post to
    another, and where a run starts with two components on one point (two seeded rows
    alike), that difference is what first splits them: computed the same way, both paths
    leave such a saddle, where exact EM (and a sum in the kernel) would keep the two equal
    for ever. Which way each run leaves it is then up to the rounding of either path."""
    return post.T @ sq_norms


def _aligned_empty(shape: tuple, dtype=np.float64) -> np.ndarray:
    """np.empty(shape, dtype) starting on a 64-byte boundary: a table row of 2 K = 24 float64
    (192 bytes) then spans 3 cache lines, not 4 (numpy's large arrays start 16 bytes in)."""
    itemsize, size = np.dtype(dtype).itemsize, math.prod(shape)
    flat = np.empty(size + 64 // itemsize, dtype)
    skip = (-flat.ctypes.data % 64) // itemsize
    return flat[skip : skip + size].reshape(shape)


def _aligned_zeros(shape: tuple, dtype=np.float64) -> np.ndarray:
    """np.zeros(shape, dtype) on a 64-byte boundary (``_aligned_empty``)."""
    table = _aligned_empty(shape, dtype)
    table.fill(0)
    return table


def estep(data: RatingBlocks, means: np.ndarray, var: np.ndarray, log_prior: np.ndarray):
    """The E-step of ``cfcore.em`` in one compiled pass: (post (n, K), log-likelihood), or
    None when some user's density underflowed under every component (em's numpy path then
    raises its error). means: (K, d) in the stored frame (mu - data.shift); var: (K,);
    log_prior: (K,) log(p_j + 1e-16). On data marked by ``one_pass`` the same pass also
    computes the M-step's sums of this posterior, which ``statistics`` then returns.
    """
    one = isinstance(data.cache, _OnePass)
    var = np.asarray(var, dtype=np.float64)
    post = np.empty((data.n_users, means.shape[0]))
    shape = (means.shape[1], means.shape[0])
    table = (
        data.cache.table("means", shape, data.X.dtype)
        if one
        else _aligned_empty(shape, data.X.dtype)
    )
    table[...] = means.T
    total = _run(
        data, table,
        np.ascontiguousarray(log_prior, dtype=np.float64), 0.5 * np.log(2.0 * np.pi * var),
        1.0 / (2.0 * var), post, estep=True, sums=one,
    )  # fmt: skip
    if total.bad_user >= 0:
        return None
    if one:
        data.cache.keep(post, total.statistics())
    return post, float(total.log_likelihood)


def statistics(data: RatingBlocks, post: np.ndarray) -> tuple:
    """em.Statistics' four sums of ``post`` (n, K): from the one-pass cache when post is the
    array the last fused E-step on ``data`` returned, else by one compiled pass."""
    cached = data.cache.take(post) if isinstance(data.cache, _OnePass) else None
    if cached is not None:
        return cached
    K = post.shape[1]
    given = np.ascontiguousarray(post, dtype=np.float64)
    unused = np.zeros(K)  # the means and densities: only the sums are computed
    total = _run(data, np.zeros((0, K)), unused, unused, unused, given, estep=False, sums=True)
    return total.statistics()


def means_and_errors(sums, shift: float, previous_mu: np.ndarray, ridge=None):
    """The M-step's means from em.Statistics' sums, and what its variances need, in one
    compiled pass over the (K, d) sums: (mu, sse (K,), n_observed (K,)), as
    ``em.supported_means`` (ridge None) or ``map_em``'s MAP mean (ridge: (K,) var_j / tau^2)
    and then ``em.squared_errors`` compute them. mu: (K, d) in the ratings' frame, a
    transposed view of a (d, K) array; previous_mu: (K, d), the previous means."""
    from ._kernels import means_and_errors as kernel

    weighted_ratings, support, weighted_sq_norms, _ = sums
    K, d = weighted_ratings.shape
    items_by_components = np.empty((d, K))  # mu^T, the layout of the sums and of the E-step
    ridge = _EMPTY_1D if ridge is None else np.ascontiguousarray(ridge, dtype=np.float64)
    sse, n_observed = kernel(
        weighted_ratings, support, np.asarray(weighted_sq_norms, dtype=np.float64),
        float(shift), np.asarray(previous_mu, dtype=np.float64), ridge, items_by_components,
    )  # fmt: skip
    return items_by_components.T, sse, n_observed
