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
# # 08 · The hybrid mixture: item content inside the model, for items with few ratings
#
# The residual mixture of notebook 06 learns everything about a movie from the movie's own
# ratings. A movie nobody has rated yet gets an item offset of 0 and no correction from the
# clusters: the model has nothing to say about it. Yet it knows the movie's genres and its
# release year. This notebook puts that content inside the model, as priors, derives every
# update on the page, and measures where it helps.
#
# **You will learn**
# - the cold-start problem, measured: the held-out error by the number of training ratings
#   of the movie, and on movies with no training rating at all;
# - a content prior on the item offset, $c_i \sim \mathcal{N}(f_i^\top w, \sigma^2/\lambda_i)$,
#   and its MAP closed form, a weighted average that moves from the content to the movie's
#   own ratings as they accumulate;
# - empirical Bayes for $w$: a ridge regression weighted by each movie's number of ratings,
#   and why the weighting matters, measured on a validation split;
# - a content taste for every user, whose posterior mean is a ridge regression;
# - why the MAP-EM of notebook 06, run on what content leaves, still never lowers its
#   objective; and what the whole model gains, bin by bin.
#
# Two exercises practise the two new closed forms: the item offset under a content prior
# (8.1) and the users' content tastes (8.2).

# %%
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from IPython.display import Markdown, display

from cfcore.apps.plotting import PALETTE, savefig
from cfcore.data import cold_items, holdout, load_movielens_100k
from cfcore.engine import stored_rows
from cfcore.evaluation import SUPPORT_LABELS, evaluate
from cfcore.models import (
    BiasesModel,
    HybridMixture,
    ResidualMixture,
    fit_biases,
    init_observed,
    item_features,
    map_em,
)
from cfcore.models.hybrid import content_prior_weights, taste_at, user_tastes

# %% [markdown]
# ## The cold-start problem, measured
#
# Fold u1 of MovieLens 100K, as in notebook 06. Every mixture here averages 5 seeded fits
# (`seeds=range(5)`) to keep the notebook fast; the models' default, and the README's
# table, use 20.

# %%
movielens = load_movielens_100k()
u1 = movielens.folds["u1"]
SEEDS = range(5)
field = [BiasesModel(), ResidualMixture(seeds=SEEDS)]
warm_results = evaluate(field, [u1])

# %% [markdown]
# `cfcore.evaluation.evaluate` also breaks the held-out RMSE down by *support*: how many
# training ratings the test pair's movie has, in the bins of
# `cfcore.evaluation.SUPPORT_BINS`. Each bin's RMSE averages over the test ratings of u1
# whose movie falls in that bin, and only over those.


# %%
def support_table(results):
    """One row per bin: its number of test ratings, then each model's RMSE over them."""
    counts = results[0].n_by_item_support
    print(f"{'training ratings of the movie':<30} {'test ratings':>12}", end="")
    print("".join(f"{result.model:>18}" for result in results))
    for label in SUPPORT_LABELS:
        print(f"{label:<30} {counts[label]:>12,}", end="")
        print("".join(f"{result.rmse_by_item_support[label]:>18.4f}" for result in results))


support_table(warm_results)

# %%
residual_u1 = warm_results[1]
by_support = residual_u1.rmse_by_item_support
display(
    Markdown(
        f"On u1's {u1.n_test:,} test ratings the residual mixture's RMSE is "
        f"**{residual_u1.rmse_folds[0]:.4f}** overall, but {by_support['>20']:.4f} over the "
        f"{residual_u1.n_by_item_support['>20']:,} ratings of movies with more than 20 "
        f"training ratings, {by_support['1-5']:.4f} over the "
        f"{residual_u1.n_by_item_support['1-5']:,} of movies with 1-5, and "
        f"{by_support['0']:.4f} over the {residual_u1.n_by_item_support['0']} of movies "
        "with none. The rarely rated movies are few in a random split, so the overall "
        "number hides them."
    )
)

# %% [markdown]
# A random split holds out so few ratings of unrated movies that their bin says little.
# `cfcore.data.cold_items` builds the split that measures them: every rating of a seeded
# 10% of the movies goes to test, so the model meets each of them with no training rating
# at all. One repetition (seed 0) here; the README's table averages 5.

# %%
cold = cold_items(movielens.ratings, fraction=0.1, seeds=[0])[0]
cold_results = evaluate(field, [cold])
cold_rmse = {result.model: result.rmse_folds[0] for result in cold_results}
n_cold_items = np.unique(cold.cols).size
print(f"{cold}: {n_cold_items} movies without a training rating")
print({name: round(value, 4) for name, value in cold_rmse.items()})

# %% [markdown]
# On such a movie the residual mixture has little beyond the biases: its item offset is 0
# (no ratings, nothing to move it), and the user-side clusters' means for it have no
# support, so MAP-EM sets them to exactly 0. Only the item-side mixture adds anything: an
# unrated movie's posterior is the mixture's weights, so its correction is the weights'
# average of the clusters' means for the user, the same for every unrated movie.

# %%
residual_cold = field[1]  # fitted on the cold split by evaluate, the last fold it saw
user_side = residual_cold.residual_predictions(cold.rows, cold.cols, "users")
item_side = residual_cold.residual_predictions(cold.rows, cold.cols, "items")
largest = np.abs(user_side).max()
verdict = "worse than" if cold_rmse["residual-mixture"] > cold_rmse["biases"] else "no better than"
display(
    Markdown(
        f"Over the {cold.n_test:,} test ratings of the {n_cold_items} cold movies the "
        "user side's correction is "
        + ("exactly 0" if largest == 0 else f"at most {largest:.1e} stars")
        + f"; the item side's averages {item_side.mean():+.3f} stars. The residual mixture "
        f"scores **{cold_rmse['residual-mixture']:.4f}** there, against "
        f"{cold_rmse['biases']:.4f} for the biases alone"
        + (
            f": {verdict} the biases, since the clusters have nothing to offer a movie "
            "nobody has rated."
            if cold_rmse["residual-mixture"] > cold_rmse["biases"] - 0.005
            else "."
        )
    )
)

# %% [markdown]
# ## The hybrid, derived
#
# Each movie $i$ comes with a content vector $f_i \in \{0, 1\}^p$: genre indicators, and
# release-year indicators (`cfcore.models.item_features`). Content enters in two places,
# as priors: on the item offset $c_i$ and on a per-user taste $a_u$. Write $m$ for the mean
# training rating, $U_i$ for the users who rated movie $i$, $C_u$ for the movies user $u$
# rated, and $\sigma^2$ for the rating noise.
#
# ### (a) A content prior on the item offset
#
# Notebook 06's biases put the prior $c_i \sim \mathcal{N}(0, \sigma^2/\lambda_i)$ on every
# item offset: without ratings, no offset. The hybrid centres it on what the content
# predicts,
#
# $$c_i \sim \mathcal{N}\bigl(f_i^\top w,\ \sigma^2/\lambda_i\bigr), \qquad
# b_u \sim \mathcal{N}(0, \sigma^2/\lambda_u), \qquad
# x_{ui} = m + b_u + c_i + \varepsilon_{ui},\ \varepsilon_{ui} \sim \mathcal{N}(0, \sigma^2).$$
#
# The negative log-posterior, times $2\sigma^2$ and up to a constant, is
#
# $$J(b, c) = \sum_{(u,i)} (x_{ui} - m - b_u - c_i)^2 + \lambda_u \sum_u b_u^2
# + \lambda_i \sum_i \bigl(c_i - f_i^\top w\bigr)^2 .$$
#
# Its derivative in $c_i$, with $b$ fixed, is
# $-2\sum_{u \in U_i}(x_{ui} - m - b_u - c_i) + 2\lambda_i (c_i - f_i^\top w)$. Setting it
# to zero gives the MAP normal equation
#
# $$\bigl(\lambda_i + |U_i|\bigr)\, c_i = \sum_{u \in U_i} (x_{ui} - m - b_u) + \lambda_i f_i^\top w
# \quad\Rightarrow\quad
# c_i = \frac{\sum_{u \in U_i} (x_{ui} - m - b_u) + \lambda_i f_i^\top w}{\lambda_i + |U_i|}.$$
#
# Writing $\bar r_i = \frac{1}{|U_i|}\sum_{u \in U_i} (x_{ui} - m - b_u)$ for the movie's own
# mean residual, this is a weighted average,
#
# $$c_i = \frac{|U_i|}{\lambda_i + |U_i|}\,\bar r_i + \frac{\lambda_i}{\lambda_i + |U_i|}\,f_i^\top w :$$
#
# the content alone at $|U_i| = 0$, halfway at $|U_i| = \lambda_i$, and the movie's own
# ratings as they accumulate. The user offsets' equation is notebook 06's, unchanged;
# `cfcore.models.fit_biases(X, item_prior=F @ w)` solves both sets jointly.
#
# ### (b) The prior's weights by empirical Bayes
#
# The prior has parameters of its own, $w$. Empirical Bayes estimates them from the data:
# fit the plain biases ($w = 0$), then regress their item offsets $\hat c_i$ on the content,
#
# $$w = \arg\min_w \sum_i n_i \bigl(\hat c_i - f_i^\top w\bigr)^2 + \lambda_w \lVert w \rVert^2
# = \bigl(F^\top N F + \lambda_w I\bigr)^{-1} F^\top N \hat c, \qquad N = \operatorname{diag}(n_1, \dots, n_d),$$
#
# a ridge regression in which each movie counts as many times as it has training ratings
# $n_i = |U_i|$ (`cfcore.models.hybrid.content_prior_weights`).
#
# **Why weighted.** The prior exists to predict ratings, and the error it makes is paid
# once per rating, not once per movie: a new movie's future ratings come mostly from the
# movies that become popular. Weighting by $n_i$ makes the regression's loss the loss on
# ratings. Unweighted, every movie counts alike, and the rarely rated movies, which hold
# few of the ratings, weigh as much as the popular ones; their offsets are also lower (and, with few ratings, shrunk toward
# 0 and noisy). The training fold shows the difference in level:

# %%
X = u1.train.matrix
counts = np.bincount(X.indices, minlength=X.shape[1])
plain = fit_biases(X)  # w = 0: notebook 06's biases
rare, popular = (counts > 0) & (counts <= 5), counts > 20
display(
    Markdown(
        f"Of the {np.sum(counts > 0):,} movies u1's training ratings rate, {rare.sum():,} have "
        f"1-5 ratings and a mean offset $\\hat c_i$ of {plain.item[rare].mean():+.3f} stars; "
        f"the {popular.sum():,} with more than 20 have {plain.item[popular].mean():+.3f}, and "
        f"they hold {counts[popular].sum() / counts.sum():.0%} of the training ratings."
    )
)

# %% [markdown]
# Whether the weighting helps is a modelling choice, so it is measured on validation splits
# carved from u1's *training* ratings, never on its test ratings: a cold one (every rating
# of a seeded 10% of the training movies held out, seed 100, the movies content must
# carry) and a warm one (10% of the training ratings held out, seed 0). Both weightings of
# the full hybrid model are fitted on the rest and scored on the held-out part
# (`content_weights="ratings"` is the model's default, `"items"` counts every rated movie
# alike).

# %%
validation = {
    "cold": cold_items(u1.train, fraction=0.1, seeds=[100])[0],
    "warm": holdout(u1.train, 0.1, seed=0),
}
weightings = {"ratings": "by its ratings", "items": "every movie alike"}
validation_rmse = {}
for weighting in weightings:
    model = HybridMixture(seeds=SEEDS, content_weights=weighting, name=weighting)
    for split_name, split in validation.items():
        predictions = model.fit(split.train).predict(split.rows, split.cols)
        validation_rmse[weighting, split_name] = np.sqrt(np.mean((predictions - split.values) ** 2))

# %%
print(f"{'each movie weighted':<20} {'cold validation':>16} {'warm validation':>16}")
for weighting, label in weightings.items():
    cold_v, warm_v = validation_rmse[weighting, "cold"], validation_rmse[weighting, "warm"]
    print(f"{label:<20} {cold_v:>16.4f} {warm_v:>16.4f}")

# %%
gain = validation_rmse["items", "cold"] - validation_rmse["ratings", "cold"]
warm_gain = validation_rmse["items", "warm"] - validation_rmse["ratings", "warm"]
cold_split = validation["cold"]
held_counts = np.bincount(cold_split.cols, minlength=X.shape[1])[np.unique(cold_split.cols)]
display(
    Markdown(
        f"On the cold validation split ({cold_split.n_test:,} held-out ratings of "
        f"{held_counts.size} movies) weighting by ratings lowers the RMSE by "
        f"**{gain:.4f}** stars, from {validation_rmse['items', 'cold']:.4f} to "
        f"{validation_rmse['ratings', 'cold']:.4f}; on the warm split, where most movies have "
        f"their own ratings, the two differ by {abs(warm_gain):.4f} "
        f"({'in the same direction' if warm_gain > 0 else 'the other way'}). "
        f"The reason is in the held-out movies themselves: the {np.sum(held_counts > 20)} "
        f"of them with more than 20 ratings hold "
        f"{held_counts[held_counts > 20].sum() / held_counts.sum():.0%} of the held-out "
        "ratings."
    )
)

# %% [markdown]
# ### (c) A content taste for every user
#
# The offsets say how good a movie is for everyone. A user may like a genre or an era more
# than their offset says. After the biases, write $r_{ui} = x_{ui} - m - b_u - c_i$ and
# model it as the user's taste for the movie's content plus what is left,
#
# $$r_{ui} = f_i^\top a_u + s_{ui}, \qquad s_{ui} \sim \mathcal{N}(0, \sigma^2), \qquad
# a_u \sim \mathcal{N}\bigl(0,\ (\sigma^2/\lambda_a)\, I_p\bigr).$$
#
# With $F_u$ the rows of $F$ of the movies in $C_u$ and $r_u$ the user's residuals, the
# log-posterior of $a_u$ is, up to a constant,
# $-\frac{1}{2\sigma^2}\bigl(\lVert r_u - F_u a_u \rVert^2 + \lambda_a \lVert a_u \rVert^2\bigr)$.
# Its gradient is $\frac{1}{\sigma^2}\bigl(F_u^\top (r_u - F_u a_u) - \lambda_a a_u\bigr)$;
# setting it to zero,
#
# $$\bigl(F_u^\top F_u + \lambda_a I_p\bigr)\, a_u = F_u^\top r_u
# \quad\Rightarrow\quad
# a_u = \bigl(F_u^\top F_u + \lambda_a I_p\bigr)^{-1} F_u^\top r_u ,$$
#
# a ridge regression of the user's residuals on the content of what they rated. The
# posterior is Gaussian (a Gaussian prior times a Gaussian likelihood linear in $a_u$), so
# this mode is also the posterior mean. It applies to every movie, rated or not: a new
# movie gets $m + b_u + f_i^\top w + f_i^\top a_u$ for user $u$. A user without ratings
# gets $a_u = 0$.
#
# ### (d) The mixture on what content leaves
#
# The mixtures of notebook 06 (users and items sides, averaged over seeds) are then fitted,
# unchanged, to what content leaves,
# $s_{ui} = x_{ui} - m - b_u - c_i - f_i^\top a_u$, and the prediction is
#
# $$\hat x_{ui} = m + b_u + c_i + f_i^\top a_u + \sum_j p(j \mid u)\, \mu_{ji} + \sum_j p(j \mid i)\, \mu'_{ju},$$
#
# clipped to 1-5 stars. The stages run in order, and each is the exact maximiser of its
# posterior given the earlier ones: $w$, then $(b, c)$, then $a$, then the mixtures.
# The last stage is MAP-EM on a fixed matrix $s$: the same E-step, the same shrunk mean
# update, the same ECM argument, so **its log-posterior never decreases**. Without content
# ($p = 0$) the model is `ResidualMixture` exactly. The next section runs each stage by
# hand, and traces the last.
#
# ## By hand on fold u1
#
# The content features of the 1,682 movies, and the model's default settings:

# %%
F, feature_names = item_features(u1.train)
defaults = HybridMixture()
reg_item, reg_content, reg_taste = defaults.reg_item, defaults.reg_content, defaults.reg_taste
print(f"F: {F.shape[0]:,} movies x {F.shape[1]} features")
print(", ".join(feature_names))
print(f"reg_item = {reg_item:g}, reg_content = {reg_content:g}, reg_taste = {reg_taste:g}")

# %% [markdown]
# The prior's weights $w$, by the weighted ridge regression of (b), against the library:

# %%
FN = F * counts[:, None]  # N F, without building the d x d diagonal
w = np.linalg.solve(FN.T @ F + reg_content * np.eye(F.shape[1]), FN.T @ plain.item)
np.testing.assert_allclose(w, content_prior_weights(plain.item, F, counts, reg_content))
order = np.argsort(w)
for j in [*order[:3], *order[-3:]]:
    print(f"{feature_names[j]:<18} {w[j]:+.3f}")

# %% [markdown]
# The largest weights in both directions. Now one popular film, as its ratings
# accumulate. Its raters are put in a seeded random order (this notebook does not load the
# ratings' timestamps; notebook 09 replays them in time order), and for each $k$ the whole fit is redone on a copy of the training ratings in
# which only its first $k$ ratings remain: the plain biases, $w$, and the biases with the
# content prior. Every other movie keeps all its ratings.

# %%
film = int(np.argmax(counts))
raters = np.flatnonzero(X[:, film].toarray()[:, 0])
raters = np.random.default_rng(0).permutation(raters)
title = u1.train.titles[film]
print(f"{title}: {raters.size} training ratings; content: ", end="")
print(", ".join(name for name, flag in zip(feature_names, F[film], strict=True) if flag))


# %%
def keep_first(X, item, users):
    """X without item's ratings, except those of `users`."""
    rows = stored_rows(X)
    keep = (X.indices != item) | np.isin(rows, users)
    return sp.csr_matrix((X.data[keep], (rows[keep], X.indices[keep])), shape=X.shape)


def offsets_with_prior(X):
    """(plain biases, content weights w, biases with the content prior) fitted on X."""
    plain = fit_biases(X)
    n = np.bincount(X.indices, minlength=X.shape[1])
    w = content_prior_weights(plain.item, F, n, reg_content)
    return plain, w, fit_biases(X, item_prior=F @ w)


# %%
ks = [0, 1, 2, 5, 10, 20, 50]
hybrid_c, plain_c = [], []
for k in ks:
    X_k = keep_first(X, film, raters[:k])
    plain_k, w_k, biases_k = offsets_with_prior(X_k)
    own = X_k[raters[:k], film].toarray()[:, 0] - biases_k.mean - biases_k.user[raters[:k]]
    closed_form = (own.sum() + reg_item * F[film] @ w_k) / (reg_item + k)
    assert np.isclose(biases_k.item[film], closed_form, atol=1e-8)  # (a)'s normal equation
    hybrid_c.append(biases_k.item[film])
    plain_c.append(plain_k.item[film])
print(" k  with the content prior  plain biases")
for k, c_h, c_p in zip(ks, hybrid_c, plain_c, strict=True):
    print(f"{k:2d} {c_h:+23.3f} {c_p:+13.3f}")

# %% [markdown]
# At each $k$ the refitted offset satisfies the closed form of (a) at the refit's own $m$
# and $b$ (the `assert`). The reference lines: the content prior $f_i^\top w$ and the
# film's own mean residual $\bar r_i$ over all its training ratings, both from the full
# training fold.

# %%
_, w_full, biases_full = offsets_with_prior(X)
content_prior = F[film] @ w_full
own_mean = np.mean(X[raters, film].toarray()[:, 0] - biases_full.mean - biases_full.user[raters])
fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
ax.plot(ks, hybrid_c, "o-", color=PALETTE["blue"], label="$c_i$ with the content prior")
ax.plot(ks, plain_c, "s--", color=PALETTE["orange"], label="$c_i$ of the plain biases")
prior_label, own_label = r"content prior $f_i^\top w$ (full fold)", r"own mean $\bar r_i$"
ax.axhline(content_prior, color=PALETTE["green"], ls=":", lw=2, label=prior_label)
ax.axhline(own_mean, color=PALETTE["vermillion"], ls="-.", lw=2, label=f"{own_label} (all ratings)")
ax.set_xscale("symlog", linthresh=1)
ax.set_xlim(-0.2, 60)
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel(f"training ratings of {title} kept, k")
ax.set_ylabel("item offset $c_i$ (stars)")
ax.set_title("the item offset moves from the content to the film's own ratings")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=10)
savefig("08_offset_as_ratings_accumulate", fig)
plt.show()

# %%
closer = "hybrid's" if abs(hybrid_c[-1] - own_mean) < abs(plain_c[-1] - own_mean) else "plain"
display(
    Markdown(
        f"With no rating of *{title}* left, the plain biases give it an offset of "
        f"{plain_c[0]:+.3f} and the hybrid its content prior, {hybrid_c[0]:+.3f} ($w$ is "
        f"refitted at every $k$, so this prior differs a little from the full fold's, "
        f"{content_prior:+.3f}); after {ks[3]} ratings they give {plain_c[3]:+.3f} and "
        f"{hybrid_c[3]:+.3f}; after {ks[-1]}, {plain_c[-1]:+.3f} and {hybrid_c[-1]:+.3f}, the "
        f"{closer} the closer to the film's own mean residual over its {raters.size} training "
        f"ratings, {own_mean:+.3f}. In between, the hybrid's offset follows the ratings kept, "
        "a few of them at a time: the closed form weighs them, it does not smooth them."
    )
)

# %% [markdown]
# A small matrix to practise the closed form on, with genre-like features:


# %%
def small_problem(n_users, n_items, n_features, seed, missing=0.5):
    """Random 1-5 ratings (0 = missing), 0/1 features, and a content prior F @ w."""
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, size=(n_users, n_items)).astype(float)
    X[rng.random((n_users, n_items)) < missing] = 0.0
    F = (rng.random((n_items, n_features)) < 0.4).astype(float)
    return X, F, F @ rng.normal(0, 0.5, n_features)


X_small, F_small, prior_small = small_problem(10, 7, 3, seed=8)
small_biases = fit_biases(X_small, item_prior=prior_small)
print(X_small)
print("content prior f_i^T w:", np.round(prior_small, 3))

# %% [raw]
# # BEGIN QUESTION
# name: q01_item_offsets
# points: 2

# %% [markdown]
# ### Exercise 8.1 — the item offsets under a content prior
#
# Write `item_offsets(X, mean, b, prior, reg_item)`, the closed form of (a) for every item
# at once, the user offsets held fixed:
# $c_i = \bigl(\sum_{u \in U_i} (x_{ui} - m - b_u) + \lambda_i g_i\bigr) / (\lambda_i + |U_i|)$,
# with $g_i = f_i^\top w$ the content prior. `X` is an (n, d) array with 0 for a missing
# rating, `mean` is $m$, `b` the (n,) user offsets, `prior` the (d,) prior means $g$ and
# `reg_item` is $\lambda_i$; return the (d,) array of $c_i$. At the joint minimum your
# update, applied to the user offsets of `fit_biases(X, item_prior=prior)`, must give back
# its item offsets; an item without ratings gets its prior.

# %% [raw]
# # BEGIN SOLUTION


# %%
def item_offsets(X, mean, b, prior, reg_item):
    """c_i = (sum_{u in U_i} (x_ui - mean - b_u) + reg_item prior_i) / (reg_item + |U_i|)."""
    # BEGIN SOLUTION
    observed = X != 0
    residuals = np.where(observed, X - mean - b[:, None], 0.0)
    return (residuals.sum(axis=0) + reg_item * prior) / (reg_item + observed.sum(axis=0))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
np.testing.assert_allclose(
    item_offsets(X_small, small_biases.mean, small_biases.user, prior_small, 10.0),
    small_biases.item,
    rtol=1e-7,
    atol=1e-9,
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
X_other, _, prior_other = small_problem(15, 9, 4, seed=80, missing=0.6)
X_other[:, 2] = 0.0  # an item nobody rated: its offset is its prior
expected = fit_biases(X_other, reg_user=4.0, reg_item=3.0, item_prior=prior_other)
ours = item_offsets(X_other, expected.mean, expected.user, prior_other, 3.0)
np.testing.assert_allclose(ours, expected.item, rtol=1e-7, atol=1e-9)
np.testing.assert_allclose(ours[2], prior_other[2], rtol=1e-12)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Now the taste (c) of one user, by hand. The ridge objective
# $\lVert r_u - F_u a \rVert^2 + \lambda_a \lVert a \rVert^2$ is an ordinary least-squares
# problem with $p$ extra observations: for each feature $j$, a row $\sqrt{\lambda_a}\, e_j$
# with response 0, a pseudo-rating that pulls $a_{uj}$ toward 0. So numpy's least squares,
# on the residuals the biases with the content prior leave, gives $a_u$ without the formula
# of (c), and `cfcore.models.hybrid.user_tastes` must agree with it:

# %%
residuals = biases_full.residuals(X)
user = 0
start, end = residuals.indptr[user], residuals.indptr[user + 1]
F_u, r_u = F[residuals.indices[start:end]], residuals.data[start:end]
p = F.shape[1]
augmented = np.vstack([F_u, np.sqrt(reg_taste) * np.eye(p)])  # p pseudo-ratings of 0
a_u = np.linalg.lstsq(augmented, np.concatenate([r_u, np.zeros(p)]), rcond=None)[0]
tastes = user_tastes(residuals, F, reg_taste)  # every user at once, by the formula of (c)
np.testing.assert_allclose(a_u, tastes[user], rtol=1e-8, atol=1e-10)

# %%
print(f"user {u1.train.user_ids[user]}, {r_u.size} training ratings; the largest tastes:")
for j in np.argsort(-np.abs(a_u))[:4]:
    print(f"  {feature_names[j]:<18} {a_u[j]:+.3f}  ({F_u[:, j].sum():.0f} of the ratings)")

# %% [raw]
# # BEGIN QUESTION
# name: q02_user_tastes
# points: 2

# %% [markdown]
# ### Exercise 8.2 — every user's content taste
#
# Write `all_tastes(R, observed, F, reg_taste)`, the posterior mean of (c) for every user:
# $a_u = (F_u^\top F_u + \lambda_a I)^{-1} F_u^\top r_u$. `R` is an (n, d) array of
# residuals, `observed` the (n, d) boolean array of which are observed (a residual can be
# exactly 0, so the mask is passed apart), `F` the (d, p) content features and `reg_taste`
# is $\lambda_a$; return the (n, p) array whose row u is $a_u$ (0 for a user without
# ratings), by the closed form of (c); a loop over users is fine. The answer is graded
# against `cfcore.models.hybrid.user_tastes`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def all_tastes(R, observed, F, reg_taste):
    """Row u: (F_u^T F_u + reg_taste I)^{-1} F_u^T r_u, F_u the rows of F that user u rated."""
    # BEGIN SOLUTION
    tastes = np.zeros((R.shape[0], F.shape[1]))
    for u in range(R.shape[0]):
        F_u, r_u = F[observed[u]], R[u, observed[u]]
        tastes[u] = np.linalg.solve(F_u.T @ F_u + reg_taste * np.eye(F.shape[1]), F_u.T @ r_u)
    return tastes
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
R_small = small_biases.residuals(sp.csr_matrix(X_small)).toarray()
np.testing.assert_allclose(
    all_tastes(R_small, X_small != 0, F_small, 2.0),
    user_tastes(small_biases.residuals(sp.csr_matrix(X_small)), F_small, 2.0),
    rtol=1e-9,
    atol=1e-12,
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
"""  # END TEST CONFIG
rng_test = np.random.default_rng(81)
observed_test = rng_test.random((12, 10)) < 0.4
observed_test[5] = False  # a user without ratings: taste 0
observed_test[0, :3] = True
R_test = np.round(rng_test.normal(0, 1, (12, 10)), 1) * observed_test
R_test[0, 0] = 0.0  # an observed residual of exactly 0 still counts
F_test = (rng_test.random((10, 4)) < 0.5).astype(float)
rows_test, cols_test = np.nonzero(observed_test)
R_csr = sp.csr_matrix((R_test[rows_test, cols_test], (rows_test, cols_test)), shape=(12, 10))
for reg in (0.5, 30.0):
    np.testing.assert_allclose(
        all_tastes(R_test, observed_test, F_test, reg),
        user_tastes(R_csr, F_test, reg),
        rtol=1e-9,
        atol=1e-12,
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Last, (d): what content leaves, $s_{ui} = r_{ui} - f_i^\top a_u$ at every training
# rating, and one MAP-EM run on it (`cfcore.models.map_em.run`, notebook 06's algorithm,
# unchanged), with the model's K, $\tau^2$ and variance floor (stated on 1-5 stars, so
# used as they are here), its log-posterior traced.

# %%
leftover = residuals.copy()
leftover.data -= taste_at(tastes, F, stored_rows(residuals), residuals.indices)
mixture, post = init_observed(leftover, defaults.K, seed=0, min_variance=defaults.min_variance)
trace = []
mixture, post, objective = map_em.run(
    leftover,
    mixture,
    post,
    prior_variance=defaults.prior_variance,
    min_variance=defaults.min_variance,
    callback=lambda iteration, value, fitted: trace.append(value),
)
rises = np.diff(trace)
assert (rises >= -1e-9 * np.abs(np.array(trace[1:]))).all(), "the log-posterior fell"
print(f"{len(trace)} iterations; log-posterior from {trace[0]:,.1f} to {trace[-1]:,.1f}")
print(f"smallest change between iterations: {rises.min():.3f} (never negative)")

# %%
iterations = np.arange(1, len(trace) + 1)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
left.plot(iterations, trace, ".-", color=PALETTE["blue"])
left.set_xlabel("MAP-EM iteration")
left.set_ylabel("log-posterior (nats)")
left.set_title("the objective")
right.semilogy(iterations[1:], rises, ".-", color=PALETTE["blue"])
right.set_xlabel("MAP-EM iteration")
right.set_ylabel("rise since the previous iteration (nats)")
right.set_title("every rise is positive")
fig.suptitle(f"MAP-EM on what content leaves of u1's ratings, K = {defaults.K}, seed 0")
savefig("08_map_em_trace", fig)
plt.show()

# %% [markdown]
# ## The library: `HybridMixture` against the residual mixture and the biases
#
# `cfcore.models.HybridMixture` runs the four stages above, then notebook 06's mixtures on
# both sides, averaged over seeds. Fitted on u1, its stages are the ones computed by hand:

# %%
hybrid = HybridMixture(seeds=SEEDS)
[hybrid_u1] = evaluate([hybrid], [u1])
np.testing.assert_allclose(hybrid.content_weights_, w)
np.testing.assert_allclose(hybrid.biases_.item, biases_full.item)
np.testing.assert_allclose(hybrid.tastes_, tastes)
print("w, the item offsets and the tastes match the cells above")

# %%
warm_results.append(hybrid_u1)
support_table(warm_results)

# %% [markdown]
# And on the cold-items split of the first section (seed 0), where every test movie is new:

# %%
[hybrid_cold] = evaluate([HybridMixture(seeds=SEEDS)], [cold])
cold_results.append(hybrid_cold)
cold_rmse[hybrid_cold.model] = hybrid_cold.rmse_folds[0]
print(f"{'model':<18} RMSE over the {cold.n_test:,} test ratings of {n_cold_items} new movies")
for name, value in cold_rmse.items():
    print(f"{name:<18} {value:.4f}")

# %%
models = [result.model for result in warm_results]
colours = [PALETTE["orange"], PALETTE["sky"], PALETTE["blue"]]
groups = [*SUPPORT_LABELS, "new movies"]
heights = {
    result.model: [*result.rmse_by_item_support.values(), cold_rmse[result.model]]
    for result in warm_results
}
n_per_group = [*warm_results[0].n_by_item_support.values(), cold.n_test]
x = np.arange(len(groups))
fig, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
for offset, (model, colour) in enumerate(zip(models, colours, strict=True)):
    ax.bar(x + (offset - 1) * 0.27, heights[model], 0.27, color=colour, label=model)
ax.set_xticks(x, [f"{g}\n({n:,} ratings)" for g, n in zip(groups, n_per_group, strict=True)])
ax.axvline(x[-1] - 0.5, color="grey", ls=":", lw=1.5)  # a different split to its right
ax.set_ylim(0.8, None)
ax.set_xlabel("training ratings of the test pair's movie (u1), and the cold-items split")
ax.set_ylabel("held-out RMSE (stars; axis starts at 0.8)")
ax.set_title("where content helps: RMSE by the movie's support")
ax.legend(loc="upper right")
savefig("08_hybrid_by_support", fig)
plt.show()

# %% tags=["nbval-ignore-output"]
for result in [*warm_results, hybrid_cold]:
    print(f"{result.model:<18} on {result.folds[0]:<13} fitted in {result.fit_seconds:5.2f} s")

# %% [markdown]
# ## What the numbers mean

# %%
rmse_u1 = {result.model: result.rmse_by_item_support for result in warm_results}
overall = {result.model: result.rmse_folds[0] for result in warm_results}
hyb, res = rmse_u1["hybrid-mixture"], rmse_u1["residual-mixture"]
gains = [res[label] - hyb[label] for label in reversed(SUPPORT_LABELS)]  # most support first
trend = (
    "grows as the movie's support shrinks"
    if np.all(np.diff(gains) > 0)
    else "is, from the most supported movies to the least"
)
lines = [
    f"- On u1's {u1.n_test:,} test ratings the hybrid's RMSE is "
    f"**{overall['hybrid-mixture']:.4f}**, against {overall['residual-mixture']:.4f} for the "
    f"residual mixture and {overall['biases']:.4f} for the biases (5 seeds per mixture).",
    f"- The gain over the residual mixture {trend}: "
    + "; ".join(
        f"{drop:+.4f} over the {warm_results[0].n_by_item_support[label]:,} "
        f"ratings of movies with {label} training ratings"
        for drop, label in zip(gains, reversed(SUPPORT_LABELS), strict=True)
    )
    + ".",
    f"- On the {n_cold_items} new movies of the cold-items split the hybrid scores "
    f"**{cold_rmse['hybrid-mixture']:.4f}**, against {cold_rmse['biases']:.4f} for the biases "
    f"and {cold_rmse['residual-mixture']:.4f} for the residual mixture, which has little "
    "beyond the biases there.",
]
display(Markdown("\n".join(lines)))

# %% [markdown]
# - Content carries what ratings have not yet said. A movie's genres and era give it an
#   offset before anyone rates it, and each user's taste for them turns that offset into a
#   personal prediction; as the ratings accumulate, the closed form of (a) hands the offset
#   over to them, and on movies rated hundreds of times the two models nearly agree.
# - The weighting of the content regression was chosen on validation splits of the
#   training ratings, as were the model's defaults (`benchmarks/tune_hybrid.py`); no test
#   fold took part in a choice.
# - This notebook runs fold u1 and one cold-items repetition with 5 seeds per mixture. The
#   README's table uses the models' default 20 seeds, over the five canonical folds u1-u5
#   and over 5 cold-items repetitions (seeds 0-4), from the command line
#   (`python -m cfcore evaluate`).
#
# ## Summary
#
# - The residual mixture's error rises steeply as a movie's training ratings fall, and on a
#   movie without ratings it has the biases and one constant correction from its item side,
#   which makes it no better than the biases.
# - A content prior on the item offset, $c_i \sim \mathcal{N}(f_i^\top w, \sigma^2/\lambda_i)$,
#   gives the closed form
#   $c_i = \bigl(\sum_{u \in U_i}(x_{ui} - m - b_u) + \lambda_i f_i^\top w\bigr)/(\lambda_i + |U_i|)$,
#   a weighted average from content to the movie's own ratings.
# - $w$ is estimated by empirical Bayes, a ridge regression of the plain offsets on content
#   weighted by each movie's number of ratings, because the prior's errors are paid per
#   rating; on a cold validation split the weighting beats the unweighted regression.
# - A user's content taste $a_u = (F_u^\top F_u + \lambda_a I)^{-1} F_u^\top r_u$ is the
#   posterior mean of a Gaussian prior, a ridge regression on what the user rated.
# - The mixtures fit what content leaves by notebook 06's MAP-EM, unchanged, so its
#   log-posterior never decreases; `cfcore.models.HybridMixture` is the whole model.
