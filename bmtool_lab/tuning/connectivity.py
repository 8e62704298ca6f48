"""ConnectivityExplorer: connectivity matrices of a BMTK network, headless first.

```python
conn = ConnectivityExplorer("simulation_config.json")
conn.matrix("percent", group_by="pop_name", sources="all", targets=["cortex"])  # DataFrame
conn.matrix("convergence", stat="mean", count="synapses")
conn.probability_vs_distance(bins=10)
conn.details("PV", "Exc")
conn                       # in a notebook: the dashboard (built on first display)
```

Definitions: ``docs/metrics.md`` §4 and :mod:`bmtool_lab.analysis.connectivity`. The
expensive step (collapsing edge rows into distinct pairs) runs once per choice of source and
target populations and is reused by every metric, statistic and grouping; files that change on
disk are re-read. The dashboard (ipywidgets/bqplot) is imported only when it is displayed.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import connectivity as ca
from ..model.check import check_model
from ..model.config import ModelConfig, load_config
from ..model.connection_types import ConnectionType, group_attribute_for, list_connection_types
from ..model.sonata import (
    AttributeNotFoundError,
    EdgePopulation,
    EmptyPopulationError,
    SonataError,
    SonataNetwork,
)
from . import network_view
from .connectivity_selection import (
    ConnectionDetails,
    Populations,
    _check,
    _Grouping,
    _node_key,
    _node_set,
    _Selection,
    _summary,
)
from .kinds import ShowsDashboard, dashboard_of

__all__ = ["METRICS", "ConnectionDetails", "ConnectivityExplorer"]

#: Metric name → (what the value is, units). Percent metrics count connections (distinct pairs).
METRICS: dict[str, tuple[str, str]] = {
    "total": ("connections (or edge rows / synapses) from S to T", "count"),
    "percent": ("connected pairs / possible pairs", "%"),
    "unidirectional": ("pairs connected one way only / possible pairs", "%"),
    "bidirectional": ("pairs connected both ways / possible pairs", "%"),
    "convergence": ("per target cell of T: sources in S", "per cell"),
    "divergence": ("per source cell of S: targets in T", "per cell"),
    "gap_percent": ("pairs coupled by gap junctions / possible pairs", "%"),
    "gap_convergence": ("per target cell of T: gap-junction partners in S", "per cell"),
}

class ConnectivityExplorer(ShowsDashboard):
    """Connectivity matrices of a BMTK network (headless; displays as a dashboard in notebooks).

    ``config``: a simulation or circuit config (path or :class:`ModelConfig`). ``group_by``: the
    default node attribute for grouping (None: ``pop_name``, falling back per population to
    ``model_name``, ``cell_name``, then ``node_type_id`` when the population has no value of it;
    cells without a value form a group "<population> (no <attribute>)"). ``on_open_synapse_tuner``: called
    with a :class:`ConnectionType` by the dashboard's "Open synapse tuner" button.
    """

    metrics: tuple[str, ...] = tuple(METRICS)

    def __init__(self, config: str | os.PathLike | ModelConfig, *, group_by: str | None = None,
                 on_open_synapse_tuner: Callable[[ConnectionType], Any] | None = None):
        self.config = config if isinstance(config, ModelConfig) else load_config(config)
        #: what the model check found (bmtool_lab.model.check): shown by the dashboard, printed by the CLI
        self.model_problems: list[str] = check_model(self.config)
        self.group_by = group_by
        self.on_open_synapse_tuner = on_open_synapse_tuner
        self._network = SonataNetwork(self.config)
        self._stamp = self._files_stamp()
        self._selections: dict[tuple, _Selection] = {}
        self._groupings: dict[tuple, _Grouping] = {}
        self._results: dict[tuple, tuple] = {}  # recent matrices (numpy, before slicing into frames)
        self._types: list[ConnectionType] | None = None
        self._dashboard: Any = None  # built by bmtool_lab.widgets.registry

    def __repr__(self) -> str:
        return (f"ConnectivityExplorer({str(self.config.path)!r}: node populations "
                f"{', '.join(self.node_populations)}; edge populations {', '.join(self.edge_populations)})")

    # -- the network -------------------------------------------------------------------
    def _files_stamp(self) -> tuple:
        paths = [p for f in self.config.nodes for p in (f.nodes_file, f.node_types_file)]
        paths += [p for f in self.config.edges for p in (f.edges_file, f.edge_types_file)]
        out = []
        for p in paths:
            try:
                st = os.stat(p)
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(p), None, None))
        return tuple(out)

    @property
    def network(self) -> SonataNetwork:
        """The SONATA readers; reopened (and every cached result dropped) when a file changed."""
        stamp = self._files_stamp()
        if stamp != self._stamp:
            self._network = SonataNetwork(self.config)
            self._stamp = stamp
            self._selections.clear()
            self._groupings.clear()
            self._results.clear()
            self._types = None
        return self._network

    @property
    def node_populations(self) -> list[str]:
        """Node populations of the config (virtual inputs included)."""
        return self.network.node_population_names

    @property
    def edge_populations(self) -> list[str]:
        return self.network.edge_population_names

    def group_attributes(self, populations: Populations = "all") -> list[str]:
        """Node attributes available for ``group_by`` (union over the populations), plus "population"."""
        names: set[str] = set()
        for p in self.network.resolve_node_populations(populations):
            names.update(self.network.node_population(p).attribute_names())
        return ["population", *sorted(names - {"node_id"})]

    def connection_types(self) -> list[ConnectionType]:
        """Every (edge population, edge_type_id) with names, mechanisms and counts (cached)."""
        net = self.network
        if self._types is None:
            self._types = list_connection_types(net)
        return self._types

    # -- selection and grouping --------------------------------------------------------
    def _selection(self, sources: Populations, targets: Populations) -> _Selection:
        src_nodes, tgt_nodes = _node_set(sources), _node_set(targets)
        if src_nodes is None and tgt_nodes is None:
            return self._population_selection(sources, targets)
        base = self._population_selection(list(src_nodes) if src_nodes is not None else sources,
                                          list(tgt_nodes) if tgt_nodes is not None else targets)
        node_key = (_node_key(src_nodes), _node_key(tgt_nodes))
        # the pairs (the expensive part) are the populations' own: the cache is shared
        return dataclasses.replace(base, source_nodes=src_nodes, target_nodes=tgt_nodes, node_key=node_key,
                                   _cache=base._cache)

    def _population_selection(self, sources: Populations, targets: Populations) -> _Selection:
        net = self.network
        req_s = net.resolve_node_populations(sources)
        req_t = net.resolve_node_populations(targets)
        key = (tuple(req_s), tuple(req_t))
        if key in self._selections:
            return self._selections[key]
        between = net.edges_between(req_s, req_t)
        empty = [e for e in between if e.size == 0]
        edges = [e for e in between if e.size > 0]
        if empty:
            names = ", ".join(f"{e.name!r} ({e.edges_file.name})" for e in empty)
            if not edges:
                raise EmptyPopulationError(
                    f"the edge population(s) {names} from {', '.join(req_s)} to {', '.join(req_t)} have no "
                    "edges: the builder's connection rules made no connection. Check the rules and node "
                    "queries, or pick other sources/targets"
                )
            warnings.warn(f"skipping empty edge population(s) {names}", stacklevel=3)
        if not edges:
            listing = "; ".join(f"{e.name}: {e.source_population} → {e.target_population}"
                                for e in net.edge_populations()) or "none"
            raise SonataError(
                f"no edges run from {', '.join(req_s)} to {', '.join(req_t)}; the network's edge "
                f"populations are: {listing}"
            )
        # as bmtool does: leave out populations that send (receive) nothing in this selection
        src = [p for p in req_s if any(e.source_population == p for e in edges)]
        tgt = [p for p in req_t if any(e.target_population == p for e in edges)]
        pops = [p for p in net.node_population_names if p in set(src) | set(tgt)]
        offsets, n = {}, 0
        for p in pops:
            offsets[p] = n
            n += net.node_population(p).size
        sel = _Selection(tuple(src), tuple(tgt), tuple(pops), offsets, n, edges, net)
        self._selections[key] = sel
        return sel

    def _grouping(self, sel: _Selection, group_by: str | None) -> _Grouping:
        group_by = group_by if group_by is not None else self.group_by
        key = (sel.sources, sel.targets, group_by, sel.node_key)
        if key in self._groupings:
            return self._groupings[key]
        if sel.node_key is not None and len(self._groupings) >= 32:  # one per box selection: keep a few
            self._groupings.pop(next((k for k in self._groupings if k[3] is not None), None), None)
        net = sel.network
        if group_by is not None and group_by != "population":
            if not any(net.node_population(p).has_attribute(group_by) for p in sel.populations):
                available = sorted({a for p in sel.populations for a in net.node_population(p).attribute_names()})
                raise AttributeNotFoundError(
                    f"no node population of this selection ({', '.join(sel.populations)}) has the attribute "
                    f"{group_by!r}; group by one of: population, {', '.join(available)}"
                )
        labels: list[Any] = []
        index: dict[Any, int] = {}
        code = np.empty(sel.n_nodes, np.int32)  # int32: per-pair gathers of codes stay small
        used: dict[str, str] = {}
        for p in sel.populations:
            nodes = net.node_population(p)
            off = sel.offsets[p]
            if group_by == "population":
                local_codes, local_labels = np.zeros(nodes.size, np.int64), [p]
                used[p] = "population"
            else:
                attr = group_by if group_by is not None else group_attribute_for(nodes)
                used[p] = attr
                if nodes.has_attribute(attr):
                    local_codes, local_labels = nodes.labels(attr)
                else:
                    local_codes, local_labels = np.full(nodes.size, -1, np.int64), []
                if (local_codes < 0).any():  # cells without a value: their own group
                    local_labels = [*local_labels, f"{p} (no {attr})"]
                    local_codes = np.where(local_codes < 0, len(local_labels) - 1, local_codes)
            remap = np.empty(len(local_labels), np.int64)
            for i, lab in enumerate(local_labels):
                lab = lab.item() if isinstance(lab, np.generic) else lab
                if lab not in index:
                    index[lab] = len(labels)
                    labels.append(lab)
                remap[i] = index[lab]
            code[off:off + nodes.size] = remap[local_codes] if nodes.size else remap[:0]
        if any(isinstance(lab, str) for lab in labels) and not all(isinstance(lab, str) for lab in labels):
            labels = [str(lab) for lab in labels]  # one label type per axis (e.g. fallbacks mix ints and text)
        groups = ca.GroupAssignment(np.where(sel.in_sources(), code, -1), np.where(sel.in_targets(), code, -1),
                                    len(labels))
        shown_by = group_by if group_by is not None else "pop_name"
        grouping = _Grouping(shown_by, used, labels, groups, np.flatnonzero(groups.source_size > 0),
                             np.flatnonzero(groups.target_size > 0))
        self._groupings[key] = grouping
        return grouping

    # -- matrices ----------------------------------------------------------------------
    def matrix_terms(self, metric: str = "percent", *, group_by: str | None = None, sources: Populations = "all",
                     targets: Populations = "all", stat: str = "mean", count: str = "connections",
                     connected_only: bool = False, symmetric: bool = False,
                     convention: str = "sonata") -> dict[str, pd.DataFrame]:
        """{"value", "numerator", "denominator"} DataFrames of a metric (see :meth:`matrix`).

        Numerator/denominator: percent metrics → pairs / possible pairs; convergence and
        divergence → summed count / cells the statistic runs over; total → the count / 1.
        """
        _check("metric", metric, METRICS)
        _check("stat", stat, ca.STATS)
        _check("count", count, ca.COUNTS)
        _check("convention", convention, ca.CONVENTIONS)
        sel = self._selection(sources, targets)
        grp = self._grouping(sel, group_by)
        # one entry serves every statistic of a convergence/divergence matrix
        key = (sel.sources, sel.targets, grp.attribute, group_by, metric, count, connected_only, symmetric,
               convention, sel.node_key)
        if key not in self._results:
            if len(self._results) >= 64:
                self._results.pop(next(iter(self._results)))
            self._results[key] = self._compute(sel, grp, metric, count, connected_only, symmetric, convention)
        value, num, den, attrs = self._results[key]
        if isinstance(value, dict):
            value = value[stat]
            attrs = {**attrs, "stat": stat}
        r, c = grp.source_axis, grp.target_axis
        idx = pd.Index([grp.labels[i] for i in r], name=f"source {grp.attribute}")
        cols = pd.Index([grp.labels[i] for i in c], name=f"target {grp.attribute}")
        out = {}
        for name, arr in (("value", value), ("numerator", num), ("denominator", den)):
            df = pd.DataFrame(np.asarray(arr, dtype=np.float64)[np.ix_(r, c)], index=idx, columns=cols)
            df.attrs.update(copy.deepcopy(attrs), term=name)  # the cached dict stays untouched
            out[name] = df
        return out

    def _compute(self, sel: _Selection, grp: _Grouping, metric: str, count: str, connected_only: bool,
                 symmetric: bool, convention: str) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
        g = grp.groups
        attrs: dict[str, Any] = {
            "metric": metric, "description": METRICS[metric][0], "units": METRICS[metric][1],
            "group_by": grp.attribute, "group_by_per_population": dict(grp.per_population),
            "sources": list(sel.sources), "targets": list(sel.targets), "convention": convention,
        }
        for role, nodes in (("source", sel.source_nodes), ("target", sel.target_nodes)):
            if nodes is not None:
                attrs[f"{role}_cells_selected"] = int(sum(v.size for v in nodes.values()))
        gap = metric.startswith("gap_")
        pairs = sel.pairs(gap=gap)
        if gap and pairs.n_connections == 0:
            attrs["note"] = "no gap junctions between these populations (no edge type with is_gap_junction)"
        if metric == "total":
            used = "rows" if convention == "bmtool" else count
            value = ca.total_matrix(pairs, g, used).astype(np.float64)
            num, den = value, np.ones_like(value)
            attrs.update(count=used, units={"connections": "connections", "rows": "edge rows",
                                            "synapses": "synapses"}[used],
                         numerator=used, denominator="none")
        elif metric in ("percent", "unidirectional", "bidirectional"):
            kind = "total" if metric == "percent" else metric
            terms = ca.percent_connectivity(pairs, g, kind, convention, pattern=sel.reciprocal())
            value, num, den = terms.value, terms.numerator, terms.denominator
            attrs.update(count="rows" if convention == "bmtool" else "connections",
                         numerator="edge rows" if convention == "bmtool" else f"{kind} connected pairs",
                         denominator=("|S|·|T| off the diagonal, |S|(|S|-1)/2 unordered pairs on it"
                                      if convention == "bmtool" else "possible pairs |S|·|T| − |S∩T|"))
        elif metric == "gap_percent":
            terms = ca.gap_junction_percent(pairs, g, symmetric=symmetric, convention=convention)
            value, num, den = terms.value, terms.numerator, terms.denominator
            attrs.update(count="rows" if convention == "bmtool" else "connections", symmetric=symmetric,
                         numerator="2 × gap-junction rows" if convention == "bmtool" else "coupled pairs",
                         denominator="|S|·|T|" if convention == "bmtool" else "possible pairs |S|·|T| − |S∩T|")
        else:
            direction = "divergence" if metric == "divergence" else "convergence"
            use_pairs = ca.symmetrize(pairs) if (metric == "gap_convergence" and symmetric) else pairs
            stats = ca.degree_statistics(use_pairs, g, direction, count if not gap else "connections",
                                         connected_only=connected_only, convention=convention)
            value = {k: stats.stat(k) for k in ca.STATS}
            num, den = stats.total, stats.n_cells
            used = "rows" if convention == "bmtool" else (count if not gap else "connections")
            per = "target cell of T" if direction == "convergence" else "source cell of S"
            only = connected_only or convention == "bmtool"
            attrs.update(count=used, connected_only=only, units=f"{used} per cell",
                         numerator=f"Σ {used}", denominator=f"{'connected ' if only else ''}cells ({per})")
            if gap:
                attrs["symmetric"] = symmetric
        return value, num, den, attrs

    def matrix(self, metric: str = "percent", *, group_by: str | None = None, sources: Populations = "all",
               targets: Populations = "all", stat: str = "mean", count: str = "connections",
               connected_only: bool = False, symmetric: bool = False, convention: str = "sonata") -> pd.DataFrame:
        """A connectivity matrix: rows = source groups, columns = target groups.

        - ``metric``: "total", "percent", "unidirectional", "bidirectional", "convergence",
          "divergence", "gap_percent", "gap_convergence" (definitions in docs/metrics.md §4).
        - ``group_by``: any node attribute (``pop_name``, ``ei``, ``node_type_id``, ...) or
          "population"; None = the explorer's default (``pop_name`` with fallbacks).
        - ``sources`` / ``targets``: "all", a node population name or a list of them, or a node
          selection (a DataFrame with ``node_id`` and ``population``, e.g. the 3D view's
          ``selected_nodes()``, or {population: node ids}): only those cells count as sources
          (targets), so group sizes, denominators and degrees are of the selected cells.
        - ``stat`` ("mean", "std", "min", "max") and ``connected_only`` for convergence/divergence.
        - ``count``: "connections" (distinct cell pairs), "synapses" (Σ nsyns) or "rows" (edge rows),
          for total / convergence / divergence.
        - ``symmetric``: gap junctions couple both ways (gap metrics).
        - ``convention``: "sonata" (ours) or "bmtool" (reproduces bmtool 0.8.7's numbers).

        ``df.attrs`` holds the metric, units, numerator and denominator descriptions and the
        selection; :meth:`matrix_terms` gives the numerator and denominator values.
        """
        return self.matrix_terms(metric, group_by=group_by, sources=sources, targets=targets, stat=stat,
                                 count=count, connected_only=connected_only, symmetric=symmetric,
                                 convention=convention)["value"]

    def to_csv(self, path: str | os.PathLike, metric: str = "percent", **kwargs: Any) -> Path:
        """Write :meth:`matrix` (same arguments) to a CSV file; returns the path."""
        df = self.matrix(metric, **kwargs)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path)
        return path

    # -- group pair queries -----------------------------------------------------------------
    def _pair_masks(self, sel: _Selection, grp: _Grouping, s: int, t: int,
                    gap: bool | None = False) -> Iterable[tuple[EdgePopulation, np.ndarray]]:
        """Per edge population: bool mask of its rows from group s to group t (chemical, gap, or
        both if None). Bool gathers on each population's own rows: no index arrays are built."""
        g = grp.groups
        for e in sel.edges:
            so, to = sel.offsets[e.source_population], sel.offsets[e.target_population]
            in_s = g.source_code[so:so + sel.network.node_population(e.source_population).size] == s
            in_t = g.target_code[to:to + sel.network.node_population(e.target_population).size] == t
            if not in_s.any() or not in_t.any():
                continue
            rows_s, rows_t = sel.local_rows(e)
            mask = in_s[rows_s]
            mask &= in_t[rows_t]
            if gap is not None:
                gm = e.gap_junction_mask()
                if gm is not None:
                    mask &= gm if gap else ~gm
                elif gap:
                    continue
            yield e, mask

    def edge_values(self, source_group: Any, target_group: Any, attribute: str = "syn_weight", *,
                    group_by: str | None = None, sources: Populations = "all", targets: Populations = "all",
                    gap_junctions: bool = False) -> np.ndarray:
        """Per-edge-row values of an edge attribute (``syn_weight``, ``delay`` (ms), ``nsyns``, ...)
        for the rows from group S to group T (float64; empty if no population has the attribute)."""
        sel = self._selection(sources, targets)
        grp = self._grouping(sel, group_by)
        s, t = grp.find(source_group, "source"), grp.find(target_group, "target")
        if not any(attribute in e.attribute_names() for e in sel.edges):
            names = sorted({a for e in sel.edges for a in e.attribute_names()})
            raise AttributeNotFoundError(f"no edge population of this selection has the attribute {attribute!r}; "
                                         f"edge attributes: {', '.join(names)}")
        parts = [e.values(attribute, mask) for e, mask in self._pair_masks(sel, grp, s, t, gap_junctions)
                 if attribute in e.attribute_names() and mask.any()]
        return np.concatenate(parts) if parts else np.empty(0)

    def degrees(self, source_group: Any, target_group: Any, direction: str = "convergence", *,
                count: str = "connections", group_by: str | None = None, sources: Populations = "all",
                targets: Populations = "all", gap_junctions: bool = False) -> np.ndarray:
        """Per-cell convergence (each cell of T: partners in S) or divergence, zeros included."""
        _check("direction", direction, ("convergence", "divergence"))
        sel = self._selection(sources, targets)
        grp = self._grouping(sel, group_by)
        s, t = grp.find(source_group, "source"), grp.find(target_group, "target")
        return ca.node_degrees(sel.pairs(gap_junctions), grp.groups, s, t, direction, count)

    def histogram(self, source_group: Any, target_group: Any, kind: str = "convergence", *,
                  count: str = "connections", bins: int | Sequence[float] | None = None,
                  group_by: str | None = None, sources: Populations = "all", targets: Populations = "all",
                  gap_junctions: bool = False) -> pd.DataFrame:
        """Histogram for one group pair: degree ("convergence"/"divergence", per cell, zeros
        included) or any edge attribute ("syn_weight", "delay", ...; per edge row).

        Columns ``bin_start``, ``bin_end``, ``count``; degrees default to unit-width bins.
        ``attrs``: kind, what is counted, units and mean/std/n of the values.
        """
        q = dict(group_by=group_by, sources=sources, targets=targets, gap_junctions=gap_junctions)
        if kind in ("convergence", "divergence"):
            values = self.degrees(source_group, target_group, kind, count=count, **q).astype(np.float64)
            counted, units = "cells", f"{count} per cell"
            if bins is None:
                top = int(values.max()) if values.size else 0
                bins = np.arange(0, top + 2) if top <= 200 else 50
        else:
            values = self.edge_values(source_group, target_group, kind, **q)
            counted, units = "edge rows", "ms" if kind == "delay" else ""
            values = values[np.isfinite(values)]
            if bins is None:
                bins = 20
        if values.size == 0:
            edges = np.asarray(bins, float) if np.ndim(bins) else np.linspace(0.0, 1.0, int(bins) + 1)
            counts = np.zeros(edges.size - 1, np.int64)
        else:
            counts, edges = np.histogram(values, bins=bins)
        df = pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts})
        df.attrs.update(kind=kind, counted=counted, units=units, source_group=source_group,
                        target_group=target_group, **_summary(values))
        return df

    def details(self, source_group: Any, target_group: Any, *, group_by: str | None = None,
                sources: Populations = "all", targets: Populations = "all") -> ConnectionDetails:
        """Counts, denominator, degree statistics, edge types and per-edge syn_weight/delay of S → T.

        Works on the pairs of S → T only (one pass over the pairs to find them), so a click
        in the dashboard stays fast on large networks.
        """
        sel = self._selection(sources, targets)
        grp = self._grouping(sel, group_by)
        s, t = grp.find(source_group, "source"), grp.find(target_group, "target")
        g = grp.groups
        chem = sel.pairs(False)
        ps, pt, ok = g.pair_groups(chem)
        ok &= (ps == s) & (pt == t)
        sub = ca.ConnectionPairs(chem.source[ok], chem.target[ok], chem.rows[ok], chem.synapses[ok], chem.n_nodes)
        i, j = sel.reciprocal()
        bi = int(np.count_nonzero((g.source_code[i] == s) & (g.target_code[j] == t)))
        possible = int(g.source_size[s] * g.target_size[t] - g.overlap[s, t])
        connected = int(np.count_nonzero(sub.source != sub.target))
        deg = {}
        for direction in ("convergence", "divergence"):
            v = ca.node_degrees(sub, g, s, t, direction).astype(np.float64)
            deg[direction] = ({"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
                               "max": float(v.max())} if v.size else dict.fromkeys(ca.STATS, float("nan")))
        gp = sel.pairs(True)
        gap_pairs = int(np.count_nonzero((g.source_code[gp.source] == s) & (g.target_code[gp.target] == t)))

        by_key = {ct.key: ct for ct in self.connection_types()}
        rows: list[dict[str, Any]] = []
        weights, delays = [], []
        for e, mask in self._pair_masks(sel, grp, s, t, gap=None):
            if not mask.any():
                continue
            type_ids = e.edge_type_ids()[mask]
            ids, inv, n = np.unique(type_ids, return_inverse=True, return_counts=True)
            nsyn = e.synapse_counts()
            syns = n if nsyn is None else np.bincount(inv, weights=nsyn[mask], minlength=ids.size).astype(np.int64)
            for tid, k, syn in zip(ids.tolist(), n.tolist(), syns.tolist(), strict=True):
                ct = by_key.get((e.name, tid))
                rows.append({"name": ct.name if ct else f"{e.name}:{tid}", "edge_population": e.name,
                             "edge_type_id": tid, "n_edges": k, "n_synapses": syn,
                             "model_template": ct.model_template if ct else None,
                             "dynamics_params": ct.dynamics_params if ct else None,
                             "is_gap_junction": bool(ct.is_gap_junction) if ct else False})
            gm = e.gap_junction_mask()
            chem_mask = mask if gm is None else mask & ~gm
            if chem_mask.any():
                names = e.attribute_names()
                for name, out in (("syn_weight", weights), ("delay", delays)):
                    if name in names:
                        out.append(e.values(name, chem_mask))
        types = pd.DataFrame(rows, columns=["name", "edge_population", "edge_type_id", "n_edges", "n_synapses",
                                            "model_template", "dynamics_params", "is_gap_junction"])
        return ConnectionDetails(
            source_group=grp.labels[s], target_group=grp.labels[t], group_by=grp.attribute,
            n_source_cells=int(g.source_size[s]), n_target_cells=int(g.target_size[t]),
            self_pairs=int(g.overlap[s, t]), possible_pairs=possible,
            connections=sub.n_connections, edge_rows=int(sub.rows.sum()), synapses=int(sub.synapses.sum()),
            bidirectional_pairs=bi, percent=100.0 * connected / possible if possible else float("nan"),
            convergence=deg["convergence"], divergence=deg["divergence"], gap_junction_pairs=gap_pairs,
            edge_types=types,
            syn_weight=np.concatenate(weights) if weights else np.empty(0),
            delay=np.concatenate(delays) if delays else np.empty(0),
        )

    # -- distance ------------------------------------------------------------------------
    def probability_vs_distance(self, bins: int | Sequence[float] = 10, *, source_group: Any = None,
                                target_group: Any = None, group_by: str | None = None,
                                sources: Populations = "all", targets: Populations = "all",
                                max_distance: float | None = None, convention: str = "sonata") -> pd.DataFrame:
        """Connection probability vs soma distance (µm): connected pairs / all pairs per bin.

        Every source cell (of ``source_group``, or all) and target cell (of ``target_group``, or
        all) with a position is paired; self-pairs are left out. Cells without positions
        (virtual inputs) are left out and counted in ``attrs["cells_without_position"]``.
        ``bins``: a number of equal bins from 0 to ``max_distance`` (default: a bound of the
        largest distance) or explicit edges in µm. ``convention="bmtool"`` counts edge rows as
        connections and keeps self-pairs, as bmtool does.

        Columns: ``bin_start_um``, ``bin_end_um``, ``pairs``, ``connected``, ``probability``.
        """
        _check("convention", convention, ca.CONVENTIONS)
        sel = self._selection(sources, targets)
        grp = self._grouping(sel, group_by)
        g = grp.groups
        pos = sel.positions()
        has_pos = np.isfinite(pos).all(axis=1)
        src_mask = g.source_code >= 0
        tgt_mask = g.target_code >= 0
        if source_group is not None:
            src_mask &= g.source_code == grp.find(source_group, "source")
        if target_group is not None:
            tgt_mask &= g.target_code == grp.find(target_group, "target")
        missing = int(((src_mask | tgt_mask) & ~has_pos).sum())
        src_nodes = np.flatnonzero(src_mask & has_pos)
        tgt_nodes = np.flatnonzero(tgt_mask & has_pos)
        local_s = np.full(sel.n_nodes, -1, np.int64)
        local_t = np.full(sel.n_nodes, -1, np.int64)
        local_s[src_nodes] = np.arange(src_nodes.size)
        local_t[tgt_nodes] = np.arange(tgt_nodes.size)
        pairs = sel.pairs(False)
        ps, pt = local_s[pairs.source], local_t[pairs.target]
        keep = (ps >= 0) & (pt >= 0)
        bmtool = convention == "bmtool"
        if not bmtool:
            keep &= pairs.source != pairs.target
        both = np.flatnonzero((local_s >= 0) & (local_t >= 0))
        result = ca.probability_by_distance(
            pos[src_nodes], pos[tgt_nodes], ps[keep], pt[keep], bins, max_distance=max_distance,
            same_cell=None if bmtool else (local_s[both], local_t[both]),
            connected_weights=pairs.rows[keep] if bmtool else None,
        )
        df = pd.DataFrame({"bin_start_um": result.edges[:-1], "bin_end_um": result.edges[1:],
                           "pairs": result.pairs, "connected": result.connected,
                           "probability": result.probability})
        df.attrs.update(units="probability (0–1) per soma-distance bin in µm", convention=convention,
                        source_group=source_group, target_group=target_group, group_by=grp.attribute,
                        n_source_cells=int(src_nodes.size), n_target_cells=int(tgt_nodes.size),
                        cells_without_position=missing, sources=list(sel.sources), targets=list(sel.targets))
        return df

    # -- network view ------------------------------------------------------------------------
    def positions(self, group_by: str | None = "pop_name", populations: Populations | None = None) -> pd.DataFrame:
        """node_id, population, group, x, y, z (µm) of every cell (see :func:`network_view.positions`)."""
        return network_view.positions(self.network, group_by, populations)

    def rotations(self, populations: Populations | None = None) -> pd.DataFrame:
        """node_id, population, rotation_angle_x/y/zaxis (rad), the cell axis' unit vector
        (see :func:`network_view.rotations`)."""
        return network_view.rotations(self.network, populations)

    def graph(self, group_by: str | None = "pop_name", metric: str = "total", **query: Any) -> pd.DataFrame:
        """Group → group edges weighted by ``metric`` (see :func:`network_view.graph`)."""
        return network_view.graph(self, group_by, metric, **query)

    # -- display ----------------------------------------------------------------------------
    def dashboard(self, **kwargs: Any) -> Any:
        """The interactive :class:`~bmtool_lab.widgets.connectivity.ConnectivityDashboard` (created
        on first use, again when given options; imports ipywidgets/bqplot only then)."""
        return dashboard_of(self, **kwargs)
