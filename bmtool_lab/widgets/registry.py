"""Which dashboard shows which controller: builds them from the kinds table.

Controllers (``bmtool_lab.tuning``) know nothing of widgets. The table of dashboard kinds is
:data:`bmtool_lab.tuning.kinds.KINDS` (the controller class and the dashboard factory, named by
module so nothing is imported until a dashboard is wanted); this module builds a controller's
dashboard from it and registers itself as the builder the controllers' ``.widget`` and
``_repr_mimebundle_`` use. ``import bmtool_lab`` imports it, so the seam is always in place.
Adding a dashboard kind is one entry in ``KINDS``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..tuning.kinds import KINDS, kind_of, register_dashboard_builder, view_of

#: controller class (module, name) -> dashboard factory (module, name); factory(controller) -> widget
DASHBOARDS: dict[tuple[str, str], tuple[str, str]] = {
    tuple(k.controller.split(":")): tuple(k.dashboard.split(":")) for k in KINDS  # type: ignore[misc]
}


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def dashboard_widget(controller: Any, **options: Any) -> Any | None:
    """The controller's dashboard (built once per controller; options build a new one), or None
    when its class has no dashboard kind."""
    kind = kind_of(controller)
    if kind is None:
        return None
    dashboard = getattr(controller, kind.cache, None)
    if dashboard is None or options:
        dashboard = _load(kind.dashboard)(controller, **options)
        setattr(controller, kind.cache, dashboard)
    return dashboard


def dashboard_view(controller: Any) -> Any | None:
    """The widget a controller's dashboard shows (None when it has no dashboard kind)."""
    return view_of(controller) if kind_of(controller) is not None else None


register_dashboard_builder(dashboard_widget)


def _mimebundle(controller: Any) -> Any:
    own = getattr(controller, "_repr_mimebundle_", None)  # a controller's own display wins
    if own is not None:
        return own()
    widget = dashboard_view(controller)
    return widget._repr_mimebundle_() if widget is not None else None


def register_ipython_display(ip: Any = None) -> None:
    """Show each registered controller as its dashboard when it ends a notebook cell (for
    controllers without ``_repr_mimebundle_`` of their own)."""
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
