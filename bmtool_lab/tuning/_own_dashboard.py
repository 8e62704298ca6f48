"""A controller that builds its own dashboard (the PointNet ones): ``dashboard``, ``widget`` and
display in a notebook cell, from a factory named by module so the widget libraries load only
when a dashboard is wanted."""

from __future__ import annotations

import importlib
from typing import Any


class OwnDashboard:
    """Mixin: ``_dashboard_factory = "module:Name"``, called with the controller, built once."""

    _dashboard_factory = ""

    @property
    def dashboard(self) -> Any:
        """The dashboard object (its ``box`` is the widget), built on first use."""
        built = self.__dict__.get("_own_dashboard")
        if built is None:
            module, _, name = self._dashboard_factory.partition(":")
            built = getattr(importlib.import_module(module), name)(self)
            self.__dict__["_own_dashboard"] = built
        return built

    @property
    def widget(self) -> Any:
        """The dashboard's widget (ipywidgets)."""
        return self.dashboard.box

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
