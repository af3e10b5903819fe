# make test: set up .venv from nothing (python3 -m venv + pip) and run the whole suite.
# make run:  the same setup, then reproduce the course's results.
# make lab:  open the notebooks in JupyterLab.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint run lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check cfcore tests

test: install lint
	$(BIN)/python -m pytest

run: install
	$(BIN)/python -m cfcore reproduce

lab: install
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info
