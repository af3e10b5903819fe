"""The offsets the mixtures refine (``Offsets``): the biases m, b_u, c_i and the hybrid's
tastes a_u, each updated by its closed form given the others."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...engine import stored_rows
from ..hybrid import HybridMixture, taste_at
from ..mixtures import CourseMixture
from .journal import Journal, with_room

# -- the offsets the mixtures refine ---------------------------------------------------------


class Offsets:
    """x_ui = m + b_u + c_i + f_i^T a_u + r_ui; the mixtures model the residual r.

    mean m; user (n,) b; item (d,) c; item_prior (d,) g, the prior mean of c_i (the hybrid's
    content prior, else 0); features (d, p) F and tastes (n, p) a (the hybrid's, else None).
    The course model has none of them (all 0: r = x) and learns none (``learns`` False).
    Arrays have spare room along axis 0: the first n_users / n_items rows are live.
    """

    def __init__(self, mean=0.0, user=None, item=None, *, regs=(0.0, 0.0), learns=False):
        self.mean, self.user, self.item = float(mean), user, item
        self.reg_user, self.reg_item = regs
        self.learns = learns
        self.item_prior = np.zeros_like(item)
        self.features = self.tastes = None
        self.reg_taste, self.content_weights = 0.0, None

    @classmethod
    def of(cls, model, shape) -> Offsets:
        n, d = shape
        if isinstance(model, CourseMixture):
            return cls(0.0, np.zeros(n), np.zeros(d))
        biases = model.biases_
        offsets = cls(
            biases.mean,
            biases.user.astype(np.float64),
            biases.item.astype(np.float64),
            regs=(model.reg_user, model.reg_item),
            learns=model.use_biases,
        )
        if isinstance(model, HybridMixture):
            offsets.features = np.asarray(model.features_, dtype=np.float64)
            offsets.content_weights = model.content_weights_
            offsets.item_prior = offsets.features @ model.content_weights_
            offsets.tastes = np.asarray(model.tastes_, dtype=np.float64).copy()
            offsets.reg_taste = model.reg_taste
        return offsets

    def residual_matrix(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """r at X's stored entries, in a CSR matrix with X's pattern."""
        rows, cols = stored_rows(X), X.indices
        values = X.data - (self.mean + self.user[rows] + self.item[cols])
        if self.features is not None:
            values = values - taste_at(self.tastes, self.features, rows, cols)
        return sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape)

    def user_residuals(self, user: int, cols, values) -> np.ndarray:
        """r_ui at user's ratings values (m,) of the items cols (m,)."""
        residuals = values - (self.mean + self.user[user] + self.item[cols])
        if self.features is not None:
            residuals = residuals - self.features[cols] @ self.tastes[user]
        return residuals

    def item_residuals(self, item: int, users, values) -> np.ndarray:
        """r_ui at item's ratings values (m,) by the users users (m,)."""
        residuals = values - (self.mean + self.user[users] + self.item[item])
        if self.features is not None:
            residuals = residuals - self.tastes[users] @ self.features[item]
        return residuals

    def solve_bias(self, user: int, cols, values, journal: Journal) -> None:
        """b_u = sum_{i in C_u} (x_ui - m - c_i) / (reg_user + |C_u|): the biases' normal
        equation for one user at fixed c (``baselines``); 0 without ratings."""
        journal.keep_rows(self.user, user)
        centred = values - self.mean - self.item[cols]
        self.user[user] = centred.sum() / (self.reg_user + cols.size) if cols.size else 0.0

    def solve_taste(self, user: int, cols, values, journal: Journal) -> None:
        """The hybrid's a_u = (F_C^T F_C + reg_taste I)^{-1} F_C^T (x_C - m - b_u - c_C), the
        posterior mean of its ridge regression at fixed b and c (``hybrid.user_tastes``)."""
        if self.features is None:
            return
        rated = self.features[cols]
        gram = rated.T @ rated + self.reg_taste * np.eye(rated.shape[1])
        bias_residuals = values - (self.mean + self.user[user] + self.item[cols])
        journal.keep_rows(self.tastes, user)
        self.tastes[user] = np.linalg.solve(gram, rated.T @ bias_residuals)

    def solve_item(self, item: int, users, values, journal: Journal) -> float:
        """c_i = (sum_{u in U_i} (x_ui - m - b_u) + reg_item g_i) / (reg_item + |U_i|), the
        normal equation for one item at fixed b (g_i = 0 but for the hybrid). Returns dc."""
        journal.keep_rows(self.item, item)
        old = self.item[item]
        prior = self.reg_item * self.item_prior[item]
        total = (values - self.mean - self.user[users]).sum() + prior
        self.item[item] = total / (self.reg_item + users.size) if users.size else old
        return float(self.item[item] - old)

    def add_user(self, n: int, journal: Journal) -> None:
        """Room for user n, offset 0 (and taste 0): a user without ratings."""
        for name in ("user", "tastes"):
            array = getattr(self, name)
            if array is not None and array.shape[0] <= n:
                journal.keep(self, name)
                setattr(self, name, with_room(array, n + 1))
        journal.keep_rows(self.user, n)
        self.user[n] = 0.0
        if self.tastes is not None:
            journal.keep_rows(self.tastes, n)
            self.tastes[n] = 0.0

    def add_item(self, d: int, features, journal: Journal) -> None:
        """Room for item d: c = g = f^T w (the hybrid's content prior), else 0."""
        prior = 0.0
        if self.features is not None:
            journal.keep(self, "features")
            self.features = np.vstack([self.features[:d], features[None, :]])
            prior = float(features @ self.content_weights)
        for name in ("item", "item_prior"):
            journal.keep(self, name)
            array = with_room(getattr(self, name), d + 1).copy()
            array[d] = prior
            setattr(self, name, array)

    def predictions(self, user: int, d: int) -> np.ndarray:
        """m + b_u + c_i (+ f_i^T a_u) for every item: (d,)."""
        base = self.mean + self.user[user] + self.item[:d]
        if self.features is not None:
            base = base + self.features[:d] @ self.tastes[user]
        return base
