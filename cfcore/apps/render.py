"""How the explorers show things: text readouts in <pre>, figures as PNG bytes, text bars.

Every readout is computed by a plain function here or in the explorer modules, so pytest
checks them without a browser, and a notebook prints the same text where widgets do not
render.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np

from .recommend import Recommendation
from .recommender import Recommender

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn: the web app draws none
    from matplotlib.figure import Figure

# ----------------------------------------------------------------------------------------
# Rendering helpers

#: the fonts of a readout, named: outside JupyterLab (Voila's templates, other pages) the
#: widget stylesheet gives widget text a proportional font, which misaligns bars and tables
MONOSPACE_FONTS = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
#: the class of every readout, for a page's own stylesheet and for tests
MONOSPACE_CLASS = "cfcore-mono"
#: how a readout shows text, inline so that it holds on any page: monospace, lines kept
_PRE_STYLE = (
    f"font-family: {MONOSPACE_FONTS}; font-size: 12px; line-height: 1.35; margin: 0; "
    "white-space: pre"
)


def pre(text: str, css_class: str = "") -> str:
    """Text as an HTML <pre> block (escaped) in a monospace font, for an HTML widget's value.

    The block carries the class ``cfcore-mono`` (and css_class) and an inline style naming
    its fonts, so columns and text bars line up in JupyterLab, Voila and any other page.
    """
    classes = f"{MONOSPACE_CLASS} {css_class}".strip()
    return f'<pre class="{classes}" style="{_PRE_STYLE}">{html.escape(text)}</pre>'


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """A matplotlib Figure rendered to PNG bytes (for an Image widget)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

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

    held_out: optional {item id: rating} the user gave in the held-out fold. The spread
    column is left out when no recommendation has one (a model without clusters' spread).
    """
    with_spread = any(not np.isnan(rec.spread) for rec in recommendations)
    header = f"{'#':>3}  {'predicted':>9}  " + (f"{'spread':>6}  " if with_spread else "")
    header += f"{'support':>7}  "
    if held_out is not None:
        header += f"{'held out':>8}  "
    lines = [header + "title"]
    for rank, rec in enumerate(recommendations, start=1):
        spread = "—" if np.isnan(rec.spread) else f"{rec.spread:.2f}"  # not every model has one
        line = f"{rank:>3}  {rec.predicted:9.2f}  " + (f"{spread:>6}  " if with_spread else "")
        line += f"{rec.support:7.1f}  "
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
