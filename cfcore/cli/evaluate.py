"""``python -m cfcore evaluate``: held-out RMSE per fold; the folds loaded by --protocol,
warnings for cold folds, and the models that would not fit in the available memory left
out before fitting."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import as_cli_advice, names_option, one_line, say

#: a warning when more than this share of a fold's test users (or items) is cold
COLD_SHARE = 0.5


def _load_folds(args: argparse.Namespace):
    """The folds of --dataset by --protocol (--folds picks among them by name), with the
    file's path in every message about the file."""
    from ..data import load_folds
    from ..data.registry import DATASETS

    folds = names_option(args.folds, "--folds", "f1,f2")
    options = {} if args.on_bad_lines == "error" else {"on_bad_lines": args.on_bad_lines}
    if args.protocol != "folds":
        options["protocol"] = args.protocol
    if args.scale is not None:
        if args.dataset in DATASETS:
            raise ValueError(f"--scale: {args.dataset} declares its own scale; give it for a file")
        options["scale"] = tuple(args.scale)
    try:
        return load_folds(args.dataset, folds, args.data_dir, **options)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        message = as_cli_advice(one_line(err))
        if Path(args.dataset).is_file() and args.dataset not in message:
            message = f"{args.dataset}: {message}"
        raise ValueError(message) from None


def _cold_warnings(folds, protocol: str = "folds") -> list[str]:
    """One warning per side when most of some fold's test users or items have no training
    ratings: their predictions are a model's fallback, not what it learnt. The side a cold
    protocol makes cold on purpose (items under cold-items) gets none."""
    import numpy as np

    warnings = []
    for side in ("users", "items"):
        if protocol == f"cold-{side}":
            continue
        worst = []
        for fold in folds:
            train, test_index = fold.train.matrix, fold.rows if side == "users" else fold.cols
            if side == "users":
                counts = np.diff(train.indptr)
            else:
                counts = np.bincount(train.indices, minlength=train.shape[1])
            tested = np.unique(test_index)
            cold = int((counts[tested] == 0).sum())
            if tested.size and cold / tested.size > COLD_SHARE:
                worst.append(f"{fold.name} {cold} of {tested.size}")
        if worst:
            warnings.append(
                f"warning: most test {side} have no training ratings (cold) in fold(s) "
                f"{', '.join(worst)}; their predictions are the models' fallbacks (global or "
                "item means), so the scores say little about the models"
            )
    return warnings


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes; None where it cannot be read."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_estimate(model, n_users: int, n_items: int, n_ratings: int) -> tuple[int, str]:
    """(bytes, how) a model needs at its peak to fit one fold, roughly.

    Surprise's KNNBaseline builds an n x n float64 similarity over users (or items) and work
    arrays of the same size (about 3 x 8 n^2 bytes in all); the mixtures hold K x (users +
    items) float64 numbers per seed and K fitted (the posterior and the means), plus copies
    of the ratings; the baselines a few vectors. Every model also holds the ratings.
    """
    ratings = 3 * 16 * n_ratings  # CSR copies: training matrix, its blocks, a transpose
    name = getattr(model, "name", "")
    if name == "surprise-knnbaseline":
        params = getattr(model, "params", {}).get("sim_options", {})
        n = n_users if params.get("user_based", True) else n_items
        return ratings + 3 * 8 * n * n, f"3 x 8 x {n:,}^2 bytes for the similarity"
    Ks = getattr(model, "Ks", None) or [getattr(model, "K", 0)]
    seeds = len(tuple(getattr(model, "seeds", ()))) or 1
    if max(Ks) > 0:
        sides = len(getattr(model, "sides", ("users",)))
        per_fit = 8 * (n_users + n_items) * sides
        if hasattr(model, "Ks"):  # select_k keeps one fit per K, each from the best seed
            total = sum(Ks) * per_fit * 3
        else:  # one fit per seed is kept
            total = max(Ks) * per_fit * seeds * 2
        return ratings + total, f"K x (users + items) x 8 bytes over {seeds} seeds"
    return ratings + 8 * 4 * (n_users + n_items), "a few vectors"


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def _fits_in_memory(models, folds) -> tuple[list, list[str]]:
    """(models that fit in the available memory, one refusal line per model that does not)."""
    free = available_memory()
    if free is None:
        return list(models), []
    n_users, n_items = folds[0].train.shape
    n_ratings = max(fold.train.n_ratings for fold in folds)
    kept, refused = [], []
    for model in models:
        need, how = memory_estimate(model, n_users, n_items, n_ratings)
        if need <= free:
            kept.append(model)
            continue
        others = [m.name for m in models if m is not model]
        skip = f"--models {','.join(others)}" if others else "another --models"
        refused.append(
            f"{model.name} would need about {_gigabytes(need)} ({how}) but "
            f"{_gigabytes(free)} are available; left out (run with {skip} to skip it)"
        )
    return kept, refused


def _evaluate_each(models, folds, progress: bool):
    """(results, one line per model that failed); a failing model does not stop the rest."""
    from ..evaluation import evaluate

    results, failures = [], []
    for model in models:
        try:
            results += evaluate([model], folds, progress=progress)
        except (ValueError, FloatingPointError, MemoryError, TypeError, RuntimeError) as err:
            failures.append(f"{getattr(model, 'name', model)} failed: {one_line(err)}")
    return results, failures


def _evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import as_records, format_table
    from ..models import MODELS, make_models

    names = names_option(
        args.models, "--models", "global-mean,biases (choose from " + ", ".join(MODELS) + ")"
    )
    models = make_models(names)
    folds = _load_folds(args)
    report = getattr(folds[0].train, "load_report", None)
    warned = args.on_bad_lines == "warn" and report is not None and report.n_skipped
    if report is not None and not warned:  # warn has printed it already, as its warning
        say("evaluate", str(report))
    for warning in _cold_warnings(folds, args.protocol):
        say("evaluate", warning)
    models, refused = _fits_in_memory(models, folds)
    for line in refused:
        say("evaluate", line)
    results, failures = _evaluate_each(models, folds, args.progress)
    for line in failures:
        say("evaluate", line)
    if results:
        print(json.dumps(as_records(results), indent=2) if args.json else format_table(results))
    return 1 if refused or failures else 0
