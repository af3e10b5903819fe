"""The compiled kernel behind ``cfcore.engine.fused`` (imported only when numba is installed).

One pass over a CSR block of users computes what ``cfcore.em`` computes for that block in
four matrix products and a log-sum-exp: each user's squared distances to the K means over
the items they rated, the log joint density, the posterior, the log-likelihood, and, with
the ratings still in cache, that user's share of the M-step's sums. The formulas are the
course's (``cfcore.em``'s docstrings); tests/test_fused.py checks this kernel against them.

Users go through in chunks of ``CHUNK_USERS``: their distances first, then the
exponentials of the whole chunk, in rows of whole 8-wide vectors (``_exp``), then each
user's posterior and sums, while the chunk's ratings are still in cache.

Speed comes from K being a compile-time constant (the length of the ``width`` tuple, so
each K gets machine code of its own, its loops over components unrolled), a user's running
distances and posterior in a stack array (``_stack_array``: LLVM then keeps them in
registers, where a heap array might alias the means and every += would go to memory),
LLVM's SLP vectoriser packing the unrolled components into vector instructions
(``compile_vectorised``; numba leaves it off by default), and, once the tables outgrow a
core's cache, prefetching the rows of the ratings ``ahead`` (``_prefetch``), and reading the
ratings' items as unsigned integers (numba gives a signed index a fix-up for negative
values). None of them changes the order of any sum: the results are the same bits as a
plain loop's.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

#: responsibilities below the smallest normal float32 are set to 0, as normalise_log_weights does
_TINY = float(np.finfo(np.float32).tiny)

#: users whose distances are computed before their exponentials, in one vectorised loop
CHUNK_USERS = 64

#: how far ahead to prefetch table rows when the tables outgrow a core's cache (measured at
#: 59,047 items: a pass of the sums 1.7x faster at 16 ratings ahead than without, slower
#: again at 32; on MovieLens 100K, whose tables fit, prefetching made passes 1.2x slower)
AHEAD = 16

#: exp(x) for x below this is under 1.2e-38, so the responsibility it gives is set to 0
#: anyway (and what it adds to a sum of exponentials of which the largest is 1 is < 1e-37)
_LOWEST = -87.0
_LOG2E = 1.4426950408889634
# ln 2 in two parts (fdlibm's): k * _LN2_HI is exact for the k here
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_POWERS_OF_TWO = np.ldexp(1.0, np.arange(-127, 1))  # 2^k for k = -127..0


@intrinsic
def _stack_array(typingctx, width):
    """A float64 array of len(width) elements on the stack frame (uninitialised), for a
    function's own scratch: it must not outlive the function, nor be returned."""
    size = len(width)
    array_type = types.Array(types.float64, 1, "C")

    def codegen(context, builder, signature, arguments):
        data = cgutils.alloca_once(builder, ir.DoubleType(), size=size)
        array = context.make_array(array_type)(context, builder)
        item = context.get_constant(types.intp, 8)
        context.populate_array(
            array, data=data, shape=[context.get_constant(types.intp, size)],
            strides=[item], itemsize=item, meminfo=None,
        )  # fmt: skip
        return array._getvalue()

    return array_type(width), codegen


@intrinsic
def _prefetch(typingctx, array, row, column):
    """Ask the CPU to bring array[row, column]'s cache line in (llvm.prefetch, for a write,
    high locality): the tables are read at random rows, and rows a few ratings ahead are
    known. No bounds check: row and column must be valid."""

    def codegen(context, builder, signature, arguments):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, arguments[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, array, [arguments[1], arguments[2]],
            wraparound=False, boundscheck=False,
        )  # fmt: skip
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8",
        )  # fmt: skip
        address = builder.bitcast(pointer, byte_pointer)
        builder.call(prefetch, [address, i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, types.intp, types.intp), codegen


@numba.njit(inline="always")
def _exp(x):
    """exp(x) for x <= 0 to within 2 ulp (0 below ``_LOWEST``; 1 for x > 0, which only the
    padding of ``block_pass``'s rows meets), written so that a loop of them vectorises:
    x = k ln 2 + r, |r| <= ln 2 / 2, exp(r) by its Taylor series to r^13 (truncation below
    5e-18 relative), times 2^k from a table."""
    clipped = min(max(x, _LOWEST), 0.0)
    k = math.floor(clipped * _LOG2E + 0.5)
    r = (clipped - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    value = p * _POWERS_OF_TWO[int(k) + 127]
    return value if x >= _LOWEST else 0.0


@numba.njit(nogil=True, cache=True)
def block_pass(
    width,  # a tuple of K zeros: its length is the number of components, at compile time
    indptr,  # (b + 1,) row pointers of the block, from 0
    indices,  # (nnz,) item of every rating
    values,  # (nnz,) float32 or float64 ratings, as stored (minus the engine's shift)
    means,  # (d, K) float64 means in the stored frame, one item's K means contiguous
    log_prior,  # (K,) log(p_j + 1e-16)
    log_norm,  # (K,) 0.5 log(2 pi var_j)
    inv_two_var,  # (K,) 1 / (2 var_j)
    post,  # (b, K) float64: written when estep, read otherwise
    estep,  # compute post (else post is given)
    sums,  # accumulate the M-step's sums into the two arrays below
    rated,  # (d, 2 K): += post_uj x_ui in the first K columns (the weighted ratings),
    #                   += post_uj [i in C_u] in the last K (the support): one row an item
    weights,  # (K,) += post_uj
    ahead,  # prefetch the table rows of the rating this many ahead (0: none)
):
    """One pass over a block's ratings: (the block's log-likelihood, the first user whose
    density underflowed under every component, else -1).

    For user u with ratings C_u and component j, a_uj = log_prior_j - |C_u| log_norm_j -
    dist_uj / (2 var_j) with dist_uj = sum_{i in C_u} (x_ui - mu_ji)^2 (summed directly, so
    never negative); post_uj = exp(a_uj - max a_u.) / sum exp(a_u. - max a_u.), set to 0
    below 1.2e-38, and the log-likelihood adds max a_u. + log sum exp(a_u. - max a_u.)
    (the logs of a chunk's sums taken as one log of their product).
    """
    K = len(width)
    # the ratings' positions and items as unsigned integers: numba gives every signed index a
    # fix-up for negative values, which cost a quarter of a pass over MovieLens 100K
    n_users, n_ratings = indptr.size - 1, np.uintp(indptr[-1])
    ahead = np.uintp(ahead)
    # the chunk's log joints, then their exponentials, in rows of whole 8-wide vectors (the
    # columns past K stay at most 0, so their exponentials are harmless and never read)
    a = np.zeros((CHUNK_USERS, (K + 7) // 8 * 8))
    top = np.empty(CHUNK_USERS)
    distances = _stack_array(width)
    q = _stack_array(width)
    log_likelihood, bad_user = 0.0, -1
    for first in range(0, n_users, CHUNK_USERS):
        last = min(first + CHUNK_USERS, n_users)
        if estep:
            for u in range(first, last):  # distances and log joints, less their max
                for j in range(K):
                    distances[j] = 0.0
                for t in range(np.uintp(indptr[u]), np.uintp(indptr[u + 1])):
                    if ahead > 0 and t + ahead < n_ratings:
                        for c in range(0, K, 8):  # a 64-byte line holds 8 float64
                            _prefetch(means, indices[t + ahead], c)
                    x = np.float64(values[t])
                    item = np.uintp(indices[t])
                    for j in range(K):
                        diff = x - means[item, j]
                        distances[j] += diff * diff
                count = np.float64(indptr[u + 1] - indptr[u])
                r = u - first
                for j in range(K):
                    a[r, j] = log_prior[j] - count * log_norm[j] - distances[j] * inv_two_var[j]
                largest = -np.inf
                for j in range(K):
                    largest = max(largest, a[r, j])
                if not math.isfinite(largest):
                    if bad_user < 0:
                        bad_user = u
                    largest = 0.0  # the block's numbers are discarded
                top[r] = largest
                for j in range(K):
                    a[r, j] -= largest
            for r in range(last - first):  # the chunk's exponentials, 8 at a time
                for j in range(a.shape[1]):
                    a[r, j] = _exp(a[r, j])
        totals = 1.0  # the product of the chunk's sums of exponentials: one log for them all
        for u in range(first, last):
            if estep:
                r = u - first
                total = 0.0
                for j in range(K):
                    total += a[r, j]
                if not total > 0.0:  # only where the density underflowed (bad_user)
                    total = 1.0
                inverse = 1.0 / total
                for j in range(K):
                    value = a[r, j] * inverse
                    q[j] = value if value >= _TINY else 0.0
                    post[u, j] = q[j]
                log_likelihood += top[r]
                totals *= total  # each in [1, K]
                if totals > 1e280:
                    log_likelihood += math.log(totals)
                    totals = 1.0
            else:
                for j in range(K):
                    q[j] = post[u, j]
            if sums:
                for t in range(np.uintp(indptr[u]), np.uintp(indptr[u + 1])):
                    if ahead > 0 and t + ahead < n_ratings:
                        for c in range(0, 2 * K, 8):
                            _prefetch(rated, indices[t + ahead], c)
                    x = np.float64(values[t])
                    item = np.uintp(indices[t])
                    for j in range(K):
                        rated[item, j] += q[j] * x
                    for j in range(K):
                        rated[item, K + j] += q[j]
                for j in range(K):
                    weights[j] += q[j]
        log_likelihood += math.log(totals)
    return log_likelihood, bad_user


_compiling = threading.Lock()
_compiled: set = set()


def compile_vectorised(kernel, arguments: tuple) -> None:
    """Compile ``kernel`` for these arguments' types with LLVM's SLP vectoriser on, once.

    numba compiles on a function's first call with new types, with SLP vectorisation off
    (its default, ``NUMBA_SLP_VECTORIZE=0``); here the setting is turned on for this one
    compilation, under a lock, and restored. The machine code lands in numba's cache.
    """
    key = (kernel,) + tuple(
        (a.dtype.char, a.flags.c_contiguous, a.flags.writeable, a.flags.aligned)
        if type(a) is np.ndarray else len(a) if type(a) is tuple else type(a)
        for a in arguments
    )  # fmt: skip
    if key in _compiled:
        return
    with _compiling:
        if key in _compiled:
            return
        previous = numba.config.SLP_VECTORIZE
        numba.config.SLP_VECTORIZE = 1
        try:
            kernel.compile(tuple(numba.typeof(a) for a in arguments))
        finally:
            numba.config.SLP_VECTORIZE = previous
        _compiled.add(key)


@numba.njit(nogil=True, cache=True)
def means_and_errors(weighted_ratings, support, weighted_sq_norms, shift, previous, ridge, mu):
    """The M-step's means and the sums its variances need, in one pass over the (K, d) sums.

    weighted_ratings, support: (K, d) sums of ``em.Statistics`` (stored frame, any layout);
    previous: (K, d) the previous means (ratings' frame); ridge: (K,) var_j / tau^2 for
    MAP-EM, or empty for the course's M-step; mu: (d, K) output (item-major, as the sums
    and the E-step's means are), the new means in the ratings' frame. In the stored frame,
    m_ji = W_ji / S_ji where S_ji >= 1, else the previous mean (``em.supported_means``), or
    m_ji = (W_ji + shift S_ji) / (S_ji + ridge_j) - shift (``map_em``); mu = m + shift.
    Returns (sse, n_observed), (K,) each: sse_j = weighted_sq_norms_j - 2 sum_i m_ji W_ji
    + sum_i m_ji^2 S_ji (``em.squared_errors``), n_observed_j = sum_i S_ji.
    """
    d, K = mu.shape
    prior = ridge.size > 0
    cross = np.zeros(K)
    quadratic = np.zeros(K)
    n_observed = np.zeros(K)
    for i in range(d):
        for j in range(K):
            w, s = weighted_ratings[j, i], support[j, i]
            if prior:
                stored = (w + shift * s) / (s + ridge[j]) - shift
            elif s >= 1.0:
                stored = w / s
            else:
                stored = previous[j, i] - shift
            mu[i, j] = stored + shift
            cross[j] += stored * w
            quadratic[j] += stored * stored * s
            n_observed[j] += s
    sse = np.empty(K)
    for j in range(K):
        sse[j] = weighted_sq_norms[j] - 2.0 * cross[j] + quadratic[j]
    return sse, n_observed
