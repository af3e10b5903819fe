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
# # 05 · Reproducing the course, and what its RMSE measures
#
# The MITx 6.86x project "Collaborative Filtering via Gaussian Mixtures" publishes its
# results: k-means costs and EM log-likelihoods on a 2-D toy set, a step-by-step EM run on a
# 20 x 5 test matrix, and EM on a 1200 x 1200 Netflix matrix with an RMSE of 0.4805. This
# notebook recomputes every one of them with `cfcore` from the course's own files, then asks
# what that RMSE averages over.
#
# **You will learn**
# - that `cfcore.kmeans`, `cfcore.naive_em` and `cfcore.em` give the course's numbers exactly;
# - the course's RMSE averages over *every* entry, the observed ones (copied, so error 0)
#   included, and how it relates to the error on the missing entries alone;
# - how large the error is on the held-out entries alone, and what that means for the "0.48".
#
# The course files are not part of this repository (they may not be redistributed):
# `cfcore.data.load_course` reads them from `$CFCORE_DATA/netflix` and checks each
# file's sha256 first. Without them the test suite skips this notebook and says why.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from cfcore import common, em, fit
from cfcore.apps.plotting import savefig, scatter_clusters
from cfcore.data import load_course
from cfcore.evaluation.reproduce import COURSE_RESULTS


def compare(label: str, value: float, digits: int = 10) -> None:
    """Print cfcore's value beside the course's and their relative difference."""
    course = COURSE_RESULTS[label]
    gap = abs(value - course) / abs(course)
    gap_text = "< 1e-12" if gap < 1e-12 else f"{gap:.0e}"  # below 1e-12 is rounding noise
    print(
        f"{label:<58} cfcore {value:>17.{digits}f}  course {course:>17.{digits}f}  "
        f"rel. diff {gap_text}"
    )


# %% [markdown]
# ## k-means on the toy data
#
# 250 points in 2-D. For each K the course runs k-means from seeds 0-4 (the initial means are
# K rows drawn by `np.random.seed(seed)`, exactly as `common.init` does) and reports the
# lowest cost.

# %%
toy = load_course("toy_data")
kmeans_fits = {K: fit(toy, K, seeds=range(5), method="kmeans") for K in range(1, 5)}
for K, result in kmeans_fits.items():
    compare(f"k-means toy K={K} cost", result.cost)

# %% [markdown]
# The relative differences are below $10^{-12}$, the level of floating-point rounding (the
# last of the 16 digits can differ with the order of a sum): the numbers are the course's.
#
# ## EM on the toy data, and BIC

# %%
em_fits = {K: fit(toy, K, seeds=range(5), method="naive_em") for K in range(1, 5)}
for K, result in em_fits.items():
    compare(f"naive EM toy K={K} log-likelihood", result.log_likelihood)
for K, result in em_fits.items():
    compare(f"naive EM toy K={K} BIC", result.bic, digits=4)
best_k = max(em_fits, key=lambda K: em_fits[K].bic)
print(f"best K by BIC: {best_k} (course: {COURSE_RESULTS['naive EM toy best K by BIC']})")

# %% [markdown]
# The course prints three of its BICs to four decimals; its K = 1 value, -1315.5057, is
# $7.7 \times 10^{-5}$ from $\ell - \tfrac{3}{2}\ln 250 = -1315.50562$, a difference in the last
# printed digit (hence the 6e-08 above). BIC picks K = 3, as in the course. The two methods
# on the same seeds, side by side:

# %%
fig, axes = plt.subplots(2, 4, figsize=(15, 7), sharex=True, sharey=True)
for K in range(1, 5):
    km, mix = kmeans_fits[K], em_fits[K]
    scatter_clusters(
        axes[0, K - 1],
        toy,
        km.post.argmax(1),
        km.mixture.mu,
        title=f"k-means, K={K}: cost {km.cost:.1f}",
    )
    scatter_clusters(
        axes[1, K - 1],
        toy,
        mix.post.argmax(1),
        mix.mixture.mu,
        title=f"EM, K={K}: BIC {mix.bic:.1f}",
    )
savefig("05_toy_kmeans_vs_em", fig)
plt.show()

# %% [markdown]
# ## EM with missing entries, step by step (test_incomplete, K = 4, seed 0)
#
# The course's `test_solutions.txt` lists every intermediate of one run; the test suite
# compares all of them (means, variances, weights, posteriors, filled matrix) to 8 decimals.
# Here are the headline numbers:

# %%
X_test, gold_test = load_course("test_incomplete"), load_course("test_complete")
mixture, post = common.init(X_test, 4, seed=0)
post, first_ll = em.estep(X_test, mixture)
compare("EM test_incomplete K=4 seed 0 first E-step log-likelihood", first_ll)
fitted, post, final_ll = em.run(X_test, mixture, post)
compare("EM test_incomplete K=4 seed 0 log-likelihood", final_ll)
filled_test = em.fill_matrix(X_test, fitted)
compare("EM test_incomplete K=4 seed 0 RMSE (all entries)", common.rmse(gold_test, filled_test))

# %% [markdown]
# ## EM on the Netflix matrix
#
# 1200 users x 1200 movies, ratings 1-5, 0 = missing. The course fits K = 1 and K = 12 from
# seeds 0-4 and keeps the best log-likelihood.

# %%
X, gold = load_course("netflix_incomplete"), load_course("netflix_complete")
observed = X != 0
print(
    f"{X.shape[0]} users x {X.shape[1]} movies: {observed.sum():,} ratings observed "
    f"({observed.mean():.1%}), {(~observed).sum():,} missing"
)

# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
netflix = {K: fit(X, K, seeds=range(5), method="em") for K in (1, 12)}
print(f"10 EM runs in {time.perf_counter() - start:.2f} s")

# %%
compare("EM netflix K=1 log-likelihood", netflix[1].log_likelihood, digits=4)
compare("EM netflix K=12 log-likelihood", netflix[12].log_likelihood, digits=4)
print(f"best seed for K=12: {netflix[12].seed} (course: 1)")
filled = em.fill_matrix(X, netflix[12].mixture)
course_rmse = common.rmse(gold, filled)
compare("EM netflix K=12 RMSE (all entries)", course_rmse)

# %% [markdown]
# Every number of the course is reproduced.
#
# ## What the 0.48 averages over
#
# `common.rmse(gold, filled)` is the course's definition:
#
# $$
# \mathrm{RMSE}_{\text{course}} = \sqrt{\frac{1}{nd} \sum_{u,i} (\hat x_{ui} - x^{\text{gold}}_{ui})^2 } .
# $$
#
# The sum runs over all $nd = 1{,}440{,}000$ entries, which fall into three groups:

# %%
missing = ~observed
rated = gold > 0
groups = {
    "observed (copied by fill_matrix)": observed,
    "missing, rated in netflix_complete": missing & rated,
    "missing, 0 in netflix_complete too": missing & ~rated,
}
squared_errors = (filled - gold) ** 2
print(f"{'entries':<36} {'count':>10} {'RMSE within':>12} {'share of squared error':>23}")
for name, where in groups.items():
    print(
        f"{name:<36} {where.sum():>10,} {np.sqrt(squared_errors[where].mean()):>12.4f} "
        f"{squared_errors[where].sum() / squared_errors.sum():>23.1%}"
    )
held_out = np.sqrt(squared_errors[missing & rated].mean())

# %% [markdown]
# - On the 77.2% of entries that were observed, `fill_matrix` copies the rating, so the
#   error is exactly 0: they add nothing to the sum but count in the denominator.
# - The **held-out** entries, missing from the input and rated in the gold matrix, are the
#   ones that test the model: their RMSE is **0.9639** stars.
# - 2,429 missing entries are 0 in `netflix_complete` as well: there is no rating to judge
#   against, yet the course's formula scores the prediction against 0 stars (RMS 3.50), and
#   they make 8.9% of its squared error.
#
# So, with $N_{\text{held-out}} = 325{,}803$ entries,
#
# $$
# \mathrm{RMSE}_{\text{course}}^2 = \frac{N_{\text{held-out}}\, \mathrm{RMSE}_{\text{held-out}}^2
#   + \sum_{\text{gold} = 0} \hat x_{ui}^2}{1{,}440{,}000} :
# $$
#
# a held-out error shrunk by the copied entries and inflated by the unrated ones. The honest
# number counts only entries the model had to predict and where the gold holds a real
# rating: the held-out RMSE.

# %%
errors = filled[missing & rated] - gold[missing & rated]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(errors, bins=np.arange(-4.25, 4.3, 0.25))
ax.set_xlabel("prediction - true rating, on the 325,803 held-out entries (stars)")
ax.set_ylabel("number of entries")
ax.set_title(f"held-out RMSE {held_out:.4f}; course RMSE over all entries {course_rmse:.4f}")
savefig("05_held_out_errors", fig)
plt.show()

# %% [markdown]
# For scale, notebook 06 puts baselines on the same held-out entries: predicting each
# user's mean rating scores 0.8196, better than the mixture. The hidden entries of this
# matrix were not chosen at random (per user, between 0 and 931 are hidden), which is why
# notebook 06 also evaluates on MovieLens with its random folds.

# %% [markdown]
# ## Summary
#
# - `cfcore` reproduces every result of the course from its files: k-means costs, EM
#   log-likelihoods and BICs (best K = 3), each intermediate of the 20 x 5 run, and the
#   Netflix K = 12 log-likelihood (seed 1) and RMSE 0.4805.
# - That RMSE averages over all 1.44M entries: 77% are copied observed ratings (error 0),
#   and 2,429 are unrated in the gold matrix yet scored against 0. On the 325,803 held-out
#   entries that carry a real rating, the error is 0.9639 stars.
# - Held-out error is the number that says how well unseen ratings are predicted. Notebook 06
#   measures it honestly, against baselines, on the course data and on MovieLens.
