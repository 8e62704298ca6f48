"""The synapse tuner dashboard on a PointNet (NEST) model: the BioNet dashboard's layout (connection
picker, protocol, sliders, live trace, metrics, pin/undo, save) bound to a
:class:`~bmtool_lab.tuning.pointnet_synapse.PointSynapseTuner`.

What differs: the sliders are the NEST synapse model's parameters (``nest.GetDefaults``) and,
under them, the post cell's NEST parameters (what-ifs for the next runs, not saved); the trace
is V_m (mV) or ``-I_syn`` (pA, an ideal clamp of a current-based model); weights are pA or nS as
the post model takes them; there is no holding potential and no optimizer (NEURON only).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from ._format import fmt_number
from .synapse import SynapseDashboard, _ParamControl

__all__ = ["PointSynapseDashboard"]


class PointSynapseDashboard(SynapseDashboard):
    """Widgets bound to a PointSynapseTuner (see module docs); ``box`` is the widget shown."""

    def __init__(self, tuner: Any) -> None:
        self._cell_controls: dict[str, _ParamControl] = {}
        super().__init__(tuner)

    def _build(self) -> None:
        super()._build()
        self.clamp.unobserve(self._protocol_changed, names="value")  # new labels are no protocol change
        self.clamp.options = [("−I_syn (ideal clamp, pA)", "voltage"), ("V_m (mV)", "current")]
        self.clamp.value = self.tuner.protocol.clamp
        self.clamp.observe(self._protocol_changed, names="value")
        self.hold.layout.display = "none"  # point neurons: no holding potential
        self.optimize_btn.layout.display = "none"  # the optimizer fits NEURON synapses
        self.cell_title = w.HTML()
        self.cell_title.add_class("bmtl-syn-cell-title")
        self.cell_box = w.VBox(layout=w.Layout(width="100%"))
        self.cell_box.add_class("bmtl-syn-cell-params")
        self.reset_cell_btn = w.Button(description="Reset cell", tooltip="back to the node type's own values",
                                       layout=w.Layout(width="auto"))
        self.reset_cell_btn.add_class("bmtl-syn-reset-cell")
        self.reset_cell_btn.on_click(lambda _: self.reset_cell())
        kids = list(self.box.children)
        at = kids.index(self.params_box) + 1
        kids[at:at] = [self.cell_title, self.cell_box, self.reset_cell_btn]
        self.box.children = kids
        self.box.add_class("bmtl-syn-pointnet")

    def _load_connection(self) -> None:
        t = self.tuner
        self._cell_controls = {}
        rows = []
        try:
            specs = t.cell_param_specs
        except Exception:  # no connection loaded: the base shows why
            specs = []
        for spec in specs:
            ctl = _ParamControl(spec, self._cell_param_changed)
            self._cell_controls[spec.name] = ctl
            rows.append(ctl.row)
        self.cell_box.children = rows
        conductance = False
        if specs:
            info = t._st().mech["nest"]["cell"]
            conductance = not info["current_based"]
            self.cell_title.value = (f"<b>post cell</b> <small>{html.escape(info['model'])} · what-ifs for the "
                                     "next runs, not saved</small>")
        if conductance and self.clamp.value == "voltage":
            self.clamp.value = "current"
        super()._load_connection()
        ct = getattr(t, "current", None)
        if ct is not None and specs:
            self.info.value = (f"<small>{html.escape(t.mechanism)} → {html.escape(t.cell_model)} "
                               f"(NEST {html.escape(t.nest_version)}) · {ct.n_edges} edges · weight "
                               f"{fmt_number(t.weight)} {html.escape(t.weight_unit)} · delay {fmt_number(t.delay_ms)}"
                               f" ms · {html.escape(str(ct.dynamics_params or ''))}</small>")

    def _cell_param_changed(self, name: str, value: float, from_slider: bool = False) -> None:
        try:
            self.tuner.set_cell_params(**{name: value})
        except Exception as err:
            self._error(err)
            return
        self.run()

    def reset_cell(self) -> None:
        """The post cell back to its node type's values, and a rerun."""
        self.tuner.reset_cell_params()
        self.run()

    def _sync_controls(self) -> None:
        super()._sync_controls()
        try:
            values = self.tuner.cell_params
        except Exception:
            return
        for name, ctl in self._cell_controls.items():
            if name in values:
                ctl.set(values[name])

    def _trace_of(self, result: Any) -> tuple[np.ndarray, np.ndarray, str, str]:
        traces = result.traces
        p = getattr(result, "protocol", self.tuner.protocol)
        if getattr(p, "clamp", "current") == "voltage" and "i_clamp" in traces:  # NEST: already pA
            return np.asarray(result.t_ms), np.asarray(traces["i_clamp"]), "−I_syn", "i (pA)"
        return np.asarray(result.t_ms), np.asarray(traces["v_soma"]), "V_m", "V_m (mV)"
