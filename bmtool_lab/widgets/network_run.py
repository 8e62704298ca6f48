"""The network-run dashboard: run the whole model with BioNet from the lab and see its answer.

Run / Stop with progress in simulated ms, a canvas raster grouped and coloured by any node
attribute (spikes travel as float32/uint16 bytes, so 10⁶ spikes are one 10 MB message), per-group
rates with each group's histogram of cell rates, pinned runs to compare against (side by side
and as differences), the membrane report BioNet wrote for a cell clicked on the raster, and
"with unsaved tuning": the run takes the parameters of the synapse tuners and the what-ifs of
the cell profilers open on the same model, through an overlay copy of the dynamics files and
a cell overlay in the run folder (the model is not changed).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets

from ..tuning.network_run import _recorded_cells
from ._format import fmt_number
from .network3d import PALETTE
from .trace import STATIC, TracePanel

if TYPE_CHECKING:
    from ..tuning.network_run import NetworkRun, NetworkSimulation

__all__ = ["RasterCanvas", "RasterLayout", "NetworkRunDashboard"]


class RasterCanvas(anywidget.AnyWidget):
    """The raster canvas (js/widgets/raster.js). ``picked_row`` is the row a click picked."""

    _esm = STATIC / "raster.js"
    _css = STATIC / "raster.css"

    times = traitlets.Bytes(b"").tag(sync=True)  # float32, ms
    rows = traitlets.Bytes(b"").tag(sync=True)  # float32 cell row of each spike
    codes = traitlets.Bytes(b"").tag(sync=True)  # uint16 group of each spike
    n_rows = traitlets.Int(1).tag(sync=True)
    tstop_ms = traitlets.Float(1.0).tag(sync=True)
    t_now_ms = traitlets.Float(-1.0).tag(sync=True)
    group_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    group_colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    group_bands = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    hidden = traitlets.List(traitlets.Int()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(260).tag(sync=True)
    picked_row = traitlets.Int(-1).tag(sync=True)

    def show(self, layout: RasterLayout, times_ms: np.ndarray, rows: np.ndarray, *, tstop_ms: float,
             t_now_ms: float = -1.0, title: str = "") -> None:
        """Draw spikes (times in ms, their cell rows from :meth:`RasterLayout.place`)."""
        rows = np.asarray(rows)
        with self.hold_sync():
            self.group_labels = list(layout.labels)
            self.group_colors = [PALETTE[i % len(PALETTE)] for i in range(len(layout.labels))]
            self.group_bands = [[int(a), int(b)] for a, b in layout.bands]
            self.n_rows = max(1, layout.n_rows)
            self.tstop_ms = float(tstop_ms)
            self.t_now_ms = float(t_now_ms)
            self.title = title
            self.codes = np.ascontiguousarray(layout.row_group[rows] if rows.size else [], dtype=np.uint16).tobytes()
            self.rows = np.ascontiguousarray(rows, dtype=np.float32).tobytes()
            self.times = np.ascontiguousarray(times_ms, dtype=np.float32).tobytes()

    def save_png(self, filename: str = "raster.png") -> None:
        """Ask the browser to download the raster as drawn (needs a displayed front end)."""
        self.send({"type": "save_png", "name": filename})


@dataclass
class RasterLayout:
    """The raster's y axis: every recorded cell (silent ones too) in one row, sorted by group,
    population and node id. ``cells``: population, node_id, group, row."""

    cells: pd.DataFrame
    labels: list[str]
    bands: list[tuple[int, int]]  # [first row, end row) per group
    row_group: np.ndarray  # group code of each row

    @property
    def n_rows(self) -> int:
        return len(self.cells)

    @classmethod
    def of(cls, cells: pd.DataFrame, group_by: str) -> RasterLayout:
        """From a table of population, node_id, ``group_by`` (one row per recorded cell)."""
        cells = cells.rename(columns={group_by: "group"}).astype({"group": str})
        cells = cells.sort_values(["group", "population", "node_id"], ignore_index=True)
        codes, labels = pd.factorize(cells["group"], sort=True)
        cells["row"] = np.arange(len(cells))
        bands = []
        for k in range(len(labels)):
            idx = np.flatnonzero(codes == k)
            bands.append((int(idx[0]), int(idx[-1]) + 1))
        return cls(cells, [str(v) for v in labels], bands, codes.astype(np.uint16))

    def place(self, population: np.ndarray, node_ids: np.ndarray) -> np.ndarray:
        """Row of each (population, node_id); -1 for cells not on the axis (e.g. virtual inputs)."""
        population, node_ids = np.asarray(population).astype(str), np.asarray(node_ids, dtype=np.int64)
        out = np.full(node_ids.shape, -1, dtype=np.int64)
        for pop, grp in self.cells.groupby("population", sort=False):
            ids = grp.node_id.to_numpy(np.int64)
            order = np.argsort(ids)
            ids_sorted, rows_sorted = ids[order], grp.row.to_numpy()[order]
            mine = population == str(pop)
            k = np.searchsorted(ids_sorted, node_ids[mine])
            k = np.clip(k, 0, max(len(ids_sorted) - 1, 0))
            hit = ids_sorted[k] == node_ids[mine] if len(ids_sorted) else np.zeros(int(mine.sum()), bool)
            out[np.flatnonzero(mine)[hit]] = rows_sorted[k[hit]]
        return out


def layout_of_run(run: NetworkRun, group_by: str) -> RasterLayout:
    if group_by == "population":  # the SONATA population, not a node attribute
        cells = _recorded_cells(run.config, run.spikes, "node_type_id")
        return RasterLayout.of(cells.assign(group=cells.population)[["population", "node_id", "group"]], "group")
    cells = _recorded_cells(run.config, run.spikes, group_by)
    return RasterLayout.of(cells[["population", "node_id", group_by]], group_by)


def cell_rates(run: NetworkRun, layout: RasterLayout) -> np.ndarray:
    """Firing rate (Hz) of every row's cell over the run."""
    sp = run.spikes
    rows = layout.place(sp.population.to_numpy(), sp.node_id.to_numpy())
    counts = np.bincount(rows[rows >= 0], minlength=layout.n_rows)
    return counts / (run.tstop_ms / 1000.0)


def _histogram_svg(rates: np.ndarray, top_Hz: float, color: str, width: int = 90, height: int = 22) -> str:
    """A small bar histogram of a group's cell rates over 0…top_Hz (8 bins)."""
    counts, _ = np.histogram(rates, bins=8, range=(0.0, max(top_Hz, 1e-9)))
    peak = max(int(counts.max()) if counts.size else 0, 1)
    bw = width / len(counts)
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{height - c / peak * height:.1f}" width="{bw - 1:.1f}" '
        f'height="{c / peak * height:.1f}" fill="{color}"/>' for i, c in enumerate(counts))
    return (f'<svg class="bmtl-run-hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<title>cell rates, 0–{fmt_number(top_Hz, 3)} Hz in 8 bins</title>{bars}</svg>')


def rates_table_html(run: NetworkRun, layout: RasterLayout, pinned: NetworkRun | None = None,
                     pinned_layout: RasterLayout | None = None) -> str:
    """Per group: cells, mean ± std rate (Hz), the histogram of cell rates, and with a pinned run
    its rate and the change. One wrapping row per group, so it fits a narrow sidebar."""
    rates = cell_rates(run, layout)
    other = cell_rates(pinned, pinned_layout) if pinned is not None and pinned_layout is not None else None
    top = max(float(rates.max()) if rates.size else 0.0,
              float(other.max()) if other is not None and other.size else 0.0, 1.0)
    body = []
    for k, label in enumerate(layout.labels):
        r = rates[layout.row_group == k]
        color = PALETTE[k % len(PALETTE)]
        parts = [f"<span class='bmtl-run-group' style='color:{color}'>{html.escape(label)}</span>",
                 f"<span>{len(r)} cells</span>",
                 f"<span class='bmtl-run-rate' title='mean ± std over the cells'>"
                 f"{fmt_number(r.mean(), 3)} ± {fmt_number(r.std(), 2)} Hz</span>",
                 _histogram_svg(r, top, color)]
        if other is not None:
            assert pinned_layout is not None
            if label in pinned_layout.labels:
                o = other[pinned_layout.row_group == pinned_layout.labels.index(label)]
                d = r.mean() - o.mean()
                cls = "bmtl-run-up" if d > 0 else ("bmtl-run-down" if d < 0 else "")
                parts += [f"<span class='bmtl-run-pinned'>pinned {fmt_number(o.mean(), 3)} Hz</span>",
                          f"<span class='bmtl-run-change {cls}' data-change-hz='{d:.6g}'>"
                          f"{'+' if d > 0 else ''}{fmt_number(d, 3)} Hz</span>"]
            else:
                parts.append("<span class='bmtl-run-pinned'>not in the pinned run</span>")
        body.append(f"<div class='bmtl-run-row' data-group='{html.escape(label)}'>{''.join(parts)}</div>")
    head = (f"<div class='bmtl-run-rates-head'>Firing rates over {fmt_number(run.tstop_ms)} ms"
            f"{' · compared with the pinned run' if other is not None else ''}</div>")
    return f"<div class='bmtl-run-rates'>{head}{''.join(body)}</div>"


def overlay_html(overlay: dict[str, dict[str, tuple[Any, Any]]]) -> str:
    if not overlay:
        return "the model's files as saved"
    parts = [f"{html.escape(f)}: " + ", ".join(f"{html.escape(k)} {fmt_number(a)} → {fmt_number(b)}"
                                                for k, (a, b) in d.items()) for f, d in overlay.items()]
    return "unsaved tuning: " + "; ".join(parts)


def read_membrane_report(run: NetworkRun, population: str, node_id: int) -> tuple[np.ndarray, np.ndarray,
                                                                                 str, str] | None:
    """(t ms, v, variable, report file name) of one cell from the first report BioNet wrote
    that holds it, or None."""
    import h5py

    for path in sorted(Path(run.output_dir).glob("*.h5")):
        if path.name == run.spikes_file.name:
            continue
        try:
            with h5py.File(path, "r") as f:
                grp = f.get(f"report/{population}")
                if grp is None or "data" not in grp:
                    continue
                ids = np.asarray(grp["mapping/node_ids"])
                hit = np.flatnonzero(ids == node_id)
                if not hit.size:
                    continue
                ptr = np.asarray(grp["mapping/index_pointer"]) if "index_pointer" in grp["mapping"] else None
                col = int(ptr[hit[0]]) if ptr is not None else int(hit[0])
                start, stop, step = (float(x) for x in np.asarray(grp["mapping/time"])[:3])
                v = np.asarray(grp["data"][:, col], dtype=np.float64)
                t = start + step * np.arange(v.size)
                variable = str(grp["data"].attrs.get("variable_name", "v"))
                if isinstance(grp["data"].attrs.get("variable_name"), bytes):
                    variable = grp["data"].attrs["variable_name"].decode()
                return t, v, variable, path.name
        except (OSError, KeyError, ValueError):
            continue
    return None


#: live raster frames per second while a network runs
LIVE_FPS = 4.0


class _LiveRaster:
    """The spikes a running network has streamed so far (sim/spike_stream.py), drawn on the
    dashboard's raster with the progress (a few times a second at most)."""

    def __init__(self, dash: NetworkRunDashboard, tstop_ms: float) -> None:
        self.dash, self.tstop_ms = dash, tstop_ms
        group_by = dash.group_by.value
        empty = pd.DataFrame({"population": pd.Series(dtype=object), "node_id": pd.Series(dtype=np.int64)})
        if group_by == "population":
            cells = _recorded_cells(dash.sim.config, empty, "node_type_id")
            cells = cells.assign(group=cells.population)[["population", "node_id", "group"]]
            self.layout = RasterLayout.of(cells, "group")
        else:
            cells = _recorded_cells(dash.sim.config, empty, group_by)
            self.layout = RasterLayout.of(cells[["population", "node_id", group_by]], group_by)
        self.times: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.n = 0
        self._drawn = -1
        self._last = -1e9
        self._lock = threading.Lock()

    def add(self, population: np.ndarray, node_ids: np.ndarray, t_ms: np.ndarray) -> None:
        rows = self.layout.place(population, node_ids)
        keep = rows >= 0
        with self._lock:
            self.times.append(np.asarray(t_ms)[keep])
            self.rows.append(rows[keep])
            self.n += int(keep.sum())
            self.dash.live_spikes = self.n
        self.draw(max(float(np.max(t_ms, initial=0.0)), self.dash.raster.t_now_ms))

    def draw(self, t_ms: float) -> None:
        with self._lock:
            now = time.monotonic()
            # every frame resends all spikes so far: at most LIVE_FPS a second (10⁶ spikes are 10 MB)
            if self.n == self._drawn or now - self._last < 1.0 / LIVE_FPS:
                return
            self._drawn, self._last = self.n, now
            times = np.concatenate(self.times) if self.times else np.zeros(0)
            rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
            self.times, self.rows = [times], [rows]  # concatenated once, not again at every frame
        self.dash.raster.show(self.layout, times, rows, tstop_ms=self.tstop_ms, t_now_ms=t_ms,
                              title=f"running · {self.n:,} spikes so far · grouped by {self.dash.group_by.value}")


class NetworkRunDashboard(w.VBox):
    """Run the network, watch the raster, pin runs and compare (see the module docstring).

    ``tuners``: synapse tuners and cell profilers whose unsaved parameters "with unsaved
    tuning" applies, or a function returning them (the lab passes those open on the model).
    """

    def __init__(self, sim: NetworkSimulation, *, tuners: Sequence[Any] | Callable[[], Sequence[Any]] = (),
                 group_by: str = "pop_name", tstop_ms: float | None = None) -> None:
        self.sim = sim
        self._tuners = tuners
        self.current: NetworkRun | None = None
        self.pinned: list[NetworkRun] = []
        self.error: str = ""
        #: spikes the running network has streamed so far (drawn live on the raster)
        self.live_spikes = 0
        self._layout: RasterLayout | None = None
        self._pinned_layout: RasterLayout | None = None
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        attrs = self._group_attributes()
        group_by = group_by if group_by in attrs else attrs[0]
        narrow = {"width": "auto", "min_width": "0"}
        self.tstop = w.BoundedFloatText(value=float(tstop_ms or min(sim.config.run.tstop, 500.0)), min=1.0,
                                        max=1e7, step=50.0, description="tstop (ms)",
                                        style={"description_width": "initial"},
                                        layout=w.Layout(width="150px"))
        self.group_by = w.Dropdown(options=attrs, value=group_by, description="group by",
                                   style={"description_width": "initial"},
                                   layout=w.Layout(flex="0 1 auto", max_width="220px", **narrow))
        self.with_tuning = w.Checkbox(value=True, description="with unsaved tuning", indent=False,
                                      layout=w.Layout(**narrow))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play",
                                   tooltip="Run the whole network with BioNet", layout=w.Layout(**narrow))
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True, layout=w.Layout(**narrow))
        self.pin_button = w.Button(description="Pin", icon="thumb-tack", disabled=True,
                                   tooltip="Keep this run to compare the next ones with", layout=w.Layout(**narrow))
        for b, cls in ((self.run_button, "bmtl-run-go"), (self.stop_button, "bmtl-run-stop"),
                       (self.pin_button, "bmtl-run-pin")):
            b.add_class(cls)
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="calc(100% - 4px)"))  # less its margins
        self.progress_label = w.HTML("not run yet", layout=w.Layout(width="auto"))
        self.progress_label.add_class("bmtl-run-progress")
        self.raster = RasterCanvas(layout=w.Layout(width="auto"))
        self.raster.add_class("bmtl-run-raster-current")
        self.pinned_raster = RasterCanvas(height=200, layout=w.Layout(width="auto", display="none"))
        self.pinned_raster.add_class("bmtl-run-raster-pinned")
        self.rates = w.HTML(layout=w.Layout(width="auto"))
        self.rates.add_class("bmtl-run-rates-box")
        self.status = w.HTML(layout=w.Layout(width="auto"))
        self.status.add_class("bmtl-run-status")
        self.cell_info = w.HTML("click a cell on the raster to see its spikes and membrane report",
                                layout=w.Layout(width="auto"))
        self.cell_info.add_class("bmtl-run-cell")
        self.cell_trace = TracePanel(height=180, layout=w.Layout(width="auto", display="none"))
        row = w.Layout(flex_flow="row wrap", align_items="center", width="auto")
        super().__init__([
            w.HBox([self.tstop, self.group_by, self.with_tuning], layout=row),
            w.HBox([self.run_button, self.stop_button, self.pin_button], layout=row),
            self.progress, self.progress_label, self.status, self.raster, self.pinned_raster, self.rates,
            self.cell_info, self.cell_trace,
        ], layout=w.Layout(width="100%", min_width="0"))
        self.add_class("bmtl-network-run")
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.pin_button.on_click(lambda _: self.pin())
        self.group_by.observe(lambda _: self._redraw(), "value")
        self.raster.observe(self._on_pick, "picked_row")
        if sim.model_problems:
            self.status.value = "⚠ " + "<br>⚠ ".join(html.escape(p) for p in sim.model_problems[:5])

    # --- what the user does ------------------------------------------------------------------

    def tuners(self) -> list[Any]:
        return list(self._tuners() if callable(self._tuners) else self._tuners)

    def start(self) -> None:
        """Start a run in the background (the kernel stays free for Stop and the other dashboards)."""
        if self._thread is not None and self._thread.is_alive():
            return
        tstop = float(self.tstop.value)
        tuners = self.tuners() if self.with_tuning.value else []
        stop = self._stop = threading.Event()
        self.error = ""
        # the label first: the buttons' state then never sits beside the last run's "done"
        self.progress_label.value = f"starting BioNet (building the network) · 0 / {fmt_number(tstop)} ms"
        self.progress.bar_style = ""
        self.progress.value = 0.0
        self.run_button.disabled, self.stop_button.disabled, self.pin_button.disabled = True, False, True
        self.raster.t_now_ms = 0.0
        t0 = time.perf_counter()
        last = [0.0]

        def on_progress(t_ms: float, tstop_ms: float) -> None:
            now = time.perf_counter()
            if now - last[0] < 0.1 and t_ms < tstop_ms:
                return  # iopub: a few updates a second are plenty
            last[0] = now
            self.progress.value = t_ms / tstop_ms
            self.progress_label.value = (f"running: {fmt_number(t_ms)} / {fmt_number(tstop_ms)} ms simulated · "
                                         f"{now - t0:.1f} s")
            self.raster.t_now_ms = t_ms
            live.draw(t_ms)

        live = _LiveRaster(self, tstop)

        def work() -> None:
            try:
                run = self.sim.run(tstop, tuners=tuners, on_progress=on_progress, stop_event=stop,
                                   on_spikes=live.add)
            except Exception as err:  # noqa: BLE001 - shown in the dashboard; the kernel goes on
                self.error = f"{type(err).__name__}: {err}"
                self.progress.bar_style = "danger"
                self.progress_label.value = "the run failed"
                self.status.value = f"<span class='bmtl-error'>✖ {html.escape(self.error)}</span>"
                self.raster.t_now_ms = -1.0
            else:
                self._show_run(run, wall_s=time.perf_counter() - t0)
            finally:
                self.run_button.disabled, self.stop_button.disabled = False, True

        self._thread = threading.Thread(target=work, name="bmtool_lab-network-run", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def wait(self, timeout_s: float | None = None) -> NetworkRun | None:
        """Block until the running run ends (scripts and tests); returns it."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.current

    def pin(self) -> None:
        """Keep the current run: the next runs are compared with it."""
        if self.current is None:
            return
        self.pinned.append(self.current)
        self._pinned_layout = None
        self.pin_button.disabled = True
        self._redraw()

    # --- drawing -----------------------------------------------------------------------------

    def _group_attributes(self) -> list[str]:
        """What the raster can group by: pop_name first, the SONATA population, then the other
        node attributes of the simulated (non-virtual) populations."""
        from ..model.sonata import SonataNetwork  # local: heavy: h5py (model.sonata)

        skip = {"node_id", "positions", "dynamics_params", "morphology", "x", "y", "z", "model_processing",
                "rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis"}
        names: list[str] = []
        for pop in SonataNetwork(self.sim.config).node_populations():
            if not pop.is_virtual:
                names += [n for n in pop.attribute_names() if n not in skip and n not in names]
        first = ["pop_name"] if "pop_name" in names else []
        return [*first, "population", *sorted(n for n in names if n not in ("pop_name", "population"))]

    def _show_run(self, run: NetworkRun, wall_s: float) -> None:
        self.current = run
        self._layout = None
        stopped = bool(getattr(run, "stopped", False))
        t_end = float(getattr(run, "t_stop_ms", run.tstop_ms) or run.tstop_ms)
        self.progress.value = 1.0 if not stopped else t_end / run.tstop_ms
        self.progress.bar_style = "warning" if stopped else "success"
        try:
            n = len(run.spikes)
        except FileNotFoundError:
            n = 0
        label = (f"stopped at {fmt_number(t_end)} of {fmt_number(run.tstop_ms)} ms: partial spikes"
                 if stopped else f"done: {fmt_number(run.tstop_ms)} ms simulated")
        self._redraw()  # the raster and rates first: "done" means the answer is on screen
        self.progress_label.value = f"{label} · {n:,} spikes · {wall_s:.1f} s"
        self.status.value = f"run {len(self.sim.runs)}: {overlay_html(run.overlay)}"
        self.pin_button.disabled = False

    def _layout_for(self, run: NetworkRun) -> RasterLayout:
        return layout_of_run(run, self.group_by.value)

    def _redraw(self) -> None:
        run = self.current
        if run is None:
            return
        try:
            sp = run.spikes
        except FileNotFoundError:
            sp = pd.DataFrame({"population": [], "node_id": [], "timestamp_ms": []})
        if self._layout is None or self._layout_key != self.group_by.value:
            self._layout = self._layout_for(run)
            self._layout_key = self.group_by.value
        lay = self._layout
        rows = lay.place(sp.population.to_numpy(), sp.node_id.to_numpy())
        keep = rows >= 0
        self.raster.show(lay, sp.timestamp_ms.to_numpy()[keep], rows[keep], tstop_ms=run.tstop_ms,
                         title=f"run {self.sim.runs.index(run) + 1 if run in self.sim.runs else ''}"
                               f" · grouped by {self.group_by.value}")
        pinned = self.pinned[-1] if self.pinned else None
        if pinned is not None:
            self._pinned_layout = layout_of_run(pinned, self.group_by.value)
            psp = pinned.spikes
            prow = self._pinned_layout.place(psp.population.to_numpy(), psp.node_id.to_numpy())
            pk = prow >= 0
            self.pinned_raster.show(self._pinned_layout, psp.timestamp_ms.to_numpy()[pk], prow[pk],
                                    tstop_ms=pinned.tstop_ms, title=f"pinned · {overlay_html(pinned.overlay)}")
            self.pinned_raster.layout.display = "" if pinned is not run else "none"
        show_pinned = pinned is not None and pinned is not run
        self.rates.value = rates_table_html(run, lay, pinned if show_pinned else None,
                                            self._pinned_layout if show_pinned else None)

    _layout_key: str = ""

    def _on_pick(self, change: dict) -> None:
        lay, run = self._layout, self.current
        row = int(change["new"])
        if lay is None or run is None or not 0 <= row < lay.n_rows:
            return
        cell = lay.cells.iloc[row]
        sp = run.spikes
        mine = sp[(sp.population == cell.population) & (sp.node_id == cell.node_id)].timestamp_ms.to_numpy()
        shown = ", ".join(fmt_number(t, 5) for t in mine[:12]) + (" …" if mine.size > 12 else "")
        text = (f"<b>{html.escape(str(cell.population))} node {int(cell.node_id)}</b> ({html.escape(cell.group)}): "
                f"{mine.size} spikes, {fmt_number(mine.size / (run.tstop_ms / 1000.0), 3)} Hz"
                + (f"; at {shown} ms" if mine.size else ""))
        report = read_membrane_report(run, str(cell.population), int(cell.node_id))
        if report is None:
            self.cell_info.value = text + "<br>no membrane report of this cell in the run's output"
            self.cell_trace.layout.display = "none"
            return
        t, v, var, name = report
        self.cell_info.value = text + f"<br>{html.escape(var)} from {html.escape(name)}"
        self.cell_trace.layout.display = ""
        self.cell_trace.push(t, [v], [{"label": f"{var} node {int(cell.node_id)}", "unit": "mV",
                                       "color": PALETTE[int(lay.row_group[row]) % len(PALETTE)]}],
                             markers=[float(x) for x in mine[:200]], autoscale=True,
                             status=f"{cell.population} node {int(cell.node_id)}")
        self.cell_trace.y_label = f"{var} (mV)"
