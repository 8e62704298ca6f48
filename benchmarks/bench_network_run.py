"""Overhead of a lab network run over the bare BioNet run (issue 17; target <= 5 %).

    python benchmarks/bench_network_run.py [--tstop 500] [--repeat 3]

Both run the example network for the same simulated time, each in a fresh child process: the
bare run is the example's own ``run_bionet.py``; ours is ``NetworkSimulation.run`` (bmtk-resolved
run config, our mechanism cache, the model's hooks, the log parsed for progress). Prints JSON:
the best wall time of each (s) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tstop", type=float, default=500.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from bmtool_lab import NetworkSimulation, build_example

    work = Path(tempfile.mkdtemp(prefix="bench_netrun_"))
    config = Path(build_example(work / "example"))
    bare, ours = [], []
    sim = NetworkSimulation(config)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(config.parent / "run_bionet.py"), str(config), "--tstop", str(args.tstop)],
                       cwd=config.parent, check=True, capture_output=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run = sim.run(tstop_ms=args.tstop)
        ours.append(time.perf_counter() - t0)
    print(json.dumps({"bench": "network_run", "tstop_ms": args.tstop, "recorded_cells": int(run.rates().n_cells.sum()),
                      "bare_run_bionet_s": round(min(bare), 3), "network_simulation_s": round(min(ours), 3),
                      "overhead_ratio": round(min(ours) / min(bare), 3), "n_spikes": int(len(run.spikes)),
                      "repeats": args.repeat}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
