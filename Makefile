# The README's commands. Everything installs into .venv from this repo's own files (pyproject.toml + constraints.txt).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint local-up local-down clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.3.1" "setuptools==75.6.0" "wheel==0.45.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Quick start 1: the demo pipeline end to end on the local stack (starts and stops it).
demo: $(STAMP)
	$(BIN)/python -m gemini_batch.demo

## Quick start 2: the whole test suite (lint, types, SQL lint, unit + integration against the local stack).
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/test.sh

lint: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/lint.sh

local-up: $(STAMP)
	$(BIN)/dbt-gemini-batch local up

local-down: $(STAMP)
	$(BIN)/dbt-gemini-batch local down

clean:
	rm -rf $(VENV) integration_tests/target integration_tests/logs integration_tests/dbt_packages .gemini_batch_local
