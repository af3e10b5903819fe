"""How a ``LiveModel`` is built from a fitted model: its training ratings
(``training_matrix``), the seeds kept live (``seed_positions``) and its live sides
(``build_sides``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...common import MIN_VARIANCE
from ...engine import transpose
from ..base import training_ratings
from ..mixtures import CourseMixture, scaled_variance
from .sides import Side

#: the two sides a mixture can cluster
SIDES = ("users", "items")


def training_matrix(fitted, train) -> sp.csr_matrix:
    """fitted's training ratings as a canonical float64 CSR matrix of its shape (a copy)."""
    if train is None:
        train = getattr(fitted, "train_", None)
        if train is None:
            raise ValueError(
                f"train: {fitted.name} kept no training ratings (train_); pass the ratings it "
                "was fitted on, LiveModel(model, train)"
            )
    X, _ = training_ratings(train, "train")
    if X.shape != tuple(fitted.shape_):
        raise ValueError(
            f"train has shape {X.shape}, but {fitted.name} was fitted on {tuple(fitted.shape_)}"
        )
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    X.sort_indices()
    return X


def seed_positions(fitted, seeds) -> list[int]:
    """Positions in fitted.seeds of the seeds kept live (all by default); [] for the course
    model, which keeps one mixture (the best of its seeds)."""
    if isinstance(fitted, CourseMixture):
        if seeds is not None:
            raise ValueError(
                "seeds: a CourseMixture keeps one mixture, the best of its seeds; leave seeds=None"
            )
        return []
    if seeds is None:
        return list(range(len(fitted.seeds)))
    chosen = [int(seed) for seed in seeds]
    unknown = sorted(set(chosen) - set(fitted.seeds))
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"seeds must be distinct seeds the model was fitted with, {list(fitted.seeds)}; "
            f"got {chosen}"
        )
    return [fitted.seeds.index(seed) for seed in chosen]


def build_sides(fitted, positions, X, residuals) -> dict[str, Side]:
    """The live sides of fitted, from its residual matrix (n, d) and its fits."""
    if isinstance(fitted, CourseMixture):
        side = Side(
            residuals,
            fitted.post_[:, None, :],
            [fitted.mixture_],
            prior_variance=None,
            min_variance=scaled_variance(MIN_VARIANCE, fitted.scale_),
            new_mean=float(X.data.mean()),
        )
        return {"users": side}
    sides = {}
    for name in SIDES:
        if name not in fitted.sides:
            continue
        sides[name] = Side(
            residuals if name == "users" else transpose(residuals),
            np.stack([fitted.fits_[name][k][0] for k in positions], axis=1),
            [fitted.mixtures_[name][k] for k in positions],
            prior_variance=fitted.prior_variance_,
            min_variance=fitted.min_variance_,
            new_mean=0.0,
        )
    return sides
