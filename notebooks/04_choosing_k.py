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
# # 04 · Choosing the number of groups K
#
# More groups always fit the training data better: the log-likelihood can only rise with K
# (a K-group mixture can imitate any mixture with fewer). So the training fit cannot choose
# K. This notebook compares three ways that can: the Bayesian information criterion (BIC),
# which the course uses, and two held-out measures.
#
# **You will learn**
# - where BIC's penalty $\frac{P}{2} \ln n$ comes from, and how to count $P$ for a mixture;
# - that BIC recovers the planted K on 2-D data and on planted ratings;
# - how to measure held-out fit: the log-likelihood of held-out ratings, and held-out RMSE;
# - why on real ratings the three can disagree, and which question each one answers.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cfcore import em, fit, select_k
from cfcore.apps.plotting import savefig
from cfcore.common import n_parameters
from cfcore.data import load_movielens_100k, make_blobs, make_ratings, train_test_split
from cfcore.models import held_out_errors, held_out_log_likelihood

# %% [markdown]
# ## Where BIC comes from
#
# A Bayesian compares models by their evidence, the probability of the data with the
# parameters averaged out: $p(D \mid K) = \int p(D \mid \theta, K)\, p(\theta \mid K)\, d\theta$.
# With $n$ independent rows the integrand is sharply peaked at the maximum-likelihood
# $\hat\theta$. A second-order (Laplace) expansion of $\log p(D \mid \theta, K)$ around
# $\hat\theta$ turns the integral into a Gaussian one:
#
# $$
# \log p(D \mid K) \approx \ell(\hat\theta) + \log p(\hat\theta \mid K)
#   + \frac{P}{2} \log 2\pi - \frac{1}{2} \log \lvert H \rvert ,
# $$
#
# where $P$ is the number of free parameters and $H = -\nabla^2 \ell(\hat\theta)$. The
# curvature $H$ is a sum over $n$ rows, $H \approx n \bar I$ with $\bar I$ the curvature per
# row, so $\log \lvert H \rvert = P \ln n + \log \lvert \bar I \rvert$. Keeping only the terms
# that grow with $n$:
#
# $$
# \mathrm{BIC} = \ell(\hat\theta) - \frac{P}{2} \ln n \qquad \text{(higher is better; the course's sign).}
# $$
#
# Each parameter costs $\frac{1}{2} \ln n$ nats: the price of pinning it down to a precision
# of about $1/\sqrt{n}$. The derivation assumes $n$ is large compared with $P$; remember that
# for MovieLens below.
#
# **Counting P** for a spherical mixture of K components in d dimensions: $K d$ means, $K$
# variances, and $K - 1$ weights (they sum to 1), `cfcore.common.n_parameters`.

# %% [markdown]
# ## BIC on the four planted 2-D groups

# %%
X, truth = make_blobs(
    n_per_cluster=[120, 80, 100, 60],
    centres=[(0.0, 0.0), (5.0, 0.5), (1.5, 5.0), (6.0, 6.0)],
    spread=[1.0, 0.8, 1.2, 0.9],
    seed=1,
)
selection = select_k(X, range(1, 9), seeds=range(5), method="naive_em")
print(" K   params   log-likelihood        BIC")
for row in selection.table():
    P = n_parameters(selection.results[row["K"]].mixture)
    print(f"{row['K']:2d} {P:8d} {row['log_likelihood']:16.2f} {row['bic']:10.2f}")
print(f"best K by BIC: {selection.best_k} (planted: 4)")

# %%
Ks_2d = [row["K"] for row in selection.table()]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(
    Ks_2d,
    [row["log_likelihood"] for row in selection.table()],
    "o-",
    label="log-likelihood (training)",
)
ax.plot(Ks_2d, [row["bic"] for row in selection.table()], "s-", label="BIC")
ax.axvline(selection.best_k, color="grey", ls=":", label=f"BIC's choice, K = {selection.best_k}")
ax.set_xlabel("number of components K")
ax.set_ylabel("nats (sum over 360 points)")
ax.legend()
savefig("04_bic_2d", fig)
plt.show()

# %% [markdown]
# The log-likelihood keeps climbing past K = 4, a little at a time, as extra components
# split real groups; each extra component costs $\frac{P}{2}\ln n$ with 4 more parameters,
# $2 \ln 360 = 11.8$ nats, more than it gains. BIC peaks at the planted K.

# %% [markdown]
# ## Held-out measures
#
# BIC judges K on the training data with a formula. The direct alternative is to hide some
# ratings, fit on the rest, and score the hidden ones:
#
# - **held-out log-likelihood**: how probable the hidden ratings are under the fitted model,
#   given each user's training ratings. Because a user's ratings are independent given the
#   group, $p(x_{\text{test}} \mid x_{\text{train}}) = p(x_{\text{train}}, x_{\text{test}}) / p(x_{\text{train}})$;
#   `held_out_log_likelihood` computes exactly that difference of two `em.log_likelihood`
#   calls. We report it per held-out rating, in nats.
# - **held-out RMSE**: the root mean squared error of the predictions
#   $\sum_j p(j \mid u)\, \mu_{ji}$ over the hidden ratings only.
#
# The first judges the whole predictive distribution (means *and* variances); the second
# only the point prediction, which is what a recommender shows.


# %%
def compare_k(train, test, Ks, seeds=range(3)):
    """Fit EM for each K on `train`; BIC on train, held-out log-likelihood and RMSE on `test`."""
    rows, cols, truth = test.triples()
    scores = {"BIC": [], "held-out log-likelihood": [], "held-out RMSE": []}
    for K in Ks:
        result = fit(train.matrix, K, seeds=seeds)
        predicted = em.fill_matrix(train.matrix, result.mixture, pairs=(rows, cols))
        held_out = held_out_log_likelihood(train.matrix, test.matrix, result.mixture)
        scores["BIC"].append(result.bic)
        scores["held-out log-likelihood"].append(held_out / truth.size)
        scores["held-out RMSE"].append(held_out_errors(predicted, truth)[0])
    return scores


def show(scores, Ks, title, name):
    best = {
        "BIC": Ks[int(np.argmax(scores["BIC"]))],
        "held-out log-likelihood": Ks[int(np.argmax(scores["held-out log-likelihood"]))],
        "held-out RMSE": Ks[int(np.argmin(scores["held-out RMSE"]))],
    }
    print(" K          BIC   held-out ll per rating   held-out RMSE")
    for k, b, ll, r in zip(Ks, *scores.values(), strict=True):
        print(f"{k:2d} {b:12.1f} {ll:24.4f} {r:15.4f}")
    print("chosen K:", ", ".join(f"{name} {k}" for name, k in best.items()))
    units = ["nats (training data)", "nats per held-out rating", "stars"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    for ax, (metric, values), unit in zip(axes, scores.items(), units, strict=True):
        ax.plot(Ks, values, "o-")
        ax.axvline(best[metric], color="grey", ls=":")
        ax.set_title(f"{metric}: best K = {best[metric]}")
        ax.set_xlabel("number of groups K")
        ax.set_ylabel(unit)
    fig.suptitle(title)
    savefig(name, fig)
    plt.show()


# %% [markdown]
# ## Planted ratings: the three agree
#
# `make_ratings` plants 5 taste groups among 1,500 users of 100 items, each user rating
# about 30% of the items, ratings rounded to 1-5 stars. `train_test_split` hides 20% of
# each user's ratings.

# %%
planted, planted_truth = make_ratings(1500, 100, 5, 0.3, seed=0)
planted_train, planted_test = train_test_split(planted, 0.2, seed=0)
print(planted_train)
print(planted_test)
Ks = [1, 2, 3, 4, 5, 6, 7, 8]
show(
    compare_k(planted_train, planted_test, Ks),
    Ks,
    "planted ratings, 5 groups",
    "04_choosing_k_planted",
)

# %% [markdown]
# All three pick the planted K = 5: when the model is right and there are many users per
# parameter, BIC's approximation holds and the held-out measures agree with it.
#
# ## MovieLens 100K: they disagree
#
# The same comparison on MovieLens' canonical split u1 (80,000 training ratings, 20,000
# held out).

# %%
movielens = load_movielens_100k()
train, test = movielens.folds["u1"]
Ks = [1, 2, 3, 4, 6, 8, 12]
show(compare_k(train, test, Ks), Ks, "MovieLens 100K, fold u1", "04_choosing_k_movielens")

# %% [markdown]
# BIC wants a single group by a wide margin, while both held-out measures prefer two; all
# three get worse as K grows past 2, and the held-out RMSE stays between 1.03 and 1.09 stars.
#
# **Why they disagree.** Each group has 1,682 means, so one more group costs
# $\frac{1}{2} \cdot 1{,}684 \cdot \ln 943 \approx 5{,}770$ nats of BIC penalty. But each of
# those means is estimated from the few users of the group who rated that movie, not from
# all 943 users; the "$n$ large compared with $P$" assumption behind BIC fails badly
# ($P = 1{,}684\,K$ parameters, $n = 943$ users). BIC then penalises by a formula, not by
# what the extra group does on unseen data. The held-out log-likelihood asks that question
# directly, and it is the right one for a density model. Held-out RMSE asks a narrower
# question — only the mean prediction counts, not how confident it is — which is the one a
# recommender cares about; it can favour a K whose variances are poorly calibrated.
#
# On this data the course model gains little from more groups at all: most groups' means for
# most movies rest on almost no ratings. Notebook 06 measures that against baselines and
# fixes it.
#
# ## Summary
#
# - BIC $= \ell(\hat\theta) - \frac{P}{2} \ln n$ is a large-sample approximation to the log
#   evidence; $P = Kd + K + (K-1)$ for a spherical mixture.
# - With many rows per parameter (2-D blobs, planted ratings) BIC, the held-out
#   log-likelihood and the held-out RMSE all recover the planted K.
# - On MovieLens, with 1,684 parameters per group and 943 users, BIC's assumption fails and
#   it picks K = 1; held-out measures pick K = 2. Choose K on held-out data carved from the
#   training set — never on the test fold — when the question is prediction.
