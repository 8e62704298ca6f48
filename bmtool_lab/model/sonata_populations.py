"""One SONATA node or edge population of a network (:mod:`bmtool_lab.model.sonata`): its ids,
types and attributes as numpy arrays, read lazily from the h5 file (in chunks, so a dtype
conversion never holds two full copies of a large dataset) and cached per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from .config import EdgeFiles, NodeFiles
from .sonata_files import (
    AttributeNotFoundError,
    EmptyPopulationError,
    SonataError,
    _cached,
    _frozen,
    _group_layout,
    _lookup_rows,
    _open_h5,
    _stamp,
    column_values,
    read_types_table,
    truthy,
)

__all__ = ["READ_CHUNK", "EdgePopulation", "NodePopulation"]

#: Elements per h5py read when a dataset has to be converted to another dtype.
READ_CHUNK = 1 << 22

# Datasets of a node/edge population that are bookkeeping, not attributes.
_NODE_INDEX = ("node_id", "node_type_id", "node_group_id", "node_group_index")
_EDGE_INDEX = ("source_node_id", "target_node_id", "edge_type_id", "edge_group_id", "edge_group_index")

# ---------------------------------------------------------------------------------------
# low-level readers


def _read_array(ds: h5py.Dataset, dtype: Any = None) -> np.ndarray:
    """Read a whole 1-D/2-D dataset into a new numpy array, converting dtype chunk by chunk."""
    if ds.dtype.kind in "OSU" or h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[()], dtype=object)
    target = np.dtype(dtype) if dtype is not None else ds.dtype
    out = np.empty(ds.shape, dtype=target)
    n = ds.shape[0] if ds.ndim else 0
    if n == 0:
        return out
    if target == ds.dtype:
        ds.read_direct(out)
        return out
    step = max(1, READ_CHUNK // max(1, int(np.prod(ds.shape[1:], dtype=np.int64))))
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = ds[start:stop]
    return out


_I32 = np.iinfo(np.int32)


def _read_ints(ds: h5py.Dataset) -> np.ndarray:
    """An integer dataset (node ids, type ids, nsyns) as int32 when every value fits, else int64.

    int32 halves the memory of the largest arrays (10⁷ edges: 40 MB instead of 80 MB each).
    """
    n = ds.shape[0]
    out = np.empty(n, np.int32)
    for start in range(0, n, READ_CHUNK):
        chunk = ds[start:start + READ_CHUNK]
        if chunk.size and (int(chunk.max()) > _I32.max or int(chunk.min()) < _I32.min):
            return _read_array(ds, np.int64)
        out[start:start + chunk.shape[0]] = chunk
    return out


# ---------------------------------------------------------------------------------------
# nodes


@dataclass(frozen=True)
class _NodeArrays:
    node_id: np.ndarray
    node_type_id: np.ndarray
    node_group_id: np.ndarray
    node_group_index: np.ndarray
    groups: dict[int, tuple[str, ...]]


class NodePopulation:
    """One node population: ids, node types and attributes as numpy arrays (lazy, cached).

    Rows are positions in the population's datasets (``0 .. size-1``); edges refer to
    ``node_id`` values, which :meth:`rows` converts to rows.
    """

    def __init__(self, name: str, files: NodeFiles):
        self.name = name
        self.nodes_file = Path(files.nodes_file)
        self.node_types_file = Path(files.node_types_file)

    def __repr__(self) -> str:
        return f"NodePopulation({self.name!r}, {self.nodes_file.name}, size={self.size})"

    # -- raw arrays --------------------------------------------------------------------
    def _arrays(self) -> _NodeArrays:
        def load() -> _NodeArrays:
            with _open_h5(self.nodes_file) as f:
                pop = f[f"nodes/{self.name}"]
                n = pop["node_type_id"].shape[0]
                arange = np.arange(n, dtype=np.int64)
                node_id = _read_ints(pop["node_id"]) if "node_id" in pop else arange
                gid = _read_ints(pop["node_group_id"]) if "node_group_id" in pop else np.zeros(n, np.int64)
                gidx = _read_ints(pop["node_group_index"]) if "node_group_index" in pop else arange
                return _NodeArrays(
                    node_id=_frozen(node_id),
                    node_type_id=_frozen(_read_ints(pop["node_type_id"])),
                    node_group_id=_frozen(gid),
                    node_group_index=_frozen(gidx),
                    groups=_group_layout(pop),
                )

        return _cached(self.nodes_file, ("nodes", self.name), load)

    @property
    def size(self) -> int:
        """Number of nodes (cells or virtual inputs)."""
        return int(self._arrays().node_id.shape[0])

    def node_ids(self) -> np.ndarray:
        """``node_id`` of every row (int32, or int64 for ids beyond 2³¹)."""
        return self._arrays().node_id

    def node_type_ids(self) -> np.ndarray:
        """``node_type_id`` of every row (int32 or int64)."""
        return self._arrays().node_type_id

    @property
    def node_types(self) -> pd.DataFrame:
        """The node-types CSV, indexed by ``node_type_id``."""
        return read_types_table(self.node_types_file, "node_type_id")

    def _type_rows(self) -> np.ndarray:
        def load() -> np.ndarray:
            ids = self.node_types.index.to_numpy(dtype=np.int64)
            rows = _lookup_rows(ids, self.node_type_ids(), "node_type_id", f"node population {self.name!r}")
            return _frozen(rows.astype(np.int32))

        return _cached(self.nodes_file, ("node-type-rows", self.name, _stamp(self.node_types_file)), load)

    # -- attributes --------------------------------------------------------------------
    def attribute_names(self) -> list[str]:
        """Every attribute that can be read or grouped by: types-CSV columns and h5 group datasets."""
        names = set(self.node_types.columns)
        for datasets in self._arrays().groups.values():
            names.update(datasets)
        names.update(("node_type_id", "node_id"))
        return sorted(names)

    def has_attribute(self, name: str) -> bool:
        return name in self.attribute_names()

    def _missing(self, name: str) -> AttributeNotFoundError:
        return AttributeNotFoundError(
            f"node population {self.name!r} has no attribute {name!r}; "
            f"its attributes are: {', '.join(self.attribute_names())}"
        )

    def values(self, name: str) -> np.ndarray:
        """Per-node values of an attribute (numeric dtype, or object with None for missing text).

        h5 group datasets take precedence over the node-types CSV (the SONATA rule).
        """
        def load() -> np.ndarray:
            arr = self._arrays()
            if name == "node_id":
                return arr.node_id
            if name == "node_type_id":
                return arr.node_type_id
            types = self.node_types
            in_groups = [g for g, ds in arr.groups.items() if name in ds]
            if name not in types.columns and not in_groups:
                raise self._missing(name)
            if name in types.columns:
                per_type = column_values(types, name)
                out = per_type[self._type_rows()]
            else:
                out = np.full(self.size, np.nan)
            if in_groups:
                with _open_h5(self.nodes_file) as f:
                    pop = f[f"nodes/{self.name}"]
                    for g in in_groups:
                        ds = pop[f"{g}/{name}"]
                        if ds.ndim != 1:
                            raise SonataError(f"node attribute {name!r} of {self.name!r} is {ds.ndim}-D; use positions()")
                        group_values = _read_array(ds)
                        if group_values.dtype == object or out.dtype == object:
                            out = out.astype(object)
                        elif out.dtype.kind in "iub" and group_values.dtype.kind == "f":
                            out = out.astype(np.float64)
                        rows = arr.node_group_id == g
                        out[rows] = group_values[arr.node_group_index[rows]]
            return _frozen(out)

        return _cached(self.nodes_file, ("node-values", self.name, name, _stamp(self.node_types_file)), load)

    def labels(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """Factorise an attribute: (code per node, label per code), labels in order of first appearance.

        Nodes whose value is missing get code -1.
        """
        def load() -> tuple[np.ndarray, list[Any]]:
            # hash-based, keeps first-appearance order, -1 for None/NaN (pandas 2 and 3 alike)
            codes, uniques = pd.factorize(self.values(name), use_na_sentinel=True)
            labels = [u.item() if isinstance(u, np.generic) else u for u in np.asarray(uniques, dtype=object)]
            return _frozen(codes.astype(np.int64, copy=False)), labels

        return _cached(self.nodes_file, ("node-labels", self.name, name, _stamp(self.node_types_file)), load)

    def model_types(self) -> set[str]:
        """The ``model_type`` values of this population's nodes (biophysical, point_process, virtual, ...)."""
        if "model_type" not in self.node_types.columns:
            return set()
        used = np.unique(self._type_rows())  # the CSV may be shared by several populations
        return {str(v) for v in column_values(self.node_types, "model_type")[used] if v is not None and v == v}

    @property
    def is_virtual(self) -> bool:
        """True when every node type is ``model_type = virtual`` (spike inputs without a soma)."""
        return self.model_types() == {"virtual"}

    def positions(self) -> np.ndarray:
        """Soma positions (N, 3) in µm from ``positions`` or ``x``/``y``/``z``; NaN where absent."""
        def load() -> np.ndarray:
            arr = self._arrays()
            out = np.full((self.size, 3), np.nan)
            with _open_h5(self.nodes_file) as f:
                pop = f[f"nodes/{self.name}"]
                for g, datasets in arr.groups.items():
                    rows = np.flatnonzero(arr.node_group_id == g)
                    if rows.size == 0:
                        continue
                    idx = arr.node_group_index[rows]
                    if "positions" in datasets:
                        pos = _read_array(pop[f"{g}/positions"], np.float64)
                        if pos.ndim == 2 and pos.shape[1] >= 1:
                            out[rows, : min(3, pos.shape[1])] = pos[idx, :3]
                    else:
                        for axis, key in enumerate(("x", "y", "z")):
                            if key in datasets:
                                out[rows, axis] = _read_array(pop[f"{g}/{key}"], np.float64)[idx]
            # attributes given per node type (x/y/z columns in the CSV) fill what the groups lack
            types = self.node_types
            for axis, key in enumerate(("x", "y", "z")):
                if key in types.columns and pd.api.types.is_numeric_dtype(types[key].dtype):
                    col = column_values(types, key).astype(np.float64)[self._type_rows()]
                    gap = np.isnan(out[:, axis])
                    out[gap, axis] = col[gap]
            return _frozen(out)

        return _cached(self.nodes_file, ("positions", self.name, _stamp(self.node_types_file)), load)

    def rows(self, node_ids: np.ndarray, *, context: str = "") -> np.ndarray:
        """Row of each ``node_id`` (int32 or int64, the dtype of the ids when they are the rows);
        a clear error for ids the population does not have."""
        ids = self.node_ids()
        n = ids.shape[0]
        node_ids = np.asarray(node_ids)
        if node_ids.size == 0:
            return np.empty(0, np.int64)
        lo, hi = int(node_ids.min()), int(node_ids.max())

        def unknown() -> SonataError:
            bad = np.setdiff1d(np.unique(node_ids), ids)[:5]
            return SonataError(
                f"{context or 'edges'} refer to node ids {', '.join(map(str, bad))} that node population "
                f"{self.name!r} ({self.nodes_file}) does not have ({n} nodes); the edges and nodes files "
                "are out of step: rebuild the network"
            )

        if self._ids_are_rows():
            if lo < 0 or hi >= n:
                raise unknown()
            return node_ids  # no copy: the ids are the rows
        order = self._id_order()
        pos = np.searchsorted(ids[order], node_ids)
        pos = np.minimum(pos, n - 1)
        rows = order[pos]
        if not np.array_equal(ids[rows], node_ids):
            raise unknown()
        return rows

    def _ids_are_rows(self) -> bool:
        return _cached(
            self.nodes_file,
            ("ids-are-rows", self.name),
            lambda: bool(np.array_equal(self.node_ids(), np.arange(self.size, dtype=np.int64))),
        )

    def _id_order(self) -> np.ndarray:
        return _cached(self.nodes_file, ("id-order", self.name), lambda: _frozen(np.argsort(self.node_ids(), kind="stable")))


# ---------------------------------------------------------------------------------------
# edges


class EdgePopulation:
    """One edge population: source/target node ids, edge types and per-edge attributes (lazy, cached).

    ``source_population`` / ``target_population`` come from the ``node_population``
    attribute of ``source_node_id`` / ``target_node_id`` (the name of the edge population
    itself carries no meaning). Gap junctions are the rows whose edge type has
    ``is_gap_junction`` (BMTK's ``gap_juncs_file`` only repeats those pairs for MPI bookkeeping).
    """

    def __init__(self, name: str, files: EdgeFiles, source_population: str, target_population: str,
                 size: int, groups: dict[int, tuple[str, ...]]):
        self.name = name
        self.edges_file = Path(files.edges_file)
        self.edge_types_file = Path(files.edge_types_file)
        self.source_population = source_population
        self.target_population = target_population
        self.size = size
        self.groups = groups

    def __repr__(self) -> str:
        return (f"EdgePopulation({self.name!r}, {self.source_population!r} -> {self.target_population!r}, "
                f"size={self.size})")

    def _where(self) -> str:
        return f"edge population {self.name!r} ({self.edges_file})"

    def _require_edges(self) -> None:
        if self.size == 0:
            raise EmptyPopulationError(
                f"{self._where()} has no edges: its connection rules produced no connection. "
                "Check the rules and node queries of the builder (or drop the population from the config)"
            )

    def _dataset(self, key: str) -> np.ndarray:
        """An integer dataset of the population (int32 when it fits), read once and cached."""
        self._require_edges()

        def load() -> np.ndarray:
            with _open_h5(self.edges_file) as f:
                pop = f[f"edges/{self.name}"]
                if key not in pop:
                    if key == "edge_group_id":
                        return _frozen(np.zeros(self.size, np.int32))
                    if key == "edge_group_index":
                        return _frozen(np.arange(self.size, dtype=np.int64))
                    raise SonataError(f"{self._where()} has no {key!r} dataset; is it a SONATA edges file?")
                return _frozen(_read_ints(pop[key]))

        return _cached(self.edges_file, ("edges", self.name, key), load)

    def source_node_ids(self) -> np.ndarray:
        """``source_node_id`` of every edge row (int32, or int64 for ids beyond 2³¹)."""
        return self._dataset("source_node_id")

    def target_node_ids(self) -> np.ndarray:
        """``target_node_id`` of every edge row (int32 or int64)."""
        return self._dataset("target_node_id")

    def edge_type_ids(self) -> np.ndarray:
        """``edge_type_id`` of every edge row (int32 or int64)."""
        return self._dataset("edge_type_id")

    @property
    def edge_types(self) -> pd.DataFrame:
        """The edge-types CSV of this file, indexed by ``edge_type_id`` (shared by its populations)."""
        return read_types_table(self.edge_types_file, "edge_type_id")

    def _type_rows(self) -> np.ndarray:
        def load() -> np.ndarray:
            ids = self.edge_types.index.to_numpy(dtype=np.int64)
            return _frozen(_lookup_rows(ids, self.edge_type_ids(), "edge_type_id", self._where()).astype(np.int32))

        return _cached(self.edges_file, ("edge-type-rows", self.name, _stamp(self.edge_types_file)), load)

    def attribute_names(self) -> list[str]:
        """Per-edge datasets of the h5 groups and columns of the edge-types CSV."""
        names = set(self.edge_types.columns)
        for datasets in self.groups.values():
            names.update(datasets)
        names.add("edge_type_id")
        return sorted(names)

    def edge_attribute_names(self) -> list[str]:
        """Only the per-edge datasets stored in the h5 groups (``syn_weight``, ``nsyns``, ...)."""
        return sorted({n for datasets in self.groups.values() for n in datasets})

    def _type_column(self, name: str) -> np.ndarray:
        """A numeric edge-types column as float64 per type row (NaN = missing)."""
        per_type = column_values(self.edge_types, name)
        if per_type.dtype == object:
            per_type = pd.to_numeric(pd.Series(per_type, dtype=object), errors="coerce").to_numpy(np.float64)
            if np.isnan(per_type).all():
                raise SonataError(f"edge attribute {name!r} of {self._where()} is text, not numeric; "
                                  "text attributes of edge types are in list_connection_types()")
        return per_type.astype(np.float64)

    def values(self, name: str, mask: np.ndarray | None = None) -> np.ndarray:
        """Per-edge values of a numeric attribute (float64; NaN where an edge has none).

        h5 group datasets take precedence; edges of groups without the dataset take the
        edge-types CSV value of their type, if the CSV has that column. ``mask`` (bool per
        row) returns only those rows; attributes found only in the CSV are then never
        expanded to every edge (and never cached per edge).
        """
        if name == "edge_type_id":
            ids = self.edge_type_ids()
            return ids if mask is None else ids[mask]
        self._require_edges()
        types = self.edge_types
        in_groups = [g for g, ds in self.groups.items() if name in ds]
        if name not in types.columns and not in_groups:
            raise AttributeNotFoundError(
                f"{self._where()} has no attribute {name!r}; its attributes are: "
                f"{', '.join(self.attribute_names())}"
            )
        if not in_groups:
            rows = self._type_rows()
            return self._type_column(name)[rows if mask is None else rows[mask]]

        def load() -> np.ndarray:
            if name in types.columns:
                try:
                    out = self._type_column(name)[self._type_rows()]
                except SonataError:
                    out = np.full(self.size, np.nan)
            else:
                out = np.full(self.size, np.nan)
            with _open_h5(self.edges_file) as f:
                pop = f[f"edges/{self.name}"]
                for g in in_groups:
                    group_values = _read_array(pop[f"{g}/{name}"], np.float64)
                    if self._one_group_in_order():
                        out = group_values  # the common layout: no gather needed
                        continue
                    rows = np.flatnonzero(self._dataset("edge_group_id") == g)
                    out[rows] = group_values[self._dataset("edge_group_index")[rows]]
            return _frozen(out)

        full = _cached(self.edges_file, ("edge-values", self.name, name, _stamp(self.edge_types_file)), load)
        return full if mask is None else full[mask]

    def _one_group_in_order(self) -> bool:
        """True when all edges are in one group, stored in row order (group index = row)."""
        if len(self.groups) != 1:
            return False
        group = next(iter(self.groups))

        def load() -> bool:
            # streamed: the common single-group file never keeps its group id/index arrays
            with _open_h5(self.edges_file) as f:
                pop = f[f"edges/{self.name}"]
                for start in range(0, self.size, READ_CHUNK):
                    stop = min(self.size, start + READ_CHUNK)
                    if "edge_group_id" in pop and np.any(pop["edge_group_id"][start:stop] != group):
                        return False
                    if "edge_group_index" in pop and not np.array_equal(pop["edge_group_index"][start:stop],
                                                                        np.arange(start, stop)):
                        return False
            return True

        return _cached(self.edges_file, ("one-group", self.name), load)

    def synapse_counts(self) -> np.ndarray | None:
        """Synapses of every edge row (``nsyns``, int32), or None when every row is one synapse.

        Groups without ``nsyns`` (BMTK writes one row per synapse for them) count 1 per row.
        """
        in_groups = [g for g, ds in self.groups.items() if "nsyns" in ds]
        in_csv = "nsyns" in self.edge_types.columns
        if not in_groups and not in_csv:
            return None

        def load() -> np.ndarray:
            if in_csv:  # per-type counts, overridden below by per-edge ones
                per_type = pd.to_numeric(self.edge_types["nsyns"], errors="coerce").fillna(1).to_numpy()
                out = per_type.astype(np.int32)[self._type_rows()]
            else:
                out = np.ones(self.size, np.int32)
            with _open_h5(self.edges_file) as f:
                pop = f[f"edges/{self.name}"]
                for g in in_groups:
                    counts = _read_ints(pop[f"{g}/nsyns"])
                    if self._one_group_in_order():
                        out = counts
                        continue
                    rows = np.flatnonzero(self._dataset("edge_group_id") == g)
                    out[rows] = counts[self._dataset("edge_group_index")[rows]]
            return _frozen(out)

        self._require_edges()
        return _cached(self.edges_file, ("nsyns", self.name, _stamp(self.edge_types_file)), load)

    def gap_junction_type_ids(self) -> np.ndarray:
        """Edge type ids flagged ``is_gap_junction`` in the edge-types CSV."""
        types = self.edge_types
        ids = types.index.to_numpy(dtype=np.int64)
        if "is_gap_junction" not in types.columns:
            return np.empty(0, np.int64)
        flags = np.array([truthy(v) for v in column_values(types, "is_gap_junction")], dtype=bool)
        return ids[flags]

    def gap_junction_mask(self) -> np.ndarray | None:
        """Per-row bool: is the row a gap junction? None when no row is (the common case, no array)."""
        gap_ids = self.gap_junction_type_ids()
        if gap_ids.size == 0:
            return None
        return _cached(self.edges_file, ("gap-mask", self.name, _stamp(self.edge_types_file)),
                       lambda: _frozen(np.isin(self.edge_type_ids(), gap_ids)))
