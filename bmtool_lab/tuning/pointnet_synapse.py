"""The synapse tuner on PointNet (NEST) models: ``SynapseTuner(pointnet_config)`` returns one.

Headless use::

    from bmtool_lab import SynapseTuner
    tuner = SynapseTuner("pointnet_config.json")   # a PointSynapseTuner (NEST in a worker)
    tuner.connections                               # every edge type
    tuner.select("LIF2LIF")
    tuner.params                                    # the synapse model's parameters (NEST names)
    tuner.set_params(U=0.3, tau_rec=500.0)
    res = tuner.run_train(freq=20, delay=250)       # TrainResult: V_m trace, amplitudes, PPR...
    tuner.save()                                    # into LIF2LIF.json (diff, backup, atomic)

The post cell is the NEST model of the target node type with its dynamics JSON; the synapse is
the edge type's NEST synapse model with its dynamics JSON, weight (``syn_weight`` × nsyns per
edge, as bmtk's PointNet gives it: pA for current-based cells, nS for conductance-based ones)
and delay. The stimulus reaches it through a parrot neuron (NEST refuses plastic synapses from
devices), so short-term plasticity state carries over from the train to the recovery pulses
(:mod:`bmtool_lab.sim.nest_jobs`). Parameters are what ``nest.GetDefaults(synapse_model)``
lists as numeric and settable (weight and delay are edge properties, set with
:meth:`PointSynapseTuner.set_connection`, not saved); NEST itself checks the values, and a
value it rejects comes back as a SimError with NEST's message, the worker carrying on.

Metrics are the BioNet tuner's (docs/metrics.md §1–2) on V_m (``clamp="current"``, default)
or on ``-I_syn``, what an ideal voltage clamp records in a current-based model
(``clamp="voltage"``).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from bmtool_lab.model.dynamics import DynamicsError, load_dynamics_with_mtime
from bmtool_lab.sim.nest_jobs import (
    EDGE_KEYS,
    PointCellSpec,
    PointSynapseSpec,
    describe_nest_job,
    nest_synapse_run_job,
    require_nest,
)
from bmtool_lab.tuning.kinds import dashboard_of
from bmtool_lab.tuning.synapse import (
    ParamSpec,
    SynapseProtocol,
    SynapseTuner,
    TunerError,
    _ConnState,
    _is_number,
    _param_range,
    measure_settings,
)

__all__ = ["PointSynapseTuner", "point_cell_spec"]

#: cell parameters not offered as sliders: state (V_m, thresholds), calcium and STDP traces, ignore_and_*
CELL_SKIP = frozenset({"V_m", "Ca", "beta_Ca", "tau_Ca", "tau_minus", "tau_minus_triplet", "ignore_and_spike_interval",
                       "ignore_and_spike_offset", "threshold_spike", "threshold_voltage", "V_min"})
#: units of NEST neuron parameters (ms, pF, nS, mV, pA)
_CELL_UNITS = {"C_m": "pF", "g": "nS", "g_L": "nS", "I_e": "pA", "t_ref": "ms", "Delta_T": "mV", "a": "nS", "b": "pA"}


def cell_param_unit(name: str) -> str:
    """Unit of a NEST neuron parameter: mV for potentials (V_*, E_*), ms for tau_* / t_ref..."""
    if name in _CELL_UNITS:
        return _CELL_UNITS[name]
    if name.startswith(("V_", "E_")):
        return "mV"
    if name.startswith(("tau", "t_")):
        return "ms"
    return ""


#: dynamics-JSON keys passed to NEST as they are, never tuned (receptor port, labels)
FIXED_KEYS = frozenset({"receptor_type", "synapse_label", "level_of_detail", "model", "synapse_model"})


def point_cell_spec(cell: Any) -> PointCellSpec:
    """The NEST cell of a point-neuron CellType (its template and dynamics JSON); TunerError
    when the type is not a NEST point neuron or its file cannot be read."""
    template = (cell.model_template or "").strip()
    if cell.kind != "point" or not template.startswith("nest:"):
        raise TunerError(f"{cell.key} is not a NEST point neuron (model_type {cell.model_type!r}, model_template "
                         f"{cell.model_template!r}); PointNet needs model_template 'nest:<model>'")
    try:
        params = cell.dynamics() or {}
    except (OSError, ValueError) as err:
        raise TunerError(f"{cell.key}: cannot read dynamics_params {cell.dynamics_params_path}: {err}") from None
    frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())  # hashable
    return PointCellSpec(label=cell.key, template=template, params=frozen)


class PointSynapseTuner(SynapseTuner):
    """:class:`~bmtool_lab.tuning.synapse.SynapseTuner` for a PointNet model: the same API
    (select, params, set_params, undo/redo, run_single / run_train / run_poisson, submit,
    frequency_response, synaptic_table, preview_save, save, save_as), run on NEST.

    ``protocol.dt`` is NEST's resolution (the config's ``run.dt``); ``clamp`` is "current"
    (V_m) by default; ``cvode``, ``celsius``, ``v_init``, ``placement`` and ``checkpoint`` do
    not apply to point neurons.
    """

    title = "Synapse tuner (PointNet)"
    _run_job = staticmethod(nest_synapse_run_job)

    @property
    def dashboard(self) -> Any:
        """The dashboard object (its ``box`` is the widget shown), built on first use through the
        dashboard-kinds registry (:data:`bmtool_lab.tuning.kinds.KINDS`)."""
        return dashboard_of(self)

    def __init__(self, config: str | Path, *, connection: Any = None, executor: Any = None, worker: Any = None,
                 **unused: Any) -> None:
        require_nest()
        if config is None:
            raise TunerError("PointSynapseTuner needs a PointNet config")
        bad = sorted(k for k in unused if k not in ("convention",))
        if bad:
            raise TunerError(f"PointSynapseTuner takes a config only; {', '.join(bad)} apply to BioNet cells")
        self._describe_cache: dict[Any, dict] = {}
        self._cell_values: dict[str, dict[str, float]] = {}  # cell type -> what-if values (not saved)
        super().__init__(config, connection=connection, executor=executor, worker=worker)
        self.protocol = replace(self.protocol, clamp="current", cvode=False, checkpoint=False).validated()

    # --- construction ---------------------------------------------------------------------
    def _new_state(self, ct: Any) -> _ConnState:
        from bmtool_lab.model.cell_types import cell_type_of  # local: heavy: pandas, h5py (model.cell_types)

        notes: list[str] = []
        file_params: dict[str, Any] = {}
        mtime = None
        if ct.dynamics_path is not None:
            try:
                file_params, mtime = load_dynamics_with_mtime(ct.dynamics_path)
            except DynamicsError as err:
                raise TunerError(f"{ct.name}: {err}") from None
        else:
            notes.append("the edge type names no dynamics file: NEST defaults, nothing to save")
        model = (ct.model_template or "static_synapse").strip()
        model = model.split(":", 1)[1] if model.startswith("nest:") else model
        if not ct.model_template:
            notes.append("no model_template: static_synapse (bmtk's default)")
        try:
            cell = cell_type_of(self._cell_types, ct.target_population, ct.target_node_type_ids, ct.target_groups)
        except KeyError as err:
            raise TunerError(f"{ct.name}: cannot tell which cell type its targets are ({err.args[0]})") from None
        cell_spec = point_cell_spec(cell)
        if len(ct.target_node_type_ids) > 1:
            notes.append(f"targets are node types {list(ct.target_node_type_ids)}: tuned on {cell.key}")
        weight = ct.syn_weight
        if weight is None:
            weight = 1.0
            notes.append("the edge type has no syn_weight: weight 1 (NEST's default)")
            warnings.warn(f"{ct.name}: {notes[-1]}", stacklevel=3)
        nsyns = ct.n_synapses / ct.n_edges if ct.n_edges and "nsyns" in ct.edge_properties else 1.0
        if nsyns != 1.0:
            notes.append(f"weight = syn_weight × {nsyns:g} synapses per edge (bmtk's PointNet weight)")
        delay = ct.delay if ct.delay is not None else file_params.get("delay", 1.0)
        fixed = tuple((k, v) for k, v in file_params.items() if k in FIXED_KEYS)
        spec = PointSynapseSpec(label=ct.name, cell=cell_spec, synapse_model=model, weight=float(weight) * nsyns,
                                delay_ms=float(delay), fixed=fixed)
        numeric = {k: float(v) for k, v in file_params.items()
                   if _is_number(v) and k not in FIXED_KEYS and k not in EDGE_KEYS}
        return _ConnState(key=ct.key, label=ct.name, ct=ct, spec=spec, weight_uS=spec.weight,
                          delay_ms=spec.delay_ms, file_params=dict(file_params), mtime_ns=mtime,
                          history=[numeric], notes=notes)

    def _describe(self, st: _ConnState) -> None:
        key = (st.spec.cell, st.spec.synapse_model)
        info = self._describe_cache.get(key)
        if info is None:
            info = self.worker.call(describe_nest_job, timeout=120, cell=st.spec.cell,
                                    synapse_model=st.spec.synapse_model)
            self._describe_cache[key] = info
        st.mech = {"parameters": info["synapse"]["parameters"], "nest": info}

    def _check_values(self, st: _ConnState, params: dict[str, float]) -> None:
        """NEST checks values when the run connects the synapse (its message comes back as a SimError)."""

    # --- what the tuner shows --------------------------------------------------------------
    @property
    def mechanism(self) -> str:
        """The NEST synapse model of the selected connection."""
        return self._st().spec.synapse_model

    @property
    def cell_model(self) -> str:
        """The NEST model of the post cell."""
        return self._st().mech["nest"]["cell"]["model"]

    @property
    def cell_params(self) -> dict[str, float]:
        """The post cell's numeric parameters as NEST created it (the node type's dynamics JSON
        on top of the model's defaults)."""
        st = self._st()
        return {**st.mech["nest"]["cell"]["params"], **self._cell_values.get(st.spec.cell.label, {})}

    @property
    def cell_param_specs(self) -> list[ParamSpec]:
        """One ParamSpec per tunable parameter of the post cell (numeric, settable keys of its
        NEST status, not state such as V_m): slider ranges as the synapse parameters'."""
        st = self._st()
        created = st.mech["nest"]["cell"]["params"]
        out = []
        for name, value in self.cell_params.items():
            if name in CELL_SKIP:
                continue
            unit = cell_param_unit(name)
            lo, hi, scale, step = _param_range(name, value, unit)
            out.append(ParamSpec(name, float(value), float(created[name]), unit, lo, hi, scale, step,
                                 f"{self.cell_model}.{name}"))
        return out

    def set_cell_params(self, **values: float) -> dict[str, float]:
        """What-if values of the post cell's NEST parameters (``C_m=200``, ``tau_m=15``...) for
        the next runs of every connection onto this cell type; not saved (the cell profiler
        and the node type's JSON own them). NEST checks them at the next run; emits "params"."""
        st = self._st()
        known = st.mech["nest"]["cell"]["params"]
        for name, value in values.items():
            if name not in known or name in CELL_SKIP:
                allowed = ", ".join(sorted(k for k in known if k not in CELL_SKIP))
                raise TunerError(f"{self.cell_model} has no tunable parameter {name!r}; it has: {allowed}")
            if not _is_number(value):
                raise TunerError(f"{name} must be a number, got {value!r}")
        self._cell_values.setdefault(st.spec.cell.label, {}).update({k: float(v) for k, v in values.items()})
        self._emit("params", self.params)
        return self.cell_params

    def reset_cell_params(self) -> None:
        """Back to the node type's own values for the selected connection's post cell."""
        self._cell_values.pop(self._st().spec.cell.label, None)
        self._emit("params", self.params)

    def unsaved_cell_params(self) -> dict[str, dict[str, float]]:
        """{cell type: {parameter: what-if value}}: the cell values set here (for a network run)."""
        return {k: dict(v) for k, v in self._cell_values.items() if v}

    @property
    def nest_version(self) -> str:
        return self._st().mech["nest"]["nest_version"]

    @property
    def weight(self) -> float:
        """The connection's weight (pA for current-based post cells, nS for conductance-based)."""
        return self._st().weight_uS

    @property
    def delay_ms(self) -> float:
        return self._st().delay_ms

    @property
    def weight_unit(self) -> str:
        return self._st().mech["nest"]["synapse"]["weight_unit"]

    def set_connection(self, weight: float | None = None, delay_ms: float | None = None) -> None:
        """Change the weight / delay of the selected connection for the next runs (edge
        properties of the SONATA files: not saved into the dynamics JSON)."""
        st = self._st()
        if weight is not None:
            st.weight_uS = float(weight)
        if delay_ms is not None:
            if not delay_ms >= self.protocol.dt:
                raise TunerError(f"delay_ms must be >= the resolution ({self.protocol.dt} ms), got {delay_ms}")
            st.delay_ms = float(delay_ms)

    @property
    def placement(self) -> str:
        return f"point neuron {self.cell_model}" if self._st().last is not None else ""

    # --- runs -----------------------------------------------------------------------------
    def _job_kwargs(self, st: _ConnState, p: SynapseProtocol, kind: str, stream: bool) -> dict[str, Any]:
        spec = replace(st.spec, label=st.label, weight=st.weight_uS, delay_ms=st.delay_ms)
        what_if = self._cell_values.get(spec.cell.label)
        if what_if:
            cell = {**dict(spec.cell.params), **what_if}
            spec = replace(spec, cell=replace(spec.cell, params=tuple(cell.items())))
        return {"spec": spec, "params": dict(st.params), "proto": self._run_protocol(st, p, kind, False),
                "measure": measure_settings(p, self.convention)}

    def __repr__(self) -> str:
        return f"PointSynapseTuner({len(self.connections)} connections, selected={self.name!r}, unsaved={self.unsaved})"
