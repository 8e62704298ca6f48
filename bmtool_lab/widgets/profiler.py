"""The cell profiler dashboard: cell picker, protocol tabs (Passive / Current clamp / F–I / ZAP /
All cells), live traces (TracePanel), F–I and impedance plots (bqplot), eFEL feature table,
conductance sliders and CSV/JSON/PNG export.

Every change re-runs the active tab at once, "latest wins", through the controller
(:meth:`CellProfiler.submit <bmtool_lab.tuning.profiler.CellProfiler.submit>`): single runs go
to its live worker (a newer request stops the stale one), F–I sweeps to the sweep executor in a
background thread (a newer run stops the stale sweep) and the F–I curve fills in as steps
finish. The kernel never blocks; errors (SimError and others) are shown in the panel, never
swallowed.
Stable CSS classes (``bmtl-prof-*``) let browser tests find the parts.
"""

from __future__ import annotations

import html
import json
import time
import traceback
from collections.abc import Callable
from typing import Any

import bqplot as bq
import ipywidgets as w
import numpy as np

from ..analysis.fi import fi_currents
from ..sim.errors import SimError
from ..tuning.profiler import ZAP_DEFAULTS
from .problems import problems_box
from .profiler_parts import (
    _ZAP_LEGEND,
    _ZAP_MAG,
    _ZAP_PHASE,
    _all_cells_table,
    _Knob,
    _link,
    _num,
    _table,
    _zap_summary,
    feature_label,
)
from .trace import TracePanel

__all__ = ["ProfilerDashboard"]

TABS = ("passive", "clamp", "fi", "zap", "all")
TAB_TITLES = ("Passive", "Current clamp", "F–I", "ZAP", "All cells")
#: F–I plot updates per second while a sweep fills it in (the final state is always drawn).
FI_PLOT_HZ = 8.0
class ProfilerDashboard:
    """The widgets of a :class:`~bmtool_lab.tuning.profiler.CellProfiler` (``prof.widget``)."""

    def __init__(self, prof: Any) -> None:
        self.prof = prof
        self.last: dict[str, Any] = {}  # tab -> its latest result
        self._gen = 0  # bumped by every request: stale results are dropped
        self._fi_last_draw = 0.0
        self._knobs: dict[tuple[str, str], _Knob] = {}
        self._knob_cell: str | None = None
        self._build()
        prof.add_listener(self._on_controller)
        self.request()

    # --- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.prof
        self.cell = w.Dropdown(options=p.cells, value=p.current, description="cell",
                               layout=w.Layout(width="260px"), style={"description_width": "40px"})
        self.cell.add_class("bmtl-prof-cell")
        # section names suggested from the cell; free text allows a position: "dend[3](0.8)"
        self.inject = w.Combobox(value=p.inject, options=[], description="inject at", ensure_option=False,
                                 layout=w.Layout(width="200px"), style={"description_width": "65px"},
                                 continuous_update=False)
        self.inject.add_class("bmtl-prof-inject")
        self.record = w.Combobox(value=p.record, options=[], description="record at", ensure_option=False,
                                 layout=w.Layout(width="200px"), style={"description_width": "65px"},
                                 continuous_update=False)
        self.record.add_class("bmtl-prof-record")
        # string values: a Dropdown's None means "nothing selected"
        self.cvode = w.Dropdown(options=[("auto", "auto"), ("CVODE", "cvode"), ("fixed step", "fixed")],
                                value={None: "auto", True: "cvode", False: "fixed"}[p.cvode],
                                description="solver", layout=w.Layout(width="170px"),
                                style={"description_width": "45px"},
                                tooltip="auto: CVODE for the passive step, fixed step for spiking protocols")
        self.cvode.add_class("bmtl-prof-solver")
        self.panel = TracePanel(title="", y_label="v (mV)", height=230)
        self.panel.add_class("bmtl-prof-trace")
        self.status = w.HTML()
        self.status.add_class("bmtl-prof-status")

        # passive
        self.p_amp = _num(-0.05, "step (nA)", "bmtl-prof-passive-amp", -10, 10, 0.01)
        self.p_delay = _num(250.0, "delay (ms)", "bmtl-prof-passive-delay", 0, 1e5, 10)
        self.p_dur = _num(500.0, "duration (ms)", "bmtl-prof-passive-dur", 1, 1e5, 50)
        self.p_tau = w.Dropdown(options=[("single exp", "single"), ("double exp", "exp2")], value="single",
                                description="tau fit", layout=w.Layout(width="190px"),
                                style={"description_width": "55px"})
        self.p_out = w.HTML()
        self.p_out.add_class("bmtl-prof-passive-table")
        # current clamp
        self.c_amp = _num(0.1, "step (nA)", "bmtl-prof-clamp-amp", -10, 10, 0.01)
        self.c_delay = _num(100.0, "delay (ms)", "bmtl-prof-clamp-delay", 0, 1e5, 10)
        self.c_dur = _num(500.0, "duration (ms)", "bmtl-prof-clamp-dur", 1, 1e5, 50)
        self.c_out = w.HTML()
        self.c_out.add_class("bmtl-prof-features")
        # F–I
        self.f_start = _num(0.0, "start (pA)", "bmtl-prof-fi-start", -1e5, 1e5, 10)
        self.f_stop = _num(200.0, "stop (pA)", "bmtl-prof-fi-stop", -1e5, 1e5, 10)
        self.f_step = _num(20.0, "step (pA)", "bmtl-prof-fi-step-pa", -1e5, 1e5, 5)
        self.f_dur = _num(1000.0, "duration (ms)", "bmtl-prof-fi-dur", 1, 1e5, 50)
        self.f_run = w.Button(description="Run F–I", icon="play", layout=w.Layout(width="110px"))
        self.f_run.add_class("bmtl-prof-fi-run")
        self.f_progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="160px"))
        self.f_progress.add_class("bmtl-prof-fi-progress")
        self.f_which = w.Dropdown(options=[], description="trace of", layout=w.Layout(width="190px"),
                                  style={"description_width": "55px"})
        self.f_which.add_class("bmtl-prof-fi-step")
        sx, sy = bq.LinearScale(), bq.LinearScale(min=0.0)
        self.f_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["#1f77b4"])
        self.f_dots = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=["#1f77b4"], default_size=36)
        self.f_fig = bq.Figure(marks=[self.f_line, self.f_dots], title="",
                               axes=[bq.Axis(scale=sx, label="current (pA)", num_ticks=5),  # no overlap when narrow
                                     bq.Axis(scale=sy, label="rate (Hz)", orientation="vertical")],
                               fig_margin={"top": 20, "bottom": 45, "left": 55, "right": 15},
                               layout=w.Layout(width="100%", height="260px"))
        self.f_fig.add_class("bmtl-prof-fi-plot")
        self.f_out = w.HTML()
        self.f_out.add_class("bmtl-prof-fi-summary")
        # ZAP
        z = ZAP_DEFAULTS
        self.z_f0 = _num(z["f0_hz"], "f0 (Hz)", "bmtl-prof-zap-f0", 0.01, 1e4, 0.5)
        self.z_f1 = _num(z["f1_hz"], "f1 (Hz)", "bmtl-prof-zap-f1", 0.01, 1e4, 1)
        self.z_dur = _num(z["duration_ms"], "duration (ms)", "bmtl-prof-zap-dur", 100, 1e6, 500)
        self.z_amp = _num(z["amp_nA"], "amplitude (nA)", "bmtl-prof-zap-amp", -10, 10, 0.005)
        self.z_kind = w.Dropdown(options=["linear", "exponential"], value=z["kind"], description="chirp",
                                 layout=w.Layout(width="190px"), style={"description_width": "55px"})
        zx, zy, zp = bq.LinearScale(), bq.LinearScale(), bq.LinearScale()
        self.z_mag = bq.Lines(x=[], y=[], scales={"x": zx, "y": zy}, colors=[_ZAP_MAG], labels=["|Z| (MΩ)"])
        self.z_phase = bq.Lines(x=[], y=[], scales={"x": zx, "y": zp}, colors=[_ZAP_PHASE], labels=["phase (rad)"],
                                line_style="dashed")
        # The legend is HTML under the plot (bqplot's own box is wider than the plot in the sidebar
        # and sticks out of the figure); each y axis in its line's colour keeps a saved PNG readable.
        # Axis labels set off from their tick labels (4-digit ticks such as "-0.25" need ~35 px).
        self.z_fig = bq.Figure(marks=[self.z_mag, self.z_phase], title="",
                               axes=[bq.Axis(scale=zx, label="frequency (Hz)", num_ticks=5),
                                     bq.Axis(scale=zy, label="|Z| (MΩ)", orientation="vertical", label_offset="42px",
                                             color=_ZAP_MAG),
                                     bq.Axis(scale=zp, label="phase (rad)", orientation="vertical", side="right",
                                             label_offset="42px", color=_ZAP_PHASE)],
                               fig_margin={"top": 20, "bottom": 45, "left": 60, "right": 60},
                               layout=w.Layout(width="100%", height="260px"))
        self.z_fig.add_class("bmtl-prof-zap-plot")
        self.z_out = w.HTML()
        self.z_out.add_class("bmtl-prof-zap-summary")
        # all cells
        self.a_run = w.Button(description="Profile all cells", icon="table", layout=w.Layout(width="150px"))
        self.a_run.add_class("bmtl-prof-all-run")
        self.a_progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="160px"))
        self.a_out = w.HTML()
        self.a_out.add_class("bmtl-prof-all-table")

        def row(*items: w.Widget) -> w.Box:
            return w.Box(list(items), layout=w.Layout(display="flex", flex_flow="row wrap", width="100%"))

        # The F–I and ZAP figures are in their tab only while it is shown: a bqplot figure drawn in
        # a hidden tab has zero width and draws negative-size rects (browser console errors).
        self._tab_figs = {"fi": (2, self.f_fig), "zap": (3, self.z_fig)}
        tabs = [
            w.VBox([row(self.p_amp, self.p_delay, self.p_dur, self.p_tau), self.p_out]),
            w.VBox([row(self.c_amp, self.c_delay, self.c_dur), self.c_out]),
            w.VBox([row(self.f_start, self.f_stop, self.f_step, self.f_dur),
                    row(self.f_run, self.f_progress, self.f_which), self.f_out]),
            w.VBox([row(self.z_f0, self.z_f1, self.z_dur, self.z_amp, self.z_kind), self.z_out]),
            w.VBox([row(self.a_run, self.a_progress), self.a_out]),
        ]
        self.tabs = w.Tab(children=tabs, titles=TAB_TITLES)
        self.tabs.add_class("bmtl-prof-tabs")
        self.params = w.VBox([])
        self.params.add_class("bmtl-prof-params")
        self.params_reset = w.Button(description="template values", icon="undo", layout=w.Layout(width="150px"))
        self.params_reset.add_class("bmtl-prof-params-reset")
        self.params_acc = w.Accordion(children=[w.VBox([self.params_reset, self.params])],
                                      titles=("Cell parameters (what-ifs)",), selected_index=0)
        self.export = w.HTML()
        self.export.add_class("bmtl-prof-export")
        self.png = w.Button(description="PNG", icon="image", layout=w.Layout(width="80px"),
                            tooltip="save the F–I or ZAP plot as PNG")
        self.png.add_class("bmtl-prof-png")
        self.widget = w.VBox([*problems_box(getattr(p, "model_problems", [])),
                              row(self.cell, self.inject, self.record, self.cvode), self.tabs, self.panel,
                              self.status, self.params_acc, row(self.export, self.png)],
                             layout=w.Layout(width="100%"))
        self.widget.add_class("bmtl-prof")

        for box in (self.p_amp, self.p_delay, self.p_dur, self.p_tau, self.c_amp, self.c_delay, self.c_dur,
                    self.f_start, self.f_stop, self.f_step, self.f_dur, self.z_f0, self.z_f1, self.z_dur,
                    self.z_amp, self.z_kind):
            box.observe(lambda _: self.request(), names="value")
        for box in (self.inject, self.record, self.cvode):  # these change every protocol's result
            box.observe(lambda _: (self._stale(), self.request()), names="value")
        self.tabs.observe(lambda ch: self._on_tab(), names="selected_index")
        self.cell.observe(lambda ch: self._safe(self._on_cell, ch["new"]), names="value")
        self.f_run.on_click(lambda _: self.request(force=True))
        self.f_which.observe(lambda ch: self._safe(self._show_fi_step), names="value")
        self.a_run.on_click(lambda _: self._safe(self._start_all))
        self.params_reset.on_click(lambda _: self._safe(self.prof.reset_cell_params))
        self.png.on_click(lambda _: self._safe(self._save_png))

    def close(self) -> None:
        """Stop the dashboard's runs (the controller's background runs)."""
        self.prof.cancel()

    # --- events from the controller ------------------------------------------------------------
    def _on_controller(self, event: str, payload: Any) -> None:
        if event == "selected":
            self.on_cell_selected(payload)
        elif event == "params":
            self.on_params_changed(payload)
        elif event == "closed":
            self.prof.remove_listener(self._on_controller)
            self.close()

    def on_cell_selected(self, name: str) -> None:
        if self.cell.value != name:
            self.cell.value = name  # the observer re-runs

    def on_params_changed(self, name: str) -> None:
        if name != self.prof.current:
            return
        changes = self.prof.cell_params(name)
        for (sec, pname), knob in self._knobs.items():
            knob.show(changes.get(sec, {}).get(pname, knob.default))
        self._stale()
        self.request()

    # --- running --------------------------------------------------------------------------------
    @property
    def tab(self) -> str:
        return TABS[self.tabs.selected_index or 0]

    def _safe(self, fn: Callable, *args: Any) -> None:
        """Run a callback; show what went wrong instead of letting ipywidgets swallow it."""
        try:
            fn(*args)
        except Exception as err:
            self._error(err)

    def _error(self, err: BaseException) -> None:
        msg = str(err) if isinstance(err, SimError) else f"{type(err).__name__}: {err}"
        detail = getattr(err, "detail", "") or "".join(traceback.format_exception(type(err), err, err.__traceback__))
        self.panel.show_error(msg)
        self.status.value = (f"<div style='color:#b00020'><b>{html.escape(msg)}</b><details><summary>details"
                             f"</summary><pre style='font-size:11px'>{html.escape(detail[-4000:])}</pre></details></div>")

    def _stale(self) -> None:
        """The cell, its parameters or the sites changed: every tab's last result is out of date."""
        self.last = {k: v for k, v in self.last.items() if k == "all"}

    def _on_cell(self, name: str) -> None:
        self.prof.current = name
        self.last.clear()
        self.request()

    def _on_tab(self) -> None:
        self._show_tab_figure(self.tab)
        res = self.last.get(self.tab)
        if res is None:
            self.request()
        else:
            self._draw(self.tab, res)

    def _show_tab_figure(self, tab: str) -> None:
        """Put the shown tab's figure above its summary and take the other tabs' figures out: a
        figure in a hidden tab has zero width (also when a page reload draws every view anew)."""
        for name, (index, fig) in self._tab_figs.items():
            box = self.tabs.children[index]
            kids = [k for k in box.children if k is not fig]
            if name == tab:
                kids.insert(len(kids) - 1, fig)
            if kids != list(box.children):
                box.children = kids

    def _sync_controller(self) -> None:
        self.prof.inject, self.prof.record = self.inject.value.strip(), self.record.value.strip()
        self.prof.cvode = {"auto": None, "cvode": True, "fixed": False}[self.cvode.value]

    def request(self, force: bool = False) -> None:
        """Re-run the active tab with the current controls ("latest wins")."""
        try:
            self._sync_controller()
            self._gen += 1
            name = self.prof.current
            if self.tab == "all":
                if force:
                    self._start_all()
                return
            if name not in self.prof._descriptions:
                self._describe_then_run(name, self._gen)
            elif self._knob_cell != name:
                self._build_knobs(name)
                self._run(self._gen)
            else:
                self._run(self._gen)
        except Exception as err:
            self._error(err)

    def _describe_then_run(self, name: str, gen: int) -> None:
        self.status.value = f"building {html.escape(name)}…"
        fut = self.prof.submit("describe", cell=name)  # kept by the controller, whoever asked for it

        def done(f: Any) -> None:
            if f.cancelled() or gen != self._gen:
                return
            if f.exception() is not None:
                return self._error(f.exception())
            if name == self.prof.current:
                self._safe(self._build_knobs, name)
                self._safe(self._run, gen)

        fut.add_done_callback(done)

    def _run(self, gen: int) -> None:
        tab, p = self.tab, self.prof
        if tab == "fi":
            return self._start_fi(gen)
        name = p.current
        if tab == "passive":
            d, dur = self.p_delay.value, self.p_dur.value
            kind, kw = "passive", dict(amp_nA=self.p_amp.value, delay_ms=d, dur_ms=dur,
                                       tau_method=self.p_tau.value, stream=True)
        elif tab == "clamp":
            d, dur = self.c_delay.value, self.c_dur.value
            kind, kw = "current_clamp", dict(amp_nA=self.c_amp.value, delay_ms=d, dur_ms=dur, stream=True)
        else:
            z = self._zap_settings()
            d, dur = z["delay_ms"], z["duration_ms"]
            kind, kw = "zap", dict(z, stream=False)
        markers = [d, d + dur]
        self.status.value = f"running {html.escape(tab)} on {html.escape(name)}…"
        self.panel.status = "running…"

        def partial(part: dict) -> None:
            if gen == self._gen and self.tab == tab:
                tr = part["trace"]
                pct = 100.0 * part["t_ms"] / max(part["tstop_ms"], 1e-9)
                self.panel.push(tr.t, [tr["v"]], [{"label": "v", "unit": "mV", "color": "#1f77b4"}],
                                markers=markers, status=f"running {pct:.0f}%", final=False)

        fut = p.submit(kind, cell=name, on_partial=partial, **kw)  # a newer run stops the stale F–I sweep
        fut.add_done_callback(lambda f: self._done(f, gen, tab))

    def _done(self, fut: Any, gen: int, tab: str) -> None:
        if fut.cancelled() or gen != self._gen:
            return
        if fut.exception() is not None:
            return self._error(fut.exception())
        try:
            res = fut.result()
            self.last[tab] = res
            if self.tab == tab:
                self._draw(tab, res)
        except Exception as err:
            self._error(err)

    # --- F–I --------------------------------------------------------------------------------------
    def _start_fi(self, gen: int) -> None:
        start, end, step = self.f_start.value, self.f_stop.value, self.f_step.value
        currents = fi_currents(start * 1e-3, end * 1e-3, step * 1e-3)  # raises on a bad range
        self.f_progress.max, self.f_progress.value = int(currents.size), 0
        with self.f_fig.hold_sync():
            # x spans the sweep from the start: the axis stays put as points fill in, and one point
            # is no one-value domain (bqplot's ticks fail on it: "invalid format: .undefinedg")
            sx = self.f_line.scales["x"]
            sx.min, sx.max = float(min(start, end)), float(max(start, end))
            self.f_line.x, self.f_line.y = [], []
            self.f_dots.x, self.f_dots.y = [], []
        self.f_out.value = ""
        self.status.value = f"F–I on {html.escape(self.prof.current)}: {currents.size} steps in parallel…"

        # the stale sweep stops; the new one starts when the pool is free
        fut = self.prof.submit("fi_curve", start=start, stop=end, step=step, unit="pA", dur_ms=self.f_dur.value,
                               on_partial=lambda i, c: self._fi_step_done(gen, i, c))

        def done(f: Any) -> None:
            if f.cancelled() or gen != self._gen:
                return
            if f.exception() is not None:
                return self._error(f.exception())
            self.last["fi"] = f.result()
            self._safe(self._draw, "fi", f.result())

        fut.add_done_callback(done)

    def _fi_step_done(self, gen: int, i: int, curve: Any) -> None:
        if gen != self._gen:
            return
        now = time.monotonic()
        done = curve.finished  # measured or numerically unstable
        self.f_progress.value = int(done.sum())
        if done.all() or now - self._fi_last_draw >= 1.0 / FI_PLOT_HZ:
            self._fi_last_draw = now
            self._draw_fi_points(curve)
            tr = curve.traces[i]
            if tr is not None and self.tab == "fi":
                self.panel.push(tr[0], [tr[1]], [{"label": f"v at {curve.currents_nA[i] * 1e3:.0f} pA", "unit": "mV",
                                                  "color": "#1f77b4"}], markers=[curve.t_on_ms, curve.t_off_ms],
                                status=f"{int(done.sum())}/{done.size} steps", autoscale=True, final=False)

    def _draw_fi_points(self, curve: Any) -> None:
        done = curve.done
        x, y = curve.currents_nA[done] * 1e3, curve.rates_hz[done]
        order = np.argsort(x)
        with self.f_fig.hold_sync():
            self.f_line.x, self.f_line.y = x[order], y[order]
            self.f_dots.x, self.f_dots.y = x[order], y[order]

    def _show_fi_step(self) -> None:
        curve, i = self.last.get("fi"), self.f_which.value
        if curve is None or i is None or curve.traces[i] is None:
            return
        t, v = curve.traces[i]
        self.panel.push(t, [v], [{"label": f"v at {curve.currents_nA[i] * 1e3:.0f} pA", "unit": "mV",
                                  "color": "#1f77b4"}], markers=[curve.t_on_ms, curve.t_off_ms],
                        status=f"step {i + 1}/{curve.currents_nA.size}: " + (
                            "numerically unstable, not measured" if i in curve.unstable else
                            f"{int(curve.n_spikes[i])} spikes, {curve.rates_hz[i]:.1f} Hz"), autoscale=True)

    def _zap_settings(self) -> dict[str, Any]:
        """The ZAP tab's settings: its run and the All-cells table's ZAP are the same protocol."""
        return {**ZAP_DEFAULTS, "f0_hz": self.z_f0.value, "f1_hz": self.z_f1.value,
                "duration_ms": self.z_dur.value, "amp_nA": self.z_amp.value, "kind": self.z_kind.value}

    # --- all cells ------------------------------------------------------------------------------
    def _start_all(self) -> None:
        self.a_run.disabled = True
        self.a_out.value = "profiling every cell type…"

        def progress(done: int, total: int) -> None:
            self.a_progress.max, self.a_progress.value = total, done

        def done(f: Any) -> None:
            try:
                if f.cancelled():
                    return
                if f.exception() is not None:
                    return self._error(f.exception())
                self.last["all"] = f.result()
                self._safe(self._draw, "all", f.result())
            finally:
                self.a_run.disabled = False

        try:
            fut = self.prof.submit("profile_all", zap=self._zap_settings(), on_partial=progress)
        except Exception:
            self.a_run.disabled = False
            raise
        fut.add_done_callback(done)

    # --- drawing --------------------------------------------------------------------------------
    def _draw(self, tab: str, res: Any) -> None:
        v_series = [{"label": "v", "unit": "mV", "color": "#1f77b4"}]
        name = html.escape(self.prof.current)
        if tab == "passive":
            fit = res.fit_curve()
            self.panel.push(res.t_ms, [res.v_mV, fit],
                            [*v_series, {"label": "fit", "unit": "mV", "color": "#d62728", "dash": True}],
                            markers=[res.t_on_ms, res.t_off_ms], autoscale=True,
                            status=f"done: NEURON {res.solve_ms:.0f} ms")
            r = res.result
            self.p_out.value = _table([("V_rest", r.v_rest_mV, "mV"), ("R_in", r.r_in_MOhm, "MΩ"),
                                       ("tau", r.tau_ms, "ms"), ("tau (fast)", r.tau_fast_ms, "ms"),
                                       ("sag ratio", r.sag_ratio, ""), ("V_ss", r.v_ss_mV, "mV"),
                                       ("fit R²", r.fit_r2, "")], "bmtl-prof-passive-values") + _warnings(r.warnings)
        elif tab == "clamp":
            self.panel.push(res.t_ms, [res.v_mV], v_series, markers=[res.t_on_ms, res.t_off_ms], autoscale=True,
                            status=f"done: {res.n_spikes} spikes, {res.rate_hz:.1f} Hz; NEURON {res.solve_ms:.0f} ms")
            rows = [("spikes in step", res.n_spikes, ""), ("rate", res.rate_hz, "Hz")]
            rows += [(label, v, unit) for (label, unit), v in ((feature_label(k), v) for k, v in res.features.items())]
            self.c_out.value = _table(rows, "bmtl-prof-features-values") + _warnings(res.warnings)
        elif tab == "fi":
            self._draw_fi_points(res)
            self.f_progress.value = int(res.finished.sum())
            self.f_out.value = _table([("rheobase", res.rheobase_nA * 1e3, "pA"),
                                       ("max rate", res.max_rate_hz, "Hz"),
                                       ("sweep", res.wall_ms, "ms")], "bmtl-prof-fi-values") + _warnings(res.warnings)
            options = [(f"{c * 1e3:.0f} pA", i) for i, c in enumerate(res.currents_nA)]
            if [o[1] for o in self.f_which.options] != [o[1] for o in options] or self.f_which.value is None:
                self.f_which.options = options
                self.f_which.value = len(options) - 1
            self._show_fi_step()
        elif tab == "zap":
            self.panel.push(res.t_ms, [res.v_mV], v_series, markers=[500.0, 500.0 + self.z_dur.value],
                            autoscale=True, status=f"done: NEURON {res.solve_ms:.0f} ms, job {res.job_ms:.0f} ms")
            with self.z_fig.hold_sync():
                self.z_mag.x, self.z_mag.y = res.freq_hz, res.z_mag_MOhm
                self.z_phase.x, self.z_phase.y = res.freq_hz, res.phase_rad
            self.z_out.value = _ZAP_LEGEND + _zap_summary(res)
        elif tab == "all":
            self.a_out.value = _all_cells_table(res)
        self.status.value = f"{name}: {html.escape(TAB_TITLES[TABS.index(tab)])} done"
        self._export_links(tab, res)

    def _export_links(self, tab: str, res: Any) -> None:
        cell = self.prof.current
        if tab == "all":
            csv, doc = res.to_csv(), {"profile_all": json.loads(res.to_json(orient="index")), **res.attrs}
        else:
            csv, doc = res.table.to_csv(index=False), res.to_dict()
        links = _link(csv, f"{cell}_{tab}.csv", "text/csv", "CSV", "bmtl-prof-export-csv")
        links += _link(json.dumps(doc, indent=1, default=float), f"{cell}_{tab}.json", "application/json", "JSON",
                       "bmtl-prof-export-json")
        if self.prof.cell_params(cell):
            links += _link(self.prof.export_params(cell=cell), f"{cell}_params.json", "application/json",
                           "changed parameters", "bmtl-prof-export-params")
        self.export.value = f"<span style='font-size:12px'>export: {links}</span>"

    def _save_png(self) -> None:
        fig = self.z_fig if self.tab == "zap" else self.f_fig
        fig.save_png(f"{self.prof.current}_{'zap' if self.tab == 'zap' else 'fi'}.png")

    # --- cell parameters ------------------------------------------------------------------------
    def _build_knobs(self, name: str) -> None:
        desc = self.prof._descriptions[name]
        changes = self.prof.cell_params(name)
        self._knobs.clear()
        groups = []
        for base, group in desc["groups"].items():
            knobs = [_Knob(base, pname, default, self._knob_changed) for pname, default in group["params"].items()]
            for k in knobs:
                self._knobs[(base, k.name)] = k
                k.show(changes.get(base, {}).get(k.name, k.default))
            n = group["n_sections"]
            title = w.HTML(f"<b>{html.escape(base)}</b> <small>({n} section{'s' if n > 1 else ''})</small>")
            groups.append(w.VBox([title, *[k.row for k in knobs]]))
        self.params.children = groups
        self.inject.options = self.record.options = tuple(desc["sections"])
        self._knob_cell = name

    def _knob_changed(self, section: str, pname: str, value: float | None) -> None:
        try:
            self.prof.set_cell_params({section: {pname: value}})  # the controller calls back: re-run
        except Exception as err:
            self._error(err)


def _warnings(lines: Any) -> str:
    """Warning lines under a result table (numerically unstable runs, a non-quiescent cell...)."""
    return "".join(f"<div class='bmtl-prof-warning bmtl-err'>⚠ {html.escape(line)}</div>" for line in lines)
