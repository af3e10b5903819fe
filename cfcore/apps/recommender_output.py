"""What a Recommender gives back, in plain form: cluster profiles and top-N lists.

``ClusterProfile``: what a cluster likes (``Recommender.cluster_profiles``); a top-N list
of ``Recommendation``s as a text table (``format_top_n``) or as JSON-ready records
(``top_n_records``), the command line's output.
"""

from __future__ import annotations

from dataclasses import dataclass

from .recommend import Recommendation

#: the widest title a table of recommendations shows (longer ones end in "…")
TITLE_WIDTH = 48


@dataclass(frozen=True)
class ClusterProfile:
    """What cluster j likes.

    weight: p_j; mean_rating: the mean of the ratings its members gave, each weighted by
    post_uj (sum_u post_uj sum_{i in C_u} x_ui / sum_i s_ji); genres: (genre, score) for
    every genre, most liked first, the score being how much more than everyone the members
    like the genre, beyond their own generosity (``Recommender.cluster_profiles``);
    titles: (title, mu_ji) of its best-rated items with support s_ji >= min_support.
    """

    cluster: int
    weight: float
    mean_rating: float
    genres: list[tuple[str, float]]
    titles: list[tuple[str, float]]


# ----------------------------------------------------------------------------------------
# Recommendations as text and as records (the command line's output)


def format_top_n(recommendations: list[Recommendation]) -> str:
    """A table: rank, predicted rating, title, genres; one line per recommendation."""
    width = max([len("title"), *(len(r.title) for r in recommendations)])
    width = min(width, TITLE_WIDTH)
    lines = [f"{'#':>3}  {'predicted':>9}  {'title':<{width}}  genres"]
    for rank, rec in enumerate(recommendations, start=1):
        title = rec.title if len(rec.title) <= width else rec.title[: width - 1] + "…"
        genres = ", ".join(rec.genres) or "—"
        lines.append(f"{rank:>3}  {rec.predicted:9.2f}  {title:<{width}}  {genres}")
    return "\n".join(lines)


def top_n_records(recommendations: list[Recommendation]) -> list[dict]:
    """The recommendations as JSON-ready dicts: item (id), title, predicted, genres."""
    return [
        {
            "item": rec.item_id,
            "title": rec.title,
            "predicted": round(rec.predicted, 4),
            "genres": list(rec.genres),
        }
        for rec in recommendations
    ]
