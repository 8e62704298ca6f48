#!/usr/bin/env bash
# The whole test suite: lint (Python and JS), the JS unit tests, then the Python unit, sim,
# notebook and browser tests. Run through `make test`, which sets the checkout up first (the JS
# build type-checks the front end); PYTHON names the environment's interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || command -v "$PY" >/dev/null || { echo "no $PY: run 'make setup' (or 'make test') first" >&2; exit 2; }
export PATH="$(dirname "$("$PY" -c 'import sys; print(sys.executable)')"):$PATH"
"$PY" -m ruff check bmtool_lab tests benchmarks
# The front end: ESLint, then its unit tests (vitest, the widgets against a fake anywidget model).
# Its type check runs in `npm run build` (setup.sh).
npm run --silent lint
npm test --silent
"$PY" -m pytest -p no:cacheprovider "$@"
