"""The connectivity dashboard: a ConnectivityExplorer matrix on a canvas heatmap
(:class:`~bmtool_lab.widgets.heatmap.CanvasHeatmap`, every grid size) with pickers, hover text,
click-to-details and export.

Built only when displayed (``ConnectivityExplorer._repr_mimebundle_``), so headless use never
imports ipywidgets or bqplot (the details' histograms). Every callback catches its errors and
shows them in the status line (ipywidgets swallows exceptions raised in observers). Stable CSS
classes (``bmtl-conn-*``) let browser tests find the parts.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np

from .connectivity_parts import (
    _dropdown,
    _edge_types_html,
    _fill_histogram,
    _fmt,
    _histogram_figure,
    text_colours,
)
from .heatmap import CanvasHeatmap
from .network3d import NetworkView3D
from .network_graph import NetworkGraphView
from .panel import open_dashboard
from .problems import problems_box

if TYPE_CHECKING:  # pragma: no cover
    import bqplot as bq
    import pandas as pd

    from ..model.connection_types import ConnectionType
    from ..tuning.connectivity import ConnectivityExplorer

__all__ = ["ConnectivityDashboard"]

#: Largest grid (cells) whose numbers are sent to the heatmap; it writes each where it fits.
MAX_NUMBERED_CELLS = 100 * 100

_STAT_METRICS = ("convergence", "divergence", "gap_convergence")
_COUNT_METRICS = ("total", "convergence", "divergence")
_GAP_METRICS = ("gap_percent", "gap_convergence")
# the graph's metric for each matrix metric (the graph draws total, percent or convergence)
_GRAPH_METRIC = {"total": "total", "percent": "percent", "unidirectional": "percent", "bidirectional": "percent",
                 "gap_percent": "percent", "convergence": "convergence", "divergence": "convergence",
                 "gap_convergence": "convergence"}
_NO_TUNER = "The synapse tuner is not available yet: set dashboard.on_open_synapse_tuner to a callback"


class ConnectivityDashboard(w.VBox):
    """Heatmap + pickers + details for a :class:`ConnectivityExplorer`.

    ``on_open_synapse_tuner``: a callable taking the :class:`ConnectionType` chosen in the
    details area; while None the "Open synapse tuner" button is disabled and says why.
    """

    def __init__(self, explorer: ConnectivityExplorer, *, metric: str = "percent", group_by: str | None = None,
                 sources: str = "all", targets: str = "all",
                 on_open_synapse_tuner: Callable[[ConnectionType], Any] | None = None):
        self.explorer = explorer
        self._frames: dict[str, pd.DataFrame] = {}
        self._involved: list[ConnectionType] = []
        pops = ["all", *explorer.node_populations]
        attrs = explorer.group_attributes()
        default_group = group_by or explorer.group_by or ("pop_name" if "pop_name" in attrs else attrs[-1])

        self.metric = _dropdown(list(explorer.metrics), metric, "metric", "bmtl-conn-metric")
        self.stat = _dropdown(["mean", "std", "min", "max"], "mean", "statistic", "bmtl-conn-stat", "170px")
        self.count = _dropdown(["connections", "synapses", "rows"], "connections", "count", "bmtl-conn-count")
        self.group_by = _dropdown(attrs, default_group if default_group in attrs else attrs[0], "group by",
                                  "bmtl-conn-groupby")
        self.sources = _dropdown(pops, sources, "sources", "bmtl-conn-sources", "190px")
        self.targets = _dropdown(pops, targets, "targets", "bmtl-conn-targets", "190px")
        self.convention = _dropdown(["sonata", "bmtool"], "sonata", "convention", "bmtl-conn-convention", "190px")
        self.connected_only = w.Checkbox(False, description="connected cells only", indent=False,
                                         layout=w.Layout(width="170px", max_width="100%"))
        self.connected_only.add_class("bmtl-conn-connected-only")
        self.symmetric = w.Checkbox(False, description="gap junctions both ways", indent=False,
                                    layout=w.Layout(width="190px", max_width="100%"))
        self.symmetric.add_class("bmtl-conn-symmetric")

        # heatmap: rows = source groups (top to bottom), columns = target groups; the hover line
        # (value, numerator, denominator) under it
        self.heatmap = CanvasHeatmap(height=440, layout=w.Layout(width="100%", max_width="600px"))
        self.heatmap.add_class("bmtl-conn-canvas-heatmap")
        self.heatmap.observe(self._on_hover, "hovered")
        self.heatmap.observe(self._on_select, "selected")
        self.hover = w.HTML("", layout=w.Layout(padding="4px", min_height="3.6em"))
        self.hover.add_class("bmtl-conn-hover")
        self.figure = w.VBox([self.heatmap, self.hover], layout=w.Layout(width="100%"))
        self.figure.add_class("bmtl-conn-heatmap")

        # details of the clicked group pair
        self.summary = w.HTML("<i>Click a cell to see its connections.</i>")
        self.summary.add_class("bmtl-conn-summary")
        self.degree_fig, self._degree_bars = _histogram_figure("convergence", "sources per target cell",
                                                               "bmtl-conn-degree-hist")
        self.weight_fig, self._weight_bars = _histogram_figure("syn_weight", "syn_weight", "bmtl-conn-weight-hist")
        self.delay_fig, self._delay_bars = _histogram_figure("delay", "delay (ms)", "bmtl-conn-delay-hist")
        self.edge_types = w.HTML("")
        self.edge_types.add_class("bmtl-conn-edge-types")
        self.tuner_type = _dropdown([], None, "type", "bmtl-conn-tuner-type", "260px")
        self.open_tuner = w.Button(description="Open synapse tuner", icon="sliders", disabled=True, tooltip=_NO_TUNER,
                                   layout=w.Layout(width="auto"))
        self.open_tuner.add_class("bmtl-conn-open-tuner")
        self.open_tuner.on_click(self._on_open_tuner)
        self._hist_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._hist_box.add_class("bmtl-conn-histograms")
        self.details = w.VBox([
            self.summary,
            self._hist_box,
            self.edge_types,
            w.HBox([self.tuner_type, self.open_tuner], layout=w.Layout(flex_flow="row wrap")),
        ], layout=w.Layout(display="none"))
        self.details.add_class("bmtl-conn-details")

        # export
        self.export_path = w.Text(value="", placeholder=str(self._default_csv()), description="CSV path",
                                  layout=w.Layout(flex="1 1 220px", min_width="0", max_width="420px"),
                                  style={"description_width": "70px"})
        self.export_path.add_class("bmtl-conn-export-path")
        self.export_csv = w.Button(description="Export CSV", icon="download")
        self.export_csv.add_class("bmtl-conn-export-csv")
        self.export_csv.on_click(self._on_export_csv)
        self.export_png = w.Button(description="Export PNG", icon="image",
                                   tooltip="Saves the heatmap as drawn in the browser (needs a front end)")
        self.export_png.add_class("bmtl-conn-export-png")
        self.export_png.on_click(self._on_export_png)
        self.status = w.HTML("")
        self.status.add_class("bmtl-conn-status")

        wrap = w.Layout(flex_flow="row wrap")  # pickers wrap at narrow widths (the sidebar) instead of clipping
        controls = w.VBox([
            w.HBox([self.metric, self.stat, self.count, self.connected_only], layout=wrap),
            w.HBox([self.group_by, self.sources, self.targets, self.convention, self.symmetric], layout=wrap),
        ])
        # 3D view of the cells, built when first opened (its data are the network's every position)
        self.network_view: NetworkView3D | None = None
        self.view3d_box = w.VBox(layout=w.Layout(width="100%"))
        self.view3d = w.Accordion(children=[self.view3d_box], selected_index=None, layout=w.Layout(width="auto"))
        self.view3d.set_title(0, "Cells in 3D (positions, axes; a clicked matrix cell is highlighted)")
        self.view3d.add_class("bmtl-conn-3d")
        self.view3d.observe(self._on_view3d, "selected_index")
        # the 3D box selection as the matrix's sources and/or targets
        self.use_selection = _dropdown([("all cells", "off"), ("3D selection: sources", "sources"),
                                        ("3D selection: targets", "targets"), ("3D selection: both", "both")],
                                       "off", "cells", "bmtl-conn-use-selection", "190px")
        self.use_selection.style = {"description_width": "40px"}
        self.use_selection.observe(self._on_control, "value")
        # the population graph, built when first opened
        self.graph_view: NetworkGraphView | None = None
        self.graph_box = w.VBox(layout=w.Layout(width="100%"))
        self.graph = w.Accordion(children=[self.graph_box], selected_index=None, layout=w.Layout(width="auto"))
        self.graph.set_title(0, "Population graph (groups, connections; a click on an edge shows its details)")
        self.graph.add_class("bmtl-conn-graph")
        self.graph.observe(self._on_graph, "selected_index")
        problems = problems_box(getattr(explorer, "model_problems", []))
        super().__init__([*problems, controls, self.figure,
                          w.HBox([self.export_path, self.export_csv, self.export_png], layout=wrap),
                          self.status, self.details, self.graph, self.view3d])
        self.add_class("bmtl-conn")
        self._tuner_callback = on_open_synapse_tuner if on_open_synapse_tuner is not None \
            else explorer.on_open_synapse_tuner or self._open_tuner_in_sidebar
        for control in (self.metric, self.stat, self.count, self.group_by, self.sources, self.targets,
                        self.convention, self.connected_only, self.symmetric):
            control.observe(self._on_control, "value")
        self.refresh()

    # -- state ------------------------------------------------------------------------------
    @property
    def on_open_synapse_tuner(self) -> Callable[[ConnectionType], Any] | None:
        return self._tuner_callback

    @on_open_synapse_tuner.setter
    def on_open_synapse_tuner(self, callback: Callable[[ConnectionType], Any] | None) -> None:
        self._tuner_callback = callback
        self._update_tuner_button()

    def _open_tuner_in_sidebar(self, connection: ConnectionType) -> Any:
        """Default "Open synapse tuner": this config's tuner on that connection, in the right sidebar."""
        config = getattr(getattr(self.explorer, "config", None), "path", None)
        if config is None:
            raise ValueError("this explorer was not made from a config file, so no tuner can be opened for it")
        return open_dashboard("tuner", str(config), connection.name, "right")

    def query(self) -> dict[str, Any]:
        """The explorer arguments the pickers stand for (sources/targets: the 3D selection's cells
        of the chosen populations when "cells" says so)."""
        sources, targets = self.sources.value, self.targets.value
        use = self.use_selection.value if hasattr(self, "use_selection") else "off"
        if use != "off":
            picked = self.selected_nodes()[["node_id", "population"]]
            if use in ("sources", "both"):
                sources = picked if sources == "all" else picked[picked["population"] == sources]
            if use in ("targets", "both"):
                targets = picked if targets == "all" else picked[picked["population"] == targets]
        return {"metric": self.metric.value, "group_by": self.group_by.value, "sources": sources,
                "targets": targets, "stat": self.stat.value, "count": self.count.value,
                "connected_only": self.connected_only.value, "symmetric": self.symmetric.value,
                "convention": self.convention.value}

    def selected_nodes(self) -> pd.DataFrame:
        """node_id, population, group, x, y, z of the cells the 3D view's box selection picked
        (empty before one); pass it as ``sources``/``targets`` to the explorer's queries."""
        if self.network_view is None:
            import pandas as pd

            return pd.DataFrame(columns=["node_id", "population", "group", "x", "y", "z"])
        return self.network_view.selected_nodes()

    def _selection_kwargs(self) -> dict[str, Any]:
        q = self.query()
        return {"group_by": q["group_by"], "sources": q["sources"], "targets": q["targets"]}

    def _set_status(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""

    def _default_csv(self) -> Path:
        q = {"metric": "percent", "stat": "mean"}
        if hasattr(self, "metric"):
            q = self.query()
        suffix = f"_{q['stat']}" if q["metric"] in _STAT_METRICS else ""
        return Path(self.explorer.config.path).parent / f"connectivity_{q['metric']}{suffix}.csv"

    # -- updates -----------------------------------------------------------------------------
    def _on_control(self, change: dict) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute the matrix for the pickers' state and redraw (errors go to the status line)."""
        q = self.query()
        metric = q["metric"]
        self.stat.disabled = metric not in _STAT_METRICS
        self.count.disabled = metric not in _COUNT_METRICS
        self.connected_only.disabled = metric not in _STAT_METRICS
        self.symmetric.disabled = metric not in _GAP_METRICS
        self.export_path.placeholder = str(self._default_csv())
        try:
            frames = self.explorer.matrix_terms(**q)
        except Exception as err:  # noqa: BLE001 - shown to the user, the dashboard stays usable
            self._set_status(f"{type(err).__name__}: {err}", error=True)
            return
        value = frames["value"]
        self._frames = frames
        color = value.to_numpy(dtype=float)
        finite = color[np.isfinite(color)]
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        numbered = color.size <= MAX_NUMBERED_CELLS
        attrs = value.attrs
        stat = f" ({attrs['stat']})" if "stat" in attrs else ""
        # a new matrix clears the selection (its observer hides the details)
        self.heatmap.set_matrix(
            value, title=f"{metric}{stat} [{attrs['units']}]", units=attrs["units"],
            row_title=f"source {attrs['group_by']}", col_title=f"target {attrs['group_by']}", vmin=0.0, vmax=vmax,
            cell_text=[_fmt(v) for v in color.ravel()] if numbered else (),
            cell_text_colors=text_colours(color, 0.0, vmax) if numbered else ())
        note = attrs.get("note", "")
        self._set_status(note or f"{value.shape[0]} source × {value.shape[1]} target groups; "
                                  f"numerator: {attrs.get('numerator', '')}; denominator: {attrs.get('denominator', '')}"
                                  + self._selection_note(attrs))
        self.details.layout.display = "none"
        self.hover.value = ""
        self._refresh_graph()

    @staticmethod
    def _selection_note(attrs: dict) -> str:
        picked = [f"{attrs[f'{r}_cells_selected']} {r} cells" for r in ("source", "target")
                  if f"{r}_cells_selected" in attrs]
        return f"; restricted to the 3D selection: {', '.join(picked)}" if picked else ""

    def _cell(self, row: int, col: int) -> tuple[Any, Any]:
        value = self._frames["value"]
        return value.index[row], value.columns[col]

    def _on_hover(self, change: dict) -> None:
        cell = change["new"]
        if not cell:
            return  # keep the last text: the pointer left the heatmap
        try:
            self.hover.value = self.hover_text(int(cell[0]), int(cell[1]))
        except Exception as err:  # noqa: BLE001
            self.hover.value = html.escape(f"{type(err).__name__}: {err}")

    def hover_text(self, row: int, col: int) -> str:
        """Value with its numerator and denominator for grid cell (row, col), as HTML."""
        f = self._frames
        if not f:
            return ""
        attrs = f["value"].attrs
        src, tgt = self._cell(row, col)
        v, num, den = (f[k].iat[row, col] for k in ("value", "numerator", "denominator"))
        lines = [f"<b>{html.escape(str(src))} → {html.escape(str(tgt))}</b>",
                 f"{html.escape(attrs['metric'])}: <b>{_fmt(v)}</b> {html.escape(attrs['units'])}"]
        if attrs.get("denominator", "none") != "none":
            lines.append(f"{_fmt(num)} {html.escape(attrs.get('numerator', ''))} / {_fmt(den)} "
                         f"{html.escape(attrs['denominator'])}")
        return "<br>".join(lines)

    def _on_select(self, change: dict) -> None:
        sel = change["new"]
        if not sel:
            self.details.layout.display = "none"
            return
        try:
            self.show_details(*self._cell(*sel))
        except Exception as err:  # noqa: BLE001
            self._set_status(f"{type(err).__name__}: {err}", error=True)

    def select(self, source_group: Any, target_group: Any) -> None:
        """Select a cell by its group labels (as a click on the heatmap does)."""
        value = self._frames["value"]
        r = [str(v) for v in value.index].index(str(source_group))
        c = [str(v) for v in value.columns].index(str(target_group))
        self.heatmap.selected = [r, c]

    def open_3d(self) -> NetworkView3D:
        """Build (once) and open the 3D view of the cells; returns it."""
        if self.network_view is None:
            self.network_view = NetworkView3D(self.explorer, group_by=self.group_by.value)
            self.network_view.canvas.observe(self._on_3d_selection, "selected")
            # in a row as the pickers are: a VBox child of 100% plus its margins overflows the sidebar
            self.view3d_box.children = (self.network_view,
                                        w.HBox([self.use_selection], layout=w.Layout(flex_flow="row wrap")))
        self.view3d.selected_index = 0
        return self.network_view

    def _on_view3d(self, change: dict) -> None:
        if change["new"] == 0 and self.network_view is None:
            try:
                self.open_3d()
                sel = self.heatmap.selected
                if sel:
                    self.network_view.highlight_pair(*self._cell(*sel), group_by=self.group_by.value)
            except Exception as err:  # noqa: BLE001
                self._set_status(f"3D view: {type(err).__name__}: {err}", error=True)

    def _on_3d_selection(self, change: dict) -> None:
        if self.use_selection.value != "off":
            self.refresh()

    def open_graph(self) -> NetworkGraphView:
        """Build (once) and open the population graph; returns it."""
        if self.graph_view is None:
            self.graph_view = NetworkGraphView(on_edge_click=self._on_graph_click, default_path=self._graph_csv)
            self.graph_box.children = (self.graph_view,)
            self._refresh_graph()
            sel = self.heatmap.selected
            if sel:  # a matrix cell chosen before: its edge too
                self.graph_view.mark(*self._cell(*sel))
        self.graph.selected_index = 0
        return self.graph_view

    def _on_graph(self, change: dict) -> None:
        if change["new"] == 0 and self.graph_view is None:
            try:
                self.open_graph()
            except Exception as err:  # noqa: BLE001
                self._set_status(f"graph: {type(err).__name__}: {err}", error=True)

    def graph_query(self) -> dict[str, Any]:
        """The :meth:`ConnectivityExplorer.graph` arguments of the pickers' state."""
        q = self.query()
        return {"group_by": q["group_by"], "metric": _GRAPH_METRIC[q["metric"]], "sources": q["sources"],
                "targets": q["targets"], "count": q["count"], "convention": q["convention"]}

    def _refresh_graph(self) -> None:
        if self.graph_view is None:
            return
        q = self.graph_query()
        try:
            edges = self.explorer.graph(**q)
        except Exception as err:  # noqa: BLE001
            self._set_status(f"graph: {type(err).__name__}: {err}", error=True)
            return
        note = "" if q["metric"] == self.metric.value else \
            f"The graph shows {q['metric']}: it draws total, percent or convergence."
        colors = None
        if self.network_view is not None and self.network_view.color_by.value == q["group_by"]:
            canvas = self.network_view.canvas
            colors = dict(zip(canvas.group_labels, canvas.group_colors, strict=True))
        self.graph_view.set_graph(edges, note, colors)

    def _on_graph_click(self, source_group: str, target_group: str, kind: str) -> None:
        """An edge clicked in the graph: what a click on its matrix cell does (details, 3D, tuner)."""
        self.select(source_group, target_group)

    def _graph_csv(self) -> Path:
        given = self.export_path.value.strip()
        if given:
            path = Path(given).expanduser()
            return path.with_name(f"{path.stem}_graph.csv")
        return Path(self.explorer.config.path).parent / f"connectivity_graph_{_GRAPH_METRIC[self.metric.value]}.csv"

    def show_details(self, source_group: Any, target_group: Any) -> None:
        """Fill the details area for one group pair: counts, histograms, edge types."""
        if self.network_view is not None:
            self.network_view.highlight_pair(source_group, target_group, group_by=self.group_by.value)
        if self.graph_view is not None:
            self.graph_view.mark(source_group, target_group)
        kw = self._selection_kwargs()
        d = self.explorer.details(source_group, target_group, **kw)
        metric = self.metric.value
        direction = "divergence" if metric == "divergence" else "convergence"
        count = self.count.value if metric in _COUNT_METRICS else "connections"
        gap = metric in _GAP_METRICS
        hist = self.explorer.histogram(source_group, target_group, direction, count=count, gap_junctions=gap, **kw)
        conv, div = d.convergence, d.divergence
        src, tgt = html.escape(str(d.source_group)), html.escape(str(d.target_group))
        self.summary.value = (
            f"<b>{src} → {tgt}</b> ({html.escape(d.group_by)}): {d.n_source_cells} source and "
            f"{d.n_target_cells} target cells<br>"
            f"{d.connections} connections of {d.possible_pairs} possible pairs ({_fmt(d.percent)} %), "
            f"{d.edge_rows} edge rows, {d.synapses} synapses, {d.bidirectional_pairs} pairs connected both ways, "
            f"{d.gap_junction_pairs} gap-junction pairs<br>"
            f"convergence {_fmt(conv['mean'])} ± {_fmt(conv['std'])} (min {_fmt(conv['min'])}, max "
            f"{_fmt(conv['max'])}); divergence {_fmt(div['mean'])} ± {_fmt(div['std'])} "
            f"(min {_fmt(div['min'])}, max {_fmt(div['max'])}) connections per cell"
        )
        self._ensure_histograms()
        with self.degree_fig.hold_sync():
            self._set_bars(self._degree_bars, hist)
            self.degree_fig.title = f"{direction} ({count})"
            self.degree_fig.axes[0].label = ("sources per target cell" if direction == "convergence"
                                             else "targets per source cell")
        for bars, values in ((self._weight_bars, d.syn_weight), (self._delay_bars, d.delay)):
            finite = values[np.isfinite(values)] if values.size else values
            if finite.size:
                counts, edges = np.histogram(finite, bins=min(20, max(1, np.unique(finite).size)))
            else:
                counts, edges = np.zeros(1, int), np.array([0.0, 1.0])
            _fill_histogram(bars, counts, edges)
        types = d.edge_types
        self.edge_types.value = _edge_types_html(types)
        by_key = {ct.key: ct for ct in self.explorer.connection_types()}
        self._involved = [by_key[k] for k in zip(types["edge_population"], types["edge_type_id"], strict=True)
                          if k in by_key and not by_key[k].is_gap_junction]
        self.tuner_type.options = [(ct.name, i) for i, ct in enumerate(self._involved)]
        self.tuner_type.value = 0 if self._involved else None
        self._update_tuner_button()
        self.details.layout.display = "flex"

    @staticmethod
    def _set_bars(bars: bq.Bars, hist: pd.DataFrame) -> None:
        if hist.empty:
            _fill_histogram(bars, np.zeros(1), np.array([0.0, 1.0]))
        else:
            edges = np.concatenate([hist["bin_start"].to_numpy(float)[:1], hist["bin_end"].to_numpy(float)])
            _fill_histogram(bars, hist["count"].to_numpy(float), edges,
                            unit_bins=bool(np.allclose(np.diff(edges), 1.0)))

    def _ensure_histograms(self) -> None:
        """Put the histograms into the details area the first time it is shown: a bqplot figure
        rendered while hidden has a negative size (console errors "<rect> attribute width")."""
        self.details.layout.display = "flex"
        if self._hist_box.children == ():
            self._hist_box.children = (self.degree_fig, self.weight_fig, self.delay_fig)

    def _update_tuner_button(self) -> None:
        if self._tuner_callback is None:
            self.open_tuner.disabled, self.open_tuner.tooltip = True, _NO_TUNER
        elif not self._involved:
            self.open_tuner.disabled, self.open_tuner.tooltip = True, "No synapse type between these groups"
        else:
            self.open_tuner.disabled, self.open_tuner.tooltip = False, "Tune the chosen connection type"

    def _on_open_tuner(self, _button: Any) -> None:
        if self._tuner_callback is None or self.tuner_type.value is None:
            return
        connection = self._involved[self.tuner_type.value]
        try:
            self._tuner_callback(connection)
        except Exception as err:  # noqa: BLE001
            self._set_status(f"synapse tuner: {type(err).__name__}: {err}", error=True)
            return
        where = " in the right sidebar" if self._tuner_callback == self._open_tuner_in_sidebar else ""
        self._set_status(f"opened the synapse tuner on {connection.name}{where}")

    # -- export ---------------------------------------------------------------------------------
    def _on_export_csv(self, _button: Any) -> None:
        path = Path(self.export_path.value.strip() or self._default_csv()).expanduser()
        try:
            written = self.explorer.to_csv(path, **self.query())
        except Exception as err:  # noqa: BLE001
            self._set_status(f"export failed: {type(err).__name__}: {err}", error=True)
            return
        self._set_status(f"wrote {written}")

    def _on_export_png(self, _button: Any) -> None:
        name = Path(self.export_path.value.strip() or self._default_csv()).with_suffix(".png").name
        self.heatmap.save_png(name)  # the canvas as drawn, downloaded by the browser
        self._set_status(f"asked the browser to save {name}")
