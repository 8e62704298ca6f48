"""One check of a model's config, shared by every dashboard, the sidebar panel and the CLI.

A problem found here is said the same way everywhere (a missing gap-junction file, a node set
that bmtk would silently leave empty, a dynamics file or synapse mechanism that does not exist),
so a model that the sidebar flags is never silently accepted by the tuner, profiler, explorer or
``bmtool-lab`` commands. Pure reads: no NEURON, nothing compiled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import ModelConfig, load_config
from .mod_files import mechanism_names
from .python_hooks import find_model_hooks, model_hook_folders

__all__ = ["check_model", "node_set_problems", "MAX_LISTED"]

#: missing dynamics files listed one per line before the rest are counted
MAX_LISTED = 10

# The pandas-3 trap (field notes): bmtk 1.2 compares node-set filters on string columns of a
# node-types CSV in a way that selects nothing when pandas reads them as the new str dtype.
_PANDAS3_NODE_SET_NOTE = (
    "node_sets {name!r} filters on {keys}: with pandas {version} bmtk 1.2 silently selects no cells "
    "for filters on string columns of a node-types CSV; use population/node_id node sets, or pandas < 3"
)
# synapse templates BioNet builds from NEURON's own mechanisms (no mod file needed)
_BUILTIN_SYNAPSES = {"", "gap junction", "exp2syn", "Exp2Syn", "ExpSyn", "expsyn"}


def node_set_problems(node_sets: dict[str, Any]) -> list[str]:
    """Node sets that bmtk 1.2 under pandas ≥ 3 would resolve to no cells, without an error."""
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


def _python_synapse_models(cfg: ModelConfig) -> set[str]:
    """Synapse models the model's own Python files register (bmtk's ``synapses.py`` pattern,
    ``add_synapse_model``): not a missing mod file."""
    return {name for hook in find_model_hooks(model_hook_folders(cfg)) for name, _ in hook.synapse_models}


def check_model(config: ModelConfig | str | os.PathLike) -> list[str]:
    """Every problem of a model that would make a run fail or silently differ from BioNet, as
    readable lines (empty: none found). Never raises for a readable config."""
    cfg = config if isinstance(config, ModelConfig) else load_config(config)
    problems = list(cfg.missing_files())
    problems.extend(node_set_problems(cfg.node_sets))
    # edge types only (the CSVs): a check must stay instant on networks of millions of edges
    templates: set[str] = set()
    missing_dyn: dict[str, list[str]] = {}  # file -> the edge types naming it
    try:
        from .sonata import SonataNetwork  # local: heavy: pandas, h5py (sonata)

        models_dir = cfg.synaptic_models_dir
        for edges in SonataNetwork(cfg).edge_populations():
            types = edges.edge_types
            for tid, row in types.iterrows():
                dyn = _text(row.get("dynamics_params"))
                template = _text(row.get("model_template"))
                if template:
                    templates.add(template)
                if dyn and template != "gap_junction" and (models_dir is None or not (Path(models_dir) / dyn).exists()):
                    missing_dyn.setdefault(dyn, []).append(f"{edges.name}:{tid}")
    except Exception as err:  # a broken edges file is itself the problem to report
        return [*problems, f"edges: {err}"]
    # one line per missing file, at most MAX_LISTED of them (a generated network can name thousands)
    for dyn, users in list(missing_dyn.items())[:MAX_LISTED]:
        shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        problems.append(f"dynamics file {dyn} (edge types {shown}) not found in synaptic_models_dir "
                        f"({models_dir})")
    if len(missing_dyn) > MAX_LISTED:
        problems.append(f"... and {len(missing_dyn) - MAX_LISTED} more dynamics files not found in "
                        f"synaptic_models_dir ({models_dir})")
    if cfg.mechanisms_dir is not None and Path(cfg.mechanisms_dir).exists():
        try:
            defined = set(mechanism_names(cfg.mechanisms_dir))
        except Exception as err:
            problems.append(f"mechanisms: {err}")
        else:
            needed = templates - _BUILTIN_SYNAPSES - {"gap_junction"}
            for name in sorted(needed - defined - _python_synapse_models(cfg)):
                problems.append(f"synapse model {name} is not defined by any mod file in {cfg.mechanisms_dir}")
    return problems


def _text(value: Any) -> str:
    """A CSV cell as text ('' for empty, NaN, NULL as bmtk writes them)."""
    if value is None:
        return ""
    text = str(value).strip()
    return "" if text.lower() in ("", "nan", "none", "null") else text
