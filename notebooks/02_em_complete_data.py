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
# # 02 · EM for a Gaussian mixture on complete data
#
# k-means (notebook 01) gives every point to exactly one cluster and ignores how wide each
# cluster is. A Gaussian mixture keeps both: each cluster has a mean, a variance and a
# weight, and each point gets a *probability* of belonging to each cluster. This notebook
# derives the EM algorithm that fits it, line by line, then runs `cfcore.naive_em` (the
# course's `naive_em.py`) on the four planted groups.
#
# **You will learn**
# - the spherical Gaussian mixture, its likelihood, and why maximising it directly is hard;
# - Jensen's inequality, the lower bound it gives, and how the E-step makes the bound tight;
# - the M-step's closed forms for $\mu_j$, $\sigma_j^2$ and $p_j$, derived from the gradient;
# - why the log-likelihood can never decrease, and why the E-step is computed with log-sum-exp;
# - how soft assignments express uncertainty that k-means throws away.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cfcore import common, fit
from cfcore.apps.plotting import savefig, scatter_clusters
from cfcore.data import make_blobs
from cfcore.models import matched_accuracy

X, truth = make_blobs(
    n_per_cluster=[120, 80, 100, 60],
    centres=[(0.0, 0.0), (5.0, 0.5), (1.5, 5.0), (6.0, 6.0)],
    spread=[1.0, 0.8, 1.2, 0.9],
    seed=1,
)
n, d = X.shape
print(f"the same data as notebook 01: n = {n} points, d = {d}")

# %% [markdown]
# ## The model
#
# Each point $x_u \in \mathbb{R}^d$ is drawn in two stages: first a hidden cluster
# $z_u = j$ with probability $p_j$, then the point from a spherical Gaussian around that
# cluster's mean,
#
# $$
# x_u \mid z_u = j \;\sim\; \mathcal{N}(\mu_j, \sigma_j^2 I_d), \qquad
# \mathcal{N}(x \mid \mu, \sigma^2 I_d) = (2\pi\sigma^2)^{-d/2}
#     \exp\!\Big(-\frac{\lVert x - \mu \rVert^2}{2\sigma^2}\Big).
# $$
#
# The parameters are $\theta = (\mu_1..\mu_K,\ \sigma_1^2..\sigma_K^2,\ p_1..p_K)$. We never
# see $z_u$, so the probability of a point sums over it, and the log-likelihood of the data is
#
# $$
# \ell(\theta) = \sum_{u=1}^{n} \log \sum_{j=1}^{K} p_j\, \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d).
# $$
#
# The sum inside the log couples all the parameters; setting the gradient to zero gives no
# closed form. If we *did* know the clusters, the **complete-data log-likelihood**
#
# $$
# \sum_{u} \sum_{j} [z_u = j] \big(\log p_j + \log \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)\big)
# $$
#
# would split into one easy problem per cluster (its mean, its variance, its share). EM
# gets the second situation out of the first.

# %% [markdown]
# ## A lower bound (Jensen), and the E-step
#
# Take any distribution $q_u(j)$ over the clusters of point $u$ ($q_u(j) \ge 0$,
# $\sum_j q_u(j) = 1$). Multiply and divide by it inside the log; since log is concave,
# Jensen's inequality moves it outside the average:
#
# $$
# \log \sum_j p_j \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)
#   = \log \sum_j q_u(j)\, \frac{p_j \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)}{q_u(j)}
#   \;\ge\; \sum_j q_u(j) \log \frac{p_j \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)}{q_u(j)} .
# $$
#
# Summing over $u$ gives a lower bound $F(q, \theta) \le \ell(\theta)$ for every $q$. Jensen
# is an equality when the ratio inside is the same for every $j$, i.e. when
# $q_u(j) \propto p_j \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)$. Normalising:
#
# $$
# \text{E-step:}\qquad
# p(j \mid u) = \frac{p_j\, \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)}
#                    {\sum_{l} p_l\, \mathcal{N}(x_u \mid \mu_l, \sigma_l^2 I_d)} ,
# $$
#
# the posterior probability ("responsibility") of cluster $j$ for point $u$. With
# $q = p(\cdot \mid u)$ the bound touches the log-likelihood: $F(q, \theta) = \ell(\theta)$.

# %% [markdown]
# ## The M-step, derived
#
# With $q$ fixed, the part of $F$ that depends on $\theta$ is the expected complete-data
# log-likelihood (the $-\sum q \log q$ term does not involve $\theta$):
#
# $$
# Q(\theta) = \sum_u \sum_j p(j \mid u) \Big( \log p_j - \frac{d}{2} \log(2\pi\sigma_j^2)
#             - \frac{\lVert x_u - \mu_j \rVert^2}{2\sigma_j^2} \Big).
# $$
#
# Write $\hat n_j = \sum_u p(j \mid u)$, the soft count of cluster $j$.
#
# **Means.** $\dfrac{\partial Q}{\partial \mu_j} = \sum_u p(j \mid u)\, \dfrac{x_u - \mu_j}{\sigma_j^2} = 0$
# $\;\Rightarrow\;$
# $\hat\mu_j = \dfrac{1}{\hat n_j} \sum_u p(j \mid u)\, x_u$, a weighted centroid.
#
# **Variances.** $\dfrac{\partial Q}{\partial \sigma_j^2}
# = \sum_u p(j \mid u) \Big( -\dfrac{d}{2\sigma_j^2} + \dfrac{\lVert x_u - \hat\mu_j \rVert^2}{2\sigma_j^4} \Big) = 0$
# $\;\Rightarrow\;$
# $\hat\sigma_j^2 = \dfrac{1}{d\, \hat n_j} \sum_u p(j \mid u)\, \lVert x_u - \hat\mu_j \rVert^2$,
# the mean squared distance per coordinate.
#
# **Weights.** Maximise $\sum_j \hat n_j \log p_j$ subject to $\sum_j p_j = 1$: with a
# Lagrange multiplier, $\hat n_j / p_j = \lambda$ for every $j$; summing $p_j = \hat n_j/\lambda$
# over $j$ gives $\lambda = n$, so $\hat p_j = \hat n_j / n$.
#
# **Why the log-likelihood never decreases.** With $q$ from the E-step at $\theta_t$ and
# $\theta_{t+1}$ from the M-step:
# $\ell(\theta_{t+1}) \ge F(q, \theta_{t+1}) \ge F(q, \theta_t) = \ell(\theta_t)$: the first
# inequality is Jensen, the second holds because the M-step maximises $F$ over $\theta$, the
# equality is the E-step's tightness. `naive_em.run` stops when an iteration gains less than
# $10^{-6}\,|\ell|$.

# %% [markdown]
# ## Computing the E-step without underflow: log-sum-exp
#
# In $d$ dimensions a density is a product of $d$ small numbers; far from a mean it is
# $\exp(-\text{hundreds})$, which is 0 in floating point. Then the posterior is $0/0$:

# %%
log_terms = np.array([-800.0, -802.0, -810.0])  # log p_j + log N(x | mu_j, var_j) for one point
with np.errstate(divide="ignore", invalid="ignore"):
    naive = np.exp(log_terms) / np.exp(log_terms).sum()
print("posterior from the densities:", naive)

# %% [markdown]
# Subtracting the largest term $m = \max_j a_j$ first changes nothing mathematically,
# $\log \sum_j e^{a_j} = m + \log \sum_j e^{a_j - m}$, and keeps the largest exponent at
# $e^0 = 1$. `cfcore` works with log densities throughout and normalises with
# `scipy.special.logsumexp` (in `common.normalise_log_weights`):

# %%
post, log_likelihood = common.normalise_log_weights(log_terms[None, :])
print("posterior in the log domain: ", np.round(post[0], 4))
print(f"log of the point's likelihood: {log_likelihood:.4f}")

# %% [markdown]
# ## EM on the four groups
#
# `cfcore.fit(..., method="naive_em")` runs `common.init` and `naive_em.run` from seeds 0-4
# and keeps the highest log-likelihood; `result.trace` is the log-likelihood after every
# iteration of that run.

# %%
result = fit(X, 4, seeds=range(5), method="naive_em")
print(
    f"best seed {result.seed}: log-likelihood {result.log_likelihood:.4f} "
    f"after {result.n_iter} iterations"
)
steps = np.diff(result.trace)
print(f"smallest change between iterations: {steps.min():.2e} (never negative)")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(np.arange(1, result.n_iter + 1), result.trace, ".-")
ax.set_xlabel("EM iteration")
ax.set_ylabel("log-likelihood (nats, sum over 360 points)")
ax.set_title("EM never lowers the log-likelihood")
savefig("02_log_likelihood_trace", fig)
plt.show()

# %% [markdown]
# The curve rises steeply for a few iterations, then creeps: EM converges fast far from
# the optimum and slowly near it, which is why the stopping rule is relative.
#
# ## What EM found, against what was planted

# %%
order = np.argsort(result.mixture.mu[:, 0] + 10 * result.mixture.mu[:, 1])  # by position
planted = {
    "centre": [(0.0, 0.0), (5.0, 0.5), (1.5, 5.0), (6.0, 6.0)],
    "sd": [1.0, 0.8, 1.2, 0.9],
    "p": np.array([120, 80, 100, 60]) / n,
}
print("cluster   fitted mean      planted   fitted sd  planted  fitted p  planted")
for row, j in enumerate(order):
    mean = result.mixture.mu[j]
    print(
        f"{row:7d}   ({mean[0]:5.2f}, {mean[1]:5.2f})   {str(planted['centre'][row]):10s}"
        f"{np.sqrt(result.mixture.var[j]):8.2f} {planted['sd'][row]:8.2f}"
        f"{result.mixture.p[j]:10.3f} {planted['p'][row]:8.3f}"
    )

# %% [markdown]
# EM recovers the means, the different widths (as standard deviations $\sigma_j$) and the
# group shares closely, from 360 points and no labels.
#
# ## Soft assignments and their uncertainty
#
# The posterior $p(j \mid u)$ says how sure the model is. Colour each point by its most
# probable cluster, and ring the points where that probability is below 0.9:

# %%
confidence = result.post.max(axis=1)
unsure = confidence < 0.9
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
scatter_clusters(
    axes[0], X, result.post.argmax(axis=1), result.mixture.mu, title="most probable cluster"
)
axes[0].scatter(
    X[unsure, 0],
    X[unsure, 1],
    s=70,
    facecolors="none",
    edgecolors="black",
    label=f"p(j | u) < 0.9 ({unsure.sum()} points)",
)
axes[0].legend(loc="lower right")
axes[1].hist(confidence, bins=20, range=(0.25, 1.0), log=True)
axes[1].set_xlabel("probability of the most probable cluster, max_j p(j | u)")
axes[1].set_ylabel("number of points (log scale)")
savefig("02_soft_assignments", fig)
plt.show()

# %% [markdown]
# Most points are assigned with near certainty; the uncertain ones sit where two groups
# meet. k-means would give them a hard label all the same. For a recommender this matters:
# a user between two taste groups should get a blend of both groups' predictions, which is
# exactly what notebook 03 does with $\sum_j p(j \mid u)\, \mu_j$.
#
# ## Compared with k-means

# %%
km = fit(X, 4, seeds=range(5), method="kmeans")
em_labels, km_labels = result.post.argmax(axis=1), km.post.argmax(axis=1)
print(f"points on which EM and k-means agree: {matched_accuracy(km_labels, em_labels):.3f}")
print(f"k-means labels matching the planted groups: {matched_accuracy(truth, km_labels):.3f}")
print(f"EM labels matching the planted groups:      {matched_accuracy(truth, em_labels):.3f}")

# %% [markdown]
# Both recover the planted groups for about 98% of the points (agreement is measured after
# the best one-to-one renaming of cluster numbers, `cfcore.models.matched_accuracy`), and
# they agree with each other on almost every point. The points either gets wrong lie where
# two groups overlap, where no method can know which group drew them. What EM adds is not
# better labels here but the numbers behind them: a width and a share per cluster, and a
# probability per point.
#
# ## Summary
#
# - A spherical Gaussian mixture has a mean, a variance and a weight per cluster; its
#   log-likelihood has a sum inside the log, with no closed-form maximiser.
# - Jensen's inequality gives a lower bound for every distribution $q$ over clusters; the
#   E-step sets $q$ to the posterior, which makes the bound tight.
# - The M-step maximises the bound in closed form: weighted centroids, weighted mean squared
#   distance per coordinate, and soft counts over $n$.
# - Together they never lower the log-likelihood (the trace above), and log-sum-exp keeps the
#   E-step finite for points far from every mean.
# - Notebook 03 applies the same derivation when most coordinates are missing, which is the
#   situation of a ratings matrix.
