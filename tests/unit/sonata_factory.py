"""Write small SONATA networks for tests: nodes/edges h5 (h5py), space-separated types CSVs and
a BMTK circuit config with manifest variables.

Both edge formats: one row per connection with ``nsyns`` (``Edges(nsyns=...)``) or one row
per synapse (:func:`per_synapse`). Several populations per h5 file; edge population names are
whatever the test picks (nothing assumes ``src_to_tgt``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd


@dataclass
class Nodes:
    """One node population: ``node_type_id`` per node; optional positions (µm) and group attributes."""

    node_type_id: Sequence[int] | np.ndarray
    positions: np.ndarray | None = None
    xyz: bool = False  # store positions as x/y/z datasets instead of a (N, 3) ``positions``
    node_id: np.ndarray | None = None
    attrs: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Edges:
    """One edge population. ``source``/``target`` are node ids; ``edge_type_id`` an int or per row.

    ``group`` splits rows into edge groups (default all in group 0); ``group_attrs`` restricts
    which attributes each group stores (default: every attribute in every group).
    """

    source: Sequence[int] | np.ndarray
    target: Sequence[int] | np.ndarray
    source_population: str
    target_population: str
    edge_type_id: int | Sequence[int] | np.ndarray
    nsyns: Sequence[int] | np.ndarray | None = None
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    group: np.ndarray | None = None
    group_attrs: dict[int, Sequence[str]] | None = None
    write_population_attr: bool = True

    def arrays(self) -> dict[str, np.ndarray]:
        n = len(self.source)
        et = np.broadcast_to(np.asarray(self.edge_type_id, dtype=np.int64), (n,)).copy()
        out = {"source": np.asarray(self.source, np.int64), "target": np.asarray(self.target, np.int64),
               "edge_type_id": et}
        return out


def per_synapse(edges: Edges) -> Edges:
    """The same connections written one row per synapse (rows repeated ``nsyns`` times, no nsyns)."""
    if edges.nsyns is None:
        return edges
    reps = np.asarray(edges.nsyns, dtype=np.int64)
    a = edges.arrays()
    return replace(
        edges,
        source=np.repeat(a["source"], reps),
        target=np.repeat(a["target"], reps),
        edge_type_id=np.repeat(a["edge_type_id"], reps),
        nsyns=None,
        attrs={k: np.repeat(np.asarray(v), reps) for k, v in edges.attrs.items()},
        group=None if edges.group is None else np.repeat(edges.group, reps),
    )


def _write_table(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    df = pd.DataFrame(list(rows))
    df.to_csv(path, sep=" ", index=False, na_rep="NULL", quoting=csv.QUOTE_MINIMAL)


def write_nodes(h5_path: Path, csv_path: Path, populations: Mapping[str, Nodes],
                node_types: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """Write a nodes h5 with several populations and its node-types CSV."""
    with h5py.File(h5_path, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], np.uint32)
        for name, spec in populations.items():
            g = f.create_group(f"nodes/{name}")
            ntid = np.asarray(spec.node_type_id, np.uint64)
            n = ntid.size
            g["node_id"] = np.arange(n, dtype=np.uint64) if spec.node_id is None else np.asarray(spec.node_id, np.uint64)
            g["node_type_id"] = ntid
            g["node_group_id"] = np.zeros(n, np.uint32)
            g["node_group_index"] = np.arange(n, dtype=np.uint64)
            grp = g.create_group("0")
            if spec.positions is not None:
                pos = np.asarray(spec.positions, np.float64)
                if spec.xyz:
                    for i, k in enumerate("xyz"):
                        grp[k] = pos[:, i]
                else:
                    grp["positions"] = pos
            for k, v in spec.attrs.items():
                v = np.asarray(v)
                grp[k] = v.astype(h5py.string_dtype()) if v.dtype.kind in "OU" else v
    _write_table(csv_path, node_types)
    return h5_path, csv_path


def write_gap_juncs(h5_path: Path, source_ids: np.ndarray, target_ids: np.ndarray) -> Path:
    """BMTK's gap-junction id file (pairs repeated from the is_gap_junction edges, for MPI)."""
    with h5py.File(h5_path, "w") as f:
        n = len(source_ids)
        f["source_ids"] = np.asarray(source_ids, np.uint64)
        f["target_ids"] = np.asarray(target_ids, np.uint64)
        f["src_gap_ids"] = np.arange(0, 2 * n, 2, dtype=np.int64)
        f["trg_gap_ids"] = np.arange(1, 2 * n, 2, dtype=np.int64)
    return h5_path


def write_edges(h5_path: Path, csv_path: Path, populations: Mapping[str, Edges],
                edge_types: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """Write an edges h5 with several populations (either format) and its edge-types CSV."""
    with h5py.File(h5_path, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], np.uint32)
        for name, spec in populations.items():
            a = spec.arrays()
            n = a["source"].size
            g = f.create_group(f"edges/{name}")
            g.create_dataset("source_node_id", data=a["source"].astype(np.uint64))
            g.create_dataset("target_node_id", data=a["target"].astype(np.uint64))
            if spec.write_population_attr:
                g["source_node_id"].attrs["node_population"] = spec.source_population
                g["target_node_id"].attrs["node_population"] = spec.target_population
            g["edge_type_id"] = a["edge_type_id"].astype(np.uint32)
            group = np.zeros(n, np.int64) if spec.group is None else np.asarray(spec.group, np.int64)
            index = np.zeros(n, np.int64)
            attrs = dict(spec.attrs)
            if spec.nsyns is not None:
                attrs["nsyns"] = np.asarray(spec.nsyns, np.uint32)
            for gid in np.unique(group) if n else [0]:
                rows = np.flatnonzero(group == gid)
                index[rows] = np.arange(rows.size)
                grp = g.create_group(str(int(gid)))
                allowed = None if spec.group_attrs is None else set(spec.group_attrs.get(int(gid), ()))
                for k, v in attrs.items():
                    if allowed is None or k in allowed:
                        grp[k] = np.asarray(v)[rows]
            g["edge_group_id"] = group.astype(np.uint16)
            g["edge_group_index"] = index.astype(np.uint32)
    _write_table(csv_path, edge_types)
    return h5_path, csv_path


def write_config(base: Path, nodes: Sequence[tuple[Path, Path]], edges: Sequence[tuple[Path, Path]] = (),
                 gap_juncs: Sequence[Path] = (), synaptic_models: Mapping[str, dict] | None = None,
                 name: str = "circuit_config.json") -> Path:
    """A BMTK circuit config using manifest variables ($BASE_DIR, $NETWORK_DIR, $COMPONENTS_DIR)."""
    base = Path(base)
    syn_dir = base / "components" / "synaptic_models"
    syn_dir.mkdir(parents=True, exist_ok=True)
    for fname, params in (synaptic_models or {}).items():
        (syn_dir / fname).write_text(json.dumps(params))

    def rel(p: Path) -> str:
        p = Path(p)
        try:
            return "$NETWORK_DIR/" + str(p.relative_to(base / "network"))
        except ValueError:
            return str(p)

    cfg = {
        "manifest": {"$BASE_DIR": str(base), "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": rel(h), "node_types_file": rel(c)} for h, c in nodes],
            "edges": [{"edges_file": rel(h), "edge_types_file": rel(c)} for h, c in edges],
        },
    }
    if gap_juncs:
        cfg["networks"]["gap_juncs"] = [{"gap_juncs_file": rel(h)} for h in gap_juncs]
    path = base / name
    path.write_text(json.dumps(cfg, indent=2))
    return path


def network_dir(base: Path) -> Path:
    d = Path(base) / "network"
    d.mkdir(parents=True, exist_ok=True)
    return d


def random_network(base: Path, sizes: Mapping[str, int], p: Mapping[tuple[str, str], float], *, seed: int = 0,
                   per_synapse_rows: bool = False, max_nsyns: int = 4, extent_um: float = 500.0) -> Path:
    """One population "net" with groups of the given sizes, each ordered pair (i ≠ j) connected
    with probability ``p[(S, T)]``; nsyns uniform in 1..max_nsyns; uniform random positions.

    Returns the config path. The edge population is called "recurrent" (not src_to_tgt).
    """
    rng = np.random.default_rng(seed)
    names = list(sizes)
    type_of = np.repeat(np.arange(len(names)), [sizes[k] for k in names])
    n = type_of.size
    src_all, tgt_all, et_all = [], [], []
    for si, s in enumerate(names):
        for ti, t in enumerate(names):
            prob = p.get((s, t), 0.0)
            if prob <= 0:
                continue
            srcs = np.flatnonzero(type_of == si)
            tgts = np.flatnonzero(type_of == ti)
            m = rng.random((srcs.size, tgts.size)) < prob
            i, j = np.nonzero(m)
            keep = srcs[i] != tgts[j]
            src_all.append(srcs[i][keep])
            tgt_all.append(tgts[j][keep])
            et_all.append(np.full(keep.sum(), 100 + si * len(names) + ti))
    src = np.concatenate(src_all)
    tgt = np.concatenate(tgt_all)
    et = np.concatenate(et_all)
    nsyns = rng.integers(1, max_nsyns + 1, src.size)
    d = network_dir(base)
    nodes = write_nodes(d / "net_nodes.h5", d / "net_node_types.csv",
                        {"net": Nodes(node_type_id=type_of + 1, positions=rng.random((n, 3)) * extent_um)},
                        [{"node_type_id": i + 1, "pop_name": k, "model_type": "biophysical"} for i, k in enumerate(names)])
    edges = Edges(src, tgt, "net", "net", et, nsyns=nsyns)
    if per_synapse_rows:
        edges = per_synapse(edges)
    types = [{"edge_type_id": 100 + si * len(names) + ti, "model_template": "Exp2Syn",
              "dynamics_params": f"{s}2{t}.json", "delay": 1.0}
             for si, s in enumerate(names) for ti, t in enumerate(names)]
    e = write_edges(d / "net_edges.h5", d / "net_edge_types.csv", {"recurrent": edges}, types)
    return write_config(base, [nodes], [e])


# The hand-built network of the tests: population "cortex" with 5 cells, groups A = {0, 1, 2}
# and B = {3, 4} on the x axis at 0, 10, 20, 100, 110 µm; a virtual population "inputs" (2
# cells, group "in") in the same nodes file; chemical edges "recurrent" and "thalamic" in one
# edges file (edge populations not named src_to_tgt), a gap-junction type inside it, and a
# second edges file "electrical" of gap junctions whose edge_type_id 10 repeats an id of the
# first file; plus BMTK's gap_juncs_file listing the gap pairs.
#            src tgt type nsyns syn_weight
FIVE_NODE_RECURRENT = np.array([
    (0, 1, 10, 2, 0.1),
    (1, 0, 10, 1, 0.2),
    (0, 2, 10, 3, 0.3),
    (2, 2, 10, 1, 0.4),  # autapse
    (0, 1, 14, 1, 0.5),  # second edge type on the pair 0→1
    (0, 3, 11, 1, 1.0),
    (1, 3, 11, 2, 2.0),
    (3, 0, 12, 1, 3.0),
    (3, 4, 13, 1, 4.0),
    (4, 3, 13, 2, 5.0),
    (1, 2, 20, 1, 0.0),  # gap junction (is_gap_junction in the edge-types CSV)
])
FIVE_NODE_THALAMIC = np.array([(0, 0, 30, 1), (0, 3, 30, 2), (1, 3, 30, 1)])
FIVE_NODE_ELECTRICAL = np.array([(0, 1), (3, 4)])

SYNAPTIC_MODELS = {
    "A2A.json": {"level_of_detail": "exp2syn", "tau1": 1.0, "tau2": 3.0, "erev": 0.0},
    "A2B.json": {"level_of_detail": "exp2syn", "tau1": 1.0, "tau2": 3.0, "erev": 0.0},
    "B2A.json": {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 8.0, "erev": -70.0},
    "B2B.json": {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 8.0, "erev": -70.0},
    "AMPA.json": {"level_of_detail": "exp2syn", "tau1": 0.2, "tau2": 2.0, "erev": 0.0},
    "Gap.json": {"g_gap": 0.0005},
}


def five_node_network(base: Path, *, per_synapse_rows: bool = False) -> Path:
    """Write the hand-built network (see FIVE_NODE_*) and return its config path."""
    d = network_dir(base)
    nodes = write_nodes(
        d / "cells_nodes.h5", d / "cells_node_types.csv",
        {
            "cortex": Nodes(node_type_id=[1, 1, 1, 2, 2],
                            positions=np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0], [100, 0, 0], [110, 0, 0]], float),
                            xyz=True),
            "inputs": Nodes(node_type_id=[3, 3]),
        },
        [
            {"node_type_id": 1, "pop_name": "A", "ei": "e", "model_type": "biophysical", "model_template": "hoc:A"},
            {"node_type_id": 2, "pop_name": "B", "ei": "i", "model_type": "biophysical", "model_template": "hoc:B"},
            {"node_type_id": 3, "pop_name": "in", "ei": "e", "model_type": "virtual", "model_template": None},
        ],
    )
    r = FIVE_NODE_RECURRENT
    t = FIVE_NODE_THALAMIC
    recurrent = Edges(r[:, 0], r[:, 1], "cortex", "cortex", r[:, 2].astype(int), nsyns=r[:, 3].astype(int),
                      attrs={"syn_weight": r[:, 4]})
    thalamic = Edges(t[:, 0], t[:, 1], "inputs", "cortex", t[:, 2], nsyns=t[:, 3])
    if per_synapse_rows:
        recurrent, thalamic = per_synapse(recurrent), per_synapse(thalamic)
    chem_types = [
        {"edge_type_id": 10, "model_template": "Exp2Syn", "dynamics_params": "A2A.json", "syn_weight": 0.5,
         "delay": 1.0, "target_sections": "['somatic', 'basal']", "distance_range": "[0.0, 150.0]",
         "is_gap_junction": None, "source_query": "pop_name=='A'"},
        {"edge_type_id": 11, "model_template": "Exp2Syn", "dynamics_params": "A2B.json", "syn_weight": None,
         "delay": 1.5, "target_sections": "somatic", "distance_range": None, "is_gap_junction": None,
         "source_query": "pop_name=='A'"},
        {"edge_type_id": 12, "model_template": "Exp2Syn", "dynamics_params": "B2A.json", "syn_weight": 2.0,
         "delay": 0.8, "target_sections": None, "distance_range": None, "is_gap_junction": None,
         "source_query": "pop_name=='B'"},
        {"edge_type_id": 13, "model_template": None, "dynamics_params": "B2B.json", "syn_weight": 1.0,
         "delay": 0.8, "target_sections": None, "distance_range": None, "is_gap_junction": None,
         "source_query": "pop_name=='B'"},
        {"edge_type_id": 14, "model_template": "Exp2Syn", "dynamics_params": "A2A.json", "syn_weight": 0.25,
         "delay": 2.0, "target_sections": None, "distance_range": None, "is_gap_junction": None,
         "source_query": "pop_name=='A'"},
        {"edge_type_id": 20, "model_template": None, "dynamics_params": "Gap.json", "syn_weight": 0.001,
         "delay": None, "target_sections": None, "distance_range": None, "is_gap_junction": True,
         "source_query": "pop_name=='A'"},
        {"edge_type_id": 30, "model_template": "Exp2Syn", "dynamics_params": "AMPA.json", "syn_weight": 0.7,
         "delay": 1.0, "target_sections": None, "distance_range": None, "is_gap_junction": None,
         "source_query": "*"},
    ]
    chem = write_edges(d / "cells_edges.h5", d / "cells_edge_types.csv",
                       {"recurrent": recurrent, "thalamic": thalamic}, chem_types)
    g = FIVE_NODE_ELECTRICAL
    gap = write_edges(d / "gap_edges.h5", d / "gap_edge_types.csv",
                      {"electrical": Edges(g[:, 0], g[:, 1], "cortex", "cortex", 10)},
                      [{"edge_type_id": 10, "dynamics_params": "Gap.json", "syn_weight": 0.0005,
                        "is_gap_junction": True}])
    juncs = write_gap_juncs(d / "cortex_gap_juncs.h5", np.r_[g[:, 0], 1], np.r_[g[:, 1], 2])
    return write_config(base, [nodes], [chem, gap], [juncs], synaptic_models=SYNAPTIC_MODELS)


# ---------------------------------------------------------------------------------------------
# bmtk-style models written with bmtk's own NetworkBuilder (the traits of real third-party models)

BMTK_CELL_HOC = """
begintemplate BallStick
public soma, dend, all, somatic, basal
create soma[1], dend[1]
objref all, somatic, basal
proc init() {
    all = new SectionList()  somatic = new SectionList()  basal = new SectionList()
    soma[0] { L = 20  diam = 20  nseg = 1  insert hh  all.append()  somatic.append() }
    dend[0] { L = 200  diam = 2  nseg = 5  insert leak2  all.append()  basal.append() }
    connect dend[0](0), soma[0](1)
}
endtemplate BallStick
"""

BMTK_LEAK2_MOD = """
: A plain leak under another name, so the cells need the model's compiled mechanisms.
NEURON {
    SUFFIX leak2
    NONSPECIFIC_CURRENT i
    RANGE g, e
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 0.0001 (S/cm2) e = -65 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g * (v - e) }
"""

#: A model's own synapses.py, bmtk's documented pattern: the run script calls load(). The
#: synapse function renames (reversal -> e, rise_ms -> tau1) and computes (tau2 = rise_ms *
#: decay_factor) its parameters; the weight function doubles syn_weight per synapse count.
BMTK_SYNAPSES_PY = '''
from bmtk.simulator.bionet.pyfunction_cache import add_synapse_model, add_weight_function
from neuron import h


def exp2syn_scaled(syn_params, sec_x, sec_id):
    syn = h.Exp2Syn(sec_x, sec=sec_id)
    syn.e = syn_params["reversal"]
    syn.tau1 = syn_params["rise_ms"]
    syn.tau2 = syn_params["rise_ms"] * syn_params["decay_factor"]
    return syn


def weight_per_synapse(edge_props, src_props, trg_props):
    return edge_props["syn_weight"] * 2.0 * src_props["strength"]


def load():
    add_synapse_model(exp2syn_scaled, "exp2syn_scaled", overwrite=False)
    add_weight_function(weight_per_synapse, "weight_per_synapse", overwrite=False)
'''

BMTK_SYNAPTIC_MODELS = {
    "AMPA_ExcToExc.json": {"level_of_detail": "exp2syn", "tau1": 1.0, "tau2": 3.0, "erev": 0.0},
    "GABA_InhToExc.json": {"level_of_detail": "exp2syn", "tau1": 2.7, "tau2": 15.0, "erev": -70.0},
    "Scaled.json": {"reversal": 0.0, "rise_ms": 0.5, "decay_factor": 8.0},
}


def bmtk_model(root: Path, style: str = "dot", *, synapses_py: bool = False, gap_file: bool = False) -> Path:
    """A bmtk-style model written with bmtk's NetworkBuilder; returns the simulation config.

    Layout (as bmtk's examples): ``root/bio_components/{mechanisms,templates,synaptic_models}``
    shared, ``root/model/network/*.h5|csv``, ``root/model/simulation_config.json``. Traits of
    real third-party networks: node population ``slice`` has two node types sharing
    ``pop_name`` "Scnn1a" (``model_name`` ScnnA / ScnnB); ``hco_net`` has ``cell_name`` only
    (HCOCell1, HCOCell2); virtual inputs ``lgn``; ``lgn -> slice`` edges write a scalar
    ``distance_range`` (99999999). ``style``:

    - "dot": ``"$BASE_DIR": "."`` and ``"$COMPONENT_DIR": "$BASE_DIR/../bio_components"``, the
      simulation config linking ``circuit_config.json`` (bmtk's examples);
    - "subdir": the same, but the circuit config lives in ``model/configs/`` and writes
      ``"$BASE_DIR": ".."`` (each path is relative to the config file that wrote it);
    - "configdir": ``"$BASE_DIR": "${configdir}"`` in one config;
    - "bare": no manifest, bare relative paths (``network/slice_nodes.h5``).

    ``synapses_py``: add the model's own ``synapses.py`` (:data:`BMTK_SYNAPSES_PY`) and an
    ``hco_net`` edge type built by its ``exp2syn_scaled`` with weight_function
    ``weight_per_synapse``. ``gap_file``: the config names a gap-junction file that is missing.
    """
    from bmtk.builder.networks import NetworkBuilder

    root = Path(root)
    comps = root / "bio_components"
    for sub in ("mechanisms", "templates", "synaptic_models"):
        (comps / sub).mkdir(parents=True, exist_ok=True)
    (comps / "mechanisms" / "leak2.mod").write_text(BMTK_LEAK2_MOD)
    (comps / "templates" / "ballstick.hoc").write_text(BMTK_CELL_HOC)
    for name, params in BMTK_SYNAPTIC_MODELS.items():
        (comps / "synaptic_models" / name).write_text(json.dumps(params, indent=2))
    model = root / "model"
    net_dir = model / "network"
    net_dir.mkdir(parents=True, exist_ok=True)

    cell = {"model_type": "biophysical", "model_template": "hoc:BallStick"}
    slice_ = NetworkBuilder("slice")
    slice_.add_nodes(N=2, pop_name="Scnn1a", model_name="ScnnA", ei="e", **cell)
    slice_.add_nodes(N=2, pop_name="Scnn1a", model_name="ScnnB", ei="e", **cell)
    slice_.add_edges(source={"model_name": "ScnnA"}, target={"model_name": "ScnnB"}, connection_rule=1,
                     syn_weight=0.002, delay=1.0, dynamics_params="GABA_InhToExc.json", model_template="Exp2Syn",
                     target_sections=["somatic"], distance_range=[0.0, 150.0])
    slice_.build()
    slice_.save(output_dir=str(net_dir))

    hco = NetworkBuilder("hco_net")
    hco.add_nodes(N=1, cell_name="HCOCell1", strength=1.5, **cell)
    hco.add_nodes(N=1, cell_name="HCOCell2", strength=1.0, **cell)
    hco.add_edges(source={"cell_name": "HCOCell1"}, target={"cell_name": "HCOCell2"}, connection_rule=1,
                  syn_weight=0.003, delay=1.0, dynamics_params="AMPA_ExcToExc.json", model_template="Exp2Syn",
                  target_sections=["somatic"], distance_range=[0.0, 1e20])
    if synapses_py:
        hco.add_edges(source={"cell_name": "HCOCell2"}, target={"cell_name": "HCOCell1"}, connection_rule=1,
                      syn_weight=0.001, delay=1.5, dynamics_params="Scaled.json", model_template="exp2syn_scaled",
                      weight_function="weight_per_synapse", target_sections=["somatic"],
                      distance_range=[0.0, 1e20])
    hco.build()
    hco.save(output_dir=str(net_dir))

    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=2, pop_name="tON", model_type="virtual")
    lgn.add_edges(source=lgn.nodes(), target=slice_.nodes(model_name="ScnnA"), connection_rule=2,
                  syn_weight=0.001, delay=2.0, dynamics_params="AMPA_ExcToExc.json", model_template="Exp2Syn",
                  target_sections=["somatic"], distance_range=99999999)
    lgn.build()
    lgn.save(output_dir=str(net_dir))
    if synapses_py:
        (model / "synapses.py").write_text(BMTK_SYNAPSES_PY)

    def files(net: str, kind: str, other: str | None = None) -> dict[str, str]:
        stem = f"{net}_{other}" if other else net
        return {f"{kind}_file": f"$NETWORK_DIR/{stem}_{kind}.h5", f"{kind[:-1]}_types_file":
                f"$NETWORK_DIR/{stem}_{kind[:-1]}_types.csv"}

    networks: dict[str, Any] = {
        "nodes": [files(n, "nodes") for n in ("slice", "hco_net", "lgn")],
        "edges": [files("slice", "edges", "slice"), files("hco_net", "edges", "hco_net"),
                  files("lgn", "edges", "slice")],
    }
    if gap_file:
        networks["gap_juncs"] = [{"gap_juncs_file": "$NETWORK_DIR/slice_gap_juncs.h5"}]
    components = {"mechanisms_dir": "$COMPONENT_DIR/mechanisms", "templates_dir": "$COMPONENT_DIR/templates",
                  "synaptic_models_dir": "$COMPONENT_DIR/synaptic_models"}
    sim = {"run": {"tstop": 500.0, "dt": 0.025}, "conditions": {"celsius": 34.0, "v_init": -65.0},
           "node_sets": {"excitatory": {"ei": "e"}}}
    manifest = {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network",
                "$COMPONENT_DIR": "$BASE_DIR/../bio_components"}
    path = model / "simulation_config.json"
    if style in ("dot", "subdir"):
        circuit_dir = model / "configs" if style == "subdir" else model
        circuit_dir.mkdir(exist_ok=True)
        base = ".." if style == "subdir" else "."
        circuit = {"manifest": {**manifest, "$BASE_DIR": base}, "components": components, "networks": networks}
        (circuit_dir / "circuit_config.json").write_text(json.dumps(circuit, indent=2))
        link = "configs/circuit_config.json" if style == "subdir" else "circuit_config.json"
        path.write_text(json.dumps({"manifest": {"$BASE_DIR": "."}, "network": link, **sim}, indent=2))
    elif style == "configdir":
        cfg = {"manifest": {**manifest, "$BASE_DIR": "${configdir}"}, "components": components,
               "networks": networks, **sim}
        path.write_text(json.dumps(cfg, indent=2))
    elif style == "bare":
        text = json.dumps({"components": components, "networks": networks, **sim}, indent=2)
        text = text.replace("$NETWORK_DIR", "network").replace("$COMPONENT_DIR", "../bio_components")
        path.write_text(text)
    else:
        raise ValueError(f"unknown style {style!r}")
    return path
