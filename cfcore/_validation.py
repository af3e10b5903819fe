"""The one validation layer: the input checks every public function and the CLI go through.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument, says what is
wrong and what to do, so that bad input never surfaces as a NaN or as a traceback from deep
inside numpy. The numeric core calls these once per public call, never inside its loops.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp


def is_sparse(X: Any) -> bool:
    return sp.issparse(X)


#: float64's largest value; a matrix whose squared entries, summed, pass it overflows
_FLOAT_MAX = float(np.finfo(np.float64).max)
#: the smallest and largest variance a mixture may hold: beyond them log(2 pi var) or
#: ||x - mu||^2 / var overflow before any data is seen
SMALLEST_VARIANCE, LARGEST_VARIANCE = float(np.finfo(np.float64).tiny), 1e300
#: responsibilities of a row must sum to 1 up to this much
POSTERIOR_TOLERANCE = 1e-6


def largest_safe_magnitude(n_entries: int) -> float:
    """The largest |x| for which sums of n_entries squares (and of products with means of the
    same size) stay finite in float64: sqrt(max / (8 n_entries))."""
    return float(np.sqrt(_FLOAT_MAX / (8.0 * max(n_entries, 1))))


def check_magnitude(values: np.ndarray, name: str, n_entries: int | None = None) -> None:
    """Refuse finite values so large that their squares overflow (e.g. ratings above 1e154).

    values: any finite array; n_entries: how many squares get summed (default values.size).
    """
    if values.size == 0:
        return
    largest = max(float(np.max(values)), -float(np.min(values)))  # no copy of |values|
    limit = largest_safe_magnitude(values.size if n_entries is None else n_entries)
    if largest > limit:
        raise ValueError(
            f"{name} has entries as large as {largest:.3g}, whose squares overflow float64 "
            f"(the limit here is {limit:.3g}); rescale {name}, e.g. divide it by its largest value"
        )


def check_real(value: Any, name: str) -> None:
    """Refuse complex input (converting it to float would drop the imaginary part)."""
    try:
        complex_input = np.iscomplexobj(value)
    except (TypeError, ValueError):  # ragged lists and the like: the conversion names them
        return
    if complex_input:
        raise TypeError(
            f"{name} holds complex numbers; ratings and parameters are real: pass the real part "
            f"({name}.real) if that is what you mean"
        )


def as_real_array(value: Any, name: str, what: str = "a numeric array") -> np.ndarray:
    """value as a float64 ndarray; complex, strings and ragged lists are a TypeError naming it."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    check_real(value, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, np.exceptions.ComplexWarning) as err:
        if isinstance(err, np.exceptions.ComplexWarning):
            raise TypeError(f"{name} holds complex numbers; pass real numbers") from None
        raise TypeError(f"{name} must be {what}; converting it to float failed: {err}") from None


def _first_bad_entry(bad: np.ndarray) -> str:
    row, col = np.argwhere(bad)[0]
    return f"{int(bad.sum())} entries, the first at row {row}, column {col}"


def check_matrix(
    X: Any,
    name: str = "X",
    *,
    ratings: bool,
    allow_sparse: bool,
    allow_negative_sparse: bool = False,
):
    """Return X as a float64 ndarray, or as a canonical float CSR matrix, after checking it.

    ratings=True means the course's rating format: entries >= 0, 0 = missing (dense), or
    stored entries = observed ratings (sparse). ratings=False means complete data (any real).
    allow_negative_sparse=True lets a sparse X store negative values (e.g. residuals after
    biases); a dense X keeps the course format, where 0 means missing and nothing is negative.
    """
    if is_sparse(X):
        if not allow_sparse:
            raise TypeError(
                f"{name} is a scipy.sparse matrix, but this function needs complete data as a "
                "dense array; for ratings with missing entries use cfcore.em"
            )
        X = canonical_csr(X, name)
        data = X.data
        if ratings and not allow_negative_sparse and (data < 0).any():
            raise ValueError(
                f"{name} stores {int((data < 0).sum())} negative ratings; ratings must be >= 0 "
                "(shift the rating scale so that every rating is non-negative)"
            )
        return X

    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(X).__name__}")
    X = as_real_array(X, name, "a 2-D numeric array or a scipy.sparse matrix")
    if X.ndim != 2:
        hint = " (a single user is X[None, :])" if X.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (rows x columns), got shape {X.shape}{hint}")
    _check_shape(X.shape, name)
    finite = np.isfinite(X)
    if not finite.all():
        missing_hint = (
            " (the course format codes a missing rating as 0, not NaN)" if ratings else ""
        )
        raise ValueError(
            f"{name} contains NaN or infinite values at {_first_bad_entry(~finite)}{missing_hint}"
        )
    check_magnitude(X, name)
    if ratings and (X < 0).any():
        raise ValueError(
            f"{name} has negative ratings at {_first_bad_entry(X < 0)}; ratings must be >= 0 "
            "with 0 meaning missing (shift the rating scale so that every rating is positive)"
        )
    return X


def _check_shape(shape: tuple[int, int], name: str) -> None:
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one row and column")


def canonical_csr(matrix: Any, name: str = "matrix") -> sp.csr_matrix:
    """matrix as a float CSR matrix with sorted indices, after refusing duplicates and NaN.

    Stored entries are observed ratings. A repeated (row, column) pair is refused in every
    sparse format (COO input would otherwise be summed: 3 and 4 becoming one rating of 7).
    float32 stays float32; every other real dtype becomes float64.
    """
    if not sp.issparse(matrix):
        raise TypeError(
            f"{name} must be a scipy.sparse matrix whose stored entries are the observed "
            f"ratings, got {type(matrix).__name__}; for the course's dense matrix (0 = missing) "
            "use RatingsData.from_dense"
        )
    if not (np.issubdtype(matrix.dtype, np.integer) or np.issubdtype(matrix.dtype, np.floating)):
        raise TypeError(
            f"{name} must hold real numbers, got dtype {matrix.dtype}; convert it with "
            f"{name}.astype(float) (complex: take .real)"
        )
    dtype = np.float32 if matrix.dtype == np.float32 else np.float64
    stored = matrix.nnz
    X = sp.csr_matrix(matrix, dtype=dtype)  # COO input: duplicates are summed here
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts the column indices of every row
    if X.nnz != stored:
        raise ValueError(
            f"{name} stores {stored - X.nnz} duplicate (row, column) entries; "
            "store each rating once"
        )
    _check_shape(X.shape, name)
    if not np.isfinite(X.data).all():
        raise ValueError(
            f"{name} stores {int((~np.isfinite(X.data)).sum())} NaN or infinite ratings; "
            "store only observed, finite ratings"
        )
    check_magnitude(X.data, name, X.shape[0] * X.shape[1])
    return X


def check_n_components(K: Any, n: int, name: str = "K") -> int:
    if isinstance(K, bool) or not isinstance(K, numbers.Integral):
        raise TypeError(f"{name} must be an integer number of components, got {K!r}")
    if not 1 <= K <= n:
        raise ValueError(f"{name} must be between 1 and the number of rows of X ({n}), got {K}")
    return int(K)


def check_mixture(mixture: Any, d: int, name: str = "mixture", *, zero_variance: bool = False):
    """Check a mixture (mu (K, d), var (K,), p (K,)) against data with d columns.

    zero_variance=True accepts var_j = 0 (k-means, which never uses the variances: a
    cluster of identical points has spread 0).

    Returns (mu, var, p) as float64 arrays; ``common.as_mixture`` wraps them in a
    GaussianMixture (this layer imports nothing of cfcore).
    """
    try:
        mu, var, p = mixture
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a GaussianMixture(mu, var, p), got {type(mixture).__name__}"
        ) from None
    mu, var, p = (
        as_real_array(a, f"{name}.{field}") for field, a in (("mu", mu), ("var", var), ("p", p))
    )
    if mu.ndim != 2:
        raise ValueError(f"{name}.mu must be 2-D (K, d), got shape {mu.shape}")
    K = mu.shape[0]
    if mu.shape[1] != d:
        raise ValueError(
            f"{name}.mu has {mu.shape[1]} columns but X has {d}; "
            "the mixture was fitted on data of another width"
        )
    for field, value in (("var", var), ("p", p)):
        if value.shape != (K,):
            raise ValueError(
                f"{name}.{field} must have shape ({K},) to match mu, got {value.shape}"
            )
    for field, value in (("mu", mu), ("var", var), ("p", p)):
        if not np.isfinite(value).all():
            raise ValueError(f"{name}.{field} contains NaN or infinite values")
    if zero_variance and (var < 0).any():
        raise ValueError(f"{name}.var must be >= 0, got {var}")
    if not zero_variance and (var <= 0).any():
        raise ValueError(f"{name}.var must be positive, got {var}")
    if not zero_variance and ((var < SMALLEST_VARIANCE) | (var > LARGEST_VARIANCE)).any():
        raise ValueError(
            f"{name}.var must lie in [{SMALLEST_VARIANCE:.3g}, {LARGEST_VARIANCE:.3g}], got {var}; "
            "outside it the Gaussian densities overflow or underflow: rescale the data"
        )
    check_magnitude(mu, f"{name}.mu", mu.size * 4)
    if (p < 0).any() or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}.p must be non-negative weights summing to 1, got {p}")
    return mu, var, p


def check_posterior(post: Any, n: int, K: int | None = None, name: str = "post") -> np.ndarray:
    """Check responsibilities: (n, K) finite, non-negative, every row summing to 1 (up to
    1e-6); K=None takes K from post."""
    post = as_real_array(post, name, "an (n, K) array of responsibilities")
    expected = (n, post.shape[1] if K is None and post.ndim == 2 else K)
    if post.shape != expected:
        raise ValueError(f"{name} must have shape (n, K) = {expected}, got {post.shape}")
    if not np.isfinite(post).all() or (post < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative responsibilities")
    sums = post.sum(axis=1)
    off = np.abs(sums - 1.0) > POSTERIOR_TOLERANCE
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"{name}: {int(off.sum())} rows do not sum to 1 (row {first} sums to "
            f"{sums[first]:.6g}); responsibilities of a row are probabilities over the K "
            f"components: divide each row by its sum, "
            f"e.g. {name} / {name}.sum(axis=1, keepdims=True)"
        )
    return post


def check_pair_arrays(pairs, shape, name: str = "pairs") -> tuple[np.ndarray, np.ndarray]:
    """``check_pairs`` for pairs given as one (rows, cols) tuple."""
    try:
        rows, cols = pairs
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be (rows, cols), two integer arrays, or 'all'") from None
    return check_pairs(rows, cols, shape, name)


def check_pairs(rows, cols, shape, name: str = "rows, cols") -> tuple[np.ndarray, np.ndarray]:
    """rows, cols as equal-length 1-D intp arrays of valid indices into a matrix of shape."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    if rows.ndim != 1 or rows.shape != cols.shape:
        raise ValueError(
            f"{name} must be two 1-D arrays of equal length, got shapes {rows.shape}, {cols.shape}"
        )
    for label, index, size in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
        if index.size and not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"{label} must be integers (indices), got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{label} must lie in [0, {size}), got [{index.min()}, {index.max()}]")
    return rows.astype(np.intp), cols.astype(np.intp)


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= minimum (not a bool, not a float such as 2.5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_max_iter(max_iter: Any) -> int | None:
    """None (no limit) or a positive integer number of iterations."""
    if max_iter is None:
        return None
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer or None, got {max_iter!r}")
    return int(max_iter)


def check_non_negative(value: Any, name: str) -> float:
    """A finite number >= 0 (a variance floor, a regularisation strength)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_seed(seed: Any, name: str = "seed") -> int:
    """An integer 0 <= seed < 2**32 (what numpy's RandomState accepts); not a Generator."""
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        raise TypeError(
            f"{name} must be an integer in [0, 2**32), got a numpy {type(seed).__name__}; "
            "pass an integer seed (e.g. 0): cfcore builds its own generator from it"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [0, 2**32), got {seed!r}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"{name} must lie in [0, 2**32), got {seed}")
    return int(seed)


def check_seeds(seeds: Any) -> list[int]:
    """A non-empty list of seeds, each an integer 0 <= seed < 2**32 (what numpy accepts)."""
    if isinstance(seeds, (np.random.Generator, np.random.RandomState)):
        raise TypeError(
            f"seeds must be an iterable of integers, e.g. range(5), got a numpy "
            f"{type(seeds).__name__}; pass integer seeds"
        )
    try:
        seeds = list(seeds)
    except TypeError:
        raise TypeError(
            f"seeds must be an iterable of integers, e.g. range(5), got {seeds!r}"
        ) from None
    if not seeds:
        raise ValueError("seeds must hold at least one seed, e.g. seeds=range(5)")
    return [check_seed(seed, "every seed") for seed in seeds]


def check_number(value: Any, name: str) -> float:
    """A finite real number (not a string, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_vector(values: Any, name: str) -> np.ndarray:
    """values as a finite float64 array (any shape), refusing NaN, complex, strings and
    values whose squares overflow."""
    values = as_real_array(values, name, "an array of numbers")
    if not np.isfinite(values).all():
        raise ValueError(
            f"{name} contain NaN or infinite values ({int((~np.isfinite(values)).sum())} of "
            f"{values.size}); pass finite numbers only"
        )
    check_magnitude(values, name)
    return values


def check_scale(scale: Any, name: str = "scale") -> tuple[float, float]:
    """(lowest, highest) possible rating, two finite numbers with lowest <= highest."""
    try:
        low, high = (float(value) for value in scale)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be (lowest, highest) possible rating, two numbers, got {scale!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{name} must be (lowest, highest) with lowest <= highest, got {scale!r}")
    return low, high


def check_ratings_and_scale(X, scale):
    """(the ratings matrix, the scale to clip to: (low, high), None, or "auto" for a matrix).

    A RatingsData (anything with ``matrix`` and ``scale``; this layer cannot import it)
    gives its matrix and, for scale="auto", its declared scale.
    """
    declared = None
    if hasattr(X, "matrix") and hasattr(X, "scale"):
        X, declared = X.matrix, X.scale
    if isinstance(scale, str) and scale == "auto":
        return X, "auto" if declared is None else declared  # "auto": the caller's rule
    if scale is None:
        return X, None
    if isinstance(scale, str):
        raise ValueError(f"scale must be 'auto', None or (low, high), got {scale!r}")
    return X, check_scale(scale)
