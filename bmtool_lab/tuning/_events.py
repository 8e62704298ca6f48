"""Listener lists of the controllers: ``fn(event, payload)`` callbacks, called from any thread."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, Any], None]


class Listeners:
    """Callbacks for one controller; a failing listener is reported, never breaks the caller."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._fns: list[Listener] = []

    def add(self, fn: Listener) -> None:
        self._fns.append(fn)

    def remove(self, fn: Listener) -> None:
        self._fns.remove(fn)

    def emit(self, event: str, payload: Any) -> None:
        for fn in list(self._fns):
            try:
                fn(event, payload)
            except Exception as exc:  # a display bug must not kill a run or a fit
                warnings.warn(f"{self._owner} listener failed on {event!r}: {exc!r}", stacklevel=3)

    def clear(self) -> None:
        self._fns.clear()

    def __contains__(self, fn: object) -> bool:
        return fn in self._fns

    def __bool__(self) -> bool:
        return bool(self._fns)
