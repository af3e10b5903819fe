"""MovieLens 100K: the local files, the folds, EM on the CSR matrix, and the download path.

The download is tested for real: pooch fetches a zip, built here from the local files,
from an HTTP server on 127.0.0.1 (a random free port, in a thread); no other network.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore import common, em
from cfcore import data as datasets
from cfcore.data import movielens as movielens_module


def test_ratings_users_items_and_scale(movielens):
    ratings = movielens.ratings
    assert (ratings.n_ratings, ratings.n_users, ratings.n_items) == (100_000, 943, 1_682)
    assert ratings.scale == (1.0, 5.0) and ratings.name == "ml-100k"
    np.testing.assert_array_equal(ratings.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(ratings.item_ids, np.arange(1, 1683))
    assert set(np.unique(ratings.matrix.data)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    # the first line of u.data: user 196 gave item 242 three stars
    assert ratings.matrix[195, 241] == 3.0
    assert (np.diff(ratings.matrix.indptr) >= 20).all()  # every user rated at least 20 movies


def test_titles_keep_their_accents_and_genres_their_names(movielens):
    ratings = movielens.ratings
    titles = list(ratings.titles)
    assert titles[0] == "Toy Story (1995)"
    assert titles[542] == "Misérables, Les (1995)"
    assert "C'est arrivé près de chez vous (1992)" in titles
    assert sum("é" in title for title in titles) >= 8
    assert ratings.genres.shape == (1_682, 19) and ratings.genres.dtype == bool
    assert ratings.genre_names[:3] == ["unknown", "Action", "Adventure"]
    toy_story = {
        name for name, flag in zip(ratings.genre_names, ratings.genres[0], strict=True) if flag
    }
    assert toy_story == {"Animation", "Children's", "Comedy"}


def test_u1_to_u5_test_sets_partition_the_data(movielens):
    ratings = movielens.ratings.matrix
    union = sp.csr_matrix(ratings.shape)
    for fold in ("u1", "u2", "u3", "u4", "u5"):
        train, test = movielens.folds[fold]
        assert train.shape == test.shape == ratings.shape
        assert (train.n_ratings, test.n_ratings) == (80_000, 20_000)
        assert train.matrix.multiply(test.matrix).nnz == 0
        assert ((train.matrix + test.matrix) != ratings).nnz == 0
        assert list(train.titles) == list(movielens.ratings.titles)
        union = union + test.matrix
    assert union.nnz == 100_000 and (union != ratings).nnz == 0


def test_ua_and_ub_hold_out_ten_ratings_per_user(movielens):
    for fold in ("ua", "ub"):
        train, test = movielens.folds[fold]
        np.testing.assert_array_equal(np.diff(test.matrix.indptr), 10)
        assert train.n_ratings == 90_570
        assert ((train.matrix + test.matrix) != movielens.ratings.matrix).nnz == 0
    assert movielens.folds["ua"].test.matrix.multiply(movielens.folds["ub"].test.matrix).nnz == 0


def test_load_ratings_reads_u_data_to_the_same_matrix(movielens):
    data = datasets.load_ratings(movielens.path / "u.data")
    np.testing.assert_array_equal(data.user_ids, movielens.ratings.user_ids)
    np.testing.assert_array_equal(data.item_ids, movielens.ratings.item_ids)
    assert (data.matrix != movielens.ratings.matrix).nnz == 0


def test_em_runs_on_the_csr_matrix_and_agrees_with_dense(movielens):
    X = movielens.ratings.matrix
    assert sp.issparse(X)
    lls = []
    mixture, post = common.init(X, 3, seed=0)
    sparse_mixture, _, sparse_ll = em.run(
        X, mixture, post, max_iter=10, callback=lambda i, ll, m: lls.append(ll)
    )
    assert np.all(np.diff(lls) > 0), lls  # EM never decreases the log-likelihood
    dense = movielens.ratings.to_dense()  # only to check the numbers agree
    dense_mixture, _, dense_ll = em.run(dense, *common.init(dense, 3, seed=0), max_iter=10)
    assert sparse_ll == pytest.approx(dense_ll, rel=1e-10)
    np.testing.assert_allclose(sparse_mixture.mu, dense_mixture.mu, rtol=1e-8)


def test_the_citation_is_printed_once_per_process(movielens, monkeypatch, capsys):
    monkeypatch.setattr(movielens_module, "_NOTICES_SHOWN", set())
    datasets.load_movielens_100k(download=False)
    datasets.load_movielens_100k(download=False)
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.count("F. Maxwell Harper and Joseph A. Konstan. 2015.") == 1
    assert "not for redistribution" in printed.err
    assert movielens.citation.endswith("DOI=http://dx.doi.org/10.1145/2827872")


def test_in_a_notebook_the_citation_is_an_ordinary_output(movielens, monkeypatch, capsys):
    import IPython.display

    assert movielens_module._in_notebook() is False  # pytest is no Jupyter kernel
    shown = []
    monkeypatch.setattr(movielens_module, "_NOTICES_SHOWN", set())
    monkeypatch.setattr(movielens_module, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    datasets.load_movielens_100k(download=False)
    assert capsys.readouterr().err == ""
    (notice,) = shown
    assert "F. Maxwell Harper and Joseph A. Konstan. 2015." in notice.data


def copy_of_movielens(movielens, tmp_path) -> Path:
    folder = tmp_path / "ml-100k"
    shutil.copytree(movielens.path, folder)
    return folder


def test_a_changed_file_fails_its_checksum(movielens, tmp_path):
    folder = copy_of_movielens(movielens, tmp_path)
    with open(folder / "u3.test", "ab") as stream:
        stream.write(b"1\t1\t5\t0\n")
    with pytest.raises(ValueError, match=r"u3\.test does not match its pinned checksum"):
        datasets.load_movielens_100k(folder)


def test_data_dir_may_name_the_folder_or_its_parent(movielens, tmp_path):
    copy_of_movielens(movielens, tmp_path)
    for folder in (tmp_path, tmp_path / "ml-100k"):
        assert datasets.load_movielens_100k(folder, download=False).ratings.n_ratings == 100_000


def test_without_files_or_download_the_error_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CFCORE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    where = str(tmp_path / "data" / "ml-100k")
    with pytest.raises(FileNotFoundError, match=rf"ml-100k\.zip.*4,924,029 bytes.*{where}"):
        datasets.load_movielens_100k(download=False)
    with pytest.raises(FileNotFoundError, match=rf"not in {tmp_path}.*unzip"):
        datasets.load_movielens_100k(tmp_path, download=False)


# --- the download path, against a loopback server ----------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_served: list[str]

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.requests_served.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def site(movielens, tmp_path_factory) -> tuple[Path, str]:
    """A folder with ml-100k.zip, built from the local files, and a corrupted copy of it."""
    site = tmp_path_factory.mktemp("site")
    good = site / "ml-100k.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(movielens.path.iterdir()):
            archive.write(path, f"ml-100k/{path.name}")
    corrupt = bytearray(good.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    (site / "corrupt.zip").write_bytes(bytes(corrupt))
    return site, hashlib.sha256(good.read_bytes()).hexdigest()


@pytest.fixture
def served(site, monkeypatch):
    """(base_url, sha256 of the good zip, paths requested) of a server on 127.0.0.1."""
    folder, digest = site
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    requested: list[str] = []
    handler = type("Handler", (QuietHandler,), {"requests_served": requested})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", digest, requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_download_unpacks_and_is_not_repeated(served, tmp_path):
    base, digest, requests_served = served
    cache = tmp_path / "cache"
    folder = movielens_module._fetch_movielens_100k(f"{base}/ml-100k.zip", digest, cache_dir=cache)
    assert folder == cache / "ml-100k.zip.unzip" / "ml-100k"
    assert datasets.load_movielens_100k(folder).ratings.n_ratings == 100_000
    again = movielens_module._fetch_movielens_100k(f"{base}/ml-100k.zip", digest, cache_dir=cache)
    assert again == folder and requests_served == ["/ml-100k.zip"]  # the cached zip is reused


def test_load_without_local_files_downloads_into_the_cache(served, tmp_path, monkeypatch):
    base, digest, requests_served = served
    monkeypatch.delenv("CFCORE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fetch = functools.partial(movielens_module._fetch_movielens_100k, f"{base}/ml-100k.zip", digest)
    monkeypatch.setattr(movielens_module, "_fetch_movielens_100k", fetch)
    data = datasets.load_movielens_100k()
    assert data.ratings.n_ratings == 100_000 and requests_served == ["/ml-100k.zip"]
    assert data.path == tmp_path / "xdg" / "cfcore" / "ml-100k.zip.unzip" / "ml-100k"
    # now in the cache: found without a download, even when downloads are not allowed
    assert datasets.load_movielens_100k(download=False).path == data.path
    assert requests_served == ["/ml-100k.zip"]


def test_a_corrupted_download_is_rejected_and_not_kept(served, tmp_path):
    base, digest, requests_served = served
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"rejected, nothing was kept.*(?i:hash)"):
        movielens_module._fetch_movielens_100k(f"{base}/corrupt.zip", digest, cache_dir=cache)
    assert requests_served == ["/corrupt.zip"]
    assert not (cache / "ml-100k.zip").exists()
    assert not (cache / "ml-100k.zip.unzip").exists()


def test_a_missing_file_on_the_server_says_where_to_put_the_data(served, tmp_path):
    base, digest, _ = served
    with pytest.raises(FileNotFoundError, match=r"could not be downloaded.*404.*unzip it"):
        movielens_module._fetch_movielens_100k(f"{base}/absent.zip", digest, cache_dir=tmp_path)


def test_no_network_says_where_to_put_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FileNotFoundError, match=r"could not be downloaded.*ml-100k\.zip"):
        movielens_module._fetch_movielens_100k(
            f"http://127.0.0.1:{port}/ml-100k.zip", "0" * 64, cache_dir=tmp_path
        )
