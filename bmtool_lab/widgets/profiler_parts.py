"""The cell profiler dashboard's parts (:mod:`bmtool_lab.widgets.profiler`): feature labels and
units, number inputs, the result tables (passive, ZAP, all cells), download links and the
what-if knobs."""

from __future__ import annotations

import base64
import html
import numbers
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ..analysis.impedance import RESONANCE_MIN_Q
from ._format import fmt_number

# Feature names end in their unit (ap_amplitude_mV); abbreviations are written as such.
_UNIT_SUFFIXES = {"ms": "ms", "mv": "mV", "hz": "Hz", "na": "nA", "pa": "pA", "mohm": "MΩ"}
_ABBREVIATIONS = {"ap": "AP", "ahp": "AHP", "isi": "ISI", "cv": "CV"}


def feature_label(name: str) -> tuple[str, str]:
    """A feature's name as a reader writes it, and its unit: ``ap_amplitude_mV`` -> ("AP
    amplitude", "mV"), ``adaptation_index`` -> ("Adaptation index", "")."""
    words = name.split("_")
    unit = _UNIT_SUFFIXES.get(words[-1].lower(), "") if len(words) > 1 else ""
    if unit:
        words = words[:-1]
    words = [_ABBREVIATIONS.get(wd.lower(), wd) for wd in words]
    text = " ".join(words)
    return (text[:1].upper() + text[1:], unit)


_fmt = fmt_number


def _num(value: float, description: str, css: str, lo: float = -1e9, hi: float = 1e9,
         step: float | None = None) -> w.BoundedFloatText:
    # the longest description, "amplitude (nA)", needs 97 px
    box = w.BoundedFloatText(value=value, min=lo, max=hi, step=step, description=description,
                             layout=w.Layout(width="175px"), style={"description_width": "100px"})
    box.add_class(css)
    return box


def _table(rows: list[tuple[str, Any, str]], css: str, caption: str = "") -> str:
    """label | value | unit rows; a ``caption`` also names the table (``data-caption``)."""
    body = "".join(f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{_fmt(v)}</td>"
                   f"<td>{html.escape(u)}</td></tr>" for k, v, u in rows)
    cap = html.escape(caption)
    head = f" data-caption='{cap}'" if caption else ""
    return (f"<table class='{css}'{head} style='font-size:12px'>"
            f"{f'<caption>{cap}</caption>' if caption else ''}{body}</table>")


_ZAP_MAG, _ZAP_PHASE = "#1f77b4", "#d62728"
_ZAP_LEGEND = ("<div class='bmtl-prof-zap-legend'>"
               f"<span class='bmtl-prof-legend-item'><i style='border-top: 2px solid {_ZAP_MAG}'></i>|Z| (MΩ)</span>"
               f"<span class='bmtl-prof-legend-item'><i style='border-top: 2px dashed {_ZAP_PHASE}'></i>phase (rad)"
               "</span></div>")


def _zap_summary(res: Any) -> str:
    """Resonance and Q of a ZapProfile, or "none" with the reason (``is_resonant``'s rule)."""
    peak = ("|Z| max", float(np.max(res.z_mag_MOhm)), "MΩ")
    if res.resonant:
        return _table([("resonance", res.resonance_hz, "Hz"), ("Q", res.q_factor, ""), peak], "bmtl-prof-zap-values")
    lowest = float(res.freq_hz[0])
    why = (f"|Z| is largest at the lowest frequency ({_fmt(lowest)} Hz)" if res.resonance_hz <= lowest else
           f"the peak at {_fmt(res.resonance_hz)} Hz is within noise of flat (Q {_fmt(res.q_factor)} < "
           f"{RESONANCE_MIN_Q:g})")
    return (_table([("resonance", "none", ""), ("Q", res.q_factor, ""), peak], "bmtl-prof-zap-values")
            + f"<div class='bmtl-prof-zap-none'><small>no resonance: {html.escape(why)}</small></div>")


# profile_all's columns as the other tables name them: (label, unit, factor to the shown unit);
# rheobase in pA as in the F–I tab.
_ALL_COLUMNS = {"v_rest_mV": ("V_rest", "mV", 1.0), "r_in_MOhm": ("R_in", "MΩ", 1.0), "tau_ms": ("tau", "ms", 1.0),
                "sag_ratio": ("sag ratio", "", 1.0), "rheobase_nA": ("rheobase", "pA", 1e3),
                "max_rate_Hz": ("max rate", "Hz", 1.0), "f_res_Hz": ("resonance", "Hz", 1.0)}


def _all_cells_table(df: Any) -> str:
    """profile_all's table as shown: one small table per cell type (label | value | unit, as the
    other tabs), side by side where there is room and stacked in a narrow sidebar, where a row of
    seven columns cannot fit; numbers as everywhere else, resonance "none" without one."""
    resonant = df.attrs.get("resonant") or {}
    cards = []
    for cell, row in df.iterrows():
        rows = []
        for col, value in row.items():
            label, unit, factor = _ALL_COLUMNS.get(col) or (*feature_label(str(col)), 1.0)
            if col == "f_res_Hz" and not resonant.get(cell, True):
                rows.append((label, "none", ""))
            else:
                rows.append((label, value * factor if isinstance(value, numbers.Real) else value, unit))
        cards.append(_table(rows, "bmtl-prof-all-cell", caption=str(cell)))
    return f"<div class='bmtl-prof-all-values'>{''.join(cards)}</div>"


def _link(data: str, filename: str, mime: str, label: str, css: str) -> str:
    b64 = base64.b64encode(data.encode()).decode()
    return (f"<a class='{css}' download='{html.escape(filename)}' href='data:{mime};base64,{b64}' "
            f"style='margin-right:10px'>{html.escape(label)}</a>")


class _Knob:
    """One cell parameter: a slider relative to the template value (× for conductances, cm and Ra;
    ± mV for e_pas; absolute for a conductance that is 0 in the template) and an exact number box.

    The slider's neutral position (×1, ±0) lies on its grid, so showing the template value never
    changes it, and a slider echo within half a step of what was shown is ignored (front ends snap
    values to the grid): only a user's move or typed number changes the cell.
    """

    def __init__(self, section: str, name: str, default: float, on_change: Callable[[str, str, float | None], None]):
        self.section, self.name, self.default = section, name, float(default)
        self.value = self.default
        if name == "e_pas":
            self.mode, lo, hi, step, label = "offset", -30.0, 30.0, 0.5, "± mV"
        elif self.default > 0:
            self.mode, lo, hi, step, label = "scale", 0.0, 3.0, 0.01, "×"
        else:
            self.mode, lo, hi, step, label = "absolute", 0.0, 1e-3, 5e-6, ""
        self.slider = w.FloatSlider(value=self._to_slider(self.default), min=lo, max=hi, step=step, readout=True,
                                    readout_format=".2f" if self.mode != "absolute" else ".1e",
                                    continuous_update=True,
                                    layout=w.Layout(flex="1 1 100px", min_width="100px", width="auto"))
        self._shown = self.slider.value
        self.box = w.FloatText(value=self.default, layout=w.Layout(flex="0 0 80px", width="80px"))
        self.label = w.HTML(f"<span title='{section}: {name} ({label or 'absolute'})'>{html.escape(name)}"
                            f"<small> {html.escape(label)}</small></span>", layout=w.Layout(flex="0 0 120px"))
        # one line where there is room; in the narrow sidebar the label goes above slider and box
        self.row = w.HBox([self.label, self.slider, self.box], layout=w.Layout(width="100%", flex_flow="row wrap"))
        self.row.add_class("bmtl-prof-param")
        self.row.add_class(f"bmtl-prof-param-{section}-{name}")
        self._quiet = False
        self._on_change = on_change
        self.slider.observe(lambda ch: self._slid(ch["new"]), names="value")
        self.box.observe(lambda ch: self._typed(ch["new"]), names="value")

    def _to_slider(self, value: float) -> float:
        if self.mode == "offset":
            return value - self.default
        return value / self.default if self.mode == "scale" else value

    def _from_slider(self, x: float) -> float:
        if self.mode == "offset":
            return self.default + x
        return self.default * x if self.mode == "scale" else x

    def _slid(self, x: float) -> None:
        if self._quiet or abs(x - self._shown) < self.slider.step / 2 + 1e-12:
            return
        self._set(float(f"{self._from_slider(x):.6g}"))

    def _typed(self, value: float) -> None:
        if not self._quiet:
            self._set(float(value))

    def _set(self, value: float) -> None:
        if value == self.value:
            return
        self.show(value)
        self._on_change(self.section, self.name, None if value == self.default else value)

    def show(self, value: float) -> None:
        """Show a value without re-running."""
        self._quiet = True
        try:
            self.value = float(value)
            self.box.value = self.value
            x = self._to_slider(self.value)
            if self.slider.min <= x <= self.slider.max:
                self.slider.value = x
            self._shown = self.slider.value
        finally:
            self._quiet = False
