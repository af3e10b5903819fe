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
# # 02 · EM for a Gaussian mixture on complete data
#
# k-means (notebook 01) gives every point to exactly one cluster and ignores how wide each
# cluster is. A Gaussian mixture keeps both: each cluster has a mean, a variance and a
# weight, and each point gets a *probability* of belonging to each cluster. This notebook
# derives the EM algorithm that fits it, line by line, writes it in a few lines of numpy,
# then runs `cfcore.naive_em` (the course's `naive_em.py`) on the four planted groups.
#
# **You will learn**
# - the spherical Gaussian mixture, its likelihood, and why maximising it directly is hard;
# - Jensen's inequality, the lower bound it gives, and how the E-step makes the bound tight;
# - the M-step's closed forms for $\mu_j$, $\sigma_j^2$ and $p_j$, derived from the gradient;
# - why the log-likelihood can never decrease, and why the E-step is computed with log-sum-exp;
# - how to write the whole algorithm by hand, and check it against the library;
# - how to compute both steps for all components at once, as the library does;
# - how soft assignments express uncertainty that k-means throws away.
#
# Four exercises practise the E-step and the M-step without loops (Exercises 2.1 and 2.2,
# autograded), the variance update's derivation and the parameter count of a diagonal
# mixture (Exercises 2.3 and 2.4, written).

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from scipy.special import logsumexp

from cfcore import common, fit, naive_em
from cfcore.apps.plotting import PALETTE, savefig, scatter_clusters
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
# **Variances.** Setting $\partial Q / \partial \sigma_j^2$ to zero gives
# $\hat\sigma_j^2 = \dfrac{1}{d\, \hat n_j} \sum_u p(j \mid u)\, \lVert x_u - \hat\mu_j \rVert^2$,
# the mean squared distance per coordinate (Exercise 2.3 derives it).
#
# **Weights.** Maximise $\sum_j \hat n_j \log p_j$ subject to $\sum_j p_j = 1$: with a
# Lagrange multiplier, $\hat n_j / p_j = \lambda$ for every $j$; summing $p_j = \hat n_j/\lambda$
# over $j$ gives $\lambda = n$, so $\hat p_j = \hat n_j / n$.
#
# **Why the log-likelihood never decreases.** With $q$ from the E-step at $\theta_t$ and
# $\theta_{t+1}$ from the M-step:
# $\ell(\theta_{t+1}) \ge F(q, \theta_{t+1}) \ge F(q, \theta_t) = \ell(\theta_t)$: the first
# inequality is Jensen, the second holds because the M-step maximises $F$ over $\theta$, the
# equality is the E-step's tightness. The course stops when an iteration gains at most
# $10^{-6}\,|\ell|$: $\ell_{\text{new}} - \ell_{\text{old}} \le 10^{-6}\,|\ell_{\text{new}}|$.

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
# $e^0 = 1$, so the sum is at least 1 and never underflows. `cfcore` works with log
# densities throughout and normalises them in `common.normalise_log_weights`, which writes
# this log-sum-exp out (maximum, subtract, exponentiate, sum) rather than calling
# `scipy.special.logsumexp`: the posterior needs the exponentials anyway, and computing them
# once is several times faster than `logsumexp` followed by `exp`. It also sets
# responsibilities below the smallest normal float32 (`common.SMALLEST_NORMAL_FLOAT32`) to 0,
# which changes no sum but keeps the M-step's products fast:

# %%
post, log_likelihood = common.normalise_log_weights(log_terms[None, :])
print("posterior in the log domain: ", np.round(post[0], 4))
print(f"log of the point's likelihood: {log_likelihood:.4f}")

# %% [markdown]
# ## The algorithm by hand, before the library
#
# The E-step in the log domain, the three closed forms of the M-step and the course's
# stopping rule, in plain numpy with a loop over the components. `a[u, j]` is
# $\log p_j + \log \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)$, filled one column per
# component; the log-sum-exp over $j$ is written out as in the previous section; the M-step
# takes the components one at a time, `w` being the responsibilities $p(j \mid u)$ of
# component $j$ for every point.


# %%
def em(X, mu, var, p, tol=1e-6):
    """EM for a spherical Gaussian mixture from (mu, var, p); returns (mu, var, p, ll)."""
    n, d = X.shape
    K = len(p)
    mu, var, p = mu.copy(), var.copy(), p.copy()  # the M-step overwrites them
    previous = None
    while True:
        a = np.empty((n, K))  # E-step: the log joint density of every point and component
        for j in range(K):
            sq_j = ((X - mu[j]) ** 2).sum(axis=1)  # ||x_u - mu_j||^2 for every u
            a[:, j] = np.log(p[j]) - 0.5 * d * np.log(2 * np.pi * var[j]) - sq_j / (2 * var[j])
        m = a.max(axis=1, keepdims=True)  # log-sum-exp over j: the largest term first
        log_px = m + np.log(np.exp(a - m).sum(axis=1, keepdims=True))  # log p(x_u)
        post, ll = np.exp(a - log_px), log_px.sum()
        for j in range(K):  # M-step: the closed forms, one component at a time
            w = post[:, j]
            n_j = w.sum()  # the soft count of component j
            mu[j] = w @ X / n_j
            var[j] = w @ ((X - mu[j]) ** 2).sum(axis=1) / (d * n_j)
            p[j] = n_j / n
        if previous is not None and ll - previous <= tol * abs(ll):  # the course's rule
            return mu, var, p, ll
        previous = ll


# %% [markdown]
# From the course's start (`common.init`, seed 0), the hand-written loop and
# `cfcore.naive_em.run` must end at the same mixture and log-likelihood:

# %%
start, start_post = common.init(X, 4, seed=0)
by_hand = em(X, *start)
library, _, library_ll = naive_em.run(X, start, start_post)
for ours, theirs in zip(by_hand, (*library, library_ll), strict=True):
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
print(f"by hand: log-likelihood {by_hand[3]:.6f}; naive_em.run: {library_ll:.6f}")

# %% [markdown]
# The library adds input checks, both steps for all components at once with matrix products
# (Exercises 2.1 and 2.2 write them), components that lose every point keeping their previous
# parameters, an optional variance floor, an error
# when a component collapses onto a point, and a limit on the number of iterations.

# %% [raw]
# # BEGIN QUESTION
# name: q02_estep
# points: 2

# %% [markdown]
# ### Exercise 2.1 — the E-step for all components at once
#
# Write `my_estep(X, mixture)`: given points `X` (n, d) and a `common.GaussianMixture`
# (`mixture.mu` (K, d), `mixture.var` (K,), `mixture.p` (K,)), return the posterior
# $p(j \mid u)$ as an (n, K) array and the log-likelihood
# $\ell = \sum_u \log \sum_j p_j\, \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)$ as a float.
# Unlike `em` above, use no loop over the components or the points, and build no (n, K, d)
# array (a test checks): get the (n, K) squared distances from the expansion
# $\lVert x_u - \mu_j \rVert^2 = \lVert x_u \rVert^2 - 2\, x_u \cdot \mu_j + \lVert \mu_j \rVert^2$
# (one matrix product), the (n, K) log joint densities by broadcasting the K variances and
# weights along the rows, and the log-sum-exp of every row with `scipy.special.logsumexp`
# (imported above; `np.logaddexp.reduce` also does it), so that points far from every mean
# still get a finite posterior (the tests include such points). It is graded against
# `cfcore.naive_em.estep`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def my_estep(X, mixture):
    """Posterior (n, K) and log-likelihood of a spherical Gaussian mixture."""
    # BEGIN SOLUTION
    mu, var, p = mixture
    sq = (X**2).sum(axis=1)[:, None] - 2 * X @ mu.T + (mu**2).sum(axis=1)  # (n, K)
    log_joint = np.log(p) - 0.5 * X.shape[1] * np.log(2 * np.pi * var) - sq / (2 * var)
    log_px = logsumexp(log_joint, axis=1, keepdims=True)  # (n, 1): log p(x_u)
    return np.exp(log_joint - log_px), float(log_px.sum())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
for points in (X, X + 100.0):  # the second: every density underflows to 0 without log-sum-exp
    ours, ours_ll = my_estep(points, start)
    expected, expected_ll = naive_em.estep(points, start)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours_ll, expected_ll, rtol=1e-10)

# %%
import tracemalloc

rng = np.random.default_rng(23)  # an (n, K, d) array would take 8 MB here
wide_X = rng.normal(size=(2000, 50))
wide = common.GaussianMixture(rng.normal(size=(10, 50)), np.full(10, 2.0), np.full(10, 0.1))
tracemalloc.start()
try:
    wide_post, _ = my_estep(wide_X, wide)
    peak = tracemalloc.get_traced_memory()[1]  # the most memory held at once, in bytes
finally:
    tracemalloc.stop()
np.testing.assert_allclose(wide_post, naive_em.estep(wide_X, wide)[0], rtol=1e-10, atol=1e-14)
assert peak < wide_X.nbytes * 10 / 2, "my_estep built an (n, K, d) array"

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng = np.random.default_rng(21)
other_X = np.vstack(
    [3.0 * rng.normal(size=(50, 5)), 60.0 + rng.normal(size=(10, 5))]
)  # 10 far away
other = common.GaussianMixture(
    rng.normal(size=(3, 5)), np.array([0.5, 2.0, 8.0]), np.array([0.2, 0.3, 0.5])
)
ours, ours_ll = my_estep(other_X, other)
expected, expected_ll = naive_em.estep(other_X, other)
np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)
np.testing.assert_allclose(ours_ll, expected_ll, rtol=1e-10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q02_mstep
# points: 2

# %% [markdown]
# ### Exercise 2.2 — the M-step for all components at once
#
# Write `my_mstep(X, post)`: given points `X` (n, d) and a posterior `post` (n, K) whose
# rows sum to 1, return `common.GaussianMixture(mu, var, p)` with the soft counts
# $\hat n_j = \sum_u p(j \mid u)$, the weighted centroids
# $\hat\mu_j = \frac{1}{\hat n_j} \sum_u p(j \mid u)\, x_u$, the variances
# $\hat\sigma_j^2 = \frac{1}{d\, \hat n_j} \sum_u p(j \mid u)\, \lVert x_u - \hat\mu_j \rVert^2$
# and the weights $\hat p_j = \hat n_j / n$. Unlike the loop in `em`, use no loop over the
# components: the soft counts are column sums of `post`, the weighted sums
# $\sum_u p(j \mid u)\, x_u$ of all K components are one (K, d) matrix product, and
# expanding the square,
#
# $$
# \sum_u p(j \mid u)\, \lVert x_u - \hat\mu_j \rVert^2
#   = \sum_u p(j \mid u)\, \lVert x_u \rVert^2
#   - 2\, \hat\mu_j \cdot \sum_u p(j \mid u)\, x_u + \hat n_j \lVert \hat\mu_j \rVert^2 ,
# $$
#
# gives the variances from that product and one more, as `cfcore.naive_em.mstep` computes
# them. It is graded against `cfcore.naive_em.mstep`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def my_mstep(X, post):
    """The closed-form M-step of a spherical Gaussian mixture."""
    # BEGIN SOLUTION
    n_hat = post.sum(axis=0)  # (K,): the soft counts
    weighted = post.T @ X  # (K, d): row j is sum_u p(j | u) x_u
    mu = weighted / n_hat[:, None]
    sq_norms = (X**2).sum(axis=1)  # (n,): ||x_u||^2
    sse = post.T @ sq_norms - 2 * (mu * weighted).sum(axis=1) + n_hat * (mu**2).sum(axis=1)
    return common.GaussianMixture(mu, sse / (X.shape[1] * n_hat), n_hat / len(X))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
first_post, _ = naive_em.estep(X, start)
ours, expected = my_mstep(X, first_post), naive_em.mstep(X, first_post)
for got, want in zip(ours, expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-10)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng = np.random.default_rng(22)
other_X, other_post = rng.normal(size=(50, 4)), rng.dirichlet(np.ones(3), size=50)
ours, expected = my_mstep(other_X, other_post), naive_em.mstep(other_X, other_post)
for got, want in zip(ours, expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q02_variance_update
# manual: true
# points: 2

# %% [markdown]
# ### Exercise 2.3 (written) — derive the variance update
#
# Starting from the complete-data log-likelihood, (a) write the *expected* complete-data
# log-likelihood $Q(\theta)$ under the posterior $p(j \mid u)$ of the E-step, (b) keep only
# the terms that involve $\sigma_j^2$, and (c) show that they are maximised at
# $\hat\sigma_j^2 = \sum_u p(j \mid u)\, \lVert x_u - \hat\mu_j \rVert^2 / (d\, \hat n_j)$,
# checking that the stationary point is a maximum. (d) Why may $\hat\mu_j$ be used in place
# of $\mu_j$, and why is there a $d$ in the denominator?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) The complete-data log-likelihood is
# $\sum_u \sum_j [z_u = j]\, \big(\log p_j + \log \mathcal{N}(x_u \mid \mu_j, \sigma_j^2 I_d)\big)$.
# Under $q_u = p(\cdot \mid u)$ the only random quantity is the indicator, and
# $\mathbb{E}\,[z_u = j] = p(j \mid u)$, so by linearity of expectation, with
# $\log \mathcal{N}(x \mid \mu, \sigma^2 I_d) = -\frac{d}{2} \log(2\pi\sigma^2)
# - \frac{\lVert x - \mu \rVert^2}{2\sigma^2}$,
#
# $$
# Q(\theta) = \sum_u \sum_j p(j \mid u) \Big( \log p_j - \frac{d}{2} \log(2\pi\sigma_j^2)
#             - \frac{\lVert x_u - \mu_j \rVert^2}{2\sigma_j^2} \Big).
# $$
#
# (b) Write $s = \sigma_j^2$, $\hat n_j = \sum_u p(j \mid u)$ and
# $S_j = \sum_u p(j \mid u)\, \lVert x_u - \mu_j \rVert^2$. The terms with $s$ are those of
# component $j$:
#
# $$
# Q_j(s) = -\frac{d\, \hat n_j}{2} \log(2\pi s) - \frac{S_j}{2 s} .
# $$
#
# (c) Differentiating,
#
# $$
# \frac{\partial Q_j}{\partial s} = -\frac{d\, \hat n_j}{2 s} + \frac{S_j}{2 s^2} = 0
# \iff s = \frac{S_j}{d\, \hat n_j} .
# $$
#
# The derivative is positive for $s < S_j / (d \hat n_j)$ and negative above it (multiply
# by $2s^2 > 0$: the sign is that of $S_j - d \hat n_j s$), so $Q_j$ rises then falls and the
# stationary point is its unique maximum on $s > 0$. At that point the second derivative
# is $\frac{d \hat n_j}{2s^2} - \frac{S_j}{s^3} = -\frac{d \hat n_j}{2 s^2} < 0$. This
# needs $S_j > 0$: if component $j$'s weighted points all sat at its mean, $Q_j \to +\infty$
# as $s \to 0$. That is the collapse `naive_em.mstep` raises an error for.
#
# (d) The stationarity condition for $\mu_j$, $\sum_u p(j \mid u)(x_u - \mu_j) / s = 0$,
# gives $\hat\mu_j$ whatever $s > 0$ is, so the joint maximiser over $(\mu_j, s)$ has
# $\mu_j = \hat\mu_j$. Substituting it into $S_j$ gives
# $\hat\sigma_j^2 = \sum_u p(j \mid u) \lVert x_u - \hat\mu_j \rVert^2 / (d\, \hat n_j)$.
# The $d$ appears because one variance is shared by the $d$ coordinates:
# $\lVert x_u - \hat\mu_j \rVert^2$ adds $d$ squared deviations, so dividing by $d\,\hat n_j$
# averages over both the points (weighted) and the coordinates. With $d = 1$ and one-hot
# posteriors it is the ordinary maximum-likelihood variance of a cluster (divided by
# $n_j$, not $n_j - 1$).

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

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

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(np.arange(1, result.n_iter + 1), result.trace, ".-", color=PALETTE["blue"])
ax.set_xlabel("EM iteration")
ax.set_ylabel(f"log-likelihood\n(nats, sum over {n} points)")
ax.set_title("EM never lowers the log-likelihood")
savefig("02_log_likelihood_trace", fig)
plt.show()

# %%
gain = result.trace[-1] - result.trace[0]
early = (result.trace[5] - result.trace[0]) / gain
display(
    Markdown(
        f"The curve rises steeply, then creeps: of the {gain:.1f} nats gained between the first "
        f"and the last of the {result.n_iter} iterations, {early:.1%} come in the first five "
        f"steps, and the last step gains {steps[-1]:.1e}. EM converges fast far from the optimum "
        "and slowly near it. The stopping rule is relative (a rise of at most 1e-6 of "
        "|log-likelihood|), so it means the same on a small data set and a large one."
    )
)

# %% [markdown]
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
# group shares closely, from the unlabelled points alone.

# %% [raw]
# # BEGIN QUESTION
# name: q02_diagonal_bic
# manual: true
# points: 2

# %% [markdown]
# ### Exercise 2.4 (written) — a diagonal covariance: parameters and BIC
#
# Replace each spherical covariance $\sigma_j^2 I_d$ by a diagonal one,
# $\mathrm{diag}(\sigma_{j1}^2, \dots, \sigma_{jd}^2)$. (a) Count the free parameters of the
# spherical mixture and of the diagonal one, in terms of K and d. (b) Write the BIC of each
# in the course's sign, $\mathrm{BIC} = \ell - \frac{1}{2}\, (\text{parameters})\, \ln n$ (higher
# is better; notebook 04 derives it), and say by how much the diagonal mixture's
# log-likelihood must exceed the spherical one's for BIC to prefer it. (c) Give the M-step
# update of $\sigma_{ji}^2$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) Spherical: $Kd$ means, $K$ variances and $K - 1$ weights (they sum
# to 1), in all $Kd + 2K - 1$, which is `common.n_parameters`. Diagonal: $Kd$ means, $Kd$
# variances and $K - 1$ weights, in all $2Kd + K - 1$. The diagonal mixture has $K(d - 1)$
# more; the two coincide for $d = 1$.
#
# (b) $\mathrm{BIC}_{\text{sph}} = \ell_{\text{sph}} - \frac{1}{2}(Kd + 2K - 1) \ln n$ and
# $\mathrm{BIC}_{\text{diag}} = \ell_{\text{diag}} - \frac{1}{2}(2Kd + K - 1) \ln n$. BIC
# prefers the diagonal mixture when
# $\ell_{\text{diag}} - \ell_{\text{sph}} > \frac{1}{2} K (d - 1) \ln n$; for the K = 4,
# d = 2 of this notebook that is $2 \ln n$ nats. The diagonal mixture nests the spherical
# one (equal variances per component), so its maximised $\ell$ is never lower; BIC asks
# whether the gain pays for the extra parameters.
#
# (c) The terms of $Q$ with $\sigma_{ji}^2$ are
# $\sum_u p(j \mid u) \big( -\frac{1}{2} \log(2\pi\sigma_{ji}^2)
# - \frac{(x_{ui} - \mu_{ji})^2}{2\sigma_{ji}^2} \big)$, the one-dimensional case of
# Exercise 2.3, so
# $\hat\sigma_{ji}^2 = \frac{1}{\hat n_j} \sum_u p(j \mid u)\, (x_{ui} - \hat\mu_{ji})^2$. The
# spherical $\hat\sigma_j^2$ is the average of these over the $d$ coordinates.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Soft assignments and their uncertainty
#
# The posterior $p(j \mid u)$ says how sure the model is. Colour each point by its most
# probable cluster, and ring the points where that probability is below 0.9:

# %%
confidence = result.post.max(axis=1)
unsure = confidence < 0.9
fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), width_ratios=[1.15, 1])
title = f"most probable cluster; ringed:\nmax$_j\\, p(j \\mid u) < 0.9$ ({unsure.sum()} points)"
scatter_clusters(axes[0], X, result.post.argmax(axis=1), result.mixture.mu, title=title)
axes[0].scatter(X[unsure, 0], X[unsure, 1], s=70, facecolors="none", edgecolors="black")
axes[1].hist(confidence, bins=20, range=(0.25, 1.0), log=True, color=PALETTE["blue"])
axes[1].set_title("confidence of the most probable cluster")
axes[1].set_xlabel(r"max$_j\, p(j \mid u)$")
axes[1].set_ylabel("number of points (log scale)")
fig.tight_layout()
savefig("02_soft_assignments", fig)
plt.show()

# %%
sure = (confidence > 0.99).mean()
display(
    Markdown(
        f"{sure:.1%} of the {n} points are assigned with probability above 0.99; the "
        f"{unsure.sum()} below 0.9 sit where two groups meet."
    )
)

# %% [markdown]
# k-means would give the uncertain points a hard label all the same. For a recommender this
# matters: a user between two taste groups should get a blend of both groups' predictions,
# which is exactly what notebook 03 does with $\sum_j p(j \mid u)\, \mu_j$.
#
# ## Compared with k-means

# %%
km = fit(X, 4, seeds=range(5), method="kmeans")
em_labels, km_labels = result.post.argmax(axis=1), km.post.argmax(axis=1)
agree = matched_accuracy(km_labels, em_labels)
km_right, em_right = matched_accuracy(truth, km_labels), matched_accuracy(truth, em_labels)
print(f"points on which EM and k-means agree: {agree:.3f}")
print(f"k-means labels matching the planted groups: {km_right:.3f}")
print(f"EM labels matching the planted groups:      {em_right:.3f}")

# %%
display(
    Markdown(
        f"k-means recovers the planted group of {km_right:.1%} of the {n} points and EM of "
        f"{em_right:.1%} (after the best one-to-one renaming of cluster numbers, "
        f"`cfcore.models.matched_accuracy`); the two agree with each other on {agree:.1%} "
        f"of them ({round((1 - agree) * n)} points differ)."
    )
)

# %% [markdown]
# The points either method gets wrong lie where two groups overlap, where no method can know
# which group drew them. What EM adds is not better labels here but the numbers behind
# them: a width and a share per cluster, and a probability per point.
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
#   E-step finite for points far from every mean. A dozen lines of numpy reproduce
#   `cfcore.naive_em.run`; expanding the squared distance computes both steps for all
#   components at once, with matrix products.
# - Notebook 03 applies the same derivation when most coordinates are missing, which is the
#   situation of a ratings matrix.
