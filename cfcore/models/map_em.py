"""MAP-EM: the course's missing-data EM with a Gaussian prior on the cluster means.

With mu_ji ~ N(0, tau^2) (``prior_variance`` = tau^2), the M-step's mean becomes

    mu_ji = sum_u post_uj x_ui [i in C_u] / (sum_u post_uj [i in C_u] + var_j / tau^2),

which pulls a cluster mean toward 0 where the cluster has little support on item i; as
tau^2 -> infinity it is the course's M-step. The E-step is ``em``'s; the M-step reuses its
sums (``em.statistics``) and its variance and weight update (``em.variances_and_weights``):
only the denominator of mu_ji and the objective's log-prior term differ (derivation in
docs/derivations.md and notebook 06).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import em
from .._validation import check_non_negative, check_posterior
from ..common import MIN_VARIANCE, GaussianMixture, Outcome, as_mixture, iterate
from ..engine import RatingBlocks, fused, one_pass, prepare


def check_prior_variance(prior_variance) -> float | None:
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
    data: RatingBlocks,
    post: np.ndarray,
    previous: GaussianMixture,
    prior_variance: float | None,
    min_variance: float,
) -> GaussianMixture:
    if prior_variance is None:
        return em._mstep(data, post, previous, min_variance)
    # the course's products: sum_u post_uj x_ui, its support
    return _map_mstep_from_statistics(
        data, em.statistics(data, post), previous, prior_variance, min_variance
    )


def _map_mstep_from_statistics(
    data, sums: em.Statistics, previous: GaussianMixture, prior_variance: float, min_variance
) -> GaussianMixture:
    """The MAP M-step from its sums over users (``em.statistics``, or sums of them over
    partitions of users on a cluster); data: anything with ``shift`` and ``n_users``."""
    if isinstance(data, RatingBlocks) and fused.applies(data):  # below, in one compiled pass
        ridge = previous.var / prior_variance
        mu, sse, n_observed = fused.means_and_errors(sums, data.shift, previous.mu, ridge)
        var = em.variances(sse, n_observed, previous.var, min_variance)
        return GaussianMixture(mu, var, sums.weights / data.n_users)
    weighted_ratings = sums.weighted_ratings + data.shift * sums.support  # unshifted frame
    # conditional maximum over mu at the previous variances (an ECM step) ...
    mu = weighted_ratings / (sums.support + previous.var[:, None] / prior_variance)
    # ... then var at the new mu and p: the course's formulas (the prior involves neither)
    return em.variances_and_weights(data, sums, mu - data.shift, previous, min_variance)


def map_mstep(
    X,
    post: np.ndarray,
    mixture: GaussianMixture,
    prior_variance: float | None,
    min_variance: float = MIN_VARIANCE,
) -> GaussianMixture:
    """One MAP M-step with the prior mu_ji ~ N(0, prior_variance) (docs/derivations.md).

    mu_ji = sum_u post_uj x_ui [i in C_u] / (sum_u post_uj [i in C_u] + var_j / tau^2),
    with var_j the variance of ``mixture`` (an ECM step: mu first, var given the new mu);
    var_j = max(min_variance, sum_u post_uj sum_{i in C_u} (x_ui - mu_ji)^2
                              / sum_u post_uj |C_u|);  p_j = sum_u post_uj / n.
    prior_variance=None is the course's M-step (``em.mstep``).
    X: (n, d) dense (0 = missing) or CSR (stored = observed, may be negative); post: (n, K).
    """
    data = prepare(X, allow_negative=True)
    mixture = as_mixture(mixture, data.X.shape[1])
    post = check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    prior_variance = check_prior_variance(prior_variance)
    min_variance = check_non_negative(min_variance, "min_variance")
    return _map_mstep(data, post, mixture, prior_variance, min_variance)


def _log_posterior_estep(data, prior_variance, mixture):
    post, ll = em._estep(data, mixture)
    return post, ll + log_prior(mixture.mu, prior_variance)


def log_posterior(X, mixture: GaussianMixture, prior_variance: float | None) -> float:
    """The MAP-EM objective: log p(observed X | mixture) + log p(mu) (up to a constant in p)."""
    data = prepare(X, allow_negative=True)
    mixture = as_mixture(mixture, data.X.shape[1])
    return _log_posterior_estep(data, check_prior_variance(prior_variance), mixture)[1]


def run(
    X, mixture, post, *, prior_variance, **options
) -> tuple[GaussianMixture, np.ndarray, float]:
    """MAP-EM: alternate ``em``'s E-step and ``map_mstep`` with the course's stopping rule.

    X: (n, d) dense (0 = missing) or CSR, whose stored values may be negative (residuals).
    options: min_variance, max_iter, callback(iteration, log_posterior, mixture) after every
    iteration, as ``run_full``; the log-posterior never decreases (each step is a
    conditional maximisation of its lower bound).
    Returns (mixture, post, log_posterior of the last E-step).
    """
    return run_full(X, mixture, post, prior_variance=prior_variance, **options)[:3]


def run_full(
    X,
    mixture: GaussianMixture,
    post: np.ndarray,
    *,
    prior_variance: float | None,
    min_variance: float = MIN_VARIANCE,
    max_iter: int | None = None,
    callback=None,
) -> Outcome:
    """``run`` that also says whether it converged and after how many iterations."""
    data = one_pass(prepare(X, allow_negative=True))  # one pass over the ratings an iteration
    mixture = as_mixture(mixture, data.X.shape[1])
    check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    prior_variance = check_prior_variance(prior_variance)
    estep_fn = partial(_log_posterior_estep, data, prior_variance)
    mstep_fn = partial(
        _map_mstep,
        data,
        prior_variance=prior_variance,
        min_variance=check_non_negative(min_variance, "min_variance"),
    )
    return iterate(estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback)
