"""What a synapse tuner run is: the tunable parameters (:class:`ParamSpec`), the protocol
(:class:`SynapseProtocol`) and the worker's run protocol made from it (:func:`run_protocol`),
the results (single event, train, Poisson), the tuner's error, and the kernel-side analysis of
a run (:func:`analyse_run`, metrics of docs/metrics.md)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bmtool_lab.sim.synapse_jobs import (
    MeasureSettings,
    RunProtocol,
    measure_run,
)

Listener = Callable[[str, Any], None]

#: Weight functions whose value is the edge's syn_weight (bmtk's default_setters/synaptic_weights.py).
IDENTITY_WEIGHT_FUNCTIONS = frozenset({"default_weight_fnc", "set_syn_weight", "wmax"})

_DOCS = {
    "tau1": "rise time constant", "tau2": "decay time constant", "tau": "decay time constant",
    "e": "reversal potential", "erev": "reversal potential (BioNet's name for the mechanism's e)",
    "Use": "utilisation of synaptic efficacy (release probability of the first pulse)",
    "U": "utilisation of synaptic efficacy", "u0": "initial utilisation",
    "Dep": "recovery-from-depression time constant (0: no depression)",
    "Fac": "facilitation time constant (0: no facilitation)",
    "initW": "weight multiplier (the NetCon weight is the edge's syn_weight)",
}
_FRACTION_NAMES = frozenset({"Use", "U", "u0", "p0", "P", "Pr", "u"})


class TunerError(ValueError):
    """A request the tuner cannot carry out, with a message that says what to do."""


# --- parameter specs --------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: its current ``value``, ``default`` (the value in the dynamics JSON;
    the mechanism's default when the JSON lacks it), ``unit``, slider range ``min``..``max``
    with ``scale`` "log" or "linear" and ``step``, and a one-line ``doc``."""

    name: str
    value: float
    default: float
    unit: str
    min: float
    max: float
    scale: str
    step: float
    doc: str = ""


def _param_range(name: str, value: float, unit: str) -> tuple[float, float, str, float]:
    """Slider range for a parameter: log for time constants and weights, 0..1 for fractions,
    -100..+20 mV (widened to include the value) for reversal potentials."""
    v = float(value)
    if unit == "mV" or name in ("e", "erev") or name.startswith(("e_", "erev")):
        return min(-100.0, v - 10.0), max(20.0, v + 10.0), "linear", 0.5
    if name in _FRACTION_NAMES or (unit in ("1", "") and name.lower().startswith(("use", "p0"))):
        return 0.0, 1.0, "linear", 0.005
    if unit == "ms" or name.lower().startswith("tau"):
        if v > 0:
            return max(1e-3, v / 20.0), max(v * 20.0, 1.0), "log", 0.01
        return 0.0, 1000.0, "linear", 1.0  # 0 = "off" (Dep/Fac): a log slider cannot show it
    if v > 0:
        return v / 20.0, v * 20.0, "log", 0.01
    if v < 0:
        return 2.0 * v, -2.0 * v, "linear", abs(v) / 100.0
    return -1.0, 1.0, "linear", 0.01


# --- protocol ---------------------------------------------------------------------------------
@dataclass
class SynapseProtocol:
    """Protocol settings of the tuner (mutable; :meth:`SynapseTuner.set_protocol` validates).

    - ``clamp``: "voltage" (SEClamp at ``hold_mV`` mV with series resistance ``rs_MOhm`` MΩ;
      the clamp current is analysed) or "current" (no clamp object; soma v is analysed);
    - train: ``n_train`` pulses at ``freq_hz`` Hz, then ``n_rec`` recovery pulses, the first
      ``delay_ms`` ms after the last train pulse; first pulse at ``t_start_ms`` ms (the
      pre-stimulus baseline, skipped on re-runs by a checkpoint); ``tail_ms`` ms after the last
      pulse;
    - poisson: a Poisson train of ``poisson_rate_hz`` Hz over ``poisson_duration_ms`` ms from
      ``t_start_ms``, drawn with ``numpy.random.default_rng(seed)`` (reproducible);
    - ``amplitude_method``: "deconvolve" | "prepulse" | "raw"; ``normaliser``: "p90" | "first";
      ``rise_levels``: (r1, r2) fractions; ``window_ms``: response window of single events;
    - solver: ``cvode`` (variable step, ``atol``), ``dt`` ms (fixed step), ``celsius`` °C and
      ``v_init`` mV (None: the config's ``conditions``, else 34 °C / -70 mV);
    - placement: "distance" (target_sections/distance_range, deterministic) or "edge" (the
      ``edge_index``-th edge of the type's ``afferent_section_id/pos``);
    - ``checkpoint``: skip the pre-stimulus baseline on re-runs (a SaveState just before the
      first pulse, rebuilt whenever something it depends on changes).
    """

    clamp: str = "voltage"
    hold_mV: float = -70.0
    freq_hz: float = 50.0
    delay_ms: float = 250.0
    n_train: int = 8
    n_rec: int = 4
    cvode: bool = True
    amplitude_method: str = "deconvolve"
    normaliser: str = "p90"
    rise_levels: tuple[float, float] = (0.1, 0.9)
    window_ms: float = 100.0
    t_start_ms: float = 300.0
    tail_ms: float = 150.0
    rs_MOhm: float = 0.01
    atol: float = 1e-4
    dt: float = 0.025
    celsius: float | None = None
    v_init: float | None = None
    placement: str = "distance"
    edge_index: int = 0
    checkpoint: bool = True
    poisson_rate_hz: float = 20.0
    poisson_duration_ms: float = 2000.0
    seed: int = 0

    def validated(self) -> SynapseProtocol:
        """A checked copy (raises TunerError naming the bad setting)."""
        p = replace(self, rise_levels=tuple(float(x) for x in self.rise_levels))
        checks = [
            (p.clamp in ("voltage", "current"), f"clamp must be 'voltage' or 'current', not {p.clamp!r}"),
            (p.freq_hz > 0 and math.isfinite(p.freq_hz), f"freq_hz must be > 0 Hz, got {p.freq_hz}"),
            (p.delay_ms >= 0, f"delay_ms (recovery delay) must be >= 0 ms, got {p.delay_ms}"),
            (int(p.n_train) >= 3, f"n_train must be >= 3 (induction uses the last three), got {p.n_train}"),
            (int(p.n_rec) >= 0, f"n_rec must be >= 0, got {p.n_rec}"),
            (p.amplitude_method in ("deconvolve", "prepulse", "raw"),
             f"amplitude_method must be 'deconvolve', 'prepulse' or 'raw', not {p.amplitude_method!r}"),
            (p.normaliser in ("p90", "first"), f"normaliser must be 'p90' or 'first', not {p.normaliser!r}"),
            (0 < p.rise_levels[0] < p.rise_levels[1] < 1, f"rise_levels must be 0 < r1 < r2 < 1, got {p.rise_levels}"),
            (p.window_ms > 0, f"window_ms must be > 0, got {p.window_ms}"),
            (p.t_start_ms >= 20, f"t_start_ms (pre-stimulus baseline) must be >= 20 ms, got {p.t_start_ms}"),
            (p.tail_ms > 0, f"tail_ms must be > 0, got {p.tail_ms}"),
            (p.rs_MOhm > 0, f"rs_MOhm must be > 0, got {p.rs_MOhm}"),
            (p.dt > 0 and p.atol > 0, "dt and atol must be > 0"),
            (p.placement in ("distance", "edge"), f"placement must be 'distance' or 'edge', not {p.placement!r}"),
            (math.isfinite(p.hold_mV), f"hold_mV must be finite, got {p.hold_mV}"),
            (p.poisson_rate_hz > 0 and math.isfinite(p.poisson_rate_hz),
             f"poisson_rate_hz must be > 0 Hz, got {p.poisson_rate_hz}"),
            (p.poisson_duration_ms > 0 and math.isfinite(p.poisson_duration_ms),
             f"poisson_duration_ms must be > 0 ms, got {p.poisson_duration_ms}"),
            (float(p.seed) == int(p.seed) and int(p.seed) >= 0, f"seed must be an integer >= 0, got {p.seed}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise TunerError(msg)
        p.n_train, p.n_rec, p.seed = int(p.n_train), int(p.n_rec), int(p.seed)
        return p


#: bmtool 0.8.7's SynapseTuner connects its stimulus with this NetCon delay (ms) whatever the
#: edge says; convention="bmtool" does the same, so latency and half-width compare
BMTOOL_NETCON_DELAY_MS = 1.3


def run_protocol(p: SynapseProtocol, kind: str, *, weight_uS: float, netcon_delay_ms: float,
                 convention: str = "bmtool_lab", stream: bool = False) -> RunProtocol:
    """The worker's protocol of one run (:class:`~bmtool_lab.sim.synapse_jobs.RunProtocol`) of
    the tuner's protocol ``p``: the one conversion every run goes through (the tuner, the
    optimizer's evaluations, the sweeps, the PointNet tuner).

    ``kind``: "single", "train" or "poisson"; ``weight_uS``: the connection's NetCon weight;
    ``netcon_delay_ms``: its NetCon delay (ms; the edge's delay), which every event adds to its
    pulse time. The tuner's ``delay_ms`` is the *recovery* delay (last train pulse to first
    recovery pulse) and becomes ``recovery_delay_ms``; the two are never the same field.
    ``convention="bmtool"`` uses bmtool's fixed NetCon delay (:data:`BMTOOL_NETCON_DELAY_MS`)
    and skips the single-event kernel unless amplitudes are deconvolved. Single events run at
    least ``window_ms`` after the pulse; ``celsius``/``v_init`` left None become 34 °C / -70 mV.
    """
    return RunProtocol(
        kind=kind, clamp=p.clamp, hold_mV=p.hold_mV, rs_MOhm=p.rs_MOhm, freq_hz=p.freq_hz,
        recovery_delay_ms=float(p.delay_ms), n_train=p.n_train, n_rec=p.n_rec, t_start_ms=p.t_start_ms,
        tail_ms=max(p.tail_ms, p.window_ms) if kind == "single" else p.tail_ms,
        weight_uS=float(weight_uS),
        netcon_delay_ms=BMTOOL_NETCON_DELAY_MS if convention == "bmtool" else float(netcon_delay_ms),
        cvode=p.cvode, atol=p.atol, dt=p.dt,
        celsius=34.0 if p.celsius is None else p.celsius, v_init=-70.0 if p.v_init is None else p.v_init,
        # The single-event kernel (a second run): deconvolution and the train's event metrics.
        # bmtool's convention measures raw amplitudes and no event metrics in a train: one run.
        kernel=kind in ("train", "poisson") and not (convention == "bmtool" and p.amplitude_method != "deconvolve"),
        checkpoint=p.checkpoint, stream=stream, poisson_rate_hz=p.poisson_rate_hz,
        poisson_duration_ms=p.poisson_duration_ms, seed=p.seed,
    )


_PROTOCOL_ALIASES = {"freq": "freq_hz", "delay": "delay_ms", "hold": "hold_mV", "f": "freq_hz",
                     "rate_hz": "poisson_rate_hz", "duration_ms": "poisson_duration_ms"}


# --- results ----------------------------------------------------------------------------------
@dataclass
class SynapseResult:
    """One run: traces and metrics.

    ``t_ms`` (ms, float64); ``traces``: float32 arrays ("i_clamp" nA under voltage clamp,
    "v_soma" mV under current clamp, "i_syn" nA, "g_syn" µS, "v_syn" mV) with units in
    ``trace_units``; ``analysed``: the trace the metrics come from; ``metrics`` (keys end in
    ``_ms`` for times; units of the others in ``units``); ``pulse_times_ms``: when the
    stimulus delivers each event (the NetCon delay comes on top); ``params``: the
    dynamics-JSON values of the run; ``placement``: where the synapse was; ``sim_ms``: NEURON
    time in the worker; ``wall_ms``: submit → result.
    """

    kind: str
    connection: str
    t_ms: np.ndarray
    traces: dict[str, np.ndarray]
    trace_units: dict[str, str]
    analysed: str
    pulse_times_ms: np.ndarray
    metrics: dict[str, Any]
    units: dict[str, str]
    params: dict[str, Any]
    protocol: SynapseProtocol
    placement: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sim_ms: float = float("nan")
    wall_ms: float = float("nan")
    restored: bool = False
    kernel: tuple[np.ndarray, np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def no_response(self) -> str | None:
        """Why this run has no synaptic response and so no metrics (zero weight, no driving force
        at the hold...); None when it has one."""
        return (self.info or {}).get("no_response")

    def copy(self) -> SynapseResult:
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.metrics.items() if not isinstance(v, list)}
        text = ", ".join(f"{k}={v:.4g}" for k, v in shown.items() if isinstance(v, float))
        return f"{type(self).__name__}({self.connection!r}, {self.kind}, {text})"


@dataclass(repr=False)
class TrainResult(SynapseResult):
    """A train + recovery run; ``amplitudes`` per pulse (unit ``units["amplitude"]``) and the
    STP indices in ``metrics`` (simple_ppr, ppr, induction, recovery). The single-event
    metrics (amplitude, latency_ms...) come from the single-event kernel of the same run."""

    amplitudes: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(repr=False)
class PoissonResult(SynapseResult):
    """A Poisson-input run: ``pulse_times_ms`` are the Poisson event times; ``amplitudes`` per
    event (deconvolved with the run's single-event kernel, unit ``units["amplitude_mean"]``);
    ``metrics``: n_events, mean_rate_hz, mean_response, peak, amplitude_mean, amplitude_cv,
    steady_state_ratio, amplitudes, and the single-event metrics of the kernel."""

    amplitudes: np.ndarray = field(default_factory=lambda: np.empty(0))


# --- analysis (kernel side, pure numpy) -------------------------------------------------------
def analyse_run(out: dict, p: SynapseProtocol, kind: str, convention: str = "bmtool_lab", *, label: str = "",
                params: dict | None = None, notes: Sequence[str] = ()) -> SynapseResult:
    """A SynapseResult/TrainResult from one worker run; the metrics (docs/metrics.md §1–2)
    are measured in the worker (single-threaded BLAS) unless the run came without them."""
    analysed = "i_clamp" if p.clamp == "voltage" else "v_soma"
    measured = out.get("measured")
    if measured is None:
        measured = measure_run(out, measure_settings(p, convention), kind)
    metrics, units, kernel = measured["metrics"], measured["units"], measured.get("kernel")
    info = {k: out.get(k) for k in ("mechanism", "applied", "clamp_present", "n_netcons_to_synapse", "e_rev_mV",
                                    "n_points", "solver_steps", "measure_ms", "job_ms", "model_id",
                                    "no_response")}
    res_cls = {"train": TrainResult, "poisson": PoissonResult}.get(kind, SynapseResult)
    kwargs: dict[str, Any] = dict(
        kind=kind, connection=label, t_ms=np.asarray(out["t"], dtype=np.float64),
        traces={k: np.asarray(v, dtype=np.float32) for k, v in out["traces"].items()},
        trace_units=dict(out["units"]), analysed=analysed,
        pulse_times_ms=np.asarray(out["pulse_times_ms"], dtype=np.float64), metrics=metrics, units=units,
        params=dict(params or {}), protocol=copy.copy(p), placement=dict(out.get("placement") or {}),
        notes=list(notes) + list(out.get("notes") or [])
        + ([f"no response: {out['no_response']}; no metrics"] if out.get("no_response") else []), sim_ms=float(out.get("sim_ms", float("nan"))),
        restored=bool(out.get("restored", False)), kernel=kernel, info=info,
    )
    if kind in ("train", "poisson"):
        kwargs["amplitudes"] = np.asarray(metrics["amplitudes"])
    return res_cls(**kwargs)


def measure_settings(p: SynapseProtocol, convention: str) -> MeasureSettings:
    """What the worker needs to measure a run of protocol ``p``."""
    return MeasureSettings(analysed="i_clamp" if p.clamp == "voltage" else "v_soma", window_ms=p.window_ms,
                           rise_levels=tuple(p.rise_levels), amplitude_method=p.amplitude_method,
                           normaliser=p.normaliser, convention=convention, dt=p.dt, n_train=p.n_train,
                           n_rec=p.n_rec)
