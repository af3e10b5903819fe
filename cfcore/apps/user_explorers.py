"""The user explorer and rate-and-recommend of notebook 07.

``UserExplorer``: pick a MovieLens user, see their posterior over clusters, what the
clusters like, and their top-N recommendations against what they rated in the held-out
fold (a course-mixture Recommender only). ``RateAndRecommend``: search movies, rate a
handful on the data's own scale (1-5 stars, half stars, 0-10: ``rating_steps``); every
rating is folded in (no refit) and the posterior and recommendations are shown again, with
the change.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import scipy.sparse as sp

from ..data import RatingsData
from .recommend import Recommendation, UserFold
from .recommender import Recommender
from .render import (
    Explorer,
    format_posterior,
    format_profiles,
    format_recommendations,
    pre,
    short,
)

# ----------------------------------------------------------------------------------------
# User explorer


@dataclass(frozen=True)
class UserReport:
    """A training user seen through the model, checked against their held-out ratings.

    post: (K,) posterior from their training ratings; recommendations: their top n among
    items they did not rate in training; held_out: {item id: rating} of the held-out fold;
    held_out_predictions: [(title, rating, predicted)] sorted by predicted, highest first;
    rmse: over all their held-out ratings.
    """

    user_id: object
    n_train: int
    post: np.ndarray
    recommendations: list[Recommendation]
    held_out: dict
    held_out_predictions: list[tuple[str, float, float]]
    rmse: float


def users_with_held_out(held_out: RatingsData) -> list[tuple[str, object]]:
    """Dropdown options (label, user id) for the users who have held-out ratings."""
    counts = np.diff(held_out.matrix.indptr)
    return [
        (f"user {held_out.user_ids[u]} ({counts[u]} held out)", held_out.user_ids[u].item())
        for u in np.flatnonzero(counts)
    ]


def user_report(recommender: Recommender, held_out: RatingsData, user_id, n: int = 10):
    """Fold a training user in from their training ratings and compare with held_out.

    held_out: ratings of the same users and items as ``recommender.train`` (the test half
    of the same fold), so that row u is the same user in both.
    """
    if held_out.shape != recommender.train.shape:
        raise ValueError(
            f"held_out must rate the recommender's {recommender.train.shape} users x items, "
            f"got {held_out.shape}; pass the test half of the fold it was fitted on"
        )
    ratings = recommender.user_ratings(user_id)
    user = recommender.fold_in(ratings)
    row = held_out.matrix[recommender.user_index(user_id)]
    items = held_out.item_ids[row.indices]
    truth = {item.item(): float(r) for item, r in zip(items, row.data, strict=True)}
    predicted = user.predictions[row.indices]
    order = np.argsort(-predicted, kind="stable")
    pairs = [
        (str(recommender.item_titles[row.indices[k]]), float(row.data[k]), float(predicted[k]))
        for k in order
    ]
    rmse = float(np.sqrt(np.mean((predicted - row.data) ** 2))) if row.nnz else float("nan")
    return UserReport(
        user_id, len(ratings), user.post, recommender.recommend(user, n), truth, pairs, rmse
    )


def format_user_report(report: UserReport, n_held_out: int = 8) -> str:
    """The user explorer's text: recommendations, and the held-out ratings they predict."""
    hits = [r for r in report.recommendations if r.item_id in report.held_out]
    hit_text = f"{len(hits)} of the top {len(report.recommendations)} are in the held-out fold" + (
        f", rated {np.mean([report.held_out[r.item_id] for r in hits]):.2f} on average"
        if hits
        else ""
    )
    lines = [
        f"user {report.user_id}: {report.n_train} training ratings, "
        f"{len(report.held_out)} held out; held-out RMSE {report.rmse:.3f}",
        "",
        f"top {len(report.recommendations)} recommendations ({hit_text}):",
        format_recommendations(report.recommendations, report.held_out),
        "",
        f"held-out ratings, highest predicted first (first {n_held_out}):",
        f"{'actual':>6}  {'predicted':>9}  title",
    ]
    for title, actual, predicted in report.held_out_predictions[:n_held_out]:
        lines.append(f"{actual:6g}  {predicted:9.2f}  {short(title)}")
    return "\n".join(lines)


class UserExplorer(Explorer):
    """Pick a user: posterior, what the clusters like, top-N against their held-out ratings."""

    summary = "pick a MovieLens user, see their posterior and recommendations"

    def __init__(self, recommender: Recommender, held_out: RatingsData, n: int = 10):
        recommender.require_mixture("UserExplorer")  # it shows posteriors and clusters
        self.recommender, self.held_out, self.n = recommender, held_out, n
        options = users_with_held_out(held_out)
        if not options:
            raise ValueError("held_out holds no ratings: there is no user to check against")
        self.user_choice = widgets.Dropdown(options=options, description="user")
        self.posterior = widgets.HTML()
        self.clusters = widgets.HTML()
        self.report = widgets.HTML()
        for widget, name in (
            (self.user_choice, "choice"),
            (self.posterior, "posterior"),
            (self.clusters, "clusters"),
            (self.report, "report"),
        ):
            widget.add_class(f"cfcore-user-{name}")
        self.user_choice.observe(self.on_user, names="value")
        super().__init__(
            [
                self.user_choice,
                widgets.HTML("<b>posterior over clusters</b>"),
                self.posterior,
                widgets.HTML("<b>what the clusters like</b>"),
                self.clusters,
                self.report,
            ]
        )
        self.add_class("cfcore-user-explorer")
        self.on_user()

    def on_user(self, change=None) -> None:
        """A user was picked: fold them in (milliseconds) and show the three readouts."""
        report = user_report(self.recommender, self.held_out, self.user_choice.value, self.n)
        self.posterior.value = pre(format_posterior(report.post))
        self.clusters.value = pre(format_profiles(self.recommender, report.post))
        self.report.value = pre(format_user_report(report))


# ----------------------------------------------------------------------------------------
# Rate and recommend

#: more steps than this on a scale and the rating control is a slider, not buttons
MAX_RATING_BUTTONS = 21
#: the rating control starts here, as a share of the scale: 4 of 1-5 stars
DEFAULT_RATING_SHARE = 0.75
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


def rating_control(scale: tuple[float, float], step: float):
    """The widget to choose a rating: toggle buttons, one per step, or a slider if too many.

    Starts at the step nearest to low + 0.75 (high - low): 4 on 1-5 stars.
    """
    steps = rating_steps(scale, step)
    target = scale[0] + DEFAULT_RATING_SHARE * (scale[1] - scale[0])
    start = min(steps, key=lambda value: (abs(value - target), -value))
    description = "stars" if is_star_scale(scale) else "rating"
    if len(steps) > MAX_RATING_BUTTONS:
        return widgets.FloatSlider(
            value=start, min=scale[0], max=scale[1], step=step, description=description
        )
    whole = all(float(value).is_integer() for value in steps)
    options = [(f"{value:g}", int(value) if whole else value) for value in steps]
    control = widgets.ToggleButtons(
        options=options, value=int(start) if whole else start, description=description
    )
    control.style.button_width = "34px" if len(steps) <= 5 else "40px"
    return control


def search_options(recommender: Recommender, query: str, limit: int = 30) -> list:
    """(label, item id) of the movies whose title contains query, most rated first."""
    return [(recommender.title(item_id), item_id) for item_id in recommender.search(query, limit)]


def rate(ratings: dict, item_id, stars) -> dict:
    """A new {item id: rating} with item_id rated `stars` (a new rating replaces an old one)."""
    updated = {key: value for key, value in ratings.items() if key != item_id}
    updated[item_id] = float(stars)
    return updated


def format_ratings(recommender: Recommender, ratings: dict) -> str:
    """One line per rating, "4 ★  Title" (or "7/10  Title" off a star scale)."""
    if not ratings:
        if recommender.mixture is None:
            return "no ratings yet: the predictions are the items' baseline"
        return "no ratings yet: the posterior is the mixing weights p"
    return "\n".join(
        f"{rating_text(rating, recommender.scale)}  {short(recommender.title(item_id), 60)}"
        for item_id, rating in ratings.items()
    )


def format_user_posterior(recommender: Recommender, user: UserFold, previous_post=None) -> str:
    """The posterior readout: bars per cluster, or why a model has none."""
    if user.post is None:
        return (
            f"no posterior over clusters to show: this Recommender folds users into "
            f"{recommender.model.name} through its fold_in; the predictions below use every "
            "rating"
        )
    return format_posterior(user.post, previous_post)


@dataclass(frozen=True)
class SessionView:
    """What rate-and-recommend shows after each rating."""

    user: UserFold
    ratings_text: str
    posterior_text: str
    recommendations_text: str


def session_view(recommender: Recommender, ratings: dict, previous_post=None, n: int = 10):
    """Fold in the ratings so far (one E-step) and render the three readouts."""
    user = recommender.fold_in(ratings)
    return SessionView(
        user,
        format_ratings(recommender, ratings),
        format_user_posterior(recommender, user, previous_post),
        format_recommendations(recommender.recommend(user, n)),
    )


class RateAndRecommend(Explorer):
    """Search, rate on the data's scale, and see the posterior and recommendations move.

    step: the gap between the ratings offered (default ``rating_step`` of the recommender's
    training ratings: 1 for 1-5 stars and 0-10, 0.5 for half stars); the control offers
    every step of the scale. Nothing is refitted.
    """

    summary = "rate movies and watch the posterior and recommendations update"

    def __init__(
        self, recommender: Recommender, n: int = 10, limit: int = 30, step: float | None = None
    ):
        self.recommender, self.n, self.limit = recommender, n, limit
        self.step = rating_step(recommender.train) if step is None else float(step)
        self.ratings: dict = {}
        self.history: list[np.ndarray | None] = []  # posteriors before each rating
        self.search_box = widgets.Text(
            placeholder="type part of a title", description="search", continuous_update=True
        )
        self.results = widgets.Select(options=search_options(recommender, "", limit), rows=8)
        self.results.layout.width = "420px"
        self.stars = rating_control(recommender.scale, self.step)
        self.rate_button = widgets.Button(description="Rate", button_style="primary")
        self.undo_button = widgets.Button(description="Undo last rating")
        self.ratings_view = widgets.HTML()
        self.posterior = widgets.HTML()
        self.recommendations = widgets.HTML()
        for widget, name in (
            (self.search_box, "search"),
            (self.results, "results"),
            (self.ratings_view, "ratings"),
            (self.posterior, "posterior"),
            (self.recommendations, "recommendations"),
        ):
            widget.add_class(f"cfcore-rate-{name}")
        self.search_box.observe(self.on_search, names="value")
        self.rate_button.on_click(self.on_rate)
        self.undo_button.on_click(self.on_undo)
        super().__init__(
            [
                self.search_box,
                self.results,
                widgets.HBox([self.stars, self.rate_button, self.undo_button]),
                widgets.HTML("<b>your ratings</b>"),
                self.ratings_view,
                widgets.HTML("<b>posterior over clusters</b>"),
                self.posterior,
                widgets.HTML("<b>recommendations</b>"),
                self.recommendations,
            ]
        )
        self.add_class("cfcore-rate-and-recommend")
        self.refresh()

    def on_search(self, change=None) -> None:
        """The search text changed: list the matching titles."""
        self.results.options = search_options(self.recommender, self.search_box.value, self.limit)

    def on_rate(self, button=None) -> None:
        """Rate the selected movie with the chosen stars and fold the ratings in again."""
        if self.results.value is None:
            return
        self.history.append(self.recommender.fold_in(self.ratings).post)
        self.ratings = rate(self.ratings, self.results.value, self.stars.value)
        self.refresh(self.history[-1])

    def on_undo(self, button=None) -> None:
        """Take the last rating back."""
        if not self.ratings:
            return
        self.ratings = dict(list(self.ratings.items())[:-1])
        self.history.pop()
        self.refresh(self.history[-1] if self.history else None)

    def refresh(self, previous_post=None) -> SessionView:
        view = session_view(self.recommender, self.ratings, previous_post, self.n)
        self.ratings_view.value = pre(view.ratings_text)
        self.posterior.value = pre(view.posterior_text)
        self.recommendations.value = pre(view.recommendations_text)
        return view
