"""Load a BMTK simulation or circuit config into plain paths and run settings.

Manifest substitution is bmtk's job (``bmtk.utils.sonata.config``'s ``ConfigParser``); this
module turns the resolved dict into a typed, validated object with **absolute** paths and says
clearly what is wrong with a config that points nowhere.

Relative paths (``"$BASE_DIR": "."`` as bmtk's examples write, or a bare ``network/x.h5``) are
left relative by bmtk, so BioNet resolves them against the current folder, while libsonata
and the SONATA guide resolve them against the folder of the config file that wrote them. We
take the current folder when the path exists there (bmtk's rule: a model run from its own
folder means what its author tested) and otherwise the folder of the config file that wrote
the value (the SONATA rule: a model opened from anywhere else). Every resolved path is recorded
in :attr:`ModelConfig.paths` with the rule that applied, and workers only ever see absolute
paths, so the kernel and every worker (which run in a temp folder) agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Names of the rules that resolve a path of a config (shown by the model browser).
RULE_ABSOLUTE = "absolute"
RULE_CWD = "current folder (bmtk)"
RULE_CONFIG_DIR = "config folder (SONATA)"


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
    """Simulation settings of a config: tstop and dt in ms, celsius in degC, v_init in mV, and
    ``dL`` (µm): BioNet segments every biophysical cell to ``nseg = 1 + 2·int(L / 2dL)`` per
    section (bmtk's default 20 µm when the config says nothing)."""

    tstop: float = 1000.0
    dt: float = 0.025
    celsius: float = 34.0
    v_init: float = -65.0
    dL: float = 20.0
    #: BioNet's spike detection threshold (mV, upward crossings at the soma)
    spike_threshold: float = -15.0


@dataclass(frozen=True)
class ResolvedPath:
    """One path of a config: where it came from and how it was made absolute.

    ``key``: where it sits (``components.mechanisms_dir``, ``networks.nodes[0].nodes_file``);
    ``written``: the value after bmtk's manifest substitution (may be relative);
    ``path``: the absolute path used everywhere; ``rule``: :data:`RULE_ABSOLUTE`,
    :data:`RULE_CWD` or :data:`RULE_CONFIG_DIR`; ``config``: the config file that wrote it.
    """

    key: str
    written: str
    path: Path
    rule: str
    config: Path

    def describe(self) -> str:
        if self.rule == RULE_ABSOLUTE:
            return f"{self.key}: {self.path}"
        return f"{self.key}: {self.written!r} -> {self.path} (relative: resolved against the {self.rule})"


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
    paths: tuple[ResolvedPath, ...] = field(default=(), compare=False)

    @property
    def config_dir(self) -> Path:
        """The folder of the (top-level) config file."""
        return self.path.parent

    def path_rules(self) -> dict[str, int]:
        """How many of the config's paths each rule resolved ({rule: count})."""
        out: dict[str, int] = {}
        for rp in self.paths:
            out[rp.rule] = out.get(rp.rule, 0) + 1
        return out

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
        for rp in self.paths:
            if rp.key == "node_sets_file" and not rp.path.exists():
                problems.append(f"node_sets_file: {rp.path} does not exist")
        return problems


class _Resolver:
    """Makes the relative paths of a resolved config absolute (see the module docstring)."""

    def __init__(self, origins: dict[str, Path], top: Path, cwd: Path):
        self.origins, self.top, self.cwd = origins, top, cwd
        self.paths: list[ResolvedPath] = []

    def __call__(self, value: Any, key: str) -> Path:
        written = str(value)
        p = Path(written).expanduser()
        config = self.origins.get(key.split(".", 1)[0].split("[", 1)[0], self.top)
        if p.is_absolute():
            path, rule = p, RULE_ABSOLUTE
        elif (self.cwd / p).exists():
            path, rule = self.cwd / p, RULE_CWD
        else:
            path, rule = config.parent / p, RULE_CONFIG_DIR
        path = Path(os.path.normpath(path))
        self.paths.append(ResolvedPath(key, written, path, rule, config))
        return path


def _paths(entries: list[dict], kind: str, cls: type, keys: tuple[str, str], path: Path,
           resolve: _Resolver) -> tuple:
    out = []
    for i, entry in enumerate(entries or []):
        try:
            out.append(cls(*(resolve(entry[k], f"networks.{kind}[{i}].{k}") for k in keys)))
        except KeyError as err:
            raise ConfigError(f"{path}: networks.{kind}[{i}] has no {err.args[0]!r}") from None
    return tuple(out)


def _gap_junction_files(entries: list[dict], path: Path, resolve: _Resolver) -> tuple[GapJunctionFiles, ...]:
    out = []
    for i, entry in enumerate(entries or []):
        if "gap_juncs_file" not in entry:
            raise ConfigError(f"{path}: networks.gap_juncs[{i}] has no 'gap_juncs_file'")
        out.append(GapJunctionFiles(resolve(entry["gap_juncs_file"], f"networks.gap_juncs[{i}].gap_juncs_file")))
    return tuple(out)


def _bmtk_resolve(path: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """bmtk's own parse of ``path`` (manifest variables, linked network/simulation configs) and,
    per top-level key, the config file whose value won (a linked config overrides its parent,
    as in bmtk's merge)."""
    from bmtk.utils.sonata.config.sonata_config import ConfigParser  # slow import (~0.7 s)

    class Parser(ConfigParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[dict] = []
            self.tree: dict | None = None

        def parse(self, cfg_obj: Any) -> dict:
            node = {"path": Path(os.path.abspath(cfg_obj)), "keys": set(), "children": []}
            try:
                node["keys"] = set(json.loads(Path(cfg_obj).read_text()))
            except (OSError, ValueError):
                pass
            if self.stack:
                self.stack[-1]["children"].append(node)
            self.stack.append(node)
            try:
                return super().parse(cfg_obj)
            finally:
                self.stack.pop()
                if not self.stack:
                    self.tree = node

        def _post_process(self, conf: dict, manifest: dict) -> None:
            # bmtk opens a relative node_sets_file from the current folder; use our rule, and
            # leave a missing file to the model check instead of failing the whole config
            nsf = conf.get("node_sets_file")
            if "node_sets" not in conf and isinstance(nsf, str):
                here = Path(os.getcwd()) / nsf
                target = here if here.exists() else self.stack[-1]["path"].parent / nsf
                conf["node_sets"] = json.loads(target.read_text()) if target.is_file() else {}
            super()._post_process(conf, manifest)

    parser = Parser()
    resolved = dict(parser.parse(str(path)))

    def all_keys(node: dict) -> set:
        out = set(node["keys"])
        for c in node["children"]:
            out |= all_keys(c)
        return out

    def origin(key: str, node: dict) -> Path:
        for child in reversed(node["children"]):  # bmtk merges network, then simulation
            if key in all_keys(child):
                return origin(key, child)
        return node["path"]

    tree = parser.tree or {"path": path, "keys": set(resolved), "children": []}
    return resolved, {k: origin(k, tree) for k in all_keys(tree)}


def load_config(path: str | Path) -> ModelConfig:
    """Resolve a BMTK simulation config or circuit config (manifest variables through bmtk).

    Every path comes back absolute (the rule that resolved each one is in ``.paths``).
    Raises ConfigError for a file that is missing, is not JSON, or is not a BMTK config.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{path} does not exist (expected a BMTK simulation_config.json or circuit_config.json)")
    try:
        json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from None
    try:
        resolved, origins = _bmtk_resolve(path)
    except Exception as err:  # bmtk raises bare Exceptions for bad manifests and links
        raise ConfigError(f"{path}: bmtk could not resolve this config: {err}") from None
    resolve = _Resolver(origins, path, Path(os.getcwd()))
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
        dL=float(run.get("dL", defaults.dL)),
        spike_threshold=float(run.get("spike_threshold", defaults.spike_threshold)),
    )
    components = {k: resolve(v, f"components.{k}") for k, v in (resolved.get("components") or {}).items()
                  if isinstance(v, str)}
    node_sets = resolved.get("node_sets") or {}
    if isinstance(node_sets, str):
        try:
            node_sets = json.loads(resolve(node_sets, "node_sets").read_text())
        except (OSError, ValueError):
            node_sets = {}
    if isinstance(resolved.get("node_sets_file"), str):
        resolve(resolved["node_sets_file"], "node_sets_file")
    return ModelConfig(
        path=path,
        nodes=_paths(networks.get("nodes"), "nodes", NodeFiles, ("nodes_file", "node_types_file"), path, resolve),
        edges=_paths(networks.get("edges"), "edges", EdgeFiles, ("edges_file", "edge_types_file"), path, resolve),
        gap_juncs=_gap_junction_files(networks.get("gap_juncs"), path, resolve),
        components=components,
        run=settings,
        node_sets=node_sets if isinstance(node_sets, dict) else {},
        raw=resolved,
        paths=tuple(resolve.paths),
    )
