"""The response mixture: the hybrid mixture whose clusters also model which items are rated.

``HybridMixture`` (biases with a content prior, content tastes, then MAP-EM mixtures of
users and of items on what they leave) treats every missing rating as missing at random.
``ResponseMixture`` fits the same stages, and its mixtures by response-aware MAP-EM
(``response_em``): a user's cluster is inferred from how they rated *and* from which items
they chose to rate, an item's cluster from its ratings and from who rated it. Prediction
is unchanged in form,

    x_ui = m + b_u + c_i + f_i^T a_u + sum_j post_uj mu_ji + sum_j post_ij mu_ju,

averaged over the seeds, with the posteriors of the response-aware E-step. response_weight
= 0 gives ``HybridMixture`` exactly, and without content features ``ResidualMixture``
with response-aware mixtures. The defaults were chosen on validation splits carved from
u1's training ratings only (``benchmarks/tune_response.py``), never on a test fold.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..engine import RatingBlocks, prepare
from . import response_em
from .hybrid import HybridMixture
from .starts import init_observed


class ResponseMixture(HybridMixture):
    """``HybridMixture`` with response-aware mixtures (module docstring).

    response_weight: lam, the weight of "which items were rated" against "how they were
    rated" in each E-step (0: the hybrid mixture; 1: the generative model); response_prior:
    alpha, the Dirichlet pseudo-count every item gets in each cluster's distribution over
    items. Every other setting is ``HybridMixture``'s; K = 20 and prior_variance = 0.3 (on
    1-5 stars) are this model's own defaults, chosen with the others on validation (with
    the pattern in the E-step, more clusters and means pulled less toward 0 pay).
    Fitted: ``mixtures_[side]`` holds each seed's ``response_em.ResponseMixture`` (its
    log_response: (K, items of that side)).
    """

    name = "response-mixture"

    def __init__(
        self,
        K: int = 20,
        *,
        response_weight: float = 0.7,
        response_prior: float = 0.3,
        prior_variance: float | None = 0.3,
        name: str | None = None,
        **hybrid_settings,
    ):
        super().__init__(K, prior_variance=prior_variance, name=name, **hybrid_settings)
        self.response_weight, self.response_prior = response_em.check_response_settings(
            response_weight, response_prior
        )

    def _run_seed(self, data: RatingBlocks, seed: int):
        mixture, post = init_observed(data, self.K, seed, self.min_variance_)
        outcome = response_em.run_full(
            data,
            mixture,
            post,
            response_weight=self.response_weight,
            response_prior=self.response_prior,
            prior_variance=self.prior_variance_,
            min_variance=self.min_variance_,
            max_iter=self.max_iter,
        )
        post, _ = response_em.estep(data, outcome.mixture, self.response_weight)
        return post, outcome.mixture, outcome.converged

    def users_side_fold_in(self, cols: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """sum_j post_j mu_ji averaged over the seeds' user mixtures: (d,), with post the
        response-aware E-step of the new user's residual row (their ratings and which items
        they rated); a training user's row gives their fitted posterior."""
        d = self.shape_[1]
        row = sp.csr_matrix((residuals, cols, np.array([0, len(cols)])), shape=(1, d))
        data = prepare(row, allow_negative=True)
        corrections = [
            response_em.estep(data, mixture, self.response_weight)[0][0] @ mixture.mu
            for mixture in self.mixtures_["users"]
        ]
        return np.mean(corrections, axis=0)
