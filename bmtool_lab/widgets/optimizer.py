"""The Fit panel: choose parameters and bounds, targets, weights and protocols, press Start, watch
the error fall (bqplot), the best metrics against the targets and the best trace over the
tuner's current one, Stop at any time, Apply the best to the tuner's sliders, save them.

The fit runs in a background thread (``SynapseOptimizer.fit_async``) whose evaluations run in the
sweep executor's workers: the kernel stays free, and widget updates are paced (≤ 4 per second,
a final one always) so the browser is never flooded.
"""

from __future__ import annotations

import html
import math
import threading
import time
from pathlib import Path
from typing import Any

import bqplot as bq
import ipywidgets as w
import numpy as np

from bmtool_lab.analysis.metric_catalog import METRICS as METRIC_CATALOG
from bmtool_lab.tuning.fit_problem import METHODS, METRICS, PENALTY, OptimizerError, _parse_protocol
from bmtool_lab.tuning.optimizer import SynapseOptimizer
from bmtool_lab.tuning.tuner_like import TunerLike

from ._format import METRIC_HELP, fmt_number, shown_unit
from .trace import TracePanel

_STP_PARAMS = ("Use", "U", "Dep", "Fac")
#: A target's name (its unit follows in the row): the registry's short names.
_LABELS = {k: METRIC_CATALOG[k].name for k in METRICS}


_fmt = fmt_number


def _short(v: float) -> float:
    """A value for a narrow box: 4 significant digits."""
    v = float(v)
    return float(f"{v:.4g}") if math.isfinite(v) else v


def _default_bounds(spec: Any) -> tuple[float, float]:
    """Starting bounds of a parameter: fractions 0.01..1, time constants value/4..value·4
    (0..1000 ms when 0 means "off"), others the slider's range."""
    v = float(spec.value)
    if spec.min >= 0 and spec.max <= 1:
        return 0.01, 1.0
    if spec.unit == "ms" or spec.name.lower().startswith("tau"):
        return (round(v / 4, 6), round(v * 4, 6)) if v > 0 else (0.0, 1000.0)
    return float(spec.min), float(spec.max)


class _ParamRow:
    def __init__(self, spec: Any, bounds: tuple | None) -> None:
        self.name = spec.name
        lo, hi = bounds[:2] if bounds else (_short(b) for b in _default_bounds(spec))
        auto = w.Layout(width="auto")
        self.fit = w.Checkbox(value=bounds is not None, indent=False, layout=auto)
        self.lo = w.FloatText(value=_short(lo), layout=auto)
        self.hi = w.FloatText(value=_short(hi), layout=auto)
        self.log = w.Checkbox(value=bool(bounds and len(bounds) == 3 and bounds[2] == "log"), indent=False,
                              layout=w.Layout(width="auto"), tooltip="search on a log scale (bounds > 0)")
        self.log.add_class("bmtl-opt-log")
        self.lo.observe(lambda _: self._offer_log(), names="value")
        self._offer_log()
        unit = f" ({spec.unit})" if spec.unit else ""
        label = w.HTML(f"<span title='{html.escape(spec.doc)}'>{html.escape(spec.name)}{html.escape(unit)}</span>",
                       layout=auto)
        self.best = w.HTML(layout=auto)
        self.best.add_class("bmtl-opt-best-value")
        self.row = w.HBox([self.fit, label, self.lo, self.hi, self.log, self.best], layout=w.Layout(width="100%"))
        self.row.add_class("bmtl-opt-param")
        self.row.add_class("bmtl-opt-grid")
        self.row.add_class(f"bmtl-opt-param-{spec.name}")

    def _offer_log(self) -> None:
        """A log scale needs bounds > 0: not offered while the lower bound is <= 0 (erev -100…20)."""
        ok = float(self.lo.value) > 0
        self.log.layout.visibility = "visible" if ok else "hidden"
        if not ok:
            self.log.value = False

    def bounds(self) -> tuple | None:
        if not self.fit.value:
            return None
        b = (float(self.lo.value), float(self.hi.value))
        return (*b, "log") if self.log.value else b


class _TargetRow:
    """One target: its value box shows the metric in the unit the tuner shows it in (``unit``,
    ``factor`` from the metric's own unit: amplitudes in pA under voltage clamp)."""

    def __init__(self, metric: str, value: float, weight: float, protocol: str, on: bool,
                 unit: str = "", factor: float = 1.0) -> None:
        self.metric, self.factor = metric, factor
        auto = w.Layout(width="auto")
        self.fit = w.Checkbox(value=on, indent=False, layout=auto)
        tip = METRIC_HELP.get(metric, METRICS[metric][2])
        name = _LABELS.get(metric, metric) + (f" ({unit})" if unit else "")
        label = w.HTML(f"<span class='bmtl-opt-metric' title='{html.escape(tip)}'>{html.escape(name)}</span>",
                       layout=auto)
        self._given = (value * factor, value)  # the box's value and the target it stands for, exactly
        self.value = w.FloatText(value=value * factor, layout=auto)
        self.weight = w.BoundedFloatText(value=weight, min=0, max=1e6, layout=auto)
        self.protocol = w.Text(value=protocol, placeholder="tuner", layout=auto)
        self.row = w.HBox([self.fit, label, self.value, self.weight, self.protocol], layout=w.Layout(width="100%"))
        self.row.add_class("bmtl-opt-target")
        self.row.add_class("bmtl-opt-grid")
        self.row.add_class(f"bmtl-opt-target-{metric}")

    @property
    def key(self) -> str:
        p = self.protocol.value.strip()
        return f"{self.metric}@{p}" if p else self.metric

    @property
    def target(self) -> float:
        """The target in the optimizer's units (the metric's own: nA, mV, ms)."""
        shown = float(self.value.value)
        return self._given[1] if shown == self._given[0] else shown / self.factor


def _protocol_words(kind: str, overrides: dict[str, Any], base: Any) -> str:
    """A fit protocol in words: the tuner's protocol ``base`` with a fit protocol's overrides."""
    get = lambda k: overrides.get(k, getattr(base, k))  # noqa: E731
    clamp = get("clamp")
    clamp_words = f"{clamp} clamp" + (f" at {get('hold_mV'):g} mV" if clamp == "voltage" else "")
    if kind == "single":
        return f"a single event under {clamp_words}"
    return (f"a train of {get('n_train')} pulses at {get('freq_hz'):g} Hz, {get('n_rec')} recovery pulses "
            f"{get('delay_ms'):g} ms later, under {clamp_words}")


def fit_panel(optimizer: SynapseOptimizer) -> FitPanel:
    """The Fit panel an optimizer shows (its dashboard kind's factory, bmtool_lab.tuning.kinds)."""
    return FitPanel(optimizer.tuner, optimizer=optimizer)


class FitPanel:
    """The Fit panel of a :class:`~bmtool_lab.tuning.synapse.SynapseTuner`; ``optimizer`` (a
    :class:`SynapseOptimizer`) fills the controls, else they start from the tuner's values."""

    def __init__(self, tuner: TunerLike, optimizer: SynapseOptimizer | None = None) -> None:
        self.tuner = tuner
        self.optimizer = optimizer
        self._lock = threading.Lock()
        self._points_x: list[float] = []
        self._points_y: list[float] = []
        self._n_evals = 0
        self._n_bad = 0
        self._best: Any = None
        self._budget = 1
        self._t0 = time.monotonic()
        self._t0_count = 0
        self._last_flush = 0.0
        self._dirty = False
        self._running = False
        self._pending_save = False
        self.box = w.VBox(layout=w.Layout(width="100%", min_width="0"))
        self.box.add_class("bmtl-opt-panel")
        self._build_static()
        self.reload()
        tuner.add_listener(self._on_tuner)

    # --- layout ---------------------------------------------------------------------------
    def _build_static(self) -> None:
        def button(label: str, cls: str, handler: Any, tip: str = "", style: str = "") -> w.Button:
            b = w.Button(description=label, tooltip=tip, button_style=style, layout=w.Layout(width="auto"))
            b.add_class(cls)
            b.on_click(lambda _: self._guard(handler))
            return b

        self.method = w.Dropdown(options=list(METHODS), value="de", description="method",
                                 layout=w.Layout(width="200px"))
        self.method.add_class("bmtl-opt-method")
        self.seed = w.IntText(value=1, description="seed", layout=w.Layout(width="140px"))
        self.seed.add_class("bmtl-opt-seed")
        self.maxiter = w.BoundedIntText(value=30, min=0, max=100000, description="iterations",
                                        tooltip="DE generations / local iterations", layout=w.Layout(width="170px"))
        self.maxiter.add_class("bmtl-opt-maxiter")
        self.popsize = w.BoundedIntText(value=10, min=1, max=1000, description="pop. ×",
                                        tooltip="DE population per fitted parameter", layout=w.Layout(width="150px"))
        self.popsize.add_class("bmtl-opt-popsize")
        self.start_btn = button("Start", "bmtl-opt-start", self.start, "start a new fit", "primary")
        self.stop_btn = button("Stop", "bmtl-opt-stop", self.stop, "stop; the best so far is kept", "danger")
        self.continue_btn = button("Continue", "bmtl-opt-continue", self.resume, "continue the stopped fit")
        self.apply_btn = button("Apply", "bmtl-opt-apply", self.apply, "set the best values on the tuner's sliders")
        self.save_btn = button("Save…", "bmtl-opt-save", self.preview_save,
                               "apply the best and write it to the connection's dynamics JSON")
        self.confirm_btn = button("Write to file", "bmtl-opt-confirm", self.confirm_save, style="warning")
        self.cancel_btn = button("Cancel", "bmtl-opt-cancel", self._hide_save)
        self.fit_path = w.Text(placeholder="fit.json", layout=w.Layout(width="160px"))
        self.fit_path.add_class("bmtl-opt-fit-path")
        self.save_fit_btn = button("Save fit", "bmtl-opt-save-fit", self.save_fit,
                                   "write the whole fit (history, state) to resume it later")
        self.save_box = w.VBox([w.HTML(), w.HBox([self.confirm_btn, self.cancel_btn])],
                               layout=w.Layout(display="none"))
        self.save_box.add_class("bmtl-opt-savebox")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="auto"))
        self.progress.add_class("bmtl-opt-progress")
        self.status = w.HTML()
        self.status.add_class("bmtl-opt-status")
        self.message = w.HTML()
        self.message.add_class("bmtl-opt-message")
        sx, sy = bq.LinearScale(), bq.LogScale()
        self.dots = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=["#9bb7d4"], default_size=10)
        self.best_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["#d62728"])
        self.error_plot = bq.Figure(marks=[self.dots, self.best_line],
                                    axes=[bq.Axis(scale=sx, label="evaluation"),
                                          bq.Axis(scale=sy, label="error", side="left",
                                                  tick_format=".0e")],
                                    fig_margin={"top": 10, "bottom": 40, "left": 60, "right": 10},
                                    layout=w.Layout(width="100%", height="220px"))
        self.error_plot.add_class("bmtl-opt-error-plot")
        self.trace = TracePanel(title="", height=220)
        self.trace.add_class("bmtl-opt-trace")
        self.metrics = w.HTML()
        self.metrics.add_class("bmtl-opt-metrics")
        self.params_box = w.VBox()
        self.params_box.add_class("bmtl-opt-params")
        self.targets_box = w.VBox()
        self.targets_box.add_class("bmtl-opt-targets")
        self.targets_note = w.HTML()
        self.targets_note.add_class("bmtl-opt-protocol-note")
        self.box.children = [
            w.HTML("<b>Parameters</b>"),
            w.HTML("<div class='bmtl-opt-grid bmtl-opt-grid-head bmtl-opt-param-head'><span>fit</span>"
                   "<span>name</span><span>lower</span><span>upper</span>"
                   "<span title='search on a log scale (bounds > 0)'>log</span><span>best</span></div>"),
            self.params_box,
            w.HTML("<b>Targets</b>"), self.targets_note,
            w.HTML("<div class='bmtl-opt-grid bmtl-opt-grid-head bmtl-opt-target-head'><span>fit</span>"
                   "<span>metric</span><span>target</span><span>weight</span><span>protocol</span></div>"),
            self.targets_box,
            w.HBox([self.method, self.seed, self.maxiter, self.popsize], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.start_btn, self.stop_btn, self.continue_btn, self.apply_btn, self.save_btn,
                    self.fit_path, self.save_fit_btn], layout=w.Layout(flex_flow="row wrap")),
            self.save_box, self.progress, self.status, self.message, self.error_plot, self.trace, self.metrics,
        ]

    def reload(self) -> None:
        """(Re)build the parameter and target rows for the tuner's selected connection (or from
        the optimizer given); a running fit is left alone."""
        if self._running:
            return
        opt = self.optimizer
        if opt is not None and opt.connection != self.tuner.name:
            opt = self.optimizer = None  # another connection: start from its own values
        specs = self.tuner.param_specs
        bounds = opt.bounds if opt is not None else {}
        if opt is None:
            names = {s.name for s in specs}
            chosen = [n for n in _STP_PARAMS if n in names] or [n for n in ("tau1", "tau2") if n in names]
            bounds = {s.name: _default_bounds(s) for s in specs if s.name in chosen}
        self._params = {s.name: _ParamRow(s, bounds.get(s.name)) for s in specs}
        self.params_box.children = [r.row for r in self._params.values()]
        last = getattr(self.tuner, "last", None)
        current = dict(getattr(last, "metrics", {}) or {})
        rows: dict[str, _TargetRow] = {}
        given = {}
        if opt is not None:
            for t in opt._targets:
                given[t.metric] = t
        stp = any(n in bounds for n in _STP_PARAMS)
        for metric in METRICS:
            if metric in given:
                t = given[metric]
                proto = t.key.partition("@")[2]
                rows[metric] = _TargetRow(metric, t.value, t.weight, proto, True, *self._unit_of(metric))
            else:
                v = current.get(metric, 0.0)
                v = float(v) if isinstance(v, (int, float)) and math.isfinite(float(v)) else 0.0
                on = opt is None and (metric in ("simple_ppr", "induction", "recovery") if stp else
                                      metric in ("rise_time_ms", "decay_tau_ms"))
                rows[metric] = _TargetRow(metric, _short(v), 1.0, "", on, *self._unit_of(metric))
        self._targets = rows
        self._clamp = getattr(getattr(self.tuner, "protocol", None), "clamp", None)
        for r in rows.values():
            for box in (r.fit, r.protocol):
                box.observe(lambda _: self._show_protocol(), names="value")
        self.targets_box.children = [r.row for r in rows.values()]
        self._show_protocol()
        if opt is not None and opt.result is not None:
            self._show_result(opt.result)
        self._update_buttons()

    def _unit_of(self, metric: str) -> tuple[str, float]:
        """The unit a target of ``metric`` is typed in and its factor from the metric's unit."""
        if metric.endswith("_ms"):
            return "ms", 1.0
        if metric not in ("amplitude", "charge"):
            return "", 1.0
        clamp = getattr(getattr(self.tuner, "protocol", None), "clamp", "voltage")
        if metric == "charge":
            return ("pC", 1.0) if clamp == "voltage" else ("mV·ms", 1.0)
        return shown_unit("nA" if clamp == "voltage" else "mV")

    def _show_protocol(self) -> None:
        """Say in words which runs the fit makes (the checked targets' protocols), and how to
        name another protocol in a target's box."""
        p = getattr(self.tuner, "protocol", None)
        if p is None:
            return
        if getattr(self, "_clamp", None) not in (None, p.clamp) and not self._running:
            self.reload()  # amplitude targets change unit with the clamp
            return
        runs = self._runs_in_words(p)
        text = (f"<small><span class='bmtl-opt-runs'>{f'This fit runs {runs}.' if runs else 'No target is checked.'}"
                "</span> An empty protocol box is the tuner's protocol; or type <code>single</code>, "
                "<code>train</code>, <code>&lt;f&gt;Hz</code> (the tuner's train at f Hz) or "
                "<code>&lt;f&gt;Hz/&lt;d&gt;ms</code> (and its recovery pulses d ms later).</small>")
        if self.targets_note.value != text:
            self.targets_note.value = text

    def _runs_in_words(self, p: Any) -> str:
        """Each protocol of the checked targets in words, with the targets measured under it."""
        chosen = [r for r in getattr(self, "_targets", {}).values() if r.fit.value]
        plain = "train" if any(METRICS[r.metric][0] == "train" for r in chosen
                               if not r.protocol.value.strip()) else "single"
        named = getattr(self.optimizer, "_protocols_in", {}) or {}
        groups: dict[str, list[str]] = {}
        for r in chosen:
            groups.setdefault(r.protocol.value.strip() or plain, []).append(_LABELS.get(r.metric, r.metric))
        parts = []
        for name, metrics in groups.items():
            try:
                fp = _parse_protocol(name, named)
                words = _protocol_words(fp.kind, dict(fp.overrides), p)
            except OptimizerError as err:
                words = f"“{html.escape(name)}” ({html.escape(str(err))})"
            parts.append(f"<b>{words}</b> for {html.escape(', '.join(metrics))}")
        return "; ".join(parts)

    # --- building the optimizer -----------------------------------------------------------
    def _problem(self) -> dict[str, Any]:
        params = {n: r.bounds() for n, r in self._params.items() if r.bounds() is not None}
        chosen = [r for r in self._targets.values() if r.fit.value]
        keys = [r.key for r in chosen]
        if len(set(keys)) != len(keys):
            raise OptimizerError("two targets have the same metric and protocol")
        return {"params": params, "targets": {r.key: r.target for r in chosen},
                "weights": {r.key: float(r.weight.value) for r in chosen}}

    def _make_optimizer(self) -> SynapseOptimizer:
        prob = self._problem()
        opt = self.optimizer
        if opt is not None and opt.bounds == {k: tuple(v) if len(v) == 3 else (*v, "linear")
                                              for k, v in prob["params"].items()} \
                and opt.targets == prob["targets"] and opt.weights == prob["weights"]:
            return opt  # the notebook's own optimizer: its .result is this fit's
        kwargs = {}
        if opt is not None:  # keep what the controls do not show
            kwargs = {"protocols": opt._protocols_in, "constraints": "auto"}
        new = SynapseOptimizer(self.tuner, prob["params"], prob["targets"], prob["weights"], **kwargs)
        self.optimizer = new
        return new

    # --- actions --------------------------------------------------------------------------
    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except Exception as err:  # ipywidgets swallows callback errors: show them
            self._error(err)

    def start(self, resume: bool = False) -> None:
        """Start a new fit (or continue the stopped one) in the background."""
        if self._running:
            return
        opt = self.optimizer if resume and self.optimizer is not None else self._make_optimizer()
        if self._on_fit not in opt._listeners:
            opt.add_listener(self._on_fit)
        self.message.value = ""
        self._hide_save()
        kwargs: dict[str, Any] = {"resume": resume}
        if not resume:
            kwargs.update(method=self.method.value, seed=int(self.seed.value), maxiter=int(self.maxiter.value),
                          popsize=int(self.popsize.value))
        else:
            kwargs.update(maxiter=int(self.maxiter.value))
        self._running = True
        self._update_buttons()
        fut = opt.fit_async(**kwargs)
        fut.add_done_callback(self._fit_done)

    def resume(self) -> None:
        self.start(resume=True)

    def stop(self) -> None:
        if self.optimizer is not None:
            self.optimizer.stop()
            self.status.value += " <i>stopping…</i>"

    def _result(self) -> Any:
        res = self.optimizer.result if self.optimizer is not None else None
        if res is None or not res.best_params:
            raise OptimizerError("no fit result yet: press Start")
        return res

    def apply(self) -> None:
        """Set the best values on the tuner (one undoable change) and re-run it, so its
        dashboard shows the new trace."""
        res = self._result()
        res.apply(self.tuner)
        self.message.value = ("<span class='bmtl-ok'>Applied " + ", ".join(
            f"{k} = {v:.6g}" for k, v in res.best_params.items()) + "</span>")
        try:
            self.tuner.submit("train" if any(p != "single" for p in res.target_protocols.values()) else "single")
        except Exception as err:
            self._error(err)

    def preview_save(self) -> None:
        res = self._result()
        if any(self.tuner.params.get(k) != v for k, v in res.best_params.items()):
            self.apply()
        text = self.tuner.preview_save()
        path = getattr(self.tuner.current, "dynamics_path", None)
        self.save_box.children[0].value = (f"<b>Write to {html.escape(str(path))}:</b>"
                                           f"<pre class='bmtl-opt-diff'>{html.escape(text or 'no changes')}</pre>")
        self.save_box.layout.display = "flex"

    def confirm_save(self) -> None:
        saved = self.tuner.save()
        self._hide_save()
        self.message.value = (f"<span class='bmtl-ok bmtl-opt-saved'>Saved {len(getattr(saved, 'changes', []) or [])} "
                              f"change(s) to {html.escape(str(saved.path))}</span>")

    def _hide_save(self) -> None:
        self.save_box.layout.display = "none"

    def save_fit(self) -> None:
        res = self._result()
        path = Path(self.fit_path.value.strip() or f"{res.connection}.fit.json")
        res.save(path)
        self.message.value = (f"<span class='bmtl-ok'>Fit saved to {html.escape(str(path))} "
                              "(SynapseOptimizer.resume(path) continues it)</span>")

    def _update_buttons(self) -> None:
        has = self.optimizer is not None and self.optimizer.result is not None and \
            bool(self.optimizer.result.best_params)
        self.start_btn.disabled = self._running
        self.stop_btn.disabled = not self._running
        self.continue_btn.disabled = self._running or not has
        for b in (self.apply_btn, self.save_btn, self.save_fit_btn):
            b.disabled = self._running or not has

    # --- events ---------------------------------------------------------------------------
    def _on_fit(self, event: str, payload: Any) -> None:
        try:
            if event == "start":
                with self._lock:
                    if not payload.get("resumed"):
                        self._points_x, self._points_y, self._n_bad, self._best = [], [], 0, None
                    else:
                        self._reload_history()
                    self._n_evals = payload.get("n_done", 0)
                    self._budget = payload["budget"] + payload.get("n_done", 0)
                    self._t0, self._t0_count = time.monotonic(), self._n_evals
                self._flush(force=True)
            elif event == "evaluation":
                with self._lock:
                    self._n_evals += 1
                self._flush()
            elif event == "batch":
                with self._lock:
                    for ev in payload:
                        if math.isfinite(ev.error) and ev.error < PENALTY:
                            self._points_x.append(ev.index)
                            self._points_y.append(max(ev.error, 1e-12))
                        else:
                            self._n_bad += 1
                    self._n_evals = max(self._n_evals, payload[-1].index + 1)
                    self._dirty = True
                self._flush()
            elif event == "best":
                with self._lock:
                    self._best = payload
                    self._dirty = True
                self._flush()
            elif event == "error":
                self._error(payload)
        except Exception as err:  # never let a drawing bug kill the fit thread silently
            self.message.value = f"<span class='bmtl-err'>panel error: {html.escape(repr(err))}</span>"

    def _reload_history(self) -> None:
        recs = self.optimizer._records if self.optimizer is not None else []
        good = [r for r in recs if math.isfinite(r.error) and r.error < PENALTY]
        self._points_x = [r.index for r in good]
        self._points_y = [max(r.error, 1e-12) for r in good]
        self._n_bad = len(recs) - len(good)

    def _fit_done(self, fut: Any) -> None:
        self._running = False
        try:
            err = fut.exception()
            if err is not None:
                self._error(err)
            else:
                res = fut.result()
                self._show_result(res)
                self.message.value = f"<span class='bmtl-ok'>{html.escape(res.message)}</span>"
        finally:
            self._update_buttons()

    def _show_result(self, res: Any) -> None:
        with self._lock:
            self._points_x = [e.index for e in res.evaluations if math.isfinite(e.error) and e.error < PENALTY]
            self._points_y = [max(e.error, 1e-12) for e in res.evaluations if math.isfinite(e.error)
                              and e.error < PENALTY]
            self._n_evals = res.n_evaluations
            self._n_bad = res.n_evaluations - len(self._points_x)
            self._dirty = True
            best = next((e for e in res.evaluations if e.index == res.best_index), None)
            if best is not None:
                if best.trace is None and res.best_trace is not None:
                    best.trace = res.best_trace
                self._best = best
        self._flush(force=True, done=True, wall_s=res.wall_s)

    def _on_tuner(self, event: str, payload: Any) -> None:
        if event == "result":
            self._show_protocol()
        if event == "result" and self._best is not None:
            self._dirty = True
            self._flush(force=True)

    # --- drawing --------------------------------------------------------------------------
    def _flush(self, force: bool = False, done: bool = False, wall_s: float | None = None) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < 0.25:
            return
        self._last_flush = now
        with self._lock:
            n, budget, n_bad, best = self._n_evals, self._budget, self._n_bad, self._best
            xs, ys = list(self._points_x), list(self._points_y)
            dirty, self._dirty = self._dirty, False
            t0, c0 = self._t0, getattr(self, "_t0_count", 0)
        dt = (wall_s if done and wall_s else now - t0) or 1e-9
        rate = (n - c0) / dt if not done else n / dt
        best_err = best.error if best is not None else float("nan")
        state = "done" if done else ("running" if self._running else "")
        self.progress.max = max(budget, n, 1)
        self.progress.value = n
        self.status.value = (f"<span class='bmtl-opt-evals' data-evals='{n}'>{n}</span> evaluations · "
                             f"<span class='bmtl-opt-rate'>{rate:.1f}</span> eval/s · best error "
                             f"<span class='bmtl-opt-best-error'>{_fmt(best_err)}</span>"
                             + (f" · {n_bad} infeasible/failed" if n_bad else "") + (f" · {state}" if state else ""))
        if dirty or force:
            if xs:
                order = np.argsort(xs)
                x = np.asarray(xs, dtype=float)[order]
                y = np.asarray(ys, dtype=float)[order]
                with self.error_plot.hold_sync():
                    self.dots.x, self.dots.y = x, y
                    self.best_line.x, self.best_line.y = x, np.minimum.accumulate(y)
            if best is not None:
                self._draw_best(best)

    def _draw_best(self, best: Any) -> None:
        opt = self.optimizer
        for name, row in self._params.items():
            v = best.params.get(name)
            row.best.value = f"<span data-value='{v!r}'>{_fmt(v)}</span>" if v is not None else ""
        rows = []
        for t in (opt._targets if opt is not None else []):
            v = best.metrics.get(t.key, float("nan"))
            dev = (v - t.value) / t.scale * 100 if math.isfinite(v) else float("nan")
            unit, k = self._unit_of(t.metric)
            rows.append(f"<tr data-target='{html.escape(t.key)}'><td>{html.escape(t.key)}</td>"
                        f"<td>{_fmt(t.value * k)}</td><td class='bmtl-val'>{_fmt(v * k)}</td>"
                        f"<td>{html.escape(unit)}</td><td>{_fmt(dev)} %</td><td>{_fmt(t.weight)}</td></tr>")
        self.metrics.value = ("<table class='bmtl-opt-table'><tr><th>target</th><th>wanted</th><th>best</th>"
                              "<th>unit</th><th>off by</th><th>weight</th></tr>" + "".join(rows) + "</table>")
        if not best.trace:
            return
        pname = next(iter(best.trace))
        t, x, unit = best.trace[pname]
        shown, scale = shown_unit(unit)
        ylabel = f"i ({shown})" if unit == "nA" else f"v ({shown})"
        ys = [np.asarray(x, dtype=np.float32) * scale]
        series = [{"label": f"best ({pname})", "color": "#d62728"}]
        last = getattr(self.tuner, "last", None)
        if last is not None and last.kind == ("single" if pname == "single" else "train") \
                and last.analysed in last.traces:
            cur = np.interp(t, last.t_ms, np.asarray(last.traces[last.analysed], dtype=np.float64) * scale,
                            left=np.nan, right=np.nan)
            ys.insert(0, cur.astype(np.float32))
            series.insert(0, {"label": "current", "color": "#1f77b4"})
        self.trace.y_label = ylabel
        self.trace.push(t, ys, series, status=f"best error {_fmt(best.error)}", autoscale=True)

    def _error(self, err: Any) -> None:
        text = getattr(err, "message", None) or str(err)
        self.message.value = f"<span class='bmtl-err'>{html.escape(text)}</span>"
