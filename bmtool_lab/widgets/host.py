"""Show kernel-side dashboards in JupyterLab's shell: the right sidebar or a main-area tab.

``SidebarHost`` is a widget model whose front end (the bmtool-lab labextension) builds its
children's views as soon as the model is created and adds them to the shell, so no notebook
output area is needed. One controller can be shown inline and in the sidebar at once (one
model, many views), and ipywidgets 8 restores the sidebar after a page reload.
"""

from __future__ import annotations

from typing import Any, Literal

import ipywidgets as widgets
import traitlets

from .._version import __version__

MODULE_NAME = "bmtool-lab"
MODULE_VERSION = __version__

# One host per (kernel, target): opening the same dashboard again reuses its host.
_HOSTS: dict[str, SidebarHost] = {}


class SidebarHost(widgets.DOMWidget):
    """A panel in JupyterLab's right sidebar (``area="right"``) or main area (``"main"``)."""

    _model_name = traitlets.Unicode("SidebarHostModel").tag(sync=True)
    _model_module = traitlets.Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = traitlets.Unicode(MODULE_VERSION).tag(sync=True)
    _view_name = traitlets.Unicode("SidebarHostView").tag(sync=True)
    _view_module = traitlets.Unicode(MODULE_NAME).tag(sync=True)
    _view_module_version = traitlets.Unicode(MODULE_VERSION).tag(sync=True)

    children = traitlets.List(traitlets.Instance(widgets.Widget)).tag(sync=True, **widgets.widget_serialization)
    title = traitlets.Unicode("BMTool Lab").tag(sync=True)
    area = traitlets.Enum(["right", "main"], default_value="right").tag(sync=True)
    host_id = traitlets.Unicode("").tag(sync=True)


def _as_widget(dashboard: Any) -> widgets.Widget:
    """A controller's dashboard widget (``.widget`` / ``.dashboard()``), or the widget itself."""
    if isinstance(dashboard, widgets.Widget):
        return dashboard
    for attr in ("widget", "dashboard"):
        value = getattr(dashboard, attr, None)
        value = value() if callable(value) else value
        if isinstance(value, widgets.Widget):
            return value
    raise TypeError(f"{type(dashboard).__name__} has no dashboard widget to show")


def _open(dashboard: Any, title: str | None, area: Literal["right", "main"], key: str | None) -> SidebarHost:
    child = _as_widget(dashboard)
    title = title or getattr(dashboard, "title", None) or type(dashboard).__name__
    key = key or f"{area}:{title}"
    host = _HOSTS.get(key)
    if host is not None and host.comm is not None:
        host.children = [child]
        host.title = title
        return host
    host = SidebarHost(children=[child], title=title, area=area, host_id=key.replace(":", "-").replace(" ", "_"))
    _HOSTS[key] = host
    return host


def open_sidebar(dashboard: Any, title: str | None = None, key: str | None = None) -> SidebarHost:
    """Show ``dashboard`` (a controller or a widget) in JupyterLab's right sidebar."""
    return _open(dashboard, title, "right", key)


def open_in_main(dashboard: Any, title: str | None = None, key: str | None = None) -> SidebarHost:
    """Show ``dashboard`` (a controller or a widget) as a main-area tab."""
    return _open(dashboard, title, "main", key)
