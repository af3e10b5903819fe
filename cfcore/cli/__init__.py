"""Command line.

``python -m cfcore reproduce [--data-dir DIR] [--json]``
``python -m cfcore evaluate --dataset ml-100k|course|PATH [--protocol folds|cold-items|cold-users]
[--folds u1,u2] [--models a,b] [--on-bad-lines error|skip|warn] [--scale LOW HIGH] [--json]``:
held-out RMSE per fold, and by the number of training ratings of the test pair's item and user.
``python -m cfcore bench [--json] [--quick] [--only SECTION ...] [--no-progress]``
``python -m cfcore recommend --ratings ml-100k|PATH [--items PATH] --rate "TITLE=RATING" ...
[--model NAME] [-n 10] [--on-bad-lines error|skip|warn] [--scale LOW HIGH] [--json]``: a new
user's top-n, folded into a model fitted on every rating (a title or item id the data does
not know exits 2, naming close titles).

``evaluate --protocol`` says what each fold holds out: ``folds`` (the default) the data set's
own folds (ml-100k: u1..u5; course: the entries missing from netflix_incomplete; a file:
5 seeded folds f1..f5 within users); ``cold-items`` every rating of a seeded 10% of the
items (folds cold-items-0..4, seeds 0..4); ``cold-users`` all but 5 seeded ratings of a
seeded 10% of the users who have more than 5 (folds cold-users-0..4). ``--folds`` picks
among the chosen protocol's folds by name.

Every failure is one line on stderr, "cfcore <command>: <what went wrong and what to do>",
and a non-zero exit: 2 for input that cannot be used (a missing or unreadable file, an
unknown model, bad options), 1 when a computation failed or, for ``evaluate``, when some
models were left out (refused for memory, or failed to fit) while the others ran.
"""

# The package, one module per concern: common (HANDLED, one_line, say, warnings as lines),
# reproduce, evaluate (with its memory checks), bench, recommend (one per command, each
# with its handler), parser (build_parser, which binds each command to its handler), and
# main here. available_memory is re-exported, but evaluate looks it up in
# cfcore.cli.evaluate: a test that replaces it patches it there.

from __future__ import annotations

import warnings

from .common import HANDLED, _warnings_as_lines, one_line, say
from .evaluate import available_memory, memory_estimate
from .parser import Parser, build_parser
from .recommend import RECOMMEND_MODEL

__all__ = [
    "HANDLED",
    "RECOMMEND_MODEL",
    "Parser",
    "available_memory",
    "build_parser",
    "main",
    "memory_estimate",
    "one_line",
    "say",
]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warnings_as_lines(args.command)
            return args.handler(args)
    except (FloatingPointError, MemoryError) as err:
        say(args.command, err)
        return 1
    except HANDLED as err:
        say(args.command, err)
        return 2
    except KeyboardInterrupt:
        say(args.command, "interrupted")
        return 130
