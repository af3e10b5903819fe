"""The rating scale and the widget-free rating session of rate-and-recommend.

``rating_step`` and ``rating_steps``: the ratings a data set's scale offers; ``rating_text``:
a rating as it reads on its scale. ``RatingSession``: a new user's ratings with an undo stack
of ``RatingChange``s (the value each rating replaced), folded in without refitting; the
panel (``user_explorers.RateAndRecommend``) and the web app's ``LiveSession`` build on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data import RatingsData
from .recommend import UserFold
from .recommender import Recommender

#: two ratings closer than this are one value (rounding in a file)
_SAME_RATING = 1e-9


def rating_step(ratings) -> float:
    """The step between possible ratings: the smallest gap between distinct rating values.

    ratings: a RatingsData (its stored ratings) or a (n, d) CSR matrix. 1 for whole stars
    and 0-10, 0.5 for half stars. With fewer than two distinct values there is no gap to
    read: 1 if the scale's ends are whole numbers, else the scale's width.
    """
    matrix = ratings.matrix if isinstance(ratings, RatingsData) else sp.csr_matrix(ratings)
    values = np.unique(matrix.data)
    gaps = np.diff(values)
    gaps = gaps[gaps > _SAME_RATING]
    if gaps.size:
        return float(gaps.min())
    if isinstance(ratings, RatingsData):
        low, high = ratings.scale
        whole = float(low).is_integer() and float(high).is_integer()
        return 1.0 if whole or high == low else float(high - low)
    return 1.0


def rating_steps(scale: tuple[float, float], step: float) -> list[float]:
    """Every rating from low to high in steps of step: [low, low + step, ..., high].

    The last step is high itself even when step does not divide the scale's width; values
    are rounded to 9 decimals, so 0.5-5 in half stars gives 0.5, 1.0, ..., 5.0 exactly.
    """
    low, high = scale
    if not step > 0:
        raise ValueError(f"step must be a positive gap between ratings, got {step!r}")
    count = int(np.floor((high - low) / step + 1e-9))
    steps = [round(low + k * step, 9) for k in range(count + 1)]
    if steps[-1] < high - _SAME_RATING:
        steps.append(float(high))
    return steps


def is_star_scale(scale: tuple[float, float]) -> bool:
    """Whether ratings on this scale read as stars (up to 5, as MovieLens' 1-5 and 0.5-5)."""
    low, high = scale
    return 0 <= low and high <= 5


def rating_text(rating: float, scale: tuple[float, float]) -> str:
    """A rating as it reads on its scale: "4 ★" on stars, "7/10" on 0-10, "-3 on -10..10"."""
    low, high = scale
    if is_star_scale(scale):
        return f"{rating:g} ★"
    return f"{rating:g}/{high:g}" if low >= 0 else f"{rating:g} on {low:g}..{high:g}"


def rate(ratings: dict, item_id, stars) -> dict:
    """A new {item id: rating} with item_id rated `stars`; a re-rating replaces the earlier
    rating in its place (so the ratings keep the order in which items were first rated)."""
    return {**ratings, item_id: float(stars)}


@dataclass(frozen=True)
class RatingChange:
    """One entry of an undo stack: the item rated, its new rating, and the rating it had
    before (None when it was not rated)."""

    item_id: object
    rating: float
    previous: float | None


def unrate(ratings: dict, change: RatingChange) -> dict:
    """The {item id: rating} before ``change``: the earlier rating back, or the item gone."""
    if change.previous is None:
        return {key: value for key, value in ratings.items() if key != change.item_id}
    return {**ratings, change.item_id: change.previous}


class RatingSession:
    """A new user's ratings, with an undo stack of the values each rating replaced.

    ``rate(item_id, rating)`` adds or replaces one rating; ``undo()`` restores exactly the
    ratings before the last ``rate`` (an earlier rating of a re-rated item comes back);
    ``user()`` is what the model says about the user now; max_undo: how many ratings can be
    taken back (None: all of them; 0: none). This session folds the ratings in
    without changing the model (``Recommender.fold_in``: one E-step of a course mixture, or
    a model's ``fold_in``); a subclass that learns from every rating (``cfcore.apps.app.
    LiveSession``: incremental EM) does it in ``_learn`` and takes it back in ``_forget``.
    """

    def __init__(self, recommender: Recommender, max_undo: int | None = None):
        if max_undo is not None and (isinstance(max_undo, bool) or int(max_undo) < 0):
            raise ValueError(f"max_undo must be a number of ratings >= 0 or None, got {max_undo!r}")
        self.recommender, self.max_undo = recommender, max_undo
        self.ratings: dict = {}
        self.undo_stack: list[RatingChange] = []

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def rate(self, item_id, rating) -> RatingChange:
        """Rate an item (by id or title; the ratings are keyed by its id); an unknown item or a
        rating off the scale raises, changing nothing."""
        item_id = self.recommender.item_id(item_id)  # one key per item, however named
        self.recommender.row({**self.ratings, item_id: rating})  # checks the value
        change = RatingChange(item_id, float(rating), self.ratings.get(item_id))
        self._learn(change)
        self.undo_stack.append(change)
        if self.max_undo is not None and len(self.undo_stack) > self.max_undo:
            del self.undo_stack[0]  # the oldest rating can no longer be taken back
        self.ratings = rate(self.ratings, item_id, rating)
        return change

    def undo(self) -> RatingChange | None:
        """Take the last rating back (None when there is none to take back)."""
        if not self.undo_stack:
            return None
        change = self.undo_stack[-1]
        self._forget(change)  # first: if it refuses, the session is left as it was
        self.undo_stack.pop()
        self.ratings = unrate(self.ratings, change)
        return change

    def user(self) -> UserFold:
        """The user as the model sees them now: posterior, predictions, spread, rated."""
        return self.recommender.fold_in(self.ratings)

    def _learn(self, change: RatingChange) -> None:
        """Called before a rating is recorded; a model that learns from it does so here."""

    def _forget(self, change: RatingChange) -> None:
        """Called when the rating ``change`` is undone: take back what ``_learn`` did."""
