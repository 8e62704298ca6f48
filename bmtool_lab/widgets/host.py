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
from ..tuning.session import code_for
from .registry import dashboard_view

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_front_end_msg)

    def _on_front_end_msg(self, _widget: Any, content: dict, _buffers: list) -> None:
        # "Copy as code": the front end asks, the kernel answers with the controller's current state.
        if content.get("event") == "copy_code":
            controller = _CONTROLLERS.get(self.host_id)
            try:
                code = code_for(controller) if controller is not None else ""
                self.send({"event": "code", "code": code})
            except Exception as err:  # noqa: BLE001 - say it in the panel instead of failing silently
                self.send({"event": "code", "code": "", "error": f"{type(err).__name__}: {err}"})


def _as_widget(dashboard: Any) -> widgets.Widget:
    """A controller's dashboard widget (``.widget`` / ``.dashboard()``), or the widget itself."""
    if isinstance(dashboard, widgets.Widget):
        return dashboard
    registered = dashboard_view(dashboard)
    if registered is not None:
        return registered
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
        _CONTROLLERS[host.host_id] = dashboard
        # the panel may have been closed or hidden behind another one: bring it (back) to the front
        host.send({"event": "show"})
        return host
    host_id = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in key)
    host = SidebarHost(children=[child], title=title, area=area, host_id=host_id)
    _HOSTS[key] = host
    _CONTROLLERS[host_id] = dashboard
    return host


# Controller shown by each host (for "Copy as code"), by host_id.
_CONTROLLERS: dict[str, Any] = {}


def host_controller(host_id: str) -> Any:
    """The controller a host shows (None when the host is unknown to this kernel)."""
    return _CONTROLLERS.get(host_id)


def open_sidebar(dashboard: Any, title: str | None = None, key: str | None = None) -> SidebarHost:
    """Show ``dashboard`` (a controller or a widget) in JupyterLab's right sidebar."""
    return _open(dashboard, title, "right", key)


def open_in_main(dashboard: Any, title: str | None = None, key: str | None = None) -> SidebarHost:
    """Show ``dashboard`` (a controller or a widget) as a main-area tab."""
    return _open(dashboard, title, "main", key)
