# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# init_cell: true
# check_all_cell: false
# export_cell: false
# generate: true
# run_tests: false
# solutions_pdf: false

# %% [markdown]
# # 01 · k-means: grouping users by distance
#
# A recommender that clusters users predicts what you have not rated from what people like
# you rated. The simplest way to find "people like you" is k-means. This notebook builds it
# from its objective, on 2-D points whose true groups we know, so every step can be drawn.
#
# **You will learn**
# - the k-means objective and Lloyd's two alternating steps, and why neither can raise the cost;
# - how to write Lloyd's algorithm in a few lines of numpy, and check it against the library;
# - how to vectorise its two steps with matrix products, as the library computes them;
# - how to run it with `cfcore.kmeans` (the course's `kmeans.py`), step by step and to the end;
# - why the cost cannot choose the number of clusters K, and why a bad seed gets stuck;
# - how k-means is the hard-assignment limit of the Gaussian mixture of notebook 02.
#
# Four exercises practise the two steps without loops (Exercises 1.1 and 1.2, autograded)
# and the two arguments (Exercises 1.3 and 1.4, written).

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from cfcore import common, fit, kmeans, naive_em
from cfcore.apps.plotting import PALETTE, savefig, scatter_clusters
from cfcore.data import make_blobs

# %% [markdown]
# ## The data: four planted groups
#
# `make_blobs` draws points around four known centres with a seeded generator, so the
# pictures below are the same on every machine. In a recommender each point would be a user
# and each coordinate a rating; two coordinates are what we can draw.

# %%
X, truth = make_blobs(
    n_per_cluster=[120, 80, 100, 60],
    centres=[(0.0, 0.0), (5.0, 0.5), (1.5, 5.0), (6.0, 6.0)],
    spread=[1.0, 0.8, 1.2, 0.9],
    seed=1,
)
n, d = X.shape
print(f"n = {n} points in d = {d} dimensions, planted group sizes {np.bincount(truth).tolist()}")

# %%
fig, ax = plt.subplots(figsize=(5, 4.5))
scatter_clusters(ax, X, truth, title="The planted groups (what k-means does not see)")
plt.show()

# %% [markdown]
# ## The objective
#
# k-means looks for K centres $\mu_1, \dots, \mu_K$ and an assignment $z_u \in \{1..K\}$ of
# every point $x_u$ that minimise the total squared distance of points to their centres,
#
# $$
# \mathrm{cost}(z, \mu) = \sum_{u=1}^{n} \lVert x_u - \mu_{z_u} \rVert^2 .
# $$
#
# Minimising over both at once is hard (NP-hard in general), but minimising over one with the
# other fixed is easy. Lloyd's algorithm alternates the two:
#
# 1. **Assignment** (z with μ fixed): each term depends on its own $z_u$ only, so the best
#    choice is the nearest centre, $z_u = \arg\min_j \lVert x_u - \mu_j \rVert^2$.
# 2. **Update** (μ with z fixed): the cost splits into one sum per cluster $C_j$; setting the
#    gradient of $\sum_{u \in C_j} \lVert x_u - \mu_j \rVert^2$ to zero,
#    $-2 \sum_{u \in C_j} (x_u - \mu_j) = 0$, gives the centroid
#    $\mu_j = \frac{1}{|C_j|} \sum_{u \in C_j} x_u$.
#
# Each step minimises the cost over its own variables, so neither can raise it: the cost
# falls until the assignment stops changing. The course stops when an assignment lowers the
# cost by $10^{-4}$ or less. It stores the assignment as a one-hot (n, K) matrix `post`, the
# same shape as the soft assignments of notebook 02, and returns the centres inside a
# `GaussianMixture` (means, a variance per cluster, and weights $p_j = |C_j|/n$).

# %% [markdown]
# ## The algorithm by hand, before the library
#
# The two steps and the stopping rule, written as plainly as possible. `sq[u, j]` is
# $\lVert x_u - \mu_j \rVert^2$, filled one column at a time by a loop over the K means;
# the update is a loop over the clusters, each mean moving to the average of its points.


# %%
def lloyd(X, mu, tol=1e-4):
    """Lloyd's algorithm from the initial means mu (K, d); returns (means, cost)."""
    K = len(mu)
    mu = mu.copy()  # the update overwrites the means row by row
    previous = np.inf
    while True:
        sq = np.empty((len(X), K))
        for j in range(K):  # column j: the squared distance of every point to mean j
            sq[:, j] = ((X - mu[j]) ** 2).sum(axis=1)
        z = sq.argmin(axis=1)  # assignment: z_u is the nearest mean
        cost = sq.min(axis=1).sum()
        for j in range(K):  # update: mean j moves to the centroid of its cluster C_j
            mu[j] = X[z == j].mean(axis=0)
        if previous - cost <= tol:  # the course's rule: stop once the cost falls by <= 1e-4
            return mu, cost
        previous = cost


# %% [markdown]
# `common.init` starts the way the course does: K distinct points drawn with a seeded
# generator become the first centres (it also returns a first mixture and a uniform `post`).
# From the same start, the hand-written loop and `cfcore.kmeans.run` must end at the same
# means and cost:

# %%
K = 4
start, start_post = common.init(X, K, seed=0)
by_hand_mu, by_hand_cost = lloyd(X, start.mu)
library, _, library_cost = kmeans.run(X, start, start_post)
np.testing.assert_allclose(by_hand_mu, library.mu, rtol=1e-12)
np.testing.assert_allclose(by_hand_cost, library_cost, rtol=1e-12)
print(f"by hand: cost {by_hand_cost:.4f}; kmeans.run: cost {library_cost:.4f}")

# %% [markdown]
# The library adds what a hand-written loop leaves out: input checks, both steps as matrix
# products with no loop over the means (Exercises 1.1 and 1.2 write them), empty clusters that
# keep their previous mean instead of becoming NaN, the variances and weights, and a limit on
# the number of iterations.

# %% [raw]
# # BEGIN QUESTION
# name: q01_assign
# points: 2

# %% [markdown]
# ### Exercise 1.1 — the assignment step, vectorised
#
# Write `assign(X, mu)`: given points `X` (n, d) and means `mu` (K, d), return the one-hot
# assignment `post` (an (n, K) array with a single 1 per row, in the column of the nearest
# mean, $z_u = \arg\min_j \lVert x_u - \mu_j \rVert^2$) and the cost
# $\sum_u \min_j \lVert x_u - \mu_j \rVert^2$ as a float. Unlike `lloyd` above, use no
# loop over the means or the points, and build no (n, K, d) array of differences (it takes K
# times the memory of `X`; a test checks). Expand the square,
#
# $$
# \lVert x_u - \mu_j \rVert^2 = \lVert x_u \rVert^2 - 2\, x_u \cdot \mu_j + \lVert \mu_j \rVert^2 ,
# $$
#
# so that the middle terms of all n K pairs are one matrix product, and the two norms are
# added to it by broadcasting. It is graded against `cfcore.kmeans.estep`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def assign(X, mu):
    """One-hot nearest-mean assignment (n, K) and the k-means cost."""
    # BEGIN SOLUTION
    cross = X @ mu.T  # (n, K): x_u . mu_j for every pair, one matrix product
    dist = (X**2).sum(axis=1)[:, None] - 2 * cross + (mu**2).sum(axis=1)
    nearest = dist.argmin(axis=1)
    post = np.eye(len(mu))[nearest]  # row u: the one-hot vector of its nearest mean
    return post, float(((X - mu[nearest]) ** 2).sum())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
ours, ours_cost = assign(X, start.mu)
expected, expected_cost = kmeans.estep(X, start)
np.testing.assert_array_equal(ours, expected)
np.testing.assert_allclose(ours_cost, expected_cost, rtol=1e-10)

# %%
import tracemalloc

rng = np.random.default_rng(13)  # an (n, K, d) array of differences would take 8 MB here
wide_X, wide_mu = rng.normal(size=(2000, 50)), rng.normal(size=(10, 50))
tracemalloc.start()
try:
    wide_post, _ = assign(wide_X, wide_mu)
    peak = tracemalloc.get_traced_memory()[1]  # the most memory held at once, in bytes
finally:
    tracemalloc.stop()
wide = common.GaussianMixture(wide_mu, np.ones(10), np.full(10, 0.1))
np.testing.assert_array_equal(wide_post, kmeans.estep(wide_X, wide)[0])
assert peak < wide_X.nbytes * len(wide_mu) / 2, "assign built an (n, K, d) array"

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng = np.random.default_rng(11)
other_X, other_mu = rng.normal(size=(50, 3)), rng.normal(size=(5, 3))
other = common.GaussianMixture(other_mu, np.ones(5), np.full(5, 0.2))
ours, ours_cost = assign(other_X, other_mu)
expected, expected_cost = kmeans.estep(other_X, other)
np.testing.assert_array_equal(ours, expected)
np.testing.assert_allclose(ours_cost, expected_cost, rtol=1e-10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q01_update
# points: 2

# %% [markdown]
# ### Exercise 1.2 — the update step, vectorised
#
# Write `update(X, post)`: given points `X` (n, d) and a one-hot assignment `post` (n, K)
# in which every cluster has at least one point, return `common.GaussianMixture(mu, var, p)`
# with the centroids $\mu_j = \frac{1}{n_j} \sum_u \mathrm{post}_{uj}\, x_u$, the variances
# $\sigma_j^2 = \frac{1}{d\, n_j} \sum_u \mathrm{post}_{uj} \lVert x_u - \mu_j \rVert^2$
# (the mean squared distance per coordinate) and the weights $p_j = n_j / n$, where
# $n_j = \sum_u \mathrm{post}_{uj}$. Use no loop over the clusters or the points: written
# with `post`, every sum over a cluster is a sum over all points weighted by one column of
# `post`, so the counts, the centroids and the variances of all K clusters each come from one
# matrix product or one reduction. It is graded against `cfcore.kmeans.mstep`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def update(X, post):
    """Centroids, per-coordinate variances and weights of a one-hot assignment."""
    # BEGIN SOLUTION
    n_j = post.sum(axis=0)  # (K,): the points in each cluster
    mu = post.T @ X / n_j[:, None]  # row j: the sum of cluster j's points, over n_j
    resid = X - post @ mu  # (n, d): each point minus its own cluster's mean
    var = post.T @ (resid**2).sum(axis=1) / (X.shape[1] * n_j)
    return common.GaussianMixture(mu, var, n_j / len(X))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
first_post, _ = kmeans.estep(X, start)
ours, expected = update(X, first_post), kmeans.mstep(X, first_post)
for got, want in zip(ours, expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-10)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng = np.random.default_rng(12)
other_X, labels = rng.normal(size=(40, 3)), np.arange(40) % 4
other_post = np.eye(4)[rng.permutation(labels)]
ours, expected = update(other_X, other_post), kmeans.mstep(other_X, other_post)
for got, want in zip(ours, expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Lloyd's steps, one at a time
#
# `kmeans.estep` is the assignment and `kmeans.mstep` the update. Three rounds of each from
# the same start, drawn after every assignment:

# %%
mixture = start
panels = [("start: 4 random points as centres", None, mixture.mu)]
for step in range(1, 4):
    post, cost = kmeans.estep(X, mixture)  # assignment
    panels.append((f"assignment {step}: cost {cost:.1f}", post.argmax(axis=1), mixture.mu))
    mixture = kmeans.mstep(X, post)  # update
    print(f"step {step}: cost after assignment {cost:8.2f}")

# %%
fig, axes = plt.subplots(2, 2, figsize=(8.4, 8.4), sharex=True, sharey=True)
for ax, (title, labels, means) in zip(axes.flat, panels, strict=True):
    scatter_clusters(ax, X, labels, means, title=title)
    ax.label_outer()  # axis labels on the outer panels only
fig.suptitle("Lloyd's algorithm: colours are assignments,\ncrosses the centres they were made to")
savefig("01_lloyd_steps", fig)
plt.show()

# %% [markdown]
# The first assignment already separates the groups roughly; each update moves the crosses
# to the middle of their colour, and the next assignment follows. The cost drops fast and
# then flattens.

# %% [raw]
# # BEGIN QUESTION
# name: q01_cost_never_rises
# manual: true
# points: 2

# %% [markdown]
# ### Exercise 1.3 (written) — why the cost never rises, and why Lloyd's algorithm stops
#
# Write $\mathrm{cost}(z, \mu)$ for the objective above. (a) Show that an assignment step
# followed by an update step can never raise it: name the inequality each step gives. (b)
# Conclude that, even with a tolerance of 0, Lloyd's algorithm stops after finitely many
# iterations (ties in the argmin are broken by the lowest index, as `argmin` does). (c) Say
# why this does not mean it finds the lowest cost.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) Let $(z^t, \mu^t)$ be the current assignment and means.
#
# - The assignment step picks, for every $u$ separately, $z^{t+1}_u = \arg\min_j
#   \lVert x_u - \mu^t_j \rVert^2$. The cost is a sum of terms each depending on its own
#   $z_u$, so no other assignment is lower, the old one included:
#   $\mathrm{cost}(z^{t+1}, \mu^t) \le \mathrm{cost}(z^t, \mu^t)$.
# - The update step minimises, for every cluster $C_j$ of $z^{t+1}$ separately, the convex
#   quadratic $f_j(m) = \sum_{u \in C_j} \lVert x_u - m \rVert^2$. Its gradient
#   $-2 \sum_{u \in C_j} (x_u - m)$ vanishes only at the centroid, and its Hessian
#   $2 |C_j|\, I$ is positive definite, so the centroid is the unique minimiser. Indeed
#   $f_j(m) = f_j(\bar x_j) + |C_j| \lVert m - \bar x_j \rVert^2$ for every $m$. Hence
#   $\mathrm{cost}(z^{t+1}, \mu^{t+1}) \le \mathrm{cost}(z^{t+1}, \mu^t)$.
#
# Chaining the two: $\mathrm{cost}(z^{t+1}, \mu^{t+1}) \le \mathrm{cost}(z^t, \mu^t)$.
#
# (b) After an update, the means are the centroids of the assignment, so the state is
# determined by the assignment $z$ alone, and there are at most $K^n$ assignments. If the
# assignment changes, either some point moved to a centre strictly nearer, which makes the
# first inequality strict, or every point that moved went to a centre exactly as near (a
# tie, broken by the lowest index), which leaves the cost unchanged. So the cost never rises,
# and it strictly falls at every step that changes it; the loop stops at the first step
# whose cost does not fall, which must come: a strictly falling cost visits each of the at
# most $K^n$ assignments at most once. In practice it takes a few dozen
# iterations, not $K^n$.
#
# (c) Both steps only look at the neighbourhood of the current solution: a fixed point is a
# state where neither step alone can improve, which is a local optimum of the cost, not
# necessarily the global one. The seed-5 run below is an example, which is why k-means is
# run from several seeds.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Running to convergence, from several seeds
#
# `kmeans.run` repeats the two steps to the end. Where it ends depends on where it started,
# so the course runs seeds 0-4 and keeps the lowest cost; `cfcore.fit` does exactly that
# (it calls `common.init` and `kmeans.run` once per seed). Here, 10 seeds:

# %%
result = fit(X, K, seeds=range(10), method="kmeans")
for seed, cost in result.seed_scores.items():
    print(f"seed {seed}: final cost {cost:8.2f}")
print(f"best: seed {result.seed}, cost {result.cost:.2f} after {result.n_iter} iterations")

# %% [markdown]
# ## A bad seed: a local optimum

# %%
best, worst = result.cost, result.seed_scores[5]
display(
    Markdown(
        f"Seed 5 ends at a cost of **{worst:.1f}**, {worst / best:.1f} times the best seed's "
        f"{best:.1f} (each a sum of squared distances over the {n} points). Side by side:"
    )
)

# %%
bad = fit(X, K, seeds=[5], method="kmeans")
fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharex=True, sharey=True)
for ax, run in zip(axes, (result, bad), strict=True):
    title = f"seed {run.seed}: cost {run.cost:.1f}"
    scatter_clusters(ax, X, run.post.argmax(axis=1), run.mixture.mu, title=title)
savefig("01_local_optimum", fig)
plt.show()

# %% [markdown]
# With seed 5 two centres split one group between them, and a single centre is left to cover
# two groups. No single step can repair that: moving a centre across the empty space
# between groups would first raise the cost. Lloyd's algorithm only ever goes downhill, so it
# stops in the nearest valley — which is why every method in this project is run from
# several seeds.

# %% [markdown]
# ## Cost against K: the cost cannot choose K
#
# Best cost over 10 seeds for K = 1..8:

# %%
Ks = range(1, 9)
costs = [fit(X, k, seeds=range(10), method="kmeans").cost for k in Ks]
for k, cost in zip(Ks, costs, strict=True):
    print(f"K = {k}: cost {cost:8.2f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(list(Ks), costs, "o-", color=PALETTE["blue"])
ax.axvline(4, color="grey", ls=":")
ax.text(4.15, 0.9 * max(costs), "planted K = 4", color="dimgrey")
ax.set_xlabel("number of clusters K")
ax.set_ylabel("best k-means cost over 10 seeds\n(sum of squared distances)")
savefig("01_cost_against_k", fig)
plt.show()

# %% [markdown]
# The cost keeps falling as K grows: with K = n every point is its own centre and the cost
# is 0. The bend ("elbow") at the planted K = 4 is visible here, but the cost itself rewards
# every extra cluster. Notebook 04 replaces it with a criterion that charges for parameters
# (BIC).

# %% [markdown]
# ## k-means is the hard-assignment limit of a mixture
#
# Notebook 02 models the data as a mixture of K spherical Gaussians and computes, for each
# point, the probability that it came from each component. With equal weights and one shared
# variance $\sigma^2$, that probability is
#
# $$
# p(j \mid x) = \frac{\exp(-\lVert x - \mu_j \rVert^2 / 2\sigma^2)}
#                    {\sum_l \exp(-\lVert x - \mu_l \rVert^2 / 2\sigma^2)} .
# $$
#
# As $\sigma^2 \to 0$ the nearest centre's term dominates every other by a factor
# $\exp(\Delta / 2\sigma^2) \to \infty$, where $\Delta > 0$ is the gap in squared distance, so
# $p(j \mid x)$ becomes 1 for the nearest centre and 0 elsewhere: exactly the k-means
# assignment. Watch it happen for a point lying between two of the fitted centres:

# %%
means = result.mixture.mu
between = 0.4 * means[0] + 0.6 * means[1]
for var in (4.0, 1.0, 0.25, 0.05):
    shared = common.GaussianMixture(means, np.full(K, var), np.full(K, 1 / K))
    soft, _ = naive_em.estep(between[None, :], shared)
    print(f"variance {var:5.2f}: p(j | x) = {np.round(soft[0], 3)}")
hard, _ = kmeans.estep(between[None, :], result.mixture)
print(f"k-means assignment:  {hard[0]}")

# %% [raw]
# # BEGIN QUESTION
# name: q01_hard_limit
# manual: true
# points: 2

# %% [markdown]
# ### Exercise 1.4 (written) — how small must the variance be?
#
# Take K = 2 components with equal weights and a shared variance $\sigma^2$, and a point $x$
# whose squared distances to the two means are $D_1 < D_2$, with gap $\Delta = D_2 - D_1$.
# (a) Write $p(1 \mid x)$ as a function of $\Delta / 2\sigma^2$ alone. (b) Find the largest
# $\sigma^2$ for which $p(1 \mid x) \ge 0.99$. (c) With K components and $\Delta$ the gap to
# the *second* nearest mean, give a lower bound on $p(\text{nearest} \mid x)$ and show that
# it tends to 1 as $\sigma^2 \to 0$. (d) What is the limit when $\Delta = 0$, and what does
# k-means do there?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) Dividing the numerator and denominator by $e^{-D_1/2\sigma^2}$ (the
# $(2\pi\sigma^2)^{-d/2}$ factors and the equal weights cancel):
#
# $$
# p(1 \mid x) = \frac{e^{-D_1/2\sigma^2}}{e^{-D_1/2\sigma^2} + e^{-D_2/2\sigma^2}}
#             = \frac{1}{1 + e^{-\Delta/2\sigma^2}} ,
# $$
#
# the logistic function of $\Delta / 2\sigma^2$.
#
# (b) $p(1 \mid x) \ge 0.99 \iff e^{-\Delta/2\sigma^2} \le 1/99 \iff
# \sigma^2 \le \Delta / (2 \ln 99) \approx 0.109\, \Delta$.
#
# (c) Every other component $l$ has $D_l \ge D_1 + \Delta$, so each of the $K - 1$ other
# terms in the denominator is at most $e^{-\Delta/2\sigma^2}$ times the nearest one's:
#
# $$
# p(\text{nearest} \mid x) \;\ge\; \frac{1}{1 + (K - 1)\, e^{-\Delta/2\sigma^2}}
# \;\xrightarrow[\sigma^2 \to 0]{}\; 1 ,
# $$
#
# since $\Delta > 0$ makes $e^{-\Delta/2\sigma^2} \to 0$. The other posteriors then tend to
# 0, which is the one-hot k-means assignment.
#
# (d) With $\Delta = 0$ the two terms are equal for every $\sigma^2$, so $p(1 \mid x) =
# p(2 \mid x) = 1/2$ (for ties among m means, 1/m each): the limit is not one-hot. k-means
# breaks the tie arbitrarily (`argmin` takes the lowest index). Such points have measure
# zero for continuous data, so the limit holds for almost every point.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Summary
#
# - k-means minimises the sum of squared distances by alternating nearest-centre assignment
#   and centroid update; a dozen lines of numpy reproduce `cfcore.kmeans.run` exactly.
#   Expanding the squared distance turns both steps into matrix products, with no loop.
# - Each step can only lower the cost, so it converges, but to a local optimum that depends
#   on the seed (seed 5 above). Run it from several seeds and keep the best
#   (`cfcore.fit(..., method="kmeans")`).
# - The cost always falls with K, so it cannot choose K.
# - k-means is the $\sigma^2 \to 0$ limit of a spherical Gaussian mixture with equal weights.
#   Notebook 02 keeps the variance, the weights and the uncertainty, and fits them by EM.
