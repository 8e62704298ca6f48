// Population graph (SVG): groups on a circle (circle area ∝ cells), connections as curved arrows
// (self-connections as loops), width ∝ the metric's value, gap junctions dashed and undirected.
//
// Model contract (see bmtool_lab/widgets/network_graph.py):
//   nodes  [{label, size, color}]       edges  [{source, target, source_label, target_label, value, kind, width, text}]
//   title  text above the graph           selected_edge  index drawn as chosen (-1 none)    height  px
// Messages: sends {type: "click", edge: i}; receives {type: "save_png", name}.
// Test hooks on el.dataset: nodes, edges (drawn), labels (JSON list), hovered (the readout text),
//   clicked (last clicked edge), draws, pngBytes (size of the last PNG made).
import "./network_graph.css";
import { onWidthChange } from "./_resize.js";
import type { RenderProps, WidgetModule } from "./_anywidget.js";

export interface GraphNode {
  label: string;
  size: number;
  color?: string;
}

export interface GraphEdge {
  source: number;
  target: number;
  source_label: string;
  target_label: string;
  value: number;
  kind: string;
  width: number;
  text: string;
}

export interface GraphTraits {
  nodes: GraphNode[];
  edges: GraphEdge[];
  title: string;
  selected_edge: number;
  height: number;
}

type Vec = [number, number];
type Attrs = Record<string, string | number | undefined>;

const SVG = "http://www.w3.org/2000/svg";
const GAP_COLOUR = "#555555";
const FONT = "sans-serif";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, parent: Element | null = null):
  SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.append(e);
  return e;
}

const add = (a: Vec, b: Vec, s = 1): Vec => [a[0] + b[0] * s, a[1] + b[1] * s];
const unit = (a: Vec, b: Vec): Vec => {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const d = Math.hypot(dx, dy) || 1;
  return [dx / d, dy / d];
};
const dir = (angle: number): Vec => [Math.cos(angle), Math.sin(angle)];

function render({ model, el }: RenderProps<GraphTraits>): () => void {
  el.classList.add("bmtl-graph");
  const title = document.createElement("div");
  title.className = "bmtl-graph-title";
  const host = document.createElement("div");
  host.className = "bmtl-graph-host";
  const readout = document.createElement("div");
  readout.className = "bmtl-graph-readout";
  el.append(title, host, readout);
  const root = svg("svg", { class: "bmtl-graph-svg" }, host);
  let draws = 0;
  let width = 0;

  const say = (text: string) => {
    readout.textContent = text;
    el.dataset.hovered = text;
  };

  const draw = () => {
    const nodes = model.get("nodes") || [];
    const edges = model.get("edges") || [];
    const chosen = model.get("selected_edge");
    const W = Math.max(160, Math.floor(width || host.getBoundingClientRect().width || 480));
    const H = Math.max(160, Math.min(model.get("height") || 380, W + 20));  // no empty band when narrow
    root.replaceChildren();
    root.setAttribute("width", String(W));
    root.setAttribute("height", String(H));
    root.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg("rect", { x: 0, y: 0, width: W, height: H, fill: "#ffffff" }, root);
    title.textContent = model.get("title") || "";
    const n = nodes.length;
    const rMax = Math.max(8, Math.min(22, Math.min(W, H) * 0.07));
    const loop = rMax * 0.9 + 14;
    const margin = rMax + loop + 4;
    const R = n > 1 ? Math.max(10, Math.min(W, H) / 2 - margin) : 0;
    const centre: Vec = [W / 2, H / 2];
    const largest = Math.max(1, ...nodes.map((d) => d.size || 0));
    const angle = nodes.map((_, i) => -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n));
    const at = angle.map((a) => add(centre, dir(a), R));
    const radius = nodes.map((d) => Math.max(4, rMax * Math.sqrt((d.size || 0) / largest)));

    const gEdges = svg("g", { class: "bmtl-graph-edges" }, root);
    const gNodes = svg("g", { class: "bmtl-graph-nodes" }, root);
    const gHits = svg("g", { class: "bmtl-graph-hits" }, root);
    const visible: number[] = [];
    edges.forEach((e, k) => {
      const i = e.source, j = e.target;
      if (!(i in at) || !(j in at)) return;
      const gap = e.kind === "gap_junction";
      const wpx = e.width || 1;
      let d: string, tip: Vec, back: Vec;
      if (i === j) {
        // a loop outside the node, away from the centre; gap-junction loops beside the chemical one
        const a = angle[i] + (gap ? 1.1 : 0);
        const size = loop;
        const s = add(at[i], dir(a - 0.45), radius[i]);
        const t = add(at[i], dir(a + 0.45), radius[i] + (gap ? 0 : 2));
        const c1 = add(at[i], dir(a - 0.6), radius[i] + size * 1.6);
        const c2 = add(at[i], dir(a + 0.6), radius[i] + size * 1.6);
        d = `M${s[0]},${s[1]} C${c1[0]},${c1[1]} ${c2[0]},${c2[1]} ${t[0]},${t[1]}`;
        tip = t;
        back = unit(t, c2);
      } else {
        const u = unit(at[i], at[j]);
        const dist = Math.hypot(at[j][0] - at[i][0], at[j][1] - at[i][1]);
        const normal: Vec = [-u[1], u[0]];
        const c = add([(at[i][0] + at[j][0]) / 2, (at[i][1] + at[j][1]) / 2], normal, dist * (gap ? 0.08 : 0.18));
        const s = add(at[i], unit(at[i], c), radius[i]);
        const t = add(at[j], unit(at[j], c), radius[j] + (gap ? 0 : 2));
        d = `M${s[0]},${s[1]} Q${c[0]},${c[1]} ${t[0]},${t[1]}`;
        tip = t;
        back = unit(t, c);
      }
      const colour = k === chosen ? "#111111" : gap ? GAP_COLOUR : nodes[i].color || "#888888";
      const line = svg("path", {
        d, fill: "none", stroke: colour, "stroke-width": k === chosen ? wpx + 2 : wpx,
        "stroke-opacity": k === chosen ? 1 : 0.75, "stroke-linecap": "round", class: "bmtl-graph-edge",
        "data-source": e.source_label, "data-target": e.target_label, "data-kind": e.kind, "data-value": e.value,
        "data-edge": k,
      }, gEdges);
      if (gap) line.setAttribute("stroke-dasharray", `${2 * wpx + 4} ${wpx + 3}`);
      else {
        // the arrowhead: a triangle at the end, along the curve's last tangent
        const len = 6 + wpx * 0.9;
        const base = add(tip, back, len);
        const side: Vec = [-back[1], back[0]];
        const p1 = add(base, side, len * 0.45), p2 = add(base, side, -len * 0.45);
        svg("path", { d: `M${tip[0]},${tip[1]} L${p1[0]},${p1[1]} L${p2[0]},${p2[1]} Z`, fill: colour,
          "fill-opacity": k === chosen ? 1 : 0.85, class: "bmtl-graph-arrow" }, gEdges);
      }
      const hit = svg("path", { d, fill: "none", stroke: "transparent", "stroke-width": Math.max(12, wpx + 8),
        class: "bmtl-graph-hit", "data-edge": k, "pointer-events": "stroke" }, gHits);
      hit.addEventListener("pointerenter", () => {
        line.setAttribute("stroke-opacity", "1");
        say(e.text);
      });
      hit.addEventListener("pointerleave", () => line.setAttribute("stroke-opacity", String(k === chosen ? 1 : 0.75)));
      hit.addEventListener("click", () => {
        el.dataset.clicked = String(k);
        say(e.text);
        model.send({ type: "click", edge: k });
      });
      visible.push(k);
    });
    nodes.forEach((d, i) => {
      const c = svg("circle", { cx: at[i][0], cy: at[i][1], r: radius[i], fill: d.color || "#888888",
        "fill-opacity": 0.9, stroke: "#333333", "stroke-width": 1, class: "bmtl-graph-node",
        "data-label": d.label, "data-size": d.size }, gNodes);
      c.addEventListener("pointerenter", () => say(`${d.label}: ${d.size} cells`));
      const text = svg("text", { x: at[i][0], y: at[i][1], "text-anchor": "middle", "dominant-baseline": "central",
        "font-size": 11, "font-family": FONT, fill: "#111111", stroke: "#ffffff", "stroke-width": 3,
        "paint-order": "stroke", class: "bmtl-graph-label", "pointer-events": "none" }, gNodes);
      text.textContent = d.label;
      // keep the label inside the figure (a long label on a side node)
      const half = text.getComputedTextLength() / 2 + 2;
      if (half > 2) text.setAttribute("x", String(Math.min(W - half, Math.max(half, at[i][0]))));
    });
    draws += 1;
    Object.assign(el.dataset, { nodes: String(n), edges: String(visible.length), draws: String(draws),
      labels: JSON.stringify(nodes.map((d) => d.label)), selectedEdge: String(chosen) });
    if (!edges.length) say(n ? "no connections between these groups" : "");
  };

  const savePng = (name: string | undefined) => {
    const clone = root.cloneNode(true) as SVGSVGElement;
    const W = Number(root.getAttribute("width")), H = Number(root.getAttribute("height"));
    clone.setAttribute("xmlns", SVG);
    clone.setAttribute("height", String(H + 20));
    clone.setAttribute("viewBox", `0 -20 ${W} ${H + 20}`);
    svg("rect", { x: 0, y: -20, width: W, height: 20, fill: "#ffffff" }, clone);
    const t = svg("text", { x: 4, y: -6, "font-size": 12, "font-family": FONT, fill: "#111111" }, clone);
    t.textContent = model.get("title") || "";
    for (const h of clone.querySelectorAll(".bmtl-graph-hits")) h.remove();
    const img = new Image();
    img.onload = () => {
      const scale = 2;
      const canvas = document.createElement("canvas");
      canvas.width = W * scale;
      canvas.height = (H + 20) * scale;
      const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      const url = canvas.toDataURL("image/png");
      el.dataset.pngBytes = String(Math.floor((url.length - 22) * 0.75));
      const a = document.createElement("a");
      a.href = url;
      a.download = name || "network_graph.png";
      a.click();
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(clone));
  };

  for (const k of ["nodes", "edges", "title", "selected_edge", "height"] as const) model.on(`change:${k}`, draw);
  model.on("msg:custom", (msg: { type?: string; name?: string } | null) => {
    if (msg?.type === "save_png") savePng(msg.name);
  });
  draw();
  return onWidthChange(host, (wpx) => {
    width = wpx;
    draw();
  });
}

export default { render } satisfies WidgetModule<GraphTraits>;
