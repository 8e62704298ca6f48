"""Cell profiler figures: parallel F–I and ZAP overhead, against bmtool-style loops in the same run.

Prints JSON. Times are medians of ``repeats`` warm runs; compare ratios (absolute times drift
on shared machines).
  fi.*            20 F–I steps (0–190 pA by 10 pA, 1000 ms steps, 1150 ms runs) of the example
                  network's Exc cell: CellProfiler.fi_curve on a 1-worker and a 2-worker pool
                  (fixed step, dt = 0.025 ms, no rheobase search), a bmtool-equivalent
                  sequential loop in one process (build once, IClamp per step, finitialize +
                  continuerun, count crossings), and the 2-worker pool under CVODE.
  fi.speedup_2_vs_1_workers          parallelism alone (target >= 1.8 on 2 cores)
  fi.pool_efficiency                 NEURON time summed over steps / (workers × wall): 1 = no loss
  fi.speedup_2_workers_vs_bmtool_loop the same against the in-process loop
  fi.cvode_extra_factor              2 workers fixed step / 2 workers CVODE
  zap.*           a 15 s linear chirp 0.5–20 Hz (250 ms before, 250 ms after, 15.5 s total) on the
                  same cell: NEURON's solve in the worker, the whole job in the worker (chirp,
                  solve, padded FFT, envelope), the kernel's wall time (transfer included), and
                  a bare in-process solve of the same protocol.
  zap.overhead_vs_solve              total / worker solve - 1 (target <= 0.10)
Usage: python benchmarks/bench_profiler.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CELL = "Exc"
FI_PA = (0.0, 190.0, 10.0)  # 20 steps
DELAY_MS, DUR_MS, POST_MS = 100.0, 1000.0, 50.0
ZAP = {"f0_hz": 0.5, "f1_hz": 20.0, "duration_ms": 15000.0, "amp_nA": 0.01, "delay_ms": 250.0, "tail_ms": 250.0}

BMTOOL_LOOP = r"""
import json, sys, time
import numpy as np
from bmtool_lab.model.cell_types import find_cell_type, list_cell_types
from bmtool_lab.sim import cells
from bmtool_lab.sim.context import neuron_h
cfg, cell = sys.argv[1], sys.argv[2]
delay, dur, tstop = %(delay)r, %(dur)r, %(tstop)r
amps = np.arange(%(start)r, %(stop)r + %(step)r / 2, %(step)r) * 1e-3
h = neuron_h()
run = json.loads(sys.argv[3])
c = cells.build_cell(find_cell_type(list_cell_types(cfg), cell))
soma = c.seg("soma")
h.dt, h.celsius = run["dt"], run["celsius"]
h.steps_per_ms = 1 / h.dt
h.cvode_active(0)

def fi_loop():
    rates = []
    for a in amps:  # what bmtool's FI does: one clamp and one full run per step
        ic = h.IClamp(soma); ic.delay, ic.dur, ic.amp = delay, dur, float(a)
        v = h.Vector().record(soma._ref_v)
        h.finitialize(run["v_init"]); h.continuerun(tstop)
        x = v.as_numpy()
        rates.append(int(np.count_nonzero((x[:-1] < -20) & (x[1:] >= -20))) / (dur / 1e3))
        del ic, v
    return rates

def zap_solve():
    from bmtool_lab.analysis.impedance import chirp_current
    z = %(zap)r
    tz = z["delay_ms"] + z["duration_ms"] + z["tail_ms"]
    grid = np.arange(0, tz + h.dt / 2, h.dt)
    ic = h.IClamp(soma); ic.delay, ic.dur = 0, 1e9
    tv, iv = h.Vector(grid), h.Vector(chirp_current(grid, z["f0_hz"], z["f1_hz"], z["duration_ms"], z["amp_nA"],
                                                         t_start_ms=z["delay_ms"]))
    iv.play(ic._ref_amp, tv, 1)
    v = h.Vector().record(soma._ref_v)
    t0 = time.perf_counter()
    h.finitialize(run["v_init"]); h.continuerun(tz)
    return (time.perf_counter() - t0) * 1e3

fi_loop()  # warm
print("ready", flush=True)
for line in sys.stdin:  # one timed run per request, so the runs interleave with the pool's
    if line.strip() == "fi":
        t0 = time.perf_counter(); rates = fi_loop()
        print(json.dumps({"fi_ms": (time.perf_counter() - t0) * 1e3, "rates": rates}), flush=True)
    elif line.strip() == "zap":
        print(json.dumps({"zap_solve_ms": zap_solve()}), flush=True)
"""


def main(argv: list[str]) -> dict:
    from bmtool_lab import CellProfiler
    from bmtool_lab.examples import build_example
    from bmtool_lab.sim.executor import LocalPool

    repeats = 1 if "--quick" in argv else 3
    result: dict = {"benchmark": "profiler", "cell": CELL, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        config = build_example(Path(tmp) / "example_network")
        prof = CellProfiler(config)
        prof.select(CELL)
        run = prof.settings_for()
        fi_kw = dict(delay_ms=DELAY_MS, dur_ms=DUR_MS, post_ms=POST_MS, rheobase=False, keep_traces=False)

        fi: dict = {"steps": 20, "step_ms": DUR_MS, "run_ms": DELAY_MS + DUR_MS + POST_MS}
        configs = (("pool_1_worker_fixed_ms", 1, False), ("pool_2_workers_fixed_ms", 2, False),
                   ("pool_2_workers_cvode_ms", 2, True))
        script = BMTOOL_LOOP % {"delay": DELAY_MS, "dur": DUR_MS, "tstop": DELAY_MS + DUR_MS + POST_MS,
                                "start": FI_PA[0], "stop": FI_PA[1], "step": FI_PA[2], "zap": ZAP}
        loop = subprocess.Popen([sys.executable, "-c", script, str(config), CELL,
                                 json.dumps({"dt": run.dt, "celsius": run.celsius, "v_init": run.v_init})],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())

        def ask(what: str) -> dict:
            loop.stdin.write(what + "\n")
            loop.stdin.flush()
            return json.loads(loop.stdout.readline())

        pools = {n: LocalPool(n).start(wait_ready=True) for n in (1, 2)}
        times: dict[str, list[float]] = {label: [] for label in (*(c[0] for c in configs), "bmtool_loop_in_process_ms")}
        efficiency: dict[str, list[float]] = {label: [] for label, _, _ in configs}
        rates: dict[str, list] = {}
        try:
            for _, n, cvode in configs:  # warm: NEURON, mechanisms, the cell in every worker
                prof.fi_curve(*FI_PA, executor=pools[n], cvode=cvode, **fi_kw)
            assert loop.stdout.readline().strip() == "ready"
            for _ in range(repeats):  # interleaved, so drifting load on a shared machine hits all alike
                for label, n, cvode in configs:
                    t0 = time.perf_counter()
                    curve = prof.fi_curve(*FI_PA, executor=pools[n], cvode=cvode, **fi_kw)
                    wall = time.perf_counter() - t0
                    assert curve.currents_nA.size == 20 and curve.done.all()
                    times[label].append(wall * 1e3)
                    efficiency[label].append(float(curve.solve_ms.sum()) / 1e3 / (n * wall))
                    rates[label] = curve.rates_hz.tolist()
                out = ask("fi")
                times["bmtool_loop_in_process_ms"].append(out["fi_ms"])
                rates["loop"] = out["rates"]
            prof.zap(**ZAP)  # warm
            runs, zap_solve = [], []
            for _ in range(repeats):
                runs.append(prof.zap(**ZAP))
                zap_solve.append(ask("zap")["zap_solve_ms"])
        finally:
            for pool in pools.values():
                pool.close()
            loop.stdin.close()
            loop.wait(timeout=60)
        for label, values in times.items():
            fi[label] = statistics.median(values)
        # NEURON time summed over the steps / (workers × wall): what the pool loses to
        # orchestration (and to other load on the machine), whatever the absolute speed
        fi["pool_efficiency"] = {label.removesuffix("_ms"): statistics.median(e) for label, e in efficiency.items()}
        fi["speedup_2_vs_1_workers"] = fi["pool_1_worker_fixed_ms"] / fi["pool_2_workers_fixed_ms"]
        fi["speedup_2_workers_vs_bmtool_loop"] = fi["bmtool_loop_in_process_ms"] / fi["pool_2_workers_fixed_ms"]
        fi["cvode_extra_factor"] = fi["pool_2_workers_fixed_ms"] / fi["pool_2_workers_cvode_ms"]
        fi["speedup_2_workers_cvode_vs_bmtool_loop"] = fi["bmtool_loop_in_process_ms"] / fi["pool_2_workers_cvode_ms"]
        # the loop counts crossings over the whole run (bmtool's way); ours only inside the step
        fi["max_rate_diff_vs_bmtool_loop_hz"] = max(abs(a - b) for a, b in zip(rates["pool_2_workers_fixed_ms"],
                                                                               rates["loop"], strict=True))
        fi["max_rate_diff_cvode_vs_fixed_hz"] = max(abs(a - b) for a, b in zip(rates["pool_2_workers_cvode_ms"],
                                                                               rates["pool_2_workers_fixed_ms"],
                                                                               strict=True))
        result["fi"] = fi

        med = lambda key: statistics.median(getattr(r, key) for r in runs)  # noqa: E731
        zap = {"chirp_ms": ZAP["duration_ms"], "run_ms": ZAP["delay_ms"] + ZAP["duration_ms"] + ZAP["tail_ms"],
               "worker_solve_ms": med("solve_ms"), "worker_job_ms": med("job_ms"), "total_ms": med("total_ms"),
               "bare_solve_in_process_ms": statistics.median(zap_solve),
               "resonance_hz": runs[-1].resonance_hz, "n_freq_bins": int(runs[-1].freq_hz.size)}
        zap["overhead_vs_solve"] = zap["total_ms"] / zap["worker_solve_ms"] - 1.0
        zap["overhead_vs_bare_in_process_solve"] = zap["total_ms"] / zap["bare_solve_in_process_ms"] - 1.0
        result["zap"] = zap
        prof.close()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
