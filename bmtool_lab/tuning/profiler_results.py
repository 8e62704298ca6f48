"""The results of :class:`~bmtool_lab.tuning.profiler.CellProfiler`'s protocols: a passive step,
a current-clamp step, an F–I curve and a ZAP impedance profile (traces, numbers, tables, dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.impedance import is_resonant
from ..sim.errors import SimError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..analysis.passive import PassiveResult

__all__ = ["ClampProfile", "FICurve", "PassiveProfile", "ZapProfile"]


@dataclass
class PassiveProfile:
    """A passive step: the trace (ms, mV) and its :class:`~bmtool_lab.analysis.passive.PassiveResult`."""

    cell: str
    amp_nA: float
    t_on_ms: float
    t_off_ms: float
    t_ms: np.ndarray = field(repr=False)
    v_mV: np.ndarray = field(repr=False)
    result: PassiveResult = field(repr=False)
    solve_ms: float = float("nan")

    v_rest_mV = property(lambda self: self.result.v_rest_mV)
    r_in_MOhm = property(lambda self: self.result.r_in_MOhm)
    tau_ms = property(lambda self: self.result.tau_ms)
    sag_ratio = property(lambda self: self.result.sag_ratio)

    def to_dict(self) -> dict[str, Any]:
        """Scalars: cell, step (nA, ms) and every passive property (units in the key names)."""
        return {"cell": self.cell, "amp_nA": self.amp_nA, "t_on_ms": self.t_on_ms, "t_off_ms": self.t_off_ms,
                **self.result.to_dict(), "tau_method": self.result.tau_method,
                "warnings": list(self.result.warnings)}

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why these numbers are not passive properties of a cell at rest (empty: they are)."""
        return self.result.warnings

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([self.to_dict()])

    def fit_curve(self) -> np.ndarray:
        """The fitted charging curve on ``t_ms`` (mV), for drawing dashed over the trace.

        Inside the fitted stretch it is the fit; before the step it is V_rest; from the end of
        the fit to the end of the step it holds the fitted level (a sag shows as the trace
        leaving it); after the step it relaxes back to V_rest with the fitted tau.
        """
        r, t = self.result, self.t_ms.astype(np.float64)
        ft, fv = np.asarray(r.fit_t_ms, float), np.asarray(r.fit_v_mV, float)
        if ft.size < 2 or not np.all(np.isfinite(fv)):
            return np.full(t.size, r.v_rest_mV)
        out = np.interp(t, ft, fv)
        out[t < self.t_on_ms] = r.v_rest_mV
        after = t > self.t_off_ms
        v_off = float(np.interp(self.t_off_ms, ft, fv))
        tau = r.tau_ms if np.isfinite(r.tau_ms) and r.tau_ms > 0 else 1.0
        out[after] = r.v_rest_mV + (v_off - r.v_rest_mV) * np.exp(-(t[after] - self.t_off_ms) / tau)
        return out


@dataclass
class ClampProfile:
    """A current-clamp step: trace (ms, mV), spike times (ms), rate in the step (Hz), eFEL features."""

    cell: str
    amp_nA: float
    t_on_ms: float
    t_off_ms: float
    t_ms: np.ndarray = field(repr=False)
    v_mV: np.ndarray = field(repr=False)
    spike_times_ms: np.ndarray = field(repr=False)
    n_spikes: int = 0
    rate_hz: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    solve_ms: float = float("nan")
    #: why the run cannot be measured (numerically unstable), "" when it can
    unstable: str = ""

    @property
    def warnings(self) -> tuple[str, ...]:
        return (self.unstable,) if self.unstable else ()

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "amp_nA": self.amp_nA, "t_on_ms": self.t_on_ms, "t_off_ms": self.t_off_ms,
                "n_spikes": self.n_spikes, "rate_Hz": self.rate_hz, **self.features, "warnings": list(self.warnings),
                "spike_times_ms": [float(s) for s in self.spike_times_ms]}

    @property
    def table(self) -> pd.DataFrame:
        """One row per spike feature: feature, value (units in the feature names)."""
        import pandas as pd

        rows = {"n_spikes": self.n_spikes, "rate_Hz": self.rate_hz, **self.features}
        return pd.DataFrame({"feature": list(rows), "value": [float(v) for v in rows.values()]})


@dataclass
class FICurve:
    """An F–I curve: rates (Hz, spikes in the step / step duration) at inclusive current steps.

    ``table`` has current_nA, current_pA, rate_Hz, n_spikes (NaN rows are steps not finished
    yet); ``rheobase_nA`` is the bisection result (NaN when not computed or no step spiked).
    """

    cell: str
    currents_nA: np.ndarray
    t_on_ms: float
    t_off_ms: float
    rates_hz: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    n_spikes: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    traces: list[tuple[np.ndarray, np.ndarray] | None] = field(repr=False, default_factory=list)
    errors: dict[int, SimError] = field(repr=False, default_factory=dict)
    #: steps whose run was numerically unstable (|v| > 200 mV or NaN): why; rate and count not given
    unstable: dict[int, str] = field(repr=False, default_factory=dict)
    rheobase_nA: float = float("nan")
    wall_ms: float = float("nan")  # the sweep in the kernel, rheobase search included
    solve_ms: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]  # NEURON, per step

    def __post_init__(self) -> None:
        n = self.currents_nA.size
        if self.solve_ms is None:
            self.solve_ms = np.full(n, np.nan)
        if self.rates_hz is None:
            self.rates_hz = np.full(n, np.nan)
        if self.n_spikes is None:
            self.n_spikes = np.full(n, -1, dtype=int)
        if not self.traces:
            self.traces = [None] * n

    @property
    def done(self) -> np.ndarray:
        """Which steps have a result."""
        return self.n_spikes >= 0

    @property
    def finished(self) -> np.ndarray:
        """Which steps have run: measured, or found numerically unstable (progress counts both)."""
        return self.n_spikes != -1

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        n = np.where(self.done, self.n_spikes, np.nan)
        df = pd.DataFrame({"current_nA": self.currents_nA, "current_pA": self.currents_nA * 1e3,
                           "rate_Hz": self.rates_hz, "n_spikes": pd.array(n, dtype="Int64")})
        if self.unstable:
            df["unstable"] = [self.unstable.get(i, "") for i in range(len(df))]
        return df

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per numerically unstable step (shown by the dashboard and the CLI)."""
        return tuple(f"{self.currents_nA[i] * 1e3:g} pA: {msg}" for i, msg in sorted(self.unstable.items()))

    @property
    def max_rate_hz(self) -> float:
        return float(np.nanmax(self.rates_hz)) if np.any(self.done) else float("nan")

    def trace(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Step ``i``'s trace (ms, mV); KeyError when it was not kept or has not finished."""
        tr = self.traces[i]
        if tr is None:
            raise KeyError(f"no trace for step {i} (not finished, failed, or keep_traces=False)")
        return tr

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "t_on_ms": self.t_on_ms, "t_off_ms": self.t_off_ms,
                "rheobase_nA": self.rheobase_nA, "max_rate_Hz": self.max_rate_hz, "warnings": list(self.warnings),
                "steps": self.table.astype(object).where(self.table.notna(), None).to_dict("records")}


@dataclass
class ZapProfile:
    """An impedance profile from a chirp: |Z| (MΩ) and phase (rad) vs frequency (Hz)."""

    cell: str
    f0_hz: float
    f1_hz: float
    kind: str
    freq_hz: np.ndarray = field(repr=False)
    z_mag_MOhm: np.ndarray = field(repr=False)
    phase_rad: np.ndarray = field(repr=False)
    resonance_hz: float = float("nan")
    q_factor: float = float("nan")
    t_ms: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    v_mV: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    i_nA: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    solve_ms: float = float("nan")  # NEURON's run in the worker
    job_ms: float = float("nan")  # the whole job in the worker (chirp, run, FFT, envelope)
    total_ms: float = float("nan")  # kernel wall time, transfer included

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({"freq_Hz": self.freq_hz, "z_MOhm": self.z_mag_MOhm, "phase_rad": self.phase_rad})

    @property
    def resonant(self) -> bool:
        """Whether the impedance peak is a resonance (``analysis.impedance.is_resonant``)."""
        return self.freq_hz.size > 0 and is_resonant(self.resonance_hz, self.q_factor, float(self.freq_hz[0]))

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "f0_Hz": self.f0_hz, "f1_Hz": self.f1_hz, "kind": self.kind,
                "resonance_Hz": self.resonance_hz, "q_factor": self.q_factor, "resonant": self.resonant,
                "freq_Hz": self.freq_hz.tolist(), "z_MOhm": self.z_mag_MOhm.tolist(),
                "phase_rad": self.phase_rad.tolist()}
