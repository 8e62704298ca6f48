"""One registry of synapse metrics (bmtool_lab.analysis.metric_catalog): every metric the analysis
measures is in it with a unit, and the tuner's table, its tooltips and the optimizer's targets
are views of it."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.event import event_metrics
from bmtool_lab.analysis.metric_catalog import (
    METRICS,
    TRACE_CHARGE,
    TRACE_UNIT,
    Metric,
    format_number,
    unit_of,
)
from bmtool_lab.analysis.stp import stp_indices, train_pulse_times
from bmtool_lab.analysis.synapse_measure import MeasureSettings, measure_run

pytestmark = pytest.mark.unit

DT = 0.025


def _exp2(t: np.ndarray, tau1: float = 0.5, tau2: float = 9.0) -> np.ndarray:
    tc = np.clip(t, 0.0, None)
    return np.where(t >= 0, np.exp(-tc / tau2) - np.exp(-tc / tau1), 0.0)


def _run(kind: str, unit: str = "nA") -> dict:
    """A synthetic worker output (linear voltage-clamp responses) of a run of ``kind``."""
    if kind == "train":
        pulses = train_pulse_times(50.0, 8, 4, 250.0, 100.0)
    else:
        pulses = np.array([100.0, 160.0, 230.0, 260.0, 390.0])
    t = np.arange(0.0, pulses[-1] + 200.0, DT)
    x = -0.03 - 0.2 * sum(_exp2(t - p) for p in pulses)
    t_k = np.arange(-10.0, 150.0, DT)
    out = {"t": t, "traces": {"i_clamp": x}, "units": {"i_clamp": unit}, "pulse_times_ms": pulses,
           "kernel": {"t": t_k, "traces": {"i_clamp": -0.03 - 0.2 * _exp2(t_k)}}, "netcon_delay_ms": 0.0}
    if kind == "poisson":
        out["stim_window_ms"] = (100.0, 500.0)
    return out


def test_every_metric_has_a_unit_definition_and_section() -> None:
    for key, m in METRICS.items():
        assert isinstance(m, Metric) and m.key == key
        assert m.unit and m.label and m.definition and "\n" not in m.definition
        assert m.section.startswith("docs/metrics.md §"), m.section
        assert m.protocol in ("event", "train", "poisson")
        assert m.reference.endswith(f"({m.section})")


@pytest.mark.parametrize("unit", ["nA", "mV"])
def test_event_to_dict_keys_and_units_come_from_the_registry(unit: str) -> None:
    t = np.arange(0.0, 200.0, DT)
    em = event_metrics(t, -0.03 - 0.2 * _exp2(t - 50.0), 50.0, unit=unit)
    d = em.to_dict()
    assert set(d) <= set(METRICS)
    assert em.units() == {k: unit_of(k, unit) for k in d}
    assert em.units()["charge"] == ("pC" if unit == "nA" else "mV·ms")
    assert em.units()["latency_ms"] == "ms" and em.units()["decay_r2"] == "1"


def test_stp_indices_are_dimensionless_registry_metrics() -> None:
    idx = stp_indices(np.linspace(1.0, 2.0, 12))
    for k in idx:
        assert METRICS[k].unit == "1" and METRICS[k].protocol == "train"


@pytest.mark.parametrize("kind", ["single", "train", "poisson"])
def test_measured_keys_are_in_the_registry_with_their_units(kind: str) -> None:
    m = measure_run(_run(kind), MeasureSettings(), kind)
    keys = set(m["metrics"])
    missing = keys - set(METRICS)
    assert not missing, f"measured metrics missing from the registry: {missing}"
    assert m["units"] == {k: unit_of(k, "nA") for k in keys}
    if kind == "train":
        assert {"simple_ppr", "ppr", "induction", "recovery", "amplitudes", "amplitude"} <= keys
    if kind == "poisson":
        assert {"n_events", "mean_rate_hz", "steady_state_ratio"} <= keys
        assert m["units"]["mean_rate_hz"] == "Hz" and m["units"]["peak"] == "nA"


def test_tuner_table_rows_are_a_view_of_the_registry() -> None:
    from bmtool_lab.widgets.synapse import METRIC_ROWS

    table = [m for m in METRICS.values() if m.table]
    assert [k for k, _, _ in METRIC_ROWS] == [m.key for m in table]
    for (key, label, unit), m in zip(METRIC_ROWS, table, strict=True):
        assert label == m.label
        assert unit == (None if m.unit in (TRACE_UNIT, TRACE_CHARGE) else "" if m.unit == "1" else m.unit), key
    # what the table shows (labels and units as before the registry)
    rows = dict((k, (label, u)) for k, label, u in METRIC_ROWS)
    assert rows["amplitude"] == ("amplitude", None) and rows["charge"] == ("charge", None)
    assert rows["decay_tau_ms"] == ("decay τ", "ms") and rows["simple_ppr"] == ("simple PPR (A₂/A₁)", "")
    assert rows["mean_rate_hz"] == ("mean rate", "Hz")


def test_tooltips_are_the_registry_help() -> None:
    from bmtool_lab.widgets._format import METRIC_HELP, fmt_number

    assert list(METRIC_HELP) == ["simple_ppr", "ppr", "induction", "recovery"]
    assert all(METRIC_HELP[k] == METRICS[k].help for k in METRIC_HELP)
    assert "(A₂ − A₁)/N" in METRIC_HELP["ppr"]
    for v in (None, float("nan"), -0.0, 1e-15, 1.234567, -2.5e6, "<b>"):
        assert fmt_number(v) == format_number(v).replace("<", "&lt;").replace(">", "&gt;")
    assert format_number(-1e-15) == "0" and format_number(float("nan")) == "–"
    assert METRICS["amplitude"].format(0.0123456) == "0.01235"


def test_optimizer_metrics_are_a_view_of_the_registry() -> None:
    from bmtool_lab.tuning.fit_problem import METRICS as FIT_METRICS

    assert list(FIT_METRICS) == ["amplitude", "latency_ms", "rise_time_ms", "decay_tau_ms", "half_width_ms",
                                 "t_peak_ms", "charge", "simple_ppr", "ppr", "induction", "recovery"]
    for key, (kind, scale, description) in FIT_METRICS.items():
        m = METRICS[key]
        assert (kind, scale, description) == (m.protocol, m.fit_scale, m.definition)
    # the scales the error uses (absolute floors: 0.1 ms for times, 0.1 for the indices)
    assert FIT_METRICS["amplitude"][1] == 0.0 and FIT_METRICS["charge"][1] == 0.0
    assert FIT_METRICS["rise_time_ms"][1] == 0.1 and FIT_METRICS["induction"][1] == 0.1
    assert FIT_METRICS["ppr"][0] == "train" and FIT_METRICS["latency_ms"][0] == "event"
