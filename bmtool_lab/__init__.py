"""bmtool_lab: live dashboards for tuning NEURON / BMTK network models.

Public names are imported lazily so ``import bmtool_lab`` stays fast (no NEURON, pandas,
bmtk or scipy.optimize at import time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY = {
    "SynapseTuner": "bmtool_lab.tuning.synapse",
    "SynapseOptimizer": "bmtool_lab.tuning.optimizer",
    "GapJunctionTuner": "bmtool_lab.tuning.gap_junction",
    "CellProfiler": "bmtool_lab.tuning.profiler",
    "ConnectivityExplorer": "bmtool_lab.tuning.connectivity",
    "NetworkSimulation": "bmtool_lab.tuning.network_run",
    "open_sidebar": "bmtool_lab.widgets.host",
    "open_in_main": "bmtool_lab.widgets.host",
    "build_example": "bmtool_lab.examples",
    "load_config": "bmtool_lab.model.config",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from .examples import build_example  # noqa: F401  (re-exported lazily)
    from .model.config import load_config  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bmtool_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _register_dashboards() -> None:
    # In a notebook (IPython already imported), a controller ending a cell shows its dashboard.
    # Headless, no widget module is imported: the first .widget loads the registry
    # (bmtool_lab.tuning.kinds.DASHBOARD_REGISTRY).
    import sys

    if "IPython" in sys.modules:
        # local: only in a notebook (IPython loaded); headless imports load no widget module
        from .widgets.registry import register_ipython_display

        register_ipython_display()


_register_dashboards()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "bmtool-lab"}]
