"""Whole-network BioNet runs in a child process (:mod:`bmtool_lab.sim.bionet_child`), on one
rank or under MPI (``mpiexec -n N``): the run config, the overlay of tuned dynamics files,
progress in simulated ms, stop (the spikes up to there are kept), BioNet's log when it dies,
and SLURM job folders that run the same child. Nothing in the model folder is written: the run
config, the overlay and the output live in the run's own folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bionet_child import STATUS_FILE_NAME, STOP_FILE_NAME
from .errors import SimError
from .spike_stream import PREFIX as SPIKES_PREFIX
from .spike_stream import parse_spike_line

__all__ = ["write_run_config", "run_bionet", "mpi_launcher", "write_job_script", "read_status",
           "RUN_CONFIG_NAME", "JOB_SCRIPT_NAME", "STOP_FILE_NAME", "STATUS_FILE_NAME"]

RUN_CONFIG_NAME = "run_config.json"
JOB_SCRIPT_NAME = "job.sh"
_CHILD = ["-u", "-m", "bmtool_lab.sim.bionet_child"]
_STARTED = "Running simulation for"  # BioNet's log line once the network is built
_T_SIM = re.compile(r"t_sim:\s*([0-9.eE+-]+)\s*ms")
# keys of bmtk's resolved config that describe where it was read from, not the run
_RESOLVED_ONLY = ("network", "config_path", "config_dir", "manifest")


#: steps per BioNet block when the model's config does not say (see write_run_config)
LIVE_BLOCK_STEPS = 1000


def write_run_config(model_config: Path, run_dir: Path, tstop_ms: float | None = None,
                     overlay: dict[Path, dict] | None = None) -> Path:
    """The model's simulation config resolved by bmtk (absolute paths), with its output in
    ``run_dir/output``, ``tstop`` set, and ``synaptic_models_dir`` pointing at an overlay copy
    in which the files of ``overlay`` (original path -> full JSON dict) are replaced."""
    from bmtk.simulator import bionet

    try:
        conf = bionet.Config.from_json(str(model_config), validate=False)
    except Exception as err:
        raise SimError("model", f"bmtk could not read {model_config}: {type(err).__name__}: {err}") from None
    doc = json.loads(json.dumps(conf, default=str))
    for key in _RESOLVED_ONLY:
        doc.pop(key, None)
    if not doc.get("inputs"):
        raise SimError("model", f"{model_config} has no inputs: the network would sit at rest (add a spike, "
                                "current-clamp or Poisson input to 'inputs')")
    set_run_output(doc, run_dir, tstop_ms)
    # Progress, the live raster and a stop happen at BioNet's block ends (bmtk's examples use
    # 5000 steps: 125 ms at dt 0.025), so blocks are at most LIVE_BLOCK_STEPS. Blocks only chunk
    # the output writes: the spikes and reports are the same.
    run = doc.setdefault("run", {})
    run["nsteps_block"] = min(int(run.get("nsteps_block") or LIVE_BLOCK_STEPS), LIVE_BLOCK_STEPS)
    if overlay:
        doc["components"]["synaptic_models_dir"] = str(_overlay_dir(doc, run_dir, overlay))
    path = run_dir / RUN_CONFIG_NAME
    path.write_text(json.dumps(doc, indent=1))
    return path


def set_run_output(doc: dict, run_dir: Path, tstop_ms: float | None) -> None:
    """In a resolved config: the inputs' files exist (SimError naming the one that does not), the
    output goes to ``run_dir/output`` (spikes and log files by their own names) and ``tstop`` is
    ``tstop_ms`` (when given)."""
    for name, spec in (doc.get("inputs") or {}).items():
        f = spec.get("input_file")
        if f and not Path(f).exists():
            raise SimError("model", f"input {name!r} names {f}, which does not exist")
    out = run_dir / "output"
    out.mkdir(parents=True, exist_ok=True)
    output = dict(doc.get("output", {}))
    output.update(output_dir=str(out), overwrite_output_dir=True,
                  spikes_file=str(out / Path(output.get("spikes_file", "spikes.h5")).name),
                  log_file=str(out / Path(output.get("log_file") or "log.txt").name))
    doc["output"] = output
    if tstop_ms is not None:
        doc.setdefault("run", {})["tstop"] = float(tstop_ms)


def _overlay_dir(doc: dict, run_dir: Path, overlay: dict[Path, dict]) -> Path:
    """A copy of the model's synaptic_models_dir with the tuned files written over."""
    src = doc.get("components", {}).get("synaptic_models_dir")
    if not src or not Path(src).is_dir():
        raise SimError("model", "the run has tuned parameters to apply but the config names no synaptic_models_dir")
    dst = run_dir / "synaptic_models_overlay"
    shutil.copytree(src, dst, dirs_exist_ok=True)
    for path, params in overlay.items():
        if Path(path).resolve().parent != Path(src).resolve():
            raise SimError("model", f"{path} is not in the model's synaptic_models_dir ({src})")
        (dst / Path(path).name).write_text(json.dumps(params, indent=2) + "\n")
    return dst


def mpi_launcher(ranks: int) -> tuple[list[str], dict[str, str]]:
    """The command prefix that starts ``ranks`` MPI processes here (``mpiexec -n N``) and the
    environment NEURON needs to find the MPI library (``MPI_LIB_NRN_PATH``; NEURON's wheels load
    libmpi at run time). The mpiexec beside this Python (the ``mpi`` extra's MPICH wheel) comes
    first, then one on PATH. SimError when there is none."""
    here = Path(sys.executable).parent
    exe = next((str(here / n) for n in ("mpiexec", "mpirun") if (here / n).is_file()), None)
    exe = exe or shutil.which("mpiexec") or shutil.which("mpirun")
    if exe is None:
        raise SimError("model", f"ranks={ranks} needs MPI: no mpiexec here (pip install 'bmtool-lab[mpi]', "
                                "which brings mpi4py and MPICH, or load your cluster's MPI)")
    env: dict[str, str] = {}
    if not os.environ.get("MPI_LIB_NRN_PATH"):
        lib = find_libmpi(Path(exe))
        if lib is not None:
            env["MPI_LIB_NRN_PATH"] = str(lib)
    return [exe, "-n", str(int(ranks))], env


def find_libmpi(mpiexec: Path) -> Path | None:
    """The MPI library that goes with ``mpiexec`` (``<prefix>/lib/libmpi.so.N``; the bare
    ``libmpi.so`` of the MPICH wheel is a linker script NEURON cannot load)."""
    prefix = Path(os.path.realpath(mpiexec)).parent.parent
    for lib_dir in (prefix / "lib", prefix / "lib64", prefix / "lib" / "x86_64-linux-gnu"):
        found = sorted(lib_dir.glob("libmpi.so.[0-9]*"), key=lambda p: len(p.name))
        if found:
            return found[0]
        found = sorted(lib_dir.glob("libmpi.[0-9]*.dylib"))
        if found:
            return found[0]
    return None


def read_status(output_dir: Path) -> dict[str, Any] | None:
    """What the child wrote at the end of a run (``run_status.json``), or None."""
    try:
        return json.loads((Path(output_dir) / STATUS_FILE_NAME).read_text())
    except (OSError, ValueError):
        return None


def run_bionet(run_config: Path, model_config: Path, *, tstop_ms: float, ranks: int = 1,
               on_progress: Callable[[float], None] | None = None, stop: threading.Event | None = None,
               timeout_s: float | None = None, stop_grace_s: float = 60.0,
               on_spikes: Callable[[Any, Any, Any], None] | None = None) -> dict[str, Any]:
    """Run BioNet on ``run_config`` in a child process (``ranks`` > 1: under ``mpiexec``).

    Returns {"stopped", "t_stop_ms" (simulated time reached), "spikes_kept", "wall_s", "log":
    last lines}. Setting ``stop`` before the network is built ends the child at once (no
    spikes); once it simulates, the child stops at its next block and writes the spikes up to
    there (``spikes_kept``), or is ended after ``stop_grace_s`` if it does not. SimError with
    BioNet's own last lines when the run dies. ``on_spikes(population, node_ids, t_ms)``: each
    block's new spikes while the run goes on (every rank streams its own cells')."""
    ranks = int(ranks)
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, not {ranks}")
    env = dict(os.environ)
    cmd = [sys.executable, *_CHILD, str(run_config), str(model_config)]
    if on_spikes is not None:
        cmd.append("--stream-spikes")
    if ranks > 1:
        prefix, mpi_env = mpi_launcher(ranks)
        env.update(mpi_env)
        cmd = [*prefix, *cmd, "--mpi"]
    stop_file = run_config.parent / STOP_FILE_NAME
    stop_file.unlink(missing_ok=True)
    status_file = run_config.parent / "output" / STATUS_FILE_NAME
    status_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=run_config.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, env=env, start_new_session=True)
    tail: list[str] = []
    started = threading.Event()
    state: dict[str, Any] = {"asked": False, "killed": False, "t": 0.0, "t_killed": 0.0}

    def end_child() -> None:
        if state["killed"]:
            return
        state["killed"], state["t_killed"] = True, state["t"]
        _end_tree(proc)

    def watch_stop() -> None:
        asked_at = None
        while proc.poll() is None:
            if stop is not None and stop.is_set() and asked_at is None:
                state["asked"], asked_at = True, time.perf_counter()
                if not started.is_set():  # still building: nothing to keep
                    end_child()
                    return
                stop_file.write_text("stop\n")
            if asked_at is not None and time.perf_counter() - asked_at > stop_grace_s:
                end_child()
                return
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                end_child()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_stop, name="bmtool_lab-bionet-stop", daemon=True)
    watcher.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if on_spikes is not None and line.startswith(SPIKES_PREFIX):
                spikes = parse_spike_line(line)
                if spikes is not None and not state["killed"]:
                    on_spikes(*spikes)
                continue
            tail = (tail + [line])[-40:]
            if _STARTED in line:
                started.set()
            m = _T_SIM.search(line)
            if m and not state["killed"]:
                state["t"] = min(float(m.group(1)), tstop_ms)
                if on_progress is not None:
                    on_progress(state["t"])
    except BaseException:  # KeyboardInterrupt in the kernel: the child must not outlive it
        end_child()
        raise
    rc = proc.wait()
    watcher.join(timeout=1.0)
    stop_file.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    status = read_status(status_file.parent) if rc == 0 and not state["killed"] else None
    if state["asked"] or (status and status.get("stopped")):
        if status is not None:
            return {"stopped": bool(status["stopped"]), "t_stop_ms": float(status["t_stop_ms"]),
                    "spikes_kept": True, "wall_s": wall, "log": tail}
        return {"stopped": True, "t_stop_ms": state["t_killed"], "spikes_kept": False, "wall_s": wall, "log": tail}
    if state["killed"]:
        raise SimError("timeout", f"the BioNet run did not finish in {timeout_s:g} s", detail="\n".join(tail))
    if rc != 0:
        errors = [ln for ln in tail if "Error" in ln or "error" in ln or "Exception" in ln] or tail[-5:]
        raise SimError("model", f"the BioNet run died (exit {rc}): {errors[-1].strip() if errors else 'no output'}",
                       detail="\n".join(tail))
    if on_progress is not None and state["t"] < tstop_ms:  # BioNet logs the last block, not always tstop
        on_progress(tstop_ms)
    return {"stopped": False, "t_stop_ms": tstop_ms, "spikes_kept": True, "wall_s": wall, "log": tail}


def _end_tree(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    """End the child and everything it started: mpiexec's proxies and ranks lead sessions of
    their own, so a signal to the child's group alone can miss them. SIGTERM, then SIGKILL."""
    import signal

    tree = [proc.pid, *_descendants(proc.pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in tree:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(p) for p in tree[1:]):
            time.sleep(0.05)
        if proc.poll() is not None and not any(_alive(p) for p in tree[1:]):
            return


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; none elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def write_job_script(job_dir: Path, model_config: Path, *, ranks: int, partition: str | None = None,
                     time_limit: str = "01:00:00", job_name: str | None = None, account: str | None = None,
                     nodes: int | None = None, mem: str | None = None, sbatch: tuple[str, ...] = (),
                     setup: str = "", python: str | None = None) -> Path:
    """``job_dir/job.sh``: an sbatch script that runs the child on ``job_dir/run_config.json``
    (written before, by :func:`write_run_config`) with ``srun`` inside a SLURM job, else with
    ``mpiexec -n RANKS`` (or plain Python for one rank) — so the same script runs on a laptop
    with ``bash job.sh``. ``setup``: shell lines run first (``module load ...``, activating an
    environment); ``BMTOOL_LAB_PYTHON`` overrides the interpreter at run time."""
    job_dir = Path(job_dir).resolve()
    ranks = int(ranks)
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, not {ranks}")
    py = python or sys.executable
    q = shlex.quote
    lines = ["#!/usr/bin/env bash",
             f"#SBATCH --job-name={job_name or 'bmtool_lab_' + Path(model_config).parent.name}",
             f"#SBATCH --ntasks={ranks}",
             f"#SBATCH --time={time_limit}",
             f"#SBATCH --chdir={job_dir}",
             f"#SBATCH --output={job_dir}/slurm-%j.out"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    if nodes:
        lines.append(f"#SBATCH --nodes={int(nodes)}")
    if mem:
        lines.append(f"#SBATCH --mem={mem}")
    lines += [f"#SBATCH {opt}" for opt in sbatch]
    lines += [
        f"# Written by bmtool_lab: BioNet on {Path(model_config).resolve()} with {ranks} MPI rank(s).",
        "# Submit with `sbatch job.sh`; without SLURM, `bash job.sh` runs it here (mpiexec, or Python",
        "# for one rank). Output: output/ (spikes.h5, run_status.json); `touch stop_requested` stops",
        "# the run at its next block, keeping the spikes so far.",
        "set -euo pipefail",
        f"JOB_DIR={q(str(job_dir))}",
        "cd \"$JOB_DIR\"",
    ]
    if setup.strip():
        lines += ["# --- setup", *setup.strip().splitlines()]
    lines += [
        f"PY=${{BMTOOL_LAB_PYTHON:-{q(py)}}}",
        f"NTASKS=${{SLURM_NTASKS:-{ranks}}}",
        f"CHILD=(\"$PY\" {' '.join(_CHILD)} \"$JOB_DIR/{RUN_CONFIG_NAME}\" {q(str(Path(model_config).resolve()))})",
        "if [ \"$NTASKS\" -gt 1 ]; then CHILD+=(--mpi); fi",
        f"rm -f \"$JOB_DIR/{STOP_FILE_NAME}\" \"$JOB_DIR/output/{STATUS_FILE_NAME}\"",
        "if [ -n \"${SLURM_JOB_ID:-}\" ] && command -v srun >/dev/null 2>&1; then",
        "  exec srun ${BMTOOL_LAB_SRUN_ARGS:-} \"${CHILD[@]}\"",
        "elif [ \"$NTASKS\" -gt 1 ]; then",
        "  MPIEXEC=$(dirname \"$PY\")/mpiexec",
        "  if [ ! -x \"$MPIEXEC\" ]; then MPIEXEC=$(command -v mpiexec || command -v mpirun || true); fi",
        "  [ -n \"$MPIEXEC\" ] || { echo \"job.sh: $NTASKS ranks need mpiexec (pip install 'bmtool-lab[mpi]')\" >&2; exit 2; }",
        "  if [ -z \"${MPI_LIB_NRN_PATH:-}\" ]; then  # NEURON's wheels load libmpi at run time",
        "    prefix=$(dirname \"$(dirname \"$(readlink -f \"$MPIEXEC\")\")\")",
        "    for lib in \"$prefix\"/lib/libmpi.so.[0-9]* \"$prefix\"/lib64/libmpi.so.[0-9]*; do",
        "      if [ -e \"$lib\" ]; then export MPI_LIB_NRN_PATH=$lib; break; fi",
        "    done",
        "  fi",
        "  exec \"$MPIEXEC\" -n \"$NTASKS\" \"${CHILD[@]}\"",
        "else",
        "  exec \"${CHILD[@]}\"",
        "fi",
    ]
    path = job_dir / JOB_SCRIPT_NAME
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path
