"""The argument parser of ``python -m cfcore``: one subcommand per command module, each
bound to its handler; usage errors are one line."""

from __future__ import annotations

import argparse
import sys

from .bench import _bench
from .common import one_line
from .evaluate import _evaluate
from .recommend import RECOMMEND_MODEL, _recommend
from .reproduce import _reproduce


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line: "<prog>: <error> (see --help)", exit 2."""

    def error(self, message: str):
        print(f"{self.prog}: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def add_bad_lines_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--on-bad-lines",
        choices=["error", "skip", "warn"],
        default="error",
        help="a ratings file's bad lines (empty or non-numeric ratings, too few fields, "
        "ratings outside the scale, repeated pairs): stop at the first (error, the default), "
        "or leave them out and print a report on stderr (skip, warn)",
    )


def add_scale_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--scale",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="a ratings file's lowest and highest possible rating, e.g. --scale 1 5 "
        "(default: the file's smallest and largest rating, which a file may miss)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m cfcore",
        description=sys.modules[__package__].__doc__,  # the package's docstring
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
    from ..data import PROTOCOLS
    from ..data.registry import COLD_FRACTION, COLD_PROFILE, COLD_SEEDS

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
    from ..models import MODELS

    evaluate.add_argument(
        "--models",
        help="comma-separated model names (default: every available model): " + ", ".join(MODELS),
    )
    evaluate.add_argument(
        "--data-dir",
        help="folder of the course files (--dataset course) or of MovieLens 100K (ml-100k)",
    )
    add_bad_lines_option(evaluate)
    add_scale_option(evaluate)
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
        choices=["course", "complete", "scale", "scaling", "dask"],
        help="run this section only (repeat for several)",
    )
    bench.add_argument(
        "--no-progress", action="store_true", help="no progress bars for the long fits"
    )
    bench.set_defaults(handler=_bench)

    from ..apps.recommender_options import LONG_TAIL_SHARE, fold_in_models

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
    add_bad_lines_option(recommend)
    add_scale_option(recommend)
    recommend.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {item, title, predicted, genres} instead of a table",
    )
    recommend.set_defaults(handler=_recommend)
    return parser
