"""Worker side of the gap-junction tuner: two cells coupled by a ``Gap`` pair, a current step
into one, the coupling coefficient and the junction's conductance."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SimError
from .mechanism_info import (
    _load_mechanisms,
    _point_processes,
)

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext


@dataclass(frozen=True)
class GapSpec:
    """Two cells coupled at their somata by a gap junction of conductance ``g_uS`` (µS).

    ``cell1`` / ``cell2``: CellType or picklable builder functions. ``mechanism``: the
    gap-junction POINT_PROCESS (``Gap``: ``g`` in µS, ``vgap`` the partner's v); None uses
    a built-in pair of linked ``g·(v - v_other)`` currents.
    """

    label: str
    cell1: Any
    cell2: Any
    mechanisms_dir: Path | None = None
    mechanism: str | None = "Gap"


class _GapModel:
    def __init__(self, ctx: WorkerContext, spec: GapSpec):
        # local: heavy: pandas, h5py (sim.cells); child process only (the kernel imports this module)
        from . import cells
        from .context import neuron_h

        h = neuron_h()

        def build(c: Any, name: str) -> Any:
            if callable(c):
                from bmtool_lab.model.cell_types import CellType  # local: heavy: pandas, h5py

                return cells.CellHandle.from_hoc_object(CellType(name=name), c())
            return cells.build_cell(c)

        _load_mechanisms(ctx, spec.mechanisms_dir)
        self.c1, self.c2 = build(spec.cell1, "cell1"), build(spec.cell2, "cell2")
        _load_mechanisms(ctx, spec.mechanisms_dir)
        mech = spec.mechanism
        if mech is None or mech not in _point_processes():
            raise SimError("mechanisms", f"gap junction mechanism {mech!r} is not loaded (a POINT_PROCESS with g "
                                         "and vgap, like the example's gap.mod)")
        s1, s2 = self.c1.seg("soma"), self.c2.seg("soma")
        self.g1 = getattr(h, mech)(s1)
        self.g2 = getattr(h, mech)(s2)
        # link each side's vgap to the other cell's v, as BioNet does (ParallelContext transfer)
        self.pc = h.ParallelContext()
        base = 10_000_000 + 2 * (id(self) % 1_000_000)  # ids unique to this pair
        self.pc.source_var(s1._ref_v, base, sec=s1.sec)
        self.pc.source_var(s2._ref_v, base + 1, sec=s2.sec)
        self.pc.target_var(self.g1, self.g1._ref_vgap, base + 1)
        self.pc.target_var(self.g2, self.g2._ref_vgap, base)
        self.pc.setup_transfer()

    def delete(self) -> None:
        self.pc.gid_clear()  # drops the transfer sources/targets
        self.g1 = self.g2 = None
        self.c1.delete()
        self.c2.delete()


def gap_junction_job(ctx: WorkerContext, spec: GapSpec, g_uS: float, amp_nA: float = -0.1, delay_ms: float = 200.0,
                     dur_ms: float = 400.0, tail_ms: float = 100.0, celsius: float = 34.0, v_init: float = -70.0,
                     cvode: bool = True) -> dict:
    """Inject a current step into cell 1 and record both somata; coupling coefficient ΔV2/ΔV1.

    ΔV = mean v over the last 10 % of the step minus mean v over the 50 ms before it (mV).
    """
    from . import protocol  # local: child process only (the kernel imports this module)

    if not (math.isfinite(g_uS) and g_uS >= 0):
        raise SimError("model", f"gap conductance must be a finite value >= 0 µS, got {g_uS!r}")
    model: _GapModel = ctx.model(("gap", spec), lambda: _GapModel(ctx, spec))
    model.g1.g = model.g2.g = float(g_uS)
    stim = protocol.iclamp(model.c1.seg("soma"), amp_nA, delay_ms, dur_ms)
    rec = protocol.Recorder().record_v("v1", model.c1.seg("soma")).record_v("v2", model.c2.seg("soma"))
    settings = protocol.SimSettings(tstop=delay_ms + dur_ms + tail_ms, celsius=celsius, v_init=v_init, cvode=cvode)
    t0 = time.perf_counter()
    tr = protocol.simulate(settings, rec)
    sim_ms = (time.perf_counter() - t0) * 1e3
    del stim
    t = tr.t.astype(np.float64)

    def delta(v: np.ndarray) -> float:
        v = v.astype(np.float64)
        tu = np.arange(t[0], t[-1], 0.025)
        vu = np.interp(tu, t, v)
        pre = vu[(tu >= delay_ms - 50.0) & (tu < delay_ms)].mean()
        ss = vu[(tu >= delay_ms + 0.9 * dur_ms) & (tu < delay_ms + dur_ms)].mean()
        return float(ss - pre)

    dv1, dv2 = delta(tr["v1"]), delta(tr["v2"])
    return {"t": t, "traces": {"v1": tr["v1"], "v2": tr["v2"]}, "dv1_mV": dv1, "dv2_mV": dv2,
            "coupling_coefficient": dv2 / dv1 if dv1 != 0 else float("nan"), "sim_ms": sim_ms}
