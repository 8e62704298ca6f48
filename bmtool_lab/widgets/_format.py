"""How the dashboards write numbers: one rule, so the same value reads the same everywhere."""

from __future__ import annotations

import html
import math
from typing import Any

#: Values smaller than this in magnitude are zero to rounding (float noise such as an eFEL
#: adaptation index of 1.3e-15, or -0.0): shown as "0".
ZERO_BELOW = 1e-12


def fmt_number(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits; "0" for zero to rounding (never "-0");
    "–" for None or NaN; anything else as escaped text."""
    if value is None:
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(v):
        return "–"
    if abs(v) < ZERO_BELOW:
        return "0"
    text = f"{v:.{digits}g}"
    return "0" if float(text) == 0 else text


#: Currents are shown in pA everywhere (plot, metrics table, optimizer); the tuner measures nA.
_SHOWN_UNITS = {"nA": ("pA", 1e3)}

#: What each STP index means (docs/metrics.md §2): tooltips and the metrics help below the table.
METRIC_HELP = {
    "simple_ppr": "simple PPR = A₂/A₁, the 2nd response over the 1st: > 1 facilitation, < 1 depression",
    "ppr": "PPR = (A₂ − A₁)/N (bmtool's definition), N = the normaliser (by default the 90th percentile of "
           "the train's amplitudes): > 0 facilitation, < 0 depression",
    "induction": "induction = (mean(A₆..A₈) − A₁)/N: how the late train compares with the 1st response",
    "recovery": "recovery = (mean(A₉..A₁₂) − mean(A₁..A₄))/N: the recovery pulses against the train's start",
}


def shown_unit(unit: str) -> tuple[str, float]:
    """The unit a value measured in ``unit`` is shown in, and the factor to it (nA -> pA)."""
    return _SHOWN_UNITS.get(unit, (unit, 1.0))
