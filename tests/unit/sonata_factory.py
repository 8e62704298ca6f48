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
