"""CanvasHeatmap: a matrix drawn on a <canvas> (the connectivity dashboard's heatmap, any size).

Values travel as one float32 block (row-major, ``n_rows × n_cols``; NaN = no value, drawn grey),
so a 1000 × 1000 grid is 4 MB instead of a million SVG elements. Optional per-cell text
(``cell_text``, ``cell_text_colors``) is written on the cells where it fits. The front end syncs
``hovered`` and ``selected`` ([row, col] or []) back to the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from .trace import STATIC

__all__ = ["CanvasHeatmap"]


def _cell_list(proposal: dict) -> list[int]:
    """[] or [row, col] as ints (the front end sends JSON numbers; Python callers may send tuples)."""
    value = proposal["value"]
    if value is None or len(value) == 0:
        return []
    if len(value) != 2:
        raise traitlets.TraitError(f"a cell is [row, col], got {value!r}")
    return [int(value[0]), int(value[1])]


class CanvasHeatmap(anywidget.AnyWidget):
    """A heatmap of ``n_rows × n_cols`` cells (rows top to bottom) with hover and click selection.

    ``vmin``/``vmax``: colour range in the values' units (``units``); None = the finite data range.
    ``cell_text``: the text on each cell, row-major ([] = none), drawn where it fits inside the
    cell, in ``cell_text_colors`` (one CSS colour per cell; [] = black).
    """

    _esm = STATIC / "heatmap_canvas.js"
    _css = STATIC / "heatmap_canvas.css"

    values = traitlets.Bytes(b"").tag(sync=True)
    n_rows = traitlets.Int(0).tag(sync=True)
    n_cols = traitlets.Int(0).tag(sync=True)
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    col_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    row_title = traitlets.Unicode("").tag(sync=True)
    col_title = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    units = traitlets.Unicode("").tag(sync=True)
    vmin = traitlets.Float(None, allow_none=True).tag(sync=True)
    vmax = traitlets.Float(None, allow_none=True).tag(sync=True)
    cell_text = traitlets.List(traitlets.Unicode()).tag(sync=True)
    cell_text_colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.List().tag(sync=True)
    hovered = traitlets.List().tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict) -> list[int]:
        return _cell_list(proposal)

    @traitlets.validate("hovered")
    def _valid_hovered(self, proposal: dict) -> list[int]:
        return _cell_list(proposal)

    def set_matrix(self, matrix: Any, row_labels: Sequence[Any] | None = None,
                   col_labels: Sequence[Any] | None = None, *, cell_text: Sequence[str] = (),
                   cell_text_colors: Sequence[str] = (), **traits: Any) -> None:
        """Show a 2-D array (or DataFrame: its index/columns become the labels) and clear the selection.

        ``cell_text`` / ``cell_text_colors``: per cell (row-major, or a 2-D array of the matrix's
        shape) the text written on it and its colour; empty = no text. Extra keyword arguments set
        other traits (``title``, ``units``, ``vmin``, ...) in the same sync.
        """
        if hasattr(matrix, "index") and hasattr(matrix, "columns"):
            row_labels = list(matrix.index) if row_labels is None else row_labels
            col_labels = list(matrix.columns) if col_labels is None else col_labels
            matrix = matrix.to_numpy(dtype=float)
        a = np.asarray(matrix, dtype=np.float32)
        if a.ndim != 2:
            raise ValueError(f"a heatmap needs a 2-D matrix, got shape {a.shape}")
        n_rows, n_cols = a.shape
        rows = [str(v) for v in (row_labels if row_labels is not None else range(n_rows))]
        cols = [str(v) for v in (col_labels if col_labels is not None else range(n_cols))]
        if len(rows) != n_rows or len(cols) != n_cols:
            raise ValueError(f"{len(rows)} row and {len(cols)} column labels for a {n_rows} × {n_cols} matrix")
        text = [str(t) for t in np.asarray(cell_text, dtype=object).ravel()]
        colours = [str(c) for c in np.asarray(cell_text_colors, dtype=object).ravel()]
        for name, given in (("cell_text", text), ("cell_text_colors", colours)):
            if given and len(given) != n_rows * n_cols:
                raise ValueError(f"{len(given)} {name} for a {n_rows} × {n_cols} matrix")
        with self.hold_sync():
            self.selected = []
            self.hovered = []
            for name, value in traits.items():
                setattr(self, name, value)
            self.n_rows, self.n_cols = n_rows, n_cols
            self.row_labels, self.col_labels = rows, cols
            self.cell_text, self.cell_text_colors = text, colours
            self.values = np.ascontiguousarray(a).tobytes()  # last: the front end redraws on it

    def matrix(self) -> np.ndarray:
        """The shown values as an ``n_rows × n_cols`` float32 array (a copy)."""
        return np.frombuffer(self.values, dtype=np.float32).reshape(self.n_rows, self.n_cols).copy()

    def save_png(self, filename: str = "heatmap.png") -> None:
        """Ask the browser to download the canvas as drawn (needs a displayed front end)."""
        self.send({"type": "save_png", "name": filename})
