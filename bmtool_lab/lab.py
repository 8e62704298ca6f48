"""Kernel-side entry points of the JupyterLab panel (js/lab/browser.js).

The panel runs these silently in the active notebook's kernel and reads back a JSON string
(``user_expressions``), so every number it shows comes from the same code as the dashboards.
Functions here never raise into the panel: problems come back as ``error`` / ``problems``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .examples import build_example
from .model.check import check_model
from .model.config import ConfigError, load_config
from .tuning.session import code_for

__all__ = ["describe", "describe_json", "example_config_json", "find_configs", "find_configs_json",
           "resolve_config", "open_dashboard", "code_for", "code_for_host_json", "open_demo"]

#: names of bmtool_lab.widgets.panel served from here, loaded on first use (describing a model
#: never imports ipywidgets)
_PANEL_NAMES = ("_controller", "_CONTROLLERS")


def __getattr__(name: str) -> Any:
    if name in _PANEL_NAMES:
        from .widgets import panel  # local: heavy: ipywidgets (widgets.panel)

        return getattr(panel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def describe(path: str | os.PathLike, kernel_dir: str = "") -> dict[str, Any]:
    """Populations with counts per group, connection types, cell types and problems found.

    ``path`` is a config file or a model folder, absolute, relative to the server root or to the
    kernel's folder (see :func:`resolve_config`); ``config`` in the reply is the file loaded
    (absolute), ``shown`` the same relative to the server root, ``note`` how a folder was resolved.
    """
    info: dict[str, Any] = {"config": str(path), "shown": str(path), "note": "", "populations": [],
                            "connections": [], "cells": [], "problems": []}
    try:
        file, info["note"] = resolve_config(path, kernel_dir)
        cfg = load_config(file)
    except ConfigError as err:
        info["error"] = str(err)
        return info
    info["config"] = str(cfg.path)
    info["shown"] = shown_path(cfg.path, server_root(kernel_dir))
    problems = info["problems"]
    problems.extend(check_model(cfg))  # the same problems every dashboard and the CLI report
    try:
        import numpy as np

        # local: heavy: pandas, h5py (model.connection_types, sonata)
        from .model.connection_types import group_attribute_for
        from .model.sonata import SonataNetwork

        net = SonataNetwork(cfg)
        for name in net.node_population_names:
            pop = net.node_population(name)
            codes, labels = pop.labels(group_attribute_for(pop))
            # code -1: nodes without a value for the attribute (counted as "(none)")
            counts = np.bincount(codes[codes >= 0], minlength=len(labels))
            for label, count in zip(labels, counts, strict=True):
                info["populations"].append({"population": name, "group": str(label), "count": int(count)})
            if (codes < 0).any():
                info["populations"].append({"population": name, "group": "(none)", "count": int((codes < 0).sum())})
    except Exception as err:  # the panel must stay usable on a broken network
        problems.append(f"nodes: {err}")
    try:
        from .model.connection_types import list_connection_types  # local: heavy: pandas, h5py

        for ct in list_connection_types(cfg):
            info["connections"].append({
                "name": ct.name, "edge_population": ct.edge_population, "edge_type_id": ct.edge_type_id,
                "edges": ct.n_edges, "synapses": ct.n_synapses,
                "synapse": "gap junction" if ct.is_gap_junction else (ct.model_template or ""),
                "source": ", ".join(map(str, ct.source_groups)), "target": ", ".join(map(str, ct.target_groups)),
            })
    except Exception as err:
        problems.append(f"edges: {err}")
    try:
        from .model.cell_types import list_cell_types  # local: heavy: pandas, h5py

        for ct in list_cell_types(cfg):
            info["cells"].append({"name": ct.name, "population": ct.population, "template": ct.model_template or "",
                                  "model_type": ct.model_type, "count": ct.n_nodes})
    except Exception as err:
        problems.append(f"cell types: {err}")
    info["problems"] = list(dict.fromkeys(problems))  # a broken file is reported once
    return info


class JsonReply:
    """A value whose repr is its JSON text, so ``user_expressions`` hands the panel plain JSON."""

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value)

    def __repr__(self) -> str:
        return self.text


def describe_json(path: str, kernel_dir: str = "") -> JsonReply:
    return JsonReply(describe(path, kernel_dir))


def example_config_json(folder: str = "example_network") -> JsonReply:
    """Build (or reuse) the example network under the kernel's working folder."""
    return JsonReply(str(build_example(folder)))


_DEMOS: dict[str, Any] = {}

# Names of the model's files that are BMTK configs (simulation or circuit).
_CONFIG_GLOB = ("*config*.json",)
# The config a model folder stands for, best first: the simulation config points at the circuit
# and carries the run settings; bmtk's builders also write config.json / config.simulation.json.
_FOLDER_CONFIGS = ("simulation_config*.json", "config*.json", "circuit_config*.json")


def _is_bmtk_config(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and any(k in data for k in ("networks", "network", "circuit_config"))


def server_root(kernel_dir: str = "") -> Path:
    """The Jupyter server's root folder, from the kernel's working folder and the notebook's
    folder relative to the root (``kernel_dir``, as the panel knows it); the kernel's folder
    when it does not end with ``kernel_dir`` (a kernel started elsewhere)."""
    cwd = Path.cwd().resolve()
    parts = tuple(p for p in kernel_dir.split("/") if p)
    if parts and len(cwd.parts) > len(parts) and cwd.parts[-len(parts):] == parts:
        return Path(*cwd.parts[: -len(parts)])
    return cwd


def shown_path(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to the server root (what the file browser shows), else absolute."""
    p = Path(path).resolve()
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p)


def config_in_folder(folder: Path) -> tuple[Path, str]:
    """The BMTK config a model folder stands for (first of :data:`_FOLDER_CONFIGS` directly in it,
    else the nearest config below it) and a note naming the others found."""
    found = [p for pattern in _FOLDER_CONFIGS for p in sorted(folder.glob(pattern)) if _is_bmtk_config(p)]
    found = list(dict.fromkeys(found))
    if not found:
        found = [folder / rel for rel in find_configs(str(folder))]
    if not found:
        raise ConfigError(f"{folder} is a folder with no BMTK config in it (looked for "
                          f"{', '.join(_FOLDER_CONFIGS)} there and in its subfolders)")
    others = [str(p.relative_to(folder)) for p in found[1:]]
    note = f"{found[0].relative_to(folder)} from the folder {folder.name}/"
    return found[0], note + (f"; also there: {', '.join(others)}" if others else "")


def resolve_config(path: str | os.PathLike, kernel_dir: str = "") -> tuple[Path, str]:
    """The config file ``path`` means, and a note when it was a folder.

    A relative path is tried against the server root first (what the panel and file browser
    show), then against the kernel's folder (what code in the notebook uses). A folder stands
    for the config inside it (:func:`config_in_folder`).
    """
    given = Path(path).expanduser()
    tries = [given] if given.is_absolute() else list(dict.fromkeys(
        [(server_root(kernel_dir) / given).resolve(), given.resolve()]))
    for p in tries:
        if p.is_dir():
            return config_in_folder(p)
        if p.is_file():
            return p, ""
    where = " or ".join(str(p) for p in tries)
    raise ConfigError(f"{path}: no such file or folder (looked for {where})")


def find_configs(folder: str = ".", max_depth: int = 3) -> list[str]:
    """BMTK configs (``*config*.json`` holding networks) under ``folder``, nearest first, as
    paths relative to ``folder``."""
    root = Path(folder).expanduser().resolve()
    found: list[Path] = []
    for depth in range(max_depth + 1):
        pattern = "/".join(["*"] * depth + [_CONFIG_GLOB[0]])
        for p in sorted(root.glob(pattern)):
            if ".ipynb_checkpoints" in p.parts or any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            if _is_bmtk_config(p):
                found.append(p)
    # simulation configs first: they point at the circuit and carry run settings
    found.sort(key=lambda p: (len(p.relative_to(root).parts), "simulation" not in p.name, str(p)))
    return [str(p.relative_to(root)) for p in found]


def find_configs_json(folder: str = "", kernel_dir: str = "") -> JsonReply:
    """Configs under ``folder`` (relative to the server root, as the file browser gives it), as
    paths relative to the server root: the panel shows them and can load them as they are."""
    root = server_root(kernel_dir)
    base = (root / folder).resolve()
    return JsonReply([shown_path(base / rel, root) for rel in find_configs(str(base))])


def open_dashboard(kind: str, config: str, item: str | None = None, area: str = "right") -> Any:
    """:func:`bmtool_lab.widgets.panel.open_dashboard`: the panel's tuner, profiler, connectivity
    explorer or network run of ``config`` in the right sidebar or a main-area tab."""
    from .widgets.panel import open_dashboard  # local: heavy: ipywidgets (widgets.panel)

    return open_dashboard(kind, config, item, area)


def code_for_host_json(host_key: str) -> JsonReply:
    from .widgets.host import host_controller  # local: heavy: ipywidgets (widgets.host)

    ctl = host_controller(host_key)
    return JsonReply(code_for(ctl) if ctl is not None else "")


def open_demo(path: str, cell: str = "Exc") -> Any:
    """Open the live trace demo of ``cell`` in the right sidebar (one per config and cell)."""
    from .demo import TraceDemo  # local: heavy: numpy (demo)
    from .widgets.host import open_sidebar  # local: heavy: ipywidgets (widgets.host)

    key = f"{Path(path).resolve()}::{cell}"
    demo = _DEMOS.get(key)
    if demo is None:
        demo = _DEMOS[key] = TraceDemo(path, cell=cell)
    return open_sidebar(demo, title=f"Trace demo: {cell}", key=f"demo:{key}")
