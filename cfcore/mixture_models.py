"""Mixture models for held-out prediction: the course model, and its extension to residuals.

Two models, both ``cfcore.evaluate`` models (derivations in docs/derivations.md, notebook 06):

``CourseMixture``
    The course's model unchanged: ``cfcore.em`` on the training ratings, best of 5 seeds,
    K chosen on the training fold only (by BIC, the course's rule, or on a validation split
    carved from it); a missing rating is predicted by its posterior mean sum_j post_uj mu_ji.

``ResidualMixture``
    The same missing-data mixture, fitted to what regularised biases leave unexplained:

        x_ui = m + b_u + c_i + r_ui,   r_u ~ sum_j p_j N(mu_j, var_j I) over C_u,

    with a Gaussian prior mu_ji ~ N(0, tau^2) (``prior_variance`` = tau^2) on the cluster
    means, fitted by MAP-EM. The prior pulls a cluster mean toward 0 — toward "no
    correction to the biases" — where the cluster has little support on that item:

        mu_ji = sum_u post_uj r_ui / (sum_u post_uj [i in C_u] + var_j / tau^2).

    As tau^2 -> infinity this is the course's M-step; without biases it is the course model.
    The prediction is m + b_u + c_i + sum_j post_uj mu_ji, averaged over seeds (each seed
    is a different local optimum; averaging smooths the near-hard posteriors), and, with
    sides=("users", "items"), plus the same model fitted to the transposed residuals
    (clusters of items, whose coordinates are users).

The E-step is ``em``'s; the MAP M-step reuses its sums (``em._sums``: the course's two
products) and its variance and weight updates (``em._variances_and_weights``); only the
denominator of mu_ji and the objective's log-prior term differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import numpy as np
import scipy.sparse as sp

from . import em
from ._checks import check_mixture, check_posterior
from .baselines import Biases, fit_biases
from .common import GaussianMixture, init, iterate
from .evaluate import RatingModel, held_out_errors, validation_split
from .selection import fit, select_k

# ----------------------------------------------------------------------------- MAP-EM


def _check_prior_variance(prior_variance) -> float | None:
    if prior_variance is None:
        return None
    if not np.isfinite(prior_variance) or prior_variance <= 0:
        raise ValueError(
            f"prior_variance must be a positive number (or None for no prior), got {prior_variance}"
        )
    return float(prior_variance)


def log_prior(mu: np.ndarray, prior_variance: float | None) -> float:
    """log prod_{j,i} N(mu_ji | 0, tau^2) = -sum mu_ji^2 / (2 tau^2) - K d / 2 log(2 pi tau^2).

    mu: (K, d) array. prior_variance None (no prior) gives 0.
    """
    if prior_variance is None:
        return 0.0
    return float(
        -0.5 * np.sum(mu**2) / prior_variance - 0.5 * mu.size * np.log(2 * np.pi * prior_variance)
    )


def _map_mstep(
    data: em.RatingBlocks,
    post: np.ndarray,
    previous: GaussianMixture,
    prior_variance: float | None,
    min_variance: float,
) -> GaussianMixture:
    if prior_variance is None:
        return em._mstep(data, post, previous, min_variance)
    sums = em._sums(data, post)  # the course's products: sum_u post_uj x_ui, its support
    weighted_ratings = sums.weighted_ratings + data.shift * sums.support  # unshifted frame
    # conditional maximum over mu at the previous variances (an ECM step) ...
    mu = weighted_ratings / (sums.support + previous.var[:, None] / prior_variance)
    # ... then var at the new mu and p: the course's formulas (the prior involves neither)
    return em._variances_and_weights(data, sums, mu - data.shift, previous, min_variance)


def map_mstep(
    X,
    post: np.ndarray,
    mixture: GaussianMixture,
    prior_variance: float | None,
    min_variance: float = 0.25,
) -> GaussianMixture:
    """One MAP M-step with the prior mu_ji ~ N(0, prior_variance) (docs/derivations.md).

    mu_ji = sum_u post_uj x_ui [i in C_u] / (sum_u post_uj [i in C_u] + var_j / tau^2),
    with var_j the variance of ``mixture`` (an ECM step: mu first, var given the new mu);
    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2
                              / sum_u post_uj |C_u|);  p_j = sum_u post_uj / n.
    prior_variance=None is the course's M-step (``em.mstep``).
    X: (n, d) dense (0 = missing) or CSR (stored = observed, may be negative); post: (n, K).
    """
    data = em.prepare(X, allow_negative=True)
    mixture = check_mixture(mixture, data.X.shape[1])
    post = check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    prior_variance = _check_prior_variance(prior_variance)
    return _map_mstep(data, post, mixture, prior_variance, em._check_min_variance(min_variance))


def _log_posterior_estep(data, prior_variance, mixture):
    post, ll = em._estep(data, mixture)
    return post, ll + log_prior(mixture.mu, prior_variance)


def log_posterior(X, mixture: GaussianMixture, prior_variance: float | None) -> float:
    """The MAP-EM objective: log p(observed X | mixture) + log p(mu) (up to a constant in p)."""
    data = em.prepare(X, allow_negative=True)
    mixture = check_mixture(mixture, data.X.shape[1])
    return _log_posterior_estep(data, _check_prior_variance(prior_variance), mixture)[1]


def run(
    X,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    prior_variance: float | None,
    min_variance: float = 0.25,
    max_iter: int | None = None,
    callback=None,
) -> tuple[GaussianMixture, np.ndarray, float]:
    """MAP-EM: alternate ``em``'s E-step and ``map_mstep`` with the course's stopping rule.

    X: (n, d) dense (0 = missing) or CSR, whose stored values may be negative (residuals).
    callback(iteration, log_posterior, mixture) after every iteration; the log-posterior
    never decreases (each step is a conditional maximisation of its lower bound).
    Returns (mixture, post, log_posterior of the last E-step).
    """
    data = em.prepare(X, allow_negative=True)
    mixture = check_mixture(mixture, data.X.shape[1])
    check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    prior_variance = _check_prior_variance(prior_variance)
    estep_fn = partial(_log_posterior_estep, data, prior_variance)
    mstep_fn = partial(
        _map_mstep,
        data,
        prior_variance=prior_variance,
        min_variance=em._check_min_variance(min_variance),
    )
    mixture, post, objective, _, _ = iterate(
        estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback
    )
    return mixture, post, objective


def init_observed(
    X, K: int, seed: int = 0, min_variance: float = 0.25
) -> tuple[GaussianMixture, np.ndarray]:
    """The course's seeded init, with var_j measured over the observed entries only.

    mu and p are ``common.init``'s (K distinct seeded rows, uniform weights); var_j =
    max(min_variance, sum_u sum_{i in C_u} (x_ui - mu_ji)^2 / sum_u |C_u|). The course's
    var counts every missing entry as a 0 rating, which on a sparse residual matrix (values
    around 0, 94% missing) makes the first E-step nearly hard; measured on observed entries
    it starts at the data's scale. The floor makes the start a point the M-step can reach,
    so the objective cannot drop at the first iteration.
    """
    data = em.prepare(X, allow_negative=True)
    mixture, post = init(data.X, K, seed)  # seeded rows of the stored ratings
    mu = mixture.mu + data.shift
    n_observed = sum(block.counts.sum() for block in data.blocks)
    var = em._squared_distance_totals(data, mu) / max(n_observed, 1.0)
    var = np.maximum(var, em._check_min_variance(min_variance))
    if (var <= 0).any():
        raise ValueError(
            "X: the initial variance over observed entries is 0; pass min_variance > 0"
        )
    return GaussianMixture(mu, var, mixture.p), post


# ------------------------------------------------------------------ evaluation models


class CourseMixture(RatingModel):
    """The course model: ``em`` on the training ratings, best of ``seeds``, K from ``Ks``.

    select="bic": the K with the highest BIC on the training matrix (the course's rule).
    select="validation": the K with the lowest RMSE on ``validation_fraction`` of the
    training ratings held out (seeded), each K fitted on the rest; then refitted on all of
    train. Neither looks at the test fold.
    Predicts sum_j post_uj mu_ji, as ``em.fill_matrix`` does. An item nobody rated in
    training keeps its initial mean (the course's rule), so it is predicted by the global
    training mean instead; a user without ratings gets the mixture mean sum_j p_j mu_j.
    """

    name = "course-em"

    def __init__(
        self,
        Ks: Iterable[int] = range(1, 13),
        *,
        seeds=range(5),
        select: str = "bic",
        validation_fraction: float = 0.1,
        name=None,
        rating_scale=None,
    ):
        if select not in ("bic", "validation"):
            raise ValueError(f"select must be 'bic' or 'validation', got {select!r}")
        super().__init__(name=name, rating_scale=rating_scale)
        self.Ks, self.seeds, self.select = tuple(Ks), tuple(seeds), select
        self.validation_fraction = validation_fraction

    def _fit(self, X):
        Ks = [K for K in self.Ks if K <= X.shape[0]]
        if self.select == "bic":
            self.selection_ = select_k(X, Ks, seeds=self.seeds)
            self.K_ = self.selection_.best_k
            mixture = self.selection_.best.mixture
        else:
            self.validation_rmse_ = self._validation_rmse(X, Ks)
            self.K_ = min(Ks, key=lambda K: (self.validation_rmse_[K], K))
            mixture = fit(X, self.K_, seeds=self.seeds).mixture
        self.post_, _ = em.estep(X, mixture)
        self.mu_ = mixture.mu
        self.item_rated_ = np.bincount(X.indices, minlength=X.shape[1]) > 0
        self.mean_ = float(X.data.mean())

    def _validation_rmse(self, X, Ks) -> dict[int, float]:
        """{K: RMSE on a seeded validation split of X, each K fitted on the remainder}."""
        train, (rows, cols, values) = validation_split(X, self.validation_fraction, seed=0)
        scores = {}
        for K in Ks:
            model = CourseMixture([K], seeds=self.seeds, rating_scale=self.scale_)
            predictions = model.fit(train).predict(rows, cols)
            scores[K] = held_out_errors(predictions, values)[0]
        return scores

    def _predict(self, rows, cols):
        predictions = em.predict_pairs(self.post_, self.mu_, rows, cols)
        return np.where(self.item_rated_[cols], predictions, self.mean_)


def _transpose(X: sp.csr_matrix) -> sp.csr_matrix:
    """X^T as canonical CSR: items become rows, users their coordinates."""
    transposed = X.T.tocsr()
    transposed.sort_indices()
    return transposed


class ResidualMixture(RatingModel):
    """Biases + MAP-EM mixtures of their residuals, averaged over seeds (module docstring).

    K: components per mixture; sides: "users" (clusters of users, the course's view) and/or
    "items" (the same model on the transposed residuals); prior_variance: tau^2 of the prior
    on the cluster means (None = the course's maximum likelihood); seeds: the course's
    seeded initialisations, one fit each, predictions averaged; biases=False fits the mixture
    to the raw ratings (with sides=("users",), prior_variance=None and one seed that is the
    course model at a fixed K). Unseen users/items: offset 0 and posterior = the weights p.
    """

    name = "residual-mixture"

    def __init__(
        self,
        K: int = 10,
        *,
        sides: Iterable[str] = ("users", "items"),
        prior_variance: float | None = 0.16,
        seeds: Iterable[int] = range(20),
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        biases: bool = True,
        min_variance: float = 0.25,
        max_iter: int | None = 500,
        name: str | None = None,
        rating_scale=None,
    ):
        super().__init__(name=name, rating_scale=rating_scale)
        self.sides = tuple(sides)
        if not self.sides or set(self.sides) - {"users", "items"}:
            raise ValueError(f"sides must be a non-empty subset of ('users', 'items'), got {sides}")
        self.K, self.seeds = K, tuple(seeds)
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")
        self.prior_variance = _check_prior_variance(prior_variance)
        self.reg_user, self.reg_item, self.use_biases = reg_user, reg_item, biases
        self.min_variance, self.max_iter = min_variance, max_iter

    def _fit(self, X):
        n, d = X.shape
        if self.use_biases:
            self.biases_ = fit_biases(X, self.reg_user, self.reg_item)
        else:
            self.biases_ = Biases(0.0, np.zeros(n), np.zeros(d))
        residuals = self.biases_.residuals(X)
        self.fits_ = {}
        for side in self.sides:
            matrix = residuals if side == "users" else _transpose(residuals)
            data = em.prepare(matrix, allow_negative=True)
            self.fits_[side] = [self._fit_one(data, seed) for seed in self.seeds]

    def _fit_one(self, data: em.RatingBlocks, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """One seeded MAP-EM run; returns (post of a final E-step, mu)."""
        mixture, post = init_observed(data, self.K, seed, self.min_variance)
        mixture, _, _ = run(
            data,
            mixture,
            post,
            prior_variance=self.prior_variance,
            min_variance=self.min_variance,
            max_iter=self.max_iter,
        )
        post, _ = em.estep(data, mixture)
        return post, mixture.mu

    def residual_predictions(self, rows, cols, side: str) -> np.ndarray:
        """sum_j post_uj mu_ji of one side's mixture, averaged over seeds: (m,) array."""
        if side == "items":
            rows, cols = cols, rows
        fits = self.fits_[side]
        return sum(em.predict_pairs(post, mu, rows, cols) for post, mu in fits) / len(fits)

    def _predict(self, rows, cols):
        predictions = self.biases_.predict(rows, cols)
        for side in self.sides:
            predictions = predictions + self.residual_predictions(rows, cols, side)
        return predictions
