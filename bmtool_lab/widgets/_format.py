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
