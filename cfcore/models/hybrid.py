"""The hybrid mixture: item content (genres, release year) inside the residual mixture.

``ResidualMixture`` models x_ui = m + b_u + c_i + r_ui with a MAP-EM mixture on r. An item
nobody rated gets c_i = 0 and no correction, and one with a few ratings little more: the
model has nothing to say about it. The hybrid gives content a place in two priors
(derivation in notebook 08 and docs/derivations.md), with f_i the item's content features
(``item_features``: genre indicators and release-year indicators, p of them):

1. the item offset's prior mean is a regression on content, c_i ~ N(f_i^T w, 1/reg_item)
   (in units of the rating noise), so

       c_i = (sum_{u in U_i} (x_ui - m - b_u) + reg_item f_i^T w) / (reg_item + |U_i|):

   content at 0 ratings, the item's own ratings as they accumulate. w is an empirical-Bayes
   estimate: the ridge regression of the plain biases' c on F, each item weighted by its
   number of ratings, because the prior is used to predict ratings, and the ratings a new
   item will receive come mostly from items that become popular (unweighted, the many
   rarely rated and worse-rated items would set it);
2. every user gets a content taste a_u ~ N(0, I / reg_taste) on what the biases leave,
   r_ui = f_i^T a_u + s_ui, the posterior mean

       a_u = (F_u^T F_u + reg_taste I)^{-1} F_u^T r_u     (F_u: the rows of F user u rated),

   which says how much more than their bias the user likes each genre and era, and applies
   to items with no ratings at all.

The mixtures (users and items sides, MAP-EM, averaged over seeds) then fit s, what content
leaves, exactly as in ``ResidualMixture``. Each stage is the exact maximiser of its
posterior given the earlier ones, and the EM stage is ``map_em`` unchanged, whose objective
never decreases. Without content features (p = 0) the model is ``ResidualMixture``.
The defaults were chosen on validation splits carved from training data only
(``benchmarks/tune_hybrid.py``), never on a test fold.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_non_negative
from ..data import RatingsData
from ..engine import stored_rows
from .baselines import fit_biases
from .mixtures import ResidualMixture

#: release years with an indicator of their own: the most recent ones, where it changes most
RECENT_YEARS = 6


def item_features(data: RatingsData) -> tuple[np.ndarray, list[str]]:
    """Content features of every item: (d, p) float 0/1 array, and the p feature names.

    Genre indicators (``data.genres``), then release-year indicators from ``data.years``:
    [year >= D] for every decade D after the first of the data's years (cumulative, so
    neighbouring decades share weight), [year == Y] for the last ``RECENT_YEARS`` years, and
    [year unknown]. Data without genres or years contributes no such columns.
    """
    columns, names = [], []
    if data.genres is not None:
        columns.append(np.asarray(data.genres, dtype=np.float64))
        names += [f"genre: {name}" for name in data.genre_names]
    years = getattr(data, "years", None)
    if years is not None and np.isfinite(years).any():
        year_columns, year_names = _year_indicators(np.asarray(years, dtype=np.float64))
        columns.append(year_columns)
        names += year_names
    if not columns:
        return np.zeros((data.n_items, 0)), []
    return np.hstack(columns), names


def _year_indicators(years: np.ndarray) -> tuple[np.ndarray, list[str]]:
    known = np.isfinite(years)
    first, last = int(years[known].min()), int(years[known].max())
    decades = range((first // 10 + 1) * 10, last + 1, 10)
    recent = range(max(first, last - RECENT_YEARS + 1), last + 1)
    filled = np.where(known, years, -np.inf)  # unknown years fall in no indicator
    columns = [filled >= decade for decade in decades] + [filled == year for year in recent]
    names = [f"year >= {decade}" for decade in decades] + [f"year {year}" for year in recent]
    if not known.all():
        columns.append(~known)
        names.append("year unknown")
    return np.column_stack(columns).astype(np.float64), names


def content_prior_weights(c: np.ndarray, F: np.ndarray, counts, reg: float) -> np.ndarray:
    """w = argmin sum_i n_i (c_i - f_i^T w)^2 + reg |w|^2: (p,) array.

    c: (d,) item offsets; F: (d, p) features; counts: (d,) training ratings per item n_i.
    """
    weighted = F * np.asarray(counts, dtype=np.float64)[:, None]
    return np.linalg.solve(weighted.T @ F + reg * np.eye(F.shape[1]), weighted.T @ c)


def user_tastes(residuals: sp.csr_matrix, F: np.ndarray, reg: float) -> np.ndarray:
    """a_u = (F_u^T F_u + reg I)^{-1} F_u^T r_u for every user at once: (n, p) array.

    residuals: (n, d) CSR, stored = observed; F: (d, p). The n Gram matrices
    F_u^T F_u = sum_{i in C_u} f_i f_i^T are one sparse product with the (d, p*p) outer
    products; a user without ratings gets a_u = 0.
    """
    n, p = residuals.shape[0], F.shape[1]
    rated = sp.csr_matrix(
        (np.ones(residuals.nnz), residuals.indices, residuals.indptr), shape=residuals.shape
    )
    outer = (F[:, :, None] * F[:, None, :]).reshape(F.shape[0], p * p)
    grams = np.asarray(rated @ outer).reshape(n, p, p) + reg * np.eye(p)
    rhs = np.asarray(residuals @ F)
    return np.linalg.solve(grams, rhs[:, :, None])[:, :, 0]


def taste_at(tastes: np.ndarray, F: np.ndarray, rows, cols) -> np.ndarray:
    """f_i^T a_u at the pairs (rows[t], cols[t]): (m,) array."""
    return np.einsum("tk,tk->t", tastes[rows], F[cols])


class HybridMixture(ResidualMixture):
    """The residual mixture with content priors on item offsets and user tastes (module doc).

    item_features: (d, p) content features; None = ``item_features(train)`` of the
    RatingsData it is fitted on (genres and years), none for a bare matrix. reg_content:
    the ridge of the content regression w (in ratings); reg_taste: of every user's taste
    a_u (in ratings: a user with that many ratings is halfway from 0 to their own
    regression); content_weights: "ratings" weights each item of the content regression by
    its number of ratings (module docstring), "items" weights every rated item alike.
    Every other setting is ``ResidualMixture``'s.
    Fitted: ``features_`` (d, p), ``feature_names_``, ``content_weights_`` w (p,),
    ``tastes_`` (n, p), and ``ResidualMixture``'s ``biases_`` and ``fits_``.
    """

    name = "hybrid-mixture"

    def __init__(
        self,
        K: int = 10,
        *,
        item_features=None,
        reg_content: float = 100.0,
        reg_taste: float = 20.0,
        content_weights: str = "ratings",
        name: str | None = None,
        **residual_settings,
    ):
        super().__init__(K, name=name, **residual_settings)
        if not self.use_biases:
            raise ValueError("the content prior is on the item offsets: HybridMixture needs biases")
        self.item_features = None if item_features is None else np.asarray(item_features, float)
        self.reg_content = check_non_negative(reg_content, "reg_content")
        self.reg_taste = check_non_negative(reg_taste, "reg_taste")
        if content_weights not in ("ratings", "items"):
            raise ValueError(
                f"content_weights must be 'ratings' (each item weighted by its number of "
                f"ratings) or 'items' (every item alike), got {content_weights!r}"
            )
        self.content_weights = content_weights

    def fit(self, train) -> HybridMixture:
        if self.item_features is not None:
            self.features_, self.feature_names_ = self.item_features, None
        elif isinstance(train, RatingsData):
            self.features_, self.feature_names_ = item_features(train)
        else:
            self.features_, self.feature_names_ = None, []
        return super().fit(train)

    def _fit(self, X):
        n_items = X.shape[1]
        if self.features_ is None:
            self.features_ = np.zeros((n_items, 0))
        if (
            self.features_.ndim != 2
            or self.features_.shape[0] != n_items
            or not np.isfinite(self.features_).all()
        ):
            raise ValueError(
                f"item_features must be a finite (items, features) array, one row per item "
                f"({n_items}), got shape {self.features_.shape}"
            )
        super()._fit(X)

    def _fit_offsets(self, X) -> sp.csr_matrix:
        F = self.features_
        plain = fit_biases(X, self.reg_user, self.reg_item)
        counts = np.bincount(X.indices, minlength=X.shape[1])
        if self.content_weights == "items":
            counts = (counts > 0).astype(np.float64)  # every rated item alike
        self.content_weights_ = content_prior_weights(plain.item, F, counts, self.reg_content)
        self.biases_ = fit_biases(
            X, self.reg_user, self.reg_item, item_prior=F @ self.content_weights_
        )
        residuals = self.biases_.residuals(X)
        self.tastes_ = user_tastes(residuals, F, self.reg_taste)
        rows = stored_rows(residuals)
        taste = taste_at(self.tastes_, F, rows, residuals.indices)
        return sp.csr_matrix(
            (residuals.data - taste, residuals.indices, residuals.indptr), shape=X.shape
        )

    def _fold_in_corrections(self, cols: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """A new user's taste a = (F_C^T F_C + reg_taste I)^{-1} F_C^T r, then the mixtures
        on what it leaves, as in fitting: (d,) corrections to the biases' predictions."""
        F = self.features_
        rated = F[cols]
        gram = rated.T @ rated + self.reg_taste * np.eye(F.shape[1])
        taste = np.linalg.solve(gram, rated.T @ residuals)
        return F @ taste + super()._fold_in_corrections(cols, residuals - rated @ taste)

    def _predict(self, rows, cols):
        return super()._predict(rows, cols) + taste_at(self.tastes_, self.features_, rows, cols)
