"""What every command shares: the errors turned into one line on stderr, and how a message
or a warning is printed ("cfcore <command>: ...")."""

from __future__ import annotations

import re
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


def as_cli_advice(message: str) -> str:
    """A library message's advice in the CLI's terms: its options, no Python keyword."""
    message = re.sub(r"on_bad_lines=['\"](\w+)['\"]", r"--on-bad-lines \1", message)
    message = re.sub(
        r"pass rating_scale=\(lowest, highest\)[^;]*",
        "pass --scale LOW HIGH",
        message,
    )
    message = re.sub(r"or pass data_dir\b", "or pass --data-dir", message)
    return re.sub(
        r"pass encoding=.*$",
        "convert the file to UTF-8 first (e.g. iconv -f latin1 -t utf-8), or read it with "
        "cfcore.data.load_ratings(path, encoding=...)",
        message,
    )


def names_option(text: str | None, option: str, example: str) -> list[str] | None:
    """Comma-separated names; None when the option was not given; empty or repeated names
    are errors (a fold or model named twice would be counted twice)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError(f"{option} names no {option[2:-1]}; pass e.g. {option} {example}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{option} names {', '.join(repeated)} more than once; name each once")
    return names
