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

# The pandas-3 trap (field notes): bmtk 1.2 compares node-set filters on string columns of a
# node-types CSV in a way that selects nothing when pandas reads them as the new str dtype.
_PANDAS3_NODE_SET_NOTE = (
    "node_sets {name!r} filters on {keys}: with pandas {version} bmtk 1.2 silently selects no cells "
    "for filters on string columns of a node-types CSV; use population/node_id node sets, or pandas < 3"
)


def _node_set_problems(node_sets: dict[str, Any]) -> list[str]:
    import pandas as pd

    if int(pd.__version__.split(".")[0]) < 3:
        return []
    out = []
    for name, spec in node_sets.items():
        if isinstance(spec, dict):
            keys = sorted(k for k in spec if k not in ("population", "node_id", "node_ids"))
            if keys:
                out.append(_PANDAS3_NODE_SET_NOTE.format(name=name, keys=keys, version=pd.__version__))
    return out


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """Populations with counts per group, connection types, cell types and problems found."""
    from .model.config import ConfigError, load_config

    info: dict[str, Any] = {"config": str(path), "populations": [], "connections": [], "cells": [], "problems": []}
    try:
        cfg = load_config(path)
    except ConfigError as err:
        info["error"] = str(err)
        return info
    info["config"] = str(cfg.path)
    problems = info["problems"]
    problems.extend(cfg.missing_files())
    problems.extend(_node_set_problems(cfg.node_sets))
    try:
        import numpy as np

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
        from .model.connection_types import list_connection_types

        for ct in list_connection_types(cfg):
            info["connections"].append({
                "name": ct.name, "edge_population": ct.edge_population, "edge_type_id": ct.edge_type_id,
                "edges": ct.n_edges, "synapses": ct.n_synapses,
                "synapse": "gap junction" if ct.is_gap_junction else (ct.model_template or ""),
                "source": ", ".join(map(str, ct.source_groups)), "target": ", ".join(map(str, ct.target_groups)),
            })
            if ct.dynamics_params and (ct.dynamics_path is None or not Path(ct.dynamics_path).exists()):
                problems.append(f"{ct.name}: dynamics file {ct.dynamics_params} not found in synaptic_models_dir")
    except Exception as err:
        problems.append(f"edges: {err}")
    try:
        from .model.cell_types import list_cell_types

        for ct in list_cell_types(cfg):
            info["cells"].append({"name": ct.name, "population": ct.population, "template": ct.model_template or "",
                                  "model_type": ct.model_type, "count": ct.n_nodes})
    except Exception as err:
        problems.append(f"cell types: {err}")
    try:
        from .sim.mechanisms import mechanism_names

        if cfg.mechanisms_dir is not None:
            defined = mechanism_names(cfg.mechanisms_dir)
            needed = {c["synapse"] for c in info["connections"]} - {"", "gap junction", "exp2syn", "Exp2Syn"}
            for name in sorted(needed - set(defined)):
                problems.append(f"synapse model {name} is not defined by any mod file in {cfg.mechanisms_dir}")
    except Exception as err:
        problems.append(f"mechanisms: {err}")
    return info


class JsonReply:
    """A value whose repr is its JSON text, so ``user_expressions`` hands the panel plain JSON."""

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value)

    def __repr__(self) -> str:
        return self.text


def describe_json(path: str) -> JsonReply:
    return JsonReply(describe(path))


def example_config_json(folder: str = "example_network") -> JsonReply:
    """Build (or reuse) the example network under the kernel's working folder."""
    from .examples import build_example

    return JsonReply(str(build_example(folder)))


_DEMOS: dict[str, Any] = {}


def open_demo(path: str, cell: str = "Exc") -> Any:
    """Open the live trace demo of ``cell`` in the right sidebar (one per config and cell)."""
    from .demo import TraceDemo
    from .widgets.host import open_sidebar

    key = f"{Path(path).resolve()}::{cell}"
    demo = _DEMOS.get(key)
    if demo is None:
        demo = _DEMOS[key] = TraceDemo(path, cell=cell)
    return open_sidebar(demo, title=f"Trace demo: {cell}", key=f"demo:{key}")
