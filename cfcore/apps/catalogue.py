"""The items of a RatingsData as a person names them: by id, by title, by part of one.

``ItemCatalogue`` is what the recommender, the widgets and ``python -m cfcore recommend``
use to turn "Godfather=5" into a matrix column, and to say which titles were meant when a
name matches none or several.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator

import numpy as np

from .._validation import check_count
from ..data import RatingsData
from .recommend import plain_value

#: how many near matches an error about an unknown title lists
CLOSE_MATCHES = 5
#: a title's trailing release year, "Toy Story (1995)" -> "Toy Story"
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
#: a trailing article, "Godfather, The" -> "The Godfather"
_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|il|el|der|die|das)$", re.IGNORECASE)


def _folded(text: str) -> str:
    """text lower-cased and without accents ("Misérables" -> "miserables"), for search."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _plain_title(title: str) -> str:
    """A title as a person may type it: lower case, no "(year)", the article in front."""
    title = _YEAR.sub("", title.strip().lower())
    return _ARTICLE.sub(r"\2 \1", title)


class ItemCatalogue:
    """The items of a RatingsData as a person names them: by id or by (part of a) title.

    titles: (d,) str, the data's titles or the ids as text; genres: (d,) tuples of genre
    names (None without genres); n_ratings: (d,) ratings per item, which orders searches.
    """

    def __init__(self, data: RatingsData):
        if not isinstance(data, RatingsData):
            raise TypeError(f"data must be a RatingsData, got {type(data).__name__}")
        self.data = data
        self._column_of = {plain_value(item_id): k for k, item_id in enumerate(data.item_ids)}
        self._column_of_text = {str(item_id): k for item_id, k in self._column_of.items()}
        self.titles = np.asarray(data.titles if data.titles is not None else data.item_ids)
        self.titles = self.titles.astype(str)
        self._lower_titles = np.char.lower(self.titles)
        self._plain_titles = [_plain_title(title) for title in self.titles]
        # what search matches: each title folded, and its plain form ("the godfather")
        self._search_texts = np.array(
            [
                f"{_folded(t)}\x1f{_folded(p)}"
                for t, p in zip(self.titles, self._plain_titles, strict=True)
            ]
        )
        self.n_ratings = np.bincount(data.matrix.indices, minlength=data.n_items)
        self.genres = item_genre_names(data)

    def column(self, item) -> int:
        """The matrix column of an item id or title; a ValueError names an unknown one."""
        key = plain_value(item)
        try:
            return self._column_of[key]
        except (KeyError, TypeError):
            if isinstance(key, str):
                return self._column_of[plain_value(self.find(key))]
            raise ValueError(
                f"item_id {item!r} is not one of the {self.data.n_items} items "
                f"(ids run from {self.data.item_ids[0]} to {self.data.item_ids[-1]})"
            ) from None

    def find(self, text: str):
        """The id of the one item that ``text`` names; a ValueError lists close matches.

        Tried in order, each case-insensitive: the exact title; the item id written as text;
        the title without its "(year)" and with a trailing article in front ("Godfather,
        The" is "the godfather"); a substring of one title only. Several items at the
        first step that matches, or none at all, is an error naming up to 5 candidates.
        """
        text = str(text).strip()
        for columns in self._matches(text):
            if len(columns) == 1:
                return plain_value(self.data.item_ids[columns[0]])
            if columns:
                raise ValueError(self._ambiguous(text, columns))
        raise ValueError(self._unknown(text))

    def _matches(self, text: str) -> Iterator[list[int]]:
        """The columns text names at each of ``find``'s steps, in order."""
        lower, plain = text.lower(), _plain_title(text)
        yield list(np.flatnonzero(self._lower_titles == lower))
        yield [self._column_of_text[text]] if text in self._column_of_text else []
        yield [k for k, title in enumerate(self._plain_titles) if title == plain]
        yield list(np.flatnonzero(np.char.find(self._lower_titles, lower) >= 0))

    def _ambiguous(self, text: str, columns: list[int]) -> str:
        columns = sorted(columns, key=lambda k: -self.n_ratings[k])
        named = "; ".join(
            f"{self.titles[k]} (id {self.data.item_ids[k]})" for k in columns[:CLOSE_MATCHES]
        )
        return (
            f"{text!r} matches {len(columns)} items: {named}"
            f"{'; ...' if len(columns) > CLOSE_MATCHES else ''}; give the full title or the id"
        )

    def _unknown(self, text: str) -> str:
        lower = list(self._lower_titles)
        close = difflib.get_close_matches(text.lower(), lower, n=CLOSE_MATCHES, cutoff=0.5)
        if not close:
            by_plain = difflib.get_close_matches(
                _plain_title(text), self._plain_titles, n=CLOSE_MATCHES, cutoff=0.5
            )
            close = [lower[self._plain_titles.index(title)] for title in by_plain]
        names = "; ".join(str(self.titles[lower.index(title)]) for title in close)
        return f"no item is titled {text!r}" + (
            f"; close matches: {names}" if names else ", and no title is close to it"
        )

    def title(self, item) -> str:
        return str(self.titles[self.column(item)])

    def item_id(self, item):
        """The id of an item given by id or title (what ratings are keyed by)."""
        return plain_value(self.data.item_ids[self.column(item)])

    def search(self, query: str, limit: int | None = 20) -> list:
        """Ids of the items whose title contains query, most rated first, at most limit
        (None: all). Case and accents are ignored, and a title's trailing article counts in
        front too ("the godfather" finds "Godfather, The (1972)")."""
        limit = None if limit is None else check_count(limit, "limit", minimum=0)
        query = _folded(str(query).strip())
        hits = np.flatnonzero(np.char.find(self._search_texts, query) >= 0)
        hits = hits[np.argsort(-self.n_ratings[hits], kind="stable")][:limit]
        return [plain_value(self.data.item_ids[k]) for k in hits]

    def has_twin(self, item) -> bool:
        """Whether another item has the same title (MovieLens has a few such pairs)."""
        return int((self.titles == self.titles[self.column(item)]).sum()) > 1


def item_genre_names(data: RatingsData) -> list[tuple[str, ...]] | None:
    """(d,) tuples of every item's genre names, or None when the data has no genres."""
    if data.genres is None:
        return None
    names = np.asarray(data.genre_names, dtype=object)
    return [tuple(names[flags]) for flags in data.genres]
