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
# # 06 · Honest evaluation: held-out RMSE against baselines, and a mixture that beats them
#
# The course reports an RMSE of 0.48 for its mixture on the Netflix matrix. Notebook 05
# showed that this averages over every entry, the copied observed ones included; on the
# entries it had to predict, the error is 0.96. Is that good? Only a comparison says: the
# same held-out entries, predicted by simple baselines and by the library people already
# use. This notebook runs that comparison, then derives a mixture model that wins it on
# MovieLens.
#
# **You will learn**
# - the protocol: fit on training ratings, score only held-out ratings that exist, choose
#   every setting on the training data;
# - four baselines, from the global mean to regularised user and item biases;
# - where the course model stands, on the course matrix and on MovieLens;
# - a principled extension, a mixture of the biases' residuals with a prior on the cluster
#   means fitted by MAP-EM, derived line by line, and what it gains.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cfcore import common, em, engine
from cfcore.apps.plotting import PALETTE, savefig
from cfcore.data import course_fold, course_held_out, load_course, load_movielens_100k
from cfcore.evaluation import evaluate
from cfcore.models import (
    BiasesModel,
    CourseMixture,
    GlobalMean,
    ItemMean,
    ResidualMixture,
    SurpriseModel,
    UserMean,
    held_out_errors,
    init_observed,
    map_em,
    surprise_available,
)

# %% [markdown]
# ## The protocol
#
# - A **fold** is a training matrix and a list of held-out (user, item, rating) triples that
#   the training matrix does not contain. A model sees only the training matrix.
# - The **held-out RMSE** is $\sqrt{\frac{1}{|T|}\sum_{(u,i) \in T} (\hat x_{ui} - x_{ui})^2}$
#   over the held-out set $T$ only, and an entry belongs to $T$ only where the gold holds a
#   real rating. (MAE, the mean absolute error, is reported beside it.)
# - Every choice a model makes (K, a prior's strength) is made on the training matrix: by
#   BIC, or on a validation split carved from the training ratings. The test ratings are
#   used once, to score.
# - `cfcore.evaluation.evaluate(models, folds)` fits each model on each fold's training
#   matrix, predicts the fold's held-out pairs, and records RMSE, MAE and fit time.
#
# ## Baselines
#
# Writing $m$ for the mean training rating:
#
# - **global mean**: $\hat x_{ui} = m$;
# - **user mean**: the mean of user $u$'s training ratings; **item mean**: the mean of item
#   $i$'s;
# - **biases**: $\hat x_{ui} = m + b_u + c_i$, with the offsets minimising
#   $\sum_{(u,i)} (x_{ui} - m - b_u - c_i)^2 + \lambda_u \sum_u b_u^2 + \lambda_i \sum_i c_i^2$.
#   Setting the derivative in $b_u$ to zero gives
#   $b_u = \sum_{i \in C_u} (x_{ui} - m - c_i) / (\lambda_u + |C_u|)$ (and symmetrically
#   for $c_i$): an average residual shrunk toward 0 by $\lambda$ pseudo-ratings, so a user
#   with three ratings gets a small offset. `fit_biases` solves the two sets of equations
#   jointly ($\lambda_u = 15$, $\lambda_i = 10$, the values scikit-surprise's BaselineOnly
#   uses).
#
# All cfcore models clip predictions to the training rating range, 1-5 stars here.

# %%
baselines = [GlobalMean(), UserMean(), ItemMean(), BiasesModel()]

# %% [markdown]
# ## The course matrix: the "0.48", then the held-out truth
#
# First the course's own number, from the course's own fit (K = 12, seed 1):

# %%
X, gold = load_course("netflix_incomplete"), load_course("netflix_complete")
mixture, post = common.init(X, 12, seed=1)
mixture, post, ll = em.run(X, mixture, post)
filled = em.fill_matrix(X, mixture)
held_out = course_held_out(X, gold)  # missing from X, rated in gold
print(f"course RMSE, over all {X.size:,} entries:       {common.rmse(gold, filled):.4f}")
held_out_rmse = held_out_errors(filled[held_out], gold[held_out])[0]
print(f"held-out RMSE, over the {held_out.sum():,} hidden ratings: {held_out_rmse:.4f}")

# %% [markdown]
# Now the baselines on exactly those held-out entries. `course_fold()` builds the fold:
# training matrix = `netflix_incomplete`, held out = its missing entries that
# `netflix_complete` rates. The course model enters with the course's own choice: K = 12 and
# seed 1, the best of seeds 0-4 by training log-likelihood (notebook 05), so the fit above.

# %%
fold = course_fold()
course_model = CourseMixture([12], seeds=[1], name="course-em K=12")
course_results = evaluate([*baselines, course_model], [fold])
print(f"{'model':<16} {'held-out RMSE':>14} {'MAE':>8}")
for result in course_results:
    print(f"{result.model:<16} {result.rmse_mean:>14.4f} {result.mae_mean:>8.4f}")

# %% [markdown]
# **The user mean wins on the course matrix**, at 0.8196. The course's mixture (0.9639 as the
# course fills the matrix; 0.9507 once its predictions are clipped to 1-5 stars, as every
# model here is) loses to every baseline but the item mean. This is not a weakness of mixtures alone: the
# evaluation command (`python -m cfcore evaluate --dataset course`, its table in the
# README) runs the whole field, Surprise's SVD and KNNBaseline included, and none of them
# beats even the global mean here. The hidden entries are not a random sample: look at how
# many are hidden per user.

# %%
hidden_per_user = held_out.sum(axis=1)
print(
    f"held-out entries per user: min {hidden_per_user.min()}, median "
    f"{int(np.median(hidden_per_user))}, max {hidden_per_user.max()} (of {X.shape[1]})"
)

# %% [markdown]
# Some users have almost nothing hidden, others almost everything. What a model learns
# about items from the observed entries does not carry over to the hidden ones (the README
# gives the correlations). A matrix whose gaps were chosen this way cannot say whether
# collaborative filtering helps; MovieLens, whose canonical folds hide a random 20% of each
# user's ratings, can.
#
# ## MovieLens 100K, fold u1
#
# The command line runs all five canonical folds (`--folds u1,u2,u3,u4,u5`; the README
# holds that table). To keep this notebook fast it runs fold u1 only.

# %%
movielens = load_movielens_100k()
u1 = movielens.folds["u1"]
print(f"fold u1: {u1.train.n_ratings:,} training ratings, {u1.n_test:,} held out")

# %% [markdown]
# The course model, with K chosen on the training fold two ways: by BIC (the course's rule)
# and by the RMSE on a 10% validation split carved from the training ratings (each K fitted
# on the other 90%). Both fit K = 1..8 from seeds 0-4 here (the command line tries 1..12;
# on u1 both rules choose the same K either way).

# %%
by_bic = CourseMixture(range(1, 9))
by_validation = CourseMixture(range(1, 9), select="validation", name="course-em-validation")
course_models = evaluate([by_bic, by_validation], [u1])
print(f"K chosen by BIC: {by_bic.K_}; by the validation split: {by_validation.K_}")

# %% [markdown]
# How the held-out RMSE of the course model depends on K, with the two training-fold
# choices marked. `by_bic` kept its fit for every K; each is scored on u1's held-out ratings
# (for the figure only: no choice is made from it).

# %%
rows, cols, truth = u1.rows, u1.cols, u1.values
Ks = sorted(by_bic.selection_.results)
test_rmse = []
for K in Ks:
    fitted = by_bic.selection_.results[K].mixture
    posterior, _ = em.estep(u1.train.matrix, fitted)
    predicted = np.clip(em.predict_pairs(posterior, fitted.mu, rows, cols), 1, 5)
    test_rmse.append(held_out_errors(predicted, truth)[0])
validation_rmse = [by_validation.validation_rmse_[K] for K in Ks]

fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(Ks, test_rmse, "o-", label="held-out RMSE on u1's test ratings")
ax.plot(Ks, validation_rmse, "s--", label="RMSE on the validation split of u1's training")
ax.axvline(by_bic.K_, color=PALETTE["vermillion"], ls=":", label=f"BIC's choice (K = {by_bic.K_})")
ax.axvline(
    by_validation.K_,
    color=PALETTE["green"],
    ls=":",
    label=f"validation's choice (K = {by_validation.K_})",
)
ax.set_xlabel("number of groups K")
ax.set_ylabel("RMSE (stars)")
ax.legend(fontsize=8)
savefig("06_rmse_against_k", fig)
plt.show()
print(" K  validation RMSE  held-out RMSE")
for K, v, t in zip(Ks, validation_rmse, test_rmse, strict=True):
    print(f"{K:2d} {v:16.4f} {t:14.4f}")

# %% [markdown]
# BIC picks K = 1 (a single group predicts each movie's mean rating: the item-mean
# baseline), for the reason notebook 04 gave. The validation split picks a K whose held-out
# RMSE is near the best the course model reaches, about 1.00-1.01 stars. Either way the
# course model stays above 1.
#
# ## A mixture of residuals with a prior on the means
#
# Two things hold the course model back on sparse data. Most of a rating is explained by
# the user's and the movie's general level, which a spherical cluster must re-learn for
# every movie; and a cluster mean for a movie that few of the cluster's users rated rests
# on almost nothing (notebook 03: a stale initial 0). The extension fixes both:
#
# 1. **Model the residuals.** Fit the biases, then apply the course's missing-data mixture
#    to what they leave, $r_{ui} = x_{ui} - m - b_u - c_i$ (a sparse matrix of real
#    numbers, negative ones included). The clusters now describe how a group departs from
#    the average taste.
# 2. **Put a prior on the cluster means**, $\mu_{ji} \sim \mathcal{N}(0, \tau^2)$: without
#    evidence a cluster makes no correction to the biases. EM then maximises the
#    log-posterior $\log p(r \mid \theta) + \log p(\mu)$ (MAP-EM).
#
# **E-step.** The prior does not involve the cluster assignments, so the E-step is the
# course's, `em.estep`, on the residuals.
#
# **M-step for the means.** Write $S_{ji} = \sum_u p(j \mid u)\, r_{ui} [i \in C_u]$ and
# $N_{ji} = \sum_u p(j \mid u)\, [i \in C_u]$ (the course's two products). The terms of the
# expected complete-data log-posterior in $\mu_{ji}$ are
# $-\frac{N_{ji} \mu_{ji}^2 - 2 S_{ji} \mu_{ji}}{2 \sigma_j^2} - \frac{\mu_{ji}^2}{2\tau^2}$.
# Setting the derivative to zero:
#
# $$
# \frac{S_{ji} - N_{ji}\mu_{ji}}{\sigma_j^2} - \frac{\mu_{ji}}{\tau^2} = 0
# \quad\Rightarrow\quad
# \mu_{ji} = \frac{S_{ji}}{N_{ji} + \sigma_j^2 / \tau^2} .
# $$
#
# This is the course's update $S/N$ with $\sigma_j^2/\tau^2$ pseudo-ratings of value 0
# added: with plenty of support it is the course's mean, with little it shrinks toward 0,
# with none it is exactly 0 (no stale initial value). As $\tau^2 \to \infty$ it is the
# course's M-step.
#
# **Variances and weights.** The prior involves neither, so given the new means they are the
# course's formulas (the variance floor included). Updating the means at the old variances
# and then the variances at the new means is a conditional maximisation (ECM): each block
# step cannot lower the bound, so **the log-posterior never decreases**, as in notebook 02.
#
# **Start.** The course's seeded means, but the starting variance measured over observed
# entries only (`init_observed`): counting every missing residual as 0 would make it tiny
# and the first posteriors hard.
#
# Here is one run on u1's residuals, K = 10, $\tau^2 = 0.16$, its log-posterior traced:

# %%
biases = BiasesModel().fit(u1.train).biases_
residuals = biases.residuals(u1.train.matrix)
trace = []
mixture, post = init_observed(residuals, 10, seed=0)
mixture, post, objective = map_em.run(
    residuals,
    mixture,
    post,
    prior_variance=0.16,
    callback=lambda iteration, value, fitted: trace.append(value),
)
print(f"{len(trace)} iterations; log-posterior from {trace[0]:,.1f} to {trace[-1]:,.1f}")
print(f"smallest change between iterations: {np.diff(trace).min():.3f} (never negative)")
support = np.asarray(engine.observed(residuals, allow_negative=True).M.T @ post).T
print(f"share of cluster means with support below 1 rating: {np.mean(support < 1):.1%}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(np.arange(1, len(trace) + 1), trace, ".-")
ax.set_xlabel("MAP-EM iteration")
ax.set_ylabel("log-posterior (nats)")
ax.set_title("residual mixture on u1: the objective never decreases")
savefig("06_map_em_trace", fig)
plt.show()

# %% [markdown]
# More than a third of the cluster means have less than one rating behind them: the course
# model would leave them at their initial values, the prior sets them to "no correction".
#
# **Two sides and many seeds.** The same model fitted to the transposed residuals groups
# *movies* by how users depart from them; the two sides' corrections are added. And EM from
# one seed lands in one local optimum with near-hard posteriors; averaging the predictions
# of 20 seeded fits smooths that. `ResidualMixture()` does all of this; its settings (K =
# 10, $\tau^2 = 0.16$, 20 seeds, both sides) were chosen on validation splits of the
# training folds u1 and u2 (`docs/derivations.md` lists those runs).
#
# ## The whole field on fold u1

# %%
# NBVAL_IGNORE_OUTPUT
comparison = [ResidualMixture()]
if surprise_available():
    comparison += [
        SurpriseModel(name) for name in ("baselineonly", "svd", "knnbaseline", "coclustering")
    ]
results = evaluate(baselines + comparison, [u1])
for result in results:
    print(f"{result.model:<24} fitted in {result.fit_seconds:6.2f} s")

# %% [markdown]
# The residual mixture's one fit gives its two halves for free: the user side's and the item
# side's corrections, each added to the biases alone.

# %%
residual_model = comparison[0]
biases_only = residual_model.biases_.predict(rows, cols)
side_rmse = {
    side: held_out_errors(
        np.clip(biases_only + residual_model.residual_predictions(rows, cols, side), 1, 5), truth
    )[0]
    for side in ("users", "items")
}
rmse = {result.model: result.rmse_folds[0] for result in results + course_models}
rmse["residual-mixture, user side only"] = side_rmse["users"]
rmse["residual-mixture, item side only"] = side_rmse["items"]
print(f"{'model':<36} held-out RMSE on u1")
for name, value in sorted(rmse.items(), key=lambda item: item[1]):
    print(f"{name:<36} {value:.4f}")

# %%
names = sorted(rmse, key=rmse.get)
fig, ax = plt.subplots(figsize=(7, 4.5))
colours = [PALETTE["blue"] if "mixture" in n or "course" in n else "grey" for n in names]
ax.barh(names, [rmse[n] for n in names], color=colours)
ax.set_xlim(0.85, 1.2)
ax.invert_yaxis()
ax.set_xlabel("held-out RMSE on MovieLens fold u1 (stars; lower is better)")
ax.set_title("mixture models (blue) against baselines and Surprise (grey)")
savefig("06_movielens_u1", fig)
plt.show()

# %% [markdown]
# ## What the numbers mean
#
# - On u1 the residual mixture predicts held-out ratings with an RMSE of about 0.918 stars,
#   against 0.960 for the biases it starts from, 0.947 for Surprise's SVD and 0.942 for
#   KNNBaseline (when installed). Over all five folds (the command line) its mean is 0.9087,
#   and it wins on every fold.
# - The course model, as the course runs it, is worse than the item mean: BIC chooses one
#   group, and even the best K on a validation split stays near 1.0 stars.
# - The gain comes from three principled changes, each measured on validation splits:
#   residuals after biases (the clusters model departures from the average, not the
#   average), a prior that shrinks poorly supported means to "no correction", and averaging
#   over seeds and over the two sides.
# - On the course matrix no model that uses other users or items beats the global mean,
#   because its hidden entries were not chosen at random. Its "0.48" measures neither
#   prediction nor collaborative filtering.
#
# ## Summary
#
# - Score only held-out ratings that exist, and choose every setting on training data.
# - Baselines first: on MovieLens the regularised biases (0.960 on u1) already beat the
#   course model (above 1.0); on the course matrix the user mean wins outright.
# - A mixture of the biases' residuals, with a Gaussian prior on its means fitted by MAP-EM
#   (same E-step, a shrunk mean update, a log-posterior that never decreases), averaged over
#   seeds and over users and items, beats every baseline and every Surprise model on
#   MovieLens 100K: 0.9087 over the five canonical folds.
