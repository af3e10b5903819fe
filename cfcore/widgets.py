"""Interactive explorers for notebook 07, as ipywidgets whose work is done by plain functions.

Three explorers, each an ``ipywidgets.VBox`` that can be displayed as it is:

``EMExplorer``
    K and seed controls; runs EM (``naive_em`` on 2-D points, ``em`` on ratings) and shows
    the log-likelihood climbing iteration by iteration, the clusters (2-D) or the cluster
    mean profiles by genre (ratings), and BIC for the chosen K.
``UserExplorer``
    Pick a MovieLens user: their posterior over clusters, what the clusters like, and their
    top-N recommendations against what they rated in the held-out fold.
``RateAndRecommend``
    Search movies, rate a handful 1-5; every rating is folded in (one E-step, no refit) and
    the posterior and recommendations are shown again, with the change.

Everything a widget shows is computed by a module-level function (``run_em``, ``em_summary``,
``em_figure``, ``user_report``, ``format_user_report``, ``format_posterior``,
``format_recommendations``, ``search_options``, ``rate``, ...), so pytest checks them
without a browser, and the notebook prints the same text where widgets do not render.
A widget's readouts are HTML widgets holding that text in <pre>; its figures are PNGs in
Image widgets (rendered without pyplot, so no figure leaks into the notebook). Each widget
carries a CSS class (``cfcore-...``) by which a browser test finds it.
"""

from __future__ import annotations

import functools
import html
import io
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from . import common, em, naive_em
from .common import GaussianMixture
from .datasets import RatingsData
from .plotting import scatter_clusters
from .recommend import Recommendation, Recommender, UserFold
from .selection import random_responsibilities

# ----------------------------------------------------------------------------------------
# Rendering helpers

#: how a readout shows text: monospace, so that the tables line up
_PRE_STYLE = "font-size: 12px; line-height: 1.35; margin: 0"


def pre(text: str, css_class: str = "") -> str:
    """Text as an HTML <pre> block (escaped), for an HTML widget's value."""
    return f'<pre class="{css_class}" style="{_PRE_STYLE}">{html.escape(text)}</pre>'


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """A matplotlib Figure rendered to PNG bytes (for an Image widget)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attach a canvas: a bare Figure is drawn without pyplot
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _short(title: str, width: int = 48) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"


def bar(fraction: float, width: int = 20) -> str:
    """A text bar of `width` cells filled in proportion to fraction in [0, 1]."""
    filled = int(round(min(max(fraction, 0.0), 1.0) * width))
    return "█" * filled + "·" * (width - filled)


class _Explorer(widgets.VBox):
    """A VBox whose plain-text form (what nbval compares, and what a viewer without widgets
    shows) is a stable one-line description instead of the repr of every child."""

    summary = "an interactive explorer"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = (
            f"{type(self).__name__}: {self.summary} (needs a running kernel with ipywidgets; "
            "the figure and text below show the same views)"
        )
        return bundle


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


#: the starts the explorer offers: the course's K seeded rows, or random responsibilities
STARTS = {"course": "K rows of the data (the course)", "random": "random responsibilities"}


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
    (``selection.random_responsibilities``; ratings only). A start or run that fails (K
    larger than the data, a collapsed component) gives an EMRun whose ``error`` says why.
    """
    if start not in STARTS:
        raise ValueError(f"start must be one of {list(STARTS)}, got {start!r}")
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
        begin = random_responsibilities if start == "random" else common.init
        mixture, post = begin(data.X, K, seed)
        mixtures.append(mixture)
        *_, converged, _ = module._run(data.X, mixture, post, max_iter=max_iter, callback=record)
        _, last = module.estep(data.X, mixtures[-1])  # log-likelihood of the final mixture
    except (ValueError, FloatingPointError) as err:
        return EMRun(data, K, seed, start, [], [], None, False, error=str(err))
    log_likelihoods.append(float(last))
    bic = common.bic(data.X, mixtures[-1], last)
    return EMRun(data, K, seed, start, mixtures, log_likelihoods, bic, converged)


def em_summary(run: EMRun, iteration: int | None = None) -> str:
    """What the explorer prints for a run at an iteration (default: the last)."""
    data = run.data
    n, d = data.X.shape
    head = (
        f"EM on {data.name} ({n:,} x {d:,}), K = {run.K}, seed {run.seed}, start: "
        f"{STARTS[run.start]}"
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
    trace_ax.plot(steps, run.log_likelihoods, ".-", color="tab:blue", markersize=4)
    trace_ax.plot([t], [run.log_likelihoods[t]], "o", color="tab:red", markersize=8)
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
    image = ax.imshow(profile, cmap="RdYlGn", vmin=2.0, vmax=4.5, aspect="auto")
    ax.set_xticks(range(len(data.genre_names)), data.genre_names, rotation=60, ha="right")
    ax.set_yticks(range(run.K), [f"cluster {j} (p {p:.2f})" for j, p in enumerate(mixture.p)])
    if run.K <= 8:
        for (j, g), value in np.ndenumerate(profile):
            ax.text(g, j, f"{value:.1f}", ha="center", va="center", fontsize=7)
    ax.set_title(f"iteration {t}: mean rating per genre, mu_j over popular movies")
    fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02, label="cluster mean rating")


class EMExplorer(_Explorer):
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
            options=[(label, key) for key, label in STARTS.items()],
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
        self.readout.value = pre(em_summary(run, iteration))
        self.figure.value = figure_png(em_figure(run, iteration))


# ----------------------------------------------------------------------------------------
# Readouts shared by the user explorer and rate-and-recommend


def format_posterior(post, previous=None, width: int = 20) -> str:
    """One line per cluster: a bar, post_j and, when given, the value before the update."""
    lines = []
    for j, value in enumerate(post):
        line = f"cluster {j}  {bar(value, width)}  {value:.3f}"
        if previous is not None:
            change = value - previous[j]
            line += f"   (was {previous[j]:.3f}, {change:+.3f})"
        lines.append(line)
    return "\n".join(lines)


def format_recommendations(recommendations: list[Recommendation], held_out=None) -> str:
    """A numbered table: predicted rating, spread, support, title (and held-out rating).

    held_out: optional {item id: rating} the user gave in the held-out fold.
    """
    header = f"{'#':>3}  {'predicted':>9}  {'spread':>6}  {'support':>7}  "
    if held_out is not None:
        header += f"{'held out':>8}  "
    lines = [header + "title"]
    for rank, rec in enumerate(recommendations, start=1):
        line = f"{rank:>3}  {rec.predicted:9.2f}  {rec.spread:6.2f}  {rec.support:7.1f}  "
        if held_out is not None:
            actual = held_out.get(rec.item_id)
            line += f"{'—' if actual is None else f'{actual:g}':>8}  "
        lines.append(line + _short(rec.title))
    return "\n".join(lines)


def format_profiles(recommender: Recommender, post=None, n_genres: int = 3) -> str:
    """What each cluster likes (genres, titles); with post, the user's share of each."""
    lines = []
    for profile in recommender.cluster_profiles(n_titles=3):
        j = profile.cluster
        share = "" if post is None else f", this user {post[j]:.2f}"
        likes = ", ".join(f"{g} {s:+.2f}" for g, s in profile.genres[:n_genres])
        dislikes = ", ".join(f"{g} {s:+.2f}" for g, s in profile.genres[::-1][:2])
        lines.append(
            f"cluster {j} (p {profile.weight:.2f}{share}): mean rating {profile.mean_rating:.2f};"
            f" likes {likes}; less {dislikes}"
        )
        titles = "; ".join(f"{_short(t, 34)} {v:.2f}" for t, v in profile.titles)
        lines.append(f"    best rated: {titles}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# User explorer


@dataclass(frozen=True)
class UserReport:
    """A training user seen through the model, checked against their held-out ratings.

    post: (K,) posterior from their training ratings; recommendations: their top n among
    items they did not rate in training; held_out: {item id: rating} of the held-out fold;
    held_out_predictions: [(title, rating, predicted)] sorted by predicted, highest first;
    rmse: over all their held-out ratings.
    """

    user_id: object
    n_train: int
    post: np.ndarray
    recommendations: list[Recommendation]
    held_out: dict
    held_out_predictions: list[tuple[str, float, float]]
    rmse: float


def users_with_held_out(held_out: RatingsData) -> list[tuple[str, object]]:
    """Dropdown options (label, user id) for the users who have held-out ratings."""
    counts = np.diff(held_out.matrix.indptr)
    return [
        (f"user {held_out.user_ids[u]} ({counts[u]} held out)", held_out.user_ids[u].item())
        for u in np.flatnonzero(counts)
    ]


def user_report(recommender: Recommender, held_out: RatingsData, user_id, n: int = 10):
    """Fold a training user in from their training ratings and compare with held_out.

    held_out: ratings of the same users and items as ``recommender.train`` (the test half
    of the same fold), so that row u is the same user in both.
    """
    if held_out.shape != recommender.train.shape:
        raise ValueError(
            f"held_out must rate the recommender's {recommender.train.shape} users x items, "
            f"got {held_out.shape}; pass the test half of the fold it was fitted on"
        )
    ratings = recommender.user_ratings(user_id)
    user = recommender.fold_in(ratings)
    row = held_out.matrix[recommender.user_index(user_id)]
    items = held_out.item_ids[row.indices]
    truth = {item.item(): float(r) for item, r in zip(items, row.data, strict=True)}
    predicted = user.predictions[row.indices]
    order = np.argsort(-predicted, kind="stable")
    pairs = [
        (str(recommender.item_titles[row.indices[k]]), float(row.data[k]), float(predicted[k]))
        for k in order
    ]
    rmse = float(np.sqrt(np.mean((predicted - row.data) ** 2))) if row.nnz else float("nan")
    return UserReport(
        user_id, len(ratings), user.post, recommender.recommend(user, n), truth, pairs, rmse
    )


def format_user_report(report: UserReport, n_held_out: int = 8) -> str:
    """The user explorer's text: recommendations, and the held-out ratings they predict."""
    hits = [r for r in report.recommendations if r.item_id in report.held_out]
    hit_text = f"{len(hits)} of the top {len(report.recommendations)} are in the held-out fold" + (
        f", rated {np.mean([report.held_out[r.item_id] for r in hits]):.2f} on average"
        if hits
        else ""
    )
    lines = [
        f"user {report.user_id}: {report.n_train} training ratings, "
        f"{len(report.held_out)} held out; held-out RMSE {report.rmse:.3f}",
        "",
        f"top {len(report.recommendations)} recommendations ({hit_text}):",
        format_recommendations(report.recommendations, report.held_out),
        "",
        f"held-out ratings, highest predicted first (first {n_held_out}):",
        f"{'actual':>6}  {'predicted':>9}  title",
    ]
    for title, actual, predicted in report.held_out_predictions[:n_held_out]:
        lines.append(f"{actual:6g}  {predicted:9.2f}  {_short(title)}")
    return "\n".join(lines)


class UserExplorer(_Explorer):
    """Pick a user: posterior, what the clusters like, top-N against their held-out ratings."""

    summary = "pick a MovieLens user, see their posterior and recommendations"

    def __init__(self, recommender: Recommender, held_out: RatingsData, n: int = 10):
        self.recommender, self.held_out, self.n = recommender, held_out, n
        options = users_with_held_out(held_out)
        if not options:
            raise ValueError("held_out holds no ratings: there is no user to check against")
        self.user_choice = widgets.Dropdown(options=options, description="user")
        self.posterior = widgets.HTML()
        self.clusters = widgets.HTML()
        self.report = widgets.HTML()
        for widget, name in (
            (self.user_choice, "choice"),
            (self.posterior, "posterior"),
            (self.clusters, "clusters"),
            (self.report, "report"),
        ):
            widget.add_class(f"cfcore-user-{name}")
        self.user_choice.observe(self.on_user, names="value")
        super().__init__(
            [
                self.user_choice,
                widgets.HTML("<b>posterior over clusters</b>"),
                self.posterior,
                widgets.HTML("<b>what the clusters like</b>"),
                self.clusters,
                self.report,
            ]
        )
        self.add_class("cfcore-user-explorer")
        self.on_user()

    def on_user(self, change=None) -> None:
        """A user was picked: fold them in (milliseconds) and show the three readouts."""
        report = user_report(self.recommender, self.held_out, self.user_choice.value, self.n)
        self.posterior.value = pre(format_posterior(report.post))
        self.clusters.value = pre(format_profiles(self.recommender, report.post))
        self.report.value = pre(format_user_report(report))


# ----------------------------------------------------------------------------------------
# Rate and recommend


def search_options(recommender: Recommender, query: str, limit: int = 30) -> list:
    """(label, item id) of the movies whose title contains query, most rated first."""
    return [(recommender.title(item_id), item_id) for item_id in recommender.search(query, limit)]


def rate(ratings: dict, item_id, stars) -> dict:
    """A new {item id: rating} with item_id rated `stars` (a new rating replaces an old one)."""
    updated = {key: value for key, value in ratings.items() if key != item_id}
    updated[item_id] = float(stars)
    return updated


def format_ratings(recommender: Recommender, ratings: dict) -> str:
    if not ratings:
        return "no ratings yet: the posterior is the mixing weights p"
    return "\n".join(
        f"{stars:g} ★  {_short(recommender.title(item_id), 60)}"
        for item_id, stars in ratings.items()
    )


@dataclass(frozen=True)
class SessionView:
    """What rate-and-recommend shows after each rating."""

    user: UserFold
    ratings_text: str
    posterior_text: str
    recommendations_text: str


def session_view(recommender: Recommender, ratings: dict, previous_post=None, n: int = 10):
    """Fold in the ratings so far (one E-step) and render the three readouts."""
    user = recommender.fold_in(ratings)
    return SessionView(
        user,
        format_ratings(recommender, ratings),
        format_posterior(user.post, previous_post),
        format_recommendations(recommender.recommend(user, n)),
    )


class RateAndRecommend(_Explorer):
    """Search, rate 1-5, and see the posterior and recommendations move, with no refit."""

    summary = "rate movies and watch the posterior and recommendations update"

    def __init__(self, recommender: Recommender, n: int = 10, limit: int = 30):
        self.recommender, self.n, self.limit = recommender, n, limit
        self.ratings: dict = {}
        self.history: list[np.ndarray] = []
        self.search_box = widgets.Text(
            placeholder="type part of a title", description="search", continuous_update=True
        )
        self.results = widgets.Select(options=search_options(recommender, "", limit), rows=8)
        self.results.layout.width = "420px"
        self.stars = widgets.ToggleButtons(options=[1, 2, 3, 4, 5], value=4, description="stars")
        self.stars.style.button_width = "34px"
        self.rate_button = widgets.Button(description="Rate", button_style="primary")
        self.undo_button = widgets.Button(description="Undo last rating")
        self.ratings_view = widgets.HTML()
        self.posterior = widgets.HTML()
        self.recommendations = widgets.HTML()
        for widget, name in (
            (self.search_box, "search"),
            (self.results, "results"),
            (self.ratings_view, "ratings"),
            (self.posterior, "posterior"),
            (self.recommendations, "recommendations"),
        ):
            widget.add_class(f"cfcore-rate-{name}")
        self.search_box.observe(self.on_search, names="value")
        self.rate_button.on_click(self.on_rate)
        self.undo_button.on_click(self.on_undo)
        super().__init__(
            [
                self.search_box,
                self.results,
                widgets.HBox([self.stars, self.rate_button, self.undo_button]),
                widgets.HTML("<b>your ratings</b>"),
                self.ratings_view,
                widgets.HTML("<b>posterior over clusters</b>"),
                self.posterior,
                widgets.HTML("<b>recommendations</b>"),
                self.recommendations,
            ]
        )
        self.add_class("cfcore-rate-and-recommend")
        self.refresh()

    def on_search(self, change=None) -> None:
        """The search text changed: list the matching titles."""
        self.results.options = search_options(self.recommender, self.search_box.value, self.limit)

    def on_rate(self, button=None) -> None:
        """Rate the selected movie with the chosen stars and fold the ratings in again."""
        if self.results.value is None:
            return
        self.history.append(self.recommender.fold_in(self.ratings).post)
        self.ratings = rate(self.ratings, self.results.value, self.stars.value)
        self.refresh(self.history[-1])

    def on_undo(self, button=None) -> None:
        """Take the last rating back."""
        if not self.ratings:
            return
        self.ratings = dict(list(self.ratings.items())[:-1])
        self.history.pop()
        self.refresh(self.history[-1] if self.history else None)

    def refresh(self, previous_post=None) -> SessionView:
        view = session_view(self.recommender, self.ratings, previous_post, self.n)
        self.ratings_view.value = pre(view.ratings_text)
        self.posterior.value = pre(view.posterior_text)
        self.recommendations.value = pre(view.recommendations_text)
        return view
