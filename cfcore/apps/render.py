"""How the explorers show things: text readouts in <pre>, figures as PNG bytes, text bars.

Every readout is computed by a plain function here or in the explorer modules, so pytest
checks them without a browser, and a notebook prints the same text where widgets do not
render.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .recommend import Recommendation
from .recommender import Recommender

# ----------------------------------------------------------------------------------------
# Rendering helpers

#: how a readout shows text: monospace, so that the tables line up
_PRE_STYLE = "font-size: 12px; line-height: 1.35; margin: 0"


def pre(text: str, css_class: str = "") -> str:
    """Text as an HTML <pre> block (escaped), for an HTML widget's value."""
    return f'<pre class="{css_class}" style="{_PRE_STYLE}">{html.escape(text)}</pre>'


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """A matplotlib Figure rendered to PNG bytes (for an Image widget)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attach a canvas: a bare Figure is drawn without pyplot
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def short(title: str, width: int = 48) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"


def bar(fraction: float, width: int = 20) -> str:
    """A text bar of `width` cells filled in proportion to fraction in [0, 1]."""
    filled = int(round(min(max(fraction, 0.0), 1.0) * width))
    return "█" * filled + "·" * (width - filled)


class Explorer(widgets.VBox):
    """A VBox whose plain-text form (what nbval compares, and what a viewer without widgets
    shows) is a stable one-line description instead of the repr of every child."""

    summary = "an interactive explorer"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = (
            f"{type(self).__name__}: {self.summary} (needs a running kernel with ipywidgets; "
            "the figure and text below show the same views)"
        )
        return bundle


# ----------------------------------------------------------------------------------------
# Readouts shared by the user explorer and rate-and-recommend


def format_posterior(post, previous=None, width: int = 20) -> str:
    """One line per cluster: a bar, post_j and, when given, the value before the update."""
    lines = []
    for j, value in enumerate(post):
        line = f"cluster {j}  {bar(value, width)}  {value:.3f}"
        if previous is not None:
            change = value - previous[j]
            line += f"   (was {previous[j]:.3f}, {change:+.3f})"
        lines.append(line)
    return "\n".join(lines)


def format_recommendations(recommendations: list[Recommendation], held_out=None) -> str:
    """A numbered table: predicted rating, spread, support, title (and held-out rating).

    held_out: optional {item id: rating} the user gave in the held-out fold.
    """
    header = f"{'#':>3}  {'predicted':>9}  {'spread':>6}  {'support':>7}  "
    if held_out is not None:
        header += f"{'held out':>8}  "
    lines = [header + "title"]
    for rank, rec in enumerate(recommendations, start=1):
        spread = "—" if np.isnan(rec.spread) else f"{rec.spread:.2f}"  # not every model has one
        line = f"{rank:>3}  {rec.predicted:9.2f}  {spread:>6}  {rec.support:7.1f}  "
        if held_out is not None:
            actual = held_out.get(rec.item_id)
            line += f"{'—' if actual is None else f'{actual:g}':>8}  "
        lines.append(line + short(rec.title))
    return "\n".join(lines)


def format_profiles(recommender: Recommender, post=None, n_genres: int = 3) -> str:
    """What each cluster likes (genres, titles); with post, the user's share of each."""
    lines = []
    for profile in recommender.cluster_profiles(n_titles=3):
        j = profile.cluster
        share = "" if post is None else f", this user {post[j]:.2f}"
        likes = ", ".join(f"{g} {s:+.2f}" for g, s in profile.genres[:n_genres])
        dislikes = ", ".join(f"{g} {s:+.2f}" for g, s in profile.genres[::-1][:2])
        lines.append(
            f"cluster {j} (p {profile.weight:.2f}{share}): mean rating {profile.mean_rating:.2f};"
            f" likes {likes}; less {dislikes}"
        )
        titles = "; ".join(f"{short(t, 34)} {v:.2f}" for t, v in profile.titles)
        lines.append(f"    best rated: {titles}")
    return "\n".join(lines)
