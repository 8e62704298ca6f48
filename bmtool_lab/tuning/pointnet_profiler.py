"""Cell profiles of PointNet (NEST) point neurons: passive numbers, rheobase and F–I curves.

Headless use::

    from bmtool_lab.tuning.pointnet_profiler import PointCellProfiler
    prof = PointCellProfiler("pointnet_config.json")
    prof.cell_types                       # the NEST point-neuron types of the model
    prof.select("LIF")
    prof.passive(amp_pA=-10).numbers      # v_rest_mV, r_in_MOhm, tau_ms (+ the model's own values)
    prof.rheobase()                       # pA, 1 pA resolution
    prof.fi_curve(0, 1000, 50).table      # DataFrame: amp_pA, rate_hz, n_spikes

Every run goes through the sweep executor (the warm local pool by default, or a dask Client).
One NEST run holds one copy of the cell per step amplitude (``nest_step_job``), so an F–I
curve is one job per worker: the amplitudes are split into as many chunks as there are
workers. Rates count spikes of NEST's spike_recorder inside the step (docs/metrics.md §3);
the rheobase is the smallest current of a grid of spacing ``resolution_pA`` that spikes, inside
the bracket of the coarse sweep (the same answer as the BioNet profiler's bisection grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.analysis.fi import fi_currents
from bmtool_lab.analysis.passive import passive_properties
from bmtool_lab.model.config import load_config
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.nest_jobs import PointCellSpec, describe_nest_job, nest_step_job, require_nest
from bmtool_lab.tuning.kinds import ShowsDashboard, dashboard_of
from bmtool_lab.tuning.pointnet_synapse import point_cell_spec
from bmtool_lab.tuning.synapse import TunerError

__all__ = ["PointCellProfiler", "PointFIResult", "PointPassiveResult", "model_numbers"]


@dataclass
class PointPassiveResult:
    """A small current step: ``numbers`` measured (v_rest_mV, v_ss_mV, r_in_MOhm, tau_ms...),
    ``model`` the same numbers from the cell's own parameters, the trace ``t_ms`` / ``v_mV``."""

    cell: str
    amp_pA: float
    numbers: dict[str, float]
    model: dict[str, float]
    t_ms: np.ndarray = field(repr=False)
    v_mV: np.ndarray = field(repr=False)
    warnings: tuple[str, ...] = ()


@dataclass
class PointFIResult:
    """An F–I curve: ``table`` (DataFrame: amp_pA, rate_hz, n_spikes), ``rheobase_pA`` (the
    first spiking step of the sweep; :meth:`PointCellProfiler.rheobase` refines it) and the
    wall time."""

    cell: str
    table: Any
    rheobase_pA: float
    wall_ms: float = float("nan")


def model_numbers(model: str, params: dict[str, float]) -> dict[str, float]:
    """Passive numbers and long-step rheobase from a NEST model's parameters (closed forms):

    - iaf_psc_* / iaf_cond_*: ``R_in = tau_m / C_m``, ``tau = tau_m``, rheobase
      ``(V_th - E_L)·C_m / tau_m``;
    - glif_*: ``R_in = 1/g``, ``tau = C_m / g``, rheobase ``g·(V_th - E_L)``.

    Units: ms, pF, nS, mV → MΩ, ms, pA. Empty for models with other parameters.
    """
    p = params
    if {"C_m", "E_L", "V_th"} <= p.keys() and "g" in p and model.startswith("glif"):
        g = p["g"]
        return {"r_in_MOhm": 1e3 / g, "tau_ms": p["C_m"] / g, "v_rest_mV": p["E_L"],
                "rheobase_pA": g * (p["V_th"] - p["E_L"])}
    if {"C_m", "E_L", "V_th", "tau_m"} <= p.keys():
        return {"r_in_MOhm": 1e3 * p["tau_m"] / p["C_m"], "tau_ms": p["tau_m"], "v_rest_mV": p["E_L"],
                "rheobase_pA": (p["V_th"] - p["E_L"]) * p["C_m"] / p["tau_m"]}
    return {}


class PointCellProfiler(ShowsDashboard):
    """Profile the NEST point-neuron types of a PointNet model (see module docs).

    ``executor``: None (the shared local pool), a dask Client or a SweepExecutor; ``dt``: NEST's
    resolution (default the config's run.dt); ``dur_ms``: F–I / rheobase step length.
    """

    @property
    def dashboard(self) -> Any:
        """The dashboard object (its ``box`` is the widget shown), built on first use through the
        dashboard-kinds registry (:data:`bmtool_lab.tuning.kinds.KINDS`)."""
        return dashboard_of(self)

    def __init__(self, config: str | Path, *, cell: str | None = None, executor: Any = None,
                 dt: float | None = None, dur_ms: float = 1000.0) -> None:
        # local: heavy: pandas, h5py (model.cell_types)
        from bmtool_lab.model.cell_types import list_cell_types

        require_nest()
        self.config = load_config(config)
        self.executor = executor
        self.dt = float(dt if dt is not None else self.config.run.dt)
        self.dur_ms = float(dur_ms)
        self.cell_types = [ct for ct in list_cell_types(self.config)
                           if ct.kind == "point" and (ct.model_template or "").startswith("nest:")]
        if not self.cell_types:
            raise TunerError(f"{self.config.path} has no NEST point-neuron types (model_template 'nest:...')")
        self._info: dict[PointCellSpec, dict] = {}
        self._current = self.cell_types[0]
        if cell is not None:
            self.select(cell)

    # --- selection and model numbers --------------------------------------------------------
    def select(self, name: str) -> Any:
        # local: heavy: pandas, h5py (model.cell_types)
        from bmtool_lab.model.cell_types import find_cell_type

        try:
            self._current = find_cell_type(self.cell_types, name)
        except KeyError as err:
            raise TunerError(err.args[0]) from None
        return self._current

    @property
    def current(self) -> Any:
        return self._current

    @property
    def spec(self) -> PointCellSpec:
        return point_cell_spec(self._current)

    def _map(self, fn: Any, kwargs_list: list[dict[str, Any]], timeout: float = 300.0) -> list[Any]:
        # local: import-time cost: multiprocessing (the executor), on the first sweep
        from bmtool_lab.sim.executor import get_executor

        outs = get_executor(self.executor).map(fn, kwargs_list, timeout=timeout)
        for out in outs:
            if isinstance(out, BaseException):
                raise out
        return outs

    @property
    def n_workers(self) -> int:
        # local: import-time cost: multiprocessing (the executor), on the first sweep
        from bmtool_lab.sim.executor import get_executor

        return max(1, int(getattr(get_executor(self.executor), "n_workers", 1)))

    def describe(self) -> dict:
        """The NEST model of the selected type and its parameters as created (cached)."""
        spec = self.spec
        if spec not in self._info:
            self._info[spec] = self._map(describe_nest_job, [{"cell": spec}], timeout=120)[0]["cell"]
        return self._info[spec]

    def model_numbers(self) -> dict[str, float]:
        """:func:`model_numbers` of the selected type."""
        info = self.describe()
        return model_numbers(info["model"], info["params"])

    # --- steps ----------------------------------------------------------------------------
    def _steps(self, amps_pA: list[float], n_chunks: int | None = None) -> dict[str, list]:
        """Spike counts of every amplitude, split over the workers (one NEST run per chunk)."""
        n = max(1, min(len(amps_pA), n_chunks or self.n_workers))
        chunks = [list(c) for c in np.array_split(np.asarray(amps_pA, dtype=float), n) if len(c)]
        outs = self._map(nest_step_job, [{"cell": self.spec, "amps_pA": c, "dur_ms": self.dur_ms, "dt": self.dt}
                                         for c in chunks])
        merged: dict[str, list] = {"amps_pA": [], "n_spikes": [], "rates_hz": []}
        for out in outs:
            for k in merged:
                merged[k].extend(out[k])
        return merged

    def fi_curve(self, start_pA: float = 0.0, stop_pA: float = 1000.0, step_pA: float = 50.0,
                 n_chunks: int | None = None) -> PointFIResult:
        """Rates (Hz) of steps from ``start_pA`` to ``stop_pA`` inclusive by ``step_pA``."""
        import time

        import pandas as pd

        t0 = time.perf_counter()
        amps = [float(a) * 1e3 for a in fi_currents(start_pA / 1e3, stop_pA / 1e3, step_pA / 1e3)]
        res = self._steps(amps, n_chunks)
        table = pd.DataFrame({"amp_pA": res["amps_pA"], "rate_hz": res["rates_hz"], "n_spikes": res["n_spikes"]})
        spiking = table.loc[table["n_spikes"] > 0, "amp_pA"]
        return PointFIResult(cell=self._current.key, table=table,
                             rheobase_pA=float(spiking.iloc[0]) if len(spiking) else float("nan"),
                             wall_ms=(time.perf_counter() - t0) * 1e3)

    def rheobase(self, lo_pA: float = 0.0, hi_pA: float | None = None, resolution_pA: float = 1.0,
                 coarse_steps: int = 20) -> float:
        """Smallest current (pA) that spikes during a ``dur_ms`` step, to ``resolution_pA``.

        A coarse sweep of ``coarse_steps`` + 1 steps over [lo, hi] (hi: twice the model's
        closed-form rheobase, else 2000 pA, doubled until something spikes) brackets it; one
        grid of spacing ``resolution_pA`` inside the bracket, split over the workers, finds it.
        NaN when nothing below 64 nA spikes.
        """
        if not resolution_pA > 0:
            raise TunerError(f"resolution_pA must be > 0, got {resolution_pA}")
        if hi_pA is None:
            guess = self.model_numbers().get("rheobase_pA", float("nan"))
            hi_pA = 2.0 * guess if math.isfinite(guess) and guess > lo_pA else 2000.0
        hi = float(hi_pA)
        while True:
            grid = list(np.linspace(lo_pA, hi, coarse_steps + 1))
            res = self._steps(grid)
            spiking = [a for a, n in zip(res["amps_pA"], res["n_spikes"], strict=True) if n > 0]
            if spiking or hi > 64000.0:
                break
            lo_pA, hi = hi, 2.0 * hi
        if not spiking:
            return float("nan")
        first = min(spiking)
        if first == grid[0]:
            return float(first)
        below = max(a for a in grid if a < first)
        n = max(1, math.ceil((first - below) / resolution_pA - 1e-9))
        fine = [below + (first - below) * k / n for k in range(1, n)]
        if not fine:
            return float(first)
        res = self._steps(fine)
        hits = [a for a, c in zip(res["amps_pA"], res["n_spikes"], strict=True) if c > 0]
        return float(min(hits)) if hits else float(first)

    def passive(self, amp_pA: float = -10.0, t_on_ms: float = 100.0, dur_ms: float = 500.0) -> PointPassiveResult:
        """V_rest, R_in and tau from a small step (docs/metrics.md §3), next to the model's own values."""
        if amp_pA == 0:
            raise TunerError("amp_pA must be non-zero")
        out = self._map(nest_step_job, [{"cell": self.spec, "amps_pA": [amp_pA], "t_on_ms": t_on_ms,
                                         "dur_ms": dur_ms, "dt": self.dt, "v_index": 0}])[0]
        if out["n_spikes"][0] > 0:
            raise SimError("model", f"the {amp_pA} pA step makes {self._current.key} fire: use a smaller or "
                                    "negative amp_pA for passive numbers")
        t, v = np.asarray(out["t"], dtype=float), np.asarray(out["v"][0], dtype=float)
        pr = passive_properties(t, v, t_on_ms, t_on_ms + dur_ms, amp_pA / 1e3)
        numbers = {k: v for k, v in pr.to_dict().items() if k in ("v_rest_mV", "v_ss_mV", "r_in_MOhm", "tau_ms",
                                                                  "fit_r2")}
        return PointPassiveResult(cell=self._current.key, amp_pA=float(amp_pA), numbers=numbers,
                                  model={k: v for k, v in self.model_numbers().items() if k != "rheobase_pA"},
                                  t_ms=t, v_mV=v, warnings=tuple(pr.warnings))

    def __repr__(self) -> str:
        return f"PointCellProfiler({len(self.cell_types)} cell types, selected={self._current.key!r})"
