"""The synapse metrics, once: key, label, unit, definition and number format of every metric a
synapse run measures (docs/metrics.md §1 one event, §2 trains and Poisson input).

Everything else is a view of :data:`METRICS`: the units the analysis reports
(:meth:`EventMetrics.units <bmtool_lab.analysis.event.EventMetrics.units>`,
:func:`~bmtool_lab.analysis.synapse_measure.measure_run`), the tuner's metrics table
(``bmtool_lab.widgets.synapse.METRIC_ROWS``), its tooltips (``widgets._format.METRIC_HELP``) and
the metrics an optimizer can target (``bmtool_lab.tuning.fit_problem.METRICS``).

Units are fixed (``"ms"``, ``"Hz"``, ``"1"`` for dimensionless) or follow the analysed trace:
:data:`TRACE_UNIT` (its unit: nA under voltage clamp, mV under current clamp) and
:data:`TRACE_CHARGE` (its integral over time: pC for nA, mV·ms for mV); :func:`unit_of` resolves
them for a trace unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Metric", "METRICS", "TRACE_UNIT", "TRACE_CHARGE", "format_number", "unit_of", "units_of"]

#: Unit token: the unit of the analysed trace (nA, mV, ...).
TRACE_UNIT = "x"
#: Unit token: the unit of the analysed trace × ms (nA·ms = pC, ...).
TRACE_CHARGE = "x·ms"
#: The charge unit of a current trace's integral (anything else: "<unit>·ms").
CHARGE_UNITS = {"nA": "pC", "pA": "fC", "uA": "nC", "µA": "nC"}
#: Values smaller than this in magnitude are zero to rounding (float noise such as 1.3e-15, or
#: -0.0): written "0".
ZERO_BELOW = 1e-12


def format_number(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits; "0" for zero to rounding (never "-0"); "–"
    for None or NaN; anything that is not a number as ``str(value)`` (plain text)."""
    if value is None:
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "–"
    if abs(v) < ZERO_BELOW:
        return "0"
    text = f"{v:.{digits}g}"
    return "0" if float(text) == 0 else text


@dataclass(frozen=True)
class Metric:
    """One synapse metric.

    ``key``: its name in the results' ``metrics`` (times end in ``_ms``); ``label``: what the
    tuner's metrics table calls it; ``short``: its name in running text and the optimizer's
    targets (default: ``label``); ``unit``: fixed, or :data:`TRACE_UNIT` / :data:`TRACE_CHARGE`;
    ``definition``: one line; ``section``: where docs/metrics.md (or docs/synapse_tuner.md)
    defines it; ``digits``: significant digits shown; ``protocol``: the run that yields it
    ("event": a single event, and the single-event kernel of trains and Poisson runs; "train";
    "poisson"); ``table``: listed in the tuner's metrics table; ``fit_scale``: the absolute
    error-scale floor of an optimizer target (None: not a target); ``help``: the longer
    tooltip of the STP indices.
    """

    key: str
    label: str
    unit: str
    definition: str
    section: str
    digits: int = 4
    protocol: str = "event"
    table: bool = True
    fit_scale: float | None = None
    short: str = ""
    help: str = ""

    @property
    def name(self) -> str:
        """The metric in running text ("simple PPR", "latency")."""
        return self.short or self.label

    @property
    def reference(self) -> str:
        """The definition with where it is documented."""
        return f"{self.definition} ({self.section})"

    def unit_for(self, trace_unit: str) -> str:
        """The unit of this metric measured on a trace in ``trace_unit``."""
        return unit_of(self.key, trace_unit)

    def format(self, value: Any) -> str:
        """``value`` written as the dashboards write this metric (plain text)."""
        return format_number(value, self.digits)


_E, _T, _P = "docs/metrics.md §1", "docs/metrics.md §2", "docs/metrics.md §2, Poisson input"

_ALL = (
    # one event (the single-event run, or the single-event kernel of a train / Poisson run)
    Metric("amplitude", "amplitude", TRACE_UNIT,
           "peak of the response (nA under voltage clamp, mV under current clamp)", _E, fit_scale=0.0),
    Metric("sign", "sign", "1", "sign of the largest deviation from baseline: +1 outward/depolarising, -1 inward",
           _E, table=False),
    Metric("baseline", "baseline", TRACE_UNIT, "mean of the trace over the 5 ms before the event", _E, table=False),
    Metric("latency_ms", "latency", "ms", "pulse delivery to 10 % of the peak (ms; the NetCon delay included)",
           _E, fit_scale=0.1),
    Metric("rise_time_ms", "rise time", "ms", "10–90 % rise time (ms, interpolated crossings)", _E, fit_scale=0.1),
    Metric("decay_tau_ms", "decay τ", "ms", "decay time constant (ms, single-exponential fit)", _E, fit_scale=0.1),
    Metric("decay_r2", "decay fit R²", "1", "R² of the single-exponential decay fit", _E),
    Metric("half_width_ms", "half-width", "ms", "width at half the peak (ms)", _E, fit_scale=0.1),
    Metric("t_peak_ms", "time to peak", "ms", "time of the peak after the pulse (ms)", _E, table=False,
           fit_scale=0.1),
    Metric("charge", "charge", TRACE_CHARGE, "integral of the response over its window (nA·ms = pC), signed", _E,
           fit_scale=0.0),
    # trains and short-term plasticity
    Metric("simple_ppr", "simple PPR (A₂/A₁)", "1", "A2/A1", _T, protocol="train", fit_scale=0.1,
           short="simple PPR",
           help="simple PPR = A₂/A₁, the 2nd response over the 1st: > 1 facilitation, < 1 depression"),
    Metric("ppr", "PPR", "1", "(A2 - A1)/N", _T, protocol="train", fit_scale=0.1,
           help="PPR = (A₂ − A₁)/N (bmtool's definition), N = the normaliser (by default the 90th percentile of "
                "the train's amplitudes): > 0 facilitation, < 0 depression"),
    Metric("induction", "induction", "1", "(mean(A6..A8) - A1)/N", _T, protocol="train", fit_scale=0.1,
           help="induction = (mean(A₆..A₈) − A₁)/N: how the late train compares with the 1st response"),
    Metric("recovery", "recovery", "1", "(mean(A9..A12) - mean(A1..A4))/N", _T, protocol="train", fit_scale=0.1,
           help="recovery = (mean(A₉..A₁₂) − mean(A₁..A₄))/N: the recovery pulses against the train's start"),
    Metric("amplitudes", "pulse amplitudes", TRACE_UNIT,
           "per-pulse (per-event) amplitudes, deconvolved with the single-event kernel by default", _T,
           protocol="train", table=False),
    # a Poisson drive
    Metric("n_events", "events (Poisson)", "1", "number of Poisson events in the window", _P, protocol="poisson"),
    Metric("mean_rate_hz", "mean rate", "Hz", "events / window duration (Hz)", _P, protocol="poisson"),
    Metric("mean_response", "mean response", TRACE_UNIT,
           "mean of the trace over the window minus its mean over the 5 ms before", _P, protocol="poisson"),
    Metric("peak", "peak |deviation|", TRACE_UNIT, "largest |trace - baseline| in the window", _P,
           protocol="poisson"),
    Metric("amplitude_mean", "event amplitude mean", TRACE_UNIT, "mean of the per-event amplitudes", _P,
           protocol="poisson"),
    Metric("amplitude_cv", "event amplitude CV", "1", "std/mean of the per-event amplitudes", _P,
           protocol="poisson"),
    Metric("steady_state_ratio", "steady state (last 20 %/first)", "1",
           "mean amplitude of the last 20 % of events / the first one", _P, protocol="poisson"),
)

#: Every synapse metric by key, in the order the tuner's table lists them.
METRICS: dict[str, Metric] = {m.key: m for m in _ALL}


def unit_of(key: str, trace_unit: str) -> str:
    """The unit of metric ``key`` measured on a trace in ``trace_unit`` ("1": dimensionless)."""
    unit = METRICS[key].unit
    if unit == TRACE_UNIT:
        return trace_unit
    if unit == TRACE_CHARGE:
        return CHARGE_UNITS.get(trace_unit, f"{trace_unit}·ms")
    return unit


def units_of(keys: Any, trace_unit: str) -> dict[str, str]:
    """{key: unit} of the metrics ``keys`` measured on a trace in ``trace_unit``."""
    return {k: unit_of(k, trace_unit) for k in keys}
