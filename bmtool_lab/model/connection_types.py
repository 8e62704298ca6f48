"""Connection types of a BMTK network: one per (edge population, edge_type_id).

A connection type is what the synapse tuner tunes and what the connectivity dashboard links
to: the synapse mechanism (``model_template``), its parameter file (``dynamics_params`` in
``components.synaptic_models_dir``), the edge-type defaults (``syn_weight``, ``delay``,
``target_sections``, ``distance_range``, ``weight_function``) and where its edges run (node
populations, source/target cell groups, numbers of edges and synapses).

Names follow bmtool: the stem of the dynamics JSON (``PV2Exc.json`` → ``"PV2Exc"``). Types
without a dynamics file are named ``"<edge population>:<edge_type_id>"``. When several types
share a stem, each gets the edge population as a suffix (``"PV2Exc (cortex_cortex)"``), and
if that still repeats, the edge type id too (``"PV2Exc (cortex_cortex:101)"``), so names are
unique keys.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import ModelConfig
from .sonata import (
    AttributeNotFoundError,
    EdgePopulation,
    NodePopulation,
    SonataNetwork,
    column_values,
)

__all__ = [
    "DEFAULT_GROUP_ATTRIBUTES",
    "ConnectionType",
    "connection_type_by_name",
    "default_group_attribute",
    "group_attribute_for",
    "list_connection_types",
]

#: Node attributes tried, in order, to name cell groups (real networks often lack pop_name).
DEFAULT_GROUP_ATTRIBUTES: tuple[str, ...] = ("pop_name", "model_name", "cell_name", "node_type_id")

# Edge-types CSV columns that become fields of ConnectionType (the rest go to ``attrs``).
_KNOWN_COLUMNS = frozenset({
    "edge_type_id", "model_template", "dynamics_params", "syn_weight", "delay", "weight_function",
    "target_sections", "distance_range", "is_gap_junction",
})


@dataclass(frozen=True)
class ConnectionType:
    """One synapse type of the network: an (edge population, edge_type_id) pair.

    Fields (units: ``syn_weight`` as the network stores it, µS for Exp2Syn NetCon weights;
    ``delay`` ms; ``distance_range`` µm):

    - ``name``: unique display name (dynamics JSON stem, see module docs);
    - ``edge_population``, ``edge_type_id``: the identity of the type (ids repeat across files);
    - ``source_population`` / ``target_population``: node populations of the edges;
    - ``source_groups`` / ``target_groups``: cell groups (``group_attribute`` values, default
      ``pop_name``) found among the sources / targets of these edges;
    - ``n_edges`` (rows), ``n_synapses`` (Σ ``nsyns``, or rows when the file has none);
    - ``model_template``: synapse mechanism (``Exp2Syn``, ``exp2syn`` or a custom POINT_PROCESS);
      taken from the dynamics JSON's ``level_of_detail`` when the CSV has no model_template;
    - ``dynamics_params``: file name as written in the CSV; ``dynamics_path``: resolved in
      ``synaptic_models_dir`` (may not exist: check ``dynamics_path.exists()``);
    - ``syn_weight``, ``delay``: the edge-type value, or when the CSV has none the mean over
      this type's edges of the per-edge dataset (``attrs["syn_weight_source"]`` says which);
    - ``weight_function``, ``target_sections``, ``distance_range``: as in the CSV (parsed);
    - ``is_gap_junction``: the edge type is flagged ``is_gap_junction`` (BMTK's way; the config's
      ``gap_juncs_file`` only repeats those pairs);
    - ``source_node_type_ids`` / ``target_node_type_ids``: node types found among the sources /
      targets of these edges (what picks the cell type to build, also when node types share
      a pop_name);
    - ``edge_properties``: per-edge h5 datasets available for these edges (``syn_weight``,
      ``afferent_section_id``, ...);
    - ``attrs``: every other edge-types CSV column (``source_query``, custom columns, ...).
    """

    name: str
    edge_population: str
    edge_type_id: int
    source_population: str
    target_population: str
    source_groups: tuple[Any, ...]
    target_groups: tuple[Any, ...]
    n_edges: int
    n_synapses: int
    model_template: str | None
    dynamics_params: str | None
    dynamics_path: Path | None
    syn_weight: float | None
    delay: float | None
    weight_function: str | None
    target_sections: tuple[str, ...] | None
    distance_range: tuple[float, float] | None
    is_gap_junction: bool
    edges_file: Path
    edge_types_file: Path
    group_attribute: str = "pop_name"
    edge_properties: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)
    source_node_type_ids: tuple[int, ...] = ()
    target_node_type_ids: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        """(edge population, edge_type_id): the identity of the type."""
        return (self.edge_population, self.edge_type_id)

    def load_dynamics(self) -> dict[str, Any]:
        """The parameters of the dynamics JSON (raises FileNotFoundError with the path if missing)."""
        if self.dynamics_path is None:
            raise FileNotFoundError(f"connection type {self.name!r} names no dynamics_params file")
        return json.loads(Path(self.dynamics_path).read_text())

    def describe(self) -> str:
        """One line: name, groups, mechanism, counts."""
        src = "/".join(map(str, self.source_groups)) or self.source_population
        tgt = "/".join(map(str, self.target_groups)) or self.target_population
        kind = "gap junction" if self.is_gap_junction else (self.model_template or "?")
        return f"{self.name}: {src} → {tgt}, {kind}, {self.n_edges} edges, {self.n_synapses} synapses"


def default_group_attribute(attribute_names: Iterable[str]) -> str:
    """The first of pop_name, model_name, cell_name, node_type_id that a population has."""
    names = set(attribute_names)
    for a in DEFAULT_GROUP_ATTRIBUTES:
        if a in names:
            return a
    return "node_type_id"


def group_attribute_for(nodes: NodePopulation) -> str:
    """The default grouping attribute of a population: the first of pop_name, model_name,
    cell_name that has a value for at least one of its nodes (a types CSV shared by several
    populations may have the column but only NULLs for this one), else node_type_id."""
    names = set(nodes.attribute_names())
    for a in DEFAULT_GROUP_ATTRIBUTES[:-1]:
        if a in names and nodes.labels(a)[1]:
            return a
    return "node_type_id"


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _parse_sequence(value: Any, cast: type) -> tuple | None:
    """'[0.0, 150.0]' / "['somatic', 'basal']" / 'somatic' → tuple; None when missing."""
    value = _clean(value)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return tuple(cast(v) for v in value)
    text = str(value).strip()
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        parsed = [p for p in text.strip("[]()").replace(",", " ").split() if p]
    if isinstance(parsed, (list, tuple)):
        try:
            return tuple(cast(v) for v in parsed)
        except (TypeError, ValueError):
            return tuple(str(v) for v in parsed)
    return (cast(parsed),)


def _parse_distance_range(value: Any) -> tuple[float, float] | None:
    """``"[0.0, 150.0]"`` -> (0, 150); a scalar ``99999999`` -> (0, 99999999) as BioNet reads a
    numeric column (``edge_adaptor.preprocess_edge_types``: ``[0.0, float(value)]``)."""
    parsed = _parse_sequence(value, float)
    if parsed is None:
        return None
    if len(parsed) == 1:
        return (0.0, float(parsed[0]))
    return (float(parsed[0]), float(parsed[1]))


def _float_or_none(value: Any) -> float | None:
    value = _clean(value)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _resolve_dynamics(name: str | None, models_dir: Path | None) -> Path | None:
    if not name:
        return None
    p = Path(name)
    if p.is_absolute():
        return p
    return (Path(models_dir) / p) if models_dir is not None else None


def _level_of_detail(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        value = json.loads(path.read_text()).get("level_of_detail")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def _groups_per_type(network: SonataNetwork, edges: EdgePopulation, type_rows: np.ndarray, n_types: int,
                     node_ids: np.ndarray, population: str) -> tuple[list[tuple[Any, ...]], str]:
    """Labels of the source (or target) cells of each edge type, by one bincount over edges."""
    nodes = network.node_population(population)
    attr = group_attribute_for(nodes)
    codes, labels = nodes.labels(attr)
    code = codes[nodes.rows(node_ids, context=f"edge population {edges.name!r}")]
    n_labels = len(labels) + 1  # last slot: missing label
    code = np.where(code < 0, n_labels - 1, code)
    seen = np.bincount(type_rows * n_labels + code, minlength=n_types * n_labels).reshape(n_types, n_labels) > 0
    out = [tuple(labels[j] for j in np.flatnonzero(seen[i, :-1])) for i in range(n_types)]
    return out, attr


def _node_types_per_type(network: SonataNetwork, type_rows: np.ndarray, n_types: int, node_ids: np.ndarray,
                         population: str, context: str) -> list[tuple[int, ...]]:
    """node_type_ids of the source (or target) cells of each edge type (one pass over edges)."""
    nodes = network.node_population(population)
    ntids = nodes.node_type_ids()[nodes.rows(node_ids, context=context)].astype(np.int64)
    uniq, code = np.unique(ntids, return_inverse=True)
    seen = np.bincount(type_rows * len(uniq) + code, minlength=n_types * len(uniq)).reshape(n_types, len(uniq)) > 0
    return [tuple(int(uniq[j]) for j in np.flatnonzero(seen[i])) for i in range(n_types)]


def _per_type_means(edges: EdgePopulation, type_rows: np.ndarray, n_types: int) -> dict[str, np.ndarray]:
    """Mean of per-edge syn_weight / delay for each edge type (for types whose CSV has none)."""
    out = {}
    for key in ("syn_weight", "delay"):
        if not any(key in ds for ds in edges.groups.values()):
            continue
        try:
            v = edges.values(key)
        except AttributeNotFoundError:
            continue
        ok = np.isfinite(v)
        n = np.bincount(type_rows[ok], minlength=n_types)
        total = np.bincount(type_rows[ok], weights=v[ok], minlength=n_types)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return out


def list_connection_types(config: ModelConfig | SonataNetwork | str | Path) -> list[ConnectionType]:
    """Every connection type of the network: each (edge population, edge_type_id) with edges.

    Edge types of the CSV without any edge are listed too (``n_edges = 0``) when their edge
    file holds a single population, since then it is clear which population they belong to.
    Order: edge populations in config order, then edge_type_id.
    """
    network = config if isinstance(config, SonataNetwork) else SonataNetwork(config)
    models_dir = network.config.synaptic_models_dir
    per_file = Counter(e.edges_file for e in network.edge_populations())
    raw: list[dict[str, Any]] = []
    for edges in network.edge_populations():
        types = edges.edge_types
        type_ids = types.index.to_numpy(dtype=np.int64)
        n_types = type_ids.size
        if edges.size:
            type_rows = edges._type_rows()
            n_edges = np.bincount(type_rows, minlength=n_types)
            nsyns = edges.synapse_counts()
            n_syn = n_edges if nsyns is None else np.bincount(type_rows, weights=nsyns, minlength=n_types)
            src_groups, attr = _groups_per_type(network, edges, type_rows, n_types, edges.source_node_ids(),
                                                edges.source_population)
            tgt_groups, _ = _groups_per_type(network, edges, type_rows, n_types, edges.target_node_ids(),
                                             edges.target_population)
            where = f"edge population {edges.name!r}"
            src_ntids = _node_types_per_type(network, type_rows, n_types, edges.source_node_ids(),
                                             edges.source_population, where)
            tgt_ntids = _node_types_per_type(network, type_rows, n_types, edges.target_node_ids(),
                                             edges.target_population, where)
        else:
            type_rows = np.empty(0, np.int64)
            n_edges = n_syn = np.zeros(n_types, np.int64)
            src_groups = tgt_groups = [()] * n_types
            src_ntids = tgt_ntids = [()] * n_types
            attr = group_attribute_for(network.node_population(edges.source_population))
        edge_means = _per_type_means(edges, type_rows, n_types) if edges.size else {}
        gap_ids = set(edges.gap_junction_type_ids().tolist())
        columns = {c: column_values(types, c) for c in types.columns}
        for i, type_id in enumerate(type_ids):
            if n_edges[i] == 0 and per_file[edges.edges_file] > 1:
                continue
            row = {c: _clean(v[i]) for c, v in columns.items()}
            dyn = row.get("dynamics_params")
            dyn = str(dyn).strip() if dyn is not None and str(dyn).strip().upper() != "NULL" else None
            dyn_path = _resolve_dynamics(dyn, models_dir)
            extra = {k: v for k, v in row.items() if k not in _KNOWN_COLUMNS}
            props = tuple(sorted({d for ds in edges.groups.values() for d in ds}))
            values: dict[str, float | None] = {}
            for key in ("syn_weight", "delay"):
                values[key] = _float_or_none(row.get(key))
                extra[f"{key}_source"] = "edge_types" if values[key] is not None else None
                if values[key] is None and key in edge_means and np.isfinite(edge_means[key][i]):
                    values[key] = float(edge_means[key][i])
                    extra[f"{key}_source"] = "edges (mean)"
            template = _clean(row.get("model_template"))
            raw.append(dict(
                stem=Path(dyn).stem if dyn else None,
                edge_population=edges.name,
                edge_type_id=int(type_id),
                source_population=edges.source_population,
                target_population=edges.target_population,
                source_groups=src_groups[i],
                target_groups=tgt_groups[i],
                n_edges=int(n_edges[i]),
                n_synapses=int(round(float(n_syn[i]))),
                model_template=str(template) if template is not None else _level_of_detail(dyn_path),
                dynamics_params=dyn,
                dynamics_path=dyn_path,
                syn_weight=values["syn_weight"],
                delay=values["delay"],
                weight_function=None if row.get("weight_function") is None else str(row["weight_function"]),
                target_sections=_parse_sequence(row.get("target_sections"), str),
                distance_range=_parse_distance_range(row.get("distance_range")),
                is_gap_junction=int(type_id) in gap_ids,
                edges_file=edges.edges_file,
                edge_types_file=edges.edge_types_file,
                group_attribute=attr,
                edge_properties=props,
                attrs=extra,
                source_node_type_ids=src_ntids[i],
                target_node_type_ids=tgt_ntids[i],
            ))
    return [ConnectionType(name=name, **{k: v for k, v in r.items() if k != "stem"})
            for r, name in zip(raw, _unique_names(raw), strict=True)]


def _unique_names(raw: list[dict[str, Any]]) -> list[str]:
    base = [r["stem"] or f"{r['edge_population']}:{r['edge_type_id']}" for r in raw]
    counts = Counter(base)
    names = [b if counts[b] == 1 else f"{b} ({r['edge_population']})" for b, r in zip(base, raw, strict=True)]
    counts = Counter(names)
    return [n if counts[n] == 1 else f"{b} ({r['edge_population']}:{r['edge_type_id']})"
            for n, b, r in zip(names, base, raw, strict=True)]


def connection_type_by_name(types: Iterable[ConnectionType], name: str) -> ConnectionType:
    """The type called ``name``; a KeyError listing the names there are otherwise."""
    types = list(types)
    for t in types:
        if t.name == name:
            return t
    raise KeyError(f"no connection type {name!r}; the network has: {', '.join(t.name for t in types)}")
