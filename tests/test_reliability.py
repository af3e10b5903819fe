"""The reliability table: bad and edge inputs across the public API and the CLI.

Each row is (label, call, expected): ``call()`` either returns a value that satisfies a
property (``ok(check)``), warns with a message (``warns(regex, check)``), or raises an
exception whose message names the argument (``raises(Type, regex)``). No row may return a
NaN, and none may raise from deep inside numpy: an ``ok`` row runs with numpy's overflow
and invalid-value warnings turned into errors. CLI rows call ``cfcore.cli.main`` and expect
one line on stderr and a non-zero exit (``fails(regex)``), never a traceback.
A hypothesis test at the end runs every matrix function on small random matrices.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cfcore import GaussianMixture, bic, common, em, fit, init, kmeans, naive_em, rmse, select_k
from cfcore import cli as cli_module
from cfcore.apps.recommend import fold_in, top_n
from cfcore.data import Fold, RatingsData, holdout, k_fold, make_ratings, train_test_split
from cfcore.models import (
    BiasesModel,
    CourseMixture,
    GlobalMean,
    ItemMean,
    ResidualMixture,
    UserMean,
    held_out_errors,
    held_out_log_likelihood,
)

# ---------------------------------------------------------------------------- fixtures

R = np.array([[5.0, 0.0, 3.0], [4.0, 2.0, 0.0], [0.0, 1.0, 1.0], [3.0, 3.0, 4.0]])  # 0 = missing
C = np.array([[0.0, 1.0], [0.2, 0.9], [5.0, 5.0], [5.1, 4.8], [-1.0, 2.0], [0.1, 1.1]])
CSR = sp.csr_matrix(R)
MIX = common.init(R, 2, seed=0)[0]
MIXC = common.init(C, 2, seed=0)[0]
POST = np.full((4, 2), 0.5)
POSTC = np.full((6, 2), 0.5)
HUGE = 1e155  # its square overflows float64
DATA = RatingsData.from_dense(R, scale=(1, 5))
SMALL = make_ratings(30, 12, 2, 0.5, seed=0)[0]
TEST = (np.array([0, 1]), np.array([1, 2]), np.array([4.0, 5.0]))


def replaced(X, row, col, value, dtype=float):
    out = np.array(X, dtype=dtype)
    out[row, col] = value
    return out


def mixture(mu=None, var=None, p=None, base=MIX):
    return GaussianMixture(
        base.mu if mu is None else mu, base.var if var is None else var, base.p if p is None else p
    )


# ---------------------------------------------------------------------------- outcomes


def finite(value) -> bool:
    """Every number in value (an array, a float, a tuple/mixture of arrays) is finite."""
    if isinstance(value, (tuple, list)):
        return all(finite(part) for part in value if part is not None)
    if isinstance(value, dict):
        return all(finite(part) for part in value.values())
    if hasattr(value, "mixture") and hasattr(value, "post"):  # FitResult
        return finite(value.mixture) and finite(value.post)
    if isinstance(value, RatingsData):
        return bool(np.isfinite(value.matrix.data).all())
    if isinstance(value, Fold):
        return finite(value.train) and finite(value.test)
    return bool(np.isfinite(np.asarray(value, dtype=float)).all())


def shape(*expected):
    return lambda value: finite(value) and np.shape(value) == expected


def in_scale(low, high):
    return lambda value: (
        finite(value) and bool(((np.asarray(value) >= low) & (np.asarray(value) <= high)).all())
    )


def ok(check=finite):
    return ("ok", check)


def warns(pattern, check=finite):
    return ("warns", pattern, check)


def raises(error, pattern):
    return ("raises", error, pattern)


def fails(pattern):
    """CLI: a non-zero exit and exactly one line on stderr matching pattern."""
    return ("fails", pattern)


def succeeds(pattern=""):
    """CLI: exit 0 (stdout matching pattern)."""
    return ("succeeds", pattern)


# ---------------------------------------------------------------------------- files for the CLI

FILES: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def cli_files(tmp_path_factory):
    """Ratings files the CLI rows read: clean, dirty, cold, tiny, and a broken course folder."""
    folder = tmp_path_factory.mktemp("reliability")
    rng = np.random.default_rng(0)
    lines = [
        f"{u}\t{i}\t{rng.integers(1, 6)}"
        for u in range(40)
        for i in range(10)
        if rng.random() < 0.6
    ]
    (folder / "clean.tsv").write_text("\n".join(lines) + "\n")
    (folder / "tiny.tsv").write_text(
        "".join(f"{u}\t{i}\t{(u + i) % 5 + 1}\n" for u in range(4) for i in range(5))
    )
    (folder / "dirty.tsv").write_text("\n".join([*lines, "3\t\t", "7\t2\tfive"]) + "\n")
    (folder / "latin1.tsv").write_bytes("1\tcaf\xe9\t4\n2\tcaf\xe9\t5\n".encode("latin-1"))
    (folder / "empty.tsv").write_text("")
    course = folder / "course"
    course.mkdir()
    for name in (
        "netflix_incomplete",
        "netflix_complete",
        "toy_data",
        "test_incomplete",
        "test_complete",
        "test_solutions",
    ):
        (course / f"{name}.txt").write_text("1 2\n3 4\n")
    partial = folder / "partial"
    partial.mkdir()
    for name in (
        "netflix_incomplete",
        "netflix_complete",
        "toy_data",
        "test_incomplete",
        "test_complete",
    ):
        (partial / f"{name}.txt").write_text("1 2\n")
    FILES.update(
        {path.stem: path for path in folder.iterdir()} | {"course": course, "partial": partial}
    )
    return FILES


def cli(*argv):
    """A CLI row: main(argv) with {name} replaced by the path of FILES[name]."""

    def run():
        args = [re.sub(r"\{(\w+)\}", lambda m: str(FILES[m.group(1)]), a) for a in argv]
        return cli_module.main(list(args))

    run.cli = True
    return run


# ---------------------------------------------------------------------------- the table

BAD_MATRICES = [
    ("nan", replaced(R, 0, 1, np.nan), ValueError, r"X contains NaN.*row 0, column 1"),
    ("inf", replaced(R, 1, 2, np.inf), ValueError, r"X contains NaN or infinite"),
    ("-inf", replaced(R, 1, 2, -np.inf), ValueError, r"X contains NaN or infinite"),
    ("complex", R + 1j, TypeError, r"X .*complex"),
    ("huge", replaced(R, 0, 0, HUGE), ValueError, r"X has entries as large as .*overflow"),
    ("1-D", R[0], ValueError, r"X must be 2-D"),
    ("3-D", R[None], ValueError, r"X must be 2-D"),
    ("no rows", np.zeros((0, 3)), ValueError, r"X is empty"),
    ("no columns", np.zeros((4, 0)), ValueError, r"X is empty"),
    ("string", "ratings.txt", TypeError, r"X must be a 2-D numeric array"),
    ("strings", [["a", "b", "c"]] * 4, TypeError, r"X must be .*numeric"),
    ("None", None, TypeError, r"X must be a 2-D numeric array"),
    ("ragged", [[1.0, 2.0], [3.0]], TypeError, r"X must be .*numeric"),
    ("dict", {"a": 1}, (TypeError, ValueError), r"X must be"),
]

CASES: list[tuple] = []


def case(label, call, expected):
    CASES.append((label, call, expected))


# --- bad matrices through every function that takes ratings or data
RATING_FUNCTIONS = {
    "em.estep": lambda X: em.estep(X, MIX),
    "em.fill_matrix": lambda X: em.fill_matrix(X, MIX),
    "em.mstep": lambda X: em.mstep(X, POST, MIX),
    "em.run": lambda X: em.run(X, MIX, POST),
    "init": lambda X: init(X, 2),
    "fit(em)": lambda X: fit(X, 2, seeds=[0]),
    "held_out_log_likelihood": lambda X: held_out_log_likelihood(X, np.zeros((4, 3)), MIX),
}
for function, call in RATING_FUNCTIONS.items():
    for label, X, error, pattern in BAD_MATRICES:
        if function in ("em.mstep", "em.run") and label in ("no rows", "dict"):
            continue
        if function == "held_out_log_likelihood":
            pattern = pattern.replace("X", "train")
        case(f"{function}: X {label}", (lambda c, x: lambda: c(x))(call, X), raises(error, pattern))
for function, call in {
    "naive_em.estep": lambda X: naive_em.estep(X, MIXC),
    "naive_em.mstep": lambda X: naive_em.mstep(X, POSTC),
    "kmeans.estep": lambda X: kmeans.estep(X, MIXC),
    "rmse": lambda X: rmse(X, X),
    "bic": lambda X: bic(X, MIXC, -10.0),
}.items():
    for label, X, error, pattern in BAD_MATRICES:
        if label in ("1-D", "3-D", "nan", "complex", "huge", "string", "no rows"):
            X = {
                "1-D": C[0],
                "3-D": C[None],
                "nan": replaced(C, 0, 1, np.nan),
                "complex": C + 1j,
                "huge": replaced(C, 0, 0, HUGE),
            }.get(label, X)
            case(
                f"{function}: X {label}",
                (lambda c, x: lambda: c(x))(call, X),
                raises(error, pattern),
            )

# --- sparse input
case(
    "em.estep: CSR ok", lambda: em.estep(CSR, MIX), ok(lambda r: finite(r) and r[0].shape == (4, 2))
)
case(
    "em.estep: COO duplicate pair",
    lambda: em.estep(sp.coo_matrix(([3.0, 4.0, 5.0], ([0, 0, 1], [0, 0, 2])), shape=(4, 3)), MIX),
    raises(ValueError, r"duplicate \(row, column\)"),
)
case(
    "em.estep: CSR duplicate pair",
    lambda: em.estep(sp.csr_matrix(([3.0, 4.0], [0, 0], [0, 2, 2, 2, 2]), shape=(4, 3)), MIX),
    raises(ValueError, r"duplicate"),
)
case(
    "em.estep: CSR complex",
    lambda: em.estep(sp.csr_matrix(R + 1j), MIX),
    raises(TypeError, r"real numbers"),
)
case(
    "em.estep: CSR NaN",
    lambda: em.estep(sp.csr_matrix(replaced(R, 0, 0, np.nan)), MIX),
    raises(ValueError, r"NaN or infinite"),
)
case(
    "em.estep: CSR huge",
    lambda: em.estep(sp.csr_matrix(replaced(R, 0, 0, HUGE)), MIX),
    raises(ValueError, r"overflow"),
)
case(
    "em.estep: CSR negative",
    lambda: em.estep(sp.csr_matrix(replaced(R, 0, 0, -1)), MIX),
    raises(ValueError, r"negative"),
)
case(
    "em.estep: CSR empty",
    lambda: em.estep(sp.csr_matrix((0, 3)), MIX),
    raises(ValueError, r"empty"),
)
case("em.estep: CSR all missing (valid)", lambda: em.estep(sp.csr_matrix((4, 3)), MIX), ok())
case("em.estep: CSR bool", lambda: em.estep(sp.csr_matrix(R > 0), MIX), raises(TypeError, r"real"))
case("em.estep: CSR int", lambda: em.estep(sp.csr_matrix(R.astype(int)), MIX), ok())
case("em.estep: CSC ok", lambda: em.estep(sp.csc_matrix(R), MIX), ok())
case(
    "em.fill_matrix: CSR without pairs",
    lambda: em.fill_matrix(CSR, MIX),
    raises(ValueError, r"X is sparse.*pairs"),
)
case("em.fill_matrix: CSR pairs='all'", lambda: em.fill_matrix(CSR, MIX, "all"), ok(shape(4, 3)))
case(
    "em.fill_matrix: pairs out of range",
    lambda: em.fill_matrix(CSR, MIX, ([0], [3])),
    raises(ValueError, r"cols must lie in \[0, 3\)"),
)
case(
    "em.fill_matrix: pairs negative",
    lambda: em.fill_matrix(R, MIX, ([-1], [0])),
    raises(ValueError, r"rows must lie"),
)
case(
    "em.fill_matrix: pairs float",
    lambda: em.fill_matrix(R, MIX, ([0.5], [0])),
    raises(TypeError, r"rows must be integers"),
)
case(
    "em.fill_matrix: pairs unequal",
    lambda: em.fill_matrix(R, MIX, ([0, 1], [0])),
    raises(ValueError, r"equal length"),
)
case(
    "em.fill_matrix: pairs a string",
    lambda: em.fill_matrix(R, MIX, "some"),
    raises((TypeError, ValueError), r"pairs"),
)
case("em.fill_matrix: pairs empty", lambda: em.fill_matrix(R, MIX, ([], [])), ok(shape(0)))
case(
    "em.fill_matrix: dense keeps observed",
    lambda: em.fill_matrix(R, MIX),
    ok(lambda F: finite(F) and (F[R > 0] == R[R > 0]).all()),
)

# --- edge matrices that are valid
case(
    "em.estep: user with no ratings",
    lambda: em.estep(replaced(R, 2, slice(None), 0), MIX),
    ok(lambda r: np.allclose(r[0][2], MIX.p)),
)
case("em.estep: all missing dense", lambda: em.estep(np.zeros((4, 3)), MIX), ok())
case("em.estep: one user", lambda: em.estep(R[:1], MIX), ok())
case("em.estep: tiny values", lambda: em.estep(R * 1e-300, MIX), ok())
case("em.estep: int matrix", lambda: em.estep(R.astype(int), MIX), ok())
case("em.estep: bool dense", lambda: em.estep(R > 0, MIX), ok())
case("em.estep: float32", lambda: em.estep(R.astype(np.float32), MIX), ok())
case("em.estep: list of lists", lambda: em.estep(R.tolist(), MIX), ok())
case(
    "em.estep: large but safe 1e100",
    lambda: em.estep(R * 1e100, mixture(mu=MIX.mu * 1e100, var=MIX.var * 1e200)),
    ok(),
)
case(
    "em.fill_matrix: user with no ratings",
    lambda: em.fill_matrix(replaced(R, 2, slice(None), 0), MIX),
    ok(shape(4, 3)),
)
case("init: huge course-start variance", lambda: init(replaced(R, 0, 0, 1e150), 2), ok())
case("naive_em.estep: huge far point", lambda: naive_em.estep(replaced(C, 0, 0, 1e150), MIXC), ok())

# --- mixtures
BAD_MIXTURES = [
    ("not a mixture", 3, TypeError, r"mixture must be a GaussianMixture"),
    ("two fields", (MIX.mu, MIX.var), TypeError, r"mixture must be a GaussianMixture"),
    ("mu 1-D", mixture(mu=MIX.mu[0]), ValueError, r"mixture.mu must be 2-D"),
    (
        "mu too narrow",
        mixture(mu=MIX.mu[:, :2]),
        ValueError,
        r"mixture.mu has 2 columns but X has 3",
    ),
    (
        "var wrong length",
        mixture(var=MIX.var[:1]),
        ValueError,
        r"mixture.var must have shape \(2,\)",
    ),
    ("p wrong length", mixture(p=np.ones(3) / 3), ValueError, r"mixture.p must have shape \(2,\)"),
    (
        "var negative",
        mixture(var=np.array([-1.0, 1.0])),
        ValueError,
        r"mixture.var must be positive",
    ),
    ("var zero", mixture(var=np.array([0.0, 1.0])), ValueError, r"mixture.var must be positive"),
    ("var NaN", mixture(var=np.array([np.nan, 1.0])), ValueError, r"mixture.var contains NaN"),
    ("mu inf", mixture(mu=replaced(MIX.mu, 0, 0, np.inf)), ValueError, r"mixture.mu contains NaN"),
    ("mu huge", mixture(mu=replaced(MIX.mu, 0, 0, HUGE)), ValueError, r"mixture.mu .*overflow"),
    ("var subnormal", mixture(var=np.array([1e-320, 1.0])), ValueError, r"mixture.var"),
    ("p not summing to 1", mixture(p=np.array([0.5, 0.6])), ValueError, r"mixture.p must .*sum"),
    ("p negative", mixture(p=np.array([-0.5, 1.5])), ValueError, r"mixture.p must be non-negative"),
    ("mu strings", mixture(mu=np.array([["a"] * 3] * 2)), (TypeError, ValueError), r"mixture.mu"),
    ("mu complex", mixture(mu=MIX.mu + 1j), TypeError, r"mixture.mu .*complex"),
]
for function, call in {
    "em.estep": lambda m: em.estep(R, m),
    "em.fill_matrix": lambda m: em.fill_matrix(R, m),
    "em.mstep": lambda m: em.mstep(R, POST, m),
    "fold_in": lambda m: fold_in({0: 4.0}, m),
}.items():
    for label, m, error, pattern in BAD_MIXTURES:
        if function in ("em.mstep", "fold_in") and label in (
            "mu strings",
            "p negative",
            "two fields",
        ):
            continue
        if function == "fold_in" and label in ("mu too narrow", "mu 1-D"):  # d comes from mu
            error, pattern = TypeError, r"mixture must be a GaussianMixture"
            if label == "mu too narrow":
                continue
        case(f"{function}: {label}", (lambda c, x: lambda: c(x))(call, m), raises(error, pattern))
case(
    "naive_em.estep: var tiny for far points",
    lambda: naive_em.estep(C * 1e5, GaussianMixture(MIXC.mu, np.array([1e-300, 1e-300]), MIXC.p)),
    raises(FloatingPointError, r"underflow"),
)
case(
    "kmeans.estep: mixture of another width",
    lambda: kmeans.estep(C, MIX),
    raises(ValueError, r"columns but X has 2"),
)
case("em.estep: p with a zero weight", lambda: em.estep(R, mixture(p=np.array([0.0, 1.0]))), ok())

# --- posteriors
BAD_POSTS = [
    ("rows not summing to 1", np.full((4, 2), 0.3), ValueError, r"post: .*rows .*sum to 1"),
    ("rows all zero", np.zeros((4, 2)), ValueError, r"post: .*sum to 1"),
    ("negative", np.array([[1.5, -0.5]] * 4), ValueError, r"post must hold .*non-negative"),
    ("NaN", replaced(POST, 0, 0, np.nan), ValueError, r"post must hold finite"),
    ("wrong n", np.full((3, 2), 0.5), ValueError, r"post must have shape"),
    ("wrong K", np.full((4, 3), 1 / 3), ValueError, r"post must have shape"),
    ("1-D", np.full(4, 1.0), ValueError, r"post must have shape"),
    ("strings", [["a", "b"]] * 4, (TypeError, ValueError), r"post"),
    ("complex", POST + 0j, TypeError, r"post .*complex"),
]
for function, call in {
    "em.mstep": lambda post: em.mstep(R, post, MIX),
    "em.run": lambda post: em.run(R, MIX, post),
    "naive_em.mstep": lambda post: naive_em.mstep(
        C, post[:4].repeat(2, 0)[:6] if np.ndim(post) == 2 and len(post) == 4 else post
    ),
    "kmeans.mstep": lambda post: kmeans.mstep(
        C, post[:4].repeat(2, 0)[:6] if np.ndim(post) == 2 and len(post) == 4 else post
    ),
}.items():
    for label, post, error, pattern in BAD_POSTS:
        if function.startswith(("naive", "kmeans")) and label in (
            "wrong n",
            "1-D",
            "wrong K",
            "strings",
        ):
            continue
        case(
            f"{function}: post {label}",
            (lambda c, x: lambda: c(x))(call, post),
            raises(error, pattern),
        )
case("naive_em.mstep: one-hot ok", lambda: naive_em.mstep(C, np.eye(2)[[0, 0, 1, 1, 0, 0]]), ok())
case(
    "kmeans.mstep: empty cluster without mixture",
    lambda: kmeans.mstep(C, np.eye(2)[[0] * 6]),
    raises(ValueError, r"cluster\(s\) \[1\] received no points"),
)
case(
    "kmeans.mstep: empty cluster with mixture",
    lambda: kmeans.mstep(C, np.eye(2)[[0] * 6], MIXC),
    ok(),
)

# --- scalar options
for label, value, error, pattern in [
    ("min_variance negative", -1.0, ValueError, r"min_variance must be a finite number >= 0"),
    ("min_variance NaN", np.nan, ValueError, r"min_variance must be a finite number >= 0"),
    ("min_variance inf", np.inf, ValueError, r"min_variance must be a finite"),
    ("min_variance string", "0.25", ValueError, r"min_variance must be a finite"),
    ("min_variance complex", 1j, ValueError, r"min_variance must be a finite"),
]:
    case(
        f"naive_em.run: {label}",
        (lambda v: lambda: naive_em.run(C, MIXC, POSTC, min_variance=v))(value),
        raises(error, pattern),
    )
    case(
        f"em.run: {label}",
        (lambda v: lambda: em.run(R, MIX, POST, min_variance=v))(value),
        raises(error, pattern),
    )
    case(
        f"naive_em.mstep: {label}",
        (lambda v: lambda: naive_em.mstep(C, POSTC, min_variance=v))(value),
        raises(error, pattern),
    )
case(
    "fit: min_variance negative",
    lambda: fit(R, 2, seeds=[0], min_variance=-0.5),
    raises(ValueError, r"min_variance"),
)
case(
    "fit(kmeans): min_variance given",
    lambda: fit(C, 2, seeds=[0], method="kmeans", min_variance=0.1),
    raises(ValueError, r"min_variance applies to EM only"),
)
case("naive_em.run: min_variance 0 ok", lambda: naive_em.run(C, MIXC, POSTC, min_variance=0), ok())
for label, value, error in [
    ("2.5", 2.5, ValueError),
    ("0", 0, ValueError),
    ("-1", -1, ValueError),
    ("True", True, ValueError),
    ("'10'", "10", ValueError),
    ("inf", np.inf, ValueError),
]:
    for function, call in {
        "em.run": lambda v: em.run(R, MIX, POST, max_iter=v),
        "naive_em.run": lambda v: naive_em.run(C, MIXC, POSTC, max_iter=v),
        "kmeans.run": lambda v: kmeans.run(C, MIXC, POSTC, max_iter=v),
        "fit": lambda v: fit(R, 2, seeds=[0], max_iter=v),
    }.items():
        case(
            f"{function}: max_iter={label}",
            (lambda c, v: lambda: c(v))(call, value),
            raises(error, r"max_iter must be a positive integer"),
        )
case("em.run: max_iter numpy int", lambda: em.run(R, MIX, POST, max_iter=np.int64(3)), ok())
case(
    "fit: max_iter=1 warns",
    lambda: fit(R, 2, seeds=[0], max_iter=1),
    warns(r"stopped at max_iter=1"),
)

# --- K
for label, K, error, pattern in [
    ("0", 0, ValueError, r"K must be between 1 and"),
    ("5 > rows", 5, ValueError, r"K must be between 1 and .*\(4\)"),
    ("2.5", 2.5, TypeError, r"K must be an integer"),
    ("True", True, TypeError, r"K must be an integer"),
    ("'2'", "2", TypeError, r"K must be an integer"),
    ("-1", -1, ValueError, r"K must be between"),
    ("None", None, TypeError, r"K must be an integer"),
]:
    case(f"init: K {label}", (lambda k: lambda: init(R, k))(K), raises(error, pattern))
    case(f"fit: K {label}", (lambda k: lambda: fit(R, k, seeds=[0]))(K), raises(error, pattern))
DUP = np.array([[1.0, 2.0]] * 3 + [[3.0, 1.0]] * 3)
case("init: K > distinct rows", lambda: init(DUP, 3), warns(r"K=3 .*only 2 distinct rows"))
case(
    "fit(naive_em): K > distinct rows",
    lambda: fit(DUP, 3, seeds=[0], method="naive_em"),
    raises(ValueError, r"collapsed .*smaller K"),
)
case(
    "fit(kmeans): K > distinct rows",
    lambda: fit(DUP, 3, seeds=[0], method="kmeans"),
    warns(r"K=3 but X has only 2 distinct rows"),
)
case("init: K = distinct rows ok", lambda: init(DUP, 2, seed=1), ok())
case(
    "init: all rows equal",
    lambda: init(np.ones((4, 2)), 1),
    raises(ValueError, r"initial variance is 0"),
)
case(
    "select_k: Ks empty",
    lambda: select_k(R, []),
    raises(ValueError, r"Ks must hold at least one K"),
)
case(
    "select_k: kmeans",
    lambda: select_k(C, [1, 2], method="kmeans"),
    raises(ValueError, r"BIC needs a likelihood"),
)
case(
    "select_k: Ks with 2.5",
    lambda: select_k(R, [1, 2.5], seeds=[0]),
    raises(TypeError, r"every K in Ks must be an integer"),
)
case(
    "select_k: ok",
    lambda: select_k(C, [1, 2], seeds=[0], method="naive_em"),
    ok(lambda s: s.best_k in (1, 2)),
)
case(
    "fit: method unknown",
    lambda: fit(R, 2, method="gmm"),
    raises(ValueError, r"method must be one of"),
)
case("fit: init unknown", lambda: fit(R, 2, init="best"), raises(ValueError, r"init|start"))

# --- seeds
for label, seed, error, pattern in [
    ("-1", -1, ValueError, r"seed must lie in \[0, 2\*\*32\)"),
    ("2**40", 2**40, ValueError, r"seed must lie in \[0, 2\*\*32\)"),
    ("1.5", 1.5, TypeError, r"seed must be an integer"),
    ("Generator", np.random.default_rng(0), TypeError, r"seed must be an integer.*Generator"),
    ("string", "0", TypeError, r"seed must be an integer"),
    ("None", None, TypeError, r"seed must be an integer"),
]:
    case(
        f"init: seed {label}", (lambda s: lambda: init(R, 2, seed=s))(seed), raises(error, pattern)
    )
    case(
        f"fit: seeds [{label}]",
        (lambda s: lambda: fit(R, 2, seeds=[s]))(seed),
        raises(error, pattern),
    )
    case(
        f"k_fold: seed {label}",
        (lambda s: lambda: k_fold(DATA, 2, seed=s))(seed),
        raises(error, pattern),
    )
    case(
        f"make_ratings: seed {label}",
        (lambda s: lambda: make_ratings(5, 4, 2, 0.5, seed=s))(seed),
        raises(error, pattern),
    )
case(
    "fit: seeds a Generator",
    lambda: fit(R, 2, seeds=np.random.default_rng(0)),
    raises(TypeError, r"seeds must be .*integers.*Generator"),
)
case(
    "fit: seeds empty",
    lambda: fit(R, 2, seeds=[]),
    raises(ValueError, r"seeds must hold at least one seed"),
)
case(
    "fit: seeds an int",
    lambda: fit(R, 2, seeds=3),
    raises(TypeError, r"seeds must be an iterable of integers"),
)
case("init: seed 2**32-1 ok", lambda: init(R, 2, seed=2**32 - 1), ok())
case("init: seed numpy int ok", lambda: init(R, 2, seed=np.int64(3)), ok())
case(
    "train_test_split: seed -1",
    lambda: train_test_split(DATA, seed=-1),
    raises(ValueError, r"seed must lie"),
)
case(
    "holdout: seed 1.5",
    lambda: holdout(DATA, seed=1.5),
    raises(TypeError, r"seed must be an integer"),
)

# --- rmse, bic, held_out_errors, held_out_log_likelihood
case(
    "rmse: shapes that would broadcast",
    lambda: rmse(C, C[:1]),
    raises(ValueError, r"X and Y must have the same shape"),
)
case(
    "rmse: Y NaN", lambda: rmse(C, replaced(C, 0, 0, np.nan)), raises(ValueError, r"Y contains NaN")
)
case(
    "rmse: Y huge",
    lambda: rmse(C, replaced(C, 0, 0, HUGE)),
    raises(ValueError, r"Y has entries as large as"),
)
case(
    "rmse: sparse",
    lambda: rmse(sp.csr_matrix(C), C),
    raises(TypeError, r"X is a scipy.sparse matrix"),
)
case("rmse: ok", lambda: rmse(C, C + 1), ok(lambda v: np.isclose(v, 1.0)))
case(
    "bic: log_likelihood NaN",
    lambda: bic(C, MIXC, np.nan),
    raises(ValueError, r"log_likelihood must be finite"),
)
case(
    "bic: log_likelihood string",
    lambda: bic(C, MIXC, "-3"),
    raises(TypeError, r"log_likelihood must be a number"),
)
case(
    "bic: log_likelihood None",
    lambda: bic(C, MIXC, None),
    raises(TypeError, r"log_likelihood must be a number"),
)
case("bic: ok", lambda: bic(C, MIXC, -10.0), ok())
case(
    "bic: mixture of another width",
    lambda: bic(R, MIXC, -10.0),
    raises(ValueError, r"columns but X has 3"),
)
P, Y = np.array([3.0, 4.0]), np.array([3.5, 4.5])
for label, args, error, pattern in [
    ("values NaN", (P, np.array([np.nan, 4.0])), ValueError, r"values contain NaN"),
    ("predictions NaN", (np.array([np.nan, 4.0]), Y), ValueError, r"predictions contain NaN"),
    ("shapes differ", (P, Y[:1]), ValueError, r"must have the same shape"),
    ("2-D vs 1-D", (P[None], P), ValueError, r"must have the same shape"),
    ("empty", (np.array([]), np.array([])), ValueError, r"no held-out ratings"),
    ("strings", (["a", "b"], Y), TypeError, r"predictions must be an array of numbers"),
    ("complex", (P + 1j, Y), TypeError, r"predictions .*complex"),
    ("huge", (np.array([HUGE, 1.0]), Y), ValueError, r"predictions .*overflow"),
    ("values huge", (P, np.array([1e200, 1.0])), ValueError, r"values .*overflow"),
]:
    case(
        f"held_out_errors: {label}",
        (lambda a: lambda: held_out_errors(*a))(args),
        raises(error, pattern),
    )
case("held_out_errors: ok", lambda: held_out_errors(P, Y), ok(lambda r: np.allclose(r, (0.5, 0.5))))
case(
    "held_out_errors: scalars",
    lambda: held_out_errors(3.0, 4.0),
    ok(lambda r: np.allclose(r, (1.0, 1.0))),
)
case(
    "held_out_log_likelihood: shapes differ",
    lambda: held_out_log_likelihood(R, R[:1], MIX),
    raises(ValueError, r"same users and items"),
)
case(
    "held_out_log_likelihood: test broadcasts (1, d)",
    lambda: held_out_log_likelihood(R, np.ones((1, 3)), MIX),
    raises(ValueError, r"same users and items"),
)
case(
    "held_out_log_likelihood: sparse test of another shape",
    lambda: held_out_log_likelihood(CSR, sp.csr_matrix((4, 4)), MIX),
    raises(ValueError, r"same users and items"),
)
case(
    "held_out_log_likelihood: overlap",
    lambda: held_out_log_likelihood(R, R, MIX),
    raises(ValueError, r"share .* entries"),
)
case(
    "held_out_log_likelihood: test NaN",
    lambda: held_out_log_likelihood(R, replaced(np.zeros((4, 3)), 0, 1, np.nan), MIX),
    raises(ValueError, r"test contains NaN"),
)
case(
    "held_out_log_likelihood: test negative",
    lambda: held_out_log_likelihood(R, replaced(np.zeros((4, 3)), 0, 1, -1), MIX),
    raises(ValueError, r"test has negative"),
)
case(
    "held_out_log_likelihood: test a string",
    lambda: held_out_log_likelihood(R, "test.txt", MIX),
    raises(TypeError, r"test must be"),
)
case(
    "held_out_log_likelihood: ok",
    lambda: held_out_log_likelihood(R, replaced(np.zeros((4, 3)), 0, 1, 4.0), MIX),
    ok(),
)
case(
    "held_out_log_likelihood: sparse ok",
    lambda: held_out_log_likelihood(CSR, sp.csr_matrix(replaced(np.zeros((4, 3)), 0, 1, 4.0)), MIX),
    ok(),
)

# --- data constructors and splits
ids4, ids3 = np.arange(4), np.arange(3)
case(
    "RatingsData: scale reversed",
    lambda: RatingsData(CSR, ids4, ids3, (5, 1)),
    raises(ValueError, r"scale must be \(lowest, highest\)"),
)
case(
    "RatingsData: scale NaN",
    lambda: RatingsData(CSR, ids4, ids3, (np.nan, 5)),
    raises(ValueError, r"scale"),
)
case(
    "RatingsData: scale a string",
    lambda: RatingsData(CSR, ids4, ids3, "1-5"),
    raises(TypeError, r"scale must be"),
)
case(
    "RatingsData: scale of three",
    lambda: RatingsData(CSR, ids4, ids3, (1, 3, 5)),
    raises(TypeError, r"scale must be"),
)
case(
    "RatingsData: ratings outside scale",
    lambda: RatingsData(CSR, ids4, ids3, (1, 4)),
    raises(ValueError, r"outside|scale"),
)
case(
    "RatingsData: dense matrix",
    lambda: RatingsData(R, ids4, ids3, (1, 5)),
    raises(TypeError, r"matrix must be a scipy.sparse"),
)
case(
    "RatingsData: ids too short",
    lambda: RatingsData(CSR, ids3, ids3, (1, 5)),
    raises(ValueError, r"user_ids"),
)
case(
    "RatingsData: COO duplicate",
    lambda: RatingsData(
        sp.coo_matrix(([3.0, 4.0], ([0, 0], [1, 1])), shape=(4, 3)), ids4, ids3, (1, 5)
    ),
    raises(ValueError, r"duplicate"),
)
case(
    "RatingsData: empty",
    lambda: RatingsData(sp.csr_matrix((0, 0)), [], [], (1, 5)),
    raises(ValueError, r"empty"),
)
case(
    "RatingsData: negative scale ok",
    lambda: RatingsData(sp.csr_matrix(R - 6 * (R > 0)), ids4, ids3, (-10, 10)),
    ok(),
)
case(
    "RatingsData.from_dense: ok",
    lambda: RatingsData.from_dense(R),
    ok(lambda d: d.scale == (1.0, 5.0)),
)
case(
    "RatingsData.from_dense: NaN missing",
    lambda: RatingsData.from_dense(np.where(R > 0, R, np.nan), missing=np.nan),
    ok(lambda d: d.n_ratings == 9),
)
case(
    "RatingsData.from_dense: NaN with missing=0",
    lambda: RatingsData.from_dense(replaced(R, 0, 1, np.nan)),
    raises(ValueError, r"NaN"),
)
case(
    "RatingsData.from_dense: inf",
    lambda: RatingsData.from_dense(replaced(R, 0, 1, np.inf)),
    raises(ValueError, r"infinite"),
)
case(
    "RatingsData.from_dense: complex",
    lambda: RatingsData.from_dense(R + 1j),
    raises(TypeError, r"complex"),
)
case(
    "RatingsData.from_dense: sparse",
    lambda: RatingsData.from_dense(CSR),
    raises(TypeError, r"already sparse"),
)
case(
    "RatingsData.from_dense: 1-D", lambda: RatingsData.from_dense(R[0]), raises(ValueError, r"2-D")
)
case(
    "RatingsData.from_dense: empty",
    lambda: RatingsData.from_dense(np.zeros((0, 3))),
    raises(ValueError, r"non-empty"),
)
case(
    "RatingsData.from_dense: no rating, no scale",
    lambda: RatingsData.from_dense(np.zeros((2, 2))),
    raises(ValueError, r"pass scale"),
)
case(
    "RatingsData.from_dense: no rating, scale",
    lambda: RatingsData.from_dense(np.zeros((2, 2)), scale=(1, 5)),
    ok(lambda d: d.n_ratings == 0),
)
case(
    "RatingsData.from_dense: strings",
    lambda: RatingsData.from_dense([["a", "b"]]),
    raises(TypeError, r"X must be a 2-D numeric"),
)
case(
    "RatingsData.from_dense: scale (5, 1)",
    lambda: RatingsData.from_dense(R, scale=(5, 1)),
    raises(ValueError, r"scale"),
)
case(
    "RatingsData.from_dense: huge",
    lambda: RatingsData.from_dense(replaced(R, 0, 0, HUGE), scale=(0, 1e300)),
    raises(ValueError, r"overflow"),
)
case("Fold.from_arrays: ok", lambda: Fold.from_arrays("f", R, TEST), ok(lambda f: f.n_test == 2))
case(
    "Fold.from_arrays: test pair in train",
    lambda: Fold.from_arrays("f", R, ([0], [0], [4.0])),
    raises(ValueError, r"leak"),
)
case(
    "Fold.from_arrays: test NaN",
    lambda: Fold.from_arrays("f", R, ([0], [1], [np.nan])),
    raises(ValueError, r"finite"),
)
case(
    "Fold.from_arrays: test out of range",
    lambda: Fold.from_arrays("f", R, ([9], [1], [3.0])),
    raises(ValueError, r"rows must lie"),
)
case(
    "Fold.from_arrays: test values short",
    lambda: Fold.from_arrays("f", R, ([0, 1], [1, 2], [3.0])),
    raises(ValueError, r"do not match"),
)
case(
    "Fold.from_arrays: test empty",
    lambda: Fold.from_arrays("f", R, ([], [], [])),
    raises(ValueError, r"test set is empty"),
)
case(
    "Fold.from_arrays: test not triples",
    lambda: Fold.from_arrays("f", R, R),
    raises(TypeError, r"test must be \(rows, cols, values\)"),
)
case(
    "Fold.from_arrays: duplicate test pair",
    lambda: Fold.from_arrays("f", R, ([0, 0], [1, 1], [3.0, 4.0])),
    raises(ValueError, r"duplicate"),
)
case(
    "Fold.from_arrays: train NaN",
    lambda: Fold.from_arrays("f", replaced(R, 0, 0, np.nan), TEST),
    raises(ValueError, r"NaN"),
)
case(
    "Fold.from_arrays: test values strings",
    lambda: Fold.from_arrays("f", R, ([0], [1], ["x"])),
    raises((TypeError, ValueError), r"test values"),
)
case(
    "Fold: train not RatingsData",
    lambda: Fold("f", R, DATA),
    raises(TypeError, r"train must be a RatingsData"),
)
case(
    "train_test_split: fraction 0",
    lambda: train_test_split(DATA, 0),
    raises(ValueError, r"test_fraction"),
)
case(
    "train_test_split: fraction 1.5",
    lambda: train_test_split(DATA, 1.5),
    raises(ValueError, r"test_fraction"),
)
case(
    "train_test_split: fraction NaN",
    lambda: train_test_split(DATA, np.nan),
    raises(ValueError, r"test_fraction"),
)
case(
    "train_test_split: dense",
    lambda: train_test_split(R),
    raises(TypeError, r"data must be a RatingsData"),
)
case(
    "train_test_split: min_train -1",
    lambda: train_test_split(DATA, min_train_per_user=-1),
    raises(ValueError, r"min_train_per_user"),
)
case("train_test_split: ok", lambda: train_test_split(SMALL), ok())
case("k_fold: k=1", lambda: k_fold(DATA, 1), raises(ValueError, r"k must be an integer >= 2"))
case("k_fold: k=2.5", lambda: k_fold(DATA, 2.5), raises(ValueError, r"k must be an integer >= 2"))
case("k_fold: k > ratings ok", lambda: k_fold(DATA, 20), ok())
case("holdout: fraction 1", lambda: holdout(DATA, 1.0), raises(ValueError, r"fraction"))
case("holdout: dense", lambda: holdout(R), raises(TypeError, r"scipy.sparse"))
case("make_ratings: n_users 0", lambda: make_ratings(0, 4, 2, 0.5), raises(ValueError, r"n_users"))
case(
    "make_ratings: n_users 2.5", lambda: make_ratings(2.5, 4, 2, 0.5), raises(TypeError, r"n_users")
)
case("make_ratings: density 0", lambda: make_ratings(5, 4, 2, 0.0), raises(ValueError, r"density"))
case(
    "make_ratings: density NaN",
    lambda: make_ratings(5, 4, 2, np.nan),
    raises(ValueError, r"density"),
)
case(
    "make_ratings: scale (5, 1)",
    lambda: make_ratings(5, 4, 2, 0.5, scale=(5, 1)),
    raises(ValueError, r"scale"),
)
case(
    "make_ratings: step 0", lambda: make_ratings(5, 4, 2, 0.5, step=0), raises(ValueError, r"step")
)
case(
    "make_ratings: noise -1",
    lambda: make_ratings(5, 4, 2, 0.5, noise=-1),
    raises(ValueError, r"noise"),
)
case(
    "make_ratings: weights wrong length",
    lambda: make_ratings(5, 4, 2, 0.5, weights=[1.0]),
    raises(ValueError, r"weights"),
)
case(
    "make_ratings: negative scale ok",
    lambda: make_ratings(20, 6, 2, 0.5, scale=(-10, 10)),
    ok(lambda r: in_scale(-10, 10)(r[0].matrix.data)),
)

# --- models
QUICK = {
    "GlobalMean": GlobalMean,
    "UserMean": UserMean,
    "ItemMean": ItemMean,
    "BiasesModel": BiasesModel,
    "CourseMixture": lambda **kw: CourseMixture([1, 2], seeds=range(2), **kw),
    "ResidualMixture": lambda **kw: ResidualMixture(seeds=range(2), **kw),
}
rows_all = np.repeat(np.arange(SMALL.n_users), SMALL.n_items)
cols_all = np.tile(np.arange(SMALL.n_items), SMALL.n_users)
for label, factory in QUICK.items():
    case(
        f"{label}: predicts in scale",
        (lambda f: lambda: f().fit(SMALL).predict(rows_all, cols_all))(factory),
        ok(in_scale(1, 5)),
    )
    case(
        f"{label}: rating_scale (5, 1)",
        (lambda f: lambda: f(rating_scale=(5, 1)))(factory),
        raises(ValueError, r"scale must be \(lowest, highest\)"),
    )
    case(
        f"{label}: train empty",
        (lambda f: lambda: f().fit(sp.csr_matrix((3, 3))))(factory),
        raises(ValueError, r"train holds no ratings"),
    )
    case(
        f"{label}: train NaN",
        (lambda f: lambda: f().fit(sp.csr_matrix(replaced(R, 0, 0, np.nan))))(factory),
        raises(ValueError, r"train stores .*NaN"),
    )
    case(
        f"{label}: train huge",
        (lambda f: lambda: f().fit(sp.csr_matrix(replaced(R, 0, 0, HUGE))))(factory),
        raises(ValueError, r"overflow"),
    )
    case(
        f"{label}: predict before fit",
        (lambda f: lambda: f().predict([0], [0]))(factory),
        raises(RuntimeError, r"call fit\(train\) before predict"),
    )
    case(
        f"{label}: predict out of range",
        (lambda f: lambda: f().fit(SMALL).predict([99], [0]))(factory),
        raises(ValueError, r"rows must lie"),
    )
    case(
        f"{label}: user with no ratings",
        (
            lambda f: (
                lambda: (
                    f()
                    .fit(SMALL.with_matrix(_drop_row(SMALL.matrix, 0)))
                    .predict([0] * 12, list(range(12)))
                )
            )
        )(factory),
        ok(in_scale(1, 5)),
    )
case(
    "CourseMixture: K larger than users",
    lambda: CourseMixture([10], seeds=[0]).fit(sp.csr_matrix(R)),
    raises(ValueError, r"K|Ks"),
)
case(
    "CourseMixture: select unknown",
    lambda: CourseMixture(select="aic"),
    raises(ValueError, r"select must be"),
)
case(
    "CourseMixture: seeds a Generator",
    lambda: CourseMixture([1], seeds=np.random.default_rng(0)).fit(SMALL),
    raises(TypeError, r"seed"),
)
case(
    "GlobalMean: train a string",
    lambda: GlobalMean().fit("ratings.csv"),
    raises(TypeError, r"train must be"),
)
case(
    "GlobalMean: train negative dense",
    lambda: GlobalMean().fit(replaced(R, 0, 0, -1)),
    raises(ValueError, r"negative"),
)
case(
    "GlobalMean: RatingsData with negative scale",
    lambda: (
        GlobalMean()
        .fit(RatingsData(sp.csr_matrix(R - 6 * (R > 0)), ids4, ids3, (-10, 10)))
        .predict([0], [1])
    ),
    ok(in_scale(-10, 10)),
)


def _drop_row(X, row):
    X = X.tolil(copy=True)
    X.rows[row], X.data[row] = [], []
    return X.tocsr()


# --- apps.recommend
case("fold_in: dict ok", lambda: fold_in({0: 4.0}, MIX), ok(lambda p: np.isclose(p.sum(), 1)))
case("fold_in: no ratings gives p", lambda: fold_in({}, MIX), ok(lambda p: np.allclose(p, MIX.p)))
case("fold_in: column out of range", lambda: fold_in({7: 4.0}, MIX), raises(ValueError, r"ratings"))
case("fold_in: rating NaN", lambda: fold_in({0: np.nan}, MIX), raises(ValueError, r"ratings"))
case("fold_in: rating huge", lambda: fold_in({0: HUGE}, MIX), raises(ValueError, r"overflow"))
case(
    "fold_in: rating string",
    lambda: fold_in({0: "five"}, MIX),
    raises((TypeError, ValueError), r"ratings"),
)
case(
    "fold_in: complex rating",
    lambda: fold_in(np.array([4.0 + 1j, 0, 0]), MIX),
    raises(TypeError, r"complex"),
)
case(
    "fold_in: array of wrong length",
    lambda: fold_in(np.array([4.0, 0.0]), MIX),
    raises(ValueError, r"ratings"),
)
case(
    "fold_in: sparse row of wrong shape",
    lambda: fold_in(sp.csr_matrix((1, 4)), MIX),
    raises(ValueError, r"ratings must be a \(1, 3\)"),
)
case(
    "fold_in: mixture None",
    lambda: fold_in({0: 4.0}, None),
    raises(TypeError, r"mixture must be a GaussianMixture"),
)
case(
    "top_n: ok",
    lambda: top_n({0: 4.0}, MIX, n=2),
    ok(lambda recs: len(recs) == 2 and finite([r.predicted for r in recs])),
)
case("top_n: n=0", lambda: top_n({0: 4.0}, MIX, n=0), raises(ValueError, r"n must be a positive"))
case(
    "top_n: n=2.5",
    lambda: top_n({0: 4.0}, MIX, n=2.5),
    raises((TypeError, ValueError), r"n must be a positive"),
)
case(
    "top_n: n larger than items",
    lambda: top_n({0: 4.0}, MIX, n=50),
    ok(lambda recs: len(recs) == 2),
)
case(
    "top_n: item_ids wrong length",
    lambda: top_n({0: 4.0}, MIX, item_ids=[1]),
    raises(ValueError, r"item_ids"),
)
case(
    "top_n: support wrong shape",
    lambda: top_n({0: 4.0}, MIX, support=np.ones((3, 3))),
    raises(ValueError, r"support"),
)
case(
    "top_n: min_support NaN",
    lambda: top_n({0: 4.0}, MIX, support=np.ones((2, 3)), min_support=np.nan),
    raises(ValueError, r"min_support"),
)

# --- the CLI
case("cli: no command", cli(), fails(r"^python -m cfcore: .*required"))
case("cli: unknown command", cli("frobnicate"), fails(r"invalid choice"))
case("cli: evaluate without --dataset", cli("evaluate"), fails(r"--dataset"))
case(
    "cli: evaluate --models ''",
    cli("evaluate", "--dataset", "{clean}", "--models", ""),
    fails(r"cfcore evaluate: --models names no model"),
)
case(
    "cli: evaluate --models ','",
    cli("evaluate", "--dataset", "{clean}", "--models", ","),
    fails(r"--models names no model"),
)
case(
    "cli: evaluate unknown model",
    cli("evaluate", "--dataset", "{clean}", "--models", "svd++"),
    fails(r"cfcore evaluate: unknown model 'svd\+\+'"),
)
case(
    "cli: evaluate missing file",
    cli("evaluate", "--dataset", "/nonexistent/r.csv"),
    fails(r"cfcore evaluate: .*/nonexistent/r.csv"),
)
case(
    "cli: evaluate unknown fold",
    cli("evaluate", "--dataset", "{clean}", "--models", "global-mean", "--folds", "u9"),
    fails(r"cfcore evaluate: folds \['u9'\]"),
)
case(
    "cli: evaluate --folds ''",
    cli("evaluate", "--dataset", "{clean}", "--models", "global-mean", "--folds", ""),
    fails(r"cfcore evaluate: --folds names no fold"),
)
case(
    "cli: evaluate dirty file",
    cli("evaluate", "--dataset", "{dirty}", "--models", "global-mean"),
    fails(r"cfcore evaluate: .*dirty.tsv"),
)
case(
    "cli: evaluate Latin-1 file",
    cli("evaluate", "--dataset", "{latin1}", "--models", "global-mean"),
    fails(r"cfcore evaluate: .*latin1.tsv"),
)
case(
    "cli: evaluate empty file",
    cli("evaluate", "--dataset", "{empty}", "--models", "global-mean"),
    fails(r"cfcore evaluate: .*empty.tsv"),
)
case(
    "cli: evaluate --on-bad-lines bogus",
    cli("evaluate", "--dataset", "{clean}", "--on-bad-lines", "bogus"),
    fails(r"--on-bad-lines: invalid choice"),
)
case(
    "cli: evaluate model that cannot fit",
    cli("evaluate", "--dataset", "{tiny}", "--models", "global-mean,surprise-nope"),
    fails(r"cfcore evaluate: unknown model"),
)
case(
    "cli: evaluate ok",
    cli("evaluate", "--dataset", "{clean}", "--models", "global-mean,biases"),
    succeeds(r"biases"),
)
case(
    "cli: evaluate --json ok",
    cli("evaluate", "--dataset", "{clean}", "--models", "global-mean", "--json"),
    succeeds(r'"model"'),
)
case(
    "cli: reproduce missing folder",
    cli("reproduce", "--data-dir", "/nonexistent/netflix"),
    fails(r"cfcore reproduce: the course files are not in /nonexistent/netflix"),
)
case(
    "cli: reproduce one missing file",
    cli("reproduce", "--data-dir", "{partial}"),
    fails(r"cfcore reproduce: .*test_solutions.txt is missing"),
)
case(
    "cli: reproduce corrupted files",
    cli("reproduce", "--data-dir", "{course}"),
    fails(r"cfcore reproduce: .*toy_data.txt does not match its pinned checksum"),
)
case("cli: bench bad section", cli("bench", "--only", "nope"), fails(r"invalid choice"))


# ---------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(("call", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reliability(call, expected, capsys):
    if getattr(call, "cli", False):
        return _check_cli(call, expected, capsys)
    kind = expected[0]
    if kind == "raises":
        _, error, pattern = expected
        with pytest.raises(error, match=pattern):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # e.g. K > distinct rows, then
                warnings.simplefilter("error", RuntimeWarning)  # the refusal
                call()
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="raise", invalid="raise"):
            result = call()
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not runtime, f"numpy warned: {runtime[0].message}"
    if kind == "warns":
        messages = [str(w.message) for w in caught]
        assert any(re.search(expected[1], m) for m in messages), messages
    assert expected[-1](result), result


def _check_cli(call, expected, capsys):
    try:
        code = call()
    except SystemExit as stop:  # argparse
        code = stop.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if expected[0] == "succeeds":
        assert code == 0, err
        assert re.search(expected[1], out), out
        return
    assert code not in (0, None), (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert re.search(expected[1], lines[0]), lines[0]


def test_the_table_is_long_enough():
    assert len(CASES) >= 200
    assert len({label for label, *_ in CASES}) == len(CASES), "labels must be unique"


# ---------------------------------------------------------------------------- hypothesis

MAGNITUDES = st.one_of(
    st.floats(0, 5),
    st.sampled_from([0.0, 1e-300, 1e-30, 1e30, 1e100, 1e150, 1e154, 1e160, 1e300]),
)
MATRICES = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
    elements=MAGNITUDES,
)

PUBLIC = {
    "init": lambda X: init(X, 1),
    "em.estep": lambda X: em.estep(X, init(X, 1)[0]),
    "em.fill_matrix": lambda X: em.fill_matrix(X, init(X, 1)[0]),
    "em.run": lambda X: em.run(X, *init(X, 1), max_iter=3),
    "naive_em.run": lambda X: naive_em.run(X, *init(X, 1), max_iter=3),
    "kmeans.run": lambda X: kmeans.run(X, *init(X, 1), max_iter=3),
    "rmse": lambda X: rmse(X, X / 2),
    "fit": lambda X: fit(X, 1, seeds=[0], max_iter=3),
    "fold_in": lambda X: fold_in(X[0], init(X, 1)[0]),
    "BiasesModel": lambda X: BiasesModel().fit(X).predict([0], [0]),
    "held_out_errors": lambda X: held_out_errors(X.ravel(), X.ravel()[::-1]),
}


@pytest.mark.parametrize("name", list(PUBLIC))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=MATRICES)
def test_no_nan_leaves_a_public_function(name, X):
    """A clear ValueError (or a warning) or a finite answer; never NaN, never a numpy crash."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", RuntimeWarning)
            result = PUBLIC[name](X)
    except (ValueError, FloatingPointError) as err:
        assert re.search(r"\w+ ", str(err))  # a sentence, not a bare numpy error
        assert not isinstance(err, FloatingPointError) or "overflow" not in str(err)
        return
    assert finite(result), result
