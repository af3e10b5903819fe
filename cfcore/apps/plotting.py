"""The figures' one style: a colour-blind-safe palette, legible sizes, and one ``savefig``.

Categorical colours are Okabe & Ito's (2008) eight, which stay distinct under the common
colour-vision deficiencies; sequential data uses viridis or cividis. Importing this module
applies ``STYLE`` to matplotlib, and ``savefig`` refuses a figure that uses a colour outside
the palette (``palette_violations``) or fewer than ``MIN_DPI`` dots per inch, so every
figure in figures/ passes the same check.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.colors import ListedColormap, to_rgba

_REPOSITORY_FIGURES = Path(__file__).resolve().parents[2] / "figures"  # cfcore/apps/ -> root

#: Okabe-Ito, in the order the categories take them (black last: it marks means and guides)
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
CATEGORICAL = list(PALETTE.values())
#: cluster j is drawn in CATEGORICAL[j % 8]
CLUSTER_CMAP = ListedColormap(CATEGORICAL, name="okabe_ito")
#: the colour maps allowed for sequential data (and the categorical one above)
SEQUENTIAL_CMAPS = ("viridis", "cividis")
MIN_DPI = 150

STYLE = {
    "axes.prop_cycle": cycler(color=CATEGORICAL[:-1]),
    "image.cmap": "viridis",
    "savefig.dpi": MIN_DPI,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.framealpha": 0.9,
}
mpl.rcParams.update(STYLE)


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


def _allowed(rgba) -> bool:
    """A palette colour, a grey (black and white included) or an invisible one."""
    r, g, b, a = rgba
    if a == 0 or (abs(r - g) < 1e-3 and abs(g - b) < 1e-3):
        return True
    return any(np.allclose((r, g, b), to_rgba(c)[:3], atol=2e-3) for c in CATEGORICAL)


def _colours(artist) -> list:
    """The RGBA colours an artist paints with, where they are not set by a colour map."""
    if isinstance(artist, mpl.cm.ScalarMappable) and artist.get_array() is not None:
        return []  # colours from a colour map: its name is checked instead
    found = []
    for getter in (
        "get_color",
        "get_markerfacecolor",
        "get_markeredgecolor",
        "get_facecolor",
        "get_edgecolor",
    ):
        if hasattr(artist, getter):
            value = getattr(artist, getter)()
            if isinstance(value, str) and value in ("none", "auto"):
                continue
            try:
                found.extend(np.atleast_2d(mpl.colors.to_rgba_array(value)))
            except (ValueError, TypeError):
                continue
    return found


def palette_violations(fig) -> list[str]:
    """Every colour and colour map in fig that the project's style does not allow."""
    problems = set()
    for artist in fig.findobj():
        if isinstance(artist, mpl.cm.ScalarMappable) and artist.get_array() is not None:
            name = artist.get_cmap().name
            if name not in SEQUENTIAL_CMAPS and name != CLUSTER_CMAP.name:
                problems.add(f"colour map {name!r} (use viridis, cividis or CLUSTER_CMAP)")
            continue
        for rgba in _colours(artist):
            if not _allowed(rgba):
                problems.add(f"colour {mpl.colors.to_hex(rgba)} on a {type(artist).__name__}")
    return sorted(problems)


def savefig(name: str, fig=None, dpi: int = MIN_DPI) -> Path:
    """Write ``fig`` (default: the current figure) to figures/<name>.png and return the path.

    Refuses a figure with colours outside the palette, and dpi below ``MIN_DPI``.
    """
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"name must be a bare figure name such as '01_lloyd_steps', got {name!r}")
    if dpi < MIN_DPI:
        raise ValueError(f"dpi must be at least {MIN_DPI} so the figure is legible, got {dpi}")
    fig = plt.gcf() if fig is None else fig
    problems = palette_violations(fig)
    if problems:
        raise ValueError(
            f"figure {name!r} uses colours outside the palette: {'; '.join(problems)}; "
            "take them from cfcore.apps.plotting.PALETTE"
        )
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path


def scatter_clusters(ax, X: np.ndarray, labels=None, means=None, title: str | None = None):
    """2-D points coloured by cluster (``CLUSTER_CMAP``), the cluster means as black crosses."""
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], c="grey", s=12, alpha=0.8)
    else:
        ax.scatter(
            X[:, 0],
            X[:, 1],
            c=np.asarray(labels) % len(CATEGORICAL),
            cmap=CLUSTER_CMAP,
            s=12,
            alpha=0.8,
            vmin=0,
            vmax=len(CATEGORICAL) - 1,
        )
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], c="black", marker="x", s=90, linewidths=2.5)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax
