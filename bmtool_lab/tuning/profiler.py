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
prof.submit("fi_curve", start=0, stop=500, step=25)   # a Future; a newer run stops a stale sweep
prof                             # in a notebook: the dashboard
```

Definitions: ``docs/metrics.md`` §3 and :mod:`bmtool_lab.analysis`. NEURON runs in worker
processes only: single runs on this profiler's own worker (the cell is built once and parameter
changes are applied per run), F–I steps and ``profile_all`` in parallel on the engine's sweep
executor (the shared local pool unless ``executor=`` names another, e.g. a Dask client).
``prof.submit(kind, **kwargs)`` runs any of them in the background, "latest wins", and returns
a Future: what the dashboard calls (:mod:`bmtool_lab.tuning.profiler_runs`).
Failures are :class:`~bmtool_lab.sim.errors.SimError` with a readable message; the kernel and
the other cells carry on. Currents are in nA everywhere except the F–I range, which follows
bmtool's pA convention by default (``unit="nA"`` to pass nA).
"""

from __future__ import annotations

import json as _json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.fi import fi_currents
from ..model.cell_types import CellType, find_cell_type, list_cell_types
from ..model.check import check_model
from ..model.config import ModelConfig, load_config
from ..model.hoc_templates import strip_comments, template_body, templates_in
from ..model.pointnet import is_pointnet_config
from ..sim import profiler_jobs as jobs
from ..sim.errors import JobCancelled, SimError
from ..sim.executor import get_executor
from ..sim.mechanisms import MechanismError, missing_mechanisms
from ..sim.protocol import SimSettings
from ..sim.worker import InteractiveWorker
from ._events import Listener, Listeners
from .kinds import ShowsDashboard, dashboard_of
from .profiler_fi import FIFeed, bracket
from .profiler_params import CellParams
from .profiler_results import ClampProfile, FICurve, PassiveProfile, ZapProfile
from .profiler_runs import BackgroundRuns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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


# --- the controller ---------------------------------------------------------------------------
class CellProfiler(CellParams, BackgroundRuns, ShowsDashboard):
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
            if is_pointnet_config(config_or_templates_dir):
                # local: import-time cost: +40 ms (NEST job specs), only for a PointNet config
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
            found = templates_in(folder)
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
        what-ifs changed), "closed" (None) and, for :meth:`submit`'s runs, "running" (the kind),
        "result" and "error" ({"kind", "result" or "error"}); any thread."""
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
        """This profiler's interactive worker (blocking single runs; the cell is kept between
        runs). :meth:`submit` runs on its own :attr:`live_worker`."""
        if self._worker is None:
            self._worker = InteractiveWorker(name="profiler", timeout_s=600)
        return self._worker

    def close(self) -> None:
        """Stop this profiler's workers and background runs (the shared sweep pool stays up)."""
        self._listeners.emit("closed", None)  # the dashboard lets go
        self.__dict__.pop("_dashboard", None)
        self._close_runs()
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
            path = ct.template_file or templates_in(ct.templates_dir).get(ct.template_name or "") \
                if (ct.template_file or ct.templates_dir) else None
            if path is not None and Path(path).is_file():
                text = Path(path).read_text(errors="replace")
                block = template_body(text, ct.template_name or "")
                needed = set(re.findall(r"\binsert\s+(\w+)", block if block is not None else strip_comments(text)))
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
        finish = partial(self._passive_result, name, amp_nA, delay_ms, dur_ms)
        return self._job(jobs.passive_step_job, on_partial, finish, amp_nA=float(amp_nA), delay_ms=delay_ms,
                         dur_ms=dur_ms, tau_method=tau_method, stream=stream, **kw)

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
        finish = partial(self._clamp_result, name, amp_nA, delay_ms, dur_ms)
        return self._job(jobs.current_clamp_job, on_partial, finish, amp_nA=float(amp_nA), delay_ms=delay_ms,
                         dur_ms=dur_ms, threshold_mV=self._threshold(threshold_mV), stream=stream, **kw)

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

        def finish(out: dict) -> ZapProfile:
            res = self._zap_result(name, f0_hz, f1_hz, kind, out)
            res.total_ms = (time.perf_counter() - t0) * 1e3
            return res

        return self._job(jobs.zap_job, on_partial, finish, f0_hz=f0_hz, f1_hz=f1_hz, duration_ms=duration_ms,
                         amp_nA=amp_nA, kind=kind, delay_ms=delay_ms, tail_ms=tail_ms, smooth=smooth, stream=stream,
                         **kw)

    @staticmethod
    def _zap_result(name: str, f0_hz: float, f1_hz: float, kind: str, out: dict) -> ZapProfile:
        imp = out["impedance"]
        return ZapProfile(name, f0_hz, f1_hz, kind, imp.freq_hz, imp.z_mag_MOhm, imp.phase_rad, imp.resonance_hz,
                          imp.q_factor, out["t"], out["v"], out["i"], out["solve_ms"], out["job_ms"])

    def _threshold(self, threshold_mV: float | None) -> float:
        return self.threshold_mV if threshold_mV is None else float(threshold_mV)

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

        feed = FIFeed(curve, [dict(kw, amp_nA=float(a), keep_trace=keep_traces) for a in currents], took,
                       res_nA if rheobase else None, ex.n_workers)
        ex.run_feed(jobs.fi_step_job, feed, timeout=ITEM_TIMEOUT_S, stop=stop_event)
        if curve.errors:
            raise curve.errors[min(curve.errors)]
        if stop_event is not None and stop_event.is_set() and not curve.finished.all():
            # stopped between steps (no step in flight to be cancelled): the curve is not whole
            raise JobCancelled(job="fi_curve", params=f"{int((~curve.finished).sum())} of {curve.finished.size} "
                                                      "steps not run")
        if rheobase:
            if feed.error is not None:
                raise feed.error
            curve.rheobase_nA = feed.rheobase_nA
        curve.wall_ms = (time.perf_counter() - t0) * 1e3
        return curve

    @staticmethod
    def _bracket(currents: np.ndarray, n_spikes: np.ndarray) -> tuple[float, float] | float | None:
        """(silent, spiking) currents around the threshold; a number when no search is needed."""
        return bracket(currents, n_spikes)

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

    # --- display (``.widget`` and a cell's display: ShowsDashboard) ---------------------------
    @property
    def dashboard(self) -> Any:
        """The :class:`~bmtool_lab.widgets.profiler.ProfilerDashboard` controller of the widget."""
        return dashboard_of(self)

    def __repr__(self) -> str:
        return f"CellProfiler({len(self._by_name)} cells: {', '.join(self._by_name)}; selected {self.current!r})"

