"""The connectivity dashboard's parts (:mod:`bmtool_lab.widgets.connectivity`): the matrix's
number and text-colour rules (on viridis), the pickers, the edge-types table, the histograms."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import bqplot as bq
import ipywidgets as w
import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _fmt(x: float) -> str:
    """A matrix value: whole numbers as they are ("0", "150"), others to 3 significant digits."""
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3g}"


# viridis (the canvas heatmap's map: STOPS in js/widgets/heatmap_canvas.ts), 10 stops; the text on a
# cell is white or black, whichever contrasts more with the cell's colour (WCAG relative
# luminance; white below 0.179)
_VIRIDIS = np.array([[68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                     [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]], dtype=float) / 255.0
_WHITE_TEXT_BELOW = 0.179


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (… × 3, 0..1)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def text_colours(values: np.ndarray, vmin: float, vmax: float) -> list[str]:
    """Per value, the text colour readable on its viridis cell (black on the grey of NaN)."""
    v = np.asarray(values, dtype=float).ravel()
    t = np.clip((v - vmin) / ((vmax - vmin) or 1.0), 0.0, 1.0)
    x = np.nan_to_num(t) * (len(_VIRIDIS) - 1)
    k = np.minimum(x.astype(int), len(_VIRIDIS) - 2)
    rgb = _VIRIDIS[k] + (x - k)[:, None] * (_VIRIDIS[k + 1] - _VIRIDIS[k])
    dark = (_luminance(rgb) < _WHITE_TEXT_BELOW) & np.isfinite(v)
    return ["white" if d else "black" for d in dark]


def _dropdown(options: list, value: Any, description: str, css: str, width: str = "210px") -> w.Dropdown:
    d = w.Dropdown(options=options, value=value, description=description,
                   layout=w.Layout(width=width, max_width="100%"), style={"description_width": "80px"})
    d.add_class(css)
    return d


def _edge_types_html(types: pd.DataFrame) -> str:
    """The connection types of a group pair: one small name | value table per type, side by side
    where there is room and stacked in the sidebar (a row of seven columns is 515 px wide)."""
    if types.empty:
        return "<i>No edges between these groups.</i>"
    cards = []
    for t in types.itertuples():
        mechanism = "gap junction" if t.is_gap_junction else str(t.model_template or "")
        rows = (("edge population", t.edge_population), ("edge type id", t.edge_type_id), ("edges", t.n_edges),
                ("synapses", t.n_synapses), ("mechanism", mechanism), ("dynamics", t.dynamics_params or ""))
        body = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        name = html.escape(str(t.name))
        cards.append(f"<table class='bmtl-conn-edge-type' data-name='{name}'><caption>{name}</caption>{body}</table>")
    return "".join(cards)


def _histogram_figure(title: str, x_label: str, css: str) -> tuple[bq.Figure, bq.Bars]:
    # one bar per bin on an ordinal scale labelled by the bin's range, and an explicit count scale:
    # bqplot's automatic linear scales fail on a one-value domain ("invalid format: .undefinedg",
    # 1 px bars)
    xs, ys = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=1.0)
    bars = bq.Bars(x=np.array(["–"]), y=np.zeros(1), scales={"x": xs, "y": ys}, padding=0.1, colors=["#4a7ab5"])
    fig = bq.Figure(marks=[bars], axes=[bq.Axis(scale=xs, label=x_label, tick_rotate=-35,
                                                tick_style={"font-size": "9px"}),
                                        bq.Axis(scale=ys, side="left", label="count", num_ticks=4, tick_format="d")],
                    title=title, title_style={"font-size": "12px"},  # a 16 px title is wider than the sidebar
                    layout=w.Layout(flex="1 1 240px", width="auto", max_width="280px", min_width="0", height="230px"),
                    fig_margin={"top": 30, "bottom": 52, "left": 50, "right": 12})
    fig.add_class(css)
    return fig, bars


def _bin_label(lo: float, hi: float, unit_bins: bool) -> str:
    if unit_bins:
        return f"{lo:g}"
    return f"{(lo + hi) / 2:.3g}"


def _fill_histogram(bars: bq.Bars, counts: np.ndarray, edges: np.ndarray, unit_bins: bool = False) -> None:
    """Bars of a histogram (``counts`` per bin between ``edges``), labelled by bin (start for
    unit-width degree bins, centre otherwise), with the count scale set from the data."""
    counts = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if counts.size == 0 or edges.size != counts.size + 1:
        counts, edges = np.zeros(1), np.array([0.0, 1.0])
    labels = [_bin_label(a, b, unit_bins) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if len(set(labels)) != len(labels):  # labels too coarse for the bins: number them by range
        labels = [f"{a:.4g}–{b:.4g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    ys = bars.scales["y"]
    with bars.hold_sync():
        ys.min, ys.max = 0.0, float(max(2.0, math.ceil(counts.max() * 1.15)))
        bars.x = np.array(labels)
        bars.y = counts
