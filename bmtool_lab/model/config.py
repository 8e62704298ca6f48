"""Load a BMTK simulation or circuit config into plain paths and run settings.

Manifest substitution is bmtk's job (``bmtk.utils.sonata.config.SonataConfig``); this module
only turns the resolved dict into a typed, validated object and says clearly what is wrong
with a config that points nowhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A BMTK config that cannot be used, with a message that says how to fix it."""


@dataclass(frozen=True)
class NodeFiles:
    nodes_file: Path
    node_types_file: Path


@dataclass(frozen=True)
class EdgeFiles:
    edges_file: Path
    edge_types_file: Path


@dataclass(frozen=True)
class GapJunctionFiles:
    """A BMTK gap-junction id file (``<network>_gap_juncs.h5``: source_ids, target_ids, src/trg_gap_ids).

    The gap-junction edges themselves are ordinary edges whose edge type has ``is_gap_junction``.
    """

    gap_juncs_file: Path


@dataclass(frozen=True)
class RunSettings:
    """Simulation settings of a config: tstop and dt in ms, celsius in degC, v_init in mV."""

    tstop: float = 1000.0
    dt: float = 0.025
    celsius: float = 34.0
    v_init: float = -65.0


@dataclass(frozen=True)
class ModelConfig:
    """A resolved BMTK config: where every file of the model is."""

    path: Path
    nodes: tuple[NodeFiles, ...]
    edges: tuple[EdgeFiles, ...]
    gap_juncs: tuple[GapJunctionFiles, ...]
    components: dict[str, Path]
    run: RunSettings
    node_sets: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def mechanisms_dir(self) -> Path | None:
        return self.components.get("mechanisms_dir")

    @property
    def templates_dir(self) -> Path | None:
        return self.components.get("templates_dir")

    @property
    def synaptic_models_dir(self) -> Path | None:
        return self.components.get("synaptic_models_dir")

    @property
    def morphologies_dir(self) -> Path | None:
        return self.components.get("morphologies_dir")

    @property
    def biophysical_neuron_models_dir(self) -> Path | None:
        return self.components.get("biophysical_neuron_models_dir")

    def missing_files(self) -> list[str]:
        """Every file or folder the config names that does not exist, as readable lines."""
        problems = []
        for group, entries in (("nodes", self.nodes), ("edges", self.edges), ("gap_juncs", self.gap_juncs)):
            for entry in entries:
                for p in (entry.__dict__.values()):
                    if not Path(p).exists():
                        problems.append(f"{group}: {p} does not exist")
        for name, p in self.components.items():
            if not Path(p).exists():
                problems.append(f"components.{name}: {p} does not exist")
        return problems


def _paths(entries: list[dict], kind: str, cls: type, keys: tuple[str, str], path: Path) -> tuple:
    out = []
    for i, entry in enumerate(entries or []):
        try:
            out.append(cls(*(Path(entry[k]) for k in keys)))
        except KeyError as err:
            raise ConfigError(f"{path}: networks.{kind}[{i}] has no {err.args[0]!r}") from None
    return tuple(out)


def _gap_junction_files(entries: list[dict], path: Path) -> tuple[GapJunctionFiles, ...]:
    out = []
    for i, entry in enumerate(entries or []):
        if "gap_juncs_file" not in entry:
            raise ConfigError(f"{path}: networks.gap_juncs[{i}] has no 'gap_juncs_file'")
        out.append(GapJunctionFiles(Path(entry["gap_juncs_file"])))
    return tuple(out)


def load_config(path: str | Path) -> ModelConfig:
    """Resolve a BMTK simulation config or circuit config (manifest variables through bmtk).

    Raises ConfigError for a file that is missing, is not JSON, or is not a BMTK config.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{path} does not exist (expected a BMTK simulation_config.json or circuit_config.json)")
    try:
        json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from None
    from bmtk.utils.sonata.config import SonataConfig  # slow import (~0.7 s): keep it here

    try:
        resolved = dict(SonataConfig.from_json(str(path)))
    except Exception as err:  # bmtk raises bare Exceptions for bad manifests and links
        raise ConfigError(f"{path}: bmtk could not resolve this config: {err}") from None
    networks = resolved.get("networks") or {}
    if not isinstance(networks, dict) or not (networks.get("nodes") or networks.get("edges")):
        raise ConfigError(
            f"{path} is not a BMTK network config: it lists no 'networks.nodes' or 'networks.edges' "
            "(point to the simulation config or the circuit config of a built network)"
        )
    run = resolved.get("run") or {}
    cond = resolved.get("conditions") or {}
    defaults = RunSettings()
    settings = RunSettings(
        tstop=float(run.get("tstop", defaults.tstop)),
        dt=float(run.get("dt", defaults.dt)),
        celsius=float(cond.get("celsius", defaults.celsius)),
        v_init=float(cond.get("v_init", defaults.v_init)),
    )
    components = {k: Path(v) for k, v in (resolved.get("components") or {}).items() if isinstance(v, str)}
    node_sets = resolved.get("node_sets") or {}
    if isinstance(node_sets, str):
        try:
            node_sets = json.loads(Path(node_sets).read_text())
        except OSError:
            node_sets = {}
    return ModelConfig(
        path=path,
        nodes=_paths(networks.get("nodes"), "nodes", NodeFiles, ("nodes_file", "node_types_file"), path),
        edges=_paths(networks.get("edges"), "edges", EdgeFiles, ("edges_file", "edge_types_file"), path),
        gap_juncs=_gap_junction_files(networks.get("gap_juncs"), path),
        components=components,
        run=settings,
        node_sets=node_sets if isinstance(node_sets, dict) else {},
        raw=resolved,
    )
