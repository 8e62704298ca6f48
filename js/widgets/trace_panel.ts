// Trace panel: time series streamed from the kernel as float32 bytes, drawn with uPlot.
//
// Model contract (see bmtool_lab/widgets/trace.py):
//   t        Bytes   float32 x values (ms), length N
//   y        Bytes   float32, n_series * N values, series after series
//   series   list    [{label, unit, color, dash, scale: "y" | "y2", width}]
//   markers  list    x positions (ms) drawn as thin vertical lines (e.g. pulse times)
//   x_label, y_label, y2_label, title: strings (units in the labels)
//   status   string  shown small above the plot ("running 40%", "done in 12 ms")
//   error    string  shown in a red box when not empty
//   autoscale bool   reset the user's x zoom on this frame (new protocol); without a zoom every
//                    frame is drawn over its own x extent
//   y_from_ms float  the y autoscale leaves out t < y_from_ms (a clamp's settling transient)
//   height   int     plot height in px; width follows the container (sidebar aware)
//   version  int     bumped by the kernel with every frame
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./trace_panel.css";
import { floats, splitSeries } from "./_floats.js";
import type { Binary, RenderProps, WidgetModule } from "./_anywidget.js";

export interface SeriesMeta {
  label?: string;
  unit?: string;
  color?: string;
  dash?: boolean;
  scale?: "y" | "y2";
  width?: number;
}

export interface TraceTraits {
  t: Binary;
  y: Binary;
  series: SeriesMeta[];
  markers: number[];
  x_label: string;
  y_label: string;
  y2_label: string;
  title: string;
  status: string;
  error: string;
  autoscale: boolean;
  y_from_ms: number | null;
  height: number;
  version: number;
}

type Model = RenderProps<TraceTraits>["model"];
// uPlot keeps an axis' resolved font as [font, size] and its last size in _size (not typed).
type AxisInternals = uPlot.Axis & { _size?: number; font?: string | [string, number] };

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];

function markerPlugin(getMarkers: () => number[] | undefined): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u: uPlot) => {
          const xs = getMarkers();
          if (!xs || xs.length === 0) return;
          const { ctx } = u;
          const { top, height } = u.bbox;
          ctx.save();
          ctx.strokeStyle = "rgba(120,120,120,0.55)";
          ctx.lineWidth = 1 * devicePixelRatio;
          ctx.setLineDash([3 * devicePixelRatio, 3 * devicePixelRatio]);
          for (const x of xs) {
            const px = Math.round(u.valToPos(x, "x", true));
            if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(px, top);
            ctx.lineTo(px, top + height);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

// Axis size from its tick labels (uPlot's recipe), so six-digit ticks never run into the label.
function axisSize(self: uPlot, values: string[] | null, axisIdx: number, cycleNum: number): number {
  const axis = self.axes[axisIdx] as AxisInternals;
  if (cycleNum > 1) return axis._size ?? 0;
  let size = (axis.ticks && axis.ticks.size != null ? axis.ticks.size : 10) + (axis.gap != null ? axis.gap : 5);
  const longest = (values || []).reduce<string>((acc, v) => (v != null && String(v).length > acc.length ? String(v) : acc), "");
  if (longest !== "") {
    self.ctx.font = Array.isArray(axis.font) ? axis.font[0] : "12px sans-serif";
    size += self.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

// Finite min/max of the series on `scaleKey` for x in [x0, x1] (indices found by bisection).
export function visibleRange(u: Pick<uPlot, "data" | "series">, scaleKey: string, x0: number, x1: number): [number, number] {
  const xs = u.data[0];
  let lo = Infinity;
  let hi = -Infinity;
  if (!xs || xs.length === 0) return [lo, hi];
  let i0 = 0;
  while (i0 < xs.length && !(xs[i0] >= x0)) i0++;
  for (let s = 1; s < u.series.length; s++) {
    const ser = u.series[s];
    if (ser.scale !== scaleKey || ser.show === false) continue;
    const ys = u.data[s];
    for (let i = i0; i < xs.length && xs[i] <= x1; i++) {
      const v = ys[i];
      if (v != null && Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  return [lo, hi];
}

// y range over the visible x window, leaving out t < y_from_ms (a clamp's settling transient
// at t = 0 can be 10^5 times the PSCs); the data before it is drawn, clipped.
function yRange(model: Model, scaleKey: string): uPlot.Range.Function {
  return (u: uPlot, dataMin: number | null, dataMax: number | null): uPlot.Range.MinMax => {
    // uPlot ranges y while the new x scale is still in the works: series[0].min/max hold the
    // x values at its edges (u.scales.x is the previous one).
    const xser = u.series[0];
    const from = Number(model.get("y_from_ms")) || -Infinity;
    const x0 = Math.max(xser.min != null ? xser.min : -Infinity, from);
    const x1 = xser.max != null ? xser.max : Infinity;
    let [lo, hi] = visibleRange(u, scaleKey, x0, x1);
    if (!(lo <= hi)) [lo, hi] = visibleRange(u, scaleKey, -Infinity, Infinity);
    if (!(lo <= hi)) {
      if (dataMin == null || dataMax == null) return [0, 1];
      lo = dataMin;
      hi = dataMax;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
    if (lo === hi) {
      const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.05 : 1;
      return [lo - d, hi + d];
    }
    const pad = (hi - lo) * 0.06;
    return [lo - pad, hi + pad];
  };
}

// The unit at the end of an axis label: "i (pA)" -> "pA" ("" when there is none).
export function unitOfLabel(label: string | null | undefined): string {
  const m = /\(([^()]+)\)\s*$/.exec(label || "");
  return m ? m[1] : "";
}

// A cursor readout: 4 significant digits and the unit ("–" off the data).
export function readout(v: number | null | undefined, unit: string): string {
  if (v == null || !Number.isFinite(v)) return "–";
  const text = Math.abs(v) < 1e-12 ? "0" : String(Number(v.toPrecision(4)));
  return unit ? `${text} ${unit}` : text;
}

function buildOptions(model: Model, width: number, hooks: uPlot.Hooks.Arrays): uPlot.Options {
  const meta = model.get("series") || [];
  const hasY2 = meta.some((s) => s.scale === "y2");
  const xUnit = unitOfLabel(model.get("x_label") || "t (ms)");
  const series: uPlot.Series[] = [{ label: model.get("x_label") || "t (ms)", value: (_u, v) => readout(v, xUnit) }];
  meta.forEach((s, i) => {
    const unit = s.unit || unitOfLabel(model.get(s.scale === "y2" ? "y2_label" : "y_label"));
    series.push({
      value: (_u, v) => readout(v, unit),
      label: s.label || `trace ${i + 1}`,
      stroke: s.color || PALETTE[i % PALETTE.length],
      width: s.width || 1.5,
      dash: s.dash ? [6, 4] : undefined,
      scale: s.scale === "y2" ? "y2" : "y",
      points: { show: false },
      spanGaps: false,
    });
  });
  const axes: uPlot.Axis[] = [
    { label: model.get("x_label") || "t (ms)", labelSize: 18, size: 32 },
    { label: model.get("y_label") || "", labelSize: 18, labelGap: 2, size: axisSize, scale: "y" },
  ];
  if (hasY2) {
    axes.push({ label: model.get("y2_label") || "", side: 1, scale: "y2", grid: { show: false }, labelSize: 18,
                labelGap: 2, size: axisSize });
  }
  return {
    width,
    height: model.get("height") || 260,
    series,
    axes,
    scales: {
      x: { time: false },
      y: { auto: true, range: yRange(model, "y") },
      ...(hasY2 ? { y2: { auto: true, range: yRange(model, "y2") } } : {}),
    },
    legend: { live: true },
    cursor: { drag: { x: true, y: false, setScale: true } },
    hooks,
    plugins: [markerPlugin(() => model.get("markers"))],
  };
}

function frame(model: Model): uPlot.AlignedData {
  const t = floats(model.get("t"));
  const meta = model.get("series") || [];
  const ys = splitSeries(floats(model.get("y")), meta.length);
  return [t, ...ys] as uPlot.AlignedData;
}

function extent(arr: ArrayLike<number | null | undefined>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (v != null && Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return [lo, hi];
}

const fmt = (v: number | null | undefined): string => (v == null || !Number.isFinite(v) ? "" : String(+v.toPrecision(6)));

function render({ model, el }: RenderProps<TraceTraits>): () => void {
  el.classList.add("bmtl-trace-panel");
  const title = document.createElement("div");
  title.className = "bmtl-trace-title";
  const status = document.createElement("div");
  status.className = "bmtl-trace-status";
  const error = document.createElement("div");
  error.className = "bmtl-trace-error";
  const plotHost = document.createElement("div");
  plotHost.className = "bmtl-trace-plot";
  el.append(title, status, error, plotHost);

  let plot: uPlot | null = null;
  let seriesKey = "";
  // The user zoomed x (drag); a double-click or a kernel-side autoscale undoes it. Without a
  // zoom every frame is drawn over its own x extent.
  let userZoomed = false;
  let pending = false;
  let drawnVersion: number | null = null;

  const width = () => Math.max(200, Math.floor(el.getBoundingClientRect().width || 480));

  // What was drawn, for tests and for a reviewer in the DOM inspector: scale ranges, the data's
  // extent in view, the number of points in view and the plot area (CSS px, relative to the canvas).
  const report = (u: uPlot) => {
    const xs = u.data[0] || [];
    const sx = u.scales.x as { min: number; max: number };
    const sy = u.scales.y as { min: number; max: number };
    let n = 0;
    for (let i = 0; i < xs.length; i++) if (xs[i] >= sx.min && xs[i] <= sx.max) n++;
    const [dx0, dx1] = extent(xs);
    const [dy0, dy1] = visibleRange(u, "y", Math.max(sx.min, Number(model.get("y_from_ms")) || -Infinity), sx.max);
    const d = el.dataset;
    d.xMin = fmt(sx.min);
    d.xMax = fmt(sx.max);
    d.yMin = fmt(sy.min);
    d.yMax = fmt(sy.max);
    d.dataXMin = fmt(dx0);
    d.dataXMax = fmt(dx1);
    d.dataYMin = fmt(dy0);
    d.dataYMax = fmt(dy1);
    const [ay0, ay1] = visibleRange(u, "y", -Infinity, Infinity);
    d.allYMin = fmt(ay0);
    d.allYMax = fmt(ay1);
    d.yFromMs = fmt(Number(model.get("y_from_ms")) || 0);
    d.drawnPoints = String(n);
    const b = u.bbox;
    const r = devicePixelRatio || 1;
    d.plotBox = [b.left / r, b.top / r, b.width / r, b.height / r].map((v) => v.toFixed(1)).join(",");
    d.drawnVersion = String(drawnVersion);
  };

  const hooks: uPlot.Hooks.Arrays = {
    setSelect: [(u) => { if (u.select.width > 0) userZoomed = true; }],
    draw: [report],
  };

  const rebuild = (data: uPlot.AlignedData) => {
    if (plot) plot.destroy();
    const built = new uPlot(buildOptions(model, width(), hooks), data, plotHost);
    plot = built;
    seriesKey = JSON.stringify([model.get("series"), model.get("y_label"), model.get("y2_label")]);
    built.over.addEventListener("dblclick", () => { userZoomed = false; });
  };

  const update = () => {
    pending = false;
    const data = frame(model);
    const key = JSON.stringify([model.get("series"), model.get("y_label"), model.get("y2_label")]);
    drawnVersion = model.get("version");
    if (model.get("autoscale")) userZoomed = false;
    if (!plot || key !== seriesKey) {
      rebuild(data);
    } else if (!userZoomed || plot.scales.x.min == null) {
      // Rescale x to the new data (y follows it). The old code kept the scales with
      // setData(data, false) + redraw(): right after a rebuild the x scale is still pending
      // (uPlot commits in a microtask), so redraw() set x to [null, null] and the frame came
      // out as empty 0-100 axes until a double-click.
      plot.setData(data, true);
    } else {
      // Keep the user's x zoom: store the data, then re-range y over the zoomed window.
      plot.setData(data, false);
      plot.setScale("x", { min: plot.scales.x.min as number, max: plot.scales.x.max as number });
    }
    el.dataset.points = String(data[0].length);
    el.dataset.series = String(data.length - 1);
    el.dataset.version = String(model.get("version"));
    const finite = (data.slice(1) as Float32Array[]).some((s) => s.some((v) => Number.isFinite(v) && v !== 0));
    el.dataset.hasSignal = finite ? "true" : "false";
  };
  // One message can change series, t, y and version at once: draw once, after all of them.
  const schedule = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(update);
  };

  const updateText = () => {
    title.textContent = model.get("title") || "";
    title.style.display = model.get("title") ? "" : "none";
    status.textContent = model.get("status") || "";
    const err = model.get("error") || "";
    error.textContent = err;
    error.style.display = err ? "" : "none";
    el.dataset.error = err ? "true" : "false";
  };

  update();
  updateText();
  model.on("change:version", schedule);
  model.on("change:series", schedule);
  model.on("change:y_label", schedule);
  model.on("change:y_from_ms", schedule);
  model.on("change:markers", () => plot && plot.redraw(false));
  model.on("change:title", updateText);
  model.on("change:status", updateText);
  model.on("change:error", updateText);
  model.on("change:height", () => plot && plot.setSize({ width: width(), height: model.get("height") }));

  const ro = new ResizeObserver(() => {
    if (plot) plot.setSize({ width: width(), height: model.get("height") || 260 });
  });
  ro.observe(el);
  return () => {
    ro.disconnect();
    if (plot) plot.destroy();
  };
}

export default { render } satisfies WidgetModule<TraceTraits>;
