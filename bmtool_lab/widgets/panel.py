"""The dashboards the left "BMTool Lab" panel opens (``lab.open_dashboard``): one controller
per (config, kind) in this kernel, shown in the right sidebar or a main-area tab.

The kinds are the panel names of :data:`bmtool_lab.tuning.kinds.KINDS` ("tuner", "profiler",
"connectivity", "network"); the connectivity dashboard's "Open synapse tuner" opens one here too.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..tuning.kinds import panel_kind
from .host import SidebarHost, open_in_main, open_sidebar
from .registry import dashboard_widget

__all__ = ["open_dashboard", "open_controllers"]

# One controller per (config, kind) in this kernel: opening the same dashboard again reuses it.
_CONTROLLERS: dict[tuple[str, str], Any] = {}


def _controller(kind: str, config: str) -> Any:
    key = (str(Path(config).expanduser().resolve()), kind)
    ctl = _CONTROLLERS.get(key)
    if ctl is None:
        module, _, name = panel_kind(kind).controller.partition(":")
        ctl = getattr(importlib.import_module(module), name)(config)
        if kind == "network":
            # "with unsaved tuning" takes the synapse tuners open on the same model in this kernel
            dashboard_widget(ctl, tuners=lambda: open_controllers(key[0]))
        _CONTROLLERS[key] = ctl
    return ctl


def open_controllers(config: str) -> list[Any]:
    """The synapse tuners and cell profilers this kernel's dashboards opened on ``config`` (a
    resolved path): a network run takes their unsaved parameters and what-ifs."""
    return [ctl for (path, kind), ctl in _CONTROLLERS.items() if kind in ("tuner", "profiler") and path == config]


def open_dashboard(kind: str, config: str, item: str | None = None, area: str = "right") -> SidebarHost:
    """Open the tuner (``item`` = connection), profiler (``item`` = cell type), connectivity
    explorer or network run of ``config`` in the right sidebar or a main-area tab; returns the host."""
    title_kind = panel_kind(kind)
    ctl = _controller(kind, config)
    if item:
        ctl.select(item)
    title = f"{title_kind.title}: {Path(config).parent.name or Path(config).name}"
    opener = open_in_main if area == "main" else open_sidebar
    return opener(ctl, title=title, key=f"{kind}:{area}:{Path(config).expanduser().resolve()}")
