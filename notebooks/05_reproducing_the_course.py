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
from IPython.display import Markdown, display

from cfcore import common, em, fit
from cfcore.apps.plotting import savefig, scatter_clusters
from cfcore.data import course_fold, load_course
from cfcore.evaluation import evaluate
from cfcore.evaluation.reproduce import COURSE_RESULTS
from cfcore.models import UserMean

gaps = {}  # every comparison's relative difference, by label


def compare(label: str, value: float, digits: int = 10) -> None:
    """Print cfcore's value beside the course's and their relative difference."""
    course = COURSE_RESULTS[label]
    gap = gaps[label] = abs(value - course) / abs(course)
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

# %%
largest = max(gaps[f"k-means toy K={K} cost"] for K in kmeans_fits)
display(
    Markdown(
        f"The relative differences of the {len(kmeans_fits)} costs are "
        + ("below $10^{-12}$" if largest < 1e-12 else f"at most {largest:.0e}")
        + ", the level of floating-point rounding (the last of the 16 digits can differ with "
        "the order of a sum): the numbers are the course's."
    )
)

# %% [markdown]
# ## EM on the toy data, and BIC

# %%
em_fits = {K: fit(toy, K, seeds=range(5), method="naive_em") for K in range(1, 5)}
for K, result in em_fits.items():
    compare(f"naive EM toy K={K} log-likelihood", result.log_likelihood)
for K, result in em_fits.items():
    compare(f"naive EM toy K={K} BIC", result.bic, digits=4)
best_k = max(em_fits, key=lambda K: em_fits[K].bic)
print(f"best K by BIC: {best_k} (course: {COURSE_RESULTS['naive EM toy best K by BIC']})")

# %%
course_bic = {K: COURSE_RESULTS[f"naive EM toy K={K} BIC"] for K in em_fits}
rounded = [K for K, value in course_bic.items() if value == round(value, 4)]
bic_gap = {K: abs(em_fits[K].bic - course_bic[K]) for K in rounded}
worst = max(bic_gap, key=bic_gap.get)
display(
    Markdown(
        f"The course prints its BICs for K = {', '.join(map(str, rounded))} to four decimals. "
        f"The largest gap to cfcore's, at K = {worst}, is {bic_gap[worst]:.1e}: the course's "
        f"{course_bic[worst]:.4f} against cfcore's {em_fits[worst].bic:.5f}, "
        f"{'less' if bic_gap[worst] < 1e-4 else 'more'} than one unit in the last printed "
        "digit (hence the "
        f"relative difference of {gaps[f'naive EM toy K={worst} BIC']:.0e} above). BIC picks "
        f"K = {best_k}, as the course does."
    )
)

# %% [markdown]
# The two methods on the same seeds, side by side (K = 1 is one group for both):

# %%
fig, axes = plt.subplots(
    2, 3, figsize=(10.5, 5.0), sharex=True, sharey=True, layout="constrained"
)
for column, K in enumerate(range(2, 5)):
    km, mix = kmeans_fits[K], em_fits[K]
    scatter_clusters(
        axes[0, column], toy, km.post.argmax(1), km.mixture.mu, title=f"k-means K={K}: cost {km.cost:.1f}"
    )
    scatter_clusters(
        axes[1, column], toy, mix.post.argmax(1), mix.mixture.mu, title=f"EM K={K}: BIC {mix.bic:.1f}"
    )
for ax in axes.flat:
    ax.label_outer()  # axis labels on the outer panels only
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

# %% tags=["nbval-ignore-output"]
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

# %%
largest_label = max(gaps, key=gaps.get)
display(
    Markdown(
        f"Every number of the course is reproduced: over the {len(gaps)} numbers compared, "
        f"the largest relative difference is {gaps[largest_label]:.0e}, on the "
        f"{largest_label}"
        + (", which the course prints to four decimals." if "BIC" in largest_label else ".")
    )
)

# %% [markdown]
# ## What the 0.48 averages over
#
# `common.rmse(gold, filled)` is the course's definition:
#
# $$
# \mathrm{RMSE}_{\text{course}} = \sqrt{\frac{1}{nd} \sum_{u,i} (\hat x_{ui} - x^{\text{gold}}_{ui})^2 } .
# $$
#
# The sum runs over all $nd$ entries of the matrix, which fall into three groups:

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
held_out_rmse = np.sqrt(squared_errors[missing & rated].mean())

# %%
unrated = missing & ~rated
display(
    Markdown(
        f"- On the {observed.mean():.1%} of the {X.size:,} entries that were observed, "
        "`fill_matrix` copies the rating, so the error is exactly 0: they add nothing to the "
        "sum but count in the denominator.\n"
        "- The **held-out** entries, missing from the input and rated in the gold matrix, are "
        f"the ones that test the model: over those {(missing & rated).sum():,} entries the "
        f"RMSE is **{held_out_rmse:.4f}** stars.\n"
        f"- {unrated.sum():,} missing entries are 0 in `netflix_complete` as well: there is no "
        "rating to judge against, yet the course's formula scores the prediction against 0 "
        f"stars (RMS {np.sqrt(squared_errors[unrated].mean()):.2f} over them), and they make "
        f"{squared_errors[unrated].sum() / squared_errors.sum():.1%} of its squared error."
    )
)

# %% [markdown]
# So, with $N_{\text{held-out}}$ held-out entries among the $nd$,
#
# $$
# \mathrm{RMSE}_{\text{course}}^2 = \frac{N_{\text{held-out}}\, \mathrm{RMSE}_{\text{held-out}}^2
#   + \sum_{\text{gold} = 0} \hat x_{ui}^2}{nd} :
# $$
#
# a held-out error shrunk by the copied entries and inflated by the unrated ones. The
# identity, checked on the numbers:

# %%
n_held_out = (missing & rated).sum()
recombined = np.sqrt((n_held_out * held_out_rmse**2 + (filled[unrated] ** 2).sum()) / X.size)
print(f"from the two groups: {recombined:.10f}; common.rmse: {course_rmse:.10f}")

# %% [markdown]
# The honest number counts only entries the model had to predict and where the gold holds
# a real rating: the held-out RMSE.

# %%
errors = filled[missing & rated] - gold[missing & rated]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(errors, bins=np.arange(-4.25, 4.3, 0.25))
ax.set_xlabel(f"prediction - true rating, on the {errors.size:,} held-out entries (stars)")
ax.set_ylabel("number of entries")
ax.set_title(f"held-out RMSE {held_out_rmse:.4f}; course RMSE over all entries {course_rmse:.4f}")
savefig("05_held_out_errors", fig)
plt.show()

# %%
user_mean_rmse = evaluate([UserMean()], [course_fold()])[0].rmse_folds[0]
hidden_per_user = (missing & rated).sum(axis=1)
display(
    Markdown(
        "For scale, notebook 06 puts baselines on the same held-out entries: predicting each "
        f"user's mean rating scores {user_mean_rmse:.4f} over them, "
        f"{'better' if user_mean_rmse < held_out_rmse else 'worse'} than the mixture's "
        f"{held_out_rmse:.4f}. The hidden entries of this matrix were not chosen at random "
        f"(per user, between {hidden_per_user.min()} and {hidden_per_user.max()} of the "
        f"{X.shape[1]:,} movies are hidden), which is why notebook 06 also evaluates on "
        "MovieLens with its random folds."
    )
)

# %% [markdown]
# ## Summary
#
# - `cfcore` reproduces every result of the course from its files: k-means costs, EM
#   log-likelihoods and BICs (and BIC's choice of K), each intermediate of the 20 x 5 run,
#   and the Netflix K = 12 log-likelihood (best seed) and RMSE.
# - That RMSE averages over every entry of the matrix: most are copied observed ratings
#   (error 0), and a few are unrated in the gold matrix yet scored against 0. On the
#   held-out entries that carry a real rating, the error is far larger.
# - Held-out error is the number that says how well unseen ratings are predicted. Notebook 06
#   measures it honestly, against baselines, on the course data and on MovieLens.
