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
# # Movie recommendations
#
# Search for movies you have seen and rate them; after every rating the model (a mixture of
# MovieLens users' tastes) learns from it and suggests what to watch next. Undo takes a
# rating back.

# %%
from cfcore.apps.app import recommender_app

recommender_app()
