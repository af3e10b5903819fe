"""The user explorer and rate-and-recommend of notebook 07.

``UserExplorer``: pick a MovieLens user, see their posterior over clusters, what the
clusters like, and their top-N recommendations against what they rated in the held-out
fold (a course-mixture Recommender only). ``RateAndRecommend``: search movies, rate a
handful on the data's own scale (1-5 stars, half stars, 0-10: ``rating_steps``); every
rating goes to a ``RatingSession`` (folded in, no refit; the web app's ``LiveSession``
learns from it), whose undo stack keeps the value each rating replaced, and the posterior
and recommendations are shown again, with the change.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ..data import RatingsData
from .rating_session import RatingSession, is_star_scale, rating_step, rating_steps, rating_text
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

#: more steps than this on a scale and the rating control is a drop-down, not buttons
MAX_RATING_BUTTONS = 21


def rating_control(scale: tuple[float, float], step: float):
    """The widget to choose a rating: toggle buttons, one per step, or a drop-down if too many.

    Nothing is chosen at first (value None): a rating is always the person's own choice.
    """
    steps = rating_steps(scale, step)
    description = "stars" if is_star_scale(scale) else "rating"
    whole = all(float(value).is_integer() for value in steps)
    options = [(f"{value:g}", int(value) if whole else value) for value in steps]
    if len(steps) > MAX_RATING_BUTTONS:
        return widgets.Dropdown(options=options, value=None, description=description)
    control = widgets.ToggleButtons(options=options, value=None, description=description)
    control.style.button_width = "34px" if len(steps) <= 5 else "40px"
    return control


def search_options(recommender: Recommender, query: str, limit: int = 30) -> list:
    """(label, item id) of the movies whose title contains query, most rated first; a title
    that two movies share is labelled with each one's id, so that they can be told apart."""
    return [
        (option_label(recommender, item_id), item_id)
        for item_id in recommender.search(query, limit)
    ]


def option_label(recommender: Recommender, item_id) -> str:
    title = recommender.title(item_id)
    return f"{title} (id {item_id})" if recommender.items.has_twin(item_id) else title


def search_hint(recommender: Recommender, query: str, limit: int) -> str:
    """What the list of matches leaves out: nothing matched, or only the first limit shown."""
    if not query.strip():
        return ""
    found = len(recommender.search(query, None))
    if not found:
        return f"No movie title contains {html.escape(query.strip())!r}; try part of a word."
    if found > limit:
        return f"Showing the {limit} most rated of {found} matches; type more to narrow them."
    return ""


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


def session_view(
    recommender: Recommender,
    ratings: dict,
    previous_post=None,
    n: int = 10,
    *,
    user: UserFold | None = None,
) -> SessionView:
    """The three readouts for the ratings so far.

    user: the user as a model that learnt from the ratings sees them (``RatingSession.user``);
    default: the ratings folded in (one E-step). previous_post: the posterior shown before
    the last action, for the "(was ...)" column.
    """
    user = recommender.fold_in(ratings) if user is None else user
    return SessionView(
        user,
        format_ratings(recommender, ratings),
        format_user_posterior(recommender, user, previous_post),
        format_recommendations(recommender.recommend(user, n)),
    )


def rate_hint(has_item: bool, has_rating: bool) -> str:
    """What the person still has to do before Rate can be pressed."""
    missing = [
        what
        for what, done in (("pick a movie in the list", has_item), ("choose a rating", has_rating))
        if not done
    ]
    return " and ".join(missing).capitalize() + "." if missing else "Press Rate."


class RateAndRecommend(Explorer):
    """Search, rate on the data's scale, and see the posterior and recommendations move.

    step: the gap between the ratings offered (default ``rating_step`` of the recommender's
    training ratings: 1 for 1-5 stars and 0-10, 0.5 for half stars); the control offers
    every step of the scale. session: where the ratings go (default a ``RatingSession``,
    which folds them in without refitting; the web app passes a ``LiveSession``).
    The panel starts with no movie selected and no rating chosen; Rate is enabled once
    both are chosen, and Undo once there is a rating to take back. "(was ...)" in the
    posterior compares with the posterior shown before the last Rate or Undo.
    """

    summary = "rate movies and watch the posterior and recommendations update"

    def __init__(
        self,
        recommender: Recommender,
        n: int = 10,
        limit: int = 30,
        step: float | None = None,
        session: RatingSession | None = None,
        posterior_heading: str = "posterior over clusters",
    ):
        self.session = RatingSession(recommender) if session is None else session
        if self.session.recommender is not recommender:
            raise ValueError("session must rate with the same Recommender as the panel")
        self.recommender, self.n, self.limit = recommender, n, limit
        self.step = rating_step(recommender.train) if step is None else float(step)
        self.shown_post = None  # the posterior on screen: what "(was ...)" compares with
        self._build_controls()
        super().__init__(
            [
                self.search_box,
                self.results,
                widgets.HBox([self.stars, self.rate_button, self.undo_button]),
                self.hint,
                widgets.HTML("<b>your ratings</b>"),
                self.ratings_view,
                widgets.HTML(f"<b>{html.escape(posterior_heading)}</b>"),
                self.posterior,
                widgets.HTML("<b>recommendations</b>"),
                self.recommendations,
            ]
        )
        self.add_class("cfcore-rate-and-recommend")
        self.refresh()

    def _build_controls(self) -> None:
        recommender = self.recommender
        self.search_box = widgets.Text(
            placeholder="type part of a title", description="search", continuous_update=True
        )
        options = search_options(recommender, "", self.limit)
        self.results = widgets.Select(options=options, value=None, rows=8)
        self.results.layout.width = "420px"
        self.stars = rating_control(recommender.scale, self.step)
        self.rate_button = widgets.Button(description="Rate", button_style="primary", disabled=True)
        self.undo_button = widgets.Button(description="Undo last rating", disabled=True)
        self.hint = widgets.HTML()
        self.ratings_view = widgets.HTML()
        self.posterior = widgets.HTML()
        self.recommendations = widgets.HTML()
        for widget, name in (
            (self.search_box, "search"),
            (self.results, "results"),
            (self.stars, "stars"),
            (self.rate_button, "rate"),
            (self.undo_button, "undo"),
            (self.hint, "hint"),
            (self.ratings_view, "ratings"),
            (self.posterior, "posterior"),
            (self.recommendations, "recommendations"),
        ):
            widget.add_class(f"cfcore-rate-{name}")
        self.search_box.observe(self.on_search, names="value")
        self.results.observe(self.on_choice, names="value")
        self.stars.observe(self.on_choice, names="value")
        self.rate_button.on_click(self.on_rate)
        self.undo_button.on_click(self.on_undo)

    @property
    def ratings(self) -> dict:
        """{item id: rating} given so far."""
        return self.session.ratings

    @property
    def ready(self) -> bool:
        """Whether a movie is selected and a rating chosen, so that Rate can rate."""
        return self.results.value is not None and self.stars.value is not None

    def on_search(self, change=None) -> None:
        """The search text changed: list the matching titles, none of them selected."""
        self.results.index = None  # a new list must not select its first title by itself
        self.results.options = search_options(self.recommender, self.search_box.value, self.limit)
        self.on_choice()

    def on_choice(self, change=None) -> None:
        """A movie was selected or a rating chosen: enable Rate once both are."""
        self.rate_button.disabled = not self.ready
        hints = [
            search_hint(self.recommender, self.search_box.value, self.limit),
            rate_hint(self.results.value is not None, self.stars.value is not None),
        ]
        if self.ratings and not self.session.can_undo:  # Undo greyed out, ratings still there
            kept = self.session.max_undo
            hints.append(f"Undo takes back the last {kept} ratings only." if kept else "")
        self.hint.value = " ".join(hint for hint in hints if hint)

    def on_rate(self, button=None) -> None:
        """Rate the selected movie with the chosen rating; the next rating is chosen anew."""
        if not self.ready:
            return
        previous = self.shown_post
        self.session.rate(self.results.value, self.stars.value)
        self.stars.value = None
        self.refresh(previous)

    def on_undo(self, button=None) -> None:
        """Take the last rating back: the earlier rating of a re-rated movie returns."""
        if not self.session.can_undo:
            return
        previous = self.shown_post
        self.session.undo()
        self.refresh(previous)

    def refresh(self, previous_post=None) -> SessionView:
        """Show the session's state; previous_post: the posterior shown before the action."""
        view = session_view(
            self.recommender, self.ratings, previous_post, self.n, user=self.session.user()
        )
        self.ratings_view.value = pre(view.ratings_text)
        self.posterior.value = pre(view.posterior_text)
        self.recommendations.value = pre(view.recommendations_text)
        self.shown_post = view.user.post
        self.undo_button.disabled = not self.session.can_undo
        self.on_choice()
        return view
