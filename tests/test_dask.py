"""EM on a Dask cluster from Parquet ratings gives the numbers of EM in one process.

A LocalCluster of 2 worker processes (1 thread each, bound to 127.0.0.1) for the module;
ratings written to tmp_path as Parquet in several partitions, one of them of users without
a rating. The Parquet writer and reader are checked entry by entry, and their errors.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("pyarrow", reason="the dask extra is not installed: pip install -e '.[dask]'")
pytest.importorskip(
    "distributed", reason="the dask extra is not installed: pip install -e '.[dask]'"
)

from cfcore import em  # noqa: E402
from cfcore.data import (  # noqa: E402
    RatingsData,
    make_ratings,
    planted_blocks,
    read_metadata,
    read_partition,
    read_ratings,
    write_parquet,
)
from cfcore.models import map_em, starts  # noqa: E402
from cfcore.models.distributed import (  # noqa: E402
    DaskPosterior,
    init_observed_rows_dask,
    load_dask_ratings,
    run_em_dask,
)

pytestmark = [
    pytest.mark.dask,
    # the scheduler serves its metrics on 8787 even without a dashboard, or on a free port
    # with this warning when another cluster (a second one here) has it
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
]

#: the same results as one process, to 1e-10 (relative)
SAME = 1e-10
K = 4


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ratings() -> RatingsData:
    """1,000 planted users on 60 items; users 400-449 (a whole partition) and a few others
    rated nothing."""
    data, _ = make_ratings(1_000, 60, K, 0.15, seed=4)
    X = data.matrix.tolil()
    X[400:450] = 0
    X[[3, 777, 999]] = 0
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    return data.with_matrix(X, name="planted with unrated users")


@pytest.fixture(scope="module")
def on_disk(ratings, tmp_path_factory):
    path = tmp_path_factory.mktemp("parquet") / "ratings"
    write_parquet(ratings, path, users_per_partition=50)
    return path


@pytest.fixture(scope="module")
def on_cluster(client, on_disk):
    return load_dask_ratings(client, on_disk)


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def assert_same_outcome(dask, local, trace_dask, trace_local):
    assert dask.n_iter == local.n_iter and dask.converged == local.converged
    assert relative(trace_dask, trace_local) < SAME
    assert relative(dask.objective, local.objective) < SAME
    for a, b in zip(dask.mixture, local.mixture, strict=True):
        assert relative(a, b) < SAME
    np.testing.assert_allclose(dask.post, local.post, rtol=SAME, atol=SAME)


# Parquet: written a partition at a time, read back entry by entry


def test_partitions_hold_the_matrix_entry_by_entry(ratings, on_disk):
    meta = read_metadata(on_disk)
    assert meta.n_partitions == 20 and (meta.n_users, meta.n_items) == ratings.shape
    assert meta.ratings[8] == 0  # users 400-449: a partition without a rating
    assert meta.n_ratings == ratings.n_ratings and meta.scale == (1.0, 5.0)
    for k in range(meta.n_partitions):
        rows = slice(meta.starts[k], meta.starts[k + 1])
        part = read_partition(on_disk, k)
        assert part.shape == (50, 60) and part.dtype == np.float64
        assert (part != ratings.matrix[rows]).nnz == 0
    back = read_ratings(on_disk)
    assert (back.matrix != ratings.matrix).nnz == 0 and back.name == ratings.name


def test_planted_blocks_stream_the_matrix_of_make_ratings(tmp_path):
    args = (2_500, 400, 3, 0.02)  # make_ratings draws it in 5 blocks of 625 users
    data, truth = make_ratings(*args, seed=7, dtype=np.float32)
    stream, streamed_truth = planted_blocks(*args, seed=7, dtype=np.float32)
    np.testing.assert_array_equal(streamed_truth.assignments, truth.assignments)
    np.testing.assert_array_equal(streamed_truth.means, truth.means)
    meta = write_parquet(stream, tmp_path / "planted", users_per_partition=1_000)
    assert list(meta.starts) == [0, 1_000, 2_000, 2_500] and meta.dtype == np.float32
    back = read_ratings(tmp_path / "planted")
    assert back.matrix.dtype == np.float32 and back.scale == data.scale
    np.testing.assert_array_equal(back.matrix.indptr, data.matrix.indptr)
    np.testing.assert_array_equal(back.matrix.indices, data.matrix.indices)
    np.testing.assert_array_equal(back.matrix.data, data.matrix.data)


def test_ids_and_a_stream_of_blocks_round_trip(tmp_path):
    X = sp.random(30, 8, density=0.4, format="csr", random_state=1)
    X.data = np.ceil(X.data * 5)
    users = np.array([f"user {u}" for u in range(30)])
    data = RatingsData(X, users, np.arange(101, 109), (1, 5), name="ids")
    write_parquet(data, tmp_path / "ids", users_per_partition=7)
    back = read_ratings(tmp_path / "ids")
    assert list(back.user_ids) == list(users) and list(back.item_ids) == list(range(101, 109))
    blocks = [X[:10], X[10:11], X[11:30]]  # a bare stream: scale given
    meta = write_parquet(blocks, tmp_path / "blocks", users_per_partition=4, scale=(1, 5))
    assert meta.n_partitions == 8 and (read_ratings(tmp_path / "blocks").matrix != X).nnz == 0


def test_a_partition_written_by_another_tool_may_be_unsorted(ratings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "shuffled"
    write_parquet(ratings, path, users_per_partition=500)
    file = path / "part-00001.parquet"
    table = pq.read_table(file)
    order = np.random.default_rng(0).permutation(table.num_rows)
    pq.write_table(table.take(pa.array(order)), file)
    assert (read_partition(path, 1) != ratings.matrix[500:]).nnz == 0
    pq.write_table(pa.concat_tables([table.slice(0, 1), table.slice(0, table.num_rows - 1)]), file)
    with pytest.raises(ValueError, match="duplicate"):
        read_partition(path, 1)


# EM on the cluster: the numbers of one process


def test_the_start_is_init_observed_rows_of_the_whole_matrix(ratings, on_cluster):
    local = starts.init_observed_rows(ratings, K, seed=2)
    dask = init_observed_rows_dask(on_cluster, K, seed=2)
    for a, b in zip(dask[0], local[0], strict=True):
        assert relative(a, b) < 1e-13
    np.testing.assert_array_equal(dask[1], local[1])


def test_em_on_the_cluster_gives_the_numbers_of_one_process(ratings, on_cluster):
    mixture, post = starts.init_observed_rows(ratings, K, seed=0)
    trace_local, trace_dask = [], []
    local = em.run_full(
        ratings.matrix, mixture, post, callback=lambda i, ll, m: trace_local.append(ll)
    )
    dask = run_em_dask(on_cluster, mixture, post, callback=lambda i, ll, m: trace_dask.append(ll))
    assert local.converged and local.n_iter > 3
    assert_same_outcome(dask, local, trace_dask, trace_local)
    # a user without ratings gets the prior as posterior, on a worker as in one process
    np.testing.assert_array_equal(dask.post[400:450], np.tile(dask.post[400], (50, 1)))


def test_map_em_on_the_cluster_gives_the_numbers_of_one_process(ratings, on_cluster):
    mixture, post = starts.init_observed_rows(ratings, K, seed=1)
    trace_local, trace_dask = [], []
    options = dict(prior_variance=0.5, max_iter=15)
    local = map_em.run_full(
        ratings.matrix, mixture, post, callback=lambda i, ll, m: trace_local.append(ll), **options
    )
    dask = run_em_dask(
        on_cluster, mixture, callback=lambda i, ll, m: trace_dask.append(ll), **options
    )
    assert_same_outcome(dask, local, trace_dask, trace_local)


def _share_ones(a, b) -> bool:  # run on the worker holding partitions a and b
    return np.shares_memory(a.blocks[0].M.data, b.blocks[0].M.data)


def test_partitions_on_a_worker_share_one_buffer_of_ones(on_cluster):
    assert len(set(on_cluster.owners)) == 2  # both workers hold partitions, ...
    assert on_cluster.owners[:10] == [on_cluster.owners[0]] * 10  # ... consecutive ones
    a, b = on_cluster.parts[1], on_cluster.parts[2]  # partitions with ratings, one worker
    shared = on_cluster.client.submit(_share_ones, a, b, workers=[on_cluster.owners[1]])
    assert shared.result()


def test_every_run_adds_the_sums_in_the_same_order(on_cluster):
    mixture, _ = init_observed_rows_dask(on_cluster, K, seed=3)
    first = run_em_dask(on_cluster, mixture, max_iter=3, tol=-np.inf)
    again = run_em_dask(on_cluster, mixture, max_iter=3, tol=-np.inf, gather_posterior=False)
    assert not first.converged and first.n_iter == 3
    assert isinstance(again.post, DaskPosterior)
    assert again.objective == first.objective  # bit for bit, whatever the timing
    np.testing.assert_array_equal(again.post.gather(on_cluster), first.post)


# errors say what is wrong and what to do


def test_a_missing_or_incomplete_dataset_is_named(tmp_path, client):
    with pytest.raises(FileNotFoundError, match="no such folder.*write_parquet"):
        read_metadata(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "part-00000.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="holds no cfcore.json.*did not finish"):
        load_dask_ratings(client, tmp_path / "half")
    (tmp_path / "half" / "cfcore.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="cfcore.json is not the description"):
        read_partition(tmp_path / "half", 0)


def test_a_missing_partition_file_is_named_by_the_worker(ratings, tmp_path, client):
    path = tmp_path / "gone"
    write_parquet(ratings, path, users_per_partition=300)
    (path / "part-00002.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="partition 2 of .* is missing"):
        load_dask_ratings(client, path)
    with pytest.raises(ValueError, match="k must be a partition number from 0 to 3"):
        read_partition(path, 4)


def test_bad_writes_are_refused(ratings, tmp_path):
    write_parquet(ratings, tmp_path / "once")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_parquet(ratings, tmp_path / "once")
    meta = write_parquet(ratings, tmp_path / "once", overwrite=True, users_per_partition=600)
    assert meta.n_partitions == 2 and sorted(p.name for p in (tmp_path / "once").iterdir()) == [
        "cfcore.json",
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    other = tmp_path / "another tool's"
    other.mkdir()
    (other / "part-00000-abc.snappy.parquet").write_text("not cfcore's")
    with pytest.raises(FileExistsError, match="holds files but no cfcore.json"):
        write_parquet(ratings, other, overwrite=True)
    assert (other / "part-00000-abc.snappy.parquet").read_text() == "not cfcore's"
    with pytest.raises(ValueError, match="scale: pass"):
        write_parquet([ratings.matrix], tmp_path / "no scale")
    with pytest.raises(ValueError, match="outside the scale"):
        write_parquet([ratings.matrix], tmp_path / "scale", scale=(1, 4))
    assert not (tmp_path / "scale").exists()  # a failed write leaves nothing behind
    later = [
        ratings.matrix[:300],
        ratings.matrix[300:] * 2,
    ]  # partition 0 written, then out of scale
    with pytest.raises(ValueError, match="outside the scale"):
        write_parquet(later, tmp_path / "later", scale=(1, 5), users_per_partition=300)
    assert not (tmp_path / "later").exists()
    write_parquet(
        [ratings.matrix], tmp_path / "later", scale=(1, 5)
    )  # the retry needs no overwrite
    with pytest.raises(TypeError, match="RatingsData.from_csr"):
        write_parquet(ratings.matrix, tmp_path / "matrix")
    with pytest.raises(ValueError, match="every block must cover every item"):
        write_parquet([ratings.matrix, ratings.matrix[:, :5]], tmp_path / "items", scale=(1, 5))


def test_run_em_dask_checks_its_arguments(ratings, on_cluster):
    mixture, post = starts.init_observed_rows(ratings, K, seed=0)
    with pytest.raises(TypeError, match="load_dask_ratings"):
        run_em_dask(ratings.matrix, mixture)
    with pytest.raises(ValueError, match="prior_variance"):
        run_em_dask(on_cluster, mixture, prior_variance=-1.0)
    with pytest.raises(ValueError, match="post"):
        run_em_dask(on_cluster, mixture, post[:10])
    with pytest.raises(ValueError, match="K must be between 1 and"):
        init_observed_rows_dask(on_cluster, 2_000)


def test_a_worker_that_dies_is_named_instead_of_waited_for(ratings, on_disk):
    import os
    from contextlib import suppress

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        on_two = load_dask_ratings(client, on_disk)
        mixture, _ = init_observed_rows_dask(on_two, K, seed=0)
        with suppress(Exception):  # the connection to the worker closes as it exits
            client.run(os._exit, 1, workers=[on_two.owners[-1]])
        with pytest.raises(RuntimeError, match=r"left the cluster with \d+ of the 20 partitions"):
            run_em_dask(on_two, mixture, max_iter=2)


def test_a_worker_killed_between_iterations_is_named_instead_of_waited_for(on_disk):
    import os
    import signal

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        on_two = load_dask_ratings(client, on_disk)
        mixture, _ = init_observed_rows_dask(on_two, K, seed=0)

        def kill_at_the_second(iteration, log_likelihood, mixture):
            if iteration == 2:  # the next broadcast goes to a worker that is gone
                os.kill(pids[on_two.owners[-1]], signal.SIGKILL)

        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"left the cluster with \d+ of the 20 partitions"):
            run_em_dask(on_two, mixture, max_iter=50, callback=kill_at_the_second)
        assert time.monotonic() - started < 60  # named within the copy's and notice's limits


def _held_keys(dask_worker) -> int:  # run on each worker
    return len(dask_worker.data)


def test_releasing_the_ratings_frees_the_workers(client, on_disk):
    before = sum(client.run(_held_keys).values())
    ratings = load_dask_ratings(client, on_disk)
    mixture, _ = init_observed_rows_dask(ratings, K, seed=3)
    run_em_dask(ratings, mixture, max_iter=2, gather_posterior=False)
    assert sum(client.run(_held_keys).values()) > before
    ratings.release()
    deadline = time.monotonic() + 10
    while sum(client.run(_held_keys).values()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(client.run(_held_keys).values()) == before
