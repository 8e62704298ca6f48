"""Job functions the sim tests run in workers (importable there: pytest puts this folder on sys.path,
and workers inherit the kernel's sys.path)."""

from __future__ import annotations

import time

import numpy as np

from bmtool_lab.model.cell_types import CellType
from bmtool_lab.sim import cells, protocol
from bmtool_lab.sim.protocol import BaselineCheckpoint, EventTrain, Recorder, SimSettings


def _soma_cell(ctx):
    """A one-compartment hh soma kept in the worker (built once)."""

    def build():
        h = ctx.h
        soma = h.Section(name="soma")
        soma.L = soma.diam = 20.0
        soma.insert("hh")
        return {"soma": soma, "delete": None}

    return ctx.model("hh-soma", build)


def hh_step(ctx, dt=0.025, celsius=6.3, amp_nA=0.1, tstop=200.0, cvode=False, chunk_ms=None):
    """Spiking soma under an IClamp step; the settings come from this job only."""
    soma = _soma_cell(ctx)["soma"]
    clamp = protocol.iclamp(soma(0.5), amp_nA, delay_ms=20.0, dur_ms=150.0)
    rec = Recorder().record_v("v", soma(0.5))
    settings = SimSettings(tstop=tstop, dt=dt, celsius=celsius, v_init=-65.0, cvode=cvode)
    trace = protocol.simulate(settings, rec, ctx=ctx if chunk_ms else None, chunk_ms=chunk_ms)
    del clamp
    return trace


def global_settings(ctx):
    h = ctx.h
    return {"dt": h.dt, "celsius": h.celsius, "cvode": int(h.cvode.active())}


def python_forever(ctx):
    while True:
        pass


def hoc_forever(ctx):
    ctx.h("while (1) { }")


def cooperative_wait(ctx, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check_cancelled()
        time.sleep(0.005)
    return "finished"


def hoc_error(ctx):
    ctx.h.execerror("deliberate failure from a test", "(see the hoc message)")


def python_error(ctx, x):
    return 1 / x


def pid(ctx):
    import os

    return os.getpid()


def segfault(ctx, mod_dir):
    """Load a mechanism whose INITIAL dereferences NULL, insert it, initialise: SIGSEGV."""
    ctx.load_mechanisms(mod_dir)
    h = ctx.h
    sec = h.Section(name="crash")
    sec.insert("segv")
    h.finitialize(-65)
    return "not reached"


def slow_square(ctx, x, delay_s=0.0):
    if delay_s:
        time.sleep(delay_s)
    return x * x


def fi_point(ctx, cell_type: CellType, amp_nA: float, tstop=300.0):
    """Spike count of a cell under a current step (a sweep item)."""
    cell = ctx.model(cell_type, lambda: cells.build_cell(cell_type))
    clamp = protocol.iclamp(cell.seg("soma"), amp_nA, 50.0, 200.0)
    rec = Recorder().record_v("v", cell.seg("soma"))
    trace = protocol.simulate(SimSettings(tstop=tstop, dt=0.025, celsius=6.3, v_init=-65.0), rec)  # hh's own temperature
    del clamp
    v = trace["v"]
    spikes = int(np.sum((v[1:] >= 0) & (v[:-1] < 0)))
    return {"amp_nA": amp_nA, "spikes": spikes, "v": v}


def build_and_probe(ctx, cell_type: CellType, amp_nA=0.3, tstop=150.0):
    """Build a cell (fresh), describe it, run a short step, delete it; section counts before/after."""
    h = ctx.h
    before = sum(1 for _ in h.allsec())
    t0 = time.perf_counter()
    cell = cells.build_cell(cell_type)
    names = cell.section_names()
    clamp = protocol.iclamp(cell.seg("soma"), amp_nA, 20.0, 100.0)
    rec = Recorder().record_v("v", cell.seg("soma"))
    trace = protocol.simulate(SimSettings(tstop=tstop, dt=0.025, celsius=34.0, v_init=-70.0), rec)
    during = sum(1 for _ in h.allsec())
    del clamp, rec
    cell.delete()
    del cell
    after = sum(1 for _ in h.allsec())
    return {"before": before, "during": during, "after": after, "names": names,
            "vmax": float(trace["v"].max()), "vmin": float(trace["v"].min()), "elapsed_s": time.perf_counter() - t0}


def section_probe(ctx, cell_type: CellType, name: str):
    cell = cells.build_cell(cell_type)
    try:
        return cell.section(name).name()
    finally:
        cell.delete()


def _synapse_model(ctx):
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
        return {"soma": soma, "dend": dend, "syn": syn, "ckpt": None}

    return ctx.model("synapse-model", build)


def synapse_train(ctx, cvode=False, clamp=True, tau2=5.0, e_rev=0.0, checkpoint=False, chunk_ms=None, n_pulses=8,
                  freq_hz=50.0, delay_ms=400.0, tstop=800.0, weight_uS=0.004, reinit=False):
    """A train of n pulses at freq_hz (+1 recovery pulse) into one Exp2Syn through ONE NetCon."""
    m = _synapse_model(ctx)
    h = ctx.h
    syn = m["syn"]
    syn.tau1, syn.tau2, syn.e = 0.5, tau2, e_rev
    times = [delay_ms + k * 1000.0 / freq_hz for k in range(n_pulses)] + [delay_ms + (n_pulses - 1) * 1000.0 / freq_hz + 200.0]
    train = EventTrain(syn, times, weight=weight_uS)
    rec = Recorder().record_v("v", m["soma"](0.5))
    se = None
    if clamp:
        se = protocol.seclamp(m["soma"](0.5), -70.0)
        rec.record("i", se._ref_i)
    settings = SimSettings(tstop=tstop, dt=0.025, celsius=34.0, v_init=-70.0 if clamp else -65.0, cvode=cvode)
    n_netcons = int(h.List("NetCon").count())
    t0 = time.perf_counter()
    if checkpoint:
        if m["ckpt"] is None:
            m["ckpt"] = BaselineCheckpoint(delay_ms - 10.0)
        ckpt = m["ckpt"]
        # Exp2Syn's INITIAL only derives `factor` from tau1/tau2: with tau1/tau2 in the key, the
        # reversal potential and the weight may change while the checkpoint is reused.
        trace = ckpt.run(settings, rec, key=("clamp", clamp, syn.tau1, syn.tau2) if reinit else ("clamp", clamp),
                         trains=[train], reinit=[syn] if reinit else [], ctx=ctx, chunk_ms=chunk_ms)
        restored = ckpt.restored
    else:
        trace = protocol.simulate(settings, rec, ctx=ctx if chunk_ms else None, chunk_ms=chunk_ms)
        restored = False
    elapsed = time.perf_counter() - t0
    return {"trace": trace, "times": np.asarray(times), "restored": restored, "elapsed_s": elapsed,
            "n_netcons": n_netcons}


def fixed_step_paths(ctx, tstop=300.01, chunk_ms=None, zero_delay_cell_netcon=False):
    """Two hh cells, a train through a source-less NetCon and cell 1 driving cell 2: the trace
    and spikes of protocol.simulate (psolve + continuerun) and of stdrun's continuerun alone."""
    from bmtool_lab.sim import protocol as P

    h = ctx.h
    cells = []
    for _ in range(2):
        s = h.Section()
        s.L = s.diam = 20.0
        s.insert("hh")
        cells.append(s)
    syn = h.ExpSyn(cells[0](0.5))
    train = P.EventTrain(syn, [20.0 + 7.0 * k for k in range(30)], weight=0.02)
    syn2 = h.ExpSyn(cells[1](0.5))
    link = h.NetCon(cells[0](0.5)._ref_v, syn2, sec=cells[0])
    link.threshold, link.weight[0], link.delay = -20.0, 0.05, 0.0 if zero_delay_cell_netcon else 1.0
    spikes = h.Vector()
    out_nc = h.NetCon(cells[1](0.5)._ref_v, None, sec=cells[1])
    out_nc.record(spikes)
    settings = P.SimSettings(tstop=tstop, dt=0.025, celsius=6.3, v_init=-65.0)
    rec = P.Recorder().record_v("v1", cells[0](0.5)).record_v("v2", cells[1](0.5))
    ours = P.simulate(settings, rec, ctx, chunk_ms)
    ours_spikes = spikes.as_numpy().copy()
    psolve_used = P._psolve["ok"]
    P.initialize(settings)
    h.continuerun(tstop)
    plain = rec.trace()
    del train, link, out_nc
    return {"ours": ours, "plain": plain, "ours_spikes": ours_spikes, "plain_spikes": spikes.as_numpy().copy(),
            "psolve_used": psolve_used}
