#!/usr/bin/env bash
# The whole test suite: lint, unit, sim, notebook and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m ruff check bmtool_lab tests benchmarks
$PY -m pytest -p no:cacheprovider "$@"
