"""The network's cells in 3D (WebGL): positions, cell axes, groups, highlights, box selection.

Cell data travel as binary blocks (float32 positions and axes, uint16 group codes, uint8
highlight flags), never as JSON lists, so 10⁶ cells are 12 MB of positions in one message.
Cells without a position are not drawn and are listed in :attr:`NetworkView3D.without_positions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets

from .trace import STATIC

if TYPE_CHECKING:
    from ..tuning.connectivity import ConnectivityExplorer

__all__ = ["Network3D", "NetworkView3D", "PALETTE"]

# matplotlib's tab10 then tab20's light shades: distinct for up to 20 groups, then it repeats
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]


class Network3D(anywidget.AnyWidget):
    """The WebGL canvas. Set data with :meth:`set_cells`; ``selected`` holds the indices (rows of
    the positions given) a shift-drag box picked in the browser."""

    _esm = STATIC / "network3d.js"
    _css = STATIC / "network3d.css"

    positions = traitlets.Bytes(b"").tag(sync=True)  # float32 N×3, µm
    groups = traitlets.Bytes(b"").tag(sync=True)  # uint16 N
    axes = traitlets.Bytes(b"").tag(sync=True)  # float32 N×3 unit vectors, or empty
    axis_length_um = traitlets.Float(0.0).tag(sync=True)  # 0: 5 % of the network's radius
    group_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    group_colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hidden = traitlets.List(traitlets.Int()).tag(sync=True)
    highlight = traitlets.Bytes(b"").tag(sync=True)  # uint8 N: 1 source, 2 target, 3 both; empty = none
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    point_size = traitlets.Float(4.0).tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)

    def set_cells(self, xyz: np.ndarray, group_codes: np.ndarray, labels: list[str],
                  axes: np.ndarray | None = None) -> None:
        xyz = np.ascontiguousarray(xyz, dtype=np.float32).reshape(-1, 3)
        codes = np.asarray(group_codes)
        if codes.shape[0] != xyz.shape[0]:
            raise ValueError(f"{codes.shape[0]} group codes for {xyz.shape[0]} cells")
        if len(labels) > 65535:
            raise ValueError("more than 65535 groups: group by a coarser attribute")
        with self.hold_sync():
            self.selected = []
            self.hidden = []
            self.highlight = b""
            self.group_labels = [str(v) for v in labels]
            self.group_colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
            self.groups = np.ascontiguousarray(codes, dtype=np.uint16).tobytes()
            self.axes = b"" if axes is None else np.ascontiguousarray(axes, dtype=np.float32).reshape(-1, 3).tobytes()
            self.positions = xyz.tobytes()  # last: the front end uploads on it

    def set_highlight(self, sources: np.ndarray | None, targets: np.ndarray | None) -> None:
        """Mark cells (boolean masks over the rows) as sources (red), targets (blue) or both; None clears."""
        n = len(self.positions) // 12
        if sources is None and targets is None:
            self.highlight = b""
            return
        flags = np.zeros(n, np.uint8)
        if sources is not None:
            flags[np.asarray(sources, bool)] |= 1
        if targets is not None:
            flags[np.asarray(targets, bool)] |= 2
        self.highlight = flags.tobytes()

    def orbit(self, dyaw_rad: float = 0.0, dpitch_rad: float = 0.0) -> None:
        """Turn the camera (as a drag does), e.g. from a script or a test."""
        self.send({"type": "orbit", "dyaw": dyaw_rad, "dpitch": dpitch_rad})

    def save_png(self, filename: str = "network3d.png") -> None:
        """Ask the browser to download the view as drawn (needs a displayed front end)."""
        self.send({"type": "save_png", "name": filename})


class NetworkView3D(w.VBox):
    """The 3D tab of the connectivity dashboard: colour-by picker, cell axes toggle, the canvas,
    and a status line (cells drawn, cells without positions, the box selection)."""

    def __init__(self, explorer: ConnectivityExplorer, *, group_by: str | None = "pop_name",
                 populations: Any = None, axes: bool = True) -> None:
        self.explorer = explorer
        self._populations = populations
        options = [a for a in explorer.group_attributes() if a != "node_id"]
        value = group_by if group_by in options else options[0]
        self.color_by = w.Dropdown(options=options, value=value, description="colour by",
                                   layout=w.Layout(flex="0 1 auto", width="auto", min_width="0", max_width="260px"))
        self.show_axes = w.Checkbox(value=axes, description="cell axes", indent=False,
                                    layout=w.Layout(width="auto"))
        self.canvas = Network3D(layout=w.Layout(width="100%"))
        self.status = w.HTML(layout=w.Layout(width="auto"))  # 100% plus the widget's 2 px margins overflows
        self.status.add_class("bmtl-network3d-status")
        self.cells: pd.DataFrame = pd.DataFrame()
        self.without_positions: dict[str, int] = {}
        super().__init__([w.HBox([self.color_by, self.show_axes], layout=w.Layout(flex_flow="row wrap")),
                          self.canvas, self.status], layout=w.Layout(width="100%", min_width="0"))
        self.add_class("bmtl-network3d-view")
        self.color_by.observe(lambda _: self.refresh(), "value")
        self.show_axes.observe(lambda _: self.refresh(), "value")
        self.canvas.observe(self._on_selected, "selected")
        self.refresh()

    def refresh(self) -> None:
        pos = self.explorer.positions(group_by=self.color_by.value, populations=self._populations)
        rot = self.explorer.rotations(populations=self._populations)
        has = ~pos[["x", "y", "z"]].isna().any(axis=1).to_numpy()
        self.without_positions = dict(pos.attrs.get("without_positions", {}))
        cells = pos[has].reset_index(drop=True)
        codes, labels = pd.factorize(cells["group"].astype(str), sort=False)
        axes = rot.loc[has, ["axis_x", "axis_y", "axis_z"]].to_numpy() if self.show_axes.value else None
        self.cells = cells.assign(group_code=codes)
        self.canvas.set_cells(cells[["x", "y", "z"]].to_numpy(), codes, list(labels), axes)
        self._say()

    def _say(self, extra: str = "") -> None:
        missing = ", ".join(f"{p} ({n})" for p, n in self.without_positions.items())
        text = f"{len(self.cells):,} cells drawn (positions in µm)"
        if missing:
            text += f"; without positions, not drawn: {missing}"
        text += ". Drag: orbit · right/ctrl-drag: pan · wheel: zoom · shift-drag: select cells"
        self.status.value = text + (f"<br>{extra}" if extra else "")

    def highlight_pair(self, source_group: Any, target_group: Any, group_by: str | None = None) -> int:
        """Highlight the cells of a matrix cell (sources red, targets blue); returns cells marked."""
        if group_by is not None and group_by != self.color_by.value and group_by in self.color_by.options:
            self.color_by.value = group_by
        g = self.cells["group"].astype(str)
        src, tgt = (g == str(source_group)).to_numpy(), (g == str(target_group)).to_numpy()
        self.canvas.set_highlight(src, tgt)
        marked = int((src | tgt).sum())
        self._say(f"highlighted: {source_group} (sources, red) → {target_group} (targets, blue), {marked} cells")
        return marked

    def clear_highlight(self) -> None:
        self.canvas.set_highlight(None, None)
        self._say()

    def selected_nodes(self) -> pd.DataFrame:
        """node_id, population, group, x, y, z of the cells the last box selection picked."""
        rows = [i for i in self.canvas.selected if 0 <= i < len(self.cells)]
        return self.cells.iloc[rows].drop(columns="group_code").reset_index(drop=True)

    def _on_selected(self, change: dict) -> None:
        sel = self.selected_nodes()
        if len(sel):
            per = sel.groupby("group", sort=False).size()
            self._say(f"selected {len(sel)} cells: " + ", ".join(f"{g} {n}" for g, n in per.items())
                      + " (view.selected_nodes())")
        else:
            self._say()
