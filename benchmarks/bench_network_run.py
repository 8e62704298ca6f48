"""Overhead of a lab network run over the bare BioNet run (issue 17; target <= 5 %), and two
MPI ranks against one.

    python benchmarks/bench_network_run.py [--tstop 500] [--repeat 3] [--ranks 2]

All run the example network for the same simulated time, each in a fresh child process: the
bare run is the example's own ``run_bionet.py``; ours is ``NetworkSimulation.run`` (bmtk-resolved
run config, our mechanism cache, the model's hooks, the log parsed for progress), on one rank
and under ``mpiexec -n RANKS``; and the dashboard's run (the same plus spikes streamed for the
live raster and the raster/rates sent to the widgets, without a browser). Prints JSON: the best wall time of each (s), the ratios, BioNet's
own simulation time (its "Simulation completed in" line: the part MPI can speed up) and
whether the MPI run's spikes equal the one-rank run's.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tstop", type=float, default=500.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks to compare with one (0: skip)")
    args = ap.parse_args(argv)
    from bmtool_lab import NetworkSimulation, build_example

    work = Path(tempfile.mkdtemp(prefix="bench_netrun_"))
    config = Path(build_example(work / "example"))
    bare, ours, mpi, sim_s, mpi_sim_s, dash_s = [], [], [], [], [], []
    sim = NetworkSimulation(config)
    from bmtool_lab.widgets.network_run import NetworkRunDashboard

    dash = NetworkRunDashboard(NetworkSimulation(config), tstop_ms=args.tstop)
    run = mpi_run = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(config.parent / "run_bionet.py"), str(config), "--tstop", str(args.tstop)],
                       cwd=config.parent, check=True, capture_output=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run = sim.run(tstop_ms=args.tstop)
        ours.append(time.perf_counter() - t0)
        sim_s.append(_bionet_sim_s(run.log))
        t0 = time.perf_counter()  # the dashboard: progress, live raster from streamed spikes, rates
        dash.start()
        dash.wait()
        dash_s.append(time.perf_counter() - t0)
        if args.ranks > 1:
            t0 = time.perf_counter()
            mpi_run = sim.run(tstop_ms=args.tstop, ranks=args.ranks)
            mpi.append(time.perf_counter() - t0)
            mpi_sim_s.append(_bionet_sim_s(mpi_run.log))
    assert run is not None
    doc = {"bench": "network_run", "tstop_ms": args.tstop, "recorded_cells": int(run.rates().n_cells.sum()),
           "bare_run_bionet_s": round(min(bare), 3), "network_simulation_s": round(min(ours), 3),
           "overhead_ratio": round(min(ours) / min(bare), 3), "n_spikes": int(len(run.spikes)),
           "dashboard_run_s": round(min(dash_s), 3), "dashboard_overhead_ratio": round(min(dash_s) / min(bare), 3),
           "dashboard_live_spikes": dash.live_spikes,
           "repeats": args.repeat}
    if mpi_run is not None:
        cols = ["node_id", "timestamp_ms"]
        doc.update({
            "ranks": args.ranks, f"ranks_{args.ranks}_s": round(min(mpi), 3),
            "wall_speedup": round(min(ours) / min(mpi), 3),
            "bionet_simulate_1_rank_s": round(min(sim_s), 3),
            f"bionet_simulate_{args.ranks}_ranks_s": round(min(mpi_sim_s), 3),
            "simulate_speedup": round(min(sim_s) / min(mpi_sim_s), 3),
            "mpi_spikes_equal": bool(mpi_run.spikes[cols].equals(run.spikes[cols]))})
    print(json.dumps(doc, indent=1))
    return 0


def _bionet_sim_s(log: list[str]) -> float:
    """BioNet's own account of the simulate step ("Simulation completed in 3.301 seconds")."""
    for line in reversed(log):
        m = re.search(r"Simulation completed in ([0-9.]+) seconds", line)
        if m:
            return float(m.group(1))
    return float("nan")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
