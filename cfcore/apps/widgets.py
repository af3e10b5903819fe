"""Interactive explorers for notebook 07, as ipywidgets whose work is done by plain functions.

Three explorers, each an ``ipywidgets.VBox`` that can be displayed as it is:

``EMExplorer``
    K and seed controls; runs EM (``naive_em`` on 2-D points, ``em`` on ratings) and shows
    the log-likelihood climbing iteration by iteration, the clusters (2-D) or the cluster
    mean profiles by genre (ratings), and BIC for the chosen K.
``UserExplorer``
    Pick a MovieLens user: their posterior over clusters, what the clusters like, and their
    top-N recommendations against what they rated in the held-out fold.
``RateAndRecommend``
    Search movies, rate a handful on the data's scale (1-5 stars, half stars, 0-10, ...: the
    control offers every step, ``rating_steps``); every rating is folded in (no refit) and
    the posterior and recommendations are shown again, with the change. The ratings go to a
    ``RatingSession``, whose undo stack keeps the rating each one replaced.

Everything a widget shows is computed by a module-level function (``run_em``, ``em_summary``,
``em_figure``, ``user_report``, ``format_user_report``, ``format_posterior``,
``format_recommendations``, ``search_options``, ``rate``, ...; in ``em_explorer``,
``user_explorers`` and ``render``, gathered here), so pytest checks them without a browser,
and the notebook prints the same text where widgets do not render.
A widget's readouts are HTML widgets holding that text in <pre>; its figures are PNGs in
Image widgets (rendered without pyplot, so no figure leaks into the notebook). Each widget
carries a CSS class (``cfcore-...``) by which a browser test finds it.
"""

from __future__ import annotations

from .em_explorer import START_LABELS, EMData, EMExplorer, EMRun, em_figure, em_summary, run_em
from .rating_session import (
    RatingChange,
    RatingSession,
    rate,
    rating_step,
    rating_steps,
    rating_text,
    unrate,
)
from .render import bar, figure_png, format_posterior, format_profiles, format_recommendations, pre
from .user_explorers import (
    RateAndRecommend,
    SessionView,
    UserExplorer,
    UserReport,
    format_ratings,
    format_user_posterior,
    format_user_report,
    option_label,
    rating_control,
    search_hint,
    search_options,
    session_view,
    user_report,
    users_with_held_out,
)

__all__ = [
    "START_LABELS",
    "EMData",
    "EMExplorer",
    "EMRun",
    "RateAndRecommend",
    "RatingChange",
    "RatingSession",
    "SessionView",
    "UserExplorer",
    "UserReport",
    "bar",
    "em_figure",
    "em_summary",
    "figure_png",
    "format_posterior",
    "format_profiles",
    "format_ratings",
    "format_recommendations",
    "format_user_posterior",
    "format_user_report",
    "pre",
    "rate",
    "rating_control",
    "rating_step",
    "rating_steps",
    "rating_text",
    "run_em",
    "option_label",
    "search_hint",
    "search_options",
    "session_view",
    "unrate",
    "user_report",
    "users_with_held_out",
]
