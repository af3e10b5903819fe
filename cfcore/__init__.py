"""cfcore: collaborative filtering with Gaussian mixtures fitted by EM.

The course modules (``common``, ``kmeans``, ``naive_em``, ``em``) hold the algorithms;
``fit`` and ``select_k`` run them from several seeds and over a range of K.
"""

from . import common, em, kmeans, naive_em
from .common import GaussianMixture, bic, init, rmse
from .selection import FitResult, Selection, fit, select_k

__version__ = "0.1.0"

__all__ = [
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
