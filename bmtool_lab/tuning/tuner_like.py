"""What a dashboard may use of a synapse tuner (:class:`TunerLike`): the members the synapse
dashboard (``bmtool_lab.widgets.synapse``) and the Fit panel (``bmtool_lab.widgets.optimizer``)
read and call, so a widget is written against this and not against one controller class.
:class:`~bmtool_lab.tuning.synapse.SynapseTuner` and
:class:`~bmtool_lab.tuning.pointnet_synapse.PointSynapseTuner` have them all."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from bmtool_lab.tuning.synapse_protocol import ParamSpec, SynapseProtocol, SynapseResult

__all__ = ["TunerLike", "TUNER_MEMBERS"]


@runtime_checkable
class TunerLike(Protocol):
    """A synapse tuner as its dashboards see it.

    State: ``protocol`` (the current :class:`SynapseProtocol`), ``config`` (the BMTK config or
    None), ``connections`` (the connection types), ``executor`` (for sweeps and fits),
    ``model_problems`` (what the model check found), ``pinned`` (the A/B reference).
    Listeners get ``(event, payload)`` for "running", "partial", "result", "error",
    "protocol", "params", "selection", "saved" ...
    """

    protocol: SynapseProtocol
    config: Any
    connections: list[Any]
    executor: Any
    model_problems: list[str]
    pinned: SynapseResult | None

    @property
    def current(self) -> Any:
        """The selected connection type (None without one)."""

    @property
    def name(self) -> str | None:
        """The selected connection's name."""

    @property
    def params(self) -> dict[str, float]:
        """The selected connection's current parameter values (dynamics-JSON names)."""

    @property
    def param_specs(self) -> list[ParamSpec]:
        """One spec (value, default, unit, slider range) per tunable parameter."""

    @property
    def mechanism(self) -> str:
        """The synapse model of the selected connection."""

    @property
    def placement(self) -> str:
        """Where the synapse is, in words (after a run)."""

    @property
    def unsaved(self) -> list[str]:
        """Names of the connections with unsaved changes."""

    @property
    def can_undo(self) -> bool: ...

    @property
    def can_redo(self) -> bool: ...

    @property
    def last(self) -> SynapseResult | None:
        """The last result of the selected connection."""

    def add_listener(self, fn: Callable[[str, Any], None]) -> None: ...

    def select(self, which: Any) -> Any: ...

    def set_params(self, *, merge: bool = False, **values: float) -> dict[str, float]: ...

    def set_protocol(self, **settings: Any) -> SynapseProtocol: ...

    def submit(self, kind: str = "train", **overrides: Any) -> Future: ...

    def pin(self) -> SynapseResult | None: ...

    def undo(self) -> dict[str, float]: ...

    def redo(self) -> dict[str, float]: ...

    def preview_save(self) -> str: ...

    def save(self, shared: str | None = None) -> Any: ...


#: The members of :class:`TunerLike` (a dashboard uses no other member of a tuner).
TUNER_MEMBERS: tuple[str, ...] = tuple(dict.fromkeys(
    [*TunerLike.__annotations__, *(k for k in vars(TunerLike) if not k.startswith("_"))]))
