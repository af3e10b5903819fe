"""The course's EM with missing data on a Dask cluster, from ratings stored as Parquet.

EM's M-step needs only sums over users, so an iteration is a map-reduce over partitions of
users (``cfcore.engine.distributed`` decides where each runs):

1. the client broadcasts the mixture (K x d means, K variances, K weights) to every worker;
2. each partition runs ``em``'s E-step on its users, whose posteriors stay on its worker,
   then ``em.statistics``, the M-step's sums over those users;
3. the sums and log-likelihoods are added up, on each worker and then across workers;
4. the client runs the closed-form M-step on the sums (``em.supported_means`` and
   ``em.variances_and_weights``, or MAP-EM's mean) inside ``common.iterate``, the one loop,
   with the course's stopping rule.

Every formula is the course module's, run per partition: the same numbers as ``em.run_full``
on the whole matrix in one process, up to the order in which sums are added (1e-10
relative in ``tests/test_dask.py``). ``init_observed_rows_dask`` is ``starts.
init_observed_rows`` computed from the partitions (the seeded users' rows, the item
means), without gathering the matrix.

    from distributed import Client
    ratings = load_dask_ratings(Client(...), "ratings.parquet")   # cfcore.data.write_parquet
    mixture, post = init_observed_rows_dask(ratings, K=12, seed=0)
    outcome = run_em_dask(ratings, mixture)
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from .. import em
from .._validation import check_n_components, check_non_negative, check_posterior, check_seed
from ..common import EM_TOLERANCE, MIN_VARIANCE, GaussianMixture, Outcome, as_mixture, iterate
from ..data.parquet import read_metadata, read_partition
from ..engine import one_pass
from ..engine.distributed import DaskRatings, add_elementwise, distribute
from . import map_em, starts


def load_dask_ratings(client, path, *, allow_negative: bool = False) -> DaskRatings:
    """The Parquet ratings at path (``cfcore.data.write_parquet``), a partition per future,
    each loaded once into the memory of one of the client's workers.

    path must name the same folder on every worker (a shared file system, or a copy at the
    same path on each machine); allow_negative: stored values may be negative (residuals).
    """
    meta = read_metadata(path)  # on the client: a clear error before any task runs
    read = partial(read_partition, str(meta.path.resolve()))  # the workers' path too
    return distribute(
        client, read, meta.starts, meta.n_items, ratings=meta.ratings, allow_negative=allow_negative
    )


class PartitionStep(NamedTuple):
    """One partition's share of an iteration, kept on its worker: post (n_k, K), and the
    log-likelihood and M-step sums over its users."""

    post: np.ndarray
    log_likelihood: float
    statistics: em.Statistics


def _partition_step(data, mixture: GaussianMixture) -> PartitionStep:
    """On a worker: em's E-step on one partition's users, then the M-step's sums there."""
    data = one_pass(data)  # as em.run_full: a fused E-step also sums for the M-step
    post, log_likelihood = em._estep(data, mixture)
    return PartitionStep(post, log_likelihood, em.statistics(data, post))


def _sums(step: PartitionStep) -> tuple[float, em.Statistics]:
    return step.log_likelihood, step.statistics


def _plus(a: tuple[float, em.Statistics], b: tuple[float, em.Statistics]):
    return a[0] + b[0], a[1].plus(b[1])


def _posterior(step: PartitionStep) -> np.ndarray:
    return step.post


class DaskPosterior(NamedTuple):
    """The posteriors of one E-step, left on the workers: a future of a ``PartitionStep``
    per partition, and the sums over all users (on the client)."""

    steps: list
    statistics: em.Statistics

    def gather(self, ratings: DaskRatings) -> np.ndarray:
        """Every user's posterior on the client: (n_users, K)."""
        return np.concatenate(ratings.gather(ratings.map_each(_posterior, self.steps)))


def _estep(ratings: DaskRatings, prior_variance, mixture: GaussianMixture):
    steps = ratings.map(_partition_step, ratings.broadcast(mixture))
    log_likelihood, sums = ratings.result(ratings.reduce(steps, _plus, leaf=_sums))
    return DaskPosterior(steps, sums), log_likelihood + map_em.log_prior(mixture.mu, prior_variance)


def _mstep(ratings: DaskRatings, posterior: DaskPosterior, previous, prior_variance, min_variance):
    sums = posterior.statistics
    if prior_variance is not None:
        return map_em._map_mstep_from_statistics(
            ratings, sums, previous, prior_variance, min_variance
        )
    mu = em.supported_means(sums, previous.mu - ratings.shift)  # em's M-step, from the sums
    return em.variances_and_weights(ratings, sums, mu, previous, min_variance)


def run_em_dask(
    ratings: DaskRatings,
    mixture: GaussianMixture,
    post=None,
    *,
    min_variance: float = MIN_VARIANCE,
    prior_variance: float | None = None,
    tol: float = EM_TOLERANCE,
    max_iter: int | None = None,
    callback=None,
    gather_posterior: bool = True,
) -> Outcome:
    """``em.run_full`` (or ``map_em.run_full`` with prior_variance) on a Dask cluster.

    ratings: ``load_dask_ratings(client, path)``; mixture (and post, checked for its shape
    only, since EM starts with an E-step) as for ``em.run_full``, e.g. from
    ``init_observed_rows_dask``. min_variance, tol, max_iter, callback(iteration,
    objective, mixture): as ``em.run_full``; prior_variance: MAP-EM's tau^2 (the objective is
    then the log-posterior). Each iteration sends the mixture down to every worker and one
    K x d sum per worker up. Returns an ``Outcome`` whose post is every user's posterior of
    the last E-step, (n_users, K), gathered to the client; gather_posterior=False leaves it
    on the workers (a ``DaskPosterior``: ``.gather(ratings)`` brings it).
    """
    if not isinstance(ratings, DaskRatings):
        raise TypeError(
            "ratings must be a DaskRatings from cfcore.models.distributed.load_dask_ratings"
            f"(client, path), got {type(ratings).__name__}"
        )
    if not ratings.parts:
        raise ValueError("ratings was released; load it again with load_dask_ratings")
    mixture = as_mixture(mixture, ratings.n_items)
    if post is not None:
        check_posterior(post, ratings.n_users, mixture.mu.shape[0])
    prior_variance = map_em.check_prior_variance(prior_variance)
    min_variance = check_non_negative(min_variance, "min_variance")
    outcome = iterate(
        partial(_estep, ratings, prior_variance),
        partial(_mstep, ratings, prior_variance=prior_variance, min_variance=min_variance),
        mixture,
        tol=tol,
        max_iter=max_iter,
        callback=callback,
    )
    if gather_posterior and isinstance(outcome.post, DaskPosterior):
        outcome = outcome._replace(post=outcome.post.gather(ratings))
    return outcome


def init_observed_rows_dask(
    ratings: DaskRatings, K: int, seed: int = 0, min_variance: float = MIN_VARIANCE
) -> tuple[GaussianMixture, np.ndarray]:
    """``starts.init_observed_rows`` of the whole matrix, from its partitions on the cluster.

    The same seeded users (``np.random.RandomState(seed).choice(n, K, replace=False)``),
    each row read where its partition lives; the item means and the variance over observed
    entries from per-partition sums (``starts``' own functions), added up across workers.
    Returns (mixture, post) with post uniform, (n_users, K).
    """
    n = ratings.n_users
    K = check_n_components(K, n)
    users = np.random.RandomState(check_seed(seed)).choice(n, K, replace=False)
    mu = np.tile(starts._means_of_columns(ratings.sum(starts._column_sums)), (K, 1))
    for j, (values, seen) in enumerate(ratings.at_users(starts._user_row, users)):
        mu[j, seen] = values[seen]
    mu += ratings.shift
    squared_errors = ratings.sum(
        starts._observed_squared_errors, ratings.broadcast(mu), plus=add_elementwise
    )
    var = starts._variance_of_squared_errors(squared_errors, min_variance)
    return GaussianMixture(mu, var, np.full(K, 1.0 / K)), np.full((n, K), 1.0 / K)
