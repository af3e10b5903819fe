"""The course's published results, recomputed live from the course files.

``python -m cfcore reproduce`` prints this table; notebook 05 walks through it. Each row
puts the number cfcore computes beside the number the course reports, and the held-out
RMSE (over the entries missing from netflix_incomplete only) beside the course's RMSE
(over all entries, observed ones included).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import em
from ..common import init, rmse
from ..data import course_held_out, load_course
from ..models import fit

#: the values the course reports (its test_solutions.txt and its graded answers)
COURSE_RESULTS = {
    "k-means toy K=1 cost": 5462.297452340002,
    "k-means toy K=2 cost": 1684.9079502962372,
    "k-means toy K=3 cost": 1329.59486715443,
    "k-means toy K=4 cost": 1035.499826539466,
    "naive EM toy K=1 log-likelihood": -1307.2234317600937,
    "naive EM toy K=2 log-likelihood": -1175.7146293666792,
    "naive EM toy K=3 log-likelihood": -1138.8908996872674,
    "naive EM toy K=4 log-likelihood": -1138.601175699485,
    "naive EM toy K=1 BIC": -1315.5057,
    "naive EM toy K=2 BIC": -1195.0397,
    "naive EM toy K=3 BIC": -1169.2589347355097,
    "naive EM toy K=4 BIC": -1180.0121,
    "naive EM toy best K by BIC": 3,
    "EM test_incomplete K=4 seed 0 first E-step log-likelihood": -152.16319226209848,
    "EM test_incomplete K=4 seed 0 log-likelihood": -84.98451993042474,
    "EM test_incomplete K=4 seed 0 RMSE (all entries)": 0.3152301205749675,
    "EM netflix K=1 log-likelihood": -1521060.9539852454,
    "EM netflix K=12 log-likelihood": -1390234.422346942,
    "EM netflix K=12 best seed": 1,
    "EM netflix K=12 RMSE (all entries)": 0.48049085054006835,
}

SEEDS = range(5)


@dataclass
class Row:
    """One reproduced number: what it is, cfcore's value, the course's (None if it has none)."""

    result: str
    value: float
    course: float | None
    seconds: float

    @property
    def matches(self) -> bool | None:
        """Equal to 1e-9 relative, or within one unit of the last digit the course printed.

        The course prints three of its BICs to 4 decimals; its K=1 value, -1315.5057, is
        7.7e-5 from ln L - 1.5 ln 250 = -1315.50562, so the last digit is allowed to differ.
        """
        if self.course is None:
            return None
        if isinstance(self.course, int):
            return self.value == self.course
        decimals = len(repr(self.course).partition(".")[2])
        printed = 10.0**-decimals if decimals <= 6 else 0.0
        return bool(abs(self.value - self.course) <= max(1e-9 * abs(self.course), printed))


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _toy_rows(data_dir) -> list[Row]:
    X = load_course("toy_data", data_dir)
    rows, bics = [], {}
    for K in range(1, 5):
        result, seconds = _timed(fit, X, K, seeds=SEEDS, method="kmeans")
        rows.append(Row(f"k-means toy K={K} cost", result.cost, None, seconds))
    for K in range(1, 5):
        result, seconds = _timed(fit, X, K, seeds=SEEDS, method="naive_em")
        rows.append(Row(f"naive EM toy K={K} log-likelihood", result.log_likelihood, None, seconds))
        rows.append(Row(f"naive EM toy K={K} BIC", result.bic, None, 0.0))
        bics[K] = result.bic
    rows.append(Row("naive EM toy best K by BIC", max(bics, key=bics.get), None, 0.0))
    return rows


def _test_rows(data_dir) -> list[Row]:
    X, gold = load_course("test_incomplete", data_dir), load_course("test_complete", data_dir)
    mixture, post = init(X, 4, seed=0)
    (_, first_ll), first_seconds = _timed(em.estep, X, mixture)
    (fitted, _, ll), seconds = _timed(em.run, X, mixture, post)
    name = "EM test_incomplete K=4 seed 0"
    return [
        Row(f"{name} first E-step log-likelihood", first_ll, None, first_seconds),
        Row(f"{name} log-likelihood", ll, None, seconds),
        Row(f"{name} RMSE (all entries)", rmse(gold, em.fill_matrix(X, fitted)), None, 0.0),
    ]


def _netflix_rows(data_dir) -> list[Row]:
    X = load_course("netflix_incomplete", data_dir)
    gold = load_course("netflix_complete", data_dir)
    rows = []
    for K in (1, 12):
        result, seconds = _timed(fit, X, K, seeds=SEEDS, method="em")
        rows.append(Row(f"EM netflix K={K} log-likelihood", result.log_likelihood, None, seconds))
    filled = em.fill_matrix(X, result.mixture)
    hidden = course_held_out(X, gold)  # an entry counts only where the gold holds a rating
    held_out = float(np.sqrt(np.mean((filled[hidden] - gold[hidden]) ** 2)))
    rows.append(Row("EM netflix K=12 best seed", result.seed, None, 0.0))
    rows.append(Row("EM netflix K=12 RMSE (all entries)", rmse(gold, filled), None, 0.0))
    rows.append(Row("EM netflix K=12 RMSE (held-out entries only)", held_out, None, 0.0))
    return rows


def reproduce(data_dir=None) -> list[Row]:
    """Recompute every course result; data_dir defaults to ``$CFCORE_DATA/netflix``."""
    rows = _toy_rows(data_dir) + _test_rows(data_dir) + _netflix_rows(data_dir)
    for row in rows:
        row.course = COURSE_RESULTS.get(row.result)
    return rows


def format_table(rows: list[Row]) -> str:
    """A plain-text table: result, cfcore value, course value, match, seconds."""
    header = f"{'result':<58} {'cfcore':>20} {'course':>20} {'match':>5} {'seconds':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        course = "" if row.course is None else f"{row.course:.10g}"
        match = {None: "", True: "yes", False: "NO"}[row.matches]
        lines.append(
            f"{row.result:<58} {row.value:>20.10g} {course:>20} {match:>5} {row.seconds:>8.3f}"
        )
    return "\n".join(lines)


def as_records(rows: list[Row]) -> list[dict]:
    return [{**asdict(row), "matches": row.matches} for row in rows]
