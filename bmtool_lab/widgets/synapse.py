"""The synapse tuner dashboard: connection picker, protocol controls, one control per parameter,
live traces (TracePanel), metrics table, pin/compare, undo/redo and save with a diff preview.

Every control change re-runs at once through the tuner's worker ("latest wins"): the kernel
never blocks, and results arrive from a background thread through the tuner's listeners.
"""

from __future__ import annotations

import html
import math
import threading
import time
from typing import Any

import ipywidgets as w
import numpy as np

from bmtool_lab.analysis.metric_catalog import METRICS as METRIC_CATALOG
from bmtool_lab.analysis.metric_catalog import TRACE_CHARGE, TRACE_UNIT
from bmtool_lab.tuning.tuner_like import TunerLike

from ._format import METRIC_HELP, fmt_number, shown_unit
from .problems import problems_box
from .trace import TracePanel

#: Slider values closer together than this (s) belong to one drag: one undo step.
DRAG_GAP_S = 1.0

def _row_unit(unit: str) -> str | None:
    """A registry unit as the table row gives it: None = the run's own unit (of the analysed
    trace), "" = dimensionless."""
    return None if unit in (TRACE_UNIT, TRACE_CHARGE) else "" if unit == "1" else unit


#: The metrics table's rows (key, label, unit): a view of the metric registry
#: (:data:`bmtool_lab.analysis.metric_catalog.METRICS`, the metrics with ``table``).
METRIC_ROWS: list[tuple[str, str, str | None]] = [(m.key, m.label, _row_unit(m.unit))
                                                  for m in METRIC_CATALOG.values() if m.table]


#: How long "Saved N changes" stays before the save state line alone says what is unsaved (s).
SAVED_NOTE_S = 5.0
_fmt = fmt_number


def _scaled(value: Any, factor: float) -> Any:
    """``value`` × ``factor`` when it is a number (a unit change for display), else as it is."""
    return value * factor if isinstance(value, (int, float, np.floating)) and factor != 1.0 else value


def _metrics_help(metrics: dict) -> str:
    """A folded "what these mean" under the table: one line per STP index shown."""
    lines = "".join(f"<li data-help='{k}'>{html.escape(t)}</li>" for k, t in METRIC_HELP.items() if k in metrics)
    return (f"<details class='bmtl-syn-help'><summary>What the indices mean</summary><ul>{lines}</ul>"
            "<small>A<sub>n</sub>: the n-th response of the train.</small></details>" if lines else "")


def _shown(value: float) -> float:
    """A value as its box shows it: 6 significant digits (an optimizer's 0.52345678901234567
    reads 0.523457; the tuner keeps the exact value, the save diff shows it)."""
    v = float(value)
    return float(f"{v:.6g}") if math.isfinite(v) else v


def _y_from_ms(pulses: np.ndarray) -> float:
    """Where the y autoscale starts (ms): after the clamp's settling at t = 0, well before the first
    pulse (half the baseline, at most 100 ms before the pulse)."""
    if pulses.size == 0 or not np.isfinite(pulses).any():
        return 0.0
    first = float(np.nanmin(pulses))
    return max(0.0, first - min(100.0, first / 2.0))


class _ParamControl:
    """Slider (log or linear) + exact numeric box for one mechanism parameter."""

    def __init__(self, spec: Any, on_change) -> None:
        self.name = spec.name
        unit = f" ({spec.unit})" if getattr(spec, "unit", "") else ""
        self.label = w.HTML(f"<span title='{html.escape(getattr(spec, 'doc', '') or '')}'>"
                            f"{html.escape(spec.name)}{html.escape(unit)}</span>",
                            layout=w.Layout(flex="0 0 68px", overflow="hidden"))
        self.label.add_class("bmtl-syn-param-label")
        lo, hi = float(spec.min), float(spec.max)
        value = float(spec.value)
        self.log = getattr(spec, "scale", "linear") == "log" and lo > 0
        if self.log:
            self.slider = w.FloatLogSlider(value=min(max(value, lo), hi), base=10, min=math.log10(lo),
                                           max=math.log10(hi), step=0.01, readout=False, continuous_update=True,
                                           layout=w.Layout(flex="1 1 0", min_width="40px", width="auto"))
        else:
            step = getattr(spec, "step", None) or (hi - lo) / 200.0
            self.slider = w.FloatSlider(value=min(max(value, lo), hi), min=lo, max=hi, step=step, readout=False,
                                        continuous_update=True,
                                        layout=w.Layout(flex="1 1 0", min_width="40px", width="auto"))
        self.box = w.FloatText(value=_shown(value), layout=w.Layout(flex="0 0 66px", width="66px"))
        self.box.add_class("bmtl-syn-param-box")
        self.row = w.HBox([self.label, self.slider, self.box], layout=w.Layout(width="100%", overflow="hidden"))
        self.row.add_class(f"bmtl-syn-param-{spec.name}")
        self.row.add_class("bmtl-syn-param")
        self._on_change = on_change
        self._quiet = False
        self.slider.observe(self._slid, names="value")
        self.box.observe(self._typed, names="value")

    def _slid(self, change: dict) -> None:
        if self._quiet or self._is_echo(float(change["new"])):
            return
        with self.quiet():
            self.box.value = float(f"{change['new']:.6g}")
        self._on_change(self.name, float(f"{change['new']:.6g}"), True)

    def _is_echo(self, value: float) -> bool:
        """A slider snaps a value set from the kernel to its step and sends it back: that echo
        is not a user change (it would re-run and push a spurious undo entry)."""
        current = float(self.box.value)
        if self.log:
            if value <= 0 or current <= 0:
                return False
            return abs(math.log10(value) - math.log10(current)) <= self.slider.step * 0.51
        return abs(value - current) <= self.slider.step * 0.51

    def _typed(self, change: dict) -> None:
        if self._quiet:
            return
        value = float(change["new"])
        with self.quiet():
            if self.slider.min <= (math.log10(value) if self.log and value > 0 else value) <= self.slider.max:
                self.slider.value = value
        self._on_change(self.name, value, False)

    def set(self, value: float) -> None:
        """Show ``value`` without triggering a run (undo/redo, connection switch)."""
        with self.quiet():
            self.box.value = _shown(value)
            try:
                self.slider.value = float(value)
            except Exception:  # out of the slider's range: the box holds the exact value
                pass

    def quiet(self):
        control = self

        class _Quiet:
            def __enter__(self):
                control._quiet = True

            def __exit__(self, *exc):
                control._quiet = False

        return _Quiet()


class SynapseDashboard:
    """Widgets bound to a :class:`~bmtool_lab.tuning.synapse.SynapseTuner` (any
    :class:`~bmtool_lab.tuning.tuner_like.TunerLike`: the dashboard uses no other member)."""

    def __init__(self, tuner: TunerLike) -> None:
        self.tuner = tuner
        self._lock = threading.Lock()
        self._controls: dict[str, _ParamControl] = {}
        self._last = None
        self._drag: tuple[str, float] | None = None
        self._own_change = False
        self.panel = TracePanel(title="", height=280)
        self.panel.add_class("bmtl-syn-trace")
        self._build()
        tuner.add_listener(self._on_event)
        self._load_connection()

    # --- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        t = self.tuner
        self.connection = w.Dropdown(options=self._connection_options(), description="connection",
                                     layout=w.Layout(width="auto"))
        self.connection.add_class("bmtl-syn-connection")
        self.connection.observe(self._picked, names="value")
        self.info = w.HTML()
        self.info.add_class("bmtl-syn-info")
        p = t.protocol
        self.kind = w.ToggleButtons(options=[("single event", "single"), ("train", "train"), ("poisson", "poisson")],
                                    value="train", style={"button_width": "auto"})
        self.kind.add_class("bmtl-syn-kind")
        self.clamp = w.ToggleButtons(options=[("voltage clamp", "voltage"), ("current clamp", "current")],
                                     value=p.clamp, style={"button_width": "auto"})
        self.clamp.add_class("bmtl-syn-clamp")
        self.freq = w.BoundedFloatText(value=p.freq_hz, min=0.1, max=500, description="f (Hz)",
                                       layout=w.Layout(width="150px"))
        self.delay = w.BoundedFloatText(value=p.delay_ms, min=0, max=5000, description="delay (ms)",
                                        layout=w.Layout(width="170px"))
        self.hold = w.BoundedFloatText(value=p.hold_mV, min=-120, max=40, description="hold (mV)",
                                       layout=w.Layout(width="170px"))
        for ctl, css in ((self.freq, "bmtl-syn-freq"), (self.delay, "bmtl-syn-delay"), (self.hold, "bmtl-syn-hold")):
            ctl.add_class(css)
        for ctl in (self.kind, self.clamp, self.freq, self.delay, self.hold):
            ctl.observe(self._protocol_changed, names="value")
        self.params_box = w.VBox(layout=w.Layout(width="100%"))
        self.params_box.add_class("bmtl-syn-params")

        def button(label: str, cls: str, handler, tip: str = "") -> w.Button:
            b = w.Button(description=label, tooltip=tip, layout=w.Layout(width="auto"))
            b.add_class(cls)
            b.on_click(lambda _: handler())
            return b

        self.undo_btn = button("Undo", "bmtl-syn-undo", self.undo, "undo the last parameter change")
        self.redo_btn = button("Redo", "bmtl-syn-redo", self.redo, "redo")
        self.pin_btn = button("Pin", "bmtl-syn-pin", self.pin, "keep this run as a dashed overlay (A/B)")
        self.unpin_btn = button("Unpin", "bmtl-syn-unpin", self.unpin, "remove the pinned overlay")
        self.save_btn = button("Save…", "bmtl-syn-save", self.preview_save, "write the tuned parameters to the JSON")
        self.confirm_btn = button("Write to file", "bmtl-syn-confirm", self.confirm_save)
        self.confirm_btn.button_style = "warning"
        self.cancel_btn = button("Cancel", "bmtl-syn-cancel", self._hide_save)
        self.save_box = w.VBox([w.HTML(), w.HBox([self.confirm_btn, self.cancel_btn])],
                               layout=w.Layout(display="none"))
        self.save_box.add_class("bmtl-syn-savebox")
        # the optimizer's Fit panel, built on first use, shown under the parameter controls
        self.optimize_btn = w.ToggleButton(description="Optimize…", value=False, layout=w.Layout(width="auto"),
                                           tooltip="fit parameters to target metrics")
        self.optimize_btn.add_class("bmtl-syn-optimize")
        self.optimize_btn.observe(self._toggle_fit, names="value")
        self.fit_box = w.VBox(layout=w.Layout(display="none", width="100%"))
        self.fit_box.add_class("bmtl-syn-fitbox")
        self._fit_panel = None
        self.metrics = w.HTML()
        self.metrics.add_class("bmtl-syn-metrics")
        self.metrics_help = w.HTML()
        self.metrics_help.add_class("bmtl-syn-metrics-help")
        self.save_state = w.HTML()
        self.save_state.add_class("bmtl-syn-save-state")
        self._saved_timer: threading.Timer | None = None
        self.message = w.HTML()
        self.message.add_class("bmtl-syn-message")
        self.box = w.VBox([
            *problems_box(getattr(self.tuner, "model_problems", [])),
            self.connection, self.info,
            w.HBox([self.kind, self.clamp], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.freq, self.delay, self.hold], layout=w.Layout(flex_flow="row wrap")),
            self.params_box,
            w.HBox([self.undo_btn, self.redo_btn, self.pin_btn, self.unpin_btn, self.save_btn, self.optimize_btn,
                    self.save_state], layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.fit_box, self.save_box, self.message, self.panel, self.metrics, self.metrics_help,
        ], layout=w.Layout(width="100%", min_width="0"))
        self.box.add_class("bmtl-syn-tuner")

    def _connection_options(self) -> list[tuple[str, Any]]:
        t = self.tuner
        unsaved = set(getattr(t, "unsaved", []) or [])
        opts = []
        for ct in sorted(t.connections, key=lambda c: (str(c.source_groups), str(c.target_groups), c.name)):
            src = ",".join(map(str, ct.source_groups)) or ct.source_population
            trg = ",".join(map(str, ct.target_groups)) or ct.target_population
            mark = " ●" if ct.name in unsaved else ""
            opts.append((f"{src} → {trg} · {ct.name}{mark}", ct.name))
        return opts

    # --- controls -> tuner ----------------------------------------------------------------
    def _picked(self, change: dict) -> None:
        if change["new"] is None or self._lock.locked():
            return
        try:
            self.tuner.select(change["new"])
        except Exception as err:  # a broken connection type: say so, keep the dashboard
            self._error(err)
            return
        self._load_connection()

    def _load_connection(self) -> None:
        t = self.tuner
        ct = getattr(t, "current", None)
        if ct is not None and self.connection.value != ct.name:
            with self._lock:
                self.connection.value = ct.name
        self._controls = {}
        rows = []
        for spec in t.param_specs:
            ctl = _ParamControl(spec, self._param_changed)
            self._controls[spec.name] = ctl
            rows.append(ctl.row)
        self.params_box.children = rows
        if ct is not None:
            place = getattr(t, "placement", None) or ""
            self.info.value = (f"<small>{html.escape(str(ct.model_template or ''))} · {ct.n_edges} edges, "
                               f"{ct.n_synapses} synapses · weight {_fmt(ct.syn_weight)} µS · delay "
                               f"{_fmt(ct.delay)} ms · {html.escape(str(ct.dynamics_params or ''))}"
                               f"{' · ' + html.escape(str(place)) if place else ''}</small>")
        self._update_buttons()
        if self._fit_panel is not None:
            self._fit_panel.reload()
        self.run()

    def _toggle_fit(self, change: dict) -> None:
        if change["new"] and self._fit_panel is None:
            try:
                # local: heavy: bqplot, pandas (widgets.optimizer), only for the Fit tab
                from .optimizer import FitPanel

                self._fit_panel = FitPanel(self.tuner)
            except Exception as err:
                self._error(err)
                return
            # shown before its children render: a bqplot figure drawn while hidden has a negative
            # size (console errors "<rect> attribute width: A negative value")
            self.fit_box.layout.display = "flex"
            self.fit_box.children = [self._fit_panel.box]
        self.fit_box.layout.display = "flex" if change["new"] else "none"

    def _param_changed(self, name: str, value: float, from_slider: bool = False) -> None:
        # The values of one slider drag (the same slider, each < DRAG_GAP_S after the last, and
        # nothing else changed in between) are one undo step.
        now = time.monotonic()
        drag = self._drag
        merge = (from_slider and drag is not None and drag[0] == name and now - drag[1] < DRAG_GAP_S)
        self._own_change = True
        try:
            self.tuner.set_params(merge=merge, **{name: value})
        except Exception as err:  # out of range, tau1 >= tau2, ...: show it, keep the old run
            self._error(err)
            return
        finally:
            self._own_change = False
        self._drag = (name, now) if from_slider else None
        self._update_buttons()
        self.run()

    def _protocol_changed(self, change: dict) -> None:
        try:
            self.tuner.set_protocol(clamp=self.clamp.value, freq_hz=float(self.freq.value),
                                    delay_ms=float(self.delay.value), hold_mV=float(self.hold.value))
        except Exception as err:
            self._error(err)
            return
        self.run(autoscale=True)

    def run(self, autoscale: bool = False) -> None:
        self._autoscale = autoscale or self._last is None
        self._clear_message()
        self.panel.status = "running…"
        self.tuner.submit(kind=self.kind.value)

    def undo(self) -> None:
        self.tuner.undo()
        self._sync_controls()
        self.run()

    def redo(self) -> None:
        self.tuner.redo()
        self._sync_controls()
        self.run()

    def _sync_controls(self) -> None:
        for name, value in self.tuner.params.items():
            if name in self._controls:
                self._controls[name].set(value)
        self._update_buttons()

    def _update_buttons(self) -> None:
        t = self.tuner
        self.undo_btn.disabled = not t.can_undo
        self.redo_btn.disabled = not t.can_redo
        self.unpin_btn.disabled = t.pinned is None
        self._show_save_state()
        opts = self._connection_options()
        if [o[0] for o in opts] != [o[0] for o in self.connection.options]:
            with self._lock:
                value = self.connection.value
                self.connection.options = opts
                self.connection.value = value

    def pin(self) -> None:
        self.tuner.pin()
        self._update_buttons()
        if self._last is not None:
            self._draw(self._last)

    def unpin(self) -> None:
        self.tuner.pinned = None
        self._update_buttons()
        if self._last is not None:
            self._draw(self._last)

    def preview_save(self) -> None:
        try:
            text = self.tuner.preview_save()
        except Exception as err:
            self._error(err)
            return
        note = self.save_box.children[0]
        changed = bool(text) and text != "no changes"
        note.value = (f"<b>Write to {html.escape(str(self.tuner.current.dynamics_path))}:</b>"
                      f"<pre class='bmtl-syn-diff'>{html.escape(text if changed else 'nothing unsaved: the file holds these values')}</pre>")
        self.save_box.layout.display = "flex"

    def confirm_save(self) -> None:
        try:
            res = self.tuner.save()
        except Exception as err:
            self._error(err)
            return
        self._hide_save()
        backup = getattr(res, "backup_path", None)
        n = len(getattr(res, "changes", []) or [])
        self._show_message(f"<span class='bmtl-ok'>Saved {n} change{'' if n == 1 else 's'} to "
                           f"{html.escape(str(res.path))}"
                           f"{' (previous version: ' + html.escape(str(backup)) + ')' if backup else ''}</span>",
                           clear_after_s=SAVED_NOTE_S)
        self._update_buttons()

    def _hide_save(self) -> None:
        self.save_box.layout.display = "none"

    def _show_save_state(self) -> None:
        """Beside Save…: whether the selected connection differs from its file."""
        ct = getattr(self.tuner, "current", None)
        dirty = ct is not None and ct.name in set(getattr(self.tuner, "unsaved", []) or [])
        self.save_state.value = ("<span class='bmtl-syn-unsaved'>unsaved changes</span>" if dirty
                                 else "<span class='bmtl-muted'>nothing unsaved</span>")

    def _show_message(self, text: str, clear_after_s: float | None = None) -> None:
        """A message under the buttons; a passing one (``clear_after_s``) clears itself, and
        every new run clears it too."""
        self._clear_message()
        self.message.value = text
        if clear_after_s is not None:
            timer = threading.Timer(clear_after_s, self._clear_message, kwargs={"only": text})
            timer.daemon = True
            self._saved_timer = timer
            timer.start()

    def _clear_message(self, only: str | None = None) -> None:
        if only is None and self._saved_timer is not None:
            self._saved_timer.cancel()
            self._saved_timer = None
        if only is None or self.message.value == only:
            self.message.value = ""

    # --- tuner -> widgets -----------------------------------------------------------------
    def _on_event(self, event: str, payload: Any) -> None:
        try:
            if event == "partial":
                self._draw_partial(payload)
            elif event == "result":
                self._last = payload
                self._draw(payload)
            elif event == "error":
                self._error(payload)
            elif event == "params":
                if not self._own_change:
                    self._drag = None  # undo, redo, Apply, code: the next drag is a new step
                self._sync_controls()
            elif event == "saved":
                self._update_buttons()
        except Exception as err:  # never let a drawing bug kill the listener thread silently
            self.message.value = f"<span class='bmtl-err'>dashboard error: {html.escape(repr(err))}</span>"

    def _trace_of(self, result: Any) -> tuple[np.ndarray, np.ndarray, str, str]:
        traces = result.traces
        p = getattr(result, "protocol", self.tuner.protocol)
        clamp = getattr(p, "clamp", "voltage")
        if clamp == "voltage" and "i_clamp" in traces:
            return np.asarray(result.t_ms), np.asarray(traces["i_clamp"]) * 1e3, "clamp current", "i (pA)"
        key = "v_soma" if "v_soma" in traces else next(iter(traces))
        return np.asarray(result.t_ms), np.asarray(traces[key]), "soma v", "v (mV)"

    def _draw_partial(self, partial: dict) -> None:
        t = partial.get("t_ms")
        traces = partial.get("traces") or {}
        if t is None or not traces:
            return
        key = "i_clamp" if "i_clamp" in traces else next(iter(traces))
        scale = 1e3 if key == "i_clamp" else 1.0
        self.panel.push(t, [np.asarray(traces[key]) * scale], [{"label": "clamp current" if key == "i_clamp" else "soma v", "color": "#1f77b4"}],
                        status="running…", final=False,
                        y_from_ms=_y_from_ms(np.asarray([self.tuner.protocol.t_start_ms], dtype=float)))

    def _draw(self, result: Any) -> None:
        t, y, label, ylabel = self._trace_of(result)
        series = [{"label": label, "color": "#1f77b4"}]
        ys = [y]
        pinned = self.tuner.pinned
        if pinned is not None:
            pt, py, plabel, _ = self._trace_of(pinned)
            if len(pt):
                ys.append(np.interp(t, pt, py, left=np.nan, right=np.nan))
                series.append({"label": f"pinned {plabel}", "color": "#d62728", "dash": True})
        self.panel.y_label = ylabel
        name = self.tuner.current.name if getattr(self.tuner, "current", None) is not None else ""
        self.panel.title = f"{name}: {label}"
        pulses = np.asarray(getattr(result, "pulse_times_ms", ()), dtype=float)
        self.panel.push(t, ys, series, markers=pulses.tolist(), status=self._status(result),
                        autoscale=getattr(self, "_autoscale", True), y_from_ms=_y_from_ms(pulses))
        self._autoscale = False
        self.metrics.value = self._metrics_table(result, pinned)
        help_text = _metrics_help(result.metrics)
        if self.metrics_help.value != help_text:  # a rewrite would fold it while the user reads it
            self.metrics_help.value = help_text

    def _status(self, result: Any) -> str:
        wall = getattr(result, "wall_ms", None)
        return "done" + (f" in {wall:.0f} ms" if wall is not None else "")

    def _metrics_table(self, result: Any, pinned: Any) -> str:
        m = result.metrics
        pm = pinned.metrics if pinned is not None else {}
        units = getattr(result, "units", {}) or {}
        rows = []
        for key, label, unit in METRIC_ROWS:
            if key not in m:
                continue
            u, k = shown_unit(unit if unit is not None else units.get(key, ""))
            pin = pm.get(key)
            digits = METRIC_CATALOG[key].digits
            pin_cell = f"<td class='bmtl-pinned'>{_fmt(_scaled(pin, k), digits)}</td>" if pinned is not None else ""
            tip = f" title='{html.escape(METRIC_HELP[key])}'" if key in METRIC_HELP else ""
            rows.append(f"<tr data-metric='{key}'><td{tip}>{label}</td><td class='bmtl-val'>"
                        f"{_fmt(_scaled(m[key], k), digits)}"
                        f"</td><td>{html.escape(u or '')}</td>{pin_cell}</tr>")
        reason = (getattr(result, "info", None) or {}).get("no_response")
        if reason:
            rows.append(f"<tr data-metric='no_response' class='bmtl-warn'><td>no response</td>"
                        f"<td colspan='3'>{html.escape(reason)}</td></tr>")
        amps = m.get("amplitudes")
        if amps is not None and len(amps):
            u, k = shown_unit(units.get("amplitudes", units.get("amplitude", "")))
            a_m = METRIC_CATALOG["amplitudes"]
            rows.append(f"<tr data-metric='amplitudes'><td>{a_m.label}{f' ({html.escape(u)})' if u else ''}</td>"
                        f"<td colspan='3'>{', '.join(_fmt(_scaled(a, k), a_m.digits) for a in amps)}</td></tr>")
        head = "<tr><th>metric</th><th>value</th><th>unit</th>" + ("<th>pinned</th>" if pinned is not None else "") \
            + "</tr>"
        notes = [n for n in (getattr(result, "notes", None) or []) if not n.startswith("no response")]
        listed = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        return (f"<table class='bmtl-syn-table'>{head}{''.join(rows)}</table>"
                + (f"<ul class='bmtl-syn-notes'>{listed}</ul>" if listed else ""))

    def _error(self, err: Any) -> None:
        text = getattr(err, "message", None) or str(err)
        detail = getattr(err, "detail", "") or ""
        self.panel.show_error(text + (f"\n{detail[-600:]}" if detail else ""))
        self.message.value = f"<span class='bmtl-err'>{html.escape(text)}</span>"
