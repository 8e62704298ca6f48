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
//   autoscale bool   rescale axes on the next frame (new protocol); otherwise keep scales
//   height   int     plot height in px; width follows the container (sidebar aware)
//   version  int     bumped by the kernel with every frame
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./trace_panel.css";
import { floats, splitSeries } from "./_floats.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];

function markerPlugin(getMarkers) {
  return {
    hooks: {
      draw: [
        (u) => {
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

function buildOptions(model, width) {
  const meta = model.get("series") || [];
  const hasY2 = meta.some((s) => s.scale === "y2");
  const series = [{ label: model.get("x_label") || "t (ms)" }];
  meta.forEach((s, i) => {
    series.push({
      label: s.label || `trace ${i + 1}`,
      stroke: s.color || PALETTE[i % PALETTE.length],
      width: s.width || 1.5,
      dash: s.dash ? [6, 4] : undefined,
      scale: s.scale === "y2" ? "y2" : "y",
      points: { show: false },
      spanGaps: false,
    });
  });
  const axes = [
    { label: model.get("x_label") || "t (ms)", labelSize: 18, size: 36 },
    { label: model.get("y_label") || "", labelSize: 18, size: 56, scale: "y" },
  ];
  if (hasY2) axes.push({ label: model.get("y2_label") || "", side: 1, scale: "y2", grid: { show: false }, size: 56 });
  return {
    width,
    height: model.get("height") || 260,
    series,
    axes,
    scales: { x: { time: false }, y: { auto: true }, ...(hasY2 ? { y2: { auto: true } } : {}) },
    legend: { live: true },
    cursor: { drag: { x: true, y: false, setScale: true } },
    plugins: [markerPlugin(() => model.get("markers"))],
  };
}

function frame(model) {
  const t = floats(model.get("t"));
  const meta = model.get("series") || [];
  const ys = splitSeries(floats(model.get("y")), meta.length);
  return [t, ...ys];
}

function render({ model, el }) {
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

  let plot = null;
  let seriesKey = "";

  const width = () => Math.max(200, Math.floor(el.getBoundingClientRect().width || 480));

  const rebuild = () => {
    if (plot) plot.destroy();
    plot = new uPlot(buildOptions(model, width()), frame(model), plotHost);
    seriesKey = JSON.stringify([model.get("series"), model.get("y_label"), model.get("y2_label")]);
  };

  const update = () => {
    const data = frame(model);
    const key = JSON.stringify([model.get("series"), model.get("y_label"), model.get("y2_label")]);
    if (!plot || key !== seriesKey) {
      rebuild();
    } else {
      // Keep the user's zoom unless the kernel asks for a rescale (new protocol, new cell).
      // uPlot's setData(data, false) stores the data but does not draw: redraw() rebuilds the
      // paths at the current x range (y follows the visible data).
      const autoscale = Boolean(model.get("autoscale"));
      plot.setData(data, autoscale);
      if (!autoscale) plot.redraw();
    }
    el.dataset.points = String(data[0].length);
    el.dataset.series = String(data.length - 1);
    el.dataset.version = String(model.get("version"));
    const finite = data.slice(1).some((s) => s.some((v) => Number.isFinite(v) && v !== 0));
    el.dataset.hasSignal = finite ? "true" : "false";
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
  model.on("change:version", update);
  model.on("change:series", update);
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

export default { render };
