"""The benchmark's measurements on the course matrix and on complete data, side by side."""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp

from .. import common, em, naive_em
from ..models import fitting
from . import loop_em


def _best_time(work, repeat: int):
    """(the shortest wall-clock time of ``repeat`` calls, the result of the last call)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def course_matrix(users: int | None = None) -> tuple[np.ndarray, str]:
    """The course's netflix_incomplete (its first ``users`` rows), or, when its files are
    absent, random ratings of the same shape and share of missing entries."""
    from ..data import course_available, load_course

    if course_available():
        X, source = load_course("netflix_incomplete"), "course netflix_incomplete.txt"
    else:
        rng = np.random.default_rng(0)
        X = rng.integers(1, 6, size=(1_200, 1_200)).astype(float)
        X[rng.random(X.shape) < 0.228] = 0.0
        source = "random 1-5 ratings, 22.8% missing (course files not found)"
    if users is not None:
        X, source = X[:users], f"{source}, first {users} users"
    return X, source


def course_em(X: np.ndarray, *, K: int = 12, seeds=range(5), repeat: int = 3) -> dict:
    """EM with missing data from every seed, timed on the same matrix three ways.

    cfcore on the dense matrix, cfcore on the matrix as CSR, and ``loop_em`` (the same
    algorithm as a loop over users). Each is the best of ``repeat`` runs (the loop version
    runs once: it takes long enough to be steady). Every run includes ``common.init``.
    """

    def best_of_seeds(run, data):  # the best final log-likelihood, as ``fit`` chooses
        def one(seed):
            ll = run(data, *common.init(data, K, seed))[2]
            return ll, ll

        return fitting.best_of_seeds(one, seeds)[1]

    sparse = sp.csr_matrix(X)
    timings = {
        "dense": _best_time(lambda: best_of_seeds(em.run, X), repeat),
        "sparse": _best_time(lambda: best_of_seeds(em.run, sparse), repeat),
        "loop": _best_time(lambda: best_of_seeds(loop_em.run, X), 1),
    }
    seconds = {name: t for name, (t, _) in timings.items()}
    best_ll = {name: ll for name, (_, ll) in timings.items()}
    return {
        "shape": list(X.shape),
        "K": K,
        "seeds": list(seeds),
        "seconds": seconds,
        "log_likelihood": best_ll,
        "loop_over_dense": seconds["loop"] / seconds["dense"],
        "loop_over_sparse": seconds["loop"] / seconds["sparse"],
        "sparse_over_dense": seconds["sparse"] / seconds["dense"],
        "largest_relative_difference": float(
            max(abs(ll / best_ll["dense"] - 1) for ll in best_ll.values())
        ),
    }


def overlapping_blobs(n: int, d: int, K: int, spread: float = 0.3, seed: int = 0) -> np.ndarray:
    """n points in d dimensions around K centres drawn from N(0, spread^2 I), each point
    the centre of its cluster plus N(0, I) noise: the clusters overlap, so EM has work to do."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(K, d))
    return centres[rng.integers(K, size=n)] + rng.normal(size=(n, d))


def complete_data_em(n: int, d: int, *, K: int = 12, iterations=(10, 60), repeat: int = 3) -> dict:
    """Seconds per EM iteration on complete data: cfcore's naive_em and scikit-learn's
    spherical GaussianMixture, on the same data from the same initial mixture.

    Both run exactly the same number of iterations (scikit-learn with tol=0 and max_iter, so
    that it never stops early; cfcore with max_iter and its stopping rule switched off), once
    iterations[0] and once iterations[1]; the difference of the two times divided by the
    difference of the iterations is the cost of one iteration, free of either library's
    fixed costs (input checks, initialisation, scikit-learn's final E-step). Both start from
    ``common.init``: means_init, weights_init and precisions_init = 1 / var; reg_covar=0, as
    cfcore adds nothing to the variances.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = overlapping_blobs(n, d, K)
    mixture, post = common.init(X, K, seed=0)

    def cfcore_fit(max_iter):
        _, _, ll, _, done = naive_em.run_full(X, mixture, post, max_iter=max_iter, tol=-np.inf)
        return ll, done

    def sklearn_fit(max_iter):
        model = GaussianMixture(
            K,
            covariance_type="spherical",
            tol=0.0,
            reg_covar=0.0,
            max_iter=max_iter,
            weights_init=mixture.p,
            means_init=mixture.mu,
            precisions_init=1.0 / mixture.var,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        return model.lower_bound_ * n, model.n_iter_

    fits = {"cfcore": cfcore_fit, "scikit-learn": sklearn_fit}
    best = {(name, m): np.inf for name in fits for m in iterations}
    outcome = {}
    for _ in range(repeat):  # interleaved, so that both libraries meet the same load
        for m in iterations:
            for name, fit in fits.items():
                seconds, outcome[name, m] = _best_time(lambda fit=fit, m=m: fit(m), 1)
                best[name, m] = min(best[name, m], seconds)
    few, many = iterations
    for name in fits:
        done = outcome[name, many][1]
        if done != many:
            raise RuntimeError(f"{name} stopped after {done} of {many} iterations")
    per_iteration = {name: (best[name, many] - best[name, few]) / (many - few) for name in fits}
    ll = {name: outcome[name, many][0] for name in fits}
    return {
        "shape": [n, d],
        "K": K,
        "iterations": list(iterations),
        "seconds_per_iteration": per_iteration,
        "ratio": per_iteration["cfcore"] / per_iteration["scikit-learn"],
        "log_likelihood": ll,
        "relative_difference": abs(ll["cfcore"] / ll["scikit-learn"] - 1),
    }
