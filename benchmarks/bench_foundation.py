"""Foundation figures: import cost and the raw NEURON floor of the example cells.

Prints JSON. Times are medians; compare ratios, absolute times drift on shared machines.
  import_bmtool_lab_ms   `import bmtool_lab` in a fresh interpreter (target <= 300 ms)
  import_neuron_ms       `import neuron` in a fresh interpreter (the reference)
  floor[cell]            1000 ms current clamp of one example cell, in-process NEURON, fixed step
                         dt = 0.025 ms and CVODE (the floor every dashboard is measured against)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_import_ms(module: str, repeats: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1e3)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code], cwd=tempfile.gettempdir(),
                                          stderr=subprocess.DEVNULL).split()[-1]) for _ in range(repeats)]
    return statistics.median(runs)


FLOOR = r"""
import json, statistics, sys, time
from bmtool_lab.model.cell_types import find_cell_type, list_cell_types
from bmtool_lab.sim import cells, protocol
cfg = sys.argv[1]
out = {}
types = list_cell_types(cfg)
for name in ("Exc", "PV", "SST"):
    cell = cells.build_cell(find_cell_type(types, name))
    clamp = protocol.iclamp(cell.seg("soma"), 0.04, 100.0, 800.0)
    rec = protocol.Recorder().record_v("v", cell.seg("soma"))
    res = {}
    for label, cvode in (("fixed_ms", False), ("cvode_ms", True)):
        s = protocol.SimSettings(tstop=1000.0, dt=0.025, celsius=34.0, v_init=-70.0, cvode=cvode)
        times = []
        for _ in range(5):
            t0 = time.perf_counter(); protocol.simulate(s, rec); times.append((time.perf_counter() - t0) * 1e3)
        res[label] = statistics.median(times)
    res["n_sections"] = len(cell.all_sections())
    out[name] = res
    del clamp, rec
    cell.delete()
print(json.dumps(out))
"""


def neuron_floor(config: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", FLOOR, str(config)], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> dict:
    from bmtool_lab.examples import build_example

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        config = build_example(Path(tmp) / "example_network")
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        build_example(Path(tmp) / "example_network")
        rebuild_ms = (time.perf_counter() - t1) * 1e3
        result = {
            "benchmark": "foundation",
            "import_bmtool_lab_ms": fresh_import_ms("bmtool_lab"),
            "import_neuron_ms": fresh_import_ms("neuron"),
            "build_example_s": build_s,
            "build_example_again_ms": rebuild_ms,
            "neuron_floor_1000ms_current_clamp": neuron_floor(config),
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
