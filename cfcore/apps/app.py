"""The web app for people who do not use Jupyter: rate movies, get recommendations.

``app/recommender_app.ipynb`` calls ``recommender_app()``, and Voila serves it as a page
(``make app``). The page holds one panel: search, rate, recommend, the user's posterior
and Undo (``RateAndRecommend``), over the hybrid mixture (``cfcore.models.HybridMixture``)
fitted on all of MovieLens 100K. Each rating goes to a ``LiveSession``: the live model
(``cfcore.models.LiveModel``) learns from it by incremental EM, and Undo restores exactly
the state before it.

A visitor's kernel must not fit the model (20 seeds, seconds): ``fitted_model`` keeps the
fitted model in a pickle under the user's cache folder (``model_cache_dir``: ``$CFCORE_CACHE``,
else the platform's user cache, e.g. ``~/.cache/cfcore/models``), named by a key of the data's
checksum, the model's settings and the package's code, so that changing any of them fits
anew; the file is written atomically (a temporary file, then a rename), so a kernel never
reads half a pickle; each new entry prunes the model's entries to the
``CACHE_ENTRIES_KEPT`` most recently used. ``python -m cfcore.apps.app`` fits it ahead of
the first visitor, as
``make app`` does. The cache holds pickles this package wrote into the user's own folder;
like any pickle, it must not come from anyone else.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import pickle
import sys
import tempfile
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .. import engine
from ..data import RatingsData
from ..models import LiveModel, make_models
from .rating_session import RatingChange, RatingSession
from .recommend import UserFold
from .recommender import Recommender
from .render import MONOSPACE_CLASS, MONOSPACE_FONTS, Explorer
from .user_explorers import RateAndRecommend

#: the registered model the app recommends with (``cfcore.models.MODELS``)
APP_MODEL = "hybrid-mixture"
#: how many recommendations the app lists
APP_RECOMMENDATIONS = 10
#: the environment variable naming the folder of fitted models (default: the user's cache)
CACHE_ENV = "CFCORE_CACHE"
#: the engine the live model runs on in the app: a rating is one user's E-step, which the
#: compiled kernel does not speed up, while loading it (numba) costs every visitor's kernel
#: about 120 MB and half a second
APP_ENGINE = "numpy"
#: fitted models kept per model name: the most recently used ones (entries for older code,
#: settings or data are otherwise never read again)
CACHE_ENTRIES_KEPT = 4
#: the subpackages whose code decides what a fitted model holds (a change refits it)
_MODEL_CODE = ("models", "data", "engine")
#: the app's page style: readable width, the readouts monospace whatever the template
APP_STYLE = f"""
<style>
.cfcore-app {{ max-width: 980px; box-sizing: border-box; }}
.cfcore-app .{MONOSPACE_CLASS} {{
  font-family: {MONOSPACE_FONTS}; white-space: pre; max-width: 100%; overflow-x: auto;
}}
.cfcore-app .cfcore-rate-results {{ width: 100% !important; max-width: 420px; }}
.cfcore-app .cfcore-rate-search {{ max-width: 100%; }}
.cfcore-app .widget-hbox {{ flex-wrap: wrap; gap: 4px; }}
.cfcore-app-footer {{ color: #555; font-size: 11px; line-height: 1.4; margin-top: 1em; }}
</style>
"""
#: the app's heading over the posterior, for people who have not met a mixture
APP_POSTERIOR_HEADING = (
    "your taste groups: how well each group of like-minded users fits your ratings "
    "(shares of 1; the bar and number move as you rate)"
)


# ----------------------------------------------------------------------------------------
# The fitted model, cached on disk


def model_cache_dir() -> Path:
    """Where fitted models are kept: ``$CFCORE_CACHE``, else the user's cache folder."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    import pooch  # its user cache folder is where the MovieLens download goes too

    return Path(pooch.os_cache("cfcore")) / "models"


def data_fingerprint(data: RatingsData) -> str:
    """sha256 of everything in data that a fit reads: ratings, ids, scale, item content."""
    if not isinstance(data, RatingsData):
        raise TypeError(f"data must be a RatingsData, got {type(data).__name__}")
    digest = hashlib.sha256()
    matrix = data.matrix
    parts = [matrix.indptr, matrix.indices, matrix.data, np.asarray(data.scale, float)]
    parts += [data.genres, data.years]
    for part in parts:
        digest.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
    for labels in (data.user_ids, data.item_ids, data.titles, data.genre_names):
        text = "-" if labels is None else "\x1f".join(map(str, labels))
        digest.update(text.encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def model_settings(model) -> dict:
    """An unfitted model's class and settings (its attributes), as text: part of the key."""
    fitted = [name for name in vars(model) if name.endswith("_")]
    if fitted:
        raise ValueError(
            f"model {model.name!r} is already fitted (it has {fitted[0]}): pass the unfitted "
            "model, whose settings name the cache entry"
        )
    settings = {name: repr(value) for name, value in sorted(vars(model).items())}
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", **settings}


def code_fingerprint() -> str:
    """sha256 of the package code a fitted model depends on (models, data, engine, course)."""
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("*.py"))
    for package in _MODEL_CODE:
        files += sorted((root / package).rglob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(data: RatingsData, model) -> str:
    """The name of a fitted model's cache entry: data, settings and code, hashed together."""
    key = {
        "data": data_fingerprint(data),
        "model": model_settings(model),
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def write_atomically(path: Path, payload: bytes) -> None:
    """Write payload to path through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CachedModel:
    """A fitted model, where its pickle is, and whether it was read (True) or fitted now."""

    model: object
    path: Path
    from_cache: bool


def fitted_model(data: RatingsData, model=APP_MODEL, cache_dir=None) -> CachedModel:
    """model (a registered name or an unfitted model) fitted on data, read from the cache
    when an entry with the same data, settings and code exists, else fitted and stored.

    cache_dir: default ``model_cache_dir()``. An entry that cannot be read (truncated,
    written by another version) is fitted again and replaced, with a warning.
    """
    if isinstance(model, str):
        (model,) = make_models([model])
    folder = model_cache_dir() if cache_dir is None else Path(cache_dir)
    path = folder / f"{model.name}-{cache_key(data, model)}.pickle"
    if path.is_file():
        try:
            cached = CachedModel(pickle.loads(path.read_bytes()), path, True)
            os.utime(path)  # used now: the last entry pruning would remove
            return cached
        except Exception as err:  # a pickle can fail in many ways; every one means refit
            warnings.warn(
                f"the cached model {path} could not be read ({err}); fitting it again",
                RuntimeWarning,
                stacklevel=2,
            )
    model.fit(data)
    write_atomically(path, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    prune_cache(folder, model.name)
    return CachedModel(model, path, False)


def prune_cache(folder: Path, name: str, keep: int = CACHE_ENTRIES_KEPT) -> list[Path]:
    """Remove all but the ``keep`` most recently used entries of model ``name`` in folder
    (by modification time, which reading an entry renews); returns the removed paths."""
    entries = sorted(
        folder.glob(f"{name}-*.pickle"), key=lambda entry: entry.stat().st_mtime, reverse=True
    )
    removed = entries[keep:]
    for entry in removed:
        entry.unlink(missing_ok=True)
    return removed


# ----------------------------------------------------------------------------------------
# A session whose model learns from every rating


def live_model(fitted) -> LiveModel:
    """``LiveModel(fitted)``, built on the app's engine (``APP_ENGINE``)."""
    with engine.using(APP_ENGINE):
        return LiveModel(fitted)


class LiveSession(RatingSession):
    """A new user of a ``LiveModel``: each rating is learnt at once (incremental EM), and
    Undo restores the model and the ratings exactly as they were before it.

    recommender: a ``Recommender.from_model`` over the model the LiveModel wraps (titles,
    scale, support); live: the ``LiveModel``, to which this session adds one user. Every
    call to it runs on the app's engine (``APP_ENGINE``).
    """

    def __init__(self, recommender: Recommender, live: LiveModel):
        super().__init__(recommender, max_undo=live.max_undo)  # what live can undo
        self.live = live
        self._calls: deque[int] = deque(maxlen=live.max_undo)  # live's calls made for us
        with engine.using(APP_ENGINE):
            self.user_index = live.add_user()

    def _learn(self, change: RatingChange) -> None:
        column = self.recommender.column(change.item_id)
        with engine.using(APP_ENGINE):
            self.live.rate(self.user_index, column, change.rating)
        self._calls.append(self.live.last_call)

    def _forget(self, change: RatingChange) -> None:
        if self.live.last_call != self._calls[-1]:
            raise RuntimeError(
                "undo: the live model has learnt from another caller since this rating; "
                "its undo would take back theirs, so this rating can no longer be undone here"
            )
        with engine.using(APP_ENGINE):
            self.live.undo()
        self._calls.pop()

    def user(self) -> UserFold:
        """The live model's posterior and predictions (clipped to the scale) for the user."""
        d = self.recommender.train.n_items
        with engine.using(APP_ENGINE):
            predictions = self.live.predict_user(self.user_index)
            post = np.asarray(self.live.posterior(self.user_index), dtype=np.float64)
        rated = np.zeros(d, dtype=bool)
        rated[[self.recommender.column(item_id) for item_id in self.ratings]] = True
        return UserFold(
            post, np.clip(predictions, *self.recommender.scale), np.full(d, np.nan), rated
        )


# ----------------------------------------------------------------------------------------
# The page


class RecommenderApp(Explorer):
    """The app's one panel: rate-and-recommend over a live session, styled for any page."""

    summary = "rate movies and get recommendations from a model that learns from each rating"

    def __init__(self, recommender: Recommender, live: LiveModel, citation: str = ""):
        self.session = LiveSession(recommender, live)
        self.panel = RateAndRecommend(
            recommender,
            n=APP_RECOMMENDATIONS,
            session=self.session,
            posterior_heading=APP_POSTERIOR_HEADING,
        )
        footer = widgets.HTML(
            '<div class="cfcore-app-footer">Your ratings last while this page is open; '
            "reloading it starts afresh. Predicted ratings are in stars; support is how many "
            f"training ratings stand behind a prediction. Data: MovieLens 100K. "
            f"{html.escape(citation)}</div>"
        )
        super().__init__([widgets.HTML(APP_STYLE), self.panel, footer])
        self.add_class("cfcore-app")


def recommender_app(data=None, cache_dir=None) -> RecommenderApp:
    """The app on MovieLens 100K: the cached hybrid mixture, a live model, one new user.

    data: a ``load_movielens_100k()`` result (default: loaded from $CFCORE_DATA, else
    downloaded; its licence notice goes in the page's footer instead of above the panel).
    """
    movielens = _quiet_movielens() if data is None else data
    cached = fitted_model(movielens.ratings, APP_MODEL, cache_dir)
    recommender = Recommender.from_model(movielens.ratings, cached.model, name="MovieLens 100K")
    return RecommenderApp(recommender, live_model(cached.model), movielens.citation)


def _quiet_movielens():
    """load_movielens_100k() with its licence notice kept out of the page's output."""
    from IPython.utils.capture import capture_output

    from ..data import load_movielens_100k

    with capture_output(display=True):
        return load_movielens_100k()


def main(argv=None) -> int:
    """``python -m cfcore.apps.app``: fit the app's model into the cache (or find it there)."""
    parser = argparse.ArgumentParser(
        prog="python -m cfcore.apps.app",
        description="Fit the web app's model on MovieLens 100K into the cache, ahead of "
        "the first visitor (make app runs this before it starts Voila).",
    )
    parser.add_argument(
        "--cache-dir", help=f"folder of fitted models (default: ${CACHE_ENV}, else the user cache)"
    )
    args = parser.parse_args(argv)
    from ..data import load_movielens_100k

    try:
        cached = fitted_model(load_movielens_100k().ratings, APP_MODEL, args.cache_dir)
    except (OSError, ValueError) as err:  # no data, a bad file, a cache folder not writable
        print(f"python -m cfcore.apps.app: {err}", file=sys.stderr)
        return 1
    how = "found in the cache" if cached.from_cache else "fitted and cached"
    print(f"{APP_MODEL} {how}: {cached.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
