"""Which dashboard shows which controller: the one place that knows it.

Controllers (``bmtool_lab.tuning``) know nothing of widgets. A controller shown in a notebook
cell, the sidebar or a main-area tab finds its dashboard here, by the controller's class (named
by module and class, so nothing is imported until a dashboard is wanted). Adding a dashboard
kind is one entry in :data:`DASHBOARDS`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: controller class (module, name) -> dashboard factory (module, name); factory(controller) -> widget
DASHBOARDS: dict[tuple[str, str], tuple[str, str]] = {
    ("bmtool_lab.tuning.network_run", "NetworkSimulation"): ("bmtool_lab.widgets.network_run", "NetworkRunDashboard"),
}

_ATTR = "_bmtool_lab_dashboard"


def dashboard_widget(controller: Any, **options: Any) -> Any | None:
    """The controller's dashboard (built once per controller), or None when it has no entry."""
    for klass in type(controller).__mro__:
        entry = DASHBOARDS.get((klass.__module__, klass.__qualname__))
        if entry is None:
            continue
        widget = getattr(controller, _ATTR, None)
        if widget is None:
            factory = getattr(importlib.import_module(entry[0]), entry[1])
            widget = factory(controller, **options)
            setattr(controller, _ATTR, widget)
        return widget
    return None


def _mimebundle(controller: Any) -> Any:
    widget = dashboard_widget(controller)
    return widget._repr_mimebundle_() if widget is not None else None


def register_ipython_display(ip: Any = None) -> None:
    """Show each registered controller as its dashboard when it ends a notebook cell."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        ip = get_ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.mimebundle_formatter
    for module, name in DASHBOARDS:
        formatter.for_type_by_name(module, name, _mimebundle)
