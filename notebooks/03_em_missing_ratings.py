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
# # 03 · EM with missing ratings: completing a ratings matrix
#
# In a ratings matrix each row is a user, each column an item, and most entries are missing:
# a MovieLens user has rated only a small share of the movies (measured below). Notebook 02
# fitted a Gaussian mixture to complete points. This notebook fits the same model when each
# user shows only some of their coordinates, then uses it to predict the missing ones.
#
# **You will learn**
# - why a spherical Gaussian over only the observed coordinates is simply its marginal, and
#   what assumption about missingness that needs;
# - the E-step and M-step when every sum runs over observed entries only, derived, then
#   written by hand in plain numpy and checked against `cfcore.em`;
# - why a mean coordinate is updated only with enough support (the course's $\ge 1$ rule) and
#   why the variance has a floor;
# - how the matrix is filled with posterior-weighted means, on a worked example and on
#   MovieLens 100K through a sparse matrix;
# - why the course's start (K users' rows, 0 where they did not rate) leaves groups of one
#   user on sparse ratings, and how `fit` starts sparse ratings instead.

# %%
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from IPython.display import Markdown, display
from matplotlib.ticker import StrMethodFormatter

from cfcore import GaussianMixture, common, em, fit
from cfcore.apps.plotting import PALETTE, savefig
from cfcore.data import load_movielens_100k
from cfcore.models import held_out_errors

# %% [markdown]
# ## The model, and the marginal over observed coordinates
#
# User $u$ rated the items $C_u \subseteq \{1..d\}$; their ratings are $x_{C_u}$. As in
# notebook 02, a hidden taste group $z_u = j$ is drawn with probability $p_j$ and the full
# rating vector from $\mathcal{N}(\mu_j, \sigma_j^2 I_d)$. Because the covariance is
# $\sigma_j^2 I_d$, the coordinates are independent given the group, and the density factorises:
#
# $$
# \mathcal{N}(x \mid \mu_j, \sigma_j^2 I_d) = \prod_{i=1}^{d} \mathcal{N}(x_i \mid \mu_{ji}, \sigma_j^2).
# $$
#
# The probability of what we saw integrates the missing coordinates out. Each missing
# factor is a density in its own variable and integrates to 1, so only the observed factors
# remain:
#
# $$
# p(x_{C_u} \mid z_u = j) = \int \prod_{i=1}^{d} \mathcal{N}(x_i \mid \mu_{ji}, \sigma_j^2)
#     \, dx_{\bar C_u}
#   = \prod_{i \in C_u} \mathcal{N}(x_{ui} \mid \mu_{ji}, \sigma_j^2)
#   = (2\pi\sigma_j^2)^{-|C_u|/2}
#     \exp\!\Big(-\frac{1}{2\sigma_j^2} \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2\Big).
# $$
#
# This treats an entry's being missing as unrelated to its value ("missing at random").
# Real users mostly rate what they chose to watch, so the assumption is only approximate;
# it is the one the course makes.

# %% [markdown]
# ## The E-step over observed entries
#
# Exactly as in notebook 02, with the marginal in place of the full density:
#
# $$
# \log p(j \mid u) = \log p_j - \frac{|C_u|}{2} \log(2\pi\sigma_j^2)
#   - \frac{1}{2\sigma_j^2} \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2 \;-\; \log Z_u ,
# $$
#
# with $\log Z_u$ the log-sum-exp over $j$ of the rest, which is also user $u$'s contribution
# to the log-likelihood. (The course adds $10^{-16}$ to $p_j$ before the log so that a
# component whose weight reaches 0 stays finite; `cfcore.em` does the same.)
#
# **With matrix products.** Let $M$ be the 0/1 matrix of observed entries. Expanding the
# square, the sum over observed entries becomes three terms computed for all users and
# components at once:
#
# $$
# \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2 = \lVert x_{u} \rVert^2 - 2\,(X \mu^\top)_{uj} + (M\,(\mu^{2})^\top)_{uj}.
# $$
#
# These are ordinary matrix products, so the same line of code in `cfcore.em` works on the
# course's dense matrix (0 = missing) and on a `scipy.sparse` matrix that stores only the
# ratings. A user with no ratings has every sum empty: their posterior is the prior $p$.

# %% [markdown]
# ## The M-step over observed entries
#
# The expected complete-data log-likelihood is notebook 02's with sums over observed entries:
#
# $$
# Q(\theta) = \sum_u \sum_j p(j \mid u) \Big( \log p_j - \frac{|C_u|}{2}\log(2\pi\sigma_j^2)
#   - \frac{1}{2\sigma_j^2} \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2 \Big).
# $$
#
# **Means.** Only users who rated item $i$ involve $\mu_{ji}$:
# $\dfrac{\partial Q}{\partial \mu_{ji}} = \sum_{u: i \in C_u} p(j \mid u)\, \dfrac{x_{ui} - \mu_{ji}}{\sigma_j^2} = 0$
# $\;\Rightarrow\;$
# $\hat\mu_{ji} = \dfrac{\sum_{u} p(j \mid u)\, [i \in C_u]\, x_{ui}}{\sum_u p(j \mid u)\, [i \in C_u]}$:
# the average rating of item $i$ among the users of group $j$ who rated it, weighted by how
# much they belong to $j$. In matrix form the numerator is $(\text{post}^\top X)_{ji}$ and the
# denominator $(\text{post}^\top M)_{ji}$.
#
# **Support.** That denominator is the number of ratings of item $i$ that group $j$ "owns".
# If it is 0 the mean is $0/0$; if it is 0.02 the mean is one rating seen through 2% of a
# user — noise. The course updates $\mu_{ji}$ only where the support is at least 1 (one
# whole rating's worth) and otherwise keeps the previous value.
#
# **Variances.** $\dfrac{\partial Q}{\partial \sigma_j^2} = 0$ gives the mean squared error
# per observed rating of the group:
# $\hat\sigma_j^2 = \dfrac{\sum_u p(j \mid u) \sum_{i \in C_u} (x_{ui} - \hat\mu_{ji})^2}{\sum_u p(j \mid u)\, |C_u|}$.
#
# **Floor.** A group that captures a few users who agree exactly has $\hat\sigma_j^2 \to 0$,
# and the likelihood grows without bound as it shrinks: a degenerate optimum, not a good
# model. The course floors the variance at 0.25, a standard deviation of half a star.
#
# **Weights.** As before, $\hat p_j = \frac{1}{n}\sum_u p(j \mid u)$.

# %% [markdown]
# ## Filling the matrix
#
# To predict a missing rating, average the groups' means by how much the user belongs to
# each, which is the posterior mean of $x_{ui}$ given what the user rated:
#
# $$
# \hat x_{ui} = \mathbb{E}[x_{ui} \mid x_{C_u}] = \sum_j p(j \mid u)\, \mu_{ji}, \qquad i \notin C_u ;
# $$
#
# observed ratings are kept as they are. `em.fill_matrix(X, mixture)` does this.

# %% [markdown]
# ## A worked example
#
# Eight users, six movies, 0 = missing. Users 0-3 like the first three movies, users 4-7 the
# next two; only user 6 rated the last movie.

# %%
X = np.array(
    [
        [5, 4, 0, 1, 2, 0],
        [4, 5, 5, 0, 1, 0],
        [5, 0, 4, 2, 0, 0],
        [0, 5, 4, 1, 1, 0],
        [1, 2, 0, 5, 4, 0],
        [2, 0, 1, 4, 5, 0],
        [1, 1, 2, 0, 5, 4],
        [0, 2, 1, 5, 4, 0],
    ],
    dtype=float,
)
np.set_printoptions(precision=2, suppress=True)
start, uniform = common.init(X, 2, seed=0)
print("initial means (two rows of X, zeros included):\n", start.mu)
print("initial variances:", start.var)

# %% [markdown]
# The course initialises the means with two users' rows, missing entries (0) included, and
# both variances with the mean squared difference over all entries, so they start wide.
#
# ### The algorithm by hand
#
# Before using the library, here are both steps exactly as derived above, one user (E-step)
# and one mean coordinate (M-step) at a time. `C` is the boolean mask of $C_u$; the
# log-joint is normalised in the log domain with notebook 02's log-sum-exp.


# %%
def estep_by_hand(X, mixture):
    """Masked E-step, one user at a time: (post (n, K), log-likelihood)."""
    mu, var, p = mixture
    log_joint = np.empty((X.shape[0], len(p)))
    for u, x in enumerate(X):
        C = x != 0  # the items user u rated
        sq = ((x[C] - mu[:, C]) ** 2).sum(axis=1)  # sum over i in C_u, one per group j
        log_joint[u] = np.log(p + 1e-16) - C.sum() / 2 * np.log(2 * np.pi * var) - sq / (2 * var)
    m = log_joint.max(axis=1, keepdims=True)  # log-sum-exp over j
    log_norm = m + np.log(np.exp(log_joint - m).sum(axis=1, keepdims=True))
    return np.exp(log_joint - log_norm), float(log_norm.sum())


def mstep_by_hand(X, post, mixture, min_variance=0.25):
    """Masked M-step, one mean coordinate at a time, with the support rule and the floor."""
    (K, d), observed = mixture.mu.shape, X != 0
    mu = np.copy(mixture.mu)  # a mean without support keeps its previous value
    for j, i in np.ndindex(K, d):
        support = post[observed[:, i], j].sum()  # sum_u p(j|u) [i in C_u]
        if support >= 1:
            mu[j, i] = post[observed[:, i], j] @ X[observed[:, i], i] / support
    sse = [post[:, j] @ (observed * (X - mu[j]) ** 2).sum(axis=1) for j in range(K)]
    var = np.maximum(np.array(sse) / (post.T @ observed).sum(axis=1), min_variance)
    return GaussianMixture(mu, var, post.sum(axis=0) / len(X))


# %% [markdown]
# The loop alternates them and stops, as the course's does, once the log-likelihood rises by
# at most $10^{-6}$ of its value (the M-step after the last E-step is still applied):


# %%
def run_by_hand(X, mixture, tol=1e-6):
    previous = None
    while True:
        post, ll = estep_by_hand(X, mixture)
        mixture = mstep_by_hand(X, post, mixture)
        if previous is not None and ll - previous <= tol * abs(ll):
            return mixture, post, ll
        previous = ll


# %% [markdown]
# The same numbers as `cfcore.em`, step by step and to convergence:

# %%
post, ll = estep_by_hand(X, start)
np.testing.assert_allclose(post, em.estep(X, start)[0], rtol=1e-10, atol=1e-14)
np.testing.assert_allclose(ll, em.estep(X, start)[1], rtol=1e-12)
for ours, library in zip(mstep_by_hand(X, post, start), em.mstep(X, post, start), strict=True):
    np.testing.assert_allclose(ours, library, rtol=1e-10)
by_hand, library = run_by_hand(X, start), em.run(X, start, uniform)
for ours, theirs in zip([*by_hand[0], *by_hand[1:]], [*library[0], *library[1:]], strict=True):
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)

# %% [markdown]
# `cfcore.em` computes the same thing without a loop over users, with the matrix products
# of the derivation, so that it also runs on a sparse matrix; the two exercises below ask
# for exactly that.

# %% [raw]
# # BEGIN QUESTION
# name: q03_estep
# points: 3

# %% [markdown]
# ### Exercise 3.1 — the masked E-step with matrix products
#
# Write `estep_matrix(X, mixture)` that returns `(post, log_likelihood)` like `em.estep`,
# for a dense `X` with 0 = missing, **without a loop over users**: build the observed-entry
# indicator $M$ and use
# $\sum_{i \in C_u} (x_{ui} - \mu_{ji})^2 = \lVert x_{u} \rVert^2 - 2\,(X \mu^\top)_{uj} + (M\,(\mu^{2})^\top)_{uj}$
# and $|C_u| = \sum_i M_{ui}$ in
# $\log p(j \mid u) = \log(p_j + 10^{-16}) - \frac{|C_u|}{2} \log(2\pi\sigma_j^2) - \frac{1}{2\sigma_j^2} \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2 - \log Z_u$,
# normalised with a log-sum-exp over $j$. The log-likelihood is $\sum_u \log Z_u$.

# %% [raw]
# # BEGIN SOLUTION


# %%
def estep_matrix(X, mixture):
    """Masked E-step for all users at once: (post (n, K), log-likelihood)."""
    # BEGIN SOLUTION
    M = (X != 0).astype(float)  # the indicator of observed entries
    mu, var, log_prior = mixture.mu, mixture.var, np.log(mixture.p + 1e-16)
    sq = (X**2).sum(axis=1)[:, None] - 2 * X @ mu.T + M @ (mu**2).T
    counts = M.sum(axis=1, keepdims=True)  # |C_u|
    log_joint = log_prior - counts / 2 * np.log(2 * np.pi * var) - sq / (2 * var)
    top = log_joint.max(axis=1, keepdims=True)
    log_Z = top + np.log(np.exp(log_joint - top).sum(axis=1, keepdims=True))
    return np.exp(log_joint - log_Z), float(log_Z.sum())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_post, _ll = estep_matrix(X, start)
np.testing.assert_allclose(_post, em.estep(X, start)[0], rtol=1e-8, atol=1e-12)
np.testing.assert_allclose(_ll, em.estep(X, start)[1], rtol=1e-10)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
_rng = np.random.default_rng(3)
_X = _rng.integers(1, 6, size=(40, 12)) * (_rng.random((40, 12)) < 0.4)
_X[0] = 0  # a user with no ratings: their posterior is the prior
_mix = GaussianMixture(
    _rng.uniform(1, 5, (3, 12)), _rng.uniform(0.3, 2, 3), _rng.dirichlet([1, 1, 1])
)
_post, _ll = estep_matrix(_X.astype(float), _mix)
np.testing.assert_allclose(_post, em.estep(_X, _mix)[0], rtol=1e-8, atol=1e-12)
np.testing.assert_allclose(_ll, em.estep(_X, _mix)[1], rtol=1e-10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q03_mstep
# points: 3

# %% [markdown]
# ### Exercise 3.2 — the masked M-step and its support rule, with matrix products
#
# Write `mstep_matrix(X, post, mixture, min_variance=0.25)` that returns the
# `GaussianMixture` of `em.mstep`, without loops over users or items: the support
# $(\text{post}^\top M)_{ji} = \sum_u p(j \mid u)[i \in C_u]$ and the numerator
# $(\text{post}^\top X)_{ji}$ give $\hat\mu_{ji}$ **only where the support is at least 1**
# (elsewhere $\mu_{ji}$ keeps its value in `mixture`); then
# $\hat\sigma_j^2 = \max\big(\text{min\_variance},\ \sum_u p(j \mid u) \sum_{i \in C_u} (x_{ui} - \hat\mu_{ji})^2 \,/\, \sum_u p(j \mid u)\, |C_u|\big)$
# with the *updated* means, and $\hat p_j = \frac{1}{n}\sum_u p(j \mid u)$.

# %% [raw]
# # BEGIN SOLUTION


# %%
def mstep_matrix(X, post, mixture, min_variance=0.25):
    """Masked M-step for all users at once, with the support rule and the variance floor."""
    # BEGIN SOLUTION
    M = (X != 0).astype(float)
    support = post.T @ M
    mu = mixture.mu.copy()
    supported = support >= 1
    mu[supported] = (post.T @ X)[supported] / support[supported]
    sq = (X**2).sum(axis=1)[:, None] - 2 * X @ mu.T + M @ (mu**2).T  # with the new means
    var = np.maximum((post * sq).sum(axis=0) / support.sum(axis=1), min_variance)
    return GaussianMixture(mu, var, post.mean(axis=0))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_post = em.estep(X, start)[0]
for _ours, _library in zip(mstep_matrix(X, _post, start), em.mstep(X, _post, start), strict=True):
    np.testing.assert_allclose(_ours, _library, rtol=1e-8)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
_rng = np.random.default_rng(4)
_X = (_rng.integers(1, 6, size=(30, 10)) * (_rng.random((30, 10)) < 0.5)).astype(float)
_X[:, -1] = 0
_X[5, -1] = 4.0  # one rating of the last item: support < 1 for every group
_mix = GaussianMixture(
    _rng.uniform(1, 5, (3, 10)), _rng.uniform(0.3, 2, 3), _rng.dirichlet([1, 1, 1])
)
_post = em.estep(_X, _mix)[0]
for _floor in (0.25, 2.0):
    _ours = mstep_matrix(_X, _post, _mix, min_variance=_floor)
    for _a, _b in zip(_ours, em.mstep(_X, _post, _mix, min_variance=_floor), strict=True):
        np.testing.assert_allclose(_a, _b, rtol=1e-8)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The same example with `cfcore.em`
#
# From here on the notebook uses the library. One E-step:

# %%
post, ll = em.estep(X, start)
print("p(j | u) after the first E-step:\n", post)
print(f"log-likelihood: {ll:.4f}")

# %% [markdown]
# And one M-step. The support $\sum_u p(j \mid u)[i \in C_u]$ of the last movie is below 1
# for both groups (only one user rated it), so its mean keeps its initial value:

# %%
support = post.T @ (X != 0)
updated = em.mstep(X, post, start)
print("support of each mean coordinate:\n", support)
print("means after the first M-step:\n", updated.mu)

# %% [markdown]
# Running to convergence and filling:

# %%
fitted, post, ll = em.run(X, start, uniform)
filled = em.fill_matrix(X, fitted)
print(f"log-likelihood {ll:.4f}; weights {fitted.p}; variances {fitted.var}")
print("means:\n", fitted.mu)
print("filled matrix (observed ratings kept):\n", filled)

# %%
first = int(post[0].argmax())  # the group of users 0-3
display(
    Markdown(
        f"The two taste groups are found, and the gaps are filled with the group's average: "
        f"user 0 gets **{filled[0, 2]:.2f}** for movie 2, and user 1 gets "
        f"**{filled[1, 3]:.2f}** for movie 3, which the other group likes. Both variances "
        f"ended at the floor, {fitted.var.max():g}: these eight users agree too well for six "
        f"movies.\n\n"
        f"Look at the last column, though. Group {first} (users 0-3) has no rating of that "
        f"movie, so its mean there never left its initial value, "
        f"**{fitted.mu[first, 5]:g}**, which was a **0 copied from a missing entry** of the "
        f"initial row. Users 0-3 are predicted {filled[0, 5]:.2f} stars for it, off the 1-5 "
        f"scale."
    )
)

# %% [markdown]
# The support rule prevents a $0/0$ but not this. On this dense matrix `fit` keeps the
# course's start, and with it this 0; on a sparse matrix it starts a mean the seeded user
# did not rate at the movie's mean rating instead (below). Notebook 06 evaluates a variant that
# models what the biases m + b_u + c_i leave and shrinks poorly supported cluster means of
# it toward 0, that is toward the biases' prediction.

# %% [raw]
# # BEGIN QUESTION
# name: q03_variance_floor
# manual: true
# points: 3

# %% [markdown]
# ### Exercise 3.3 (written) — when the floor lowers the log-likelihood
#
# EM never lowers the log-likelihood (notebook 02). With the 0.25 floor it can, once. Find a
# small matrix `X` (0 = missing) and a start from `common.init` for which the log-likelihood
# of the second E-step is *below* that of the first (pass a `callback` to `em.run` to record
# them), and explain why this can happen only at the first iteration: after that, the
# log-likelihood never falls.

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
X_floor = np.array([[2.0], [3.0], [3.0], [3.0], [3.0], [3.0], [3.0]])  # 7 users, 1 movie
floor_start, floor_post = common.init(X_floor, 1, seed=0)
floor_trace = []
em.run(X_floor, floor_start, floor_post, callback=lambda i, ll, m: floor_trace.append(ll))
print(f"start: mean {floor_start.mu[0, 0]:g}, variance {floor_start.var[0]:.4f} (1/7)")
print("log-likelihood at each E-step:", ", ".join(f"{ll:.4f}" for ll in floor_trace))
# END SOLUTION

# %% [markdown]
# **Model answer.** *The counterexample* (verified above): seven users and one movie, one
# rating of 2 and six of 3, K = 1. `common.init` takes one row as the mean; seed 0 takes
# a 3, so $\mu_0 = 3$ and the initial variance is the mean squared difference,
# $\sigma_0^2 = 1/7$, **below the floor**. The first E-step scores the data under
# $(\mu_0, \sigma_0^2)$: $\ell_1 = -\frac{7}{2}\log(2\pi/7) - \frac{1}{2/7} = -\frac{7}{2}\log(2\pi/7) - \frac{7}{2}$.
# The M-step moves the mean to $20/7$ and would set the variance to the mean squared error
# $6/49$, but the floor lifts it to $0.25$; then
# $\ell_2 = -\frac{7}{2}\log(2\pi \cdot 0.25) - \frac{6/7}{2 \cdot 0.25}$, which is lower (the
# printed trace). EM then stops: a fall is not a rise above the $10^{-6}$ tolerance.
#
# *Why only at the first iteration.* EM's guarantee is
# $\ell(\theta') - \ell(\theta) \ge Q(\theta' \mid \theta) - Q(\theta \mid \theta)$ (Jensen's
# bound of notebook 02), so $\ell$ cannot fall as long as the M-step returns a $\theta'$ with
# $Q(\theta' \mid \theta) \ge Q(\theta \mid \theta)$. With the floor the M-step improves $Q$
# within the *constrained* set $F = \{\sigma_j^2 \ge 0.25 \text{ for all } j\}$, one block
# of parameters at a time. The weights and the supported means take their maximising
# values; an unsupported mean keeps its old value, and with it its own term of $Q$. Then,
# given the new means, $Q$ as a function of $\sigma_j^2$ is
# $-\frac{a}{2}\log\sigma_j^2 - \frac{b}{2\sigma_j^2}$ with $a = \sum_u p(j \mid u)|C_u|$ and
# $b = \sum_u p(j \mid u)\sum_{i \in C_u}(x_{ui} - \hat\mu_{ji})^2$; it rises up to $b/a$
# and falls after it, so $\max(0.25, b/a)$ is its maximiser on $F$. Each block's new value
# is at least as good as its old value *provided the old value was allowed*, so
# $Q(\theta' \mid \theta) \ge Q(\theta \mid \theta)$ holds **whenever $\theta$ itself is in
# $F$**. Every mixture an M-step returns is in $F$, so from the second E-step on, each
# $\theta$ is in $F$ and $\ell$ never falls. Only the start $\theta_0$, chosen by
# `common.init` and not by an M-step, can lie outside $F$: its variance, the mean squared
# difference to one row, can be anything. When $\sigma_0^2 < 0.25$, $\theta_0$ is not a
# candidate of the first M-step, and $\ell$ can fall once, as here. (For this reason
# cfcore's property test of monotonicity, in `tests/test_properties.py`, skips the first
# step exactly when the start's variance is below the floor.)

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## MovieLens 100K, as a sparse matrix
#
# MovieLens 100K comes with the canonical split `u1`: each user's ratings divided between a
# training and a test file. `load_movielens_100k` reads the files from
# `$CFCORE_DATA/ml-100k` (checking their sha256) or downloads them once. The training
# matrix is a `scipy.sparse` CSR matrix that stores only the ratings; `cfcore.em` runs on it
# directly.

# %%
movielens = load_movielens_100k()
train, test = movielens.folds["u1"]
print(train)
print(test)
assert sp.issparse(train.matrix)

# %%
display(
    Markdown(
        f"{train.n_users:,} users and {train.n_items:,} movies: the training matrix has "
        f"{train.n_users * train.n_items:,} entries and stores the {train.n_ratings:,} that are "
        f"observed, **{train.density:.1%}** of them (a user has rated "
        f"{train.n_ratings / train.n_users:.0f} of the {train.n_items:,} movies on average)."
    )
)

# %% [markdown]
# Fit the course model with K = 4 groups, best of seeds 0-4, first from the course's own
# start, asked for by name: `init="course"` is `common.init`, K seeded users' rows, the
# missing entries included as 0, and the variance over all entries.


# %%
def describe(result):
    """Print the best seed, the log-likelihood and every group's weight, variance and size."""
    sizes = np.bincount(result.post.argmax(axis=1), minlength=len(result.mixture.p))
    print(
        f"best seed {result.seed}: log-likelihood {result.log_likelihood:,.1f} "
        f"after {result.n_iter} iterations"
    )
    for j, (p, var) in enumerate(zip(result.mixture.p, result.mixture.var, strict=True)):
        print(
            f"group {j}: weight {p:.4f}, variance {var:.3f}, most probable group of {sizes[j]} users"
        )
    return sizes


course_fit = fit(train.matrix, 4, seeds=range(5), init="course")
course_sizes = describe(course_fit)

# %%
real = course_sizes > 0.05 * train.n_users
display(
    Markdown(
        f"Only {real.sum()} of the 4 groups are real. The other {(~real).sum()} hold "
        f"{' and '.join(str(s) for s in course_sizes[~real])} users, each with variance "
        f"{course_fit.mixture.var[~real].max():.3f}, the floor: a group starts from one "
        f"user's row, which is 0 for the {1 - train.density:.0%} of movies the average user "
        f"did not rate, and that start is far from every other user, so the group keeps just "
        f"the user it started from and fits their ratings almost exactly."
    )
)

# %% [markdown]
# The course's initialisation suits a dense matrix like its Netflix subset, where most
# entries are observed (notebook 05), not MovieLens. This is why `fit` starts a sparse
# matrix (or a `RatingsData`) differently when no `init` is given: its default there is the
# real-data start `"observed-rows"` (`cfcore.models.starts.init_observed_rows`). It takes
# the same seeded users, but only their **observed** ratings; where a seeded user did not
# rate a movie, the mean starts at the movie's mean rating, never at a copied 0; and the
# variance is measured over observed entries only. On the course's dense matrix
# (0 = missing) `fit` keeps `common.init`, so the course's numbers are reproduced exactly.

# %%
result = fit(train.matrix, 4, seeds=range(5))  # sparse input: the real-data start
sizes = describe(result)

# %%
display(
    Markdown(
        f"From the real-data start every group is real: weights "
        f"{', '.join(f'{p:.2f}' for p in result.mixture.p)}, the smallest the most probable "
        f"group of {sizes.min()} users, variances {result.mixture.var.min():.2f} to "
        f"{result.mixture.var.max():.2f}, none at the floor. The training log-likelihood is "
        f"{result.log_likelihood - course_fit.log_likelihood:,.0f} nats higher than from the "
        f"course's start."
    )
)

# %% [markdown]
# The first E-step scores the initial mixture. From the course's start, whose variances
# count every missing entry as a 0 rating and are therefore wide, that first point lies far
# below the rest; from the real-data start it does not. The main panel starts at
# iteration 2 to show the rise, and the inset shows the whole traces.

# %%
fits = {
    "course's start": (course_fit, PALETTE["orange"]),
    "real-data start": (result, PALETTE["blue"]),
}
fig, ax = plt.subplots(figsize=(6.5, 4.8), layout="constrained")
inset = ax.inset_axes([0.45, 0.1, 0.5, 0.42])
for name, (fitted, colour) in fits.items():
    iterations, trace = np.arange(1, fitted.n_iter + 1), np.array(fitted.trace)
    ax.plot(iterations[1:], trace[1:], ".-", color=colour, label=name)
    inset.plot(iterations, trace, ".-", color=colour, ms=3)
ax.set_xlabel("EM iteration")
ax.set_ylabel("log-likelihood (nats)")
ax.set_title(f"EM on MovieLens u1, K = 4: the {train.n_ratings:,} training ratings")
ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
inset.set_title("all iterations, from the start", fontsize=9)
inset.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
inset.tick_params(labelsize=8)
savefig("03_movielens_trace", fig)
plt.show()

# %% [markdown]
# ## Predicting the held-out ratings
#
# The test file holds ratings the model never saw. `fill_matrix` with `pairs=` predicts just
# those entries (a sparse matrix is never filled densely unless asked). On a sparse matrix
# it clips the predictions to the range of the stored ratings, here 1-5 stars
# (`scale=None` turns that off; on the course's dense matrix it fills exactly as the course
# does, unclipped). `held_out_errors` from `cfcore.models` compares them with the true
# ratings: RMSE and MAE averaged over the test ratings only. Both fits, unclipped and
# clipped:

# %%
rows, cols, truth = test.triples()
errors = {}
print(
    f"over the {truth.size:,} u1 test ratings:   outside 1-5   RMSE raw   RMSE clipped   MAE clipped"
)
for name, (fitted, _) in fits.items():
    raw = em.fill_matrix(train.matrix, fitted.mixture, pairs=(rows, cols), scale=None)
    predicted = em.fill_matrix(train.matrix, fitted.mixture, pairs=(rows, cols))
    outside = np.mean((raw < 1 - 1e-9) | (raw > 5 + 1e-9))
    errors[name] = (outside, held_out_errors(raw, truth)[0], *held_out_errors(predicted, truth))
    print(
        f"{name:>31}: {outside:11.1%} {errors[name][1]:10.4f} {errors[name][2]:14.4f} {errors[name][3]:13.4f}"
    )
rmse, mae = errors["real-data start"][2:]

# %%
course_outside, course_raw, course_rmse, _ = errors["course's start"]
display(
    Markdown(
        f"From the course's start, {course_outside:.1%} of the raw predictions fall outside "
        f"1-5 stars: the effect shown in the worked example, a group's mean for a movie none "
        f"of its users rated stays at its initial value, often a 0 from a missing entry. "
        f"Clipping them moves that fit's RMSE from {course_raw:.4f} to **{course_rmse:.4f}**. "
        f"From the real-data start no mean is ever a copied 0, and its predictions stay in "
        f"1-5 by themselves ({errors['real-data start'][0]:.1%} outside): a held-out RMSE of "
        f"**{rmse:.4f}** stars over the {truth.size:,} test ratings (MAE {mae:.4f}), the "
        f"course model's error on ratings it has not seen. That is "
        f"{'lower' if rmse < course_rmse else 'higher'} than the clipped fit from the "
        f"course's start, by {abs(rmse - course_rmse):.4f} stars"
        + (
            ", although its training log-likelihood is higher: a better fit to the training "
            "ratings does not by itself predict unseen ones better (the course's start, with "
            f"{(~real).sum()} groups of one or two users, is in effect a model with fewer groups). "
            if rmse > course_rmse
            else ", and its training log-likelihood is higher too. "
        )
        + "Notebook 04 chooses K on held-out ratings."
    )
)

# %% [markdown]
# Notebook 04 asks how many groups to use, and notebook 06 puts these numbers beside simple
# baselines and improves the model.
#
# ## Summary
#
# - For a spherical Gaussian, the density of the observed coordinates is the marginal: the
#   same formula restricted to $C_u$, under the assumption that missingness does not depend
#   on the rating.
# - E- and M-steps are notebook 02's with every sum over observed entries. Written by hand,
#   one user and one mean at a time, they give `cfcore.em`'s numbers; written with the
#   observed-entry indicator $M$ they become matrix products that serve dense and sparse
#   matrices alike.
# - A mean coordinate is updated only with at least one rating's worth of support, and the
#   variance is floored at 0.25 so a group cannot collapse onto a few identical users.
# - Missing entries are filled with $\sum_j p(j \mid u)\, \mu_{ji}$.

# %%
display(
    Markdown(
        f"- On a sparse matrix `fit` starts from the seeded users' observed ratings and the "
        f"movies' mean ratings (the course's `common.init` is kept for its dense matrix, "
        f"where it gives the course's numbers). On MovieLens u1 (K = 4) that predicts the "
        f"{truth.size:,} held-out test ratings with an RMSE of **{rmse:.4f}** stars; the "
        f"course's start, which leaves groups of one user, gives {course_rmse:.4f} once "
        f"clipped to 1-5."
    )
)
