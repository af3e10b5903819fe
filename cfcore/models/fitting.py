"""A friendlier layer over the course functions: best of several seeds, and choosing K.

It calls a start from ``starts`` and the ``run_full`` of ``kmeans``, ``naive_em`` or ``em``;
it does not re-implement them. EM reaches a local optimum that depends on the initial
means, so the course runs several seeds and keeps the best (notebooks 01 and 02 show a bad
seed). Unlike the course functions, ``fit`` ends with one more E-step so that the posterior
it returns belongs to the mixture it returns.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .. import em, kmeans, naive_em
from .._validation import check_count, check_matrix, check_seeds
from ..common import MIN_VARIANCE, ConvergenceWarning, GaussianMixture, bic
from ..data import RatingsData
from ..engine import ProgressBar
from .starts import get_start

#: method -> the course module that fits it
METHODS = {"kmeans": kmeans, "naive_em": naive_em, "em": em}


@dataclass
class FitResult:
    """The best of several seeded runs of one method at one K.

    mixture: the fitted GaussianMixture (mu (K, d), var (K,), p (K,))
    post: (n, K) posterior of ``mixture`` (one-hot for k-means): a final E-step after the
        last M-step, so that post and mixture agree
    log_likelihood: of the last E-step of the loop, the number the course reports (None for
        k-means); cost: k-means' cost (else None)
    bic: log_likelihood - 0.5 * n_parameters * ln n (None for k-means)
    trace: the objective after every iteration of the best seed (log-likelihood or cost)
    seed_scores: {seed: final objective} for every seed tried
    """

    method: str
    K: int
    seed: int
    mixture: GaussianMixture
    post: np.ndarray
    log_likelihood: float | None
    cost: float | None
    bic: float | None
    trace: list[float]
    n_iter: int
    converged: bool
    seed_scores: dict[int, float] = field(default_factory=dict)


def best_of_seeds(run_one: Callable[[int], tuple], seeds, *, maximise: bool = True):
    """Run ``run_one(seed)`` -> (score, result) for every seed and keep the best.

    Ties go to the first seed. Returns (seed, result, {seed: score}).
    """
    best_seed, best_score, best_result, scores = None, None, None, {}
    for seed in check_seeds(seeds):
        score, result = run_one(seed)
        score = scores[seed] = float(score)
        if best_seed is None or (score > best_score if maximise else score < best_score):
            best_seed, best_score, best_result = seed, score, result
    return best_seed, best_result, scores


def _check_method(method: str):
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    return METHODS[method]


def fit(
    X,
    K: int,
    *,
    seeds: Iterable[int] = range(5),
    method: str = "em",
    min_variance: float | None = None,
    max_iter: int | None = None,
    progress: bool = False,
    init=None,
) -> FitResult:
    """Fit ``method`` from every seed and keep the best run.

    Best = highest log-likelihood (EM) or lowest cost (k-means); ties go to the first seed.
    X: (n, d) array (0 = missing for "em") or, for "em", a CSR matrix.
    min_variance: the variance floor (None = the module's default: 0.25 for em, 0 for naive_em).
    progress: show a tqdm bar per seed with iteration, log-likelihood and relative change.
    init: a name in ``starts.STARTS`` ("course", the course's K seeded rows; "observed-rows",
    the same rows' observed ratings with item means elsewhere; "random", the start that
    suits very sparse ratings; "observed") or f(X, K, seed) -> (mixture, post); None =
    ``starts.default_start(X)``: "course" for a dense X, "observed-rows" for a CSR matrix.
    Warns with ``ConvergenceWarning`` when the best run stopped at max_iter. An EM start
    whose variances lie below the floor is raised to it, as its first M-step would be, so the
    log-likelihood cannot fall at the first iteration (the course's own runs start above it).
    """
    module = _check_method(method)
    X = X.matrix if isinstance(X, RatingsData) else X  # its ratings; default_start sees CSR
    if method == "kmeans" and min_variance is not None:
        raise ValueError("min_variance applies to EM only; k-means has no variance floor")
    start = get_start(init, X)
    options = {} if min_variance is None else {"min_variance": min_variance}
    floor = {"em": MIN_VARIANCE, "naive_em": 0.0}.get(method, 0.0)
    floor = floor if min_variance is None else min_variance

    def run_one(seed):
        trace: list[float] = []
        with ProgressBar(f"{method} K={K} seed={seed}", enabled=progress) as show:
            mixture, post = start(X, K, seed)
            if floor and method != "kmeans":
                mu, var, p = mixture
                mixture = GaussianMixture(mu, np.maximum(np.asarray(var, float), floor), p)
            outcome = module.run_full(
                X, mixture, post, max_iter=max_iter, callback=_tracer(trace, show), **options
            )
        return outcome.objective, (outcome, trace)

    seed, (outcome, trace), scores = best_of_seeds(run_one, seeds, maximise=method != "kmeans")
    if not outcome.converged:
        warnings.warn(
            f"the best run (seed {seed}) stopped at max_iter={max_iter} before converging; "
            "raise max_iter",
            ConvergenceWarning,
            stacklevel=2,
        )
    post, _ = module.estep(X, outcome.mixture)  # the posterior of the returned mixture
    is_em = method != "kmeans"
    score = scores[seed]
    return FitResult(
        method=method,
        K=K,
        seed=seed,
        mixture=outcome.mixture,
        post=post,
        log_likelihood=score if is_em else None,
        cost=None if is_em else score,
        bic=bic(X, outcome.mixture, score) if is_em else None,
        trace=trace,
        n_iter=outcome.n_iter,
        converged=outcome.converged,
        seed_scores=scores,
    )


def _tracer(trace: list[float], show: ProgressBar):
    def callback(iteration, objective, mixture):
        trace.append(float(objective))
        show(iteration, objective, mixture)

    return callback


def held_out_log_likelihood(train, test, mixture: GaussianMixture) -> float:
    """log p(test ratings | training ratings, mixture), summed over users (notebook 04).

    Given its group, a user's ratings are independent, so for each user
    p(x_test | x_train) = p(x_train, x_test) / p(x_train), and the total is
    em.log_likelihood(train + test) - em.log_likelihood(train): the chain rule, with no new
    code. train, test: (n, d) ratings over disjoint entries (dense with 0 = missing, or CSR).
    """
    train = check_matrix(train, "train", ratings=True, allow_sparse=True)
    test = check_matrix(test, "test", ratings=True, allow_sparse=True)
    if train.shape != test.shape:
        raise ValueError(
            f"train and test must rate the same users and items, got shapes "
            f"{train.shape} and {test.shape}"
        )
    if sp.issparse(train) or sp.issparse(test):
        both = sp.csr_matrix(train) + sp.csr_matrix(test)
        # stored = observed, a stored 0 included: compare the patterns, not the values
        overlap = _pattern(train).multiply(_pattern(test)).nnz
    else:
        both = np.asarray(train, dtype=float) + np.asarray(test, dtype=float)
        overlap = int(np.count_nonzero((np.asarray(train) != 0) & (np.asarray(test) != 0)))
    if overlap:
        raise ValueError(f"train and test share {overlap} entries; held-out ratings must be new")
    return em.log_likelihood(both, mixture) - em.log_likelihood(train, mixture)


def _pattern(X) -> sp.csr_matrix:
    """The 0/1 indicator of observed entries: stored ones of a CSR matrix, non-zeros of a
    dense one."""
    X = sp.csr_matrix(X)
    return sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)


@dataclass
class Selection:
    """Fits over a range of K and the K with the highest BIC.

    results: {K: FitResult}; best_k: argmax_K BIC; best: results[best_k].
    """

    results: dict[int, FitResult]
    best_k: int

    @property
    def best(self) -> FitResult:
        return self.results[self.best_k]

    def table(self) -> list[dict]:
        """One row per K: K, seed, log_likelihood, bic, n_iter."""
        return [
            {
                "K": K,
                "seed": r.seed,
                "log_likelihood": r.log_likelihood,
                "bic": r.bic,
                "n_iter": r.n_iter,
            }
            for K, r in self.results.items()
        ]


def select_k(
    X,
    Ks: Iterable[int],
    *,
    seeds: Iterable[int] = range(5),
    method: str = "em",
    **fit_options,
) -> Selection:
    """Fit every K in ``Ks`` (best of ``seeds``) and pick the K with the highest BIC.

    BIC needs a likelihood, so method is "naive_em" or "em". Ties go to the smaller K.
    """
    _check_method(method)
    if method == "kmeans":
        raise ValueError("BIC needs a likelihood and k-means has none; use 'naive_em' or 'em'")
    if isinstance(Ks, str | bytes) or not isinstance(Ks, Iterable):
        raise TypeError(f"Ks must be the K values to try, e.g. Ks=range(1, 13) or [3], got {Ks!r}")
    Ks = sorted({check_count(K, "every K in Ks") for K in Ks})
    if not Ks:
        raise ValueError("Ks must hold at least one K, e.g. Ks=range(1, 13)")
    seeds = check_seeds(seeds)
    results = {K: fit(X, K, seeds=seeds, method=method, **fit_options) for K in Ks}
    best_k = max(Ks, key=lambda K: (results[K].bic, -K))
    return Selection(results, best_k)
