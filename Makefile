# The two quick-start commands (see README.md). Both set the checkout up first (idempotent):
# a project venv in .venv (VENV=path to put it elsewhere, PYTHON=/path/to/python to use an
# existing environment as it is), Chromium from apt, the JS build.
VENV ?= .venv
PY := $(if $(PYTHON),$(PYTHON),$(VENV)/bin/python)
ARGS ?=
export VENV

.PHONY: setup demo test lint bench screenshots clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m bmtool_lab.cli demo $(ARGS)

test: setup
	PYTHON=$(PY) bash scripts/test.sh

lint:
	$(PY) -m ruff check bmtool_lab tests benchmarks
	PATH=$(dir $(PY)):$$PATH npm run lint

bench: setup
	$(PY) benchmarks/run.py

# README screenshots: the browser tests write them into docs/screenshots only when asked.
screenshots: setup
	BMTOOL_LAB_SCREENSHOTS=docs/screenshots PYTHON=$(PY) bash scripts/test.sh -m ui

clean:
	npm run clean
