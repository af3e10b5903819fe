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

from ..engine import RatingBlocks
from . import response_em
from .hybrid import HybridMixture


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

    def _run_em(self, data: RatingBlocks, mixture, post):
        return response_em.run_full(
            data,
            mixture,
            post,
            response_weight=self.response_weight,
            response_prior=self.response_prior,
            prior_variance=self.prior_variance_,
            min_variance=self.min_variance_,
            max_iter=self.max_iter,
        )

    def _estep(self, data, mixture) -> tuple[np.ndarray, float]:
        """The response-aware E-step: a user's ratings and which items they rated (so the
        fold-in of a new user reads both too)."""
        return response_em.estep(data, mixture, self.response_weight)
