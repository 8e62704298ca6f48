"""PointNet (NEST) figures: the tuner's slider path on a warm NEST worker, and F–I on 2 workers vs 1.

Prints JSON. Times are medians of ``repeats`` warm runs; compare ratios (absolute times drift on
shared machines). The network is the test one (tests/sim/pointnet_factory.py), LIF2LIF:
tsodyks2_synapse onto iaf_psc_alpha, 8 pulses at 20 Hz + 4 recovery pulses after 250 ms
(t_start 300 ms, tail 150 ms: 1.1 s of model time at 0.1 ms), with the single-event kernel cell.
  slider.*        set_params(U=...) then run_train: the kernel's wall time (submit → TrainResult,
                  transfer and the kernel-side result included), the job's time in the worker
                  (NEST reset + build + Simulate + metrics), NEST's Simulate alone, and a bare
                  NEST loop of the same protocol (two cells, parrots, multimeter; ResetKernel,
                  build, Simulate, read the events) in one process, with no metrics.
  slider.overhead_vs_bare           wall / bare - 1
  dashboard.*     the same through the dashboard (headless ipywidgets): the U slider's value set →
                  the trace panel holds the new trace (panel.version changes), median ms, and its
                  ratio to the bare NEST loop
  fi.*            F–I of the LIF type (1000 ms steps, ``FI_PA`` steps) with PointCellProfiler on a
                  1-worker and a 2-worker LocalPool (one NEST run per chunk of steps).
  fi.speedup_2_vs_1_workers
Usage: python benchmarks/bench_pointnet.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "sim"))
FI_PA = {"small": (0.0, 1000.0, 10.0), "large": (0.0, 2000.0, 1.0)}  # 101 and 2001 steps

BARE = r"""
import json, os, statistics, sys, time
os.environ["PYNEST_QUIET"] = "1"
import nest, numpy as np
nest.set_verbosity("M_ERROR")
p = json.loads(sys.argv[1])
pulses = np.array(p["pulses"]); dt = p["dt"]

def run():
    nest.ResetKernel(); nest.set(resolution=dt, local_num_threads=1, print_time=False)
    post = nest.Create("iaf_psc_alpha", 2, params=p["cell"])
    for target, times in ((post[0], pulses), (post[1], pulses[:1])):
        gen = nest.Create("spike_generator", params={"spike_times": list(times - dt)})
        relay = nest.Create("parrot_neuron")
        nest.Connect(gen, relay, syn_spec={"delay": dt})
        nest.Connect(relay, target, syn_spec=dict(p["syn"]))
    mm = nest.Create("multimeter", params={"record_from": ["V_m", "I_syn_ex", "I_syn_in"], "interval": dt})
    nest.Connect(mm, post)
    nest.Simulate(p["tstop"])
    ev = mm.events
    return [np.asarray(ev["V_m"])[np.asarray(ev["senders"]) == n.global_id] for n in post]

run()
times = []
for _ in range(p["repeats"]):
    t = time.perf_counter(); run(); times.append((time.perf_counter() - t) * 1e3)
print(json.dumps({"median_ms": statistics.median(times)}))
"""


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


def slider(config: Path, repeats: int) -> dict:
    from pointnet_factory import IAF

    from bmtool_lab import SynapseTuner

    tuner = SynapseTuner(config, connection="LIF2LIF")
    try:
        tuner.run_train(freq=20)  # warm: NEST imported in the worker
        wall, job, sim = [], [], []
        for i in range(repeats):
            tuner.set_params(U=0.3 + 0.01 * (i % 20), merge=True)
            t = time.perf_counter()
            res = tuner.run_train(freq=20)
            wall.append((time.perf_counter() - t) * 1e3)
            job.append(res.info["job_ms"])
            sim.append(res.sim_ms)
        syn = {"synapse_model": "tsodyks2_synapse", "weight": tuner.weight, "delay": tuner.delay_ms, **tuner.params}
        p = tuner.protocol
        tstop = float(res.pulse_times_ms[-1] + tuner.delay_ms + p.tail_ms)
        bare_in = {"pulses": res.pulse_times_ms.tolist(), "dt": p.dt, "cell": IAF, "syn": syn, "tstop": tstop,
                   "repeats": repeats}
    finally:
        tuner.close()
    out = subprocess.run([sys.executable, "-c", BARE, json.dumps(bare_in)], capture_output=True, text=True,
                         timeout=600, cwd=tempfile.gettempdir())
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    bare = json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]
    w = _median(wall)
    return {"wall_ms": w, "worker_job_ms": _median(job), "nest_simulate_ms": _median(sim),
            "bare_nest_ms": round(bare, 2), "overhead_vs_bare": round(w / bare - 1.0, 3), "repeats": repeats}


def dashboard(config: Path, repeats: int, bare_ms: float) -> dict:
    import threading

    from bmtool_lab import SynapseTuner

    tuner = SynapseTuner(config, connection="LIF2LIF")
    try:
        dash = tuner.dashboard  # runs the first train (NEST imported in the worker)
        idle = threading.Event()

        def drawn(version: int, timeout_s: float = 120.0) -> None:
            t_end = time.perf_counter() + timeout_s
            while dash.panel.version == version or not dash.panel.status.startswith("done"):
                if time.perf_counter() > t_end:
                    raise RuntimeError(f"no trace: {dash.message.value}")
                idle.wait(0.002)

        drawn(0)
        times = []
        for i in range(repeats):
            version = dash.panel.version
            t = time.perf_counter()
            dash._controls["U"].slider.value = 0.3 + 0.01 * (i % 20)
            drawn(version)
            times.append((time.perf_counter() - t) * 1e3)
    finally:
        tuner.close()
    m = _median(times)
    return {"slider_to_trace_ms": m, "vs_bare": round(m / bare_ms, 3), "repeats": repeats}


def fi(config: Path, repeats: int, sizes: list[str]) -> dict:
    from bmtool_lab.sim.executor import LocalPool
    from bmtool_lab.tuning.pointnet_profiler import PointCellProfiler

    out: dict = {}
    for n_workers in (1, 2):
        pool = LocalPool(n_workers).start(wait_ready=True)
        try:
            prof = PointCellProfiler(config, cell="LIF", executor=pool)
            prof.fi_curve(*FI_PA["small"])  # warm every worker (NEST imported)
            prof.fi_curve(*FI_PA["small"])
            for size in sizes:
                times = []
                for _ in range(repeats):
                    times.append(prof.fi_curve(*FI_PA[size]).wall_ms)
                out.setdefault(size, {"steps": len(prof.fi_curve(*FI_PA[size]).table)})[f"{n_workers}_workers_ms"] = \
                    _median(times)
        finally:
            pool.close()
    for size in sizes:
        out[size]["speedup_2_vs_1_workers"] = round(out[size]["1_workers_ms"] / out[size]["2_workers_ms"], 3)
    return out


def main() -> None:
    from pointnet_factory import build_pointnet_network

    quick = "--quick" in sys.argv
    repeats = 5 if quick else 20
    with tempfile.TemporaryDirectory(prefix="bench_pointnet_") as tmp:
        config = build_pointnet_network(tmp)
        result = {"bench": "pointnet", "quick": quick, "slider": slider(config, repeats)}
        result["dashboard"] = dashboard(config, repeats, result["slider"]["bare_nest_ms"])
        result["fi"] = fi(config, 3 if quick else 7, ["small"] if quick else ["small", "large"])
    from importlib.metadata import version

    result["nest_simulator"] = version("nest-simulator")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
