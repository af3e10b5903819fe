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
forces the numpy path (``"fused"`` insists on the kernel and fails without numba; ``"auto"``,
the default, takes the kernel whenever it can). Without numba the numpy path runs, with the
same results up to rounding.

One pass per iteration: ``em.run_full`` marks its ``RatingBlocks`` with ``one_pass`` (a
private cache); the fused E-step on such data then also accumulates the M-step's sums of the
posterior it just computed, and ``em.statistics`` takes them from the cache when it is asked
about that very posterior array (``is``, not a copy; each cached result serves once). The
fit loop hands the E-step's posterior straight to the M-step, so an iteration reads the
ratings once. Any other posterior (or data not so marked) gets its sums by a second pass.

Threads: the kernel releases the GIL; the blocks of ``engine.prepare`` are worked on by
``data.threads`` threads (``sum_over_blocks``), each block accumulating its own sums.

Several fits of the same data (the seeds of a model): ``fits_at_once`` runs each in a thread
of its own, and their E-steps meet in a ``Batch``, which reads the ratings once for all
their mixtures (the kernel takes G mixtures at once). On small data, where a pass costs
less than the loop around it, that shares the cost of every rating among the fits.

Beside the passes over the ratings, ``means_and_errors`` computes the M-step's means (the
course's support rule, or MAP-EM's) and the sums its variances need in one pass over the
(K, d) sums, where numpy takes a dozen: on sparse long-tailed data (d large, few ratings per
item) those cost as much as the E-step.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .._validation import is_sparse
from .blocks import RatingBlocks, map_threads, sum_over_blocks

#: the environment variable that chooses the engine: "numpy" (default), "auto" or "fused"
ENGINE_VARIABLE = "CFCORE_ENGINE"
ENGINES = ("auto", "numpy", "fused")
#: the engine when neither ``using`` nor $CFCORE_ENGINE says: numpy, the reference. The
#: kernel sums in another order, which moves a few saddle-point runs (two components seeded
#: on one point, a support of exactly 1) to another optimum, so it is opt-in
#: ("auto": the kernel wherever it can run) until it is measurably faster here.
DEFAULT_ENGINE = "numpy"

_override: str | None = None  # set by ``using``; wins over the environment variable
_kernel = None  # the compiled kernel once loaded; False when numba is not importable


def _load_kernel():
    """``_kernels.block_pass``, or None when numba cannot be imported (checked once)."""
    global _kernel
    if _kernel is None:
        try:
            from ._kernels import block_pass
        except ImportError:
            _kernel = False
        else:
            _kernel = block_pass
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

    E.g. ``with cfcore.engine.using("numpy"): em.run(X, ...)`` times or checks today's path
    beside the kernel. Not thread-local: it sets the engine for the whole process meanwhile.
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
    """The sums of the last fused E-step's posterior, for the M-step that follows it."""

    post: np.ndarray | None = None
    sums: tuple | None = None

    def keep(self, post: np.ndarray, sums: tuple) -> None:
        self.post, self.sums = post, sums

    def take(self, post: np.ndarray) -> tuple | None:
        if self.post is None or post is not self.post:
            return None
        sums, self.post, self.sums = self.sums, None, None
        return sums


def one_pass(data: RatingBlocks) -> RatingBlocks:
    """``data`` marked for the fit loop: its fused E-steps also compute the M-step's sums.

    The same blocks (no copy); only the mark differs. For loops that pass each E-step's
    posterior, unmodified, to the next M-step (``common.iterate``), as em.run_full does.
    A member of a ``Batch`` already keeps its sums and is returned as it is.
    """
    if isinstance(data.cache, _OnePass):
        return data
    return data._replace(cache=_OnePass())


@dataclass(eq=False)
class _Sums:
    """The M-step sums (item-major) and log-likelihoods of G mixtures over some blocks."""

    log_likelihood: np.ndarray  # (G,)
    bad_user: np.ndarray  # (G,) first user whose density underflowed, else -1
    rated: np.ndarray | None = None  # (d, 2 G K): weighted ratings, then support, per item
    weighted_sq_norms: np.ndarray | None = None  # (G K,)
    weights: np.ndarray | None = None

    def plus(self, other: _Sums) -> _Sums:
        self.log_likelihood += other.log_likelihood
        later = (self.bad_user < 0) & (other.bad_user >= 0)
        self.bad_user[later] = other.bad_user[later]
        if self.rated is not None:
            self.rated += other.rated
            self.weighted_sq_norms += other.weighted_sq_norms
            self.weights += other.weights
        return self

    def statistics(self, g: int, K: int) -> tuple:
        """Mixture g's (weighted_ratings, support, weighted_sq_norms, weights), as
        em.Statistics holds them: (K, d), (K, d), (K,), (K,)."""
        part, GK = slice(g * K, (g + 1) * K), self.weights.size
        return (
            self.rated[:, part].T,
            self.rated[:, GK + g * K : GK + (g + 1) * K].T,
            self.weighted_sq_norms[part],
            self.weights[part],
        )


_EMPTY_2D, _EMPTY_1D = np.zeros((0, 0)), np.zeros(0)

#: a block's ratings are read once for the E-step and the sums together while the means and
#: the sums (24 d G K bytes) fit in this much; beyond it, twice in a row: one pass per table
#: keeps each in cache (measured: the same time on MovieLens 100K, 2.5x less at 59,047
#: items; rereading a block costs far less than the cache misses of two large tables)
ONE_PASS_BYTES = 1 << 22


def _run(data: RatingBlocks, means, log_prior, log_norm, inv_two_var, post, G, *, estep, sums):
    """The kernel over every block of data (``data.threads`` at a time), sums added up."""
    kernel = _load_kernel()
    d, GK = data.X.shape[1], post.shape[1]

    def block(b: int) -> _Sums:
        R, rows = data.blocks[b], data.rows(b)
        out = _Sums(np.zeros(G), np.full(G, -1, dtype=np.int64))
        if sums:
            out.rated = np.zeros((d, 2 * GK))
            out.weighted_sq_norms, out.weights = np.zeros(GK), np.zeros(GK)
            arrays = (out.rated, out.weighted_sq_norms, out.weights)
        else:
            arrays = (_EMPTY_2D, _EMPTY_1D, _EMPTY_1D)
        arguments = (R.X.indptr, R.X.indices, R.X.data, means, log_prior, log_norm, inv_two_var)
        results = (out.log_likelihood, out.bad_user)
        if estep and sums and 24 * d * GK > ONE_PASS_BYTES:  # the E-step, then the sums
            kernel(*arguments, post[rows], True, False, *arrays, *results)
            kernel(*arguments, post[rows], False, True, *arrays, *results)
        else:
            kernel(*arguments, post[rows], estep, sums, *arrays, *results)
        out.bad_user[out.bad_user >= 0] += rows.start
        return out

    return sum_over_blocks(block, data, plus=_Sums.plus, limit_blas=False)


def _estep_of_mixtures(data: RatingBlocks, requests: list, *, sums: bool) -> list:
    """One pass for G mixtures (means (K, d), var (K,), log_prior (K,)) of the same K:
    [(post (n, K), log-likelihood, their sums or None), or None if a density underflowed]."""
    G, (K, d) = len(requests), requests[0][0].shape
    means = np.empty((d, G * K))
    for g, (mu, _, _) in enumerate(requests):
        means[:, g * K : (g + 1) * K] = mu.T
    var = np.concatenate([np.asarray(v, dtype=np.float64) for _, v, _ in requests])
    log_prior = np.concatenate([np.asarray(lp, dtype=np.float64) for _, _, lp in requests])
    post = np.empty((data.n_users, G * K))
    total = _run(
        data, means, log_prior, 0.5 * np.log(2.0 * np.pi * var), 1.0 / (2.0 * var), post, G,
        estep=True, sums=sums,
    )  # fmt: skip
    results = []
    for g in range(G):
        if total.bad_user[g] >= 0:
            results.append(None)
            continue
        own = post if G == 1 else np.ascontiguousarray(post[:, g * K : (g + 1) * K])
        results.append(
            (own, float(total.log_likelihood[g]), total.statistics(g, K) if sums else None)
        )
    return results


def estep(data: RatingBlocks, means: np.ndarray, var: np.ndarray, log_prior: np.ndarray):
    """The E-step of ``cfcore.em`` in one compiled pass: (post (n, K), log-likelihood), or
    None when some user's density underflowed under every component (em's numpy path then
    raises its error). means: (K, d) in the stored frame (mu - data.shift); var: (K,);
    log_prior: (K,) log(p_j + 1e-16). On data marked by ``one_pass`` the same pass also
    computes the M-step's sums of this posterior, which ``statistics`` then returns; on a
    member of a ``Batch`` the pass is shared with the other members' E-steps.
    """
    cache = data.cache
    if isinstance(cache, _Member):
        result = cache.batch.submit(cache, (means, var, log_prior))
    else:
        one = isinstance(cache, _OnePass)
        result = _estep_of_mixtures(data, [(means, var, log_prior)], sums=one)[0]
    if result is None:
        return None
    post, log_likelihood, sums = result
    if isinstance(cache, _OnePass) and sums is not None:
        cache.keep(post, sums)
    return post, log_likelihood


def statistics(data: RatingBlocks, post: np.ndarray) -> tuple:
    """em.Statistics' four sums of ``post`` (n, K): from the one-pass cache when post is the
    array the last fused E-step on ``data`` returned, else by one compiled pass."""
    cached = data.cache.take(post) if isinstance(data.cache, _OnePass) else None
    if cached is not None:
        return cached
    K = post.shape[1]
    given = np.ascontiguousarray(post, dtype=np.float64)
    unused = np.zeros(K)  # the means and densities: only the sums are computed
    total = _run(
        data, np.zeros((0, K)), unused, unused, unused, given, 1, estep=False, sums=True
    )  # fmt: skip
    return total.statistics(0, K)


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


# -- several fits of the same data, their E-steps in one pass ---------------------------

#: a batch's mixtures share passes of at most ``BATCH_MIXTURES`` mixtures whose tables (the
#: means and the M-step sums, 24 d K bytes a mixture) fit in this much: on MovieLens 100K
#: (d = 1,682) five mixtures a pass take half the time each of a pass of their own; where
#: one mixture's tables already outgrow a core's cache (the long-tailed matrix, d > 10,000)
#: sharing a pass saves little alone and loses much when other processes share the cache
BATCH_TABLE_BYTES = 1 << 21
BATCH_MIXTURES = 16


@dataclass(eq=False)
class _Member(_OnePass):
    """A fit's handle on its ``Batch``: its E-steps go through the batch's shared passes."""

    batch: Batch | None = None


class Batch:
    """Independent fits of the same data whose E-steps share passes over the ratings.

    Each fit runs its own loop (``common.iterate``, in a thread of its own) on
    ``member(i)``; when every fit still running has asked for its E-step, one thread runs
    them all at once, the ratings read once for several mixtures (as many as keep their
    tables within ``BATCH_TABLE_BYTES``), and hands each fit its posterior, log-likelihood
    and M-step sums. A fit's numbers are those it would get alone (the same arithmetic per
    mixture, in the same order). A fit that ends calls ``leave``. Used by
    ``fits_at_once``; not for fits that run one after another in one thread.
    """

    def __init__(self, data: RatingBlocks, members: int):
        self.data, self.active = data, members
        self.waiting: dict = {}
        self.results: dict = {}
        self.condition = threading.Condition()

    def member(self) -> RatingBlocks:
        return self.data._replace(cache=_Member(batch=self))

    def submit(self, member: _Member, request):
        with self.condition:
            self.waiting[member] = request
            if len(self.waiting) >= self.active:
                self._run_waiting()
            while member not in self.results:
                self.condition.wait()
            result = self.results.pop(member)
        if isinstance(result, BaseException):
            raise result
        return result

    def leave(self) -> None:
        with self.condition:
            self.active -= 1
            if self.waiting and len(self.waiting) >= self.active:
                self._run_waiting()

    def _run_waiting(self) -> None:
        """Every waiting E-step at once (called with the condition held)."""
        waiting, self.waiting = self.waiting, {}
        by_shape: dict = {}  # mixtures of the same K share a pass
        for member, request in waiting.items():
            by_shape.setdefault(request[0].shape, []).append(member)
        try:
            for (K, d), members in by_shape.items():
                per_pass = max(1, min(BATCH_MIXTURES, BATCH_TABLE_BYTES // (24 * d * K)))
                for first in range(0, len(members), per_pass):
                    chunk = members[first : first + per_pass]
                    results = _estep_of_mixtures(self.data, [waiting[m] for m in chunk], sums=True)
                    self.results.update(zip(chunk, results, strict=True))
        except BaseException as error:  # every fit still waiting sees it
            self.results.update({m: error for m in waiting if m not in self.results})
        self.condition.notify_all()


def fits_at_once(work, jobs: list) -> list:
    """[work(data, item) for data, item in jobs], each job in a thread of its own, the
    E-steps of the jobs on the same data (the same object) sharing passes (``Batch``).

    For the seeds of a model: each fit runs as it would alone and the results come back in
    the order of ``jobs``. Without the kernel (no numba, dense data, the numpy engine) the
    jobs run on ``map_threads``, one per core.
    """
    if not jobs:
        return []
    if not all(applies(data) for data, _ in jobs):
        return map_threads(lambda job: work(*job), jobs)
    batches = {}
    for data, _ in jobs:
        batches.setdefault(id(data), [data, 0])[1] += 1
    batches = {key: Batch(data, count) for key, (data, count) in batches.items()}

    def run(job):
        data, item = job
        batch = batches[id(data)]
        try:
            return work(batch.member(), item)
        finally:
            batch.leave()

    return map_threads(run, jobs, threads=len(jobs))
