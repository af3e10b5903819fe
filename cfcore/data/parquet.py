"""Ratings as a Parquet dataset partitioned by user: written and read a partition at a time.

A dataset is a folder:

    cfcore.json               what it holds: n_users, n_items, scale, dtype, name, and per
                              partition its file, first user, number of users and of ratings
    part-00000.parquet, ...   one file per partition of consecutive users (rows of the
                              matrix): columns user (row index), item (column index) and
                              rating, sorted by user then item
    users.parquet, items.parquet   the original user and item ids (absent when 0..n-1)

``write_parquet`` writes it from a ``RatingsData`` or from a stream of CSR blocks of users
(``planted_blocks``: the matrix of ``make_ratings`` at any size, never held whole), a
partition at a time; cfcore.json is written last, so a folder without it is a dataset whose
writing did not finish. ``read_partition(path, k)`` reads partition k back as a CSR block,
``read_metadata`` the description, ``read_ratings`` the whole matrix (small data only).
``cfcore.models.distributed`` fits EM on a Dask cluster from such a folder. Needs pyarrow
(``pip install -e '.[dask]'``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._validation import canonical_csr, check_count, check_scale
from ..engine.sparse import csr_rows, stored_rows
from .planted_stream import BlockStream
from .ratings import RatingsData, csr_from_indices, index_dtype

#: the file that describes a dataset (written last: without it the writing did not finish)
METADATA_FILE = "cfcore.json"
#: what cfcore.json says it is, and the version of its layout
FORMAT, FORMAT_VERSION = "cfcore ratings, partitioned by user", 1
#: users per partition unless told: 10 partitions (about 10M ratings each) at Netflix size
USERS_PER_PARTITION = 50_000
#: ratings per Parquet row group
ROW_GROUP = 1 << 20
_COLUMNS = ("user", "item", "rating")
_IDS = {"users": "users.parquet", "items": "items.parquet"}


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the dask extra installs it
        raise ImportError(
            "Parquet ratings need pyarrow: pip install -e '.[dask]' (or pip install pyarrow)"
        ) from None
    return pa, pq


@dataclass(frozen=True, eq=False)
class ParquetRatings:
    """What cfcore.json says a Parquet ratings dataset holds (``read_metadata``).

    starts: (P + 1,) the first user of every partition, then n_users; ratings: (P,) the
    ratings of every partition; files: the P partition files, relative to path.
    """

    path: Path
    n_users: int
    n_items: int
    scale: tuple[float, float]
    dtype: np.dtype
    name: str
    starts: np.ndarray
    ratings: np.ndarray
    files: tuple[str, ...]

    @property
    def n_partitions(self) -> int:
        return len(self.files)

    @property
    def n_ratings(self) -> int:
        return int(self.ratings.sum())

    def __repr__(self) -> str:
        return (
            f"ParquetRatings({str(self.path)!r}: {self.n_users:,} users x {self.n_items:,} "
            f"items, {self.n_ratings:,} ratings in {self.n_partitions} partitions)"
        )


def write_parquet(
    source,
    path,
    *,
    users_per_partition: int = USERS_PER_PARTITION,
    scale=None,
    name: str | None = None,
    overwrite: bool = False,
) -> ParquetRatings:
    """Write ratings as a Parquet dataset partitioned by user, one partition at a time.

    source: a ``RatingsData`` (its matrix is written a partition of rows at a time, with its
        ids), a ``BlockStream`` (e.g. ``planted_blocks``: blocks are read as they come, so
        memory is one partition, never the matrix), or an iterable of CSR blocks of
        consecutive users (then pass scale).
    path: the dataset's folder (created; an existing one that is not empty is refused
        unless overwrite=True, which replaces a cfcore dataset's files and leaves other
        files; a folder with files but no cfcore.json is refused even then).
    users_per_partition: consecutive users per partition file (the last holds the rest);
        a Dask worker holds whole partitions, so more partitions than workers balance them.
    Returns the ``read_metadata`` of what was written. A write that fails (a block off the
    scale, say) removes what it had written, and the folder if it made it.
    """
    pa, pq = _pyarrow()
    users_per_partition = check_count(users_per_partition, "users_per_partition")
    blocks, n_items, scale, name, ids = _blocks_of(source, users_per_partition, scale, name)
    created = not Path(path).exists()
    folder = _empty_folder(path, overwrite)
    try:
        return _write_dataset(
            pa, pq, folder, blocks, n_items, scale, name, ids, users_per_partition
        )
    except BaseException:  # a failed write leaves nothing of its own behind, so it can be retried
        for file in _dataset_files(folder):
            file.unlink(missing_ok=True)
        (folder / (METADATA_FILE + ".tmp")).unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _write_dataset(pa, pq, folder, blocks, n_items, scale, name, ids, users_per_partition):
    """``write_parquet``'s partitions, ids and cfcore.json into an empty folder."""
    low, high = scale
    partitions, dtype, first = [], None, 0
    for part in _partitions(blocks, n_items, users_per_partition):
        if dtype is None:
            dtype, n_items = part.dtype, part.shape[1]
        part = part.astype(dtype, copy=False)  # one dtype for every partition
        if part.nnz and (part.data.min() < low or part.data.max() > high):
            raise ValueError(
                f"source: users {first}-{first + part.shape[0] - 1} hold ratings from "
                f"{part.data.min():g} to {part.data.max():g}, outside the scale {scale}; "
                "pass the scale the ratings are on"
            )
        file = f"part-{len(partitions):05d}.parquet"
        _write_partition(pa, pq, folder / file, part, first)
        partitions.append(
            {"file": file, "first_user": first, "n_users": part.shape[0], "n_ratings": part.nnz}
        )
        first += part.shape[0]
    if not partitions:
        raise ValueError("source holds no users: nothing to write")
    if ids is not None:
        for kind, values in zip(("users", "items"), ids, strict=True):
            pq.write_table(pa.table({"id": _id_array(pa, values)}), folder / _IDS[kind])
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "n_users": first,
        "n_items": n_items,
        "n_ratings": sum(p["n_ratings"] for p in partitions),
        "scale": [float(low), float(high)],
        "dtype": np.dtype(dtype).name,
        "name": name,
        "ids": ids is not None,
        "partitions": partitions,
    }
    written = folder / (METADATA_FILE + ".tmp")
    written.write_text(json.dumps(metadata, indent=1))
    os.replace(written, folder / METADATA_FILE)  # the dataset is complete from here on
    return read_metadata(folder)


def _blocks_of(source, users_per_partition, scale, name):
    """(blocks, n_items, scale, name, ids or None) of write_parquet's source."""
    if isinstance(source, RatingsData):
        X = source.matrix
        blocks = (
            csr_rows(X, start, min(start + users_per_partition, X.shape[0]))
            for start in range(0, X.shape[0], users_per_partition)
        )
        default_ids = all(
            np.issubdtype(ids.dtype, np.integer) and np.array_equal(ids, np.arange(ids.size))
            for ids in (source.user_ids, source.item_ids)
        )
        ids = None if default_ids else (source.user_ids, source.item_ids)
        scale = source.scale if scale is None else check_scale(scale)
        return blocks, source.n_items, scale, source.name if name is None else name, ids
    if isinstance(source, BlockStream):
        scale = source.scale if scale is None else scale
        name = source.name if name is None else name
        n_items, source = check_count(source.n_items, "n_items"), source.blocks
    elif sp.issparse(source) or isinstance(source, np.ndarray) or not isinstance(source, Iterable):
        raise TypeError(
            "source must be a RatingsData, a BlockStream (e.g. cfcore.data.planted_blocks) or "
            f"an iterable of CSR blocks of consecutive users, got {type(source).__name__}; "
            "wrap a matrix with RatingsData.from_csr"
        )
    else:
        n_items = None
    if scale is None:
        raise ValueError("scale: pass the (lowest, highest) rating of a stream of CSR blocks")
    return source, n_items, check_scale(scale), name or "", None


def _partitions(blocks, n_items, users: int) -> Iterator[sp.csr_matrix]:
    """The blocks regrouped into CSR partitions of ``users`` consecutive users (the last
    holds the rest), holding at most one partition and one block at a time."""
    pending, held = [], 0
    for position, block in enumerate(blocks):
        block = canonical_csr(block, f"source block {position}")
        if n_items is None:
            n_items = block.shape[1]
        if block.shape[1] != n_items:
            raise ValueError(
                f"source block {position} has {block.shape[1]} items (columns), the others "
                f"{n_items}; every block must cover every item"
            )
        pending.append(block)
        held += block.shape[0]
        while held >= users:
            part, pending = _split(pending, users)
            held -= users
            yield part
    if held:
        yield _split(pending, held)[0]


def _split(blocks: list, users: int) -> tuple[sp.csr_matrix, list]:
    """(the first ``users`` rows of the blocks as one CSR matrix, the blocks of the rest)."""
    taken, rest, count = [], [], 0
    for block in blocks:
        if count >= users:
            rest.append(block)
            continue
        take = min(block.shape[0], users - count)
        taken.append(csr_rows(block, 0, take))
        if take < block.shape[0]:
            rest.append(csr_rows(block, take, block.shape[0]))
        count += take
    part = taken[0] if len(taken) == 1 else sp.vstack(taken, format="csr")
    return sp.csr_matrix(part), rest


def _write_partition(pa, pq, file: Path, part: sp.csr_matrix, first: int) -> None:
    user_type = index_dtype(first + part.shape[0])
    table = pa.table(
        {
            "user": stored_rows(part, user_type) + user_type(first),
            "item": part.indices.astype(index_dtype(part.shape[1]), copy=False),
            "rating": part.data,
        }
    )
    pq.write_table(table, file, row_group_size=ROW_GROUP)


def _id_array(pa, values: np.ndarray):
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: kept as their strings
        return pa.array(values.astype(str))


def _dataset_files(folder: Path) -> list[Path]:
    """The files a cfcore dataset writes besides its cfcore.json: partitions and ids."""
    return [*folder.glob("part-*.parquet"), *(folder / f for f in _IDS.values())]


def _empty_folder(path, overwrite: bool) -> Path:
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"path {str(folder)!r} is a file; pass a folder for the dataset")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"path {str(folder)!r} is not empty; pass overwrite=True to replace a dataset "
                "there, or choose an empty folder"
            )
        if not (folder / METADATA_FILE).is_file():  # files of another tool's: not ours to delete
            raise FileExistsError(
                f"path {str(folder)!r} holds files but no {METADATA_FILE}, so no cfcore dataset "
                "to replace; choose an empty folder (overwrite=True replaces cfcore's only)"
            )
        for file in [folder / METADATA_FILE, *_dataset_files(folder)]:
            file.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_metadata(path) -> ParquetRatings:
    """What the dataset at path holds (its cfcore.json), checked; see ``ParquetRatings``."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r}: no such folder; write a dataset with "
            "cfcore.data.write_parquet(ratings, path)"
        )
    file = folder / METADATA_FILE
    if not file.is_file():
        raise ValueError(
            f"path {str(folder)!r} holds no {METADATA_FILE}, so it is not a ratings dataset "
            "written by cfcore.data.write_parquet (or its writing did not finish); write it again"
        )
    try:
        meta = json.loads(file.read_text())
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r}, version {meta.get('version')!r}")
        parts = meta["partitions"]
        starts = np.array([p["first_user"] for p in parts] + [meta["n_users"]], dtype=np.int64)
        ratings = np.array([p["n_ratings"] for p in parts], dtype=np.int64)
        sizes = np.array([p["n_users"] for p in parts], dtype=np.int64)
        if not parts or starts[0] != 0 or (sizes < 1).any() or (np.diff(starts) != sizes).any():
            raise ValueError("its partitions do not cover users 0..n_users-1 in order")
        result = ParquetRatings(
            folder,
            int(meta["n_users"]),
            check_count(meta["n_items"], "n_items"),
            check_scale(tuple(meta["scale"])),
            np.dtype(meta["dtype"]),
            str(meta["name"]),
            starts,
            ratings,
            tuple(str(p["file"]) for p in parts),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"path {str(folder)!r}: {METADATA_FILE} is not the description cfcore.data."
            f"write_parquet writes ({type(err).__name__}: {err}); write the dataset again"
        ) from None
    return result


def read_partition(path, k: int) -> sp.csr_matrix:
    """Partition k of the dataset at path: a (users of k, n_items) canonical CSR matrix.

    Its rows are users starts[k]..starts[k+1]-1 of the whole matrix (``read_metadata``);
    a user without ratings is an empty row. The ratings keep the dtype they were written in.
    """
    meta = read_metadata(path)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k < meta.n_partitions:
        raise ValueError(
            f"k must be a partition number from 0 to {meta.n_partitions - 1} of {str(path)!r}, "
            f"got {k!r}"
        )
    k = int(k)
    file = meta.path / meta.files[k]
    if not file.is_file():
        raise FileNotFoundError(
            f"partition {k} of {str(path)!r} is missing ({file.name}); write the dataset again"
        )
    first, users = int(meta.starts[k]), int(meta.starts[k + 1] - meta.starts[k])
    where = f"partition {k} of {str(path)!r} ({file.name})"
    user, item, rating = _columns(file, meta, k, where)
    user -= first
    if user.size and (user.min() < 0 or user.max() >= users):
        raise ValueError(f"{where} holds users outside its range {first}-{first + users - 1}")
    if item.size and (item.min() < 0 or item.max() >= meta.n_items):
        raise ValueError(f"{where} holds items outside 0-{meta.n_items - 1}")
    shape = (users, meta.n_items)
    keys = user * meta.n_items + item
    if (np.diff(keys) > 0).all():  # as written: sorted, no pair twice
        index = index_dtype(max(rating.size, meta.n_items))
        indptr = np.zeros(users + 1, dtype=index)
        np.cumsum(np.bincount(user, minlength=users), out=indptr[1:])
        matrix = sp.csr_matrix((rating, item.astype(index), indptr), shape=shape)
    else:
        matrix = csr_from_indices(user, item, rating, shape, dtype=meta.dtype)
    return canonical_csr(matrix, where)


def _columns(file: Path, meta: ParquetRatings, k: int, where: str):
    """(user, item, rating) of a partition file, as numpy arrays of their own (int64 ids).

    Arrow's memory pool keeps what it freed for reuse; it is handed back to the system once
    the columns are copied out, or a worker would hold about twice a partition's size more.
    """
    pa, pq = _pyarrow()
    table = pq.read_table(file, columns=list(_COLUMNS))
    if table.num_rows != meta.ratings[k] or any(table.column(c).null_count for c in _COLUMNS):
        raise ValueError(
            f"{where} holds {table.num_rows} rows (some may be null) where {METADATA_FILE} "
            f"says {meta.ratings[k]} ratings; write the dataset again"
        )
    columns = (
        table.column("user").to_numpy().astype(np.int64),
        table.column("item").to_numpy().astype(np.int64),
        table.column("rating").to_numpy().astype(meta.dtype),
    )  # astype copies: nothing views Arrow's buffers
    del table
    pa.default_memory_pool().release_unused()
    return columns


def read_ratings(path) -> RatingsData:
    """The whole dataset at path as one ``RatingsData`` (every partition in one process:
    for data that fits; a cluster reads it a partition per task instead)."""
    meta = read_metadata(path)
    blocks = [read_partition(path, k) for k in range(meta.n_partitions)]
    matrix = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
    user_ids, item_ids = np.arange(meta.n_users), np.arange(meta.n_items)
    if (meta.path / _IDS["users"]).is_file():
        _, pq = _pyarrow()
        user_ids, item_ids = (
            pq.read_table(meta.path / _IDS[kind]).column("id").to_numpy(zero_copy_only=False)
            for kind in ("users", "items")
        )
    return RatingsData(matrix, user_ids, item_ids, meta.scale, name=meta.name)
