"""What ``load_ratings`` does with a line it cannot use: the reasons, and the report of it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: what load_ratings does with a bad line: stop, leave it out, leave it out and warn
ON_BAD_LINES = ("error", "skip", "warn")
#: why a line is left out, in the order a LoadReport lists them
REASONS = ("empty rating", "non-numeric", "too few fields", "outside scale", "duplicate pair")
EMPTY, NON_NUMERIC, TOO_FEW, OUTSIDE, DUPLICATE = REASONS
#: line numbers a LoadReport keeps per reason
SHOWN_LINES = 5


@dataclass
class LoadReport:
    """What ``load_ratings(..., on_bad_lines="skip"|"warn")`` left out of a file.

    source: the file's name. n_lines: the rating lines read (blank lines and the header are
    not counted); n_kept: the ratings kept. counts: reason -> number of lines left out for it,
    one key per reason in ``REASONS``; first_lines: reason -> the first (up to 5) of their
    line numbers, counted from 1 in the file.
    """

    source: str
    n_lines: int
    n_kept: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    first_lines: dict[str, list[int]] = field(
        default_factory=lambda: {reason: [] for reason in REASONS}
    )

    @property
    def n_skipped(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        kept = f"{self.source}: kept {self.n_kept:,} of {self.n_lines:,} lines"
        skipped = [
            f"{count:,} {reason} ({_shown_lines(self.first_lines[reason], count)})"
            for reason, count in self.counts.items()
            if count
        ]
        return f"{kept}; skipped {', '.join(skipped)}" if skipped else f"{kept}; none skipped"


def _shown_lines(numbers: list[int], count: int) -> str:
    """ "line 3", or "lines 3, 8, ..." when there are more than the numbers shown."""
    shown = ", ".join(str(number) for number in numbers) + (", ..." if count > len(numbers) else "")
    return f"line {shown}" if count == 1 else f"lines {shown}"


def check_on_bad_lines(on_bad_lines) -> str:
    """on_bad_lines checked: one of ON_BAD_LINES."""
    if not isinstance(on_bad_lines, str) or on_bad_lines not in ON_BAD_LINES:
        raise ValueError(
            f"on_bad_lines must be one of {', '.join(map(repr, ON_BAD_LINES))}, "
            f"got {on_bad_lines!r}"
        )
    return on_bad_lines


# --- the text and its lines ---------------------------------------------------------------


class BadLines:
    """The lines left out, by reason: indices into the rating lines."""

    def __init__(self, parsed: list[tuple[int, str]]):
        self.index = {reason: [k for k, why in parsed if why == reason] for reason in REASONS}
        self.repeated: dict[int, int] = {}  # index of a repeated pair -> index of its first

    def add(self, reason: str, index: np.ndarray) -> None:
        self.index[reason] = sorted([*self.index[reason], *index.tolist()])

    def any(self) -> bool:
        return any(self.index.values())

    def first(self) -> tuple[int, str]:
        """(index, reason) of the earliest bad line."""
        return min((found[0], reason) for reason, found in self.index.items() if found)

    def report(self, source: str, numbers: np.ndarray, n_kept: int) -> LoadReport:
        counts = {reason: len(found) for reason, found in self.index.items()}
        first = {
            reason: numbers[found[:SHOWN_LINES]].tolist() for reason, found in self.index.items()
        }
        return LoadReport(source, len(numbers), n_kept, counts, first)
