"""Engine benchmarks, printed as JSON (compare ratios measured in one run, not absolute times).

- interactive re-run: a tuner-like protocol (Exp2Syn train into a 2-compartment cell, SEClamp,
  800 ms) re-run through an InteractiveWorker vs the same protocol run with bare NEURON calls
  in a plain process (target: rerun <= 1.2 x bare + 5 ms), fixed step and CVODE; the fixed-step
  floor is the faster bare loop, ParallelContext.psolve (stdrun's continuerun shown beside it);
- sweep: 20 current steps x 1050 ms (1-comp hh) on 2 warm workers vs 1 (target >= 1.8x);
- cold worker start: process start to "NEURON loaded", and to the first result;
- SaveState: the train protocol with a 500 ms baseline, full vs restored (identical trace).

Run: ``python benchmarks/bench_engine.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

REPEATS = 15


# --- jobs (pickled by value into the workers) -------------------------------------------------
def train_protocol(ctx, cvode=False, weight_uS=0.004, checkpoint=False, delay_ms=400.0, tstop=800.0):
    """The tuner-like protocol; returns the trace and the time of the simulation itself."""
    import time as _time

    from bmtool_lab.sim import protocol as P

    def build():
        h = ctx.h
        soma = h.Section(name="soma")
        soma.L = soma.diam = 20.0
        soma.insert("hh")
        dend = h.Section(name="dend")
        dend.L, dend.diam, dend.nseg = 300.0, 1.5, 31
        dend.insert("pas")
        dend.e_pas = -65.0
        dend.connect(soma(1))
        syn = h.Exp2Syn(dend(0.8))
        syn.tau1, syn.tau2, syn.e = 0.5, 5.0, 0.0
        clamp = P.seclamp(soma(0.5), -70.0)
        return {"soma": soma, "dend": dend, "syn": syn, "clamp": clamp, "ckpt": P.BaselineCheckpoint(delay_ms - 10)}

    m = ctx.model(("bench-train", delay_ms), build)
    times = [delay_ms + k * 20.0 for k in range(8)] + [delay_ms + 140.0 + 200.0]
    train = P.EventTrain(m["syn"], times, weight=weight_uS)
    rec = P.Recorder().record("i", m["clamp"]._ref_i)
    settings = P.SimSettings(tstop=tstop, dt=0.025, celsius=34.0, v_init=-70.0, cvode=cvode)
    t0 = _time.perf_counter()
    if checkpoint:
        trace = m["ckpt"].run(settings, rec, key="bench", trains=[train])
    else:
        trace = P.simulate(settings, rec)
    return {"trace": trace, "sim_s": _time.perf_counter() - t0, "restored": bool(checkpoint and m["ckpt"].restored)}


def fi_step(ctx, amp_nA, tstop=1050.0):
    from bmtool_lab.sim import protocol as P

    def build():
        soma = ctx.h.Section(name="soma")
        soma.L = soma.diam = 20.0
        soma.insert("hh")
        return soma

    soma = ctx.model("bench-fi", build)
    clamp = P.iclamp(soma(0.5), amp_nA, 25.0, 1000.0)
    rec = P.Recorder().record_v("v", soma(0.5))
    v = P.simulate(P.SimSettings(tstop=tstop, dt=0.025, celsius=6.3, v_init=-65.0), rec)["v"]
    del clamp
    return int(((v[1:] >= 0) & (v[:-1] < 0)).sum())


def noop(ctx):
    return 0


# --- bare NEURON, in a plain process ----------------------------------------------------------
BARE = r"""
import json, os, statistics, sys, tempfile, time
os.chdir(tempfile.mkdtemp())
import numpy as np
from neuron import h
h.load_file("stdrun.hoc")
soma = h.Section(name="soma"); soma.L = soma.diam = 20.0; soma.insert("hh")
dend = h.Section(name="dend"); dend.L, dend.diam, dend.nseg = 300.0, 1.5, 31; dend.insert("pas"); dend.e_pas = -65.0
dend.connect(soma(1))
syn = h.Exp2Syn(dend(0.8)); syn.tau1, syn.tau2, syn.e = 0.5, 5.0, 0.0
clamp = h.SEClamp(soma(0.5)); clamp.amp1, clamp.dur1, clamp.rs = -70.0, 1e9, 0.01
nc = h.NetCon(None, syn); nc.weight[0] = 0.004
times = [400.0 + k * 20.0 for k in range(8)] + [740.0]
fih = h.FInitializeHandler(lambda: [nc.event(t) for t in times])
tv = h.Vector().record(h._ref_t); iv = h.Vector().record(clamp._ref_i)
out = {}
pc = h.ParallelContext(); pc.set_maxstep(10)
for cvode, solve in ((False, "psolve"), (False, "continuerun"), (True, "continuerun")):
    h.cvode_active(int(cvode)); h.dt = 0.025; h.steps_per_ms = 40; h.celsius = 34.0
    runs = []
    for _ in range(int(sys.argv[1])):
        t0 = time.perf_counter()
        h.finitialize(-70.0)
        pc.psolve(800.0) if solve == "psolve" else h.continuerun(800.0)
        t, i = tv.as_numpy().astype(np.float32), iv.as_numpy().astype(np.float32)
        runs.append(time.perf_counter() - t0)
    out["cvode" if cvode else ("fixed_psolve" if solve == "psolve" else "fixed")] = statistics.median(runs)
print(json.dumps(out))
"""


BARE_FI = r"""
import os, sys, tempfile, time
os.chdir(tempfile.mkdtemp())
from neuron import h
h.load_file("stdrun.hoc")
s = h.Section(name="soma"); s.L = s.diam = 20.0; s.insert("hh")
ic = h.IClamp(s(0.5)); ic.delay, ic.dur, ic.amp = 25.0, 1000.0, 0.1
h.dt, h.steps_per_ms, h.celsius = 0.025, 40, 6.3
t0 = time.perf_counter()
for _ in range(10):
    h.finitialize(-65.0); h.continuerun(1050.0)
print(time.perf_counter() - t0)
"""


def hardware_scaling() -> float:
    """Two bare NEURON processes at once vs one: what 2 workers can gain on this machine at best."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_FI], capture_output=True, check=True)
    alone = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", BARE_FI], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    for p in procs:
        p.wait()
    return round(2 * alone / (time.perf_counter() - t0), 2)


def median_ms(values) -> float:
    return round(1e3 * statistics.median(values), 3)


def main() -> None:
    from bmtool_lab.sim.executor import LocalPool
    from bmtool_lab.sim.worker import InteractiveWorker

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}

    bare = json.loads(subprocess.run([sys.executable, "-c", BARE, str(REPEATS)], capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1])

    # interactive re-run
    with InteractiveWorker("bench") as w:
        w.wait_ready()
        rerun = {}
        for mode, cvode in (("fixed", False), ("cvode", True)):
            w.call(train_protocol, cvode=cvode)  # build once
            rounds, sims = [], []
            for k in range(REPEATS):
                t0 = time.perf_counter()
                res = w.call(train_protocol, cvode=cvode, weight_uS=0.004 + 1e-5 * k)  # a "slider move"
                rounds.append(time.perf_counter() - t0)
                sims.append(res["sim_s"])
            # the floor: the faster bare loop (fixed step: psolve, NEURON's own C loop; stdrun's
            # continuerun, a hoc statement per step, is shown beside it)
            b = min(bare[mode], bare.get(f"{mode}_psolve", bare[mode]))
            rr = statistics.median(rounds)
            rerun[mode] = {
                "bare_neuron_ms": round(1e3 * b, 3),
                "bare_continuerun_ms": round(1e3 * bare[mode], 3),
                "in_worker_sim_ms": median_ms(sims),
                "interactive_rerun_ms": round(1e3 * rr, 3),
                "overhead_ms": round(1e3 * (rr - b), 3),
                "ratio": round(rr / b, 3),
                "target": "rerun <= 1.2 x bare + 5 ms",
                "meets_target": rr <= 1.2 * b + 0.005,
                "trace_points": len(res["trace"]),
            }
        results["interactive_rerun"] = rerun

        # SaveState: 500 ms baseline of a 970 ms train protocol
        full, skip = [], []
        ref = w.call(train_protocol, delay_ms=500.0, tstop=970.0)
        for _ in range(5):
            full.append(w.call(train_protocol, delay_ms=500.0, tstop=970.0)["sim_s"])
        w.call(train_protocol, delay_ms=500.0, tstop=970.0, checkpoint=True)
        restored = None
        for _ in range(5):
            restored = w.call(train_protocol, delay_ms=500.0, tstop=970.0, checkpoint=True)
            skip.append(restored["sim_s"])
        same = bool(restored["restored"]) and all(
            (ref["trace"][k] == restored["trace"][k]).all() for k in ("t", "i"))
        results["savestate"] = {"full_ms": median_ms(full), "restored_ms": median_ms(skip),
                                "speedup": round(statistics.median(full) / statistics.median(skip), 2),
                                "identical_trace": same}

    # cold start
    starts, firsts = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        w = InteractiveWorker("cold")
        ready = w.wait_ready()
        w.call(noop)
        firsts.append(time.perf_counter() - t0)
        starts.append(ready)
        w.close()
    results["cold_worker_start"] = {"to_neuron_loaded_ms": median_ms(starts), "to_first_result_ms": median_ms(firsts)}

    # sweep 20 steps on 1 vs 2 warm workers
    sweep = [{"amp_nA": 0.01 * k} for k in range(20)]
    timing = {}
    counts = {}
    for n in (1, 2):
        with LocalPool(n) as pool:
            pool.start(wait_ready=True)
            pool.map(fi_step, [{"amp_nA": 0.0}] * n * 2)  # warm: model built in every worker
            best = []
            for _ in range(3):
                t0 = time.perf_counter()
                counts[n] = pool.map(fi_step, sweep)
                best.append(time.perf_counter() - t0)
            timing[n] = min(best)
    results["sweep_20_steps"] = {"one_worker_s": round(timing[1], 3), "two_workers_s": round(timing[2], 3),
                                 "speedup": round(timing[1] / timing[2], 2), "target": ">= 1.8x",
                                 "same_results": counts[1] == counts[2],
                                 "bare_neuron_2_process_scaling": hardware_scaling()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
