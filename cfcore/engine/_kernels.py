"""The compiled kernel behind ``cfcore.engine.fused`` (imported only when numba is installed).

One pass over a CSR block of users computes what ``cfcore.em`` computes for that block in
four matrix products and a log-sum-exp: each user's squared distances to the K means over
the items they rated, the log joint density, the posterior, the log-likelihood, and, with
the ratings still in cache, that user's share of the M-step's sums. The formulas are the
course's (``cfcore.em``'s docstrings); tests/test_fused.py checks this kernel against them.

Users go through in chunks of ``CHUNK_USERS``: their distances first, then the
exponentials of the whole chunk in one loop the compiler vectorises (``_exp``), then each
user's posterior and sums, while the chunk's ratings are still in cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: responsibilities below the smallest normal float32 are set to 0, as normalise_log_weights does
_TINY = float(np.finfo(np.float32).tiny)

#: users whose distances are computed before their exponentials, in one vectorised loop
CHUNK_USERS = 64

#: exp(x) for x below this is under 1.2e-38, so the responsibility it gives is set to 0
#: anyway (and what it adds to a sum of exponentials of which the largest is 1 is < 1e-37)
_LOWEST = -87.0
_LOG2E = 1.4426950408889634
# ln 2 in two parts (fdlibm's): k * _LN2_HI is exact for the k here
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_POWERS_OF_TWO = np.ldexp(1.0, np.arange(-127, 1))  # 2^k for k = -127..0


@numba.njit(inline="always")
def _exp(x):
    """exp(x) for x <= 0 to within 2 ulp (0 below ``_LOWEST``), written so that a loop of
    them vectorises: x = k ln 2 + r, |r| <= ln 2 / 2, exp(r) by its Taylor series to r^13
    (truncation below 5e-18 relative), times 2^k from a table."""
    clipped = max(x, _LOWEST)
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
    indptr,  # (b + 1,) row pointers of the block, from 0
    indices,  # (nnz,) item of every rating
    values,  # (nnz,) float32 or float64 ratings, as stored (minus the engine's shift)
    means,  # (d, G K) float64 means in the stored frame, one item's G K means contiguous
    log_prior,  # (G K,) log(p_j + 1e-16)
    log_norm,  # (G K,) 0.5 log(2 pi var_j)
    inv_two_var,  # (G K,) 1 / (2 var_j)
    post,  # (b, G K) float64: written when estep, read otherwise
    estep,  # compute post (else post is given)
    sums,  # accumulate the M-step's sums into the four arrays below
    rated,  # (d, 2 G K): += post_uj x_ui in the first G K columns (the weighted ratings),
    #                     += post_uj [i in C_u] in the last G K (the support): one row an item
    weighted_sq_norms,  # (G K,) += post_uj sum_{i in C_u} x_ui^2
    weights,  # (G K,) += post_uj
    log_likelihood,  # (G,) += the block's log-likelihood under each mixture
    bad_user,  # (G,) the first user whose density underflowed under a mixture, else -1
):
    """One pass over a block's ratings for G mixtures of K components each (G fits of the
    same data at once: the ratings are read once for all of them).

    For user u with ratings C_u and component j, a_uj = log_prior_j - |C_u| log_norm_j -
    dist_uj / (2 var_j) with dist_uj = sum_{i in C_u} (x_ui - mu_ji)^2 (summed directly, so
    never negative); within each mixture g (components gK..gK+K-1), post_uj =
    exp(a_uj - max a_u.) / sum exp(a_u. - max a_u.), set to 0 below 1.2e-38, and
    log_likelihood_g adds max a_u. + log sum exp(a_u. - max a_u.).
    """
    n_users = indptr.size - 1
    GK = means.shape[1]
    G = log_likelihood.size
    K = GK // G
    a = np.empty(CHUNK_USERS * GK)  # the chunk's log joints, then their exponentials
    top = np.empty((CHUNK_USERS, G))
    q = np.empty(GK)
    for first in range(0, n_users, CHUNK_USERS):
        last = min(first + CHUNK_USERS, n_users)
        if estep:
            for u in range(first, last):  # distances and log joints, less each mixture's max
                row = a[(u - first) * GK : (u - first + 1) * GK]
                row[:] = 0.0
                for t in range(indptr[u], indptr[u + 1]):
                    x = np.float64(values[t])
                    mu = means[indices[t]]
                    for j in range(GK):
                        diff = x - mu[j]
                        row[j] += diff * diff
                count = np.float64(indptr[u + 1] - indptr[u])
                for j in range(GK):
                    row[j] = log_prior[j] - count * log_norm[j] - row[j] * inv_two_var[j]
                for g in range(G):
                    largest = -np.inf
                    for j in range(g * K, g * K + K):
                        largest = max(largest, row[j])
                    if not math.isfinite(largest):
                        if bad_user[g] < 0:
                            bad_user[g] = u
                        largest = 0.0  # the mixture's numbers are discarded
                    top[u - first, g] = largest
                    for j in range(g * K, g * K + K):
                        row[j] -= largest
            for j in range((last - first) * GK):  # the chunk's exponentials, vectorised
                a[j] = _exp(a[j])
        for u in range(first, last):
            sq_norm = 0.0
            if estep:
                row = a[(u - first) * GK : (u - first + 1) * GK]
                for g in range(G):
                    total = 0.0
                    for j in range(g * K, g * K + K):
                        total += row[j]
                    if not total > 0.0:  # only where the density underflowed (bad_user)
                        total = 1.0
                    inverse = 1.0 / total
                    for j in range(g * K, g * K + K):
                        value = row[j] * inverse
                        q[j] = value if value >= _TINY else 0.0
                        post[u, j] = q[j]
                    log_likelihood[g] += top[u - first, g] + math.log(total)
            else:
                for j in range(GK):
                    q[j] = post[u, j]
            if sums:
                for t in range(indptr[u], indptr[u + 1]):
                    x = np.float64(values[t])
                    sq_norm += x * x
                    row = rated[indices[t]]
                    for j in range(GK):
                        row[j] += q[j] * x
                    for j in range(GK):
                        row[GK + j] += q[j]
                for j in range(GK):
                    weighted_sq_norms[j] += q[j] * sq_norm
                    weights[j] += q[j]


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
