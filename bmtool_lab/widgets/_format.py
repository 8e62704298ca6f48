"""How the dashboards write numbers: one rule, so the same value reads the same everywhere."""

from __future__ import annotations

import html
from typing import Any

from bmtool_lab.analysis.metric_catalog import METRICS, ZERO_BELOW, format_number

__all__ = ["METRIC_HELP", "ZERO_BELOW", "fmt_number", "shown_unit"]


def fmt_number(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits; "0" for zero to rounding (never "-0");
    "–" for None or NaN; anything else as escaped text
    (:func:`~bmtool_lab.analysis.metric_catalog.format_number`, HTML-escaped)."""
    return html.escape(format_number(value, digits))


#: Currents are shown in pA everywhere (plot, metrics table, optimizer); the tuner measures nA.
_SHOWN_UNITS = {"nA": ("pA", 1e3)}

#: What each STP index means (docs/metrics.md §2): tooltips and the metrics help below the table
#: (the registry's ``help``, :data:`bmtool_lab.analysis.metric_catalog.METRICS`).
METRIC_HELP = {k: m.help for k, m in METRICS.items() if m.help}


def shown_unit(unit: str) -> tuple[str, float]:
    """The unit a value measured in ``unit`` is shown in, and the factor to it (nA -> pA)."""
    return _SHOWN_UNITS.get(unit, (unit, 1.0))
