"""The EM explorer of notebook 07: K, seed, start and iteration controls over EM.

Runs EM (``naive_em`` on 2-D points, ``em`` on ratings) and shows the log-likelihood
climbing iteration by iteration, the clusters (2-D) or the cluster mean profiles by genre
(ratings), and BIC for the chosen K. The widget's work is done by ``run_em``,
``em_summary`` and ``em_figure``, plain functions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from .. import common, em, naive_em
from ..common import GaussianMixture
from ..data import RatingsData
from ..models import get_start
from .plotting import PALETTE, scatter_clusters
from .render import Explorer, figure_png, pre

# ----------------------------------------------------------------------------------------
# EM explorer


@dataclass(eq=False)
class EMData:
    """Data for the EM explorer.

    name: shown in the controls; X: (n, 2) points (fitted with ``naive_em``) or (n, d)
    ratings, dense or CSR (fitted with ``em``); for ratings, genres (d, G) bool,
    genre_names and popular (d,) bool, the items whose cluster means the profile averages.
    """

    name: str
    X: object
    kind: str  # "points" or "ratings"
    genres: np.ndarray | None = None
    genre_names: list[str] = field(default_factory=list)
    popular: np.ndarray | None = None

    @classmethod
    def points(cls, X, name: str = "2-D points") -> EMData:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"X must be (n, 2) points to draw, got shape {X.shape}")
        return cls(name, X, "points")

    @classmethod
    def ratings(cls, data: RatingsData, name: str | None = None, min_ratings: int = 50):
        """Ratings with genres; the profile averages items with >= min_ratings ratings."""
        if data.genres is None:
            raise ValueError("data must have genres (as MovieLens does) to draw cluster profiles")
        counts = np.bincount(data.matrix.indices, minlength=data.n_items)
        popular = counts >= min_ratings
        used = (data.genres[popular].sum(axis=0) > 0) & (np.asarray(data.genre_names) != "unknown")
        return cls(
            name or data.name,
            data.matrix,
            "ratings",
            data.genres[:, used],
            [g for g, ok in zip(data.genre_names, used, strict=True) if ok],
            popular,
        )

    @property
    def method(self) -> str:
        return "naive_em" if self.kind == "points" else "em"


#: the starts of ``cfcore.models.STARTS`` the explorer offers, with their labels
START_LABELS = {"course": "K rows of the data (the course)", "random": "random responsibilities"}


@dataclass(frozen=True)
class EMRun:
    """One seeded EM run, every iteration kept.

    mixtures[t]: the mixture after t iterations (mixtures[0] is the start);
    log_likelihoods[t]: log p(X | mixtures[t]), so the list rises with t (EM's guarantee);
    bic: of the last mixture; converged: the course's stopping rule was met before max_iter;
    error: why EM could not run (then the lists are empty).
    """

    data: EMData
    K: int
    seed: int
    start: str
    mixtures: list[GaussianMixture]
    log_likelihoods: list[float]
    bic: float | None
    converged: bool
    error: str | None = None

    @property
    def n_iter(self) -> int:
        return max(len(self.mixtures) - 1, 0)


def run_em(data: EMData, K: int, seed: int, start: str = "course", max_iter: int = 300) -> EMRun:
    """Run EM once from a seeded start, keeping every iteration (cached per process).

    start: "course" (``common.init``, K seeded rows as means) or "random"
    (``models.random_responsibilities``; ratings only). A start or run that fails (K
    larger than the data, a collapsed component) gives an EMRun whose ``error`` says why.
    """
    if start not in START_LABELS:
        raise ValueError(f"start must be one of {list(START_LABELS)}, got {start!r}")
    if start == "random" and data.kind != "ratings":
        raise ValueError("start='random' needs ratings; 2-D points start from K rows")
    return _run_em(data, int(K), int(seed), start, max_iter)


@functools.lru_cache(maxsize=64)
def _run_em(data: EMData, K: int, seed: int, start: str, max_iter: int) -> EMRun:
    module = naive_em if data.method == "naive_em" else em
    mixtures: list[GaussianMixture] = []
    log_likelihoods: list[float] = []

    def record(iteration, ll, mixture):
        log_likelihoods.append(float(ll))  # log p(X | mixtures[iteration - 1])
        mixtures.append(mixture)

    try:
        begin = get_start(start)
        mixture, post = begin(data.X, K, seed)
        mixtures.append(mixture)
        outcome = module.run_full(data.X, mixture, post, max_iter=max_iter, callback=record)
        _, last = module.estep(data.X, mixtures[-1])  # log-likelihood of the final mixture
    except (ValueError, FloatingPointError) as err:
        return EMRun(data, K, seed, start, [], [], None, False, error=str(err))
    log_likelihoods.append(float(last))
    bic = common.bic(data.X, mixtures[-1], last)
    return EMRun(data, K, seed, start, mixtures, log_likelihoods, bic, outcome.converged)


def em_summary(run: EMRun, iteration: int | None = None) -> str:
    """What the explorer prints for a run at an iteration (default: the last)."""
    data = run.data
    n, d = data.X.shape
    head = (
        f"EM on {data.name} ({n:,} x {d:,}), K = {run.K}, seed {run.seed}, start: "
        f"{START_LABELS[run.start]}"
    )
    if run.error is not None:
        return f"{head}\nEM could not run: {run.error}"
    t = run.n_iter if iteration is None else min(max(int(iteration), 0), run.n_iter)
    mixture = run.mixtures[t]
    status = "converged" if run.converged else "stopped before converging"
    n_parameters = common.n_parameters(run.mixtures[-1])
    weights = ", ".join(f"{p:.3f}" for p in mixture.p)
    return "\n".join(
        [
            head,
            f"{status} after {run.n_iter} iterations; showing iteration {t}",
            f"log-likelihood at iteration {t}: {run.log_likelihoods[t]:,.4f} "
            f"(start {run.log_likelihoods[0]:,.4f}, end {run.log_likelihoods[-1]:,.4f})",
            f"BIC of the fitted K = {run.K} mixture: {run.bic:,.4f} "
            f"= log-likelihood - {n_parameters:,} parameters / 2 x ln {n:,}",
            f"weights p_j at iteration {t}: {weights}",
        ]
    )


def em_figure(run: EMRun, iteration: int | None = None, fig: Figure | None = None) -> Figure:
    """Log-likelihood trace with the iteration marked, beside the clusters or profiles.

    fig: an empty figure to draw into (e.g. ``plt.figure(figsize=(11, 4.2))`` in a notebook);
    default a new Figure made without pyplot, as the widget renders it.
    """
    if fig is None:
        fig = Figure(figsize=(11, 4.2))  # no layout engine: it would double the drawing time
    trace_ax, view_ax = fig.subplots(1, 2, width_ratios=[1, 1.5])
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.27, top=0.91, wspace=0.45)
    if run.error is not None:
        for ax in (trace_ax, view_ax):
            ax.set_axis_off()
        trace_ax.text(0, 0.5, "EM could not run:\n" + run.error[:200], wrap=True)
        return fig
    t = run.n_iter if iteration is None else min(max(int(iteration), 0), run.n_iter)
    steps = np.arange(run.n_iter + 1)
    trace_ax.plot(steps, run.log_likelihoods, ".-", color=PALETTE["blue"], markersize=4)
    trace_ax.plot([t], [run.log_likelihoods[t]], "o", color=PALETTE["vermillion"], markersize=8)
    trace_ax.set_xlabel("EM iteration t")
    trace_ax.set_ylabel("log-likelihood after t iterations")
    trace_ax.set_title(f"K = {run.K}, seed {run.seed}: BIC {run.bic:,.1f}")
    if run.data.kind == "points":
        _draw_points(view_ax, run, t)
    else:
        _draw_profiles(fig, view_ax, run, t)
    return fig


def _draw_points(ax, run: EMRun, t: int) -> None:
    mixture = run.mixtures[t]
    post, _ = naive_em.estep(run.data.X, mixture)
    scatter_clusters(ax, run.data.X, post.argmax(axis=1), mixture.mu)
    for mean, var in zip(mixture.mu, mixture.var, strict=True):
        ax.add_patch(Circle(mean, np.sqrt(var), fill=False, color="black", lw=1, ls="--"))
    ax.set_title(f"iteration {t}: most probable cluster, means and 1 sd circles")


def _draw_profiles(fig: Figure, ax, run: EMRun, t: int) -> None:
    """Heat map: the mean of mu_ji over each genre's popular movies, per cluster."""
    data, mixture = run.data, run.mixtures[t]
    genres = data.genres[data.popular].astype(np.float64)
    profile = mixture.mu[:, data.popular] @ genres / genres.sum(axis=0)  # (K, G)
    image = ax.imshow(profile, cmap="cividis", vmin=2.0, vmax=4.5, aspect="auto")
    ax.set_xticks(range(len(data.genre_names)), data.genre_names, rotation=60, ha="right")
    ax.set_yticks(range(run.K), [f"cluster {j} (p {p:.2f})" for j, p in enumerate(mixture.p)])
    if run.K <= 8:
        for (j, g), value in np.ndenumerate(profile):
            ink = "white" if value < 3.25 else "black"  # legible on cividis' dark and light ends
            ax.text(g, j, f"{value:.1f}", ha="center", va="center", fontsize=7, color=ink)
    ax.set_title(f"iteration {t}: mean rating per genre, mu_j over popular movies")
    fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02, label="cluster mean rating")


class EMExplorer(Explorer):
    """K, seed, start and iteration controls over EM on one of several data sets."""

    summary = "EM on 2-D points or ratings, with K, seed and iteration controls"

    def __init__(self, datasets: list[EMData], K: int = 3, seed: int = 0, max_K: int = 8):
        if not datasets:
            raise ValueError("datasets must hold at least one EMData")
        self.datasets = {data.name: data for data in datasets}
        style = {"description_width": "initial"}
        self.data_choice = widgets.ToggleButtons(
            options=list(self.datasets), description="data", style=style
        )
        self.k_slider = widgets.IntSlider(
            value=K, min=1, max=max_K, description="K", continuous_update=False
        )
        self.seed_choice = widgets.Dropdown(options=list(range(10)), value=seed, description="seed")
        self.start_choice = widgets.Dropdown(
            options=[(label, key) for key, label in START_LABELS.items()],
            value="course",
            description="start",
            style=style,
        )
        self.iteration_slider = widgets.IntSlider(
            value=0, min=0, max=1, description="iteration", continuous_update=False
        )
        self.readout = widgets.HTML()
        self.figure = widgets.Image(format="png")
        self._moving_slider = False
        for widget, name in (
            (self.k_slider, "k"),
            (self.seed_choice, "seed"),
            (self.readout, "readout"),
            (self.figure, "figure"),
            (self.iteration_slider, "iteration"),
        ):
            widget.add_class(f"cfcore-em-{name}")
        for control in (self.data_choice, self.k_slider, self.seed_choice, self.start_choice):
            control.observe(self.on_settings, names="value")
        self.iteration_slider.observe(self.on_iteration, names="value")
        controls = widgets.HBox([self.k_slider, self.seed_choice, self.start_choice])
        super().__init__(
            [self.data_choice, controls, self.iteration_slider, self.readout, self.figure]
        )
        self.add_class("cfcore-em-explorer")
        self.on_settings()

    @property
    def data(self) -> EMData:
        return self.datasets[self.data_choice.value]

    def current_run(self) -> EMRun:
        start = self.start_choice.value if self.data.kind == "ratings" else "course"
        return run_em(self.data, self.k_slider.value, self.seed_choice.value, start)

    def on_settings(self, change=None) -> None:
        """Data, K, seed or start changed: run EM (cached) and show its last iteration."""
        self.start_choice.disabled = self.data.kind != "ratings"
        run = self.current_run()
        self._moving_slider = True  # the slider follows the run; draw once, below
        try:
            self.iteration_slider.max = max(run.n_iter, 1)
            self.iteration_slider.value = run.n_iter
        finally:
            self._moving_slider = False
        self.show(run, run.n_iter)

    def on_iteration(self, change=None) -> None:
        """The iteration slider moved: show that iteration of the current run."""
        if not self._moving_slider:
            self.show(self.current_run(), self.iteration_slider.value)

    def show(self, run: EMRun, iteration: int) -> None:
        """Show an iteration of a run: both views are computed first, then the figure is
        updated and the text right after it, so the text never describes a figure that is
        not on screen yet (drawing takes a noticeable fraction of a second)."""
        text = pre(em_summary(run, iteration))
        png = figure_png(em_figure(run, iteration))
        self.figure.value = png
        self.readout.value = text
