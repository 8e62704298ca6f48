"""The network's cells in 3D (WebGL): positions, cell axes, groups, highlights, box selection.

Cell data travel as binary blocks (float32 positions and axes, uint16 group codes, uint8
highlight flags), never as JSON lists, so 10⁶ cells are 12 MB of positions in one message.
Cells without a position are not drawn and are listed in :attr:`NetworkView3D.without_positions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets

from .trace import STATIC

if TYPE_CHECKING:
    from ..tuning.connectivity import ConnectivityExplorer

__all__ = ["Network3D", "NetworkView3D", "PALETTE", "export_buttons"]

# matplotlib's tab10 then tab20's light shades: distinct for up to 20 groups, then it repeats
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]


def export_buttons(css: str, csv: tuple[str, str], png: tuple[str, str]) -> tuple[w.Button, w.Button]:
    """The (CSV, PNG) export buttons of a network view: (label, tooltip) each, classes
    ``{css}-export-csv`` / ``{css}-export-png``."""
    out = []
    for (label, tip), icon, kind in ((csv, "download", "csv"), (png, "image", "png")):
        b = w.Button(description=label, icon=icon, layout=w.Layout(width="auto"), tooltip=tip)
        b.add_class(f"{css}-export-{kind}")
        out.append(b)
    return out[0], out[1]


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
    # while the camera moves only every k-th cell is drawn (k the smallest with cells / k <= this),
    # without axes, and everything once it stops; 0 draws everything while moving
    preview_max = traitlets.Int(15_000).tag(sync=True)

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

    def preview_every(self) -> int:
        """k of the moving preview: 1 in k cells are drawn while the camera moves (1: all)."""
        n = len(self.positions) // 12
        return -(-n // self.preview_max) if 0 < self.preview_max < n else 1

    def orbit(self, dyaw_rad: float = 0.0, dpitch_rad: float = 0.0, moving: bool = False) -> None:
        """Turn the camera, e.g. from a script or a test; ``moving`` draws the step as a drag
        frame (the preview) and the full view once the steps stop, as a drag does."""
        self.send({"type": "orbit", "dyaw": dyaw_rad, "dpitch": dpitch_rad, "moving": moving})

    def save_png(self, filename: str = "network3d.png") -> None:
        """Ask the browser to download the view as drawn (needs a displayed front end)."""
        self.send({"type": "save_png", "name": filename})


class NetworkView3D(w.VBox):
    """The 3D tab of the connectivity dashboard: colour-by picker, cell axes toggle, the canvas,
    a status line (cells drawn, cells without positions, the box selection) and the export of the
    positions (CSV: every cell, rotations included) and of the view as drawn (PNG)."""

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
        self.export_csv, self.export_png = export_buttons(
            "bmtl-network3d",
            ("Positions CSV", "Write node_id, population, group, x, y, z (µm), rotation angles (rad) and cell axis "
                              "of every cell to a CSV file"),
            ("3D PNG", "Saves the 3D view as drawn in the browser"))
        self.export_csv.on_click(lambda _: self._say(f"wrote {self.to_csv()}"))
        self.export_png.on_click(lambda _: self._on_png())
        self.cells: pd.DataFrame = pd.DataFrame()
        self.without_positions: dict[str, int] = {}
        super().__init__([w.HBox([self.color_by, self.show_axes], layout=w.Layout(flex_flow="row wrap")),
                          self.canvas, self.status,
                          w.HBox([self.export_csv, self.export_png], layout=w.Layout(flex_flow="row wrap"))],
                         layout=w.Layout(width="100%", min_width="0"))
        self.add_class("bmtl-network3d-view")
        self.color_by.observe(lambda _: self.refresh(), "value")
        self.show_axes.observe(lambda _: self.refresh(), "value")
        self.canvas.observe(self._on_selected, "selected")
        self.canvas.observe(lambda _: self._say(), "preview_max")
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

    def default_csv(self) -> Path:
        config = getattr(getattr(self.explorer, "config", None), "path", None)
        return (Path(config).parent if config else Path(".")) / "network_positions.csv"

    def to_csv(self, path: str | Path | None = None) -> Path:
        """Every cell of the view's populations (those without a position with empty x/y/z):
        conn.positions() joined with conn.rotations(), as ``bmtool-lab positions --csv`` writes."""
        path = Path(path or self.default_csv()).expanduser()
        pos = self.explorer.positions(group_by=self.color_by.value, populations=self._populations)
        rot = self.explorer.rotations(populations=self._populations)
        path.parent.mkdir(parents=True, exist_ok=True)
        pos.merge(rot, on=["node_id", "population"], how="left").to_csv(path, index=False)
        return path

    def _on_png(self) -> None:
        name = "network3d.png"
        self.canvas.save_png(name)
        self._say(f"asked the browser to save {name}")

    def _say(self, extra: str = "") -> None:
        missing = ", ".join(f"{p} ({n})" for p, n in self.without_positions.items())
        text = f"{len(self.cells):,} cells drawn (positions in µm)"
        if missing:
            text += f"; without positions, not drawn: {missing}"
        text += ". Drag: orbit · right/ctrl-drag: pan · wheel: zoom · shift-drag: box-select cells"
        k = self.canvas.preview_every()
        if k > 1:
            text += f" · while moving, 1 in {k} cells is drawn (no axes), all of them when it stops"
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
