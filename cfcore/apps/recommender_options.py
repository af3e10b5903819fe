"""What a Recommender is built with: which models can fold a new user in, and min_support.

``fold_in_models``: the registered models with ``fold_in``; ``auto_min_support``: the
``min_support="auto"`` rule, which leaves out the long tail of rarely rated items
(``cfcore.apps.recommender``'s docstring explains support).
"""

from __future__ import annotations

import numpy as np

from ..models import MODELS

#: min_support="auto" leaves out the least-supported items holding this share of the support
LONG_TAIL_SHARE = 0.05


def auto_min_support(support, tail_share: float = LONG_TAIL_SHARE) -> float:
    """The min_support that leaves out the long tail: the support of the least-supported item kept.

    support: (d,) support of every item, >= 0. Sorted, s_(1) <= ... <= s_(d), the k least
    supported items are left out, k the largest with s_(1) + ... + s_(k) <= tail_share *
    sum s; the threshold is s_(k+1) (items tied with it are kept). So at most tail_share of
    the support is left out, and nothing when every item's share exceeds it.
    """
    support = np.sort(np.asarray(support, dtype=np.float64))
    if not 0 <= tail_share < 1:
        raise ValueError(f"tail_share must be a share in [0, 1), got {tail_share!r}")
    if support.size == 0 or support[-1] <= 0:
        return 0.0
    share = np.cumsum(support) / support.sum()
    left_out = int(np.searchsorted(share, tail_share, side="right"))
    return float(support[min(left_out, support.size - 1)])


def _check_min_support(min_support) -> str | float:
    if isinstance(min_support, str) and min_support == "auto":
        return min_support
    if (
        isinstance(min_support, bool)
        or not isinstance(min_support, (int, float, np.integer, np.floating))
        or not np.isfinite(min_support)
        or min_support < 0
    ):
        raise ValueError(
            f"min_support must be a number >= 0 (training ratings behind a prediction) or "
            f"'auto' (leave out the long tail of rarely rated items), got {min_support!r}"
        )
    return float(min_support)


def fold_in_models() -> list[str]:
    """The registered model names (``cfcore.models.MODELS``) whose models have ``fold_in``."""
    return [name for name, factory in MODELS.items() if _folds_in(factory)]


def _folds_in(factory) -> bool:
    model_class = getattr(factory, "func", factory)  # a functools.partial of a class
    return callable(getattr(model_class, "fold_in", None))
