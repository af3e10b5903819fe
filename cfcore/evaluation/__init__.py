"""Honest numbers: held-out evaluation on shared folds, its report, and the course reproduced."""

from .protocol import Result, evaluate, evaluate_model
from .report import as_records, format_table
from .reproduce import COURSE_RESULTS, reproduce

__all__ = [
    "COURSE_RESULTS",
    "Result",
    "as_records",
    "evaluate",
    "evaluate_model",
    "format_table",
    "reproduce",
]
