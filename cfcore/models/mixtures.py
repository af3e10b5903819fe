"""Mixture models for held-out prediction: the course model, and its extension to residuals.

Two ``RatingModel`` subclasses (derivations in docs/derivations.md, notebook 06):

``CourseMixture``
    The course's model unchanged: ``cfcore.em`` on the training ratings, best of 5 seeds,
    K chosen on the training fold only (by BIC, the course's rule, or on a validation split
    carved from it); a missing rating is predicted by its posterior mean sum_j post_uj mu_ji.

``ResidualMixture``
    The same missing-data mixture, fitted to what regularised biases leave unexplained:

        x_ui = m + b_u + c_i + r_ui,   r_u ~ sum_j p_j N(mu_j, var_j I) over C_u,

    with a Gaussian prior mu_ji ~ N(0, tau^2) (``prior_variance`` = tau^2) on the cluster
    means, fitted by MAP-EM (``map_em``). The prior pulls a cluster mean toward 0 — toward "no
    correction to the biases" — where the cluster has little support on that item:

        mu_ji = sum_u post_uj r_ui / (sum_u post_uj [i in C_u] + var_j / tau^2).

    As tau^2 -> infinity this is the course's M-step; without biases it is the course model.
    The prediction is m + b_u + c_i + sum_j post_uj mu_ji, averaged over seeds (each seed
    is a different local optimum; averaging smooths the near-hard posteriors), and, with
    sides=("users", "items"), plus the same model fitted to the transposed residuals
    (clusters of items, whose coordinates are users).

Both fold a new user in without refitting: ``fold_in(cols, values)`` predicts every item
for someone who rated the items ``cols`` (column indices) with ``values`` (the course
mixture: one E-step of their row; the residual mixture: their bias in closed form, then each
side's correction; ``ResidualMixture.fold_in`` says how). ``cfcore.apps.recommender`` builds
recommendations on it.

"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from .. import em
from .._validation import check_count, check_seeds
from ..common import MIN_VARIANCE, ConvergenceWarning, GaussianMixture
from ..data import holdout
from ..engine import (
    RatingBlocks,
    map_threads,
    prepare,
    transpose,
    with_data,
)
from . import map_em
from .base import RatingModel
from .baselines import Biases, fit_biases
from .fitting import fit, select_k
from .fold_in import clipped_fold_in, new_coordinate_means, new_user_row
from .metrics import held_out_errors
from .starts import init_observed, init_observed_rows

#: the width of the scale the variance settings are stated on: 1-5 stars
REFERENCE_SCALE_WIDTH = 4.0


def scaled_variance(variance: float | None, scale: tuple[float, float]) -> float | None:
    """A variance stated on a 1-5 scale, in the squared units of ``scale`` (low, high).

    variance * ((high - low) / 4)^2: a floor of 0.25 (half a star, squared) on 1-5 stars is
    the same half-a-fifth-of-the-range on 0-10 (1.5625) or on 0.5-5 half stars. On a scale
    of width 4 the factor is exactly 1, so 1-5 results do not change. None stays None.
    """
    if variance is None:
        return None
    low, high = scale
    if high == low:
        raise ValueError(
            f"the rating scale ({low:g}, {high:g}) has no width, so no variance can be stated "
            "on it (every training rating is the same and the scale was inferred from them?); "
            "pass rating_scale=(lowest, highest) possible rating"
        )
    return variance * ((high - low) / REFERENCE_SCALE_WIDTH) ** 2


class CourseMixture(RatingModel):
    """The course model: ``em`` on the training ratings, best of ``seeds``, K from ``Ks``.

    select="bic": the K with the highest BIC on the training matrix (the course's rule).
    select="validation": the K with the lowest RMSE on ``validation_fraction`` of the
    training ratings held out (seeded), each K fitted on the rest; then refitted on all of
    train. Neither looks at the test fold.
    Predicts sum_j post_uj mu_ji, as ``em.fill_matrix`` does. EM starts from the real-data
    start (``starts.init_observed_rows``: the seeded users' observed ratings, the item's mean
    where they did not rate it), and a mean without support keeps its start value, so an
    item nobody rated in training is predicted by the global training mean; a user without
    ratings gets the mixture mean sum_j p_j mu_j.
    Any numeric rating scale works: EM needs ratings >= 0, so it runs on x_ui - low, with
    low = ``scale_[0]`` (the declared or given scale's low end), and low is added back to
    the means (``mixture_`` is in the ratings' own frame; ``selection_``'s fits are in the
    shifted one: add ``scale_[0]`` to their means); no result depends on the shift. The
    variance floor, 0.25 on 1-5 stars, follows the scale (``scaled_variance``).
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
        self.Ks = tuple(check_count(K, "every K in Ks") for K in Ks)
        self.seeds, self.select = tuple(check_seeds(seeds)), select
        self.validation_fraction = validation_fraction

    def _fit(self, X):
        self.train_ = X  # the training ratings, for ``incremental.LiveModel`` to learn on from
        Ks = [K for K in self.Ks if K <= X.shape[0]]
        if not Ks:
            raise ValueError(
                f"{self.name}: every K in Ks={list(self.Ks)} exceeds the {X.shape[0]} users of "
                "train; a mixture needs at least as many users as components"
            )
        shift = self.scale_[0]
        shifted = with_data(X, X.data - shift)  # >= 0, every stored entry still observed
        options = dict(
            seeds=self.seeds,
            init="observed-rows",
            min_variance=scaled_variance(MIN_VARIANCE, self.scale_),
        )
        if self.select == "bic":
            self.selection_ = select_k(shifted, Ks, **options)
            self.K_ = self.selection_.best_k
            result = self.selection_.best
        else:
            self.validation_rmse_ = self._validation_rmse(X, Ks)
            self.K_ = min(Ks, key=lambda K: (self.validation_rmse_[K], K))
            result = fit(shifted, self.K_, **options)
        mu, var, p = result.mixture
        self.mixture_ = GaussianMixture(mu + shift, var, p)
        self.post_, self.mu_ = result.post, self.mixture_.mu  # post: of that very mixture

    def _validation_rmse(self, X, Ks) -> dict[int, float]:
        """{K: RMSE on a seeded validation split of X, each K fitted on the remainder}."""
        split = holdout(X, self.validation_fraction, seed=0)
        scores = {}
        for K in Ks:
            model = CourseMixture([K], seeds=self.seeds, rating_scale=self.scale_)
            predictions = model.fit(split.train.matrix).predict(split.rows, split.cols)
            scores[K] = held_out_errors(predictions, split.values)[0]
        return scores

    def _predict(self, rows, cols):
        return em.predict_pairs(self.post_, self.mu_, rows, cols)

    def fold_in(self, cols, values) -> np.ndarray:
        """Predicted rating of every item for a new user who rated ``cols`` with ``values``: (d,).

        One E-step of their row against the fitted mixture, in the frame the model is fitted
        in (ratings minus low = ``scale_[0]``; the posterior does not depend on the shift):

            post_j = p_j N(x_C - low | mu_jC - low, var_j I) / sum_l (the same for l),
            pred_i = sum_j post_j mu_ji,

        clipped to ``scale_``; nothing is refitted. A training user's own row gives exactly
        ``predict`` for that user (the same E-step as the fit's final one); no ratings give
        sum_j p_j mu_ji. cols: (m,) distinct column indices; values: (m,) ratings in scale_.
        """
        row = new_user_row(self, cols, values)
        low = self.scale_[0]
        mu, var, p = self.mixture_
        post, _ = em.estep(with_data(row, row.data - low), GaussianMixture(mu - low, var, p))
        return clipped_fold_in(self, post[0] @ mu)


class ResidualMixture(RatingModel):
    """Biases + MAP-EM mixtures of their residuals, averaged over seeds (module docstring).

    K: components per mixture; sides: "users" (clusters of users, the course's view) and/or
    "items" (the same model on the transposed residuals); prior_variance: tau^2 of the prior
    on the cluster means (None = the course's maximum likelihood); seeds: the course's
    seeded initialisations, one fit each, predictions averaged; biases=False fits the mixture
    to the raw ratings (with sides=("users",), prior_variance=None and one seed that is the
    course model at a fixed K). Unseen users/items: offset 0 and posterior = the weights p.
    Start: ``init_observed`` on the residuals, where a coordinate the seeded user did not
    rate starts at 0, the prior mean ("no correction to the biases"); with biases=False the
    values are ratings, so it is ``init_observed_rows`` (item means there, never a 0).
    prior_variance and min_variance are stated on a 1-5 scale and follow the data's scale
    (``scaled_variance``: times ((high - low) / 4)^2); ``prior_variance_`` and
    ``min_variance_`` are the values used. reg_user and reg_item are counts of ratings, so
    they need no rescaling. threads: how many of the seeds' fits run at once (default: one
    per core; 1: one after another); each runs as it would alone: results do not change.
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
        min_variance: float = MIN_VARIANCE,
        max_iter: int | None = 500,
        threads: int | None = None,
        name: str | None = None,
        rating_scale=None,
    ):
        super().__init__(name=name, rating_scale=rating_scale)
        self.threads = None if threads is None else check_count(threads, "threads")
        self.sides = tuple(sides)
        if not self.sides or set(self.sides) - {"users", "items"}:
            raise ValueError(f"sides must be a non-empty subset of ('users', 'items'), got {sides}")
        self.K, self.seeds = check_count(K, "K"), tuple(check_seeds(seeds))
        self.prior_variance = map_em.check_prior_variance(prior_variance)
        self.reg_user, self.reg_item, self.use_biases = reg_user, reg_item, biases
        if not biases and self.prior_variance is not None:
            raise ValueError(
                "prior_variance: the prior pulls cluster means toward 0, 'no correction to the "
                "biases', which suits residuals only; with biases=False pass prior_variance=None"
            )
        self.min_variance, self.max_iter = min_variance, max_iter

    def _fit(self, X):
        self.train_ = X  # the training ratings, for ``incremental.LiveModel`` to learn on from
        self.prior_variance_ = scaled_variance(self.prior_variance, self.scale_)
        self.min_variance_ = scaled_variance(self.min_variance, self.scale_)
        for side, n_rows in (("users", X.shape[0]), ("items", X.shape[1])):
            if side in self.sides and self.K > n_rows:
                raise ValueError(
                    f"{self.name}: K={self.K} exceeds the {n_rows} {side} of train, and the "
                    f"{side} side clusters the {side} into K components; lower K"
                )
        residuals = self._fit_offsets(X)
        self.fits_, self.mixtures_, self.unconverged_ = {}, {}, 0
        layouts = {  # each side checked and laid out once, for all its seeds
            side: prepare(
                residuals if side == "users" else transpose(residuals), allow_negative=True
            )
            for side in self.sides
        }
        runs = [(layouts[side], seed) for side in self.sides for seed in self.seeds]
        # the runs are independent: one thread per core, each run as it would run alone
        fitted = map_threads(lambda run: self._run_seed(*run), runs, self.threads)
        runs = [(side, seed) for side in self.sides for seed in self.seeds]
        for side in self.sides:
            ours = [fit for (name, _), fit in zip(runs, fitted, strict=True) if name == side]
            self.fits_[side] = [(post, mixture.mu) for post, mixture, _ in ours]
            self.mixtures_[side] = [mixture for _, mixture, _ in ours]  # what fold_in needs
            self.unconverged_ += sum(not converged for _, _, converged in ours)
        if self.unconverged_:
            warnings.warn(
                f"{self.name}: {self.unconverged_} of {len(self.seeds) * len(self.sides)} MAP-EM "
                f"runs stopped at max_iter={self.max_iter} before converging; raise max_iter",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _fit_offsets(self, X) -> sp.csr_matrix:
        """Fit what the mixtures refine (here the biases); return the residuals they model."""
        n, d = X.shape
        if self.use_biases:
            self.biases_ = fit_biases(X, self.reg_user, self.reg_item)
        else:
            self.biases_ = Biases(0.0, np.zeros(n), np.zeros(d))
        return self.biases_.residuals(X)

    def _fit_one(self, data: RatingBlocks, seed: int) -> tuple[np.ndarray, GaussianMixture]:
        """One seeded MAP-EM run; returns (post of a final E-step, the fitted mixture)."""
        post, mixture, converged = self._run_seed(data, seed)
        self.unconverged_ += not converged
        return post, mixture

    def _run_seed(self, data: RatingBlocks, seed: int):
        """``_fit_one`` without the count: (post, mixture, converged), safe to run in threads."""
        start = init_observed if self.use_biases else init_observed_rows
        mixture, post = start(data, self.K, seed, self.min_variance_)
        outcome = self._run_em(data, mixture, post)
        post, _ = self._estep(data, outcome.mixture)  # the posterior of the returned mixture
        return post, outcome.mixture, outcome.converged

    def _run_em(self, data: RatingBlocks, mixture, post):
        """One side's EM from (mixture, post): MAP-EM here; a subclass may change the model."""
        return map_em.run_full(
            data,
            mixture,
            post,
            prior_variance=self.prior_variance_,
            min_variance=self.min_variance_,
            max_iter=self.max_iter,
        )

    def _estep(self, data, mixture) -> tuple[np.ndarray, float]:
        """The E-step of ``_run_em``'s model: (post, log-likelihood)."""
        return em.estep(data, mixture)

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

    # -- a new user, without refitting ------------------------------------------------------

    def fold_in(self, cols, values) -> np.ndarray:
        """Predicted rating of every item for a new user who rated ``cols`` with ``values``: (d,).

        With the mean m and the item offsets c fixed, the new user's bias is the biases
        model's closed form for one user (``new_user_bias``), their residuals are
        r_i = x_i - m - b - c_i on the items they rated, and

            pred = m + b + c + ``_fold_in_corrections(cols, r)``,

        clipped to ``scale_``; nothing is refitted. cols: (m,) distinct column indices;
        values: (m,) ratings in scale_. With no ratings: b = 0 and each side's correction
        falls back as ``_fold_in_corrections`` says. A subclass that models more than the
        biases extends ``_fold_in_corrections``.
        """
        row = new_user_row(self, cols, values)
        cols, values = row.indices, row.data
        mean, item = self.biases_.mean, self.biases_.item
        bias = self.new_user_bias(cols, values)
        residuals = values - mean - bias - item[cols]
        return clipped_fold_in(
            self, mean + bias + item + self._fold_in_corrections(cols, residuals)
        )

    def new_user_bias(self, cols: np.ndarray, values: np.ndarray) -> float:
        """b = sum_{i in C} (x_i - m - c_i) / (reg_user + |C|): a new user's offset.

        The biases' normal equation for one user, (reg_user + |C|) b + sum_{i in C} c_i =
        sum_{i in C} (x_i - m), solved with m and c fixed; a training user's row gives back
        their fitted b_u (to the solver's tolerance). 0 without ratings or with biases=False.
        """
        if not self.use_biases or len(cols) == 0:
            return 0.0
        mean, item = self.biases_.mean, self.biases_.item
        return float(np.sum(values - mean - item[cols]) / (self.reg_user + len(cols)))

    def _fold_in_corrections(self, cols: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """What the mixtures add to the biases for a new user: (d,), summed over the sides.

        cols: (m,) sorted columns the user rated; residuals: (m,) r_i there.
        users side (``users_side_fold_in``): the E-step of the residual row, sum_j post_j mu_ji;
        items side (``items_side_fold_in``): the user as a new coordinate of the item
        clusters, sum_j post_ij mu_{j,new}. Each is averaged over the seeds, as in predict.
        """
        corrections = np.zeros(self.shape_[1])
        if "users" in self.sides:
            corrections += self.users_side_fold_in(cols, residuals)
        if "items" in self.sides:
            corrections += self.items_side_fold_in(cols, residuals)
        return corrections

    def users_side_fold_in(self, cols: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """sum_j post_j mu_ji averaged over the seeds' user mixtures: (d,).

        post: ``em.estep`` of the (1, d) residual row against that seed's mixture (the
        same E-step the fit ends with, so a training user's residual row gives their fitted
        posterior); no ratings give post = p.
        """
        d = self.shape_[1]
        row = sp.csr_matrix((residuals, cols, np.array([0, len(cols)])), shape=(1, d))
        data = prepare(row, allow_negative=True)
        corrections = [
            self._estep(data, mixture)[0][0] @ mixture.mu for mixture in self.mixtures_["users"]
        ]
        return np.mean(corrections, axis=0)

    def items_side_fold_in(self, cols: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """sum_j post_ij mu_{j,new} averaged over the seeds' item mixtures: (d,).

        On the items side a user is a coordinate, so a new user is a new coordinate of every
        cluster mean. With the item posteriors post (d, K) of that seed fixed, its MAP M-step
        (``map_em.map_mstep``, an ECM step at the fitted var_j) is

            mu_{j,new} = sum_{i in C} post_ij r_i / (sum_{i in C} post_ij + var_j / tau^2),

        tau^2 = ``prior_variance_``; with no prior the course's M-step, sum post_ij r_i /
        sum post_ij where that support is >= 1, else 0 (no correction). No ratings: 0.
        """
        total = np.zeros(self.shape_[1])
        for (post, _), mixture in zip(self.fits_["items"], self.mixtures_["items"], strict=True):
            rated = post[cols]  # (m, K): the posteriors of the items the user rated
            total += post @ new_coordinate_means(
                rated.T @ residuals, rated.sum(axis=0), mixture.var, self.prior_variance_
            )
        return total / len(self.fits_["items"])
