#!/usr/bin/env bash
# Set up a fresh machine for bmtool_lab: Debian's Chromium (browser tests), the Python
# package in editable mode with its test extras, the JS build (anywidget bundles and the
# prebuilt labextension) and its registration with JupyterLab. Idempotent: a second run only
# rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  log "apt: chromium (for the browser tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PY=${PYTHON:-python3}
log "npm dependencies"
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi

log "JS build (anywidget bundles + labextension)"
npm run --silent build

log "Python package (editable) with test extras"
if ! $PY -c "import bmtool_lab, pytest, playwright, nbclient, distributed" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .setup-stamp ]; then
  $PY -m pip install --quiet --disable-pip-version-check -e ".[test]"
  touch .setup-stamp
fi

log "register the labextension with JupyterLab"
prefix=$($PY -c "import sys; print(sys.prefix)")
dest="$prefix/share/jupyter/labextensions/bmtool-lab"
mkdir -p "$(dirname "$dest")"
if [ ! -L "$dest" ] || [ "$(readlink "$dest")" != "$PWD/bmtool_lab/labextension" ]; then
  rm -rf "$dest"
  ln -s "$PWD/bmtool_lab/labextension" "$dest"
fi
$PY -m jupyter labextension list 2>&1 | grep -E "bmtool-lab" || { echo "labextension not found by JupyterLab"; exit 1; }
