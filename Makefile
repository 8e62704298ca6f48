# The two quick-start commands (see README.md). Both set the machine up first (idempotent).
PYTHON ?= python3
ARGS ?=

.PHONY: setup demo test lint bench clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PYTHON) -m bmtool_lab.cli demo $(ARGS)

test: setup
	bash scripts/test.sh

lint:
	$(PYTHON) -m ruff check bmtool_lab tests benchmarks

bench: setup
	$(PYTHON) benchmarks/run.py

clean:
	npm run clean
