"""Generated data with a known answer: 2-D blobs for the pictures, and ratings with planted
user clusters up to Netflix-Prize size, streamed into CSR."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import check_count, check_positive, check_scale, check_seed
from .ratings import RatingsData, index_dtype


def make_blobs(
    n_per_cluster: int | list[int] = 100,
    centres=((0.0, 0.0), (6.0, 1.0), (2.0, 6.0)),
    spread: float | list[float] = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points around known centres, for the k-means and EM pictures (notebooks 01, 02, 04).

    Cluster c has n_per_cluster[c] points drawn from N(centres[c], spread[c]^2 I).
    Returns X: (n, d) array and labels: (n,) int array, the planted cluster of each point.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"centres must be a (K, d) array of cluster centres, got {centres.shape}")
    K = centres.shape[0]
    sizes = np.broadcast_to(np.asarray(n_per_cluster), (K,))
    spreads = np.broadcast_to(np.asarray(spread, dtype=np.float64), (K,))
    if (sizes < 1).any() or (spreads <= 0).any():
        raise ValueError("every cluster needs n_per_cluster >= 1 and spread > 0")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(K), sizes)
    X = centres[labels] + rng.normal(size=(labels.size, centres.shape[1])) * spreads[labels, None]
    return X, labels


#: about this many ratings are generated at a time (a few tens of MB of working memory)
_RATINGS_PER_BLOCK = 1 << 20


@dataclass(repr=False, eq=False)
class PlantedClusters:
    """The ground truth of make_ratings.

    assignments: (n_users,) int, the cluster of every user
    means: (n_clusters, n_items), the mean rating of every item in every cluster
    p: (n_clusters,), the probability of each cluster
    noise: the standard deviation of a rating around its cluster mean (before rounding)
    """

    assignments: np.ndarray
    means: np.ndarray
    p: np.ndarray
    noise: float = 0.0

    def __repr__(self) -> str:
        K, d = self.means.shape
        return f"PlantedClusters({K} clusters over {d} items, p={np.round(self.p, 3)})"


def _cluster_weights(weights, n_clusters: int) -> np.ndarray:
    if weights is None:
        return np.full(n_clusters, 1.0 / n_clusters)
    p = np.asarray(weights, dtype=np.float64)
    if p.shape != (n_clusters,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise ValueError(
            f"weights must be {n_clusters} non-negative numbers (one per cluster), got {weights!r}"
        )
    return p / p.sum()


def _bernoulli_positions(rng: np.random.Generator, cells: int, density: float) -> np.ndarray:
    """Sorted positions in [0, cells) of the successes of `cells` Bernoulli(density) trials.

    The gaps between successive successes are Geometric(density), so the work is
    proportional to the number of successes, not of cells.
    """
    if density >= 1.0:
        return np.arange(cells, dtype=np.int64)
    expected = cells * density
    chunks, last = [], -1
    while last < cells:
        gaps = rng.geometric(density, size=int(expected + 6.0 * math.sqrt(expected) + 64))
        positions = np.cumsum(gaps)
        positions += last
        chunks.append(positions)
        last = int(positions[-1])
    positions = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return positions[: np.searchsorted(positions, cells)]


def _round_to_scale(values: np.ndarray, low: float, high: float, step: float) -> np.ndarray:
    """values rounded to the nearest of low, low + step, ..., high (clipped to the scale)."""
    values -= low
    values /= step
    np.rint(values, out=values)
    values *= step
    values += low
    return np.clip(values, low, high, out=values)


def _planted_block(rng, clusters, n_items, density, truth: PlantedClusters, scale, step):
    """Ratings of a block of users: per-user counts (b,), columns and values, row-major."""
    positions = _bernoulli_positions(rng, clusters.size * n_items, density)
    row_starts = np.arange(clusters.size + 1, dtype=np.int64) * n_items
    counts = np.diff(np.searchsorted(positions, row_starts))
    positions -= np.repeat(row_starts[:-1], counts)  # now the column of every rating
    values = truth.means[np.repeat(clusters, counts), positions]
    values += truth.noise * rng.standard_normal(values.size)
    return counts, positions, _round_to_scale(values, *scale, step)


def _planted_truth(rng, n_users, n_items, n_clusters, weights, scale, noise, separation):
    """Cluster weights, assignments and item means of the planted model.

    mean_ki = clip(centre + b_i + c_ki, low, high): b_i ~ N(0, (0.15 width)^2) makes some
    items better liked by everyone, c_ki ~ N(0, separation^2) separates the clusters.
    """
    low, high = scale
    p = _cluster_weights(weights, n_clusters)
    assignments = rng.choice(n_clusters, size=n_users, p=p)
    item_effect = rng.normal(0.0, 0.15 * (high - low), size=n_items)
    cluster_effect = rng.normal(0.0, separation, size=(n_clusters, n_items))
    means = np.clip((low + high) / 2 + item_effect + cluster_effect, low, high)
    return PlantedClusters(assignments, means, p, noise)


def make_ratings(
    n_users: int,
    n_items: int,
    n_clusters: int,
    density: float,
    seed: int = 0,
    *,
    scale=(1, 5),
    step: float = 1.0,
    noise: float | None = None,
    separation: float | None = None,
    weights=None,
    dtype=np.float64,
    name: str | None = None,
) -> tuple[RatingsData, PlantedClusters]:
    """Ratings with planted user clusters, streamed into CSR block by block.

    Each user u belongs to cluster z_u ~ Categorical(p) (p = weights, default uniform). Each
    entry (u, i) is observed independently with probability `density` (so density is the
    expected fraction of observed entries and a user's count is Binomial(n_items, density)),
    and its rating is r_ui = round_to_step(means[z_u, i] + noise * N(0, 1)), clipped to the
    scale. noise defaults to 0.2 x (high - low), separation (the spread of the cluster means
    around an item's mean) to 0.25 x (high - low); step=0.5 gives half stars.

    The matrix is built in blocks of users, never as a dense users x items array: memory
    is the CSR result (12 bytes a rating with float64, 8 with dtype=np.float32) plus about
    100 MB of working blocks. Netflix-Prize size (480,189 x 17,770, density 0.01178) is
    ~100M ratings. The same arguments and seed give the same matrix.
    Returns (RatingsData, PlantedClusters).
    """
    n_users, n_items = check_count(n_users, "n_users"), check_count(n_items, "n_items")
    seed = check_seed(seed)
    n_clusters = check_count(n_clusters, "n_clusters")
    if not (isinstance(density, (int, float, np.number)) and 0 < density <= 1):
        raise ValueError(f"density must be a fraction in (0, 1], got {density!r}")
    low, high = scale = check_scale(scale)
    step = check_positive(step, "step")
    if low == high or not math.isclose(
        round((high - low) / step) * step, high - low, rel_tol=1e-9, abs_tol=1e-12
    ):
        raise ValueError(f"scale={scale} must span a whole number of steps of size {step}")
    noise = 0.2 * (high - low) if noise is None else float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    separation = (
        0.25 * (high - low) if separation is None else check_positive(separation, "separation")
    )
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}")

    def block_rng(index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))

    truth = _planted_truth(
        block_rng(0), n_users, n_items, n_clusters, weights, scale, noise, separation
    )
    matrix = _stream_planted(truth, n_users, n_items, density, scale, step, dtype, block_rng)
    name = f"planted {n_users} x {n_items}, K={n_clusters}" if name is None else name
    data = RatingsData(matrix, np.arange(n_users), np.arange(n_items), scale, name=name)
    return data, truth


def _planted_capacity(cells: int, density: float) -> int:
    """Room for the Binomial(cells, density) ratings: mean + 8 sd, grown in the rare miss."""
    expected = cells * density
    return min(cells, int(expected + 8.0 * math.sqrt(expected) + 1024))


def _stream_planted(truth, n_users, n_items, density, scale, step, dtype, block_rng):
    """The CSR matrix of make_ratings, filled block by block into preallocated arrays."""
    capacity = _planted_capacity(n_users * n_items, density)
    index = index_dtype(max(capacity, n_items) * 2)
    data, indices = np.empty(capacity, dtype=dtype), np.empty(capacity, dtype=index)
    indptr = np.zeros(n_users + 1, dtype=index)
    block_users = max(1, int(_RATINGS_PER_BLOCK / (n_items * density)))
    filled = 0
    for block, start in enumerate(range(0, n_users, block_users), start=1):
        stop = min(start + block_users, n_users)
        counts, cols, values = _planted_block(
            block_rng(block), truth.assignments[start:stop], n_items, density, truth, scale, step
        )
        if filled + cols.size > data.size:
            grow = max(filled + cols.size, int(1.25 * data.size))
            data, indices = np.resize(data, grow), np.resize(indices, grow)
        data[filled : filled + cols.size] = values
        indices[filled : filled + cols.size] = cols
        np.cumsum(counts, out=indptr[start + 1 : stop + 1])
        indptr[start + 1 : stop + 1] += filled
        filled += cols.size
    return sp.csr_matrix(
        (data[:filled], indices[:filled], indptr), shape=(n_users, n_items), copy=False
    )
