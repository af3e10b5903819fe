"""Every model ``python -m cfcore evaluate --models`` knows: one line each.

A factory takes no arguments and returns a fresh, unfitted model. The surprise-* models
need the ``compare`` extra (scikit-surprise); ``make_models`` says so when it is missing.
"""

from __future__ import annotations

from functools import partial

from .baselines import BiasesModel, GlobalMean, ItemMean, UserMean
from .hybrid import HybridMixture
from .mixtures import CourseMixture, ResidualMixture
from .response import ResponseMixture
from .surprise import ALGORITHMS, INSTALL_HINT, SurpriseModel, surprise_available

#: name -> factory of a fresh model
MODELS = {
    "global-mean": GlobalMean,
    "user-mean": UserMean,
    "item-mean": ItemMean,
    "biases": BiasesModel,
    "course-em": CourseMixture,
    "course-em-validation": partial(
        CourseMixture, select="validation", name="course-em-validation"
    ),
    "residual-mixture-users": partial(
        ResidualMixture, sides=("users",), name="residual-mixture-users"
    ),
    "residual-mixture-items": partial(
        ResidualMixture, sides=("items",), name="residual-mixture-items"
    ),
    "residual-mixture": ResidualMixture,
    "hybrid-mixture": HybridMixture,
    "response-mixture": ResponseMixture,
    **{f"surprise-{a}": partial(SurpriseModel, a) for a in ALGORITHMS},
}


def available(name: str) -> bool:
    """Whether a registered model can be made here (Surprise's need scikit-surprise)."""
    return not name.startswith("surprise-") or surprise_available()


def make_models(names=None) -> list:
    """Fresh models by name; None = every model available here."""
    if names is None:
        return [factory() for name, factory in MODELS.items() if available(name)]
    models = []
    for name in names:
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        if not available(name):
            raise ImportError(f"{name} needs scikit-surprise: {INSTALL_HINT}")
        models.append(MODELS[name]())
    return models
