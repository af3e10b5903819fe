# make test: set up .venv from nothing (python3 -m venv + pip) and run the whole suite.
# make run:  the same setup, then reproduce the course's results and run every notebook.
# make test-fast: the same, less the browser and app tests, the notebooks and tests marked slow.
# make student: the student notebooks (stubs, no solutions) and autograders, into dist/.
# make grade NB=notebooks/02_em_complete_data.ipynb: grade one notebook; ends "score: X/Y".
# make lab:  open the notebooks in JupyterLab.
# make app:  the web app in Voila on http://127.0.0.1:$(APP_PORT)/ (APP_PORT=8866 by default).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-fast lint sync-check run lab app student grade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,compare,dask,fast]'
	touch $@

install: $(STAMP)

# ruff, and the layers contract of pyproject.toml: imports only go downward, no cycles
lint: install
	$(BIN)/ruff check cfcore tests notebooks benchmarks tools app
	$(BIN)/lint-imports --no-cache

# the .py and .ipynb of every notebook pair (and of the app) must say the same thing
sync-check: install
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
	  $(BIN)/jupytext --sync notebooks/*.ipynb app/*.ipynb >/dev/null && \
	  git diff --exit-code -- notebooks/ app/ || \
	  { echo "notebook pairs were out of sync: commit what jupytext --sync wrote"; exit 1; }; fi

# tests/ and every notebook (nbval); notebooks write their figures to a scratch folder here
test: install lint sync-check
	CFCORE_FIGURES=$$(mktemp -d) $(BIN)/python -m pytest

# the quick loop while working: under a minute
test-fast: install lint
	CFCORE_FIGURES=$$(mktemp -d) $(BIN)/python -m pytest tests -m "not slow and not browser and not app"

# the course table, then every notebook executed headless (this rewrites figures/);
# widget state (random model ids, image bytes) is not written into the notebooks
run: install
	$(BIN)/python -m cfcore reproduce
	$(BIN)/jupytext --sync notebooks/[0-9]*.py
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.record_timing=False \
	  --ExecutePreprocessor.store_widget_state=False notebooks/*.ipynb

student: install
	$(BIN)/python tools/teaching.py build dist

grade: install
	@test -n "$(NB)" || { echo "name the notebook to grade: make grade NB=path/to/NN_name.ipynb"; exit 2; }
	$(BIN)/python tools/teaching.py grade $(NB)

lab: install
	$(BIN)/jupyter lab notebooks/

# the web app: fit its model into the cache first (seconds, once), so that no visitor's
# kernel fits it; app/voila.json binds 127.0.0.1, pre-heats a kernel and culls idle ones
APP_PORT ?= 8866
app: install
	$(BIN)/python -m cfcore.apps.app
	cd app && ../$(BIN)/voila recommender_app.ipynb --port=$(APP_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info dist
