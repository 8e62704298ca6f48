"""The cell profiler dashboard on a PointNet (NEST) model: pick a point-cell type, see its NEST
model and closed-form numbers, run the passive step (V_m trace, R_in, tau), the rheobase and
the F–I curve (over the sweep executor's workers) — each in a background thread, so the kernel
stays free; the last result of each stays on screen.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ._format import fmt_number
from .trace import TracePanel

__all__ = ["PointProfilerDashboard"]

#: (key, label, unit) of the numbers table
_ROWS = (("v_rest_mV", "V_rest", "mV"), ("r_in_MOhm", "R_in", "MΩ"), ("tau_ms", "τ_m", "ms"),
         ("rheobase_pA", "rheobase", "pA"), ("fit_r2", "τ fit R²", ""))


class PointProfilerDashboard:
    """Widgets bound to a :class:`~bmtool_lab.tuning.pointnet_profiler.PointCellProfiler`;
    ``box`` is the widget shown. ``run_passive`` / ``run_rheobase`` / ``run_fi`` start a run
    (what the buttons do) and return its thread."""

    def __init__(self, profiler: Any) -> None:
        self.profiler = profiler
        self._busy = threading.Lock()
        self.measured: dict[str, dict[str, float]] = {}  # cell -> measured numbers
        self.cell = w.Dropdown(options=[ct.key for ct in profiler.cell_types], value=profiler.current.key,
                               description="cell", layout=w.Layout(width="auto"))
        self.cell.add_class("bmtl-prof-cell")
        self.cell.observe(self._picked, names="value")
        self.info = w.HTML()
        self.info.add_class("bmtl-prof-info")
        self.amp = w.FloatText(value=-10.0, description="step (pA)", layout=w.Layout(width="160px"))
        self.fi_start = w.FloatText(value=0.0, description="F–I from", layout=w.Layout(width="150px"))
        self.fi_stop = w.FloatText(value=1000.0, description="to (pA)", layout=w.Layout(width="150px"))
        self.fi_step = w.FloatText(value=50.0, description="by", layout=w.Layout(width="130px"))
        self.passive_btn = self._button("Passive", "bmtl-prof-passive", self.run_passive)
        self.rheobase_btn = self._button("Rheobase", "bmtl-prof-rheobase", self.run_rheobase)
        self.fi_btn = self._button("F–I", "bmtl-prof-fi", self.run_fi)
        self.numbers = w.HTML()
        self.numbers.add_class("bmtl-prof-numbers")
        self.message = w.HTML()
        self.message.add_class("bmtl-prof-message")
        self.trace = TracePanel(title="passive step: V_m", height=220)
        self.trace.y_label = "V_m (mV)"
        self.fi = TracePanel(title="F–I", height=220)
        self.fi.x_label, self.fi.y_label = "I (pA)", "rate (Hz)"
        self.fi.add_class("bmtl-prof-fi-plot")
        self.box = w.VBox([
            self.cell, self.info,
            w.HBox([self.amp, self.passive_btn, self.rheobase_btn], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.fi_start, self.fi_stop, self.fi_step, self.fi_btn], layout=w.Layout(flex_flow="row wrap")),
            self.message, self.numbers, self.trace, self.fi,
        ], layout=w.Layout(width="100%", min_width="0"))
        self.box.add_class("bmtl-prof-pointnet")
        self._show_info()

    @staticmethod
    def _button(label: str, css: str, handler: Callable[[], Any]) -> w.Button:
        b = w.Button(description=label, layout=w.Layout(width="auto"))
        b.add_class(css)
        b.on_click(lambda _: handler())
        return b

    # --- selection ------------------------------------------------------------------------
    def _picked(self, change: dict) -> None:
        try:
            self.profiler.select(change["new"])
        except Exception as err:
            self._error(err)
            return
        self._show_info()

    def _show_info(self) -> None:
        """The NEST model and its closed-form numbers (a describe run in a worker, in the background)."""
        key = self.profiler.current.key

        def work() -> None:
            info = self.profiler.describe()
            model = self.profiler.model_numbers()
            if self.profiler.current.key != key:
                return
            self.info.value = (f"<small>{html.escape(key)}: NEST <b>{html.escape(info['model'])}</b> · "
                               f"{html.escape(str(self.profiler.current.dynamics_params or ''))}</small>")
            self._table(model)

        self._start(work, lock=False)

    def _table(self, model: dict[str, float]) -> None:
        got = self.measured.get(self.profiler.current.key, {})
        rows = "".join(
            f"<tr data-metric='{k}'><td>{label}</td><td class='bmtl-val'>{fmt_number(got.get(k, float('nan')))}</td>"
            f"<td>{fmt_number(model.get(k, float('nan')))}</td><td>{unit}</td></tr>"
            for k, label, unit in _ROWS if k in got or k in model)
        self.numbers.value = ("<table class='bmtl-prof-table'><tr><th></th><th>measured</th><th>from the model"
                              f"</th><th>unit</th></tr>{rows}</table>")

    # --- runs -----------------------------------------------------------------------------
    def _start(self, work: Callable[[], None], lock: bool = True) -> threading.Thread:
        def body() -> None:
            if lock and not self._busy.acquire(blocking=False):
                self.message.value = "<span class='bmtl-muted'>a run is going: wait for it</span>"
                return
            try:
                work()
            except Exception as err:  # NEST's rejection, a bad range...: shown, the dashboard lives on
                self._error(err)
            finally:
                if lock:
                    self._busy.release()

        thread = threading.Thread(target=body, daemon=True, name="bmtool-lab-point-profiler")
        thread.start()
        return thread

    def _remember(self, numbers: dict[str, float]) -> None:
        self.measured.setdefault(self.profiler.current.key, {}).update(numbers)
        self._table(self.profiler.model_numbers())

    def run_passive(self) -> threading.Thread:
        """The passive step of ``amp`` pA: V_m trace, V_rest, R_in, tau."""
        def work() -> None:
            self.message.value = "passive step…"
            res = self.profiler.passive(amp_pA=float(self.amp.value))
            self.trace.title = f"{res.cell}: {res.amp_pA:g} pA step"
            self.trace.push(res.t_ms, [res.v_mV], [{"label": "V_m", "unit": "mV", "color": "#1f77b4"}],
                            status="done", autoscale=True)
            self._remember(res.numbers)
            self.message.value = ""

        return self._start(work)

    def run_rheobase(self) -> threading.Thread:
        """The rheobase (pA, 1 pA grid) of the selected cell."""
        def work() -> None:
            self.message.value = "rheobase…"
            self._remember({"rheobase_pA": self.profiler.rheobase()})
            self.message.value = ""

        return self._start(work)

    def run_fi(self) -> threading.Thread:
        """The F–I curve from ``fi_start`` to ``fi_stop`` by ``fi_step`` (pA), over the workers."""
        def work() -> None:
            self.message.value = f"F–I on {self.profiler.n_workers} worker(s)…"
            res = self.profiler.fi_curve(float(self.fi_start.value), float(self.fi_stop.value),
                                         float(self.fi_step.value))
            amps = res.table["amp_pA"].to_numpy(dtype=float)
            self.fi.title = f"{res.cell}: F–I"
            self.fi.push(amps, [res.table["rate_hz"].to_numpy(dtype=float)],
                         [{"label": "rate", "unit": "Hz", "color": "#d62728"}],
                         status=f"done in {res.wall_ms:.0f} ms", autoscale=True)
            if np.isfinite(res.rheobase_pA):
                self.measured.setdefault(res.cell, {}).setdefault("rheobase_pA", res.rheobase_pA)
            self.message.value = ""

        return self._start(work)

    def _error(self, err: Any) -> None:
        text = getattr(err, "message", None) or str(err)
        self.message.value = f"<span class='bmtl-err'>{html.escape(text)}</span>"
