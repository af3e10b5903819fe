"""``LiveModel``: a fitted mixture that learns from every new rating by incremental EM (the
package docstring); what callers pass it is checked in ``inputs``, and it is built from a
fitted model by ``build``."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from ...common import GaussianMixture
from ...engine import transpose
from ..hybrid import taste_at
from ..mixtures import CourseMixture, ResidualMixture
from .build import SIDES, build_sides, seed_positions, training_matrix
from .inputs import (
    check_batch,
    check_count,
    check_features,
    check_index,
    check_indices,
    check_ratings,
)
from .journal import Journal, Rows
from .offsets import Offsets
from .sides import Side

#: the calls ``undo`` can take back, by default
UNDO_DEPTH = 20


# -- the live model --------------------------------------------------------------------------


class LiveModel:
    """A fitted mixture model that learns from every new rating by incremental EM.

    fitted: a fitted ``CourseMixture``, ``ResidualMixture`` or ``HybridMixture``; train: its
    training ratings (default: the ``train_`` the model kept); seeds: which of a residual
    mixture's seeds to keep live (default all; each seed is its own mixture, updated at every
    rating, and predictions average them as the model does); learn_biases: also re-solve
    b_u, c_i (and the hybrid's taste a_u) at each rating (package docstring); fold_in_only:
    change nothing but the rating user's own state (their offset, taste, posterior and, on
    the items side, their coordinate's means), which is ``fitted.fold_in`` for every user:
    the model never changes; max_undo: how many calls ``undo`` can take back.

    Rows and columns are the fitted matrix's indices; ``add_user`` and ``add_item`` append
    new ones. Before any update, ``predict_user`` and ``predict`` are ``fitted.predict``.
    """

    def __init__(
        self,
        fitted,
        train=None,
        *,
        seeds=None,
        learn_biases: bool = True,
        fold_in_only: bool = False,
        max_undo: int = UNDO_DEPTH,
    ):
        if not isinstance(fitted, CourseMixture | ResidualMixture):
            raise TypeError(
                "fitted must be a CourseMixture, ResidualMixture or HybridMixture, got "
                f"{type(fitted).__name__}"
            )
        if getattr(fitted, "response_weight", 0.0):
            raise TypeError(
                f"{fitted.name}: LiveModel keeps the sums of the Gaussian mixtures only, not "
                "the response distributions over items; refit it on the new ratings, or fold "
                "new users in with its fold_in"
            )
        if not hasattr(fitted, "shape_"):
            raise ValueError(f"fitted: {fitted.name} is not fitted; call fit(train) first")
        X = training_matrix(fitted, train)
        self.model, self.scale = fitted, fitted.scale_
        self.n_users, self.n_items = X.shape
        self.learn_biases, self.fold_in_only = bool(learn_biases), bool(fold_in_only)
        self.max_undo = check_count(max_undo, "max_undo")
        positions = seed_positions(fitted, seeds)
        self.seeds = tuple(fitted.seeds[k] for k in positions) if positions else ()
        self._offsets = Offsets.of(fitted, X.shape)
        self._by_user, self._by_item = Rows(X), Rows(transpose(X))
        self._sides = build_sides(fitted, positions, X, self._offsets.residual_matrix(X))
        self._history: deque[Journal] = deque(maxlen=self.max_undo or None)

    # -- what the model predicts --------------------------------------------------------------

    def predict_user(self, user) -> np.ndarray:
        """Predicted rating of every item for user: (d,), clipped to the scale, finite.

        m + b_u + c_i (+ f_i^T a_u) + the users side's sum_j q_uj mu_ji + the items side's
        sum_j q_ij mu_ju, each averaged over the seeds.
        """
        user = check_index(user, self.n_users, "user", "add_user()")
        d = self.n_items
        predictions = self._offsets.predictions(user, d)
        if "users" in self._sides:
            side = self._sides["users"]
            predictions += np.einsum("dsk,sk->d", side.mu[:d], side.post[user]) / side.var.shape[0]
        if "items" in self._sides:
            side = self._sides["items"]
            predictions += np.einsum("dsk,sk->d", side.post[:d], side.mu[user]) / side.var.shape[0]
        return self._clipped(predictions)

    def predict(self, rows, cols) -> np.ndarray:
        """Predicted ratings at the pairs (rows[t], cols[t]): (m,), clipped, finite."""
        rows = check_indices(rows, self.n_users, "rows")
        cols = check_indices(cols, self.n_items, "cols")
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must be one length, got {rows.size} and {cols.size}")
        o = self._offsets
        predictions = o.mean + o.user[rows] + o.item[cols]
        if o.features is not None:
            predictions = predictions + taste_at(o.tastes, o.features, rows, cols)
        for name, (row_of, coord_of) in (("users", (rows, cols)), ("items", (cols, rows))):
            if name in self._sides:
                side = self._sides[name]
                pairs = np.einsum("tsk,tsk->t", side.post[row_of], side.mu[coord_of])
                predictions = predictions + pairs / side.var.shape[0]
        return self._clipped(predictions)

    def posterior(self, user) -> np.ndarray:
        """user's posterior over the users side's mixture (the first live seed's): (K,)."""
        user = check_index(user, self.n_users, "user", "add_user()")
        if "users" not in self._sides:
            raise ValueError("posterior: this model clusters items only (sides=('items',))")
        return self._sides["users"].post[user, 0].copy()

    def mixtures(self, side: str = "users") -> list[GaussianMixture]:
        """The current mixture of every live seed on side ("users" or "items")."""
        return self._side(side).mixtures()

    def posteriors(self, side: str = "users") -> np.ndarray:
        """Every row's posterior on side under every live seed's mixture: (N, S, K), a copy."""
        target = self._side(side)
        return target.post[: target.n_rows].copy()

    def ratings(self) -> sp.csr_matrix:
        """Every rating the model has learnt, training and new: (n_users, n_items) CSR."""
        rows = [np.full(cols.size, u) for u, (cols, _) in enumerate(self._by_user.rows)]
        cols = [cols for cols, _ in self._by_user.rows]
        values = [values for _, values in self._by_user.rows]
        return sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_users, self.n_items),
        )

    def residuals(self) -> sp.csr_matrix:
        """What the mixtures model, r_ui = x_ui - m - b_u - c_i (- f_i^T a_u) at the current
        offsets (the ratings themselves for the course model): (n_users, n_items) CSR."""
        return self._offsets.residual_matrix(self.ratings())

    def free_energy(self, side: str = "users") -> np.ndarray:
        """F(q, theta) of every live seed on side (+ log p(mu) for MAP-EM): (S,).

        Equal to the log-likelihood (log-posterior) when every q is its row's posterior;
        no incremental update, ``sweep`` or ``refresh`` lowers it on fixed residuals.
        """
        return self._side(side).free_energy()

    # -- learning -----------------------------------------------------------------------------

    def add_user(self) -> int:
        """A new user without ratings; returns their row index. Their posterior is the
        mixture's weights p, their offset 0; the users side's p counts them."""
        with self._recording() as journal:
            return self._add_user(journal)

    def add_item(self, features=None) -> int:
        """A new item (column) nobody rated; returns its column index. Its offset is its
        prior mean: 0, or for the hybrid f^T w, so features, (p,), are then required."""
        features = check_features(features, self._offsets.features)
        with self._recording() as journal:
            return self._add_item(features, journal)

    def rate(self, user, col, value) -> None:
        """Add or replace user's rating of column col, and learn from it (incremental EM)."""
        self.update(user, {col: value})

    def update(self, user, ratings: Mapping) -> None:
        """Add or replace several of user's ratings, {col: value, ...}, and learn from them.

        The offsets (b_u, then each c_i, then a_u) by their closed forms, the column shifts
        that c_i's change makes, then on the users side user's E-step against the current
        mixtures, their term of the sums replaced and the M-step; on the items side the
        same for every rated item, with one M-step. fold_in_only: user's own state only.
        """
        user = check_index(user, self.n_users, "user", "add_user()")
        cols, values = check_ratings(ratings, self.n_items, self.scale)
        with self._recording() as journal:
            self._learn(user, cols, values, journal)

    def partial_fit(self, ratings) -> None:
        """Learn a batch of ratings: (rows, cols, values) arrays, or a CSR matrix with the
        model's columns whose rows are the model's users and then new ones.

        New users: a matrix's rows beyond n_users, all of them, rated or not; with arrays,
        a row index >= n_users adds users up to it (every index between becomes a user), at
        most len(rows) of them (a larger index is refused, as a likely mistake). Each user's
        ratings are one ``update``, users in increasing order; a batch without ratings adds
        only its users. One ``undo`` takes the whole batch back.
        """
        rows, cols, values, users_after = check_batch(
            ratings, self.n_users, self.n_items, self.scale
        )
        with self._recording() as journal:
            while self.n_users < users_after:
                self._add_user(journal)
            if not rows.size:
                return
            order = np.argsort(rows, kind="stable")
            rows, cols, values = rows[order], cols[order], values[order]
            users, starts = np.unique(rows, return_index=True)
            for user, block in zip(users, np.split(np.arange(rows.size), starts[1:]), strict=True):
                at = np.argsort(cols[block])
                self._learn(int(user), cols[block][at], values[block][at], journal)

    def sweep(self, side: str = "users", mstep: str = "each") -> None:
        """One pass of incremental E-steps over every row of side, in order (offsets fixed).

        mstep="each": the M-step after every row (Neal and Hinton's incremental EM);
        mstep="end": one M-step after the last row, against which every E-step ran, which is
        one batch EM iteration (``em.estep`` then ``em.mstep``, or ``map_em.map_mstep``).
        """
        target = self._side(side)
        if mstep not in ("each", "end"):
            raise ValueError(f"mstep must be 'each' or 'end', got {mstep!r}")
        storage = self._by_user if side == "users" else self._by_item
        o = self._offsets
        residuals = o.user_residuals if side == "users" else o.item_residuals
        with self._recording() as journal:
            for row in range(target.n_rows):
                coords, values = storage.row(row)
                r = residuals(row, coords, values)
                patch = target.patch(coords)
                patch.add_row(coords, r, target.post[row], -1.0)
                q = target.estep(coords, r)
                patch.add_row(coords, r, q)
                target.set_post(row, q, journal)
                target.commit(patch, journal, mstep=mstep == "each")
            if mstep == "end":
                target.commit(target.patch(np.arange(target.n_coords)), journal)

    def refresh(self) -> None:
        """The full M-step of every side from the current sums: every mean re-solved (for
        MAP-EM at the current variances), then var and p; the running shares recomputed."""
        with self._recording() as journal:
            for side in self._sides.values():
                side.commit(side.patch(np.arange(side.n_coords)), journal)

    @property
    def last_call(self) -> int | None:
        """A number naming the learning call ``undo`` would take back (None: there is none),
        so that a caller sharing the model can tell whether that call is still its own."""
        return self._history[-1].serial if self._history else None

    def undo(self) -> None:
        """Restore exactly (bit for bit) the state before the last learning call."""
        if not self._history:
            raise RuntimeError(
                "nothing to undo: no learning call since the model was made, or the last "
                f"{self.max_undo} were undone (max_undo)"
            )
        self._history.pop().restore()

    # -- how an update runs -------------------------------------------------------------------

    @contextmanager
    def _recording(self):
        """Journal one call: kept for ``undo``, and played back if the call fails midway."""
        journal = Journal()
        try:
            yield journal
        except BaseException:
            journal.restore()
            raise
        if self.max_undo:
            self._history.append(journal)

    def _add_user(self, journal: Journal) -> int:
        user = self.n_users
        self._by_user.append(journal)
        self._offsets.add_user(user, journal)
        if "users" in self._sides:
            self._add_row(self._sides["users"], journal)
        if "items" in self._sides:
            self._sides["items"].add_coordinate(journal)
        journal.keep(self, "n_users")
        self.n_users = user + 1
        return user

    def _add_item(self, features, journal: Journal) -> int:
        item = self.n_items
        self._by_item.append(journal)
        self._offsets.add_item(item, features, journal)
        if "users" in self._sides:
            self._sides["users"].add_coordinate(journal)
        if "items" in self._sides:
            self._add_row(self._sides["items"], journal)
        journal.keep(self, "n_items")
        self.n_items = item + 1
        return item

    def _add_row(self, side: Side, journal: Journal) -> None:
        """A row without ratings: posterior = the E-step of nothing (p), its term added."""
        empty = np.zeros(0, np.intp)
        q = side.estep(empty, np.zeros(0))
        row = side.add_row(journal)
        side.set_post(row, q, journal)
        if not self.fold_in_only:  # its weight q joins the sums: p_j = weights_j / N
            patch = side.patch(empty)
            patch.add_row(empty, np.zeros(0), q)
            side.commit(patch, journal)

    def _learn(self, user: int, cols, values, journal: Journal) -> None:
        offsets = self._offsets
        old_cols, old_values = self._by_user.row(user)
        old_user = (old_cols, offsets.user_residuals(user, old_cols, old_values))
        old_items = [self._item_row(i) for i in cols]
        self._by_user.set(user, cols, values, journal)
        for col, value in zip(cols, values, strict=True):
            self._by_item.set(int(col), np.array([user]), np.array([value]), journal)
        shifts = self._learn_offsets(user, cols, journal)
        new_cols, new_values = self._by_user.row(user)
        new_user = (new_cols, offsets.user_residuals(user, new_cols, new_values))
        if self.fold_in_only:
            return self._fold_in(user, new_user, journal)
        if "users" in self._sides:
            self._users_step(self._sides["users"], user, old_user, new_user, cols, shifts, journal)
        if "items" in self._sides:
            moved = _moved_coordinates(old_user, new_user, cols)
            new_items = [self._item_row(i) for i in cols]
            self._items_step(user, cols, old_items, new_items, moved, journal)

    def _item_row(self, item) -> tuple[np.ndarray, np.ndarray]:
        users, values = self._by_item.row(int(item))
        return users, self._offsets.item_residuals(int(item), users, values)

    def _learn_offsets(self, user: int, cols, journal: Journal) -> np.ndarray:
        """b_u, then every c_i of cols, then a_u; returns the changes of the c_i: (m,)."""
        shifts = np.zeros(cols.size)
        if not (self.learn_biases and self._offsets.learns):
            return shifts
        user_cols, user_values = self._by_user.row(user)
        self._offsets.solve_bias(user, user_cols, user_values, journal)
        if not self.fold_in_only:  # the items' offsets are the model's: a fold-in keeps them
            for k, col in enumerate(cols):
                users, values = self._by_item.row(int(col))
                shifts[k] = self._offsets.solve_item(int(col), users, values, journal)
        self._offsets.solve_taste(user, user_cols, user_values, journal)
        return shifts

    def _users_step(self, side: Side, user, old, new, cols, shifts, journal) -> None:
        """User's term replaced (the others' residuals on cols shifted by -dc), M-step."""
        new_cols, new_values = new
        patch = side.patch(new_cols)  # the user's items now, a superset of before
        q = side.estep(new_cols, new_values, means=patch.mu)
        patch.replace_row(old, side.post[user], new_values, q)
        rated = new_values[np.searchsorted(new_cols, cols)]
        patch.shift_coordinates(cols, -shifts, without=(rated, q))  # the others' residuals
        side.set_post(user, q, journal)
        side.commit(patch, journal)

    def _items_step(self, user, cols, old_items, new_items, moved, journal) -> None:
        """Every rated item's term replaced (user's other items moved at coordinate user)."""
        side = self._sides["items"]
        rows = [users for users, _ in new_items]
        patch = side.patch(rows[0] if len(rows) == 1 else np.unique(np.concatenate(rows)))
        posts = [side.estep(*new, means=patch.means_at(new[0])) for new in new_items]
        if len(cols) == 1:  # one item: its whole row, in one pass
            patch.replace_row(old_items[0], side.post[cols[0]], new_items[0][1], posts[0])
        else:
            for item, old, new, q in zip(cols, old_items, new_items, posts, strict=True):
                patch.add_row(*old, side.post[item], -1.0)
                patch.add_row(*new, q)
        others, before, after = moved  # user's other items, at coordinate user
        if others.size:
            patch.move_rows_at(user, side.post[others], before, after)
        for item, q in zip(cols, posts, strict=True):
            side.set_post(int(item), q, journal)
        side.commit(patch, journal)

    def _fold_in(self, user: int, new, journal: Journal) -> None:
        """User's posterior on the users side, their coordinate's means on the items side
        (``ResidualMixture.items_side_fold_in``), every sum and parameter left as it is."""
        cols, residuals = new
        if "users" in self._sides:
            side = self._sides["users"]
            side.set_post(user, side.estep(cols, residuals), journal)
        if "items" in self._sides:
            side = self._sides["items"]
            side.set_coordinate_mean(user, side.post[cols], residuals, journal)

    # -- checks -------------------------------------------------------------------------------

    def _side(self, side: str) -> Side:
        if side not in SIDES:
            raise ValueError(f"side must be 'users' or 'items', got {side!r}")
        if side not in self._sides:
            raise ValueError(f"side: this model has no {side} side (sides {tuple(self._sides)})")
        return self._sides[side]

    def _clipped(self, predictions: np.ndarray) -> np.ndarray:
        if not np.isfinite(predictions).all():
            raise FloatingPointError(f"{self.model.name}: a non-finite live prediction")
        return np.clip(predictions, *self.scale)

    def __repr__(self) -> str:
        sides = ", ".join(self._sides)
        return (
            f"<LiveModel of {self.model.name!r}: {self.n_users} users x {self.n_items} items, "
            f"{len(self.seeds)} seed(s), sides {sides}>"
        )


def _moved_coordinates(old, new, cols):
    """The items user rated before and did not rate now, with their residuals before and
    after (the offsets moved): ((m,) items, (m,) before, (m,) after)."""
    (old_cols, old_residuals), (new_cols, new_residuals) = old, new
    kept = ~np.isin(old_cols, cols)
    others = old_cols[kept]
    return others, old_residuals[kept], new_residuals[np.searchsorted(new_cols, others)]
