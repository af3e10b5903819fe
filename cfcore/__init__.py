"""cfcore: collaborative filtering with Gaussian mixtures fitted by EM.

The course modules (``common``, ``kmeans``, ``naive_em``, ``em``) hold the algorithms, in
plain numpy; ``engine`` runs them fast; ``data``, ``models``, ``evaluation`` and ``apps``
build on them, importing only downward (CONTRIBUTING.md draws the layers). ``fit`` and
``select_k`` run the course modules from several seeds and over a range of K.
"""

from . import common, em, kmeans, naive_em
from .common import ConvergenceWarning, GaussianMixture, bic, init, rmse
from .models.fitting import FitResult, Selection, fit, select_k

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "GaussianMixture",
    "Selection",
    "bic",
    "common",
    "em",
    "fit",
    "init",
    "kmeans",
    "naive_em",
    "rmse",
    "select_k",
]
