"""What every command shares: the errors turned into one line on stderr, and how a message
or a warning is printed ("cfcore <command>: ...")."""

from __future__ import annotations

import sys

#: what the CLI turns into one line on stderr instead of a traceback
HANDLED = (
    ValueError,
    TypeError,
    FileNotFoundError,
    ImportError,
    FloatingPointError,
    MemoryError,
    OSError,
    RuntimeError,
)


def one_line(error: BaseException | str) -> str:
    """An error message on one line (newlines and runs of spaces become one space)."""
    text = " ".join(str(error).split())
    if isinstance(error, BaseException) and not text:
        text = type(error).__name__
    return text


def say(command: str, message: BaseException | str) -> None:
    print(f"cfcore {command}: {one_line(message)}", file=sys.stderr, flush=True)


def _warnings_as_lines(command: str):
    """showwarning that prints "cfcore <command>: warning: <message>" on one line."""

    def show(message, category, filename, lineno, file=None, line=None):
        say(command, f"warning: {message}")

    return show
