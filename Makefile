# Two entry points (see README.md): `make train` and `make test`.
# Each one builds the virtual environment first if it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VIDEOS ?= videos/carracing
export PYGAME_HIDE_SUPPORT_PROMPT := 1

.PHONY: install train test lint inspect

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# extra flags: make train ARGS="--steps 20000 --seed 1"
train: $(STAMP)
	$(PY) scripts/train_lfo.py --videos $(VIDEOS) $(ARGS)

inspect: $(STAMP)
	$(PY) scripts/inspect_videos.py --videos $(VIDEOS)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check lfo encoders scripts tests experiments
