"""A friendlier layer over the course functions: best-of-seeds fitting and choosing K.

It calls ``common.init`` and the ``run`` of ``kmeans``, ``naive_em`` or ``em``; it does not
re-implement them. EM reaches a local optimum that depends on the initial means, so the
course runs several seeds and keeps the best (notebooks 01 and 02 show a bad seed).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from . import em, kmeans, naive_em
from ._checks import check_n_components
from .common import GaussianMixture, ProgressBar, bic
from .common import init as course_init

METHODS = ("kmeans", "naive_em", "em")


@dataclass
class FitResult:
    """The best of several seeded runs of one method at one K.

    mixture: the fitted GaussianMixture (mu (K, d), var (K,), p (K,))
    post: (n, K) posterior (one-hot for k-means) from the last E-step
    log_likelihood: of the last E-step (None for k-means); cost: k-means' cost (else None)
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


def random_responsibilities(X, K: int, seed: int = 0) -> tuple[GaussianMixture, np.ndarray]:
    """Start EM on sparse ratings from random soft assignments and one M-step.

    The course's ``common.init`` takes K users' rows as the means. On a matrix as sparse as
    MovieLens 100K (94% missing) such a row is 0 on almost every item, the first E-step
    puts each of those K users alone in "their" component, and EM ends with components of
    one user (p_j = 1/n). Here instead every user gets random responsibilities
    post_u ~ Dirichlet(1, ..., 1) (seeded) and ``em.mstep`` turns them into means, variances
    and weights: every mean starts near the item means, from which EM separates the groups.
    An item a component barely covers (soft support < 1) starts at the item's mean rating
    (the global mean for an item nobody rated).

    X: (n, d) ratings, dense (0 = missing) or CSR. Returns (mixture, post), post: (n, K).
    """
    R = em.observed(X)
    n, d = R.X.shape
    K = check_n_components(K, n)
    post = np.random.default_rng(seed).dirichlet(np.ones(K), size=n)
    totals = np.asarray(R.X.sum(axis=0), dtype=np.float64).ravel()
    support = np.asarray(R.M.sum(axis=0), dtype=np.float64).ravel()
    global_mean = totals.sum() / max(support.sum(), 1.0)
    item_means = np.where(support > 0, totals / np.maximum(support, 1.0), global_mean)
    start = GaussianMixture(np.tile(item_means, (K, 1)), np.ones(K), np.full(K, 1.0 / K))
    return em.mstep(R, post, start), post


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, e.g. seeds=range(5)")
    return seeds


def _run_one(X, K, seed, method, min_variance, max_iter, callback, start=course_init):
    """One seeded run: (mixture, post, objective, converged, n_iter)."""
    mixture, post = start(X, K, seed)
    if method == "kmeans":
        mixture, post, cost = kmeans.run(X, mixture, post, callback=callback)
        return mixture, post, cost, True, None
    module = em if method == "em" else naive_em
    options = {} if min_variance is None else {"min_variance": min_variance}
    return module._run(X, mixture, post, max_iter=max_iter, callback=callback, **options)


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
    init: f(X, K, seed) -> (mixture, post), the starting point of every seed; None is the
    course's ``common.init`` (K seeded rows of X as means), ``random_responsibilities`` the
    start that suits very sparse ratings.
    """
    method = _check_method(method)
    seeds = _check_seeds(seeds)
    if method == "kmeans" and min_variance is not None:
        raise ValueError("min_variance applies to EM only; k-means has no variance floor")
    if init is not None and not callable(init):
        raise TypeError(f"init must be None or a function f(X, K, seed), got {init!r}")
    start = course_init if init is None else init
    best, best_score, seed_scores = None, None, {}
    for seed in seeds:
        trace: list[float] = []
        with ProgressBar(f"{method} K={K} seed={seed}", enabled=progress) as show:
            callback = _tracer(trace, show)
            mixture, post, score, converged, _ = _run_one(
                X, K, seed, method, min_variance, max_iter, callback, start
            )
        score = seed_scores[seed] = float(score)
        if best is None or (score < best_score if method == "kmeans" else score > best_score):
            best, best_score = (seed, mixture, post, converged, trace), score
    seed, mixture, post, converged, trace = best
    if not converged:
        warnings.warn(
            f"the best run (seed {seed}) stopped at max_iter={max_iter} before converging; "
            "raise max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    is_em = method != "kmeans"
    return FitResult(
        method=method,
        K=K,
        seed=seed,
        mixture=mixture,
        post=post,
        log_likelihood=best_score if is_em else None,
        cost=None if is_em else best_score,
        bic=bic(X, mixture, best_score) if is_em else None,
        trace=trace,
        n_iter=len(trace),
        converged=converged,
        seed_scores=seed_scores,
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
    train_ll = em.log_likelihood(train, mixture)
    if sp.issparse(train) or sp.issparse(test):
        both = sp.csr_matrix(train) + sp.csr_matrix(test)
        overlap = sp.csr_matrix(train).multiply(sp.csr_matrix(test)).nnz
    else:
        both = np.asarray(train, dtype=float) + np.asarray(test, dtype=float)
        overlap = int(np.count_nonzero((np.asarray(train) != 0) & (np.asarray(test) != 0)))
    if overlap:
        raise ValueError(f"train and test share {overlap} entries; held-out ratings must be new")
    return em.log_likelihood(both, mixture) - train_ll


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
    if _check_method(method) == "kmeans":
        raise ValueError("BIC needs a likelihood and k-means has none; use 'naive_em' or 'em'")
    Ks = sorted(set(Ks))
    if not Ks:
        raise ValueError("Ks must hold at least one K, e.g. Ks=range(1, 13)")
    seeds = _check_seeds(seeds)
    results = {K: fit(X, K, seeds=seeds, method=method, **fit_options) for K in Ks}
    best_k = max(Ks, key=lambda K: (results[K].bic, -K))
    return Selection(results, best_k)
