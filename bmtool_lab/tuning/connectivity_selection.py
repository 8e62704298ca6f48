"""What a connectivity query selects (:mod:`bmtool_lab.tuning.connectivity`): the populations or
node sets of sources and targets, the grouping of their cells, and one matrix cell's details."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import connectivity as ca
from ..model.sonata import (
    EdgePopulation,
    SonataNetwork,
)

#: "all", a node population, a list of them, or a node selection: a DataFrame with ``node_id``
#: and ``population`` columns (as ``NetworkView3D.selected_nodes()`` gives) or {population: node ids}
Populations = str | Sequence[str] | pd.DataFrame | Mapping[str, Sequence[int]]


def _node_set(spec: Any) -> dict[str, np.ndarray] | None:
    """A node selection as {population: sorted unique node ids}; None when ``spec`` names populations."""
    if isinstance(spec, pd.DataFrame):
        missing = {"node_id", "population"} - set(spec.columns)
        if missing:
            raise ValueError(f"a node selection needs the columns node_id and population; missing: "
                             f"{', '.join(sorted(missing))}")
        if spec.empty:
            raise ValueError("the node selection is empty: select some cells (shift-drag in the 3D view)")
        return {str(p): np.unique(g["node_id"].to_numpy(np.int64)) for p, g in spec.groupby("population", sort=False)}
    if isinstance(spec, Mapping):
        out = {str(p): np.unique(np.asarray(ids, np.int64)) for p, ids in spec.items() if len(ids)}
        if not out:
            raise ValueError("the node selection is empty")
        return out
    return None


def _node_key(nodes: dict[str, np.ndarray] | None) -> tuple | None:
    if nodes is None:
        return None
    return tuple((p, hashlib.blake2b(nodes[p].tobytes(), digest_size=16).hexdigest()) for p in sorted(nodes))


# ---------------------------------------------------------------------------------------
# selections: the node space and the distinct pairs of one (sources, targets) choice


@dataclass
class _Selection:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    populations: tuple[str, ...]  # node space: sources ∪ targets, config order
    offsets: dict[str, int]
    n_nodes: int
    edges: list[EdgePopulation]
    network: SonataNetwork
    _cache: dict[str, Any] = field(default_factory=dict)
    # node selections within the source / target populations (None: every cell of them)
    source_nodes: dict[str, np.ndarray] | None = None
    target_nodes: dict[str, np.ndarray] | None = None
    node_key: tuple | None = None

    def local_rows(self, edges: EdgePopulation) -> tuple[np.ndarray, np.ndarray]:
        """Source and target rows of every edge row within their own node populations (no copy
        when the node ids are the rows)."""
        net = self.network
        ctx = f"edge population {edges.name!r}"
        s = net.node_population(edges.source_population).rows(edges.source_node_ids(), context=ctx)
        t = net.node_population(edges.target_population).rows(edges.target_node_ids(), context=ctx)
        return s, t

    def pairs(self, gap: bool) -> ca.ConnectionPairs:
        """Distinct (source, target) pairs of the chemical (or gap-junction) edges, cached."""
        key = "gap" if gap else "chemical"
        if key in self._cache:
            return self._cache[key]
        parts = []
        for e in self.edges:
            mask = e.gap_junction_mask()
            if mask is None and gap:
                continue
            keep = None if mask is None else (mask if gap else ~mask)
            parts.append((e, keep, e.size if keep is None else int(np.count_nonzero(keep))))
        total = sum(n for _, _, n in parts)
        idx = np.int32 if self.n_nodes < np.iinfo(np.int32).max else np.int64
        # one preallocated array per column: no per-population copies to concatenate
        src, tgt = np.empty(total, idx), np.empty(total, idx)
        with_nsyns = any(e.synapse_counts() is not None for e, _, _ in parts)
        syn = np.empty(total, np.int32) if with_nsyns else None
        at = 0
        for e, keep, n in parts:
            s, t = self.local_rows(e)
            nsyn = e.synapse_counts()
            if keep is not None:
                s, t = s[keep], t[keep]
                nsyn = None if nsyn is None else nsyn[keep]
            np.add(s, self.offsets[e.source_population], out=src[at:at + n], casting="unsafe")
            np.add(t, self.offsets[e.target_population], out=tgt[at:at + n], casting="unsafe")
            if syn is not None:
                syn[at:at + n] = 1 if nsyn is None else nsyn
            at += n
        self._cache[key] = ca.connection_pairs(src, tgt, self.n_nodes, syn)
        return self._cache[key]

    def reciprocal(self, gap: bool = False) -> tuple[np.ndarray, np.ndarray]:
        key = "reciprocal-gap" if gap else "reciprocal"
        if key not in self._cache:
            self._cache[key] = ca.reciprocal_pattern(self.pairs(gap))
        return self._cache[key]

    def positions(self) -> np.ndarray:
        if "positions" not in self._cache:
            self._cache["positions"] = np.concatenate(
                [self.network.node_population(p).positions() for p in self.populations]
            )
        return self._cache["positions"]

    def in_sources(self) -> np.ndarray:
        return self._membership(self.sources, self.source_nodes)

    def in_targets(self) -> np.ndarray:
        return self._membership(self.targets, self.target_nodes)

    def _membership(self, pops: Iterable[str], nodes: dict[str, np.ndarray] | None) -> np.ndarray:
        m = np.zeros(self.n_nodes, bool)
        for p in pops:
            o = self.offsets[p]
            pop = self.network.node_population(p)
            if nodes is None:
                m[o:o + pop.size] = True
            elif p in nodes:
                m[o + pop.rows(nodes[p], context="the node selection")] = True
        return m


@dataclass(frozen=True)
class _Grouping:
    attribute: str  # as asked (or the default chain)
    per_population: dict[str, str]  # attribute actually used for each population
    labels: list[Any]
    groups: ca.GroupAssignment
    source_axis: np.ndarray  # group indices shown as rows (groups with source cells)
    target_axis: np.ndarray

    @cached_property
    def index(self) -> dict[Any, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    def find(self, label: Any, role: str) -> int:
        for candidate in (label, str(label)):
            if candidate in self.index:
                return self.index[candidate]
        try:
            as_int = int(label)
        except (TypeError, ValueError):
            as_int = None
        if as_int is not None and as_int in self.index:
            return self.index[as_int]
        raise KeyError(f"no {role} group {label!r} when grouping by {self.attribute!r}; "
                       f"groups: {', '.join(map(str, self.labels))}")


# ---------------------------------------------------------------------------------------
# details of one group pair


@dataclass
class ConnectionDetails:
    """Everything about the connections from source group S to target group T.

    Counts are of the chemical edges (gap junctions separately); ``possible_pairs`` is the
    percent denominator ``|S|·|T| − |S ∩ T|``; ``syn_weight`` / ``delay`` (ms) hold one value
    per edge row (empty when the network stores none).
    """

    source_group: Any
    target_group: Any
    group_by: str
    n_source_cells: int
    n_target_cells: int
    self_pairs: int
    possible_pairs: int
    connections: int
    edge_rows: int
    synapses: int
    bidirectional_pairs: int
    percent: float
    convergence: dict[str, float]
    divergence: dict[str, float]
    gap_junction_pairs: int
    edge_types: pd.DataFrame
    syn_weight: np.ndarray
    delay: np.ndarray

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (no per-edge arrays)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("edge_types", "syn_weight", "delay")}
        types = self.edge_types.astype(object)
        out["edge_types"] = types.where(types.notna(), None).to_dict("records")
        for name in ("syn_weight", "delay"):
            v = getattr(self, name)
            out[name] = _summary(v)
        return out


def _summary(v: np.ndarray) -> dict[str, float]:
    v = v[np.isfinite(v)] if v.size else v
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "max": float(v.max())}


# ---------------------------------------------------------------------------------------
# the explorer


def _check(name: str, value: Any, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")
