"""Whole-network BioNet runs in a child process (:mod:`bmtool_lab.sim.bionet_child`): the run
config, the overlay of tuned dynamics files, progress in simulated ms, stop, and BioNet's log
when it dies. Nothing in the model folder is written: the run config, the overlay and the
output live in the run's own folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SimError

__all__ = ["write_run_config", "run_bionet", "RUN_CONFIG_NAME"]

RUN_CONFIG_NAME = "run_config.json"
_T_SIM = re.compile(r"t_sim:\s*([0-9.eE+-]+)\s*ms")
# keys of bmtk's resolved config that describe where it was read from, not the run
_RESOLVED_ONLY = ("network", "config_path", "config_dir", "manifest")


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
    for name, spec in doc["inputs"].items():
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
    if overlay:
        doc["components"]["synaptic_models_dir"] = str(_overlay_dir(doc, run_dir, overlay))
    path = run_dir / RUN_CONFIG_NAME
    path.write_text(json.dumps(doc, indent=1))
    return path


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


def run_bionet(run_config: Path, model_config: Path, *, tstop_ms: float,
               on_progress: Callable[[float], None] | None = None, stop: threading.Event | None = None,
               timeout_s: float | None = None) -> dict[str, Any]:
    """Run BioNet on ``run_config`` in a child process. Returns {"stopped": bool, "wall_s",
    "log": last lines}; SimError with BioNet's own last lines when the run dies."""
    cmd = [sys.executable, "-u", "-m", "bmtool_lab.sim.bionet_child", str(run_config), str(model_config)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=run_config.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    tail: list[str] = []
    stopped = False

    def watch_stop() -> None:
        nonlocal stopped
        while proc.poll() is None:
            if stop is not None and stop.wait(0.1):
                stopped = True
                proc.terminate()
                return
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                proc.kill()
                return
            if stop is None:
                time.sleep(0.1)

    watcher = threading.Thread(target=watch_stop, name="bmtool_lab-bionet-stop", daemon=True)
    watcher.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        tail = (tail + [line])[-40:]
        m = _T_SIM.search(line)
        if m and on_progress is not None:
            on_progress(min(float(m.group(1)), tstop_ms))
    rc = proc.wait()
    watcher.join(timeout=1.0)
    wall = time.perf_counter() - t0
    if stopped:
        return {"stopped": True, "wall_s": wall, "log": tail}
    if rc != 0:
        errors = [ln for ln in tail if "Error" in ln or "error" in ln or "Exception" in ln] or tail[-5:]
        raise SimError("model", f"the BioNet run died (exit {rc}): {errors[-1].strip() if errors else 'no output'}",
                       detail="\n".join(tail))
    if on_progress is not None:
        on_progress(tstop_ms)
    return {"stopped": False, "wall_s": wall, "log": tail}
