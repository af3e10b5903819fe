"""``python -m cfcore recommend``: a new user's top-n from a few --rate options, folded into
a model fitted on every rating."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import as_cli_advice, one_line, say

#: the model ``recommend`` folds a new user into unless --model names another: the hybrid,
#: which uses the item file's genres and years (without them it is the residual mixture)
RECOMMEND_MODEL = "hybrid-mixture"


def _recommend_model(name: str) -> str:
    """--model, checked before anything is loaded: a registered model that has fold_in."""
    from ..apps.recommender_options import fold_in_models
    from ..models import MODELS

    capable = fold_in_models()
    if name in capable:
        return name
    why = "cannot fold in a new user (it has no fold_in)" if name in MODELS else "is not a model"
    raise ValueError(f"--model {name} {why}; choose one of {', '.join(capable)}")


def _read_file(path: str, option: str, loader):
    """loader(path), with the option and the path in every message about the file."""
    if not Path(path).is_file():
        why = "is a folder, not a file" if Path(path).is_dir() else "no such file"
        raise FileNotFoundError(f"{option} {path}: {why}")
    try:
        return loader(path)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        message = as_cli_advice(one_line(err))
        raise ValueError(message if path in message else f"{option} {path}: {message}") from None


def _recommend_ratings(args: argparse.Namespace):
    """--ratings (ml-100k, or a ratings file), with the titles and genres of --items."""
    from ..data import attach_items, load_items, load_movielens_100k, load_ratings

    if args.ratings == "ml-100k":
        if args.scale is not None:
            raise ValueError("--scale: ml-100k declares its own scale (1-5); give it for a file")
        ratings = load_movielens_100k().ratings
    else:
        options = {"on_bad_lines": args.on_bad_lines}
        if args.scale is not None:
            options["scale"] = tuple(args.scale)
        ratings = _read_file(args.ratings, "--ratings", lambda p: load_ratings(p, **options))
        if ratings.load_report is not None and ratings.load_report.n_skipped:
            if args.on_bad_lines == "skip":  # warn has printed it already, as its warning
                say("recommend", str(ratings.load_report))
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
    from ..apps.catalogue import ItemCatalogue
    from ..apps.recommender import fit_recommender
    from ..apps.recommender_output import format_top_n, top_n_records

    model = _recommend_model(args.model)
    if args.n < 1:
        raise ValueError(f"-n must be a positive number of recommendations, got {args.n}")
    rates = {text: _parse_rate(text) for text in args.rate}  # before the data is read
    ratings = _recommend_ratings(args)
    user = _new_user(rates, ItemCatalogue(ratings), ratings.scale)
    try:
        recommender = fit_recommender(ratings, model)
    except ValueError as err:  # a file too small for the model's K: name the model that fits
        message = as_cli_advice(one_line(err))
        raise ValueError(
            message.replace("lower K", "--model course-em chooses K among those the data allows")
        ) from None
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
