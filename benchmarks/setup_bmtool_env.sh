#!/usr/bin/env bash
# A benchmark-only environment with the REAL bmtool 0.8.7 beside this checkout of bmtool_lab, so
# benchmarks/run.py can time both on the same cell, synapse and network in one run.
#
#   bash benchmarks/setup_bmtool_env.sh          # creates .venv-bench (idempotent)
#   .venv-bench/bin/python benchmarks/run.py     # the side-by-side table
#
#   BENCH_VENV=path    where to make it (default: .venv-bench in the checkout; git-ignored)
#   BASE_PYTHON=path   the interpreter that creates it (default: python3.11, else python3)
#
# Quirks (see benchmarks/README.md):
# - bmtool 0.8.7 pins neuron==8.2.4 and declares packages its benchmarked modules never import
#   (fooof, numba, pynmodlt, questionary, ...), so it is installed with --no-deps plus what
#   bmtool.synapses / bmtool.singlecell / bmtool.bmplot.connections / bmtool.util.util import:
#   numpy, scipy, pandas, matplotlib, h5py, neuron, bmtk, ipywidgets, IPython, tqdm.
# - Both tools then run on the same NEURON (the one pip picks for our package, 9.0.x today).
# - NumPy >= 2.4 removed np.trapz, which bmtool's synapse metrics call: the benchmark's bmtool
#   worker aliases np.trapz = np.trapezoid before importing bmtool (benchmarks/_bmtool_side.py).
#   Nothing is patched on disk.
# - Our package goes in as a path entry (a .pth file, what an editable install does) rather than
#   a wheel: the benchmarks need the Python package only, not the JS build, and always time the
#   checkout they are run from.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${BENCH_VENV:-.venv-bench}
log() { printf '== %s\n' "$*" >&2; }

base=${BASE_PYTHON:-}
if [ -z "$base" ]; then
  for cand in python3.11 python3.12 python3.10 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 14))' 2>/dev/null; then
      base=$cand; break
    fi
  done
fi
[ -n "$base" ] || { echo "no Python 3.10-3.13 found (set BASE_PYTHON=)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  log "venv: $VENV from $($base --version 2>&1)"
  "$base" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip

# our package's runtime dependencies, read from pyproject.toml (one source of truth)
mapfile -t deps < <("$PY" - <<'PYEOF'
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PYEOF
)
log "our package's dependencies: ${deps[*]}"
"$PY" -m pip install -q "${deps[@]}"

# what bmtool 0.8.7's benchmarked modules import (beyond the above), then bmtool itself
log "bmtool's imports: matplotlib ipython tqdm (numpy scipy pandas h5py neuron bmtk ipywidgets: above)"
"$PY" -m pip install -q matplotlib ipython tqdm
log "bmtool==0.8.7 --no-deps"
"$PY" -m pip install -q "bmtool==0.8.7" --no-deps

# this checkout on the path (the benchmarks time the code they are run from)
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT" > "$site/bmtool_lab_checkout.pth"

"$PY" - <<'PYEOF'
import importlib.metadata as md
import numpy as np
if not hasattr(np, "trapz"):
    np.trapz = np.trapezoid  # the shim the benchmark applies (NumPy >= 2.4)
import bmtool.synapses, bmtool.singlecell, bmtool.bmplot.connections  # noqa: F401
import bmtool_lab
print("bench env ready:", ", ".join(f"{p} {md.version(p)}" for p in ("bmtool", "neuron", "numpy", "bmtk", "pandas")),
      "| bmtool_lab from", bmtool_lab.__file__)
PYEOF
