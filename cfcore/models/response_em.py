"""Response-aware MAP-EM: a missing-data mixture that also models which entries are observed.

The course's EM uses only the ratings a user gave: the items they did not rate drop out of
every sum, which is right when ratings are *missing at random* (Little & Rubin's MAR:
whether x_ui is observed says nothing about the user's cluster). On a recommender it is
not so: which movies someone chose to rate tells a lot about their taste (Marlin, Zemel,
Roweis & Slaney, "Collaborative filtering and the missing at random assumption", UAI 2007).
Here each component also has a distribution over items, phi_j, that says which items its
users rate:

    component j with probability p_j;  C_u: |C_u| draws from Categorical(phi_j);
    x_ui ~ N(mu_ji, var_j) for i in C_u,

so a user's posterior weighs how they rated (the Gaussian) and what they rated (phi). With
a weight lam >= 0 on the response term (a tempered likelihood: lam = 1 is the generative
model, lam = 0 the course's MAR model) and a Dirichlet prior on phi_j whose pseudo-count
alpha every item gets, the objective is

    sum_u log sum_j p_j N(x_{C_u} | mu_{j,C_u}, var_j I) prod_{i in C_u} phi_ji^lam
        + log p(mu) + lam alpha sum_{j,i} log phi_ji,

with p(mu) MAP-EM's prior (``map_em``). EM for it:

E-step: a_uj = (``em.log_joint``) + lam sum_{i in C_u} log phi_ji, one more sparse product
        (M (log phi)^T, M the indicator of observed entries), then normalised as always;
M-step: mu, var, p exactly as ``map_em`` (phi enters none of them), and

        phi_ji = (S_ji + alpha) / (sum_i' S_ji' + alpha d),   S_ji = sum_u post_uj [i in C_u],

where S is the support the mean's M-step already sums: the new parameters cost nothing.
Each step maximises the objective's lower bound in its own parameters, so the objective
never decreases (property-tested); lam = 0 is ``map_em`` exactly. The items side of a
residual model runs the same code on the transposed matrix (an item's raters, as a draw
from a distribution over users per item cluster). Notebook 10 derives it.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from .. import em
from .._validation import check_non_negative, check_posterior
from ..common import (
    MIN_VARIANCE,
    GaussianMixture,
    Outcome,
    as_mixture,
    iterate,
    normalise_log_weights,
    squared_distances,
)
from ..engine import RatingBlocks, prepare, sum_over_blocks
from . import map_em


class ResponseMixture(NamedTuple):
    """A spherical mixture whose components also say which items their users rate.

    mu: (K, d) means; var: (K,) variances; p: (K,) weights (as ``GaussianMixture``);
    log_response: (K, d) log phi_ji, each row a log distribution over the d items.
    """

    mu: np.ndarray
    var: np.ndarray
    p: np.ndarray
    log_response: np.ndarray

    @property
    def gaussian(self) -> GaussianMixture:
        return GaussianMixture(self.mu, self.var, self.p)


def uniform_responses(mixture: GaussianMixture) -> ResponseMixture:
    """``mixture`` with phi_j uniform over the items: the start, where the response term
    is the same for every component and so changes no posterior."""
    K, d = np.shape(mixture.mu)
    return ResponseMixture(*mixture, np.full((K, d), -np.log(d)))


def response_log_probs(support: np.ndarray, alpha: float) -> np.ndarray:
    """log phi_ji = log(S_ji + alpha) - log(sum_i S_ji + alpha d): (K, d) array.

    support: (K, d) S_ji = sum_u post_uj [i in C_u]; alpha > 0 keeps every log finite.
    """
    counts = support + alpha
    return np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))


def check_response_settings(weight, alpha) -> tuple[float, float]:
    weight = check_non_negative(weight, "response_weight")
    alpha = check_non_negative(alpha, "response_prior")
    if weight > 0 and alpha <= 0:
        raise ValueError(
            "response_prior must be > 0 when response_weight > 0: an item that no user of a "
            "component rated would get log phi = -inf"
        )
    return weight, alpha


def _estep(data: RatingBlocks, mixture: ResponseMixture, weight: float):
    """(post (n, K), log-likelihood) with the response term; numpy always (the compiled
    kernel has no response term)."""
    mu, var, p, log_response = mixture
    means = data.stored(mu).T
    post = np.empty((data.n_users, mu.shape[0]))

    def block_estep(b: int) -> float:
        R = data.blocks[b]
        log_joint = em.log_joint(
            squared_distances(R.X, means, R.sq_norms, R.M), R.counts[:, None], var, p
        )
        if weight:
            log_joint += weight * np.asarray(R.M @ log_response.T)
        post[data.rows(b)], ll = normalise_log_weights(log_joint)
        return ll

    return post, sum_over_blocks(block_estep, data)


def log_response_prior(mixture: ResponseMixture, weight: float, alpha: float) -> float:
    """lam alpha sum_{j,i} log phi_ji: the Dirichlet prior's share of the objective."""
    return float(weight * alpha * mixture.log_response.sum()) if weight else 0.0


def _objective_estep(data, weight, alpha, prior_variance, mixture):
    post, ll = _estep(data, mixture, weight)
    return post, (
        ll
        + map_em.log_prior(mixture.mu, prior_variance)
        + log_response_prior(mixture, weight, alpha)
    )


def _mstep(data, post, previous: ResponseMixture, weight, alpha, prior_variance, min_variance):
    sums = em.statistics(data, post)
    if prior_variance is None:  # the course's means (support rule), then var and p
        mu = em.supported_means(sums, previous.mu - data.shift)
        gaussian = em.variances_and_weights(data, sums, mu, previous.gaussian, min_variance)
    else:
        gaussian = map_em._map_mstep_from_statistics(
            data, sums, previous.gaussian, prior_variance, min_variance
        )
    log_response = response_log_probs(sums.support, alpha) if weight else previous.log_response
    return ResponseMixture(*gaussian, log_response)


def estep(X, mixture: ResponseMixture, response_weight: float) -> tuple[np.ndarray, float]:
    """Posterior of every component for every user, from their ratings and which items they
    rated: (post (n, K), log-likelihood of the tempered model, without the priors).

    X: (n, d) dense (0 = missing) or CSR (stored = observed, may be negative).
    """
    data = prepare(X, allow_negative=True)
    gaussian = as_mixture(mixture[:3], data.X.shape[1])
    log_response = np.asarray(mixture[3], dtype=np.float64)
    if log_response.shape != gaussian.mu.shape:
        raise ValueError(
            f"log_response must have the means' shape {gaussian.mu.shape}, got {log_response.shape}"
        )
    weight = check_non_negative(response_weight, "response_weight")
    return _estep(data, ResponseMixture(*gaussian, log_response), weight)


def run_full(
    X,
    mixture: GaussianMixture | ResponseMixture,
    post: np.ndarray,
    *,
    response_weight: float,
    response_prior: float,
    prior_variance: float | None,
    min_variance: float = MIN_VARIANCE,
    max_iter: int | None = None,
    callback=None,
) -> Outcome:
    """Response-aware MAP-EM from ``mixture`` (a GaussianMixture starts with uniform phi).

    The course's stopping rule on the objective of the module docstring, which never
    decreases; response_weight = 0 is ``map_em.run_full`` (same iterates, same objective).
    Returns the ``Outcome`` whose mixture is a ``ResponseMixture``.
    """
    data = prepare(X, allow_negative=True)
    if not isinstance(mixture, ResponseMixture):
        mixture = uniform_responses(as_mixture(mixture, data.X.shape[1]))
    check_posterior(post, data.X.shape[0], mixture.mu.shape[0])
    weight, alpha = check_response_settings(response_weight, response_prior)
    prior_variance = map_em.check_prior_variance(prior_variance)
    estep_fn = partial(_objective_estep, data, weight, alpha, prior_variance)
    mstep_fn = partial(
        _mstep,
        data,
        weight=weight,
        alpha=alpha,
        prior_variance=prior_variance,
        min_variance=check_non_negative(min_variance, "min_variance"),
    )
    return iterate(estep_fn, mstep_fn, mixture, max_iter=max_iter, callback=callback)
