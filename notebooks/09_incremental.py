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
# # 09 · Learning from each new rating: incremental EM
#
# A fitted mixture is a summary of everyone's ratings. When someone rates one more movie,
# notebook 07 folds them in: one E-step of their row, and nothing else moves. But the
# rating also says something about the movie and about the clusters, and refitting the
# whole model to hear it means a pass over every user, many times. This notebook derives
# the middle way, incremental EM (Neal and Hinton, 1998): keep the sums the M-step needs,
# replace one user's share of them, re-solve the M-step's closed forms. It then measures
# the three side by side on MovieLens in the order the ratings were given.
#
# **You will learn**
# - EM as coordinate ascent on one function, the free energy $F(q, \theta)$, and why an
#   E-step for *one* user followed by the M-step can never lower it;
# - the sufficient statistics of the missing-data mixture, a sum of one term per user, and
#   how replacing a user's term costs $O(K |C_u|)$ instead of a pass over everyone;
# - that one sweep of incremental E-steps with the M-step at the end *is* one batch EM
#   iteration, by a number computed below, and that with the M-step after every user the
#   sweep climbs faster;
# - how the residual mixture's offsets change with a new rating, and what that does to
#   every other user's residuals, in closed form;
# - a live model (`cfcore.models.LiveModel`) learning a new user's ratings one by one, with
#   `undo`; and a prequential replay: predict each rating, then learn it.
#
# Two exercises: the sums after an item offset moves (9.1) and why a partial M-step is
# still safe (9.2). MovieLens 100K is read from `$CFCORE_DATA/ml-100k` (else downloaded).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from IPython.display import Markdown, display

from cfcore import em
from cfcore.apps.plotting import PALETTE, savefig
from cfcore.common import MIN_VARIANCE, GaussianMixture, normalise_log_weights
from cfcore.data import load_movielens_100k, movielens_100k_stream
from cfcore.engine import prepare
from cfcore.models import CourseMixture, LiveModel, ResidualMixture

movielens = load_movielens_100k()
train = movielens.folds["u1"].train
X = train.matrix  # 943 x 1,682 CSR, stored = observed
print(train)

# %% [markdown]
# ## The free energy
#
# The model of notebook 03: user $u$ is in cluster $j$ with probability $p_j$, and their
# ratings $x_u$ on the movies $C_u$ they rated are drawn from
# $N_j(x_u) = \mathcal{N}(x_{C_u} \mid \mu_{j,C_u}, \sigma_j^2 I)$. For *any* distribution
# $q_u$ over the clusters, Jensen's inequality (notebook 02) bounds the user's
# log-likelihood from below:
#
# $$
# \log p(x_u \mid \theta) = \log \sum_j q_{uj} \frac{p_j N_j(x_u)}{q_{uj}}
#   \;\ge\; \sum_j q_{uj} \log \frac{p_j N_j(x_u)}{q_{uj}}
#   = \log p(x_u \mid \theta) - \mathrm{KL}\bigl(q_u \,\|\, p(\cdot \mid x_u, \theta)\bigr).
# $$
#
# Summed over users, this is the **free energy** (Neal and Hinton, 1998),
#
# $$
# F(q, \theta) = \sum_u \Bigl[ \sum_j q_{uj} \bigl(\log p_j + \log N_j(x_u)\bigr)
#                - \sum_j q_{uj} \log q_{uj} \Bigr]
#   = \mathbb{E}_q[\log p(x, z \mid \theta)] + H(q),
# $$
#
# a lower bound on the log-likelihood that touches it exactly when every $q_u$ is the
# posterior. EM is coordinate ascent on $F$:
#
# - **E-step**: maximise $F$ over $q$ with $\theta$ fixed. $F$ is a sum of one term per
#   user and $q_u$ enters only its own term, so the maximum is $q_u = $ the posterior of
#   user $u$, whatever the other users' $q$ are (the KL term becomes 0).
# - **M-step**: maximise $F$ over $\theta$ with $q$ fixed: the closed forms of notebook 03.
#
# So take **one** user, replace their $q_u$ by their posterior, and re-run the M-step: the
# first step raises $F$ (or leaves it), since only user $u$'s term moved and it moved to its
# maximum; the second raises it again. No such step can lower $F$, in any order, any number
# of times. That is incremental EM.
#
# ## The sufficient statistics
#
# The M-step sees $q$ only through four sums over users (`cfcore.em.Statistics`):
#
# $$
# W_{ji} = \sum_u q_{uj} x_{ui}, \qquad S_{ji} = \sum_u q_{uj} [i \in C_u], \qquad
# Q_j = \sum_u q_{uj} \sum_{i \in C_u} x_{ui}^2, \qquad w_j = \sum_u q_{uj},
# $$
#
# because the squared errors it needs expand into them (`cfcore.em.squared_errors`):
# $\sum_u q_{uj} \sum_{i \in C_u} (x_{ui} - \mu_{ji})^2
#  = Q_j - 2 \sum_i \mu_{ji} W_{ji} + \sum_i \mu_{ji}^2 S_{ji}$. Then
# $\mu_{ji} = W_{ji} / S_{ji}$ (where $S_{ji} \ge 1$), $\sigma_j^2$ from the expansion and
# $p_j = w_j / n$. Each sum has one term per user, non-zero only at the movies that user
# rated: replacing user $u$'s old $q_u$ by a new one changes $W$ and $S$ in $|C_u|$ columns.
#
# By hand, on the course model (K = 4) fitted to u1's training ratings. First the kept
# sums, from the fit's posteriors, and one user's E-step:

# %%
course = CourseMixture([4], seeds=range(2)).fit(train)
theta0, post0 = course.mixture_, course.post_
floor = MIN_VARIANCE  # the course's variance floor, 0.25 on 1-5 stars
stats0 = em.statistics(prepare(X), post0)  # W (K, d), S (K, d), Q (K,), w (K,)


def user_ratings(X, u):
    return X.indices[X.indptr[u] : X.indptr[u + 1]], X.data[X.indptr[u] : X.indptr[u + 1]]


def estep_one(cols, x, theta):
    """q_u: one user's posterior, (K,), from their ratings x on the movies cols."""
    mu, var, p = theta
    log_joint = em.log_joint(((x - mu[:, cols]) ** 2).sum(axis=1), cols.size, var, p)
    post, _ = normalise_log_weights(log_joint[None, :])  # log-sum-exp, as in notebook 02
    return post[0]


entropy = -(post0 * np.log(np.where(post0 > 0, post0, 1.0))).sum(axis=1)
unsure = int(np.argmax(entropy))  # the user the fit is least sure about
cols, x = user_ratings(X, unsure)
print(f"user {unsure}:", np.round(estep_one(cols, x, theta0), 4))
print("em.estep:", np.round(post0[unsure], 4))

# %% [markdown]
# Replacing a user's term, and the M-step from the totals alone:


# %%
def replace(stats, cols, x, old, new):
    """The sums with one user's term for posterior old replaced by new's: O(K |C_u|)."""
    W, S, Q, w = (a.copy() for a in stats)
    W[:, cols] += np.outer(new - old, x)
    S[:, cols] += (new - old)[:, None]
    return em.Statistics(W, S, Q + (new - old) * (x @ x), w + new - old)


def mstep_from(stats, theta):
    """The course's M-step from the sums: means (support rule), variances, weights."""
    mu = em.supported_means(stats, theta.mu)
    sse, observed = em.squared_errors(stats, mu)
    return GaussianMixture(
        mu, em.variances(sse, observed, theta.var, floor), stats.weights / X.shape[0]
    )


# %% [markdown]
# **One sweep with the M-step at the end.** Every user's E-step against the same
# $\theta_0$, their term replaced, then one M-step: the batch iteration, computed by
# `cfcore.em.estep` and `cfcore.em.mstep` over the whole matrix. The printed number is the
# largest relative difference between the two (it is rounding, so it varies in its last
# digits from one machine to another).

# %% tags=["nbval-ignore-output"]
stats, post = stats0, post0.copy()
for u in range(X.shape[0]):
    cols, x = user_ratings(X, u)
    q = estep_one(cols, x, theta0)
    stats, post[u] = replace(stats, cols, x, post[u], q), q
theta1 = mstep_from(stats, theta0)

batch_post, _ = em.estep(X, theta0)
batch = em.mstep(X, batch_post, theta0, min_variance=floor)
gap = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(theta1, batch, strict=True))
assert gap < 1e-12
print(f"one sweep with the M-step at the end = one batch iteration: mu, var and p within {gap:.1e}")

# %% [markdown]
# **The M-step after every user** (Neal and Hinton's incremental EM), starting from the
# M-step of the kept sums. The free energy, from the sums and the posteriors' entropy:


# %%
def free_energy(stats, post, theta):
    """F(q, theta) = sum_j [w_j log p_j - n_j/2 log(2 pi var_j) - sse_j / (2 var_j)] + H(q)."""
    sse, observed = em.squared_errors(stats, theta.mu)
    expected = (
        stats.weights * np.log(theta.p + em.LOG_EPS)
        - observed * 0.5 * np.log(2 * np.pi * theta.var)
        - sse / (2 * theta.var)
    )
    return expected.sum() - np.sum(post[post > 0] * np.log(post[post > 0]))


stats, post = stats0, post0.copy()
theta = mstep_from(stats, theta0)
trace = [free_energy(stats, post, theta)]
for u in range(X.shape[0]):
    cols, x = user_ratings(X, u)
    q = estep_one(cols, x, theta)
    stats, post[u] = replace(stats, cols, x, post[u], q), q
    theta = mstep_from(stats, theta)
    trace.append(free_energy(stats, post, theta))
trace = np.array(trace)
never_fell = bool((np.diff(trace) >= -1e-9 * np.abs(trace[1:])).all())
print(f"F never fell over the {X.shape[0]} steps: {never_fell}")

# %%
start_F = free_energy(stats0, post0, theta0)
batch_F = free_energy(em.statistics(prepare(X), batch_post), batch_post, batch)
display(
    Markdown(
        f"From F = {start_F:,.2f} at the fit, one batch iteration reaches {batch_F:,.2f} "
        f"(+{batch_F - start_F:.2f}); one incremental sweep reaches {trace[-1]:,.2f} "
        f"(+{trace[-1] - start_F:.2f}): each user's E-step already uses what the users before "
        "them changed."
    )
)

# %%
fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
ax.plot(
    np.arange(len(trace)),
    trace - start_F,
    color=PALETTE["blue"],
    label="incremental: M-step after each user",
)
ax.axhline(batch_F - start_F, color=PALETTE["orange"], ls="--", label="one batch iteration")
ax.set_xlabel("users processed in the sweep")
ax.set_ylabel("F - F at the fit (nats)")
ax.set_title("incremental EM never lowers the free energy (u1, K = 4)")
ax.legend(loc="lower right")
savefig("09_free_energy_sweep", fig)
plt.show()

# %% [markdown]
# ## The library: `LiveModel`
#
# `cfcore.models.LiveModel` keeps these sums for a fitted `CourseMixture`,
# `ResidualMixture` or `HybridMixture`, every seed's mixture stacked so that one user's
# columns are one gather. `sweep` runs the loops above; it matches them:

# %%
live = LiveModel(course)
live.sweep(mstep="end")
end_gap = np.abs(live.mixtures()[0].mu - theta1.mu).max()
live = LiveModel(course)
live.refresh()  # the full M-step of the kept sums, as the by-hand loop began
live.sweep(mstep="each")
each_gap = np.abs(live.mixtures()[0].mu - theta.mu).max()
assert end_gap < 1e-12 and each_gap < 1e-10
print("LiveModel.sweep: the means of the loops above, to 1e-12 (end) and 1e-10 (each user)")

# %% [markdown]
# After a single new rating `LiveModel` re-solves only what the rating touched: the means
# of the user's movies, then $\sigma^2$ and $p$ from running totals of
# $\sum_i (\mu_{ji}^2 S_{ji} - 2\mu_{ji} W_{ji})$ and $\sum_i S_{ji}$, corrected by the
# touched columns' shares. For the course's mean that is the full M-step (no other column's
# sums moved). MAP-EM's mean $W_{ji} / (S_{ji} + \sigma_j^2/\tau^2)$ also depends on
# $\sigma_j^2$; the untouched columns keep the value solved at an older $\sigma_j^2$
# (Exercise 9.2 asks why that is safe), and `LiveModel.refresh()` re-solves them all.
#
# ## The residual mixture: offsets move too
#
# The residual mixture of notebook 06 models $x_{ui} = m + b_u + c_i + r_{ui}$ and clusters
# the residuals $r$. A new rating $(u, i)$ re-solves, each by its closed form given the
# others (notebook 06's normal equations, one user and one item at a time),
#
# $$
# b_u = \frac{\sum_{i \in C_u} (x_{ui} - m - c_i)}{\lambda_u + |C_u|}, \qquad
# c_i = \frac{\sum_{v \in U_i} (x_{vi} - m - b_v)}{\lambda_i + |U_i|},
# $$
#
# with the global mean $m$ fixed (moving it would shift every residual of every user). The
# new $b_u$ changes user $u$'s residuals, which their own update re-enters anyway. But the
# new $c_i$ shifts the residual $r_{vi}$ of **every** user $v$ who rated movie $i$ by the
# same $-\Delta c_i$, and those users' terms are in the sums. They need not be recomputed:
# the sums of column $i$ move in closed form, in $O(K)$ (Exercise 9.1). On the items side
# (movies clustered by their users' residuals), $b_u$'s change is coordinate $u$ of every
# movie the user rated, corrected with those movies' posteriors in $O(K |C_u|)$.

# %% [raw]
# # BEGIN QUESTION
# name: q01_shifted_column
# points: 2

# %% [markdown]
# ### Exercise 9.1 — the sums after an item offset moves
#
# Every user who rated movie `col` sees their value there move by `delta`
# ($x_{v,\mathrm{col}} \to x_{v,\mathrm{col}} + \delta$); no posterior changes. Derive how the
# four sums change, then write `shift_column(stats, col, delta)` returning the new
# `cfcore.em.Statistics` (a new object; `stats` has $W$, $S$ of shape (K, d), $Q$, $w$ of
# shape (K,)), in $O(K)$: from the sums alone, never from the ratings.

# %% [raw]
# # BEGIN SOLUTION


# %%
def shift_column(stats, col, delta):
    """The sums once every value in column col moved by delta: O(K)."""
    # BEGIN SOLUTION
    weighted = stats.weighted_ratings.copy()
    support = stats.support[:, col]
    # sum_v q (x + delta)^2 = sum_v q x^2 + 2 delta sum_v q x + delta^2 sum_v q
    sq_norms = stats.weighted_sq_norms + 2 * delta * weighted[:, col] + delta**2 * support
    weighted[:, col] += delta * support
    return em.Statistics(weighted, stats.support, sq_norms, stats.weights)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
shifted = X.copy()
shifted.data[shifted.indices == 49] += -0.3  # Star Wars' raters
expected = em.statistics(prepare(shifted, allow_negative=True), post0)
for got, want in zip(shift_column(stats0, 49, -0.3), expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng_test = np.random.default_rng(91)
X_test = sp.random(
    30,
    8,
    density=0.4,
    random_state=3,
    format="csr",
    data_rvs=lambda k: rng_test.integers(1, 6, k).astype(float),
)
post_test = rng_test.dirichlet(np.ones(3), size=30)
stats_test = em.statistics(prepare(X_test), post_test)
for col_test, delta_test in ((2, 0.7), (5, -1.25)):
    moved = X_test.copy()
    moved.data[moved.indices == col_test] += delta_test
    for got, want in zip(
        shift_column(stats_test, col_test, delta_test),
        em.statistics(prepare(moved, allow_negative=True), post_test),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8)
    np.testing.assert_array_equal(
        stats_test.weighted_ratings, em.statistics(prepare(X_test), post_test).weighted_ratings
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q02_partial_mstep
# manual: true
# points: 2

# %% [markdown]
# ### Exercise 9.2 (written) — a partial M-step is still safe
#
# After an update, `LiveModel` re-solves MAP-EM's means only at the movies the user rated,
# $\mu_{ji} = W_{ji} / (S_{ji} + \sigma_j^2 / \tau^2)$ with the current $\sigma_j^2$, then
# $\sigma^2$ and $p$; the other means keep the value they got at an older $\sigma_j^2$. Show
# that this step cannot lower $F(q, \theta) + \log p(\mu)$, and say what `refresh()` adds.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** Write $G(q, \mu, \sigma^2, p) = F(q, \theta) + \log p(\mu)$. The E-step
# of the user changed only their $q_u$, to the maximiser of their term: $G$ did not fall.
# For fixed $q$ and $\sigma^2$, $G$ is a sum of independent concave quadratics in the
# $\mu_{ji}$, $-\bigl(S_{ji}\mu_{ji}^2 - 2 W_{ji}\mu_{ji}\bigr)/(2\sigma_j^2) - \mu_{ji}^2/(2\tau^2)$,
# each maximised by $W_{ji}/(S_{ji} + \sigma_j^2/\tau^2)$. Setting some of them to that
# maximiser and leaving the others where they are cannot lower $G$: every re-solved term
# rose to its maximum, every other term is unchanged. Given every $\mu$, $G$ in $\sigma_j^2$
# is $-\tfrac{n_j}{2}\log\sigma_j^2 - \mathrm{sse}_j/(2\sigma_j^2)$, maximised at
# $\mathrm{sse}_j/n_j$ (the floor: the maximum over $\sigma_j^2 \ge$ floor, which the
# previous value also satisfied), and $p_j = w_j/n$ maximises $\sum_j w_j \log p_j$. Each
# step is a conditional maximisation over a block of the parameters (a generalised, ECM
# M-step), so the whole update cannot lower $G$. What it gives up is only speed: the
# untouched means are at the maximum for an older $\sigma_j^2$. `refresh()` re-solves
# every mean at the current $\sigma^2$ (then $\sigma^2$ and $p$), the full ECM M-step, which
# can only raise $G$ further; it costs $O(K d)$ instead of $O(K |C_u|)$.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## A live model learning a new user
#
# The ratings in the order they were given (`cfcore.data.movielens_100k_stream`: rows and
# columns are those of `load_movielens_100k().ratings`). The residual mixture with K = 12
# and 4 seeds, fitted on the first 50,000:

# %%
stream = movielens_100k_stream()
half = len(stream.values) // 2
shape = movielens.ratings.shape


def first(k):
    """The stream's first k ratings as a 943 x 1,682 matrix (users not seen yet: empty rows)."""
    return sp.csr_matrix((stream.values[:k], (stream.rows[:k], stream.cols[:k])), shape=shape)


model = ResidualMixture(12, seeds=range(4), rating_scale=(1, 5)).fit(first(half))
titles = movielens.ratings.titles
print(f"{half:,} ratings by {(np.diff(first(half).indptr) > 0).sum()} of the 943 users")

# %% [markdown]
# A new user rates six movies, one at a time. Two copies of the model: one learns
# (incremental EM: offsets, both sides' sums, the M-steps), one only folds the user in
# (`fold_in_only=True`: their offset and posterior; the model stays as fitted). After each
# rating, the posterior over the first seed's user clusters and the predicted rating of
# *The Empire Strikes Back*:

# %%
learning, folding = LiveModel(model), LiveModel(model, fold_in_only=True)
user = learning.add_user()
folding.add_user()
ratings = {
    49: 5,
    180: 5,
    0: 4,
    99: 2,
    126: 2,
    312: 1,
}  # Star Wars, Jedi, Toy Story, Fargo, Godfather, Titanic
empire = 171
posteriors = [learning.posterior(user)]
predicted = {
    "incremental EM": [learning.predict_user(user)[empire]],
    "fold-in": [folding.predict_user(user)[empire]],
}
for col, value in ratings.items():
    learning.rate(user, col, value)
    folding.rate(user, col, value)
    posteriors.append(learning.posterior(user))
    predicted["incremental EM"].append(learning.predict_user(user)[empire])
    predicted["fold-in"].append(folding.predict_user(user)[empire])
for col, value in ratings.items():
    print(f"{value} stars  {titles[col]}")

# %%
steps = np.arange(len(ratings) + 1)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
image = left.imshow(np.array(posteriors).T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
left.set_xlabel("ratings given")
left.set_ylabel("user cluster (seed 0)")
left.set_title("the new user's posterior")
fig.colorbar(image, ax=left, label="posterior probability")
for (label, values), colour in zip(
    predicted.items(), (PALETTE["blue"], PALETTE["orange"]), strict=True
):
    right.plot(steps, values, "o-", color=colour, label=label)
right.set_xlabel("ratings given")
right.set_ylabel("predicted stars")
right.set_title(f"predicted rating of {titles[empire][:24]}")
right.legend(loc="upper right")
savefig("09_live_new_user", fig)
plt.show()

# %% [markdown]
# With no ratings the posterior is the mixture's weights and the prediction the biases'
# (the mean plus the movie's offset); each rating sharpens the posterior. The two copies
# differ a little: the learning one has also moved the six movies' offsets and the clusters'
# means, which fold-in leaves alone.
#
# `undo` takes the last call back, bit for bit:

# %%
before = learning.predict_user(user)
learning.rate(user, empire, 1)
after = learning.predict_user(user)
learning.undo()
print(
    f"after a 1-star rating of Empire: {after[empire]:.3f}; after undo: {learning.predict_user(user)[empire]:.3f}"
)
print(
    "every prediction bit-identical to before:", np.array_equal(learning.predict_user(user), before)
)

# %% [markdown]
# ## Predict, then learn: a short replay
#
# The prequential protocol: replay the ratings after the first 50,000 in time order,
# predict each one before the model sees it, then let the model learn it. Three ways to
# learn: (a) fold-in only, each user's ratings since the fit folded in on top of their
# training row; (b) incremental EM, `LiveModel.rate`; (c) a full refit every 500 ratings
# (same class and settings, from scratch), folding in between refits. Here the next 1,500
# ratings with 4 seeds; `benchmarks/bench_streaming.py` replays all 50,000 with 20 seeds
# and a refit every 1,000.


# %%
def replay(live, stop, refit_every=None):
    """RMSE of each rating predicted before it is learnt, and the seconds spent."""
    errors, begin = [], time.perf_counter()
    for t in range(half, stop):
        if refit_every and t > half and (t - half) % refit_every == 0:
            refit = ResidualMixture(12, seeds=range(4), rating_scale=(1, 5)).fit(first(t))
            live = LiveModel(refit, fold_in_only=True)
        u, i, value = int(stream.rows[t]), int(stream.cols[t]), stream.values[t]
        errors.append(live.predict([u], [i])[0] - value)
        live.rate(u, i, value)
    return float(np.sqrt(np.mean(np.square(errors)))), time.perf_counter() - begin


stop = half + 1_500
results = {
    "fold-in": replay(LiveModel(model, fold_in_only=True), stop),
    "incremental EM": replay(LiveModel(model), stop),
    "refit every 500": replay(LiveModel(model, fold_in_only=True), stop, refit_every=500),
}
for name, (rmse, _) in results.items():
    print(f"{name:<18} RMSE {rmse:.4f} over ratings {half + 1:,}-{stop:,}")

# %% tags=["nbval-ignore-output"]
for name, (_, seconds) in results.items():
    print(f"{name:<18} {seconds:5.2f} s for 1,500 predictions and updates")

# %%
fold_rmse, incremental_rmse, refit_rmse = (rmse for rmse, _ in results.values())
display(
    Markdown(
        f"Over these 1,500 ratings incremental EM's RMSE is "
        f"{incremental_rmse - fold_rmse:+.4f} against fold-in and "
        f"{incremental_rmse - refit_rmse:+.4f} against refitting every 500 ratings: it "
        "learns the movies' offsets and the clusters from every rating at once, where "
        "fold-in never does and the refit waits for the next refit."
    )
)

# %% [markdown]
# What it costs is measured by the benchmark `benchmarks/bench_streaming.py`, not here
# (timings are not tests): the README's table gives the time per update and the compute of
# each variant over the whole replay, and what they mean.
#
# ## Summary
#
# - EM is coordinate ascent on the free energy
#   $F(q, \theta) = \mathbb{E}_q[\log p(x, z \mid \theta)] + H(q)$, a lower bound on the
#   log-likelihood: the E-step maximises it over each user's $q_u$ separately, the M-step
#   over $\theta$.
# - So one user's E-step followed by the M-step cannot lower $F$: that is incremental EM
#   (Neal and Hinton, 1998), and with the M-step after every user a sweep climbs further
#   than a batch iteration.
# - The M-step needs only $W = \sum_u q_u x_u$, $S = \sum_u q_u [i \in C_u]$,
#   $Q = \sum_u q_u \lVert x_u \rVert^2$, $w = \sum_u q_u$; replacing one user's term costs
#   $O(K |C_u|)$, and one sweep with the M-step at the end is one batch iteration (to
#   rounding, computed above).
# - In the residual mixture a new rating also re-solves $b_u$ and $c_i$ by their closed
#   forms; a change of $c_i$ shifts every rater's residual, which moves the sums of column
#   $i$ in $O(K)$ (Exercise 9.1).
# - `cfcore.models.LiveModel(model)` does all of it for the three mixture models:
#   `rate`, `update`, `partial_fit`, `add_user`, `add_item`, `predict_user`, `posterior`,
#   `undo`; `fold_in_only=True` is the fold-in of notebook 07 for every user.
