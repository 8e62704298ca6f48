#!/usr/bin/env bash
# Set up this checkout for bmtool_lab: Debian's Chromium (browser tests), a project virtual
# environment with the build tools, the JS build (anywidget bundles + prebuilt labextension),
# the package in editable mode with its test and mpi extras (mpi4py + MPICH's wheel: network
# runs on several MPI ranks), and the labextension's registration.
#
# Idempotent: a second run only redoes what changed.
#   VENV=path     the virtual environment to create/use (default: .venv in the checkout)
#   PYTHON=path   use this interpreter's environment as it is (no venv is made), e.g. a conda env
#   BASE_PYTHON   the interpreter that creates the venv (default: the newest python3.10-3.13 found)
# Needs: Python >= 3.10, Node >= 18 with npm, and apt (root or sudo) for Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)
log() { printf '== %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq || return 1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- Chromium (browser tests) -------------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  log "apt: chromium (for the browser tests)"
  apt_install chromium || log "WARNING: could not install chromium (needs apt and root or sudo): the browser tests will fail"
fi

# --- Node -------------------------------------------------------------------------------
command -v npm >/dev/null || { log "apt: nodejs npm"; apt_install nodejs npm || die "Node >= 18 with npm is needed (apt-get install nodejs npm)"; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "Node >= 18 is needed, found $(node --version)"

# --- Python environment --------------------------------------------------------------------
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
  env_desc="existing environment of $PY"
else
  VENV=${VENV:-.venv}
  if [ ! -x "$VENV/bin/python" ]; then
    base=${BASE_PYTHON:-}
    if [ -z "$base" ]; then
      for cand in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 14))' 2>/dev/null; then
          base=$cand; break
        fi
      done
    fi
    [ -n "$base" ] || die "no Python 3.10-3.13 found (set BASE_PYTHON=/path/to/python3)"
    log "venv: $VENV from $($base --version 2>&1)"
    if ! "$base" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      ver=$("$base" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      log "apt: python$ver-venv (Debian's python has no venv module without it)"
      apt_install "python$ver-venv" || apt_install python3-venv || die "cannot create a venv: apt-get install python3-venv"
      "$base" -m venv "$VENV"
    fi
  fi
  PY="$VENV/bin/python"
  env_desc="venv $VENV"
fi
PY_BIN=$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")
PIP=("$PY" -m pip --disable-pip-version-check --quiet)

# Build tools first: the labextension build calls jupyter-builder, which pip installs.
if ! "$PY" -c "import hatchling, hatch_jupyter_builder, jupyter_builder" >/dev/null 2>&1; then
  log "pip: build tools (hatchling, hatch-jupyter-builder, jupyter-builder)"
  "${PIP[@]}" install "hatchling>=1.21" "hatch-jupyter-builder>=0.9" "jupyter-builder>=1.3"
fi
export PATH="$PY_BIN:$PATH"   # jupyter-builder, nrnivmodl, jupyter from this environment

# --- JS -------------------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  # --include=dev: the build's type check (typescript), the linter and the JS unit tests are
  # devDependencies, installed even where NODE_ENV=production or npm's omit=dev is set.
  npm ci --include=dev --no-audit --no-fund --loglevel=error
fi
log "JS build (type check, anywidget bundles, labextension)"
npm run --silent build >/dev/null

# --- the package ---------------------------------------------------------------------------
stamp=$("$PY" -c 'import sys; print(sys.prefix)')/.bmtool-lab-setup-stamp
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! "$PY" -c "import bmtool_lab, pytest, playwright, neuron, mpi4py" >/dev/null 2>&1; then
  log "pip: bmtool-lab (editable) with test and mpi extras"
  if ! "${PIP[@]}" install -e ".[test,mpi]"; then
    log "WARNING: the mpi extra (mpi4py, mpich) did not install: network runs on more than one rank will fail"
    "${PIP[@]}" install -e ".[test]"
  fi
  touch "$stamp"
fi
# PointNet (NEST) models: the nest extra (nest-simulator's wheel), so the PointNet tests run in CI.
"$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('nest') is None)" 2>/dev/null || { log "pip: nest extra (nest-simulator)"; "${PIP[@]}" install -e ".[nest]" || log "WARNING: nest-simulator did not install: the PointNet tests are skipped"; }
# NEURON's wheels load libmpi at run time: say whether this environment's MPI starts two ranks.
if "$PY" -c "import mpi4py" >/dev/null 2>&1 && [ -x "$PY_BIN/mpiexec" ]; then
  mpi_desc="MPI $("$PY_BIN/mpichversion" 2>/dev/null | sed -n 's/^MPICH Version:[[:space:]]*/MPICH /p' | head -1)"
else
  mpi_desc="no MPI (ranks > 1 unavailable)"
fi

# The editable install does not place the labextension: link the built one into the environment.
prefix=$("$PY" -c "import sys; print(sys.prefix)")
dest="$prefix/share/jupyter/labextensions/bmtool-lab"
mkdir -p "$(dirname "$dest")"
if [ ! -L "$dest" ] || [ "$(readlink "$dest")" != "$PWD/bmtool_lab/labextension" ]; then
  rm -rf "$dest"
  ln -s "$PWD/bmtool_lab/labextension" "$dest"
fi
# Read the whole listing first: `list | grep -q` under pipefail fails at random when grep exits
# on its match and the lister dies of SIGPIPE writing the rest.
ext_list=$("$PY" -m jupyter labextension list 2>&1 || true)
grep -q "bmtool-lab.*enabled.*OK" <<<"$ext_list" \
  || { printf '%s\n' "$ext_list" | tail -20 >&2; die "JupyterLab does not list the bmtool-lab labextension as enabled"; }

chromium_v=$( (chromium --version || chromium-browser --version) 2>/dev/null | head -1 || echo "no chromium")
echo "setup: $env_desc ($("$PY" --version 2>&1)), node $(node --version), ${chromium_v:-no chromium}, ${mpi_desc}, labextension bmtool-lab enabled; $(( $(date +%s) - t_start )) s"
