"""The dashboard kinds: one entry per controller that shows a dashboard, and the display seam.

Controllers know nothing of widgets. Each kind here names, as text (so nothing is imported
until a dashboard is wanted), the controller class, the dashboard factory of the widgets layer,
and what the left panel and "Copy as code" call it. The widgets layer
(:data:`DASHBOARD_REGISTRY`) registers the function that builds a controller's dashboard from
this table when it is imported: by ``import bmtool_lab`` in a notebook, else on the first
dashboard asked for (loaded by name, like the factories; headless use imports no widget module).
A controller shows itself through :func:`dashboard_of` / :class:`ShowsDashboard`, so ``tuner``
ending a cell shows its dashboard.

Adding a dashboard kind is one :class:`DashboardKind` in :data:`KINDS` (docs/design.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["DashboardKind", "KINDS", "ShowsDashboard", "dashboard_of", "kind_of", "panel_kind",
           "public_name", "register_dashboard_builder", "variant_for", "view_of", "VARIANTS"]


class DashboardKind(NamedTuple):
    #: the controller class, "module:Class" (its subclasses show the same dashboard)
    controller: str
    #: the dashboard factory of the widgets layer, "module:name"; factory(controller, **options)
    dashboard: str
    #: attribute of the built dashboard that is the widget shown ("": the dashboard itself)
    view: str = ""
    #: attribute of the controller that keeps its built dashboard
    cache: str = "_dashboard"
    #: the name the left panel opens it by (``lab.open_dashboard(kind, ...)``; "" when it does not)
    panel: str = ""
    #: the panel's tab title ("Synapse tuner: <model folder>")
    title: str = ""
    #: the variable a Python snippet ("Copy as code") names the controller
    variable: str = "dash"

    @property
    def controller_name(self) -> str:
        return self.controller.partition(":")[2]


KINDS: tuple[DashboardKind, ...] = (
    DashboardKind("bmtool_lab.tuning.synapse:SynapseTuner", "bmtool_lab.widgets.synapse:SynapseDashboard",
                  view="box", cache="_widget", panel="tuner", title="Synapse tuner", variable="tuner"),
    DashboardKind("bmtool_lab.tuning.optimizer:SynapseOptimizer", "bmtool_lab.widgets.optimizer:fit_panel",
                  view="box", cache="_widget", title="Synapse fit", variable="opt"),
    DashboardKind("bmtool_lab.tuning.profiler:CellProfiler", "bmtool_lab.widgets.profiler:ProfilerDashboard",
                  view="widget", panel="profiler", title="Cell profiler", variable="prof"),
    DashboardKind("bmtool_lab.tuning.connectivity:ConnectivityExplorer",
                  "bmtool_lab.widgets.connectivity:ConnectivityDashboard",
                  panel="connectivity", title="Connectivity", variable="conn"),
    DashboardKind("bmtool_lab.tuning.network_run:NetworkSimulation", "bmtool_lab.widgets.network_run:NetworkRunDashboard",
                  cache="_bmtool_lab_dashboard", panel="network", title="Network run", variable="sim"),
    # PointNet (NEST) variants: the panel opens them through their base kind (VARIANTS below)
    DashboardKind("bmtool_lab.tuning.pointnet_synapse:PointSynapseTuner",
                  "bmtool_lab.widgets.pointnet_synapse:PointSynapseDashboard",
                  view="box", cache="_widget", title="Synapse tuner", variable="tuner"),
    DashboardKind("bmtool_lab.tuning.pointnet_profiler:PointCellProfiler",
                  "bmtool_lab.widgets.pointnet_profiler:PointProfilerDashboard",
                  view="box", title="Cell profiler", variable="prof"),
)


#: Controllers whose model may call for another class: base "module:Class" -> (predicate
#: "module:function" of the config, variant "module:Class"). ``SynapseTuner(pointnet_config)``
#: is a PointSynapseTuner. The variants subclass or stand in for the base, so the base names
#: them here (loaded by name) instead of importing the module that imports it.
VARIANTS: dict[str, tuple[str, str]] = {
    "bmtool_lab.tuning.synapse:SynapseTuner":
        ("bmtool_lab.model.pointnet:is_pointnet_config", "bmtool_lab.tuning.pointnet_synapse:PointSynapseTuner"),
    "bmtool_lab.tuning.profiler:CellProfiler":
        ("bmtool_lab.model.pointnet:is_pointnet_config", "bmtool_lab.tuning.pointnet_profiler:PointCellProfiler"),
    "bmtool_lab.tuning.network_run:NetworkSimulation":
        ("bmtool_lab.model.pointnet:is_pointnet_config", "bmtool_lab.tuning.pointnet_network:PointNetworkSimulation"),
}


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def variant_for(base: type, config: Any) -> type | None:
    """The class a ``base(config, ...)`` call should make instead (None: ``base`` itself)."""
    entry = VARIANTS.get(f"{base.__module__}:{base.__qualname__}")
    if entry is None or config is None or not _load(entry[0])(config):
        return None
    return _load(entry[1])


def public_name(klass: type) -> str:
    """The name users call for a controller class: a variant's base ("SynapseTuner" for a
    PointSynapseTuner, which ``SynapseTuner(pointnet_config)`` returns), else its own."""
    ref = f"{klass.__module__}:{klass.__qualname__}"
    for base, (_, variant) in VARIANTS.items():
        if variant == ref:
            return base.partition(":")[2]
    return klass.__name__


def kind_of(controller_or_class: Any) -> DashboardKind | None:
    """The kind of a controller (or controller class): its class's entry, else its nearest base's."""
    klass = controller_or_class if isinstance(controller_or_class, type) else type(controller_or_class)
    by_class = {k.controller: k for k in KINDS}
    for base in klass.__mro__:
        kind = by_class.get(f"{base.__module__}:{base.__qualname__}")
        if kind is not None:
            return kind
    return None


def panel_kind(name: str) -> DashboardKind:
    """The kind the left panel opens as ``name`` ("tuner", "profiler", ...)."""
    for kind in KINDS:
        if kind.panel and kind.panel == name:
            return kind
    names = ", ".join(k.panel for k in KINDS if k.panel)
    raise ValueError(f"unknown dashboard {name!r} ({names})")


#: the widgets-layer module that registers the dashboard builder when imported
DASHBOARD_REGISTRY = "bmtool_lab.widgets.registry"

_builder: Callable[..., Any] | None = None


def register_dashboard_builder(builder: Callable[..., Any]) -> None:
    """Called by the widgets layer: ``builder(controller, **options)`` -> its dashboard or None."""
    global _builder
    _builder = builder


def dashboard_of(controller: Any, **options: Any) -> Any:
    """The controller's dashboard object (built once; options rebuild it), through the registered builder."""
    if _builder is None:
        importlib.import_module(DASHBOARD_REGISTRY)  # registers itself
    if _builder is None:
        raise RuntimeError(f"no dashboard builder registered (importing {DASHBOARD_REGISTRY} did not)")
    dashboard = _builder(controller, **options)
    if dashboard is None:
        raise TypeError(f"{type(controller).__name__} has no dashboard")
    return dashboard


def view_of(controller: Any) -> Any:
    """The widget a controller's dashboard shows (the dashboard itself or its ``view`` attribute)."""
    dashboard = dashboard_of(controller)
    kind = kind_of(controller)
    return getattr(dashboard, kind.view, dashboard) if kind is not None and kind.view else dashboard


class ShowsDashboard:
    """A controller that shows its dashboard: ``.widget`` and display in a notebook cell."""

    @property
    def widget(self) -> Any:
        """The dashboard (ipywidgets), built on first use; the widget libraries load only then."""
        return view_of(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
