"""TracePanel: time series streamed to the browser as float32 bytes and drawn with uPlot.

The JupyterLab server drops iopub messages above ~1000/s, so frames are paced: at most
``max_fps`` pushes per second, and a final push (``final=True``) is never dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

STATIC = Path(__file__).resolve().parent.parent / "static"


def _f32(a: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32)).tobytes()


class TracePanel(anywidget.AnyWidget):
    """A live plot of one or more traces sharing a time axis (ms).

    Series metadata: ``{"label": "v soma", "unit": "mV", "color": "#1f77b4", "dash": False,
    "scale": "y" | "y2"}``. Pinned (A/B) runs are ordinary series with ``dash=True``.
    """

    _esm = STATIC / "trace_panel.js"
    _css = STATIC / "trace_panel.css"

    t = traitlets.Bytes(b"").tag(sync=True)
    y = traitlets.Bytes(b"").tag(sync=True)
    series = traitlets.List(traitlets.Dict()).tag(sync=True)
    markers = traitlets.List(traitlets.Float()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    x_label = traitlets.Unicode("t (ms)").tag(sync=True)
    y_label = traitlets.Unicode("").tag(sync=True)
    y2_label = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    autoscale = traitlets.Bool(True).tag(sync=True)
    #: the y autoscale leaves out t < y_from_ms (ms; 0 = all): a clamp's settling transient at t = 0
    #: can be 10^5 times the responses. That part is still drawn, clipped.
    y_from_ms = traitlets.Float(0.0).tag(sync=True)
    height = traitlets.Int(260).tag(sync=True)
    version = traitlets.Int(0).tag(sync=True)

    def __init__(self, max_fps: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._min_interval_s = 1.0 / max_fps
        self._last_push = 0.0
        self._lock = threading.Lock()
        self.n_points = 0

    def push(
        self,
        t_ms: np.ndarray,
        ys: Sequence[np.ndarray],
        series: Sequence[dict] | None = None,
        *,
        markers: Sequence[float] | None = None,
        status: str | None = None,
        autoscale: bool = False,
        final: bool = True,
        y_from_ms: float | None = None,
    ) -> bool:
        """Send one frame; returns False when a non-final frame was skipped by the pacer."""
        now = time.monotonic()
        with self._lock:
            if not final and now - self._last_push < self._min_interval_s:
                return False
            self._last_push = now
        t_ms = np.asarray(t_ms)
        block = np.concatenate([np.asarray(y, dtype=np.float32).ravel() for y in ys]) if ys else np.zeros(0)
        with self.hold_sync():
            if series is not None:
                self.series = [dict(s) for s in series]
            if markers is not None:
                self.markers = [float(m) for m in markers]
            if status is not None:
                self.status = status
            self.autoscale = autoscale
            if y_from_ms is not None:
                self.y_from_ms = float(y_from_ms)
            self.t = _f32(t_ms)
            self.y = _f32(block)
            self.error = ""
            self.version += 1
        self.n_points = int(t_ms.size)
        return True

    def show_error(self, message: str) -> None:
        """Show a failure in the panel (the last good traces stay visible)."""
        with self.hold_sync():
            self.error = message
            self.status = "failed"
