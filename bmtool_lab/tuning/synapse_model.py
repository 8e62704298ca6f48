"""The model side of a synapse tuner's connection: its per-connection state, BioNet's weight
rules, the afferent location of an edge, the cell of a hoc template, and the
:class:`ConnectionModel` mixin (the model's own synapse function, its weight and placement)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.model.dynamics import UNITS
from bmtool_lab.model.hoc_templates import template_names, templates_in
from bmtool_lab.model.python_hooks import synapse_hook
from bmtool_lab.sim.model_hooks import hook_mechanism_job, weight_function_job
from bmtool_lab.sim.synapse_jobs import (
    DESCRIPTIVE_KEYS,
    Placement,
    SynapseSpec,
)
from bmtool_lab.tuning.synapse_protocol import (
    IDENTITY_WEIGHT_FUNCTIONS,
    SynapseResult,
    TunerError,
)


# --- per-connection state ---------------------------------------------------------------------
@dataclass
class _ConnState:
    key: Any
    label: str
    ct: Any  # ConnectionType or None
    spec: SynapseSpec
    weight_uS: float
    delay_ms: float
    file_params: dict[str, Any]  # the dynamics JSON as on disk (all keys, order kept)
    mtime_ns: int | None
    history: list[dict[str, float]]
    pos: int = 0
    mech: dict[str, Any] | None = None
    last: SynapseResult | None = None
    pinned: SynapseResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, float]:
        return self.history[self.pos]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numeric(params: dict[str, Any]) -> dict[str, float]:
    """The dynamics-JSON entries that may set a mechanism parameter (numbers, not descriptive)."""
    return {k: float(v) for k, v in params.items() if k not in DESCRIPTIVE_KEYS and _is_number(v)}


# --- helpers ----------------------------------------------------------------------------------
def _unit(st: _ConnState, name: str) -> str:
    mech_name = dict(st.spec.renames).get(name, name)
    if st.mech is not None:
        for p in st.mech["parameters"]:
            if p["name"] == mech_name and p.get("unit"):
                return "µS" if p["unit"] == "uS" else p["unit"]
    return UNITS.get(name, "")


def _mech_default(st: _ConnState, name: str, fallback: float) -> float:
    mech_name = dict(st.spec.renames).get(name, name)
    for p in (st.mech or {}).get("parameters", []):
        if p["name"] == mech_name:
            return float(p["default"])
    return float(fallback)


def _check_known(st: _ConnState, values: dict[str, Any]) -> None:
    if st.mech is None:
        known = set(_numeric(st.file_params))
    else:
        renames = dict(st.spec.renames)
        mech_names = {p["name"] for p in st.mech["parameters"]}
        known = {k for k in renames if renames[k] in mech_names} | mech_names
        if st.spec.hook_model:  # the model's synapse function reads the file's own keys
            known |= set(_numeric(st.file_params))
    unknown = [k for k in values if k not in known]
    if unknown:
        raise TunerError(f"{st.spec.mechanism} has no parameter {', '.join(map(repr, unknown))}; its parameters "
                         f"are: {', '.join(sorted(known))}")


def _bionet_weight(ct: Any) -> tuple[float, str]:
    """NetCon weight (µS) BioNet gives this edge type, and a note when it is uncertain."""
    w = ct.syn_weight
    if w is None:
        return 0.0, "the edge type has no syn_weight: NetCon weight 0 (no response)"
    fn = ct.weight_function
    if fn is None or fn in IDENTITY_WEIGHT_FUNCTIONS:
        return float(w), ""
    if fn == "gaussianLL":
        return float(w), "weight_function gaussianLL scales syn_weight by tuning-angle difference per pair: " \
                         "tuned at its maximum (syn_weight)"
    return float(w), f"weight_function {fn!r} is not one of bmtk's built-in functions, so the tuner cannot " \
                     "apply it: using syn_weight as the NetCon weight"


def _afferent_location(config: Any, ct: Any, index: int) -> tuple[int, float]:
    """afferent_section_id/pos of the ``index``-th edge of a type (BioNet's preselected placement)."""
    from bmtool_lab.model.sonata import SonataNetwork  # local: heavy: pandas, h5py (model.sonata)

    edges = SonataNetwork(config).edge_population(ct.edge_population)
    if "afferent_section_id" not in edges.edge_attribute_names():
        raise TunerError(f"{ct.name}: its edges have no afferent_section_id; use placement='distance'")
    rows = np.flatnonzero(edges.edge_type_ids() == ct.edge_type_id)
    if not 0 <= index < rows.size:
        raise TunerError(f"{ct.name}: edge_index {index} is outside its {rows.size} edges")
    sec_id = edges.values("afferent_section_id")[rows[index]]
    pos = edges.values("afferent_section_pos")[rows[index]] if "afferent_section_pos" in \
        edges.edge_attribute_names() else 0.5
    return int(sec_id), float(pos)


def _cell_from_template(template: Any, mechanisms_dir: Any, templates_dir: Any) -> Any:
    """A CellType (or a builder function) from the ``template`` argument of a tuner without BMTK."""
    import re

    from bmtool_lab.model.cell_types import CellType  # local: heavy: pandas, h5py (model.cell_types)

    if isinstance(template, CellType):
        if mechanisms_dir and template.mechanisms_dir is None:
            return template.with_changes(mechanisms_dir=Path(mechanisms_dir).resolve())
        return template
    if callable(template):
        return template
    text = str(template)
    name = None
    m = re.match(r"^(.*\.hoc):(\w+)$", text)
    if m:
        text, name = m.group(1), m.group(2)
    path = Path(text).expanduser()
    if path.suffix == ".hoc":
        if not path.is_file():
            raise TunerError(f"hoc file {path} does not exist")
        found = template_names(path.read_text(errors="replace"))
        if name is None:
            if len(found) != 1:
                raise TunerError(f"{path} defines {len(found)} templates ({', '.join(found)}); "
                                 f"say which: '{path}:Name'")
            name = found[0]
        elif name not in found:
            raise TunerError(f"{path} does not define template {name!r} (it defines {', '.join(found) or 'none'})")
        return CellType.from_hoc(name, hoc_file=path, mechanisms_dir=mechanisms_dir)
    if templates_dir is None:
        raise TunerError(f"template {text!r}: give a .hoc file path, or templates_dir= to find it in")
    if text not in templates_in(templates_dir):
        raise TunerError(f"no .hoc file in {templates_dir} defines template {text!r}")
    return CellType.from_hoc(text, templates_dir=templates_dir, mechanisms_dir=mechanisms_dir)


class ConnectionModel:
    """How :class:`~bmtool_lab.tuning.synapse.SynapseTuner` reads a connection's model (a mixin)."""

    def _synapse_hook(self, ct: Any, cell: Any, file_params: dict, notes: list[str]) -> dict | None:
        """How the model's own synapse function builds this connection, as BioNet would use it:
        {"mechanism", "spec": SynapseSpec fields}; None (and a note when a file could not be
        used) when the model registers no function for its model_template."""
        import json

        found = synapse_hook(self._hooks, ct.model_template)
        if found is None:
            return None
        hook, fn = found
        if hook.unsafe:
            said = f"{hook.path.name} registers {ct.model_template!r} ({fn}()) but was not run: {hook.unsafe}"
            if hook.mechanism_of(fn) != ct.model_template:  # no mod file of that name to fall back on
                raise TunerError(f"{ct.name}: {said}. Move the synapse functions into a file of definitions only "
                                 "(bmtk's synapses.py with a load() function), or guard the run with "
                                 "if __name__ == '__main__'")
            notes.append(f"{said}; the synapse is built by mechanism name and its parameters set by name")
            return None
        key = ("hook", hook.path, ct.model_template)
        mech = self._mech_cache.get(key)
        if mech is None:
            mech = self.worker.call(hook_mechanism_job, timeout=120, hooks=self._hooks, name=ct.model_template,
                                    params=dict(file_params),
                                    mechanisms_dirs=(getattr(cell, "mechanisms_dir", None),))
            self._mech_cache[key] = mech
        return {"mechanism": mech, "spec": {"hook_model": ct.model_template, "hooks": self._hooks,
                                            "hook_file_json": json.dumps(file_params)}}

    def _model_weight(self, ct: Any, hook: Any, fn: str) -> tuple[float, str]:
        """NetCon weight from the model's own weight function ``fn`` of ``hook`` on the
        connection's first edge."""
        from bmtool_lab.model.sonata import SonataNetwork  # local: heavy: pandas, h5py (model.sonata)

        if hook.unsafe:
            return float(ct.syn_weight or 0.0), (f"weight_function {ct.weight_function!r} is registered in {hook.path.name}, which was not "
                       f"run ({hook.unsafe}): using syn_weight as the NetCon weight")
        edge, src, trg = SonataNetwork(self.config).first_edge_props(ct)
        w = float(self.worker.call(weight_function_job, timeout=120, hooks=self._hooks, name=ct.weight_function,
                                   edge=edge, src_node=src, trg_node=trg))
        return w, (f"NetCon weight {w:.6g} µS from the model's weight function {ct.weight_function!r} "
                   f"({hook.path.name}: {fn}()) on the connection's first edge (syn_weight {ct.syn_weight:g}); "
                   "BioNet computes it per edge")

    def _placement(self, ct: Any) -> Placement:
        if self.protocol.placement == "edge":
            sec_id, pos = _afferent_location(self.config, ct, self.protocol.edge_index)
            return Placement(target_sections=None, section_id=sec_id, section_pos=pos)
        return Placement(target_sections=tuple(ct.target_sections) if ct.target_sections else ("somatic",),
                         distance_range=tuple(ct.distance_range) if ct.distance_range else None)
