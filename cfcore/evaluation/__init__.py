"""Honest numbers: held-out evaluation on shared folds, its report, and the course reproduced."""

from .protocol import Result, evaluate, evaluate_model
from .report import as_records, format_table
from .reproduce import COURSE_RESULTS, reproduce
from .support import SUPPORT_BINS, SUPPORT_LABELS

__all__ = [
    "COURSE_RESULTS",
    "SUPPORT_BINS",
    "SUPPORT_LABELS",
    "Result",
    "as_records",
    "evaluate",
    "evaluate_model",
    "format_table",
    "reproduce",
]
