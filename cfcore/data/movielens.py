"""MovieLens 100K (GroupLens): 100,000 ratings 1-5 of 943 users on 1,682 movies.

Read from ``$CFCORE_DATA/ml-100k`` (or a folder you name), else downloaded with pooch into
the user's cache; every file is sha256-checked. The licence forbids redistribution and asks
for a citation, which the first load in a process shows."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .checksums import data_home, verified
from .items import attach_items, load_items
from .ratings import RatingsData, csr_from_indices
from .splits import Fold

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
ML100K_BYTES = 4_924_029
#: the canonical 5-fold cross-validation: u1..u5 (80/20), whose test sets partition the data
CANONICAL_FOLDS = ("u1", "u2", "u3", "u4", "u5")
#: every split the archive ships: the five folds, then ua and ub (10 test ratings per user)
ML100K_SPLITS = (*CANONICAL_FOLDS, "ua", "ub")
#: sha256 of the files the loader reads, as extracted from ml-100k.zip
ML100K_FILES = {
    "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
}
#: where pooch unpacks the archive, inside its cache folder (the zip holds ml-100k/...)
_ML100K_UNPACKED = "ml-100k.zip.unzip"
#: the data sets whose licence notice was printed in this process
_NOTICES_SHOWN: set[str] = set()


@dataclass(repr=False, eq=False)
class MovieLens100K:
    """MovieLens 100K: all ratings and the canonical train/test folds.

    ratings: 943 users x 1,682 items, 100,000 ratings 1-5, with titles, 19 genres and
        release years (from u.item's release dates; NaN for the one item without a date)
    folds: "u1".."u5", "ua", "ub" -> Fold (train, test), each with the shape, ids, titles,
        genres and years of ratings (user u and item i are the same row and column
        everywhere)
    citation: the reference the licence asks you to cite; path: the folder read
    """

    ratings: RatingsData
    folds: dict[str, Fold]
    citation: str = ""
    path: Path | None = None

    def __repr__(self) -> str:
        return f"MovieLens100K({self.ratings!r}, folds {list(self.folds)}, from {self.path})"


def _movielens_cache(cache_dir=None) -> Path:
    import pooch

    return Path(cache_dir) if cache_dir is not None else Path(pooch.os_cache("cfcore"))


def _has_movielens_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ML100K_FILES)


def movielens_100k_available(data_dir=None) -> bool:
    """Whether the extracted files are in data_dir (or $CFCORE_DATA/ml-100k): no download."""
    return any(_has_movielens_files(folder) for folder in _movielens_candidates(data_dir))


def _movielens_candidates(data_dir) -> list[Path]:
    """Folders that may hold the extracted files, in the order they are tried."""
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        return [folder, folder / "ml-100k"]
    home = data_home()
    return [] if home is None else [home / "ml-100k"]


def _where_to_put_movielens(data_dir) -> str:
    if data_dir is not None:
        place = f"{Path(data_dir).expanduser()}"
    elif data_home() is not None:
        place = f"{data_home() / 'ml-100k'} ($CFCORE_DATA/ml-100k)"
    else:
        place = "$CFCORE_DATA/ml-100k (set CFCORE_DATA to the folder that holds ml-100k/)"
    return (
        f"download {ML100K_URL} ({ML100K_BYTES:,} bytes, sha256 {ML100K_SHA256}) and unzip "
        f"it so that u.data, u.item and the other files are in {place}"
    )


def movielens_100k_dir(data_dir=None, *, download: bool = True) -> Path:
    """The folder holding the extracted MovieLens 100K files, downloading them if needed.

    Looks in data_dir (or data_dir/ml-100k) when given, else in $CFCORE_DATA/ml-100k, then
    in the download cache (pooch.os_cache("cfcore")); downloads into that cache when
    download=True and data_dir is None. Checksums are checked when the files are read.
    """
    for folder in _movielens_candidates(data_dir):
        if _has_movielens_files(folder):
            return folder
    if data_dir is not None:
        raise FileNotFoundError(
            f"MovieLens 100K is not in {Path(data_dir).expanduser()}: "
            + _where_to_put_movielens(data_dir)
        )
    unpacked = _movielens_cache() / _ML100K_UNPACKED / "ml-100k"
    if _has_movielens_files(unpacked):
        return unpacked
    if not download:
        raise FileNotFoundError(
            "MovieLens 100K was not found and download=False: " + _where_to_put_movielens(None)
        )
    return _fetch_movielens_100k()


def _fetch_movielens_100k(url: str = ML100K_URL, sha256: str = ML100K_SHA256, cache_dir=None):
    """Download the zip into the cache with pooch (checked against sha256) and unpack it.

    Returns the folder of the extracted files. url, sha256 and cache_dir are parameters so
    that tests can serve the archive from a local server.
    """
    import pooch

    cache = _movielens_cache(cache_dir)
    try:
        paths = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname="ml-100k.zip",
            path=cache,
            processor=pooch.Unzip(extract_dir=_ML100K_UNPACKED),
            progressbar=False,
        )
    except ValueError as err:  # pooch: the download's hash is not the pinned one
        raise ValueError(
            f"the download from {url} was rejected, nothing was kept: {err} Try again; if it "
            "persists, " + _where_to_put_movielens(None)
        ) from err
    except OSError as err:  # no network, refused connection, HTTP error (requests' errors)
        raise FileNotFoundError(
            f"MovieLens 100K could not be downloaded from {url} ({err}); "
            + _where_to_put_movielens(None)
        ) from err
    found = [Path(name).parent for name in paths if Path(name).name == "u.data"]
    if len(found) != 1:
        raise ValueError(f"{cache / 'ml-100k.zip'} does not hold exactly one u.data")
    return found[0]


def movielens_citation(readme: Path) -> str:
    """The paragraph after "please cite the following paper:" in the README, on one line."""
    text = Path(readme).read_text(encoding="latin-1")
    _, found, rest = text.partition("following paper:")
    paragraph = rest.strip().split("\n\n", 1)[0]
    if not found or not paragraph:
        raise ValueError(f"{readme} has no citation paragraph after 'following paper:'")
    return " ".join(paragraph.split())


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (where stderr shows as an error-like block)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _show_notice_once(dataset: str, notice: str) -> None:
    """Show notice the first time `dataset` is loaded in this process.

    In a notebook it is an ordinary output (Markdown); elsewhere it goes to stderr, so that
    what a command prints on stdout (a table, JSON) stays clean.
    """
    if dataset in _NOTICES_SHOWN:
        return
    _NOTICES_SHOWN.add(dataset)
    if _in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(f"**Licence notice.** {notice}"))
    else:
        print(notice, file=sys.stderr)


def _read_movielens_table(path: Path) -> np.ndarray:
    """(m, 3) int64 user, item, rating of a tab-separated MovieLens file (timestamps dropped)."""
    return np.loadtxt(path, dtype=np.int64, delimiter="\t", usecols=(0, 1, 2), ndmin=2)


def _row_and_column(table: np.ndarray, path: Path, user_ids, item_ids) -> list[np.ndarray]:
    """The row (user) and column (item) index of every (user, item, ...) line of table."""
    indices = []
    for column, ids, what in ((0, user_ids, "user"), (1, item_ids, "item")):
        index = np.minimum(np.searchsorted(ids, table[:, column]), ids.size - 1)
        unknown = np.flatnonzero(ids[index] != table[:, column])
        if unknown.size:
            line = int(unknown[0]) + 1
            raise ValueError(f"{path}, line {line}: unknown {what} id {table[line - 1, column]}")
        indices.append(index)
    return indices


def _movielens_ratings(table: np.ndarray, path: Path, template: RatingsData) -> RatingsData:
    """The (user, item, rating) rows of table as ratings indexed like template."""
    indices = _row_and_column(table, path, template.user_ids, template.item_ids)
    matrix = csr_from_indices(
        *indices, table[:, 2], template.shape, describe=lambda k: f"{path} line {k + 1}"
    )
    return template.with_matrix(matrix, name=f"ml-100k {path.name}")


def load_movielens_100k(data_dir=None, *, download: bool = True) -> MovieLens100K:
    """MovieLens 100K with titles, genres, years and the canonical folds, files sha256-checked.

    data_dir: the folder of the extracted files (u.data, u.item, ...) or its parent;
    default $CFCORE_DATA/ml-100k, then the download cache, then a download with pooch of
    ML100K_URL into pooch.os_cache("cfcore") when download=True. Without network and
    without the files, the error says where to put them. The licence forbids
    redistribution; the first load in a process prints the citation it asks for (stderr).
    """
    folder = movielens_100k_dir(data_dir, download=download)
    for name, digest in ML100K_FILES.items():
        verified(folder / name, digest)
    items = load_items(folder / "u.item", "ml-100k")  # genre names from u.genre beside it
    item_ids = np.sort(items.item_ids)  # in increasing order, as np.unique gives user ids
    table = _read_movielens_table(folder / "u.data")
    user_ids = np.unique(table[:, 0])
    empty = sp.csr_matrix((user_ids.size, item_ids.size))
    bare = RatingsData(empty, user_ids, item_ids, (1.0, 5.0), name="ml-100k")
    template = attach_items(bare, items)
    ratings = template.with_matrix(_movielens_ratings(table, folder / "u.data", template).matrix)
    folds = {
        fold: Fold(
            fold,
            *(
                _movielens_ratings(_read_movielens_table(path), path, template)
                for path in (folder / f"{fold}.base", folder / f"{fold}.test")
            ),
        )
        for fold in ML100K_SPLITS
    }
    citation = movielens_citation(folder / "README")
    _show_notice_once("ml-100k", _licence_notice(citation))
    return MovieLens100K(ratings, folds, citation=citation, path=folder)


def _licence_notice(citation: str) -> str:
    return (
        "MovieLens 100K, GroupLens Research, University of Minnesota: research use only, not "
        f"for redistribution. Publications using it must cite: {citation}"
    )


class RatingStream(NamedTuple):
    """Ratings in the order they were given: four (m,) arrays, rows[t] rated cols[t] values[t]
    at timestamps[t] (seconds since 1970, non-decreasing)."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray


def movielens_100k_stream(data_dir=None, *, download: bool = True) -> RatingStream:
    """MovieLens 100K's 100,000 ratings in time order, with their timestamps (u.data's fourth
    column, which ``load_movielens_100k`` drops).

    rows and cols are the row and column indices of ``load_movielens_100k().ratings`` (users
    and items by increasing id), so the stream's first k ratings are a matrix of its shape.
    Ratings given in the same second (half of them share a timestamp with another) are in
    the order of row, then column. data_dir and download as ``load_movielens_100k``; u.data,
    u.item and README are sha256-checked, and the first load shows the licence's citation.
    """
    folder = movielens_100k_dir(data_dir, download=download)
    for name in ("README", "u.data", "u.item"):
        verified(folder / name, ML100K_FILES[name])
    path = folder / "u.data"
    item_ids = np.sort(load_items(folder / "u.item", "ml-100k").item_ids)
    table = np.loadtxt(path, dtype=np.int64, delimiter="\t", ndmin=2)
    rows, cols = _row_and_column(table, path, np.unique(table[:, 0]), item_ids)
    order = np.lexsort((cols, rows, table[:, 3]))
    _show_notice_once("ml-100k", _licence_notice(movielens_citation(folder / "README")))
    return RatingStream(
        rows[order].astype(np.intp),
        cols[order].astype(np.intp),
        table[order, 2].astype(np.float64),
        table[order, 3],
    )
