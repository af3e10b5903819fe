"""Where EM runs on a Dask cluster: partitions of users held by workers, broadcasts, tree sums.

A user's posterior needs only that user's ratings and the M-step needs only sums over
users, so EM on a cluster is a map-reduce over partitions of users. This module decides
where the work runs and never does the mathematics (``cfcore.models.distributed`` hands it
functions of one partition, from ``cfcore.em``):

- ``distribute`` loads every partition once, as ``prepare`` of its CSR block, into the
  memory of one worker (consecutive partitions on the same worker, balanced by ratings),
  where it stays until released;
- ``DaskRatings.map`` runs a function of one partition on the worker that holds it, so no
  partition ever moves; its results (e.g. the posteriors) stay there as futures;
- ``DaskRatings.broadcast`` sends a small value (a mixture) to every worker once;
- ``DaskRatings.reduce`` adds up one result per partition: first on each worker, then
  pairwise across workers (a tree), so one partial sum per worker crosses the network,
  always added in the same order (the same numbers run after run).

Needs dask.distributed (``pip install -e '.[dask]'``); only a ``distributed.Client`` is
passed in, so the cluster can be a LocalCluster, dask-scheduler/dask-worker processes,
dask-jobqueue or Kubernetes (docs/distributed.md).
"""

from __future__ import annotations

import operator
import time
import weakref
from functools import reduce
from itertools import groupby

import numpy as np

from .._validation import is_sparse
from .blocks import Ones, prepare

#: how often a wait for results checks that the workers holding partitions are still there
POLL_SECONDS = 2.0
#: how long a failed call waits for the scheduler to notice a worker that left, at most
LEFT_SECONDS = 10.0


def _lost(client, owners) -> list[str]:
    """The owners of partitions that the scheduler no longer counts among its workers."""
    return sorted(set(owners) - set(client.nthreads()))


def _answer() -> bool:  # run on a worker: that it is there
    return True


def _combine(plus, leaf, *values):
    """plus-reduce of the values, or of leaf(value) for each value: one task of the tree."""
    return reduce(plus, values if leaf is None else map(leaf, values))


def add_elementwise(a: tuple, b: tuple) -> tuple:
    """(a_0 + b_0, a_1 + b_1, ...): ``DaskRatings.reduce``'s plus for tuples of sums."""
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _load(read, k: int, n_users: int, n_items: int, allow_negative: bool, largest: int):
    """On a worker: partition k read (``read(k)`` -> CSR) and laid out for EM, one thread;
    largest: the most ratings of any partition (the size of the worker's buffer of ones)."""
    X = read(k)
    if X.shape != (n_users, n_items):
        raise ValueError(
            f"partition {k} has shape {X.shape}, but its description says "
            f"({n_users}, {n_items}); write the dataset again"
        )
    return _sharing_ones(prepare(X, threads=1, allow_negative=allow_negative), largest)


#: in a worker process: (a weak reference to) the buffer of ones of every dtype that the
#: indicators of all its partitions view (``blocks.Ones``); freed with the last of them
_ONES: dict = {}


def _sharing_ones(data, largest: int = 0):
    """data with every block's indicator M over the worker's one buffer of ones.

    ``prepare`` shares one buffer between the blocks of a matrix; a worker holding several
    partitions (each its own ``prepare``) would otherwise hold one per partition, 8 bytes a
    rating in float64 beside the 12 of the ratings. The buffer is made ``largest`` long,
    so that partitions loaded in any order find it long enough.
    """
    if not is_sparse(data.X) or not data.blocks:
        return data
    size, dtype = max(block.X.nnz for block in data.blocks), np.dtype(data.X.dtype)
    ones = _ONES[dtype]() if dtype in _ONES else None
    if ones is None or ones.size < size:
        ones = Ones(max(size, largest), dtype)
        _ONES[dtype] = weakref.ref(ones)
    return data._replace(blocks=tuple(block._replace(indicator=ones) for block in data.blocks))


class DaskRatings:
    """A ratings matrix held on a Dask cluster, a partition of consecutive users per future.

    client: the ``distributed.Client``; parts: one future per partition, each the
    ``RatingBlocks`` of ``prepare`` on its worker; owners: the worker of every partition;
    starts: (P + 1,) the first user of every partition, then n_users. Built by
    ``distribute``. Like a ``RatingBlocks`` it has ``n_users`` and ``shift`` (0: float64),
    which is all ``em.variances_and_weights`` asks of the data.
    """

    shift = 0.0

    def __init__(self, client, parts: list, owners: list[str], starts, n_items: int):
        self.client, self.parts, self.owners = client, list(parts), list(owners)
        self.starts, self.n_items = np.asarray(starts, dtype=np.int64), int(n_items)

    @property
    def n_users(self) -> int:
        return int(self.starts[-1])

    @property
    def n_partitions(self) -> int:
        return len(self.parts)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_users, self.n_items

    def __repr__(self) -> str:
        workers = len(set(self.owners))
        return (
            f"DaskRatings({self.n_users:,} users x {self.n_items:,} items in "
            f"{self.n_partitions} partitions on {workers} worker{'s' * (workers != 1)})"
        )

    def _submit(self, k: int, function, *args):
        return self.client.submit(
            function, *args, workers=[self.owners[k]], allow_other_workers=False, pure=False
        )

    def broadcast(self, value):
        """A future of value, copied to every worker once (a mixture: K x d numbers).

        A copy to a worker that died and that the scheduler has not yet noticed waits for
        it for ever (a scatter's timeout does not bound the copies), so every worker that
        holds partitions is asked first, which fails at once for one that is gone."""
        self._check_workers()
        owners = sorted(set(self.owners))
        try:
            self.client.run(_answer, workers=owners)
        except Exception as error:  # a worker that does not answer: name it
            self._raise_if_a_worker_left(error)
            raise RuntimeError(
                f"a worker holding partitions does not answer ({error!r}); load the ratings "
                "again (load_dask_ratings) and restart from the last mixture the fit's callback saw"
            ) from error
        try:
            return self.client.scatter([value], broadcast=True, hash=False)[0]
        except Exception as error:  # a copy to a worker that just died: say that instead
            self._raise_if_a_worker_left(error)
            raise

    def map(self, function, *args) -> list:
        """function(partition, *args) on the worker of every partition: P futures, which
        stay on those workers (args may be futures, e.g. from ``broadcast``)."""
        return [self._submit(k, function, part, *args) for k, part in enumerate(self.parts)]

    def map_each(self, function, futures: list, *args) -> list:
        """function(futures[k], *args) on the worker of partition k, for per-partition
        results (e.g. of ``map``): P futures."""
        return [self._submit(k, function, future, *args) for k, future in enumerate(futures)]

    def reduce(self, futures: list, plus=operator.add, leaf=None):
        """A future of plus-sum of the P per-partition results (of leaf(result), if given).

        Each worker first adds up its own partitions' (one task, no transfer), then the
        workers' sums are added pairwise, a tree of depth log2(workers); the order of
        every addition is fixed by the partitions, whatever the timing.
        """
        if len(futures) != self.n_partitions:
            raise ValueError(f"reduce needs one future per partition, got {len(futures)}")
        level = []
        for owner, group in groupby(range(self.n_partitions), key=self.owners.__getitem__):
            ks = list(group)
            level.append(
                self.client.submit(
                    _combine,
                    plus,
                    leaf,
                    *(futures[k] for k in ks),
                    workers=[owner],
                    allow_other_workers=False,
                    pure=False,
                )
            )
        while len(level) > 1:
            pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
            level = [
                self.client.submit(_combine, plus, None, *pair, pure=False)
                if len(pair) == 2
                else pair[0]
                for pair in pairs
            ]
        return level[0]

    def sum(self, function, *args, plus=operator.add):
        """function(partition, *args) on every partition, added up: the sum, on the client."""
        return self.result(self.reduce(self.map(function, *args), plus))

    def at_users(self, function, users) -> list:
        """[function(partition of u, u's row in it) for u in users], each run where its
        partition lives, gathered to the client."""
        users = np.asarray(users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= self.n_users):
            raise ValueError(f"users must lie in 0..{self.n_users - 1}, got {users.tolist()}")
        ks = np.searchsorted(self.starts, users, side="right") - 1
        futures = [
            self._submit(int(k), function, self.parts[k], int(u - self.starts[k]))
            for u, k in zip(users, ks, strict=True)
        ]
        return self.gather(futures)

    def gather(self, futures: list) -> list:
        """The results of futures, on the client, in their order (see ``result``)."""
        from distributed import wait

        futures = list(futures)
        while True:
            try:
                wait(futures, timeout=POLL_SECONDS)
            except TimeoutError:  # not done yet: go on waiting while every owner is there
                self._check_workers()
                continue
            except Exception as error:  # e.g. futures cancelled as their worker died
                self._raise_if_a_worker_left(error)
                raise
            try:
                return self.client.gather(futures)
            except Exception as error:  # a task that failed as its worker died: say that instead
                self._raise_if_a_worker_left(error)
                raise

    def result(self, future):
        """future's value; an error instead of a wait without end if a worker holding
        partitions left the cluster (its partitions and posteriors went with it)."""
        return self.gather([future])[0]

    def _raise_if_a_worker_left(self, error: Exception) -> None:
        """After a failed call: the lost-worker error if a partition's worker left (the
        scheduler may take a moment to notice it, so look for ``LEFT_SECONDS``)."""
        deadline = time.monotonic() + LEFT_SECONDS
        while True:
            try:
                self._check_workers()
            except RuntimeError as lost:
                raise lost from error
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def _check_workers(self) -> None:
        lost = _lost(self.client, self.owners)
        if lost:
            held = sum(owner in lost for owner in self.owners)
            raise RuntimeError(
                f"worker(s) {', '.join(lost)} left the cluster with {held} of the "
                f"{self.n_partitions} partitions; load the ratings again (load_dask_ratings) "
                "and restart from the last mixture the fit's callback saw"
            )

    def release(self) -> None:
        """Free the partitions on the workers: the futures are dropped, and the scheduler
        forgets their keys once no future refers to them. (Not ``client.cancel``: at
        Netflix-Prize size, cancelling keys that finished fits' tasks depended on made the
        scheduler log an AssertionError from ``stimulus_cancel``.)"""
        self.parts = []

    def __enter__(self) -> DaskRatings:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _owners(workers: list[str], weights: np.ndarray) -> list[str]:
    """Consecutive partitions to each worker, about an equal share of the weights each."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    middles = np.cumsum(weights) - weights / 2.0  # where each partition's weight sits
    share = np.minimum((middles / weights.sum() * len(workers)).astype(np.int64), len(workers) - 1)
    return [workers[s] for s in share]


def distribute(
    client, read, starts, n_items: int, *, ratings=None, allow_negative: bool = False
) -> DaskRatings:
    """Load every partition into the memory of one worker, once: a ``DaskRatings``.

    read: k -> the CSR block of partition k (users starts[k]..starts[k+1]-1, n_items
        columns), called on the worker (so it must be importable there, e.g.
        functools.partial(cfcore.data.read_partition, path), with path readable by every
        worker).
    starts: (P + 1,) the first user of every partition, then n_users.
    ratings: (P,) the ratings of every partition, to balance the workers (else their users)
        and to make each worker's one buffer of ones long enough for all its partitions.
    allow_negative: as ``prepare`` (residuals). Waits until every partition is loaded and
    raises the first error a worker met (a missing file, a bad partition).
    """
    from distributed import wait

    starts = np.asarray(starts, dtype=np.int64)
    if starts.ndim != 1 or starts.size < 2 or starts[0] != 0 or (np.diff(starts) < 1).any():
        raise ValueError(
            f"starts must be 0, then increasing first users, then n_users; got {starts}"
        )
    workers = sorted(client.nthreads())  # every worker's address
    if not workers:
        raise ValueError(
            "client: its cluster has no workers yet; start some (or client.wait_for_workers(n))"
        )
    n_parts = starts.size - 1
    counts = None if ratings is None else np.asarray(ratings, dtype=np.int64)
    if counts is not None and counts.shape != (n_parts,):
        raise ValueError(
            f"ratings must hold one count per partition ({n_parts}), got shape {counts.shape}"
        )
    owners = _owners(workers, np.diff(starts) if counts is None else counts)
    largest = 0 if counts is None else int(counts.max())
    parts = [
        client.submit(
            _load,
            read,
            k,
            int(starts[k + 1] - starts[k]),
            int(n_items),
            allow_negative,
            largest,
            workers=[owners[k]],
            allow_other_workers=False,
            pure=False,
        )
        for k in range(n_parts)
    ]
    while True:  # a worker that dies while loading would leave its partitions waiting
        try:
            wait(parts, timeout=POLL_SECONDS)
            break
        except TimeoutError:
            lost = _lost(client, owners)
            if lost:
                raise RuntimeError(
                    f"worker(s) {', '.join(lost)} left the cluster while loading their "
                    "partitions; load the ratings again (load_dask_ratings)"
                ) from None
    for part in parts:
        if part.status == "error":
            part.result()  # raises the worker's error here, with its message
    return DaskRatings(client, parts, owners, starts, n_items)
