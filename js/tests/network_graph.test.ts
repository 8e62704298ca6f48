import { beforeAll, describe, expect, it } from "vitest";
import widget, { type GraphTraits } from "../widgets/network_graph.js";
import { FakeModel, host } from "./fake_model.js";

beforeAll(() => {
  // happy-dom lays out no text: 6 px per character, as the canvas stub measures it
  const proto = SVGElement.prototype as unknown as { getComputedTextLength?: () => number };
  proto.getComputedTextLength ??= function (this: SVGElement) {
    return (this.textContent ?? "").length * 6;
  };
});

const NODES = [{ label: "Exc", size: 80, color: "#d62728" }, { label: "PV", size: 20, color: "#1f77b4" }];
const edge = (source: number, target: number, kind = "chemical", text = "") => ({
  source, target, source_label: NODES[source].label, target_label: NODES[target].label, value: 18, kind, width: 3,
  text: text || `${NODES[source].label} → ${NODES[target].label}: 18 connections`,
});

function rendered(over: Partial<GraphTraits> = {}) {
  const model = new FakeModel<GraphTraits>({
    nodes: NODES,
    edges: [edge(0, 1), edge(1, 1), edge(0, 1, "gap_junction", "Exc — PV: 2 gap junctions")],
    title: "synapses",
    selected_edge: -1,
    height: 380,
    ...over,
  });
  const el = host();
  widget.render({ model, el });
  return { model, el };
}

describe("population graph", () => {
  it("a circle per group with area ∝ cells, an edge per connection, gap junctions dashed without arrow", () => {
    const { el } = rendered();
    expect(el.dataset.nodes).toBe("2");
    expect(el.dataset.edges).toBe("3");
    expect(JSON.parse(el.dataset.labels!)).toEqual(["Exc", "PV"]);
    const r = [...el.querySelectorAll("circle.bmtl-graph-node")].map((c) => Number(c.getAttribute("r")));
    expect(r[1] / r[0]).toBeCloseTo(Math.sqrt(20 / 80), 6);
    const lines = [...el.querySelectorAll("path.bmtl-graph-edge")];
    expect(lines.map((l) => l.getAttribute("data-kind"))).toEqual(["chemical", "chemical", "gap_junction"]);
    expect(lines[2].getAttribute("stroke-dasharray")).toBe("10 6");
    expect(lines[0].getAttribute("stroke-dasharray")).toBeNull();
    expect(el.querySelectorAll("path.bmtl-graph-arrow")).toHaveLength(2);
    expect(lines[0].getAttribute("stroke")).toBe("#d62728"); // the source group's colour
  });

  it("hover reads the edge, a click sends its index to the kernel", () => {
    const { el, model } = rendered();
    const hit = el.querySelectorAll("path.bmtl-graph-hit")[0];
    hit.dispatchEvent(new Event("pointerenter"));
    expect(el.dataset.hovered).toBe("Exc → PV: 18 connections");
    el.querySelectorAll("path.bmtl-graph-hit")[2].dispatchEvent(new MouseEvent("click"));
    expect(model.sent).toEqual([{ content: { type: "click", edge: 2 }, buffers: undefined }]);
    expect(el.dataset.clicked).toBe("2");
    expect(el.querySelector(".bmtl-graph-readout")!.textContent).toBe("Exc — PV: 2 gap junctions");
  });

  it("draws the kernel's selected edge dark and wider; says when there are no connections", () => {
    const { el, model } = rendered();
    model.update({ selected_edge: 1 });
    const line = el.querySelectorAll("path.bmtl-graph-edge")[1];
    expect(line.getAttribute("stroke")).toBe("#111111");
    expect(line.getAttribute("stroke-width")).toBe("5");
    expect(el.dataset.selectedEdge).toBe("1");
    model.update({ edges: [] });
    expect(el.dataset.edges).toBe("0");
    expect(el.dataset.hovered).toBe("no connections between these groups");
  });
});
