"""Generated data with a known answer: 2-D blobs for the pictures, and ratings with planted
user clusters up to Netflix-Prize size, streamed into CSR, with long tails if asked (a few
popular items and active users, many rarely rated items and users with one or two ratings)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import (
    check_count,
    check_non_negative,
    check_positive,
    check_scale,
    check_seed,
)
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
    item_propensity, user_propensity: (n_items,) w_i and (n_users,) a_u, each of mean 1, and
        propensity_scale c: entry (u, i) is observed with probability min(1, c a_u w_i)
        (make_ratings' item_popularity and user_activity); None, None, density when both
        are uniform
    """

    assignments: np.ndarray
    means: np.ndarray
    p: np.ndarray
    noise: float = 0.0
    item_propensity: np.ndarray | None = None
    user_propensity: np.ndarray | None = None
    propensity_scale: float | None = None

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


def zipf_propensities(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """(size,) propensities proportional to (rank + 1)^-exponent, of mean 1.

    rank: a seeded random permutation of 0..size-1 (the most popular item need not be the
    first column); exponent 0 gives every entry 1.
    """
    weights = (rng.permutation(size) + 1.0) ** -float(exponent)
    return weights / weights.mean()


def propensity_scale(user: np.ndarray, item: np.ndarray, density: float) -> float:
    """The c for which sum_{u,i} min(1, c a_u w_i) = density n d (the expected ratings).

    Without the cap at 1, c = density (a and w have mean 1); a propensity capped at 1 gives
    away ratings that a larger c returns to the others. The expected count is increasing and
    piecewise linear in c; each evaluation is O(n log d) (w sorted, with cumulative sums),
    never over the n x d cells.
    """
    from scipy.optimize import brentq

    target = density * user.size * item.size
    users, repeats = np.unique(user, return_counts=True)
    ascending = np.sort(item)
    below = np.concatenate([[0.0], np.cumsum(ascending)])  # sum of the k smallest w

    def expected(c: float) -> float:
        capped = np.searchsorted(ascending, 1.0 / (c * users), side="left")  # first w_i capped
        per_user = (item.size - capped) + c * users * below[capped]
        return float(repeats @ per_user) - target

    if density >= 1.0:
        return 1.0 / (users.min() * ascending[0])
    high = density
    while expected(high) < 0:
        high *= 2.0
    if high == density:
        return density
    return brentq(expected, high / 2.0, high, xtol=1e-15, rtol=1e-13)


def _bands(values: np.ndarray) -> list[np.ndarray]:
    """Indices of values in groups whose largest is at most twice their smallest: a list."""
    order = np.argsort(-values, kind="stable")
    band = np.floor(np.log2(values[order[0]] / values[order])).astype(np.int64)
    cuts = np.flatnonzero(np.diff(band)) + 1
    return np.split(order, cuts)


def _rare_bernoulli_positions(rng: np.random.Generator, cells: int, q: float) -> np.ndarray:
    """``_bernoulli_positions`` that also serves q * cells << 1 (a corner of a long tail).

    There the geometric gaps would overflow int64, so the number of successes is drawn,
    Binomial(cells, q), and placed uniformly without replacement (the same distribution).
    """
    if q * cells >= _FEW_DRAWS:
        return _bernoulli_positions(rng, cells, q)
    return np.sort(rng.choice(cells, rng.binomial(cells, q), replace=False))


#: below this many expected successes ``_rare_bernoulli_positions`` draws their number first
_FEW_DRAWS = 16.0


def _skewed_positions(rng, user: np.ndarray, item_bands, item, scale: float):
    """(rows, cols) of a block's observed entries, each (u, i) kept with p = min(1, c a_u w_i).

    Users and items fall into bands within a factor 2 of propensity; over each band pair the
    entries are first drawn with the pair's largest p, q (geometric gaps: the work follows
    the draws, not the cells), then kept with probability p / q >= 1/4, so each entry is an
    independent Bernoulli(p) draw. Returns row-major sorted (rows, cols).
    """
    keys = []  # row * n_items + column of every kept entry
    for users in _bands(user):
        a = user[users]
        for items in item_bands:
            w = item[items]
            q = min(1.0, scale * a[0] * w[0])  # band members are sorted: the first is largest
            cells = _rare_bernoulli_positions(rng, users.size * items.size, q)
            r, i = users[cells // items.size], items[cells % items.size]
            p = np.minimum(1.0, scale * user[r] * item[i])
            kept = rng.random(cells.size) * q < p
            keys.append(r[kept] * np.int64(item.size) + i[kept])
    keys = np.sort(np.concatenate(keys))
    return np.divmod(keys, item.size)


def _skewed_block(rng, clusters, user, item_bands, truth: PlantedClusters, scale, step):
    """``_planted_block`` with propensities: counts (b,), columns and values, row-major."""
    rows, cols = _skewed_positions(
        rng, user, item_bands, truth.item_propensity, truth.propensity_scale
    )
    counts = np.bincount(rows, minlength=clusters.size)
    values = truth.means[clusters[rows], cols]
    values += truth.noise * rng.standard_normal(values.size)
    return counts, cols, _round_to_scale(values, *scale, step)


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


def checked_planted_settings(
    n_users, n_items, n_clusters, density, seed, scale, step, noise, separation, dtype
) -> tuple:
    """``make_ratings``' arguments checked, noise and separation defaulted from the scale:
    (n_users, n_items, n_clusters, density, seed, scale, step, noise, separation)."""
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
    return n_users, n_items, n_clusters, density, seed, scale, step, noise, separation


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
    item_popularity: float | None = None,
    user_activity: float | None = None,
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

    Long tails, as real ratings have: item_popularity=s gives item i the propensity
    w_i ~ (rank_i + 1)^-s and user_activity=t gives user u a_u ~ (rank_u + 1)^-t (Zipf-like;
    the ranks are seeded random permutations, each propensity of mean 1), and entry (u, i)
    is then observed independently with probability min(1, c a_u w_i), c chosen so that the
    expected number of ratings stays density x n_users x n_items (c = density unless some
    probabilities reach the cap of 1). So the k-th most rated item gets about k^-s times the
    ratings of the most rated one, and with t = 1 most users rate only one or two items.
    None or 0 is uniform (the matrix of a call without them); ``PlantedClusters`` keeps
    w, a and c.

    The matrix is built in blocks of users, never as a dense users x items array: memory
    is the CSR result (12 bytes a rating with float64, 8 with dtype=np.float32) plus about
    100 MB of working blocks. Netflix-Prize size (480,189 x 17,770, density 0.01178) is
    ~100M ratings. The same arguments and seed give the same matrix.
    Returns (RatingsData, PlantedClusters).
    """
    n_users, n_items, n_clusters, density, seed, scale, step, noise, separation = (
        checked_planted_settings(
            n_users, n_items, n_clusters, density, seed, scale, step, noise, separation, dtype
        )
    )
    item_popularity = _check_exponent(item_popularity, "item_popularity")
    user_activity = _check_exponent(user_activity, "user_activity")

    def block_rng(index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))

    truth = _planted_truth(
        block_rng(0), n_users, n_items, n_clusters, weights, scale, noise, separation
    )
    if item_popularity or user_activity:
        ranks = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, 1)))
        truth.item_propensity = zipf_propensities(ranks, n_items, item_popularity)
        truth.user_propensity = zipf_propensities(ranks, n_users, user_activity)
        truth.propensity_scale = propensity_scale(
            truth.user_propensity, truth.item_propensity, density
        )
    matrix = _stream_planted(truth, n_users, n_items, density, scale, step, dtype, block_rng)
    name = f"planted {n_users} x {n_items}, K={n_clusters}" if name is None else name
    data = RatingsData(matrix, np.arange(n_users), np.arange(n_items), scale, name=name)
    return data, truth


def _check_exponent(value, name: str) -> float:
    """None (uniform) or a finite exponent >= 0, as a float (0.0 for None)."""
    if value is None:
        return 0.0
    exponent = check_non_negative(value, name)
    if exponent > _LARGEST_EXPONENT:
        raise ValueError(
            f"{name} must be at most {_LARGEST_EXPONENT} (a Zipf exponent; real ratings have "
            f"about 0.5-1.5), got {value}"
        )
    return exponent


#: beyond this a Zipf exponent leaves almost every rating to the first ranks
_LARGEST_EXPONENT = 8.0


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
    skewed = truth.item_propensity is not None
    item_bands = _bands(truth.item_propensity) if skewed else None
    filled = 0
    for block, start in enumerate(range(0, n_users, block_users), start=1):
        stop = min(start + block_users, n_users)
        clusters = truth.assignments[start:stop]
        if skewed:
            user = truth.user_propensity[start:stop]
            counts, cols, values = _skewed_block(
                block_rng(block), clusters, user, item_bands, truth, scale, step
            )
        else:
            counts, cols, values = _planted_block(
                block_rng(block), clusters, n_items, density, truth, scale, step
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
