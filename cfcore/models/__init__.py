"""Rating models: a base, the baselines, the mixtures (course, MAP-EM, residual), Surprise,
and ``LiveModel``, a fitted mixture that learns from each new rating (incremental EM).

Every model follows ``Model`` (``fit(train)``, ``predict(rows, cols)``, ``name``) and is
registered once in ``registry.MODELS``. ``fit`` and ``select_k`` run the course modules
from several seeds and over K; ``starts.STARTS`` names the initialisations they use.
"""

from .base import Model, RatingModel
from .baselines import Biases, BiasesModel, GlobalMean, ItemMean, UserMean, fit_biases
from .fitting import FitResult, Selection, best_of_seeds, fit, held_out_log_likelihood, select_k
from .hybrid import HybridMixture, item_features
from .incremental import LiveModel
from .metrics import held_out_errors, matched_accuracy
from .mixtures import CourseMixture, ResidualMixture
from .registry import MODELS, make_models
from .response import ResponseMixture
from .starts import (
    STARTS,
    default_start,
    get_start,
    init_observed,
    init_observed_rows,
    random_responsibilities,
)
from .surprise import SurpriseModel, surprise_available

__all__ = [
    "MODELS",
    "STARTS",
    "Biases",
    "BiasesModel",
    "CourseMixture",
    "FitResult",
    "GlobalMean",
    "ItemMean",
    "LiveModel",
    "Model",
    "RatingModel",
    "ResidualMixture",
    "ResponseMixture",
    "HybridMixture",
    "item_features",
    "Selection",
    "SurpriseModel",
    "UserMean",
    "best_of_seeds",
    "default_start",
    "fit",
    "fit_biases",
    "get_start",
    "held_out_errors",
    "held_out_log_likelihood",
    "init_observed",
    "init_observed_rows",
    "make_models",
    "matched_accuracy",
    "random_responsibilities",
    "select_k",
    "surprise_available",
]
