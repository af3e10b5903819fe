"""The notebooks' figures: one helper that writes every PNG into one folder, and the plots
more than one notebook draws."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

_REPOSITORY_FIGURES = Path(__file__).resolve().parents[2] / "figures"  # cfcore/apps/ -> root


def figures_dir() -> Path:
    """``$CFCORE_FIGURES`` if set, else the repository's figures/ folder (else ./figures)."""
    configured = os.environ.get("CFCORE_FIGURES")
    if configured:
        return Path(configured)
    return (
        _REPOSITORY_FIGURES
        if _REPOSITORY_FIGURES.parent.joinpath("cfcore").is_dir()
        else Path("figures")
    )


def savefig(name: str, fig=None, dpi: int = 110) -> Path:
    """Write ``fig`` (default: the current figure) to figures/<name>.png and return the path."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"name must be a bare figure name such as '01_lloyd_steps', got {name!r}")
    fig = plt.gcf() if fig is None else fig
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path


def scatter_clusters(ax, X: np.ndarray, labels=None, means=None, title: str | None = None):
    """2-D points coloured by cluster, with the cluster means as black crosses."""
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], c="tab:gray", s=12, alpha=0.8)
    else:
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", s=12, alpha=0.8, vmin=0, vmax=9)
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], c="black", marker="x", s=90, linewidths=2.5)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax
