"""Command line.

``python -m cfcore reproduce [--data-dir DIR] [--json]``
``python -m cfcore evaluate --dataset ml-100k|course|PATH [--protocol folds|cold-items|cold-users]
[--folds u1,u2] [--models a,b] [--on-bad-lines error|skip|warn] [--json]``: held-out RMSE
per fold, and by the number of training ratings of the test pair's item and user.
``python -m cfcore bench [--json] [--quick] [--only SECTION ...] [--no-progress]``
``python -m cfcore recommend --ratings ml-100k|PATH [--items PATH] --rate "TITLE=RATING" ...
[--model NAME] [-n 10] [--json]``: a new user's top-n, folded into a model fitted on every
rating (a title or item id the data does not know exits 2, naming close titles).

``evaluate --protocol`` says what each fold holds out: ``folds`` (the default) the data set's
own folds (ml-100k: u1..u5; course: the entries missing from netflix_incomplete; a file:
5 seeded folds f1..f5 within users); ``cold-items`` every rating of a seeded 10% of the
items (folds cold-items-0..4, seeds 0..4); ``cold-users`` all but 5 seeded ratings of a
seeded 10% of the users who have more than 5 (folds cold-users-0..4). ``--folds`` picks
among the chosen protocol's folds by name.

Every failure is one line on stderr, "cfcore <command>: <what went wrong and what to do>",
and a non-zero exit: 2 for input that cannot be used (a missing or unreadable file, an
unknown model, bad options), 1 when a computation failed or, for ``evaluate``, when some
models were left out (refused for memory, or failed to fit) while the others ran.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

#: what the CLI turns into one line on stderr instead of a traceback
HANDLED = (
    ValueError,
    TypeError,
    FileNotFoundError,
    ImportError,
    FloatingPointError,
    MemoryError,
    OSError,
    RuntimeError,
)
#: a warning when more than this share of a fold's test users (or items) is cold
COLD_SHARE = 0.5


def one_line(error: BaseException | str) -> str:
    """An error message on one line (newlines and runs of spaces become one space)."""
    text = " ".join(str(error).split())
    if isinstance(error, BaseException) and not text:
        text = type(error).__name__
    return text


def say(command: str, message: BaseException | str) -> None:
    print(f"cfcore {command}: {one_line(message)}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- reproduce


def _missing_course_files(data_dir) -> str | None:
    """None when every course file is there, else one sentence naming what is missing."""
    from .data import course_dir
    from .data.course import COURSE_FILES

    try:
        folder = course_dir(data_dir)
    except FileNotFoundError:
        return (
            "the course files are not in $CFCORE_DATA/netflix (CFCORE_DATA is not set); set it "
            "to the folder that holds netflix/, or name the files' folder with --data-dir"
        )
    files = [f"{name}.txt" for name in COURSE_FILES]
    if not folder.is_dir():
        return (
            f"the course files are not in {folder} (no such folder); put {', '.join(files)} "
            "there, or name their folder with --data-dir"
        )
    missing = [name for name in files if not (folder / name).is_file()]
    if not missing:
        return None
    if len(missing) == len(files):
        return (
            f"the course files are not in {folder}: put {', '.join(files)} there, or name "
            "their folder with --data-dir"
        )
    return (
        f"{', '.join(str(folder / name) for name in missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing; put the course's "
        f"{' and '.join(missing)} in {folder} (the other course files are there)"
    )


def _reproduce(args: argparse.Namespace) -> int:
    from .evaluation.reproduce import as_records, format_table, reproduce

    missing = _missing_course_files(args.data_dir)
    if missing:
        say("reproduce", missing)
        return 2
    rows = reproduce(args.data_dir)
    if args.json:
        print(json.dumps(as_records(rows), indent=2))
    else:
        print(format_table(rows))
    return 0 if all(row.matches is not False for row in rows) else 1


# ---------------------------------------------------------------------------- evaluate


def _names(text: str | None, option: str, example: str) -> list[str] | None:
    """Comma-separated names; None when the option was not given; empty is an error."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError(f"{option} names no {option[2:-1]}; pass e.g. {option} {example}")
    return names


def _load_folds(args: argparse.Namespace):
    """The folds of --dataset by --protocol (--folds picks among them by name), with the
    file's path in every message about the file."""
    from .data import load_folds

    folds = _names(args.folds, "--folds", "f1,f2")
    options = {} if args.on_bad_lines == "error" else {"on_bad_lines": args.on_bad_lines}
    if args.protocol != "folds":
        options["protocol"] = args.protocol
    try:
        return load_folds(args.dataset, folds, args.data_dir, **options)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        message = _as_cli_advice(one_line(err))
        if Path(args.dataset).is_file() and args.dataset not in message:
            message = f"{args.dataset}: {message}"
        raise ValueError(message) from None


def _as_cli_advice(message: str) -> str:
    """The loader's advice in the CLI's terms: its option, and no Python keyword it lacks."""
    message = re.sub(r"on_bad_lines=['\"](\w+)['\"]", r"--on-bad-lines \1", message)
    return re.sub(
        r"pass encoding=.*$",
        "convert the file to UTF-8 first (e.g. iconv -f latin1 -t utf-8), or read it with "
        "cfcore.data.load_ratings(path, encoding=...)",
        message,
    )


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
    from .evaluation import evaluate

    results, failures = [], []
    for model in models:
        try:
            results += evaluate([model], folds, progress=progress)
        except (ValueError, FloatingPointError, MemoryError, TypeError, RuntimeError) as err:
            failures.append(f"{getattr(model, 'name', model)} failed: {one_line(err)}")
    return results, failures


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation import as_records, format_table
    from .models import MODELS, make_models

    names = _names(
        args.models, "--models", "global-mean,biases (choose from " + ", ".join(MODELS) + ")"
    )
    models = make_models(names)
    folds = _load_folds(args)
    report = getattr(folds[0].train, "load_report", None)
    if report is not None:
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


# ---------------------------------------------------------------------------- bench


def _bench(args: argparse.Namespace) -> int:
    from .bench import SECTIONS, format_report, run

    results = run(args.quick, args.only or SECTIONS, progress=not args.no_progress)
    print(json.dumps(results, indent=2) if args.json else format_report(results))
    failed = [name for name in SECTIONS if "error" in (results.get(name) or {})]
    return 1 if failed else 0


# ---------------------------------------------------------------------------- recommend

#: the model ``recommend`` folds a new user into unless --model names another: the hybrid,
#: which uses the item file's genres and years (without them it is the residual mixture)
RECOMMEND_MODEL = "hybrid-mixture"


def _recommend_model(name: str) -> str:
    """--model, checked before anything is loaded: a registered model that has fold_in."""
    from .apps.recommender import fold_in_models
    from .models import MODELS

    capable = fold_in_models()
    if name in capable:
        return name
    why = "cannot fold in a new user (it has no fold_in)" if name in MODELS else "is not a model"
    raise ValueError(f"--model {name} {why}; choose one of {', '.join(capable)}")


def _read_file(path: str, option: str, loader):
    """loader(path), with the option and the path in every message about the file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{option} {path}: no such file")
    try:
        return loader(path)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        message = one_line(err)
        raise ValueError(message if path in message else f"{option} {path}: {message}") from None


def _recommend_ratings(args: argparse.Namespace):
    """--ratings (ml-100k, or a ratings file), with the titles and genres of --items."""
    from .data import attach_items, load_items, load_movielens_100k, load_ratings

    if args.ratings == "ml-100k":
        ratings = load_movielens_100k().ratings
    else:
        ratings = _read_file(args.ratings, "--ratings", load_ratings)
    if args.items is not None:
        ratings = attach_items(ratings, _read_file(args.items, "--items", load_items))
    return ratings


def _parse_rate(text: str) -> tuple[str, float]:
    """One --rate, "TITLE=RATING" or "ITEMID=RATING", as (title or id, rating)."""
    name, equals, value = text.rpartition("=")
    name, value = name.strip(), value.strip()
    if not equals or not name or not value:
        raise ValueError(
            f'--rate {text!r}: write TITLE=RATING or ITEMID=RATING, e.g. --rate "Toy Story=5"'
        )
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f"--rate {text!r}: the rating {value!r} is not a number") from None


def _new_user(rates: dict[str, tuple[str, float]], items, scale: tuple[float, float]) -> dict:
    """{item id: rating} from the parsed --rate options, titles matched, ratings checked.

    rates: {option text: (title or id, rating)}; items: an ``ItemCatalogue`` (its ``find``
    matches a title or an id, or says which titles are close); scale: (low, high).
    """
    low, high = scale
    user = {}
    for text, (name, rating) in rates.items():
        if not low <= rating <= high:  # NaN included
            raise ValueError(
                f"--rate {text!r}: {rating:g} is outside the ratings' scale {low:g}-{high:g}"
            )
        try:
            item = items.find(name)
        except ValueError as err:
            raise ValueError(f"--rate {text!r}: {one_line(err)}") from None
        if item in user:
            raise ValueError(f"--rate {text!r}: {items.title(item)} is rated twice; rate it once")
        user[item] = rating
    return user


def _recommend(args: argparse.Namespace) -> int:
    from .apps.catalogue import ItemCatalogue
    from .apps.recommender import fit_recommender, format_top_n, top_n_records

    model = _recommend_model(args.model)
    if args.n < 1:
        raise ValueError(f"-n must be a positive number of recommendations, got {args.n}")
    rates = {text: _parse_rate(text) for text in args.rate}  # before the data is read
    ratings = _recommend_ratings(args)
    user = _new_user(rates, ItemCatalogue(ratings), ratings.scale)
    recommender = fit_recommender(ratings, model)
    recommendations = recommender.top_n(user, args.n)
    if not recommendations:
        say("recommend", "every item is rated or has too few ratings: nothing left to recommend")
    if args.json:
        print(json.dumps(top_n_records(recommendations), indent=2))
        return 0
    print(
        f"{model} fitted on {ratings.name or args.ratings} ({ratings.n_users:,} users x "
        f"{ratings.n_items:,} items); {len(user)} rating(s) folded in; top {len(recommendations)}"
        f" of the items with >= {recommender.min_support:g} ratings"
    )
    print(format_top_n(recommendations))
    return 0


# ---------------------------------------------------------------------------- parser


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line: "<prog>: <error> (see --help)", exit 2."""

    def error(self, message: str):
        print(f"{self.prog}: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m cfcore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    reproduce = commands.add_parser(
        "reproduce", help="recompute the course's k-means, EM and Netflix results"
    )
    reproduce.add_argument(
        "--data-dir", help="folder of the course files (default $CFCORE_DATA/netflix)"
    )
    reproduce.add_argument("--json", action="store_true", help="print JSON instead of a table")
    reproduce.set_defaults(handler=_reproduce)

    evaluate = commands.add_parser(
        "evaluate",
        help="held-out RMSE of every model beside the baselines, per fold",
        description=(
            "Fit every model on each fold's training ratings and score it on the test ratings. "
            "Before fitting, each model's peak memory is estimated (e.g. surprise-knnbaseline: "
            "an n_users x n_users float64 similarity); a model whose estimate exceeds the "
            "available memory (MemAvailable in /proc/meminfo) is left out with one line on "
            "stderr, and so is a model that fails to fit; the others still run and the exit "
            "status is then 1. A warning goes to stderr when most of a fold's test users or "
            "items have no training ratings (cold), except for the items under --protocol "
            "cold-items, which holds them out on purpose. Besides the RMSE per fold, the "
            "table and the JSON give the RMSE by the number of training ratings of the test "
            "pair's item (0, 1-5, 6-20, >20), and of its user, pooled over the folds."
        ),
    )
    evaluate.add_argument(
        "--dataset",
        required=True,
        help="ml-100k (folds u1..u5), course (the entries missing from netflix_incomplete) "
        "or the path of a ratings file (seeded 5-fold split f1..f5)",
    )
    from .data import PROTOCOLS
    from .data.registry import COLD_FRACTION, COLD_PROFILE, COLD_SEEDS

    share = f"{100 * COLD_FRACTION:g}%%"  # argparse prints %% as %
    seeds = f"{COLD_SEEDS[0]}..{COLD_SEEDS[-1]}"
    evaluate.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="folds",
        help=f"what each fold holds out: folds (the default) the data set's own folds, as "
        f"--dataset says; cold-items every rating of a seeded {share} of the items (folds "
        f"cold-items-{seeds}, one per seed), so the models meet those items with no training "
        f"rating; cold-users all but {COLD_PROFILE} seeded ratings (their profile) of a seeded "
        f"{share} of the users who have more than {COLD_PROFILE} (folds cold-users-{seeds})",
    )
    evaluate.add_argument(
        "--folds",
        help="comma-separated names of the protocol's folds to run (default: all), e.g. "
        "u1,u2 (ml-100k), f1 (a file) or cold-items-0,cold-items-1",
    )
    from .models import MODELS

    evaluate.add_argument(
        "--models",
        help="comma-separated model names (default: every available model): " + ", ".join(MODELS),
    )
    evaluate.add_argument(
        "--data-dir",
        help="folder of the course files (--dataset course) or of MovieLens 100K (ml-100k)",
    )
    evaluate.add_argument(
        "--on-bad-lines",
        choices=["error", "skip", "warn"],
        default="error",
        help="a ratings file's bad lines (empty or non-numeric ratings, too few fields, "
        "ratings outside the scale, repeated pairs): stop at the first (error, the default), "
        "or leave them out and print a report on stderr (skip, warn)",
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument(
        "--progress", action="store_true", help="report each model on stderr as it finishes"
    )
    evaluate.set_defaults(handler=_evaluate)

    bench = commands.add_parser(
        "bench",
        help="time cfcore side by side with a loop version, scikit-learn, and at scale",
    )
    bench.add_argument("--json", action="store_true", help="print JSON instead of text")
    bench.add_argument(
        "--quick", action="store_true", help="small sizes: check that every section runs"
    )
    bench.add_argument(
        "--only",
        action="append",
        choices=["course", "complete", "scale", "scaling"],
        help="run this section only (repeat for several)",
    )
    bench.add_argument(
        "--no-progress", action="store_true", help="no progress bars for the long fits"
    )
    bench.set_defaults(handler=_bench)

    from .apps.recommender import LONG_TAIL_SHARE, fold_in_models

    recommend = commands.add_parser(
        "recommend",
        help="recommendations for a new user from a few ratings, without Jupyter",
        description=(
            "Fit --model on every rating of --ratings, fold in a new user who gave the --rate "
            "ratings (no refit), and print the items they have not rated with the highest "
            "predicted rating. Items are left out when their training ratings are the long "
            f"tail: the least-rated items that together hold {100 * LONG_TAIL_SHARE:g}% of "
            "the ratings (cfcore.apps.recommender.auto_min_support)."
        ),
    )
    recommend.add_argument(
        "--ratings",
        required=True,
        help="ml-100k (MovieLens 100K, from $CFCORE_DATA/ml-100k) or the path of a ratings "
        "file (user, item, rating lines, as cfcore.data.load_ratings reads them)",
    )
    recommend.add_argument(
        "--items",
        help="an item file giving titles and genres by item id: u.item, MovieLens 1M's or "
        "MovieTweetings' movies.dat, movies.csv (without it, an item's title is its id)",
    )
    recommend.add_argument(
        "--rate",
        action="append",
        required=True,
        metavar="TITLE=RATING",
        help='one rating of the new user, e.g. --rate "Toy Story=5" or --rate 50=4 (an item '
        "id); repeat for each. A title matches case-insensitively: the exact title, else "
        'without its "(year)", else a part of one title only',
    )
    recommend.add_argument(
        "--model",
        default=RECOMMEND_MODEL,
        help=f"the model to fit (default {RECOMMEND_MODEL}): " + ", ".join(fold_in_models()),
    )
    recommend.add_argument(
        "-n", type=int, default=10, help="how many recommendations to print (default 10)"
    )
    recommend.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {item, title, predicted, genres} instead of a table",
    )
    recommend.set_defaults(handler=_recommend)
    return parser


def _warnings_as_lines(command: str):
    """showwarning that prints "cfcore <command>: warning: <message>" on one line."""

    def show(message, category, filename, lineno, file=None, line=None):
        say(command, f"warning: {message}")

    return show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warnings_as_lines(args.command)
            return args.handler(args)
    except (FloatingPointError, MemoryError) as err:
        say(args.command, err)
        return 1
    except HANDLED as err:
        say(args.command, err)
        return 2
    except KeyboardInterrupt:
        say(args.command, "interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
