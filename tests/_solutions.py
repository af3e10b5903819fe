"""Parse the course's test_solutions.txt: the step-by-step EM reference on test_incomplete."""

from __future__ import annotations

import re

import numpy as np

SECTIONS = ("Input:", "After first E-step:", "After first M-step:", "After a run")


def _array(text: str) -> np.ndarray:
    rows = re.findall(r"\[([^\[\]]+)\]", text)
    values = [np.array(row.split(), dtype=float) for row in rows]
    return np.array(values) if len(values) > 1 or text.strip().startswith("[[") else values[0]


def _fields(block: str) -> dict[str, object]:
    """name -> value for every 'Name:' in a section; arrays may span several lines."""
    parts = re.split(r"^(\w+):", block, flags=re.MULTILINE)
    fields = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        body = body.strip()
        fields[name] = _array(body) if body.startswith("[") else float(body)
    return fields


def parse(path) -> dict[str, dict[str, object]]:
    text = open(path).read()
    pattern = "(" + "|".join(re.escape(s) for s in SECTIONS) + ")"
    parts = re.split(pattern, text)
    return {
        head.rstrip(":"): _fields(body) for head, body in zip(parts[1::2], parts[2::2], strict=True)
    }
