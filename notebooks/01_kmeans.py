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

# %% [markdown]
# # 01 · k-means: grouping users by distance
#
# A recommender that clusters users predicts what you have not rated from what people like
# you rated. The simplest way to find "people like you" is k-means. This notebook builds it
# from its objective, on 2-D points whose true groups we know, so every step can be drawn.
#
# **You will learn**
# - the k-means objective and Lloyd's two alternating steps, and why neither can raise the cost;
# - how to run them with `cfcore.kmeans` (the course's `kmeans.py`), step by step and to the end;
# - why the cost cannot choose the number of clusters K, and why a bad seed gets stuck;
# - how k-means is the hard-assignment limit of the Gaussian mixture of notebook 02.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cfcore import common, fit, kmeans, naive_em
from cfcore.apps.plotting import savefig, scatter_clusters
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
# falls until the assignment stops changing. `cfcore.kmeans.run` stops when it falls by less
# than $10^{-4}$. The course stores the assignment as a one-hot (n, K) matrix `post`, the
# same shape as the soft assignments of notebook 02, and returns the centres inside a
# `GaussianMixture` (means, a variance per cluster, and weights $p_j = |C_j|/n$).

# %% [markdown]
# ## Lloyd's steps, one at a time
#
# `common.init` starts the way the course does: K distinct points drawn with a seeded
# generator become the first centres.

# %%
K = 4
mixture, post = common.init(X, K, seed=0)
panels = [("start: 4 random points as centres", None, mixture.mu)]
for step in range(1, 4):
    post, cost = kmeans.estep(X, mixture)  # assignment
    panels.append((f"assignment {step}: cost {cost:.1f}", post.argmax(axis=1), mixture.mu))
    mixture = kmeans.mstep(X, post)  # update
    print(f"step {step}: cost after assignment {cost:8.2f}")

fig, axes = plt.subplots(1, 4, figsize=(15, 4), sharex=True, sharey=True)
for ax, (title, labels, means) in zip(axes, panels, strict=True):
    scatter_clusters(ax, X, labels, means, title=title)
fig.suptitle("Lloyd's algorithm: colours are assignments, crosses the centres they were made to")
savefig("01_lloyd_steps", fig)
plt.show()

# %% [markdown]
# The first assignment already separates the groups roughly; each update moves the crosses
# to the middle of their colour, and the next assignment follows. The cost drops fast and
# then flattens.
#
# ## Running to convergence, from several seeds
#
# `kmeans.run` repeats the two steps to the end. Where it ends depends on where it started,
# so the course runs seeds 0-4 and keeps the lowest cost; `cfcore.fit` does exactly that
# (it calls `common.init` and `kmeans.run` once per seed).

# %%
result = fit(X, K, seeds=range(10), method="kmeans")
for seed, cost in result.seed_scores.items():
    print(f"seed {seed}: final cost {cost:8.2f}")
print(f"best: seed {result.seed}, cost {result.cost:.2f} after {result.n_iter} iterations")

# %% [markdown]
# ## A bad seed: a local optimum
#
# Seed 5 ends at a cost almost three times the best. Drawn side by side:

# %%
bad = fit(X, K, seeds=[5], method="kmeans")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
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

fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(list(Ks), costs, "o-")
ax.axvline(4, color="grey", ls=":", label="planted K = 4")
ax.set_xlabel("number of clusters K")
ax.set_ylabel("k-means cost (sum of squared distances)")
ax.legend()
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

# %% [markdown]
# ## Summary
#
# - k-means minimises the sum of squared distances by alternating nearest-centre assignment
#   and centroid update; each step can only lower the cost, so it converges, but to a local
#   optimum that depends on the seed (seed 5 above: cost 1847.6 against 670.1).
# - Run it from several seeds and keep the best (`cfcore.fit(..., method="kmeans")`).
# - The cost always falls with K, so it cannot choose K.
# - k-means is the $\sigma^2 \to 0$ limit of a spherical Gaussian mixture with equal weights.
#   Notebook 02 keeps the variance, the weights and the uncertainty, and fits them by EM.
