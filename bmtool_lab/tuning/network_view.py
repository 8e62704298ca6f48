"""Where the cells are and how they point, and the population graph (the data of the network view).

Pure reads of the SONATA files through :mod:`bmtool_lab.model.sonata`; the explorer's
``positions()``, ``rotations()`` and ``graph()`` delegate here. Positions are in µm, angles in
radians, as the nodes h5 stores them; nothing is guessed: a cell without a position keeps NaN
and is counted in ``df.attrs["without_positions"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..analysis.geometry import cell_axes
from ..model.connection_types import group_attribute_for
from ..model.sonata import AttributeNotFoundError, NodePopulation, SonataNetwork


class ExplorerLike(Protocol):
    """What the graph reads of a :class:`~bmtool_lab.tuning.connectivity.ConnectivityExplorer`
    (typed here: the explorer imports this module)."""

    def matrix_terms(self, metric: str = ..., **query: Any) -> dict[str, pd.DataFrame]: ...

    def _selection(self, sources: Any, targets: Any) -> Any: ...

    def _grouping(self, sel: Any, group_by: str | None) -> Any: ...


__all__ = ["positions", "rotations", "graph", "ROTATION_ATTRIBUTES", "GRAPH_METRICS"]

ROTATION_ATTRIBUTES = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")
# the graph's edge metrics and, for each, the gap-junction metric drawn beside it
GRAPH_METRICS = {"total": "gap_total", "percent": "gap_percent", "convergence": "gap_convergence"}


def _populations(net: SonataNetwork, populations: str | Iterable[str] | None) -> list[NodePopulation]:
    """None: every population that is not virtual; else names (or "all") as the explorer takes them."""
    if populations is None:
        return [p for p in net.node_populations() if not p.is_virtual]
    return [net.node_population(n) for n in net.resolve_node_populations(populations)]


def _group_labels(nodes: NodePopulation, group_by: str | None) -> tuple[str, np.ndarray]:
    """(attribute used, label per node) for one population; cells without a value get "<pop> (no attr)"."""
    if group_by == "population":
        return "population", np.full(nodes.size, nodes.name, dtype=object)
    attr = group_by if group_by is not None else group_attribute_for(nodes)
    if not nodes.has_attribute(attr):
        return attr, np.full(nodes.size, f"{nodes.name} (no {attr})", dtype=object)
    codes, labels = nodes.labels(attr)
    out = np.asarray([*labels, f"{nodes.name} (no {attr})"], dtype=object)
    return attr, out[np.where(codes < 0, len(labels), codes)]


def positions(net: SonataNetwork, group_by: str | None = "pop_name",
              populations: str | Iterable[str] | None = None) -> pd.DataFrame:
    """node_id, population, group, x, y, z (µm) of every node of the chosen populations.

    ``group_by``: a node attribute or "population" (None: pop_name, model_name, cell_name,
    node_type_id, the first each population has). A group attribute a population lacks labels its
    cells "<population> (no <attr>)". ``df.attrs``: ``units``, ``group_by`` per population and
    ``without_positions`` ({population: cells without a position}).
    """
    frames, used, missing = [], {}, {}
    chosen = _populations(net, populations)
    if group_by not in (None, "population") and chosen and not any(n.has_attribute(group_by) for n in chosen):
        names = sorted({a for n in chosen for a in n.attribute_names()})
        raise AttributeNotFoundError(
            f"no population has the node attribute {group_by!r} to group by; use \"population\" or one of: "
            + ", ".join(names))
    for nodes in chosen:
        attr, labels = _group_labels(nodes, group_by)
        xyz = nodes.positions()
        used[nodes.name] = attr
        absent = int(np.isnan(xyz).any(axis=1).sum())
        if absent:
            missing[nodes.name] = absent
        frames.append(pd.DataFrame({
            "node_id": nodes.node_ids().astype(np.int64), "population": nodes.name, "group": labels,
            "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
        }))
    cols = ["node_id", "population", "group", "x", "y", "z"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    df.attrs.update(units={"x": "µm", "y": "µm", "z": "µm"}, group_by=used, without_positions=missing)
    return df


def rotations(net: SonataNetwork, populations: str | Iterable[str] | None = None) -> pd.DataFrame:
    """node_id, population, the three rotation angles (rad) as BioNet applies them, the unit
    vector of the cell's axis (``axis_x``, ``axis_y``, ``axis_z``: the morphology's +y after
    ``Rx·Ry·Rz``) and ``rotation_given`` (False where the nodes file stores no angle; BioNet
    then uses 0, so the axis is +y).
    """
    frames = []
    for nodes in _populations(net, populations):
        names = set(nodes.attribute_names())
        angles = {}
        given = np.zeros(nodes.size, bool)
        for a in ROTATION_ATTRIBUTES:
            if a in names:
                v = np.asarray(nodes.values(a), dtype=np.float64)
                given |= ~np.isnan(v)
                angles[a] = np.nan_to_num(v, nan=0.0)
            else:
                angles[a] = np.zeros(nodes.size)
        axis = cell_axes(*(angles[a] for a in ROTATION_ATTRIBUTES)) if nodes.size else np.zeros((0, 3))
        frames.append(pd.DataFrame({
            "node_id": nodes.node_ids().astype(np.int64), "population": nodes.name, **angles,
            "axis_x": axis[:, 0], "axis_y": axis[:, 1], "axis_z": axis[:, 2], "rotation_given": given,
        }))
    cols = ["node_id", "population", *ROTATION_ATTRIBUTES, "axis_x", "axis_y", "axis_z", "rotation_given"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    df.attrs.update(units={a: "rad" for a in ROTATION_ATTRIBUTES} | {"axis_x": "1", "axis_y": "1", "axis_z": "1"})
    return df


def _matrix_edges(explorer: ExplorerLike, metric: str, kind: str, group_by: str | None,
                  **query: Any) -> pd.DataFrame:
    terms = explorer.matrix_terms(metric, group_by=group_by, **query)
    value = terms["value"]
    count = terms["numerator"] if metric in ("percent", "gap_percent") else None
    rows = []
    for s in value.index:
        for t in value.columns:
            v = float(value.at[s, t])
            if np.isfinite(v) and v > 0:
                rows.append({"source": s, "target": t, "value": v, "kind": kind,
                             "pairs": None if count is None else float(count.at[s, t])})
    out = pd.DataFrame(rows, columns=["source", "target", "value", "kind", "pairs"])
    out.attrs.update(units=value.attrs.get("units", ""), description=value.attrs.get("description", ""))
    return out


def graph(explorer: ExplorerLike, group_by: str | None = "pop_name", metric: str = "total",
          **query: Any) -> pd.DataFrame:
    """Group → group edges with the metric's value: source, target, value, kind ("chemical" or
    "gap_junction"), pairs (connected pairs, for percent), and n_source / n_target (cells in
    each group). Only edges with a value > 0 are listed.

    ``metric``: "total" (connections; gap junctions as coupled pairs), "percent" (% of possible
    pairs) or "convergence" (mean per target cell). ``query``: ``sources``, ``targets``,
    ``count``, ``convention`` as :meth:`ConnectivityExplorer.matrix` takes them.
    """
    if metric not in GRAPH_METRICS:
        raise ValueError(f"graph metric {metric!r} is not one of {', '.join(GRAPH_METRICS)}")
    chem = _matrix_edges(explorer, metric, "chemical", group_by, **query)
    gap_query = {k: v for k, v in query.items() if k not in ("count",)}
    if metric == "total":  # no gap "total" matrix: the coupled pairs are gap_percent's numerator
        gap = _matrix_edges(explorer, "gap_percent", "gap_junction", group_by, **gap_query)
        gap["value"] = gap["pairs"]
        gap.attrs["units"] = "coupled pairs"
    else:
        gap = _matrix_edges(explorer, GRAPH_METRICS[metric], "gap_junction", group_by, **gap_query)
    frames = [f for f in (chem, gap) if len(f)]
    edges = pd.concat(frames, ignore_index=True) if frames else chem.iloc[:0].copy()
    sizes = _group_sizes(explorer, group_by, query.get("sources", "all"), query.get("targets", "all"))
    edges["n_source"] = [sizes.get(s, 0) for s in edges["source"]]
    edges["n_target"] = [sizes.get(t, 0) for t in edges["target"]]
    edges.attrs.update(metric=metric, units=chem.attrs.get("units", ""), gap_units=gap.attrs.get("units", ""),
                       group_sizes=sizes)
    return edges


def _group_sizes(explorer: ExplorerLike, group_by: str | None, sources: Any, targets: Any) -> dict[Any, int]:
    """Cells per group of the explorer's own grouping (the graph's node sizes)."""
    sel = explorer._selection(sources, targets)
    grp = explorer._grouping(sel, group_by)
    n = np.maximum(grp.groups.source_size, grp.groups.target_size)
    return {lab: int(n[i]) for i, lab in enumerate(grp.labels)}
