"""Numerically unstable runs: a fixed step too long for a cell's fastest currents makes the
membrane potential overshoot and blow up (the example PV cell once reached −2,700 mV at dt
0.025 ms and still reported 344 Hz). Such a run is reported, never measured.

Two signs, either enough: a potential beyond ±1,000 mV (a passive model with a GΩ input
resistance may legitimately go to −250 mV under a hyperpolarising step, so the bound is far from
physiology), or a jump of more than 200 mV between two samples (the fastest action potentials
rise at about 1,000 mV/ms, 25 mV per 0.025 ms step).
"""

from __future__ import annotations

import numpy as np

__all__ = ["V_BOUND_MV", "V_JUMP_MV", "unstable_reason"]

#: |v| beyond which no model's membrane potential is a number to measure (mV)
V_BOUND_MV = 1000.0
#: a change between consecutive samples larger than this is an overshoot of the integrator (mV)
V_JUMP_MV = 200.0


def unstable_reason(t_ms: np.ndarray, v_mV: np.ndarray, dt_ms: float | None = None, *, what: str = "v",
                    bound: float = V_BOUND_MV, jump: float = V_JUMP_MV) -> str | None:
    """Why a recorded potential cannot be a real one (None: it can): NaN/inf, beyond ±``bound``
    or jumping by more than ``jump`` between two samples."""
    v = np.asarray(v_mV, dtype=np.float64)
    t = np.asarray(t_ms, dtype=np.float64)
    if v.size == 0:
        return None
    step = f"a smaller dt (now {dt_ms:g} ms) or CVODE" if dt_ms else "a smaller time step"
    tail = f"; nothing is measured from it: use {step}, or check the cell's conductances"
    bad = ~np.isfinite(v) | (np.abs(v) > bound)
    if bad.any():
        i = int(np.argmax(bad))
        value = "NaN" if not np.isfinite(v[i]) else f"{v[i]:.0f} mV"
        return f"numerically unstable run: {what} reached {value} at t = {t[i]:.1f} ms (beyond ±{bound:g} mV)" + tail
    dv = np.abs(np.diff(v))
    if dv.size and float(dv.max()) > jump:
        i = int(np.argmax(dv))
        return (f"numerically unstable run: {what} jumped by {dv[i]:.0f} mV between two samples at t = {t[i]:.2f} ms "
                f"(more than {jump:g} mV: faster than any action potential)" + tail)
    return None
