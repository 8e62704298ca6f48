import { describe, expect, it } from "vitest";
import widget, { readout, unitOfLabel, type TraceTraits } from "../widgets/trace_panel.js";
import { allContexts } from "./canvas_stub.js";
import { f32, FakeModel, flush, host } from "./fake_model.js";

function traits(over: Partial<TraceTraits> = {}): TraceTraits {
  return {
    t: null,
    y: null,
    series: [],
    markers: [],
    x_label: "t (ms)",
    y_label: "v (mV)",
    y2_label: "",
    title: "",
    status: "",
    error: "",
    autoscale: false,
    y_from_ms: null,
    height: 260,
    version: 0,
    ...over,
  };
}

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

// 100 points, t = 0 … 9.9 ms; series 1 rises 0 → 9.9, series 2 falls -5 → 4.9 … as one block.
const T = range(100, (i) => i * 0.1);
const Y = [...range(100, (i) => i * 0.1), ...range(100, (i) => i * 0.1 - 5)];

async function rendered(over: Partial<TraceTraits> = {}) {
  const model = new FakeModel(traits(over));
  const el = host();
  const cleanup = widget.render({ model, el });
  await flush();
  return { model, el, cleanup };
}

describe("trace panel", () => {
  it("draws the series of the model's float32 buffers over their own extent", async () => {
    const { el } = await rendered({
      t: f32(T),
      y: f32(Y),
      series: [{ label: "soma" }, { label: "dend", color: "#123456" }],
      version: 1,
    });
    expect(el.dataset.points).toBe("100");
    expect(el.dataset.series).toBe("2");
    expect(el.dataset.hasSignal).toBe("true");
    expect(el.dataset.drawnVersion).toBe("1");
    // x over the data, y over both series with 6 % padding: [-5, 9.9] ± 0.894
    expect(el.dataset.xMin).toBe("0");
    expect(Number(el.dataset.xMax)).toBeCloseTo(9.9, 5);
    expect(Number(el.dataset.dataYMin)).toBeCloseTo(-5, 5);
    expect(Number(el.dataset.dataYMax)).toBeCloseTo(9.9, 5);
    expect(Number(el.dataset.yMin)).toBeCloseTo(-5 - 14.9 * 0.06, 4);
    expect(Number(el.dataset.yMax)).toBeCloseTo(9.9 + 14.9 * 0.06, 4);
    expect(el.dataset.drawnPoints).toBe("100");
    // the legend names the series; the lines are stroked in the palette / the given colour
    const labels = [...el.querySelectorAll(".u-legend .u-series .u-label")].map((n) => n.textContent);
    expect(labels).toEqual(["t (ms)", "soma", "dend"]);
    const strokes = allContexts.flatMap((c) => c.callsOf("stroke").map((k) => k.state.strokeStyle));
    expect(strokes).toContain("#1f77b4");
    expect(strokes).toContain("#123456");
  });

  it("an empty model draws empty axes without throwing", async () => {
    const { el } = await rendered();
    expect(el.dataset.points).toBe("0");
    expect(el.dataset.series).toBe("0");
    expect(el.dataset.hasSignal).toBe("false");
    expect(el.querySelector(".uplot")).not.toBeNull();
  });

  it("leaves the transient before y_from_ms out of the y range, and draws it clipped", async () => {
    const y = range(100, (i) => (i < 10 ? 1e5 : i * 0.1)); // a clamp's settling spike in the first 1 ms
    const { el, model } = await rendered({ t: f32(T), y: f32(y), series: [{ label: "i" }], version: 1 });
    expect(Number(el.dataset.yMax)).toBeGreaterThan(1e5);
    model.update({ y_from_ms: 1 });
    await flush();
    expect(el.dataset.yFromMs).toBe("1");
    expect(Number(el.dataset.allYMax)).toBe(1e5);
    expect(Number(el.dataset.dataYMax)).toBeCloseTo(9.9, 5);
    expect(Number(el.dataset.yMax)).toBeCloseTo(9.9 + 8.9 * 0.06, 4);
    expect(el.dataset.drawnPoints).toBe("100");
  });

  it("a new frame (t, y and version in one message) redraws once, in the same plot", async () => {
    const { el, model } = await rendered({ t: f32(T), y: f32(Y), series: [{ label: "a" }, { label: "b" }], version: 1 });
    const plot = el.querySelector(".uplot");
    let draws = 0;
    new MutationObserver(() => draws++).observe(el, { attributes: true, attributeFilter: ["data-drawn-version"] });
    model.update({ t: f32(range(50, (i) => i)), y: f32([...range(50, () => 2), ...range(50, () => 3)]), version: 2 });
    await flush();
    expect(el.dataset.version).toBe("2");
    expect(el.dataset.drawnVersion).toBe("2");
    expect(el.dataset.points).toBe("50");
    expect(el.dataset.xMax).toBe("49");
    expect(Number(el.dataset.yMin)).toBeCloseTo(2 - 0.06, 5);
    expect(el.querySelector(".uplot")).toBe(plot);
    expect(draws).toBe(1);
  });

  it("rebuilds the plot when the series change, with a second y axis for scale y2", async () => {
    const { el, model } = await rendered({ t: f32(T), y: f32(Y), series: [{ label: "a" }, { label: "b" }], version: 1 });
    const plot = el.querySelector(".uplot");
    model.update({ series: [{ label: "v" }, { label: "i", scale: "y2", unit: "nA" }], y2_label: "i (nA)" });
    await flush();
    expect(el.querySelector(".uplot")).not.toBe(plot);
    expect(el.querySelectorAll(".uplot")).toHaveLength(1);
    const labels = [...el.querySelectorAll(".u-legend .u-series .u-label")].map((n) => n.textContent);
    expect(labels).toEqual(["t (ms)", "v", "i"]);
    // the y axis ranges only its own series: b is on y2 now
    expect(Number(el.dataset.dataYMin)).toBeCloseTo(0, 5);
  });

  it("shows the title, the status and an error box from their traits", async () => {
    const { el, model } = await rendered({ title: "Exc → PV", status: "running 40%" });
    const title = el.querySelector<HTMLElement>(".bmtl-trace-title")!;
    const error = el.querySelector<HTMLElement>(".bmtl-trace-error")!;
    expect(title.textContent).toBe("Exc → PV");
    expect(el.querySelector(".bmtl-trace-status")!.textContent).toBe("running 40%");
    expect(error.style.display).toBe("none");
    expect(el.dataset.error).toBe("false");
    model.update({ error: "NEURON: no such mechanism", title: "" });
    expect(error.textContent).toBe("NEURON: no such mechanism");
    expect(error.style.display).toBe("");
    expect(el.dataset.error).toBe("true");
    expect(title.style.display).toBe("none");
  });

  it("draws the markers inside the x range as dashed vertical lines", async () => {
    const { model } = await rendered({ t: f32(T), y: f32(Y), series: [{}, {}], version: 1 });
    const dashes = () => allContexts.flatMap((c) => c.callsOf("setLineDash")).filter((c) => (c.args[0] as number[])[0] === 3);
    expect(dashes()).toHaveLength(0);
    model.update({ markers: [2, 5, 50] }); // 50 ms is past the data: not drawn
    await flush();
    const ctx = allContexts.find((c) => c.callsOf("setLineDash").length)!;
    const lines = ctx.calls.slice(ctx.calls.findIndex((c) => c.op === "setLineDash" && (c.args[0] as number[])[0] === 3));
    const strokes = lines.filter((c) => c.op === "stroke" && c.args.length === 0);
    expect(dashes()).toHaveLength(1);
    expect(strokes).toHaveLength(2);
  });

  it("unnamed series get numbered labels and palette colours; the readout has 4 digits and the unit", () => {
    expect(unitOfLabel("i (pA)")).toBe("pA");
    expect(unitOfLabel("v (mV) ")).toBe("mV");
    expect(unitOfLabel("time")).toBe("");
    expect(unitOfLabel(null)).toBe("");
    expect(readout(-65.12345, "mV")).toBe("-65.12 mV");
    expect(readout(1234567, "")).toBe("1235000");
    expect(readout(3e-13, "nA")).toBe("0 nA");
    expect(readout(null, "mV")).toBe("–");
    expect(readout(NaN, "mV")).toBe("–");
  });

  it("the legend of unnamed series numbers them", async () => {
    const { el } = await rendered({ t: f32(T), y: f32(Y), series: [{}, {}], version: 1 });
    const labels = [...el.querySelectorAll(".u-legend .u-series .u-label")].map((n) => n.textContent);
    expect(labels).toEqual(["t (ms)", "trace 1", "trace 2"]);
  });

  it("the returned cleanup destroys the plot", async () => {
    const { el, cleanup } = await rendered({ t: f32(T), y: f32(Y), series: [{}, {}], version: 1 });
    expect(el.querySelector(".uplot")).not.toBeNull();
    (cleanup as () => void)();
    expect(el.querySelector(".uplot")).toBeNull();
  });
});
