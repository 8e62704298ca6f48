"""The population graph (SVG): groups as nodes, connections as directed edges, gap junctions dashed.

Node circles have an area proportional to the group's cell count; an edge's width is
proportional to its metric value (chemical and gap-junction edges each scaled to their own
largest value, their units differ). The data are :meth:`ConnectivityExplorer.graph`'s table,
turned into two JSON lists by :func:`graph_data` (a graph has groups², not cells, entries).
A click on an edge comes back as a message; the dashboard treats it as a click on the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as w
import pandas as pd
import traitlets

from ._format import fmt_number
from .network3d import PALETTE, export_buttons
from .trace import STATIC

__all__ = ["NetworkGraph", "NetworkGraphView", "graph_data", "MAX_EDGE_WIDTH"]

MAX_EDGE_WIDTH = 8.0  # px, the largest edge of a kind; the smallest is 1 px
MIN_EDGE_WIDTH = 1.0


def graph_data(edges: pd.DataFrame, colors: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """(nodes, edges) for the front end from a :meth:`ConnectivityExplorer.graph` table.

    nodes: label, size (cells), color, in the order of ``edges.attrs["group_sizes"]``. edges:
    source / target (node indices), labels, value, kind, width (px) and the hover text
    "A → B: value unit" ("A ↔ B" for gap junctions).
    """
    sizes = edges.attrs.get("group_sizes") or {}
    labels = [str(k) for k in sizes] or sorted({str(v) for v in (*edges["source"], *edges["target"])})
    index = {lab: i for i, lab in enumerate(labels)}
    colors = colors or {}
    nodes = [{"label": lab, "size": int(sizes.get(key, 0)), "color": colors.get(lab, PALETTE[i % len(PALETTE)])}
             for i, (lab, key) in enumerate(zip(labels, sizes or labels, strict=True))]
    units = {"chemical": edges.attrs.get("units", ""), "gap_junction": edges.attrs.get("gap_units", "")}
    top = edges.groupby("kind")["value"].max().to_dict() if len(edges) else {}
    out = []
    for e in edges.itertuples():
        s, t, v = str(e.source), str(e.target), float(e.value)
        gap = e.kind == "gap_junction"
        arrow = "↔" if gap else "→"
        unit = units.get(e.kind, "")
        text = f"{s} {arrow} {t}: {fmt_number(v, 3)} {unit}".rstrip() + (" (gap junctions)" if gap else "")
        width = MIN_EDGE_WIDTH + (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH) * v / top[e.kind] if top.get(e.kind) else 1.0
        out.append({"source": index[s], "target": index[t], "source_label": s, "target_label": t, "value": v,
                    "kind": str(e.kind), "width": round(width, 3), "text": text})
    return nodes, out


class NetworkGraph(anywidget.AnyWidget):
    """The SVG graph. ``nodes`` / ``edges`` as :func:`graph_data` makes them; ``selected_edge``
    is the edge drawn as chosen (-1 none). A click on an edge sends {"type": "click", "edge": i}."""

    _esm = STATIC / "network_graph.js"
    _css = STATIC / "network_graph.css"

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    edges = traitlets.List(traitlets.Dict()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected_edge = traitlets.Int(-1).tag(sync=True)
    height = traitlets.Int(380).tag(sync=True)

    def save_png(self, filename: str = "network_graph.png") -> None:
        """Ask the browser to download the graph as drawn (needs a displayed front end)."""
        self.send({"type": "save_png", "name": filename})


class NetworkGraphView(w.VBox):
    """The graph tab of the connectivity dashboard: the SVG, a status line (what is drawn, the
    hovered or clicked edge) and the graph's CSV/PNG export (paths from ``default_path``)."""

    def __init__(self, on_edge_click: Callable[[str, str, str], Any] | None = None,
                 default_path: Callable[[], Path] | None = None) -> None:
        self.on_edge_click = on_edge_click
        self._default_path = default_path or (lambda: Path("connectivity_graph.csv"))
        self.frame: pd.DataFrame = pd.DataFrame()
        self.canvas = NetworkGraph(layout=w.Layout(width="100%"))
        self.status = w.HTML(layout=w.Layout(width="auto"))
        self.status.add_class("bmtl-graph-status")
        self.export_csv, self.export_png = export_buttons(
            "bmtl-graph", ("Graph CSV", "Write the graph's edges (conn.graph(...)) to a CSV file"),
            ("Graph PNG", "Saves the graph as drawn in the browser"))
        self.export_csv.on_click(lambda _: self._say(f"wrote {self.to_csv()}"))
        self.export_png.on_click(lambda _: self._on_png())
        super().__init__([self.canvas, self.status,
                          w.HBox([self.export_csv, self.export_png], layout=w.Layout(flex_flow="row wrap"))],
                         layout=w.Layout(width="100%", min_width="0"))
        self.add_class("bmtl-graph-view")
        self.canvas.on_msg(self._on_msg)

    def set_graph(self, edges: pd.DataFrame, note: str = "", colors: dict[str, str] | None = None) -> None:
        nodes, data = graph_data(edges, colors)
        self.frame = edges
        with self.canvas.hold_sync():
            self.canvas.selected_edge = -1
            self.canvas.nodes = nodes
            self.canvas.edges = data
            self.canvas.title = f"{edges.attrs.get('metric', '')} [{edges.attrs.get('units', '')}]"
        chem = int((edges["kind"] == "chemical").sum()) if len(edges) else 0
        self._base = (f"{len(nodes)} groups (circle area ∝ cells), {chem} connections, {len(data) - chem} "
                      f"gap-junction links (dashed); width ∝ {edges.attrs.get('metric', '')}. "
                      "Hover an edge for its value, click it for the details" + (f"<br>{note}" if note else ""))
        self._say()

    def mark(self, source_group: Any, target_group: Any) -> int:
        """Draw the chemical edge (else the gap junction) source → target as chosen; its index or -1."""
        edges = self.canvas.edges
        hits = [i for i, e in enumerate(edges)
                if e["source_label"] == str(source_group) and e["target_label"] == str(target_group)]
        hits.sort(key=lambda i: edges[i]["kind"] != "chemical")
        self.canvas.selected_edge = hits[0] if hits else -1
        return self.canvas.selected_edge

    def to_csv(self, path: str | Path | None = None) -> Path:
        path = Path(path or self._default_path()).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame.to_csv(path, index=False)
        return path

    def _on_png(self) -> None:
        name = Path(self._default_path()).with_suffix(".png").name
        self.canvas.save_png(name)
        self._say(f"asked the browser to save {name}")

    def _say(self, extra: str = "") -> None:
        self.status.value = getattr(self, "_base", "") + (f"<br>{extra}" if extra else "")

    def _on_msg(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "click":
            return
        try:
            e = self.canvas.edges[int(content["edge"])]
            self.canvas.selected_edge = int(content["edge"])
            self._say(f"clicked: {e['text']}")
            if self.on_edge_click is not None:
                self.on_edge_click(e["source_label"], e["target_label"], e["kind"])
        except Exception as err:  # noqa: BLE001 - shown to the user, the view stays usable
            self._say(f"<span style='color:#b00020'>{type(err).__name__}: {err}</span>")

