"""Whole-network PointNet (NEST) runs in a child process: bmtk's own PointNet build and run of
the model's config, resolved into the run's folder with the output, tstop and an overlay of
tuned synapse (and cell what-if) dynamics files, as :mod:`bmtool_lab.sim.bionet_run` does for
BioNet. The model folder is not written.

    python -m bmtool_lab.sim.pointnet_run RUN_CONFIG      # what the child runs

bmtk's PointNet simulates the whole tstop in one ``nest.Simulate``: progress comes at the end,
and a stop ends the child (no spikes kept). One process (NEST's threads: 1).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bionet_run import set_run_output
from .errors import SimError

__all__ = ["run_pointnet", "write_pointnet_run_config"]

RUN_CONFIG_NAME = "run_config.json"
STATUS_FILE_NAME = "run_status.json"
_RESOLVED_ONLY = ("network", "config_path", "config_dir", "manifest")


def _overlay_copy(doc: dict, key: str, run_dir: Path, files: dict[Path, dict], what: str) -> None:
    """Point ``components[key]`` at a copy of the model's folder with ``files`` written over."""
    if not files:
        return
    src = doc.get("components", {}).get(key)
    if not src or not Path(src).is_dir():
        raise SimError("model", f"the run has {what} to apply but the config names no {key}")
    dst = run_dir / f"{key}_overlay"
    shutil.copytree(src, dst, dirs_exist_ok=True)
    for path, params in files.items():
        if Path(path).resolve().parent != Path(src).resolve():
            raise SimError("model", f"{path} is not in the model's {key} ({src})")
        (dst / Path(path).name).write_text(json.dumps(params, indent=2) + "\n")
    doc["components"][key] = str(dst)


def write_pointnet_run_config(model_config: Path, run_dir: Path, tstop_ms: float | None = None,
                              synapses: dict[Path, dict] | None = None,
                              cells: dict[Path, dict] | None = None) -> Path:
    """The model's config resolved by bmtk (absolute paths), output in
    ``run_dir/output``, ``tstop`` (ms) set, and overlay copies of ``synaptic_models_dir`` /
    ``point_neuron_models_dir`` with ``synapses`` / ``cells`` (original path -> full JSON)."""
    from bmtk.simulator.core.simulation_config import SimulationConfig  # PointNet's, without importing NEST

    try:
        conf = SimulationConfig.from_json(str(model_config), validate=False)
    except Exception as err:
        raise SimError("model", f"bmtk could not read {model_config}: {type(err).__name__}: {err}") from None
    doc = json.loads(json.dumps(conf, default=str))
    for key in _RESOLVED_ONLY:
        doc.pop(key, None)
    set_run_output(doc, run_dir, tstop_ms)
    _overlay_copy(doc, "synaptic_models_dir", run_dir, synapses or {}, "tuned synapse parameters")
    _overlay_copy(doc, "point_neuron_models_dir", run_dir, cells or {}, "cell what-ifs")
    path = run_dir / RUN_CONFIG_NAME
    path.write_text(json.dumps(doc, indent=1))
    return path


def run_pointnet(run_config: Path, *, tstop_ms: float, stop: threading.Event | None = None,
                 timeout_s: float | None = None, on_progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run ``run_config`` with bmtk's PointNet in a child process. Returns ``{"stopped",
    "wall_s", "log", "t_stop_ms", "spikes_kept"}``; SimError with the end of the child's log when
    it fails (NEST's message included)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-u", "-m", "bmtool_lab.sim.pointnet_run", str(run_config)],
                            cwd=str(Path(run_config).parent), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    stopped = False
    while proc.poll() is None:
        if stop is not None and stop.is_set():
            stopped = True
            break
        if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
            proc.kill()
            proc.wait()
            raise SimError("timeout", f"the PointNet run took over {timeout_s:g} s and was ended")
        time.sleep(0.05)
    if stopped:
        proc.kill()
        proc.wait()
    reader.join(5)
    wall = time.perf_counter() - t0
    if stopped:
        return {"stopped": True, "wall_s": wall, "log": log, "t_stop_ms": 0.0, "spikes_kept": False}
    if proc.returncode != 0:
        tail = "".join(log[-40:])
        last = next((ln.strip() for ln in reversed(log) if ln.strip()), "no output")
        raise SimError("model", f"the PointNet run failed (exit {proc.returncode}): {last}", detail=tail)
    if on_progress is not None:
        on_progress(float(tstop_ms))
    return {"stopped": False, "wall_s": wall, "log": log, "t_stop_ms": float(tstop_ms), "spikes_kept": True}


def main(argv: list[str]) -> int:
    """The child: bmtk's PointNet build and run of RUN_CONFIG, then ``run_status.json``."""
    from bmtk.simulator import pointnet

    run_config = Path(argv[0]).resolve()
    conf = pointnet.Config.from_json(str(run_config))
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net)
    sim.run()
    out = Path(conf["output"]["output_dir"])
    tstop = float(conf["run"]["tstop"])
    (out / STATUS_FILE_NAME).write_text(json.dumps({"stopped": False, "t_stop_ms": tstop, "tstop_ms": tstop,
                                                    "ranks": 1, "simulator": "pointnet"}))
    return 0


if __name__ == "__main__":  # pragma: no cover - the child process
    sys.exit(main(sys.argv[1:]))
