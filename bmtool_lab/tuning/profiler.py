"""CellProfiler: passive properties, current clamp, F–I and ZAP of every cell type, headless first.

```python
prof = CellProfiler("simulation_config.json")        # a BMTK config
prof = CellProfiler("templates/", "mechanisms/")     # or hoc templates + mod files
prof = CellProfiler(swc="cell.swc", json="cell_fit.json")   # or an Allen perisomatic model
prof.cells                       # names to select
prof.select("PV")                # node type id, pop_name, template name or population:name
prof.passive().to_dict()         # V_rest, R_in, tau, sag (either step polarity)
prof.fi_curve(0, 500, 25).table  # currents in pA by default; rates in Hz per second of step
prof.zap().resonance_hz
prof.set_cell_params({"soma": {"gbar_hcn_ex": 0}})   # what-ifs; prof.export_params()
prof.profile_all()               # one row per cell type
prof                             # in a notebook: the dashboard
```

Definitions: ``reference/metrics.md`` §3 and :mod:`bmtool_lab.analysis`. NEURON runs in worker
processes only: single runs on this profiler's own worker (the cell is built once and parameter
changes are applied per run), F–I steps and ``profile_all`` in parallel on the engine's sweep
executor (the shared local pool unless ``executor=`` names another, e.g. a Dask client).
Failures are :class:`~bmtool_lab.sim.errors.SimError` with a readable message; the kernel and
the other cells carry on. Currents are in nA everywhere except the F–I range, which follows
bmtool's pA convention by default (``unit="nA"`` to pass nA).
"""

from __future__ import annotations

import json as _json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.fi import RheobaseSearch
from ..model.cell_types import CellType, find_cell_type, hoc_templates_in, list_cell_types
from ..model.check import check_model
from ..model.config import ModelConfig, load_config
from ..sim import profiler_jobs as jobs
from ..sim.errors import SimError
from ..sim.executor import Feed
from ..sim.protocol import SimSettings
from ._events import Listener, Listeners
from .kinds import ShowsDashboard, dashboard_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..analysis.passive import PassiveResult

__all__ = ["CellProfiler", "ClampProfile", "FICurve", "PassiveProfile", "ZapProfile", "PROFILE_COLUMNS"]

#: Columns of :meth:`CellProfiler.profile_all`.
#: The ZAP protocol's settings unless given: :meth:`CellProfiler.zap`, :meth:`CellProfiler.profile_all`
#: and the dashboard's ZAP tab share them, so the ZAP tab and the All-cells table report the same f_res.
ZAP_DEFAULTS: dict[str, Any] = {"f0_hz": 0.5, "f1_hz": 20.0, "duration_ms": 10_000.0, "amp_nA": 0.01,
                                "kind": "linear", "delay_ms": 500.0, "tail_ms": 300.0}
PROFILE_COLUMNS = ("v_rest_mV", "r_in_MOhm", "tau_ms", "sag_ratio", "rheobase_nA", "max_rate_Hz", "f_res_Hz")
_UNIT_TO_NA = {"nA": 1.0, "pA": 1e-3}
#: Seconds one sweep item (a step, a chirp, a rheobase search) may run before it is stopped.
ITEM_TIMEOUT_S = 600.0
_BMTK_ALLEN_MODS = ("utils", "scripts", "bionet", "mechanisms", "modfiles")


# --- results ----------------------------------------------------------------------------------
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
        from ..analysis.impedance import is_resonant

        return self.freq_hz.size > 0 and is_resonant(self.resonance_hz, self.q_factor, float(self.freq_hz[0]))

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "f0_Hz": self.f0_hz, "f1_Hz": self.f1_hz, "kind": self.kind,
                "resonance_Hz": self.resonance_hz, "q_factor": self.q_factor, "resonant": self.resonant,
                "freq_Hz": self.freq_hz.tolist(), "z_MOhm": self.z_mag_MOhm.tolist(),
                "phase_rad": self.phase_rad.tolist()}


# --- the controller ---------------------------------------------------------------------------
class CellProfiler(ShowsDashboard):
    """Profile the cell types of a model (see the module docstring for the three ways to give one).

    Parameters
    ----------
    config_or_templates_dir : str, Path or ModelConfig, optional
        A BMTK simulation/circuit config (its biophysical node types), or a folder of hoc
        templates (every ``begintemplate`` in its ``*.hoc`` files).
    mechanisms_dir : str or Path, optional
        The mod files (compiled once, cached). Overrides the config's ``mechanisms_dir``; for an
        Allen swc + json pair it defaults to the mod files bmtk ships.
    swc, json : str, Path or a list of them, keyword only
        Allen Cell Types perisomatic models: morphology and ``*_fit.json`` pairs.
    executor : keyword only
        Where F–I steps and ``profile_all`` run: None (the shared local pool), a
        ``dask.distributed.Client`` or a :class:`~bmtool_lab.sim.executor.SweepExecutor`.
    """

    title = "Cell profiler"

    def __new__(cls, config_or_templates_dir: Any = None, *args: Any, **kwargs: Any) -> Any:
        if cls is CellProfiler and config_or_templates_dir is not None:  # a PointNet (NEST) model
            from ..model.pointnet import is_pointnet_config

            if is_pointnet_config(config_or_templates_dir):
                from .pointnet_profiler import PointCellProfiler

                return PointCellProfiler(config_or_templates_dir, *args, **kwargs)  # (no CellProfiler.__init__)
        return super().__new__(cls)

    def __init__(self, config_or_templates_dir: str | Path | ModelConfig | None = None,
                 mechanisms_dir: str | Path | None = None, *, swc: str | Path | Sequence[str | Path] | None = None,
                 json: str | Path | Sequence[str | Path] | None = None, executor: Any = None) -> None:
        self.config: ModelConfig | None = None
        #: what the model check found (bmtool_lab.model.check): shown by the dashboard, printed by the CLI
        self.model_problems: list[str] = []
        self.executor = executor
        # Solver: None = each protocol's default (CVODE for the passive step, which barely moves;
        # fixed step for spiking protocols, where small fast-spiking cells run 1.5-2.4x slower
        # under CVODE, and for the chirp, sampled at dt). True/False forces one for every
        # protocol but ZAP (large slow-firing cells such as Allen models gain 3-6x from CVODE).
        self.cvode: bool | None = None
        self.threshold_mV = -20.0  # spike detection: upward crossings at the recording site
        self.inject = "soma"
        self.record = "soma"
        mech = Path(mechanisms_dir).expanduser().resolve() if mechanisms_dir is not None else None
        self._settings: dict[CellType, SimSettings] = {}
        types: list[CellType] = []
        base = SimSettings()
        src = config_or_templates_dir
        if isinstance(src, ModelConfig) or (src is not None and Path(src).is_file()):
            self.config = src if isinstance(src, ModelConfig) else load_config(src)
            self.model_problems = check_model(self.config)
            self.threshold_mV = self.config.run.spike_threshold  # count spikes as BioNet does
            base = SimSettings.from_run(self.config.run)
            types = [ct.with_changes(mechanisms_dir=mech) if mech else ct for ct in list_cell_types(self.config)]
        elif src is not None:
            folder = Path(src).expanduser().resolve()
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder} is neither a BMTK config file nor a folder of hoc templates")
            found = hoc_templates_in(folder)
            if not found:
                raise ValueError(f"no hoc template (begintemplate Name) in the *.hoc files of {folder}; "
                                 "for a BMTK network pass its simulation_config.json")
            types = [CellType.from_hoc(name, hoc_file=path, templates_dir=folder, mechanisms_dir=mech)
                     for name, path in found.items()]
        for ct in types:
            self._settings[ct] = base
        for ct, settings in self._allen_pairs(swc, json, mech):
            types.append(ct)
            self._settings[ct] = settings
        if not types:
            raise ValueError("give a BMTK config, a templates folder, or an Allen swc + json pair")
        self.cell_types: list[CellType] = types
        self._by_name: dict[str, CellType] = {}
        self.problems: dict[str, str] = {}
        for ct in types:
            name = ct.name if sum(c.name == ct.name for c in types) == 1 else f"{ct.population}:{ct.name}"
            if ct.simulatable:
                self._by_name[name] = ct
            elif ct.kind not in ("virtual", "point"):
                self.problems[name] = ct.reason or "cannot be simulated"
        if not self._by_name:
            raise ValueError("no simulatable cell type: " + "; ".join(self.problems.values() or ["none listed"]))
        self.current: str = next(iter(self._by_name))
        self._params: dict[str, dict[str, dict[str, float]]] = {}
        self._descriptions: dict[str, dict] = {}
        self._checked: set[str] = set()
        self._worker: Any = None
        self._listeners = Listeners("CellProfiler")

    @staticmethod
    def _allen_pairs(swc: Any, fit: Any, mech: Path | None) -> list[tuple[CellType, SimSettings]]:
        if swc is None and fit is None:
            return []
        swcs = [swc] if isinstance(swc, (str, Path)) else list(swc or [])
        fits = [fit] if isinstance(fit, (str, Path)) else list(fit or [])
        if len(swcs) != len(fits):
            raise ValueError(f"give one *_fit.json per swc morphology (got {len(swcs)} swc, {len(fits)} json)")
        if mech is None:
            import bmtk

            bundled = Path(bmtk.__file__).parent.joinpath(*_BMTK_ALLEN_MODS)
            mech = bundled if bundled.is_dir() else None
        out = []
        for s, f in zip(swcs, fits, strict=True):
            s, f = Path(s).expanduser().resolve(), Path(f).expanduser().resolve()
            for p, what in ((s, "morphology (swc)"), (f, "model (*_fit.json)")):
                if not p.is_file():
                    raise FileNotFoundError(f"Allen {what} {p} does not exist")
            try:
                cond = (_json.loads(f.read_text()).get("conditions") or [{}])[0]
            except ValueError as err:
                raise ValueError(f"{f} is not valid JSON: {err}") from None
            settings = SimSettings(celsius=float(cond.get("celsius", 34.0)), v_init=float(cond.get("v_init", -65.0)))
            out.append((CellType.from_allen(s, f, mechanisms_dir=mech, name=s.stem), settings))
        return out

    # --- cells --------------------------------------------------------------------------------
    @property
    def cells(self) -> list[str]:
        """Names of the cell types that can be profiled (what :meth:`select` takes)."""
        return list(self._by_name)

    @property
    def cell_type(self) -> CellType:
        """The selected cell type."""
        return self._by_name[self.current]

    def _resolve(self, cell: str | int | None) -> str:
        if cell is None:
            return self.current
        if str(cell) in self._by_name:
            return str(cell)
        if str(cell) in self.problems:
            raise ValueError(f"cell type {cell!r} cannot be profiled: {self.problems[str(cell)]}")
        try:
            ct = find_cell_type(self.cell_types, cell)
        except KeyError as err:
            raise KeyError(f"{err.args[0]} (profilable: {', '.join(self._by_name)})") from None
        for name, known in self._by_name.items():
            if known == ct:
                return name
        raise ValueError(f"cell type {cell!r} cannot be profiled: {ct.reason}")

    def select(self, cell: str | int) -> CellProfiler:
        """Make ``cell`` (name, node_type_id, template name or population:name) the current one."""
        self.current = self._resolve(cell)
        self._listeners.emit("selected", self.current)
        return self

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event, payload)`` on "selected" (cell name), "params" (cell name whose
        what-ifs changed) and "closed" (None); any thread."""
        self._listeners.add(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def settings_for(self, cell: str | None = None, **changes: Any) -> SimSettings:
        """The run settings of a cell (from its config or Allen json), with ``changes``."""
        return replace(self._settings[self._by_name[self._resolve(cell)]], **changes)

    def set_run_settings(self, cell: str | None = None, **changes: Any) -> None:
        """Change the run settings (``dt`` ms, ``celsius`` degC, ``v_init`` mV, CVODE ``atol``) of
        one cell, or of every cell when ``cell`` is None."""
        targets = [self._by_name[self._resolve(cell)]] if cell is not None else list(self._settings)
        for ct in targets:
            self._settings[ct] = replace(self._settings[ct], **changes)

    # --- workers ------------------------------------------------------------------------------
    @property
    def worker(self) -> Any:
        """This profiler's interactive worker (single runs; the cell is kept between runs)."""
        if self._worker is None:
            from ..sim.worker import InteractiveWorker

            self._worker = InteractiveWorker(name="profiler", timeout_s=600)
        return self._worker

    def close(self) -> None:
        """Stop this profiler's workers, the dashboard's included (the shared sweep pool stays up)."""
        self._listeners.emit("closed", None)  # the dashboard stops its runs
        self.__dict__.pop("_dashboard", None)
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self) -> CellProfiler:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_mechanisms(self, name: str) -> None:
        """Kernel-side check that a hoc template's ``insert``-ed mechanisms exist, so a missing
        mod file is named instead of surfacing as a hoc error in the worker."""
        if name in self._checked:
            return
        ct = self._by_name[name]
        if ct.kind == "hoc":
            from ..sim.mechanisms import MechanismError, missing_mechanisms

            path = ct.template_file or hoc_templates_in(Path(ct.templates_dir)).get(ct.template_name or "") \
                if (ct.template_file or ct.templates_dir) else None
            if path is not None and Path(path).is_file():
                text = re.sub(r"//[^\n]*|/\*.*?\*/", "", Path(path).read_text(errors="replace"), flags=re.DOTALL)
                tmpl = re.escape(ct.template_name or "")
                block = re.search(rf"begintemplate\s+{tmpl}\b(.*?)endtemplate\s+{tmpl}\b", text, re.DOTALL)
                needed = set(re.findall(r"\binsert\s+(\w+)", block.group(1) if block else text))
                try:
                    missing = missing_mechanisms(needed, ct.mechanisms_dir)
                except MechanismError as err:
                    raise SimError("mechanisms", f"{name}: {err}") from None
                if missing:
                    where = f"the mechanisms folder {ct.mechanisms_dir}" if ct.mechanisms_dir else \
                        "any mechanisms folder (none was given)"
                    raise SimError("mechanisms", f"{name}: template {ct.template_name} inserts {missing}, which no mod "
                                                 f"file in {where} defines; add their .mod files there (they are "
                                                 "compiled automatically)")
        self._checked.add(name)

    def _common(self, cell: str | None, cvode: bool | None, tstop: float, dt: float | None = None,
                inject: str | None = None, record: str | None = None,
                default_cvode: bool = False) -> tuple[str, dict[str, Any]]:
        name = self._resolve(cell)
        self._check_mechanisms(name)
        inject, record = inject or self.inject, record or self.record
        jobs.parse_site(inject), jobs.parse_site(record)  # syntax errors here, missing sections in the worker
        if cvode is None:
            cvode = default_cvode if self.cvode is None else self.cvode
        changes: dict[str, Any] = {"tstop": float(tstop), "cvode": bool(cvode)}
        if dt is not None:
            changes["dt"] = float(dt)
        return name, {"cell_type": self._by_name[name], "params": self.cell_params(name) or None,
                      "settings": self.settings_for(name, **changes), "inject": inject, "record": record}

    # --- protocols ----------------------------------------------------------------------------
    def passive(self, amp_nA: float = -0.05, *, delay_ms: float = 250.0, dur_ms: float = 500.0,
                post_ms: float = 150.0, tau_method: str = "single", cell: str | None = None,
                inject: str | None = None, record: str | None = None, cvode: bool | None = None,
                stream: bool = False, on_partial: Callable[[Any], None] | None = None) -> PassiveProfile:
        """A current step of ``amp_nA`` nA (either sign) from ``delay_ms`` for ``dur_ms`` ms:
        V_rest (mV), R_in (MΩ), tau (ms; ``"single"`` or ``"exp2"``) and sag ratio."""
        name, kw = self._common(cell, cvode, delay_ms + dur_ms + post_ms, inject=inject, record=record,
                                default_cvode=True)
        out = self._call(jobs.passive_step_job, on_partial, amp_nA=float(amp_nA), delay_ms=delay_ms,
                         dur_ms=dur_ms, tau_method=tau_method, stream=stream, **kw)
        return self._passive_result(name, amp_nA, delay_ms, dur_ms, out)

    @staticmethod
    def _passive_result(name: str, amp_nA: float, delay_ms: float, dur_ms: float, out: dict) -> PassiveProfile:
        return PassiveProfile(name, float(amp_nA), delay_ms, delay_ms + dur_ms, out["t"], out["v"], out["passive"],
                              out["solve_ms"])

    def current_clamp(self, amp_nA: float = 0.1, *, delay_ms: float = 100.0, dur_ms: float = 500.0,
                      post_ms: float = 100.0, cell: str | None = None, inject: str | None = None,
                      record: str | None = None, cvode: bool | None = None, threshold_mV: float | None = None,
                      stream: bool = False, on_partial: Callable[[Any], None] | None = None) -> ClampProfile:
        """A current step (nA): trace, spike times, rate in the step (Hz) and eFEL spike features."""
        name, kw = self._common(cell, cvode, delay_ms + dur_ms + post_ms, inject=inject, record=record)
        out = self._call(jobs.current_clamp_job, on_partial, amp_nA=float(amp_nA), delay_ms=delay_ms,
                         dur_ms=dur_ms, threshold_mV=self._threshold(threshold_mV), stream=stream, **kw)
        return self._clamp_result(name, amp_nA, delay_ms, dur_ms, out)

    @staticmethod
    def _clamp_result(name: str, amp_nA: float, delay_ms: float, dur_ms: float, out: dict) -> ClampProfile:
        return ClampProfile(name, float(amp_nA), delay_ms, delay_ms + dur_ms, out["t"], out["v"],
                            np.asarray(out["spike_times_ms"]), out["n_spikes"], out["rate_hz"], out["features"],
                            out["solve_ms"], out.get("unstable") or "")

    def zap(self, f0_hz: float = ZAP_DEFAULTS["f0_hz"], f1_hz: float = ZAP_DEFAULTS["f1_hz"], *,
            duration_ms: float = ZAP_DEFAULTS["duration_ms"], amp_nA: float = ZAP_DEFAULTS["amp_nA"],
            kind: str = ZAP_DEFAULTS["kind"], delay_ms: float = ZAP_DEFAULTS["delay_ms"],
            tail_ms: float = ZAP_DEFAULTS["tail_ms"], smooth: int | None = None,
            cell: str | None = None, inject: str | None = None, record: str | None = None,
            cvode: bool = False, dt: float | None = None, stream: bool = False,
            on_partial: Callable[[Any], None] | None = None) -> ZapProfile:
        """A chirp (``kind`` "linear" or "exponential", ``f0_hz`` → ``f1_hz`` over ``duration_ms``,
        amplitude ``amp_nA``): |Z(f)| (MΩ), phase (rad), resonance frequency (Hz) and Q."""
        name, kw = self._common(cell, cvode, delay_ms + duration_ms + tail_ms, dt=dt, inject=inject, record=record)
        t0 = time.perf_counter()
        out = self._call(jobs.zap_job, on_partial, f0_hz=f0_hz, f1_hz=f1_hz, duration_ms=duration_ms,
                         amp_nA=amp_nA, kind=kind, delay_ms=delay_ms, tail_ms=tail_ms, smooth=smooth, stream=stream,
                         **kw)
        res = self._zap_result(name, f0_hz, f1_hz, kind, out)
        res.total_ms = (time.perf_counter() - t0) * 1e3
        return res

    @staticmethod
    def _zap_result(name: str, f0_hz: float, f1_hz: float, kind: str, out: dict) -> ZapProfile:
        imp = out["impedance"]
        return ZapProfile(name, f0_hz, f1_hz, kind, imp.freq_hz, imp.z_mag_MOhm, imp.phase_rad, imp.resonance_hz,
                          imp.q_factor, out["t"], out["v"], out["i"], out["solve_ms"], out["job_ms"])

    def _threshold(self, threshold_mV: float | None) -> float:
        return self.threshold_mV if threshold_mV is None else float(threshold_mV)

    def _call(self, fn: Callable, on_partial: Callable[[Any], None] | None, **kwargs: Any) -> dict:
        return self.worker.submit_job(fn, kwargs, on_partial=on_partial).result()

    # --- F–I ----------------------------------------------------------------------------------
    def fi_curve(self, start: float = 0.0, stop: float = 300.0, step: float = 20.0, *, unit: str = "pA",
                 delay_ms: float = 100.0, dur_ms: float = 1000.0, post_ms: float = 50.0, rheobase: bool = True,
                 resolution: float | None = None, cell: str | None = None, inject: str | None = None,
                 record: str | None = None, cvode: bool | None = None, threshold_mV: float | None = None,
                 keep_traces: bool = True, executor: Any = None,
                 on_result: Callable[[int, FICurve], None] | None = None,
                 stop_event: threading.Event | None = None) -> FICurve:
        """F–I curve over inclusive steps ``start, start + step, …, stop`` (in ``unit``, pA by default).

        Steps run in parallel on the sweep executor; ``on_result(i, curve)`` is called as each
        finishes (the curve fills in). Rates are spikes inside the step window per second of
        step. Rheobase: bisection between the last silent and the first spiking step to
        ``resolution`` (in ``unit``; default 1 pA). Raises the first SimError if a step failed.
        """
        from ..analysis.fi import fi_currents
        from ..sim.executor import get_executor

        if unit not in _UNIT_TO_NA:
            raise ValueError(f"unit must be 'pA' or 'nA', not {unit!r}")
        k = _UNIT_TO_NA[unit]
        currents = fi_currents(start * k, stop * k, step * k)
        res_nA = 1e-3 if resolution is None else resolution * k
        name, kw = self._common(cell, cvode, delay_ms + dur_ms + post_ms, inject=inject, record=record)
        kw.update(delay_ms=delay_ms, dur_ms=dur_ms, threshold_mV=self._threshold(threshold_mV))
        curve = FICurve(name, currents, delay_ms, delay_ms + dur_ms)
        ex = get_executor(executor if executor is not None else self.executor)
        t0 = time.perf_counter()

        def took(i: int, out: Any) -> None:
            if isinstance(out, SimError):
                curve.errors[i] = out
            elif out.get("unstable"):  # finished, not measured: no rate drawn from a blown-up trace
                curve.unstable[i] = out["unstable"]
                curve.n_spikes[i], curve.rates_hz[i] = -2, float("nan")
                curve.solve_ms[i] = out["solve_ms"]
            else:
                curve.rates_hz[i], curve.n_spikes[i] = out["rate_hz"], out["n_spikes"]
                curve.solve_ms[i] = out["solve_ms"]
                if keep_traces:
                    curve.traces[i] = (out["t"], out["v"])
            if on_result is not None:
                on_result(i, curve)

        feed = _FIFeed(curve, [dict(kw, amp_nA=float(a), keep_trace=keep_traces) for a in currents], took,
                       res_nA if rheobase else None, ex.n_workers)
        ex.run_feed(jobs.fi_step_job, feed, timeout=ITEM_TIMEOUT_S, stop=stop_event)
        if curve.errors:
            raise curve.errors[min(curve.errors)]
        if rheobase:
            if feed.error is not None:
                raise feed.error
            curve.rheobase_nA = feed.rheobase_nA
        curve.wall_ms = (time.perf_counter() - t0) * 1e3
        return curve

    @staticmethod
    def _bracket(currents: np.ndarray, n_spikes: np.ndarray) -> tuple[float, float] | float | None:
        """(silent, spiking) currents around the threshold; a number when no search is needed."""
        return _bracket(currents, n_spikes)

    # --- all cell types -----------------------------------------------------------------------
    def profile_all(self, cells: Sequence[str] | None = None, *, passive_amp_nA: float = -0.05,
                    fi: tuple[float, float, float] = (0.0, 300.0, 20.0), unit: str = "pA", fi_dur_ms: float = 500.0,
                    zap: dict[str, Any] | bool = True, executor: Any = None,
                    on_result: Callable[[int, int], None] | None = None) -> pd.DataFrame:
        """One row per cell type: v_rest_mV, r_in_MOhm, tau_ms, sag_ratio, rheobase_nA,
        max_rate_Hz (over the F–I range), f_res_Hz. Every run of every cell goes to the sweep
        executor at once; ``zap`` is a dict of :meth:`zap` settings (default :data:`ZAP_DEFAULTS`,
        0.5–20 Hz over 10 s, as :meth:`zap`) or False; f_res_Hz is the impedance peak, and
        ``df.attrs["resonant"][cell]`` says whether it is a resonance (``is_resonant``). Failed
        parts are NaN and listed in ``df.attrs["errors"]``.
        ``on_result(done, total)`` reports progress."""
        import pandas as pd

        from ..analysis.fi import fi_currents
        from ..sim.executor import get_executor

        names = [self._resolve(c) for c in (cells if cells is not None else self.cells)]
        zap_kw = {**ZAP_DEFAULTS, **(zap if isinstance(zap, dict) else {})}
        k = _UNIT_TO_NA[unit]
        currents = fi_currents(fi[0] * k, fi[1] * k, fi[2] * k)
        items: list[tuple[str, str, dict]] = []  # (cell, what, kwargs)
        for name in names:
            if zap is not False:  # longest first: the pool stays busy to the end
                _, kw = self._common(name, False, 0.0)
                items.append((name, "zap", dict(kw, **zap_kw)))
            _, kw = self._common(name, None, 250.0 + 500.0 + 150.0, default_cvode=True)
            items.append((name, "passive", dict(kw, amp_nA=passive_amp_nA, delay_ms=250.0, dur_ms=500.0)))
            _, kw = self._common(name, None, 100.0 + fi_dur_ms + 50.0)
            kw.update(delay_ms=100.0, dur_ms=fi_dur_ms, threshold_mV=self.threshold_mV, keep_trace=False)
            items += [(name, "fi", dict(kw, amp_nA=float(a))) for a in currents]
        ex = get_executor(executor if executor is not None else self.executor)
        total = len(items) + len(names)
        done = [0]

        def progress(*_: Any) -> None:
            done[0] += 1
            if on_result is not None:
                on_result(done[0], total)

        outs = ex.map(jobs.dispatch_job, [dict(kw, job=what) for _, what, kw in items], on_result=progress,
                      timeout=ITEM_TIMEOUT_S)
        rows = {n: dict.fromkeys(PROFILE_COLUMNS, float("nan")) for n in names}
        errors: dict[str, list[str]] = {}
        resonant: dict[str, bool] = {}
        curves = {n: FICurve(n, currents, 100.0, 100.0 + fi_dur_ms) for n in names}
        fi_kw: dict[str, dict] = {}
        for (name, what, kw), out in zip(items, outs, strict=True):
            if isinstance(out, SimError):
                errors.setdefault(name, []).append(f"{what}: {out}")
                continue
            row = rows[name]
            if what == "passive":
                p = out["passive"]
                row.update(v_rest_mV=p.v_rest_mV, r_in_MOhm=p.r_in_MOhm, tau_ms=p.tau_ms, sag_ratio=p.sag_ratio)
            elif what == "zap":
                row["f_res_Hz"] = out["impedance"].resonance_hz
                resonant[name] = out["impedance"].resonant
            else:
                i = int(np.argmin(np.abs(currents - kw["amp_nA"])))
                curves[name].rates_hz[i], curves[name].n_spikes[i] = out["rate_hz"], out["n_spikes"]
                fi_kw[name] = kw
        rheo_items = []
        for name in names:
            c = curves[name]
            if name in fi_kw and np.all(c.done):
                rows[name]["max_rate_Hz"] = c.max_rate_hz
                br = self._bracket(c.currents_nA, c.n_spikes)
                if isinstance(br, tuple) and br[1] - br[0] > 1e-3:
                    kw = {k_: v for k_, v in fi_kw[name].items() if k_ not in ("keep_trace", "amp_nA")}
                    rheo_items.append((name, dict(kw, lo_nA=br[0], hi_nA=br[1], resolution_nA=1e-3,
                                                  check_bracket=False)))
                else:
                    rows[name]["rheobase_nA"] = br[1] if isinstance(br, tuple) else (np.nan if br is None else br)
            progress()
        rheo_outs = ex.map(jobs.rheobase_job, [kw for _, kw in rheo_items], timeout=ITEM_TIMEOUT_S)
        for (name, _), out in zip(rheo_items, rheo_outs, strict=True):
            if isinstance(out, SimError):
                errors.setdefault(name, []).append(f"rheobase: {out}")
            else:
                rows[name]["rheobase_nA"] = out["rheobase_nA"]
        df = pd.DataFrame.from_dict(rows, orient="index", columns=list(PROFILE_COLUMNS))
        df.index.name = "cell"
        df.attrs.update(errors=errors, passive_amp_nA=passive_amp_nA, fi_range_nA=[float(currents[0]),
                        float(currents[-1]), float(currents[1] - currents[0]) if currents.size > 1 else 0.0],
                        fi_dur_ms=fi_dur_ms, zap=zap_kw if zap is not False else None, resonant=resonant)
        return df

    # --- cell parameters (what-ifs) -----------------------------------------------------------
    def describe(self, cell: str | None = None) -> dict:
        """Sections and what-if parameters of a cell with the template's values (cached)."""
        name = self._resolve(cell)
        if name not in self._descriptions:
            self._check_mechanisms(name)
            self._descriptions[name] = self.worker.call(jobs.describe_cell_job, cell_type=self._by_name[name])
        return self._descriptions[name]

    def parameters(self, cell: str | None = None) -> pd.DataFrame:
        """Every what-if parameter: section group, name, template value, current value, changed."""
        import pandas as pd

        name = self._resolve(cell)
        desc, changes = self.describe(name), self.cell_params(name)
        rows = []
        for base, group in desc["groups"].items():
            for pname, default in group["params"].items():
                value = changes.get(base, {}).get(pname, default)
                rows.append({"section": base, "name": pname, "template_value": default, "value": value,
                             "changed": value != default, "unit": _unit(pname)})
        return pd.DataFrame(rows)

    def cell_params(self, cell: str | None = None) -> dict[str, dict[str, float]]:
        """The parameter changes in effect for a cell ({section: {name: value}}; a copy)."""
        return {k: dict(v) for k, v in self._params.get(self._resolve(cell), {}).items()}

    @property
    def changed_params(self) -> dict[str, dict[str, float]]:
        """The current cell's parameter changes."""
        return self.cell_params()

    def set_cell_params(self, params: dict[str, dict[str, float | None]], *, cell: str | None = None,
                        replace: bool = False) -> dict[str, dict[str, float]]:
        """Change cell parameters for the following runs: ``{section: {name: value}}``.

        A section key is a base name (``"dend"``: all dend sections), one section
        (``"dend[2]"``) or ``"all"``; names are ``cm`` (µF/cm²), ``Ra`` (Ω·cm), conductances
        ``g*_<mech>`` (S/cm²) and ``e_pas`` (mV). A value of None drops the change. Merged into
        the existing changes unless ``replace``. Returns the changes now in effect.
        """
        name = self._resolve(cell)
        desc = self.describe(name)
        current = {} if replace else self.cell_params(name)
        for key, values in params.items():
            allowed = self._allowed(desc, key)
            for pname, value in values.items():
                if pname not in allowed:
                    raise KeyError(f"{name}: {key!r} has no parameter {pname!r}; it has: {', '.join(sorted(allowed))}")
                if value is None:
                    current.get(key, {}).pop(pname, None)
                    continue
                value = float(value)
                if not math.isfinite(value) or (pname in ("cm", "Ra") and value <= 0) or \
                        (pname.startswith("g") and value < 0):
                    raise ValueError(f"{name}: {key}.{pname} = {value} is not allowed "
                                     "(finite; cm, Ra > 0; conductances >= 0)")
                current.setdefault(key, {})[pname] = value
        self._params[name] = {k: v for k, v in current.items() if v}
        self._listeners.emit("params", name)
        return self.cell_params(name)

    @staticmethod
    def _allowed(desc: dict, key: str) -> set[str]:
        groups = desc["groups"]
        if key == "all":
            sets = [set(g["params"]) for g in groups.values()]
            return set.intersection(*sets) if sets else set()
        base = key.split("[", 1)[0]
        if base not in groups or (key != base and key not in desc["sections"]):
            raise KeyError(f"no section {key!r}; sections: {', '.join(groups)} ({', '.join(desc['sections'][:12])}"
                           f"{'…' if len(desc['sections']) > 12 else ''}) or 'all'")
        return set(groups[base]["params"])

    def unsaved_cell_params(self) -> list[dict[str, Any]]:
        """Every cell type's what-ifs in effect, for a network run (NetworkSimulation.run(tuners=
        [profiler])): {"cell", "population", "node_type_id", "params" {section: {name: value}},
        "template" (the template's values of those parameters)}."""
        out = []
        for name in self._params:
            params = self.cell_params(name)
            if not params:
                continue
            ct = self._by_name[name]
            out.append({"cell": name, "population": ct.population, "node_type_id": ct.node_type_id,
                        "params": params, "template": self._template_values(name, params)})
        return out

    def _template_values(self, name: str, changes: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
        """The template's values of the parameters ``changes`` sets (None where not described)."""
        groups = self._descriptions.get(name, {"groups": {}})["groups"]
        return {key: {p: groups.get(key.split("[", 1)[0], {}).get("params", {}).get(p) for p in vals}
                for key, vals in changes.items()}

    def reset_cell_params(self, cell: str | None = None) -> None:
        """Back to the template's values for a cell."""
        self._params.pop(self._resolve(cell), None)
        self._listeners.emit("params", self._resolve(cell))

    def export_params(self, path: str | Path | None = None, cell: str | None = None) -> str:
        """The changed values as JSON (cell, template, changes and the template values they
        replace); written to ``path`` when given. ``set_cell_params(json.loads(s)["changes"])``
        applies them again."""
        name = self._resolve(cell)
        ct, changes = self._by_name[name], self.cell_params(name)
        before = self._template_values(name, changes)
        doc = {"cell": name, "model_template": ct.model_template, "node_type_id": ct.node_type_id,
               "changes": changes, "template_values": before,
               "units": {p: _unit(p) for vals in changes.values() for p in vals}}
        text = _json.dumps(doc, indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    # --- display (``.widget`` and a cell's display: ShowsDashboard) ---------------------------
    @property
    def dashboard(self) -> Any:
        """The :class:`~bmtool_lab.widgets.profiler.ProfilerDashboard` controller of the widget."""
        return dashboard_of(self)

    def __repr__(self) -> str:
        return f"CellProfiler({len(self._by_name)} cells: {', '.join(self._by_name)}; selected {self.current!r})"


def _bracket(currents: np.ndarray, n_spikes: np.ndarray) -> tuple[float, float] | float | None:
    """(silent, spiking) currents around the threshold, a number when no search is needed (the
    lowest step spikes), None when no step spikes; "wait" while a step below the first spiking
    one has not finished (n_spikes -1)."""
    order = np.argsort(currents, kind="stable")
    c, n = currents[order], n_spikes[order]
    for k in range(c.size):
        if n[k] == -1:
            return "wait"  # type: ignore[return-value]
        if n[k] > 0:
            if k > 0:
                return float(c[k - 1]), float(c[k])
            return (0.0, float(c[0])) if c[0] > 0 else float(c[0])
    return None


class _FIFeed(Feed):
    """An F–I sweep and its rheobase search on one executor (:meth:`CellProfiler.fi_curve`).

    Steps go out in increasing current, so the bracket (last silent, first spiking step) is
    known as soon as the steps up to it have finished; from then on every idle worker gets a
    rheobase probe first (one at a time while steps remain to start; up to one per worker
    once they have all started), narrowing the bracket on
    :class:`~bmtool_lab.analysis.fi.RheobaseSearch`'s grid. Probes stop at the first spike;
    probes left outside the bracket are cancelled."""

    def __init__(self, curve: FICurve, steps: list[dict], took: Callable[[int, Any], None],
                 resolution_nA: float | None, n_workers: int):
        self.curve, self.steps, self.took = curve, steps, took
        self.resolution_nA, self.n_workers = resolution_nA, max(1, n_workers)
        self.todo = list(np.argsort(curve.currents_nA, kind="stable"))
        self.items: dict[int, tuple[str, int]] = {}  # item -> ("step", step index) | ("probe", grid index)
        self.probes: dict[int, int] = {}  # in flight: item -> grid index
        self.search: RheobaseSearch | None = None
        self.searching = resolution_nA is not None
        self.rheobase_nA = float("nan")
        self.error: SimError | None = None
        self._n = 0

    def take(self, n: int) -> list[dict]:
        out: list[dict] = []
        while len(out) < n:
            k = self._probe() if self.search is not None else None
            if k is not None:
                self.probes[self._n] = k
                self.items[self._n] = ("probe", k)
                kw = {key: v for key, v in self.steps[0].items() if key != "amp_nA"}
                out.append(dict(kw, amp_nA=self.search.current(k), keep_trace=False, first_spike=True))
            elif self.todo:
                i = int(self.todo.pop(0))
                self.items[self._n] = ("step", i)
                out.append(self.steps[i])
            else:
                break
            self._n += 1
        return out

    def _probe(self) -> int | None:
        assert self.search is not None
        limit = 1 if self.todo else self.n_workers
        if self.search.done or self.error is not None or len(self.probes) >= limit:
            return None
        return self.search.next(self.probes.values())

    def put(self, i: int, result: Any) -> None:
        what, k = self.items.pop(i)
        if what == "step":
            self.took(k, result)
            if self.searching and self.search is None:
                self._start_search()
            return
        self.probes.pop(i, None)
        search = self.search
        assert search is not None
        if search.done or not search.lo_k < k < search.hi_k:
            return  # an answer no longer needed (cancelled or not)
        if isinstance(result, SimError):
            self.error = self.error or result
        elif result.get("unstable"):
            self.error = self.error or SimError("model", f"rheobase search at {search.current(k) * 1e3:g} pA: "
                                                         f"{result['unstable']}")
        else:
            search.report(k, result["n_spikes"] >= 1)
            if search.done:
                self.rheobase_nA = search.value

    def _start_search(self) -> None:
        br = _bracket(self.curve.currents_nA, self.curve.n_spikes)
        if isinstance(br, str):
            return
        self.searching = False
        if br is None or not isinstance(br, tuple):
            self.rheobase_nA = float("nan") if br is None else br
        elif br[1] - br[0] <= self.resolution_nA:  # type: ignore[operator]
            self.rheobase_nA = br[1]
        else:
            self.search = RheobaseSearch(br[0], br[1], self.resolution_nA)  # type: ignore[arg-type]

    def obsolete(self) -> list[int]:
        if self.search is None:
            return []
        if self.search.done or self.error is not None:
            return list(self.probes)
        gone = set(self.search.obsolete(self.probes.values()))
        return [i for i, k in self.probes.items() if k in gone]


def _unit(name: str) -> str:
    if name == "cm":
        return "uF/cm2"
    if name == "Ra":
        return "ohm*cm"
    if name.startswith("e"):
        return "mV"
    return "S/cm2" if name.startswith("g") else ""
