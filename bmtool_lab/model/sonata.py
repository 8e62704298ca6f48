"""Read SONATA nodes and edges of every population a BMTK config lists.

Arrays come straight from h5py into numpy (in chunks, so a dtype conversion never holds two
full copies of a large dataset); nothing is ever turned into a per-edge pandas frame. Every
array read is cached per file and dropped when the file's modification time or size
changes, so a rebuilt network is picked up without restarting the kernel.

Vocabulary (SONATA): a *node population* is ``/nodes/<name>`` in a ``*_nodes.h5`` file, with
``node_id``, ``node_type_id``, ``node_group_id``, ``node_group_index`` and per-group
datasets (``positions`` or ``x``/``y``/``z``, rotations, ...); attributes shared by a node
type live in the space-separated ``*_node_types.csv``. An *edge population* is
``/edges/<name>`` in a ``*_edges.h5`` file, with ``source_node_id`` / ``target_node_id``
(whose ``node_population`` attribute names the node populations), ``edge_type_id`` and
per-group datasets (``nsyns``, ``syn_weight``, ``delay``, ``afferent_section_id``, ...);
edge-type attributes live in ``*_edge_types.csv``. One h5 file may hold several
populations; edge type ids repeat across edge files.

The parts: :mod:`.sonata_populations` reads one node or edge population's arrays,
:mod:`.sonata_files` holds the errors, the cache and the types-CSV and h5 metadata readers;
this module holds the network (:class:`SonataNetwork`) and re-exports their public names.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .config import EdgeFiles, ModelConfig, load_config
from .sonata_files import (
    AttributeNotFoundError,
    EmptyPopulationError,
    MissingFileError,
    PopulationNotFoundError,
    SonataError,
    _edge_meta,
    _listed_populations,
    _plain,
    clear_cache,
    column_values,
    read_types_table,
    truthy,
)
from .sonata_populations import EdgePopulation, NodePopulation

__all__ = [
    "AttributeNotFoundError",
    "EdgePopulation",
    "EmptyPopulationError",
    "MissingFileError",
    "NodePopulation",
    "PopulationNotFoundError",
    "SonataError",
    "SonataNetwork",
    "clear_cache",
    "column_values",
    "read_types_table",
    "truthy",
]


# ---------------------------------------------------------------------------------------
# the network


class SonataNetwork:
    """Every node and edge population a BMTK config lists (files checked, arrays read lazily).

    ``SonataNetwork("simulation_config.json")`` or ``SonataNetwork(load_config(...))``.
    """

    def __init__(self, config: ModelConfig | str | Path):
        self.config = config if isinstance(config, ModelConfig) else load_config(config)
        self._nodes: dict[str, NodePopulation] = {}
        self._edges: dict[str, EdgePopulation] = {}
        for i, files in enumerate(self.config.nodes):
            self._check_files(files.nodes_file, files.node_types_file, f"networks.nodes[{i}]")
            for name in _listed_populations(Path(files.nodes_file), "nodes"):
                if name in self._nodes:
                    raise SonataError(
                        f"node population {name!r} appears in {self._nodes[name].nodes_file} and in "
                        f"{files.nodes_file}; each population must be listed once in {self.config.path}"
                    )
                self._nodes[name] = NodePopulation(name, files)
        for i, files in enumerate(self.config.edges):
            self._check_files(files.edges_file, files.edge_types_file, f"networks.edges[{i}]")
            for name in _listed_populations(Path(files.edges_file), "edges"):
                self._add_edge_population(name, files)

    def _check_files(self, h5: Path, csv: Path, where: str) -> None:
        for p, what in ((h5, "h5 file"), (csv, "types CSV")):
            if not Path(p).is_file():
                raise MissingFileError(
                    f"{where} of {self.config.path} names the {what} {p}, which does not exist: "
                    "build the network first (run its build script) or fix the path in the config"
                )

    def _add_edge_population(self, name: str, files: EdgeFiles) -> None:
        path = Path(files.edges_file)
        if name in self._edges:
            raise SonataError(f"edge population {name!r} appears in two edge files ({self._edges[name].edges_file}, {path})")
        src, tgt, size, groups = _edge_meta(path, name)
        if src is None or tgt is None:
            # Pre-SONATA-1.0 files lack the attribute; BMTK then names populations "<src>_to_<tgt>".
            guess = name.split("_to_") if "_to_" in name else []
            if len(guess) == 2 and all(g in self._nodes for g in guess):
                warnings.warn(
                    f"{path}: edge population {name!r} has no node_population attribute; "
                    f"assuming {guess[0]} -> {guess[1]} from its name",
                    stacklevel=3,
                )
                src, tgt = src or guess[0], tgt or guess[1]
            else:
                raise SonataError(
                    f"edge population {name!r} in {path} does not say which node populations it connects "
                    "(source_node_id/target_node_id lack the 'node_population' attribute); rebuild it with BMTK"
                )
        for role, pop in (("source", src), ("target", tgt)):
            if pop not in self._nodes:
                raise PopulationNotFoundError(
                    f"edge population {name!r} ({path}) has {role}s in node population {pop!r}, which "
                    f"{self.config.path} does not list (listed: {', '.join(self._nodes) or 'none'}); "
                    "add its nodes file to networks.nodes"
                )
        self._edges[name] = EdgePopulation(name, files, src, tgt, size, groups)

    # -- lookups ---------------------------------------------------------------------------
    @property
    def node_population_names(self) -> list[str]:
        """Node populations in config order (virtual ones included)."""
        return list(self._nodes)

    @property
    def edge_population_names(self) -> list[str]:
        """Edge populations in config order."""
        return list(self._edges)

    def node_population(self, name: str) -> NodePopulation:
        try:
            return self._nodes[name]
        except KeyError:
            raise PopulationNotFoundError(
                f"node population {name!r} is not in {self.config.path}; "
                f"the config lists: {', '.join(self._nodes) or 'none'}"
            ) from None

    def edge_population(self, name: str) -> EdgePopulation:
        try:
            return self._edges[name]
        except KeyError:
            raise PopulationNotFoundError(
                f"edge population {name!r} is not in {self.config.path}; "
                f"the config lists: {', '.join(self._edges) or 'none'}"
            ) from None

    def node_populations(self) -> list[NodePopulation]:
        return list(self._nodes.values())

    def edge_populations(self) -> list[EdgePopulation]:
        return list(self._edges.values())

    def resolve_node_populations(self, which: str | Iterable[str]) -> list[str]:
        """``"all"``, one population name or a list of names -> validated names in config order."""
        if isinstance(which, str):
            names = list(self._nodes) if which == "all" else [which]
        else:
            names = list(which)
            if "all" in names:
                names = list(self._nodes)
        if not names:
            raise PopulationNotFoundError("no node population selected; pass 'all', a population name or a list")
        for n in names:
            self.node_population(n)
        return [n for n in self._nodes if n in set(names)]

    def first_edge_props(self, ct: Any) -> tuple[dict, dict, dict]:
        """(edge, source node, target node) of a connection type's first edge, as plain dicts of
        every attribute (types-CSV columns, then the h5 datasets): what a bmtk weight function
        reads from the edge and node objects BioNet hands it."""
        edges = self.edge_population(ct.edge_population)
        rows = np.flatnonzero(edges.edge_type_ids() == ct.edge_type_id)
        if rows.size == 0:
            raise SonataError(f"{ct.name}: edge type {ct.edge_type_id} has no edges in {edges.name!r}")
        row = int(rows[0])
        edge: dict[str, Any] = {"edge_type_id": int(ct.edge_type_id)}
        for name in edges.attribute_names():
            if name == "edge_type_id":
                continue
            try:
                edge[name] = _plain(edges.values(name)[row])
            except SonataError:  # a text column of the types CSV
                edge[name] = _plain(edges.edge_types.loc[ct.edge_type_id].get(name))
        nodes = []
        for pop_name, ids in ((edges.source_population, edges.source_node_ids()),
                              (edges.target_population, edges.target_node_ids())):
            pop = self.node_population(pop_name)
            node_row = int(pop.rows(np.asarray([ids[row]]))[0])
            nodes.append({name: _plain(pop.values(name)[node_row]) for name in pop.attribute_names()})
        return edge, nodes[0], nodes[1]

    def edges_between(self, sources: Iterable[str], targets: Iterable[str]) -> list[EdgePopulation]:
        """Edge populations from any of ``sources`` to any of ``targets`` (chemical and gap)."""
        s, t = set(sources), set(targets)
        return [e for e in self._edges.values() if e.source_population in s and e.target_population in t]
