"""Every figure in one colour-blind-safe style, legible: the check savefig applies, and the
PNGs in figures/ themselves."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from cfcore.apps import plotting

FIGURES = Path(__file__).resolve().parents[1] / "figures"
#: screenshots of the browser, not matplotlib figures
SCREENSHOTS = {"07_interactive_jupyterlab.png", "app_voila.png"}


def test_savefig_refuses_colours_outside_the_palette(tmp_path, monkeypatch):
    monkeypatch.setenv("CFCORE_FIGURES", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color="tab:red")
    with pytest.raises(ValueError, match="outside the palette.*#d62728"):
        plotting.savefig("bad", fig)
    ax.lines[0].set_color(plotting.PALETTE["vermillion"])
    ax.imshow(np.eye(3), cmap="RdYlGn")
    with pytest.raises(ValueError, match="colour map 'RdYlGn'"):
        plotting.savefig("bad", fig)
    ax.images[0].set_cmap("cividis")
    assert plotting.savefig("good", fig).is_file()
    with pytest.raises(ValueError, match="dpi"):
        plotting.savefig("good", fig, dpi=110)
    plt.close(fig)


def test_the_default_style_draws_in_the_palette():
    fig, ax = plt.subplots()
    for k in range(7):
        ax.plot([0, 1], [k, k + 1])
    plotting.scatter_clusters(ax, np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 9)
    assert plotting.palette_violations(fig) == []
    plt.close(fig)


@pytest.mark.parametrize(
    "path", sorted(p for p in FIGURES.glob("*.png") if p.name not in SCREENSHOTS), ids=str
)
def test_every_figure_is_saved_at_150_dpi_or_more(path):
    dpi = Image.open(path).info.get("dpi")
    assert dpi is not None and min(dpi) >= plotting.MIN_DPI - 0.5, (path.name, dpi)
