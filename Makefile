# Entry points (see README.md): `make train`, `make test` (fast set), `make test-all` (CI),
# `make docs` (the documentation site, strict). Each one builds the virtual environment
# first if it is missing or stale; `make install` also creates the lfo-* console commands.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VIDEOS ?= videos/carracing
export PYGAME_HIDE_SUPPORT_PROMPT := 1
export NO_MKDOCS_2_WARNING := 1

.PHONY: install train test test-all lint inspect docs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,docs,ray]"
	touch $(STAMP)

# extra flags: make train ARGS="--steps 20000 --seed 1"
train: $(STAMP)
	$(PY) scripts/train_lfo.py --videos $(VIDEOS) $(ARGS)

inspect: $(STAMP)
	$(PY) scripts/inspect_videos.py --videos $(VIDEOS)

# the fast set (a few minutes); test-all adds the end-to-end runs marked slow (CI runs it)
test: $(STAMP)
	$(PY) -m pytest -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check lfo encoders scripts tests experiments

# the documentation site (docs/, mkdocs.yml) into site/; a broken link or API page fails it
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site
