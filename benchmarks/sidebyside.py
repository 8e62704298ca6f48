"""The figures of the side-by-side table: each one for bmtool 0.8.7 and for bmtool_lab, on the same
cell, synapse and network, each run in a fresh process and printed as JSON.

    python benchmarks/sidebyside.py TOOL FIGURE WORKDIR     # TOOL: bmtool | ours

``benchmarks/run.py`` prepares WORKDIR (the example network with its mechanisms compiled where
bmtool loads them, generated SONATA networks for the connectivity figures) and calls this with
the right interpreter for each tool (the bmtool column needs the real bmtool: see
``benchmarks/setup_bmtool_env.sh``). Nothing of bmtool is emulated: the bmtool column calls
bmtool's own functions, the ones its dashboards and docs use.

Every figure returns ``{"s": seconds (the figure), ...details}``.
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

CONN = "Exc2SST"  # Exp2SynSTP onto the SST cell: the STP synapse of the example network
CELL = "Exc"
TRUE = {"Use": 0.2, "Dep": 80.0, "Fac": 300.0}  # the optimizer's known answer
BOUNDS = {"Use": (0.05, 0.6), "Dep": (10.0, 300.0), "Fac": (50.0, 1000.0)}
STP_TARGETS = ("simple_ppr", "induction", "recovery")
FLOOR = 0.1  # the error scale's floor of the STP indices (our METRICS)
GOALS = (1e-2, 4e-4)  # 4e-4: an RMS relative error of 2 %
FI = (0.0, 190.0, 10.0)  # pA: 20 steps
FI_DELAY_MS, FI_DUR_MS = 100.0, 1000.0
SLIDER_REPS = 5


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def error_of(metrics: dict[str, float], targets: dict[str, float]) -> float:
    """The optimizer's error, one definition for both tools: mean of ((x - T)/max(|T|, 0.1))²."""
    return sum(((metrics[k] - t) / max(abs(t), FLOOR)) ** 2 for k, t in targets.items()) / len(targets)


def to_goals(errors: list[float], times: list[float]) -> dict[str, Any]:
    best, out = float("inf"), {}
    hits: dict[float, tuple[int, float]] = {}
    for i, (e, t) in enumerate(zip(errors, times, strict=True)):
        best = min(best, e)
        for g in GOALS:
            if g not in hits and best <= g:
                hits[g] = (i + 1, t)
    for g in GOALS:
        n, t = hits.get(g, (None, None))
        out[f"evals_to_{g:g}"] = n
        out[f"s_to_{g:g}"] = None if t is None else round(t, 3)
    out["n_evaluations"] = len(errors)
    out["best_error"] = float(f"{min(errors):.3g}") if errors else None
    return out


# --- bmtool 0.8.7 -----------------------------------------------------------------------------
def _bmtool_ready() -> None:
    import numpy as np

    if not hasattr(np, "trapz"):  # NumPy >= 2.4 removed it; bmtool's synapse metrics call it
        np.trapz = np.trapezoid
    import matplotlib

    matplotlib.use("Agg")


def _bm_tuner(work: Path, connection: str = CONN) -> Any:
    import contextlib

    from bmtool.synapses import SynapseTuner

    os.chdir(work / "example")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every template it loads
        return SynapseTuner(config=str(work / "example" / "simulation_config.json"), connection=connection)


def bm_import(work: Path) -> dict:
    t0 = time.perf_counter()
    import bmtool.synapses  # noqa: F401

    return {"s": time.perf_counter() - t0, "what": "import bmtool.synapses"}


def bm_slider(work: Path) -> dict:
    """What bmtool's InteractiveTuner runs on a slider change (update_ui), without the widgets:
    set the synapse property, simulate the train, amplitudes, the figure as the inline PNG, STP."""
    import matplotlib.pyplot as plt

    tn = _bm_tuner(work)

    def update(use: float) -> None:
        tn._set_syn_prop(Use=use)
        tn._simulate_model(50.0, 250.0)
        amp = tn._response_amplitude()
        tn._plot_model([tn.general_settings["tstart"] - tn.nstim.interval / 3, tn.tstop], show=False)
        buf = io.BytesIO()
        tn.last_figure.savefig(buf, format="png")  # what the inline backend sends
        import contextlib

        with contextlib.redirect_stdout(io.StringIO()):
            tn._calc_ppr_induction_recovery(amp)
        plt.close("all")

    update(0.4)  # warm
    walls = []
    for k in range(SLIDER_REPS):
        t0 = time.perf_counter()
        update(0.41 + 0.01 * k)
        walls.append(time.perf_counter() - t0)
    return {"s": statistics.median(walls), "reps": SLIDER_REPS,
            "protocol": "bmtool defaults: fixed step 0.025 ms, 500 ms baseline, 8+4 pulses at 50 Hz, matplotlib PNG"}


def bm_table(work: Path) -> dict:
    import contextlib

    tn = _bm_tuner(work)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        tn.generate_synaptic_table(plot=False)  # warm
        t0 = time.perf_counter()
        df = tn.generate_synaptic_table(plot=False)
        s = time.perf_counter() - t0
    return {"s": s, "connections": int(len(df)), "what": "generate_synaptic_table(plot=False), warm"}


def bm_fi(work: Path) -> dict:
    import contextlib

    from bmtool.singlecell import Profiler

    ex = work / "example" / "components"
    os.chdir(work / "example")
    with contextlib.redirect_stdout(io.StringIO()):
        prof = Profiler(template_dir=str(ex / "templates"), mechanism_dir=str(ex / "mechanisms"))
        kw = {"i_start": FI[0], "i_stop": FI[1] + FI[2], "i_increment": FI[2], "tstart": FI_DELAY_MS,
              "tdur": FI_DUR_MS, "plot": False}
        t0 = time.perf_counter()
        amps, spikes = prof.fi_curve(CELL, **kw)
        s = time.perf_counter() - t0
    return {"s": s, "steps": len(amps), "spikes": [int(x) for x in spikes],
            "what": "Profiler.fi_curve, sequential, first call (later calls leak cells and get slower)"}


def _bm_conn(work: Path, net: str, with_percent: bool) -> dict:
    import contextlib

    from bmtool.util import util

    cfg = str(work / net / "circuit_config.json")
    base = _rss_mb()
    kw = {"config": cfg, "sources": ["cortex"], "targets": ["cortex"], "sids": ["pop_name"], "tids": ["pop_name"]}
    parts = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for name, fn, extra in (("total", util.connection_totals, {}),
                                ("convergence", util.connection_divergence, {"convergence": True}),
                                *((("percent", util.percent_connections, {}),) if with_percent else ())):
            t0 = time.perf_counter()
            fn(**kw, **extra)
            parts[name] = round(time.perf_counter() - t0, 3)
    return {"s": sum(parts.values()), "parts_s": parts, "peak_rss_mb": round(_rss_mb(), 1),
            "peak_rss_delta_mb": round(_rss_mb() - base, 1)}


def bm_conn1m(work: Path) -> dict:
    return _bm_conn(work, "net1m", True)


def bm_conn10m(work: Path) -> dict:
    return _bm_conn(work, "net10m", False)


def bm_distance(work: Path) -> dict:
    import contextlib

    from bmtool.util import util

    cfg = str(work / "net1k" / "circuit_config.json")
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        util.connection_probabilities(config=cfg, sources=["cortex"], targets=["cortex"], sids=["pop_name"],
                                      tids=["pop_name"], num_bins=10)
        s = time.perf_counter() - t0
    return {"s": s, "what": "util.connection_probabilities (what bmplot.probability_connection_matrix plots), "
                            "1 k cells, 10 bins, per pop_name pair"}


def bm_optimizer(work: Path) -> dict:
    """bmtool's own SynapseOptimizer (SLSQP, its finite differences, sequential) given our error
    definition through its cost_function; targets = bmtool's own metrics at the known parameters."""
    import contextlib

    from bmtool.synapses import SynapseOptimizer

    tn = _bm_tuner(work)
    opt = SynapseOptimizer(tn)
    opt.train_frequency, opt.train_delay, opt.run_single_event, opt.run_train_input = 50.0, 250.0, False, True
    for k, v in TRUE.items():
        setattr(tn.syn, k, v)
    with contextlib.redirect_stdout(io.StringIO()):
        m = opt._calculate_metrics()
    targets = {k: m[k] for k in STP_TARGETS}
    errors: list[float] = []
    stamps: list[float] = []
    t0 = time.perf_counter()

    def cost(metrics: dict, target_metrics: dict) -> float:
        e = error_of(metrics, target_metrics)
        errors.append(e)
        stamps.append(time.perf_counter() - t0)
        return e

    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        res = opt.optimize_parameters(target_metrics=targets, param_bounds=BOUNDS, cost_function=cost,
                                      init_guess="middle_guess")
        wall = time.perf_counter() - t0
    out = to_goals(errors, stamps)
    out.update({"s": out[f"s_to_{GOALS[-1]:g}"], "wall_s": round(wall, 3),
                "final_params": {k: round(float(v), 4) for k, v in res.optimal_params.items()},
                "what": "bmtool SynapseOptimizer.optimize_parameters (SLSQP), init_guess='middle_guess', "
                        "cost_function = our error on bmtool's metrics; times stamped at each evaluation"})
    return out


# --- bmtool_lab -------------------------------------------------------------------------------
def _our_tuner(work: Path, connection: str = CONN) -> Any:
    from bmtool_lab.tuning.synapse import SynapseTuner

    return SynapseTuner(work / "example" / "simulation_config.json", connection=connection)


def our_import(work: Path) -> dict:
    t0 = time.perf_counter()
    import bmtool_lab  # noqa: F401
    from bmtool_lab import SynapseTuner  # noqa: F401

    return {"s": time.perf_counter() - t0, "what": "import bmtool_lab; from bmtool_lab import SynapseTuner"}


def _time_slider(tn: Any) -> float:
    """Median wall time (s) of a Use slider move (set_params + run_train) after one warm run
    (the cell built in the worker, a checkpoint saved where the protocol keeps one)."""
    try:
        tn.set_params(Use=0.4)
        tn.run_train()
        walls = []
        for k in range(SLIDER_REPS):
            t0 = time.perf_counter()
            tn.set_params(Use=0.41 + 0.01 * k)
            tn.run_train()
            walls.append(time.perf_counter() - t0)
    finally:
        tn.close()
    return statistics.median(walls)


def our_slider(work: Path) -> dict:
    """A slider change headless: set_params + run_train (metrics and trace back in the kernel; the
    dashboard then sends the trace as float32 bytes, ~0.1 ms)."""
    return {"s": _time_slider(_our_tuner(work)), "reps": SLIDER_REPS,
            "protocol": "our defaults: CVODE, baseline checkpoint, 8+4 pulses at 50 Hz, voltage clamp"}


def bm_slider_bmtool_protocol(work: Path) -> dict:
    return bm_slider(work)  # bmtool's slider is on its own protocol


def our_slider_bmtool_protocol(work: Path) -> dict:
    """The slider on bmtool's protocol: convention="bmtool" (fixed step 0.025 ms, raw
    amplitudes: one simulation per train), no baseline checkpoint, 500 ms baseline."""
    from bmtool_lab.tuning.synapse import SynapseTuner

    tn = SynapseTuner(work / "example" / "simulation_config.json", connection=CONN, convention="bmtool")
    tn.set_protocol(checkpoint=False, t_start_ms=500.0, freq_hz=50.0, delay_ms=250.0, n_train=8, n_rec=4)
    return {"s": _time_slider(tn), "reps": SLIDER_REPS,
            "protocol": "convention='bmtool': fixed step 0.025 ms, 500 ms baseline, no checkpoint, 8+4 pulses "
                        "at 50 Hz, raw amplitudes (no kernel run)"}


def our_table(work: Path) -> dict:
    tn = _our_tuner(work)
    try:
        tn.synaptic_table(kind="train")  # warm
        t0 = time.perf_counter()
        df = tn.synaptic_table(kind="train")
        s = time.perf_counter() - t0
    finally:
        tn.close()
    return {"s": s, "connections": int(len(df)), "errors": [e for e in df["error"] if e],
            "what": "synaptic_table(kind='train'), warm, default pool"}


def our_fi(work: Path) -> dict:
    from bmtool_lab import CellProfiler
    from bmtool_lab.sim.executor import default_pool

    prof = CellProfiler(work / "example" / "simulation_config.json")
    prof.select(CELL)
    default_pool().start(wait_ready=True)
    t0 = time.perf_counter()
    curve = prof.fi_curve(*FI, delay_ms=FI_DELAY_MS, dur_ms=FI_DUR_MS)  # the default call: rheobase on
    s = time.perf_counter() - t0
    warm = {}
    for label, kw in (("default_call_warm_s", {}), ("sweep_only_warm_s", {"rheobase": False})):
        t1 = time.perf_counter()
        prof.fi_curve(*FI, delay_ms=FI_DELAY_MS, dur_ms=FI_DUR_MS, **kw)
        warm[label] = round(time.perf_counter() - t1, 3)
    return {"s": s, **warm, "steps": int(curve.currents_nA.size), "workers": default_pool().n_workers,
            "rates_hz": [round(float(r), 2) for r in curve.rates_hz],
            "what": "CellProfiler.fi_curve(0, 190, 10) with its defaults (rheobase search on), default pool, "
                    "first call (workers started, cell not yet built)"}


def _our_conn(work: Path, net: str, with_percent: bool) -> dict:
    from bmtool_lab.model.config import load_config
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    cfg = load_config(work / net / "circuit_config.json")
    base = _rss_mb()
    parts = {}
    t0 = time.perf_counter()
    conn = ConnectivityExplorer(cfg)
    parts["open"] = round(time.perf_counter() - t0, 3)
    for name, kw in (("total", {}), ("convergence", {"stat": "mean"}), *((("percent", {}),) if with_percent else ())):
        t0 = time.perf_counter()
        conn.matrix(name, **kw)
        parts[name] = round(time.perf_counter() - t0, 3)
    return {"s": sum(parts.values()), "parts_s": parts, "peak_rss_mb": round(_rss_mb(), 1),
            "peak_rss_delta_mb": round(_rss_mb() - base, 1)}


def our_conn1m(work: Path) -> dict:
    return _our_conn(work, "net1m", True)


def our_conn10m(work: Path) -> dict:
    return _our_conn(work, "net10m", False)


def our_distance(work: Path) -> dict:
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    conn = ConnectivityExplorer(work / "net1k" / "circuit_config.json")
    groups = list(conn.matrix("total", sources="cortex", targets="cortex").index)
    t0 = time.perf_counter()
    for src in groups:  # per pop_name pair, as bmtool computes it
        for tgt in groups:
            conn.probability_vs_distance(bins=10, source_group=src, target_group=tgt, sources="cortex",
                                         targets="cortex")
    s = time.perf_counter() - t0
    return {"s": s, "pairs_of_groups": len(groups) ** 2,
            "what": "probability_vs_distance per pop_name pair, 1 k cells, 10 bins"}


def our_optimizer(work: Path) -> dict:
    """Our least-squares fit (parallel finite differences) from the same start (the bounds'
    middle, bmtool's middle_guess) to our metrics at the known parameters; the error is the
    same definition; times from the fit's batch events."""
    from bmtool_lab.sim.executor import default_pool
    from bmtool_lab.tuning.optimizer import SynapseOptimizer

    tn = _our_tuner(work)
    try:
        probe = SynapseOptimizer(tn, params=BOUNDS, targets={"simple_ppr": 1.0})
        run = probe.evaluate([TRUE])[0].runs["train"]
        targets = {k: run[k] for k in STP_TARGETS}
        tn.set_params(**{k: (lo + hi) / 2 for k, (lo, hi) in BOUNDS.items()})
        opt = SynapseOptimizer(tn, params=BOUNDS, targets=targets)
        opt.evaluate([TRUE, TRUE])  # warm: the cell built in both workers, as bmtool's is before it starts
        errors: list[float] = []
        stamps: list[float] = []
        t0 = [0.0]

        def on_event(event: str, payload: Any) -> None:
            if event == "start":
                t0[0] = time.perf_counter()
            elif event == "batch":  # every evaluation of a batch is known when the batch ends
                now = time.perf_counter() - t0[0]
                for ev in payload:
                    errors.append(ev.error)
                    stamps.append(now)

        opt.add_listener(on_event)
        res = opt.fit(method="least-squares", seed=1, progress=False)
        assert [e.error for e in res.evaluations] == errors
    finally:
        tn.close()
    out = to_goals(errors, stamps)
    out.update({"s": out[f"s_to_{GOALS[-1]:g}"], "wall_s": round(res.wall_s, 3), "stop_reason": res.stop_reason,
                "workers": default_pool().n_workers,
                "final_params": {k: round(v, 4) for k, v in res.best_params.items()},
                "what": "SynapseOptimizer.fit(method='least-squares', seed=1), default pool; times from batch events"})
    return out


FIGURES = ("import", "slider", "slider_bmtool_protocol", "table", "fi", "optimizer", "distance", "conn1m", "conn10m")


def main(argv: list[str]) -> int:
    tool, figure, work = argv[0], argv[1], Path(argv[2])
    if tool == "bmtool":
        _bmtool_ready()
    fn = globals()[("bm_" if tool == "bmtool" else "our_") + figure]
    out = fn(work)
    out["s"] = None if out["s"] is None else round(float(out["s"]), 4)
    print("\n" + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
