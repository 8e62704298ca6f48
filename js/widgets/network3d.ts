// Network 3D view: every cell as a WebGL point, cell axes as short segments, orbit/zoom/pan,
// hidden groups, highlighted sources/targets and a shift-drag box selection.
//
// Model contract (see bmtool_lab/widgets/network3d.py):
//   positions  Bytes float32 N×3 (µm)            groups  Bytes uint8/uint16 group index per cell (uint16)
//   axes       Bytes float32 N×3 unit vectors (empty: no axes)   axis_length_um  float
//   group_labels, group_colors  lists (hex colours)  hidden  list of group indices not drawn
//   highlight  Bytes uint8 per cell: 0 none, 1 source, 2 target, 3 both (empty: none)
//   selected   list of cell indices (set here by a shift-drag box; synced to the kernel)
//   point_size float px, height int px
//   preview_max int: while the camera moves (drag, wheel) only every k-th cell is drawn, k the
//     smallest with n / k <= preview_max, axes hidden; the whole network is drawn again once the
//     movement ends (SETTLE_MS after the last event). 0: always draw everything.
// Per frame only the camera uniform changes: buffers are uploaded when data change, never while
// moving, and the frame allocates nothing (matrices, attribute and uniform locations are kept).
// Test hooks on el.dataset: points (cells drawn), hiddenPoints, frames (draws), frameMs (last draw's
//   JavaScript, ms), preview ("1" if the last frame was a moving preview), previewEvery (k),
//   previewPoints (cells in the preview), highlighted (cells highlighted), selected (count), gl ("webgl" or "none").
import "./network3d.css";
import { floats } from "./_floats.js";
import type { Binary, RenderProps, WidgetModule } from "./_anywidget.js";

export interface Network3DTraits {
  positions: Binary;
  groups: Binary;
  axes: Binary;
  axis_length_um: number;
  group_labels: string[];
  group_colors: string[];
  hidden: number[];
  highlight: Binary;
  selected: number[];
  point_size: number;
  height: number;
  preview_max: number | null;
}

type Vec3 = [number, number, number];
type Mat4 = Float32Array;
interface Program {
  prog: WebGLProgram;
  a_pos: number;
  a_col: number;
  a_show: number;
  u_mvp: WebGLUniformLocation | null;
  u_size: WebGLUniformLocation | null;
}
// The camera message from the kernel (or a benchmark) and the PNG request.
interface Custom {
  type?: string;
  name?: string;
  dyaw?: number;
  dpitch?: number;
  moving?: boolean;
}
const bytesOf = (v: Binary): ArrayBufferView | null =>
  v && ArrayBuffer.isView(v) ? v : v instanceof ArrayBuffer ? new DataView(v) : null;

const VERT = `
attribute vec3 a_pos; attribute vec3 a_col; attribute float a_show;
uniform mat4 u_mvp; uniform float u_size;
varying vec3 v_col; varying float v_show;
void main() {
  gl_Position = u_mvp * vec4(a_pos, 1.0);
  gl_PointSize = u_size;
  v_col = a_col; v_show = a_show;
}`;
const FRAG_POINTS = `
precision mediump float; varying vec3 v_col; varying float v_show;
void main() {
  if (v_show < 0.5) discard;
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  gl_FragColor = vec4(v_col, 1.0);
}`;
const FRAG_LINES = `
precision mediump float; varying vec3 v_col; varying float v_show;
void main() { if (v_show < 0.5) discard; gl_FragColor = vec4(v_col * 0.7, 1.0); }`;

const SETTLE_MS = 150;  // full redraw this long after the last drag/wheel event
const HIGHLIGHT: (Vec3 | null)[] = [null, [0.85, 0.1, 0.1], [0.1, 0.35, 0.95], [0.6, 0.1, 0.7]];
const DIM: Vec3 = [0.82, 0.82, 0.82];

export function hexRgb(h: string | null | undefined): number[] {
  const s = String(h || "#888888").replace("#", "");
  return [0, 2, 4].map((i) => parseInt(s.slice(i, i + 2), 16) / 255);
}

function compile(gl: WebGLRenderingContext, vsrc: string, fsrc: string): WebGLProgram {
  const prog = gl.createProgram() as WebGLProgram;
  for (const [type, src] of [[gl.VERTEX_SHADER, vsrc], [gl.FRAGMENT_SHADER, fsrc]] as [number, string][]) {
    const sh = gl.createShader(type) as WebGLShader;
    gl.shaderSource(sh, src);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh) ?? "");
    gl.attachShader(prog, sh);
  }
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog) ?? "");
  return prog;
}

// column-major 4×4 helpers, writing into `o` (no allocation per frame)
export function mulInto(o: Mat4, a: Mat4, b: Mat4): Mat4 {
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
    o[c * 4 + r] = s;
  }
  return o;
}
export function perspectiveInto(o: Mat4, fovy: number, aspect: number, near: number, far: number): Mat4 {
  const f = 1 / Math.tan(fovy / 2);
  o.fill(0);
  o[0] = f / aspect; o[5] = f; o[10] = (far + near) / (near - far); o[11] = -1; o[14] = (2 * far * near) / (near - far);
  return o;
}
export function viewInto(o: Mat4, yaw: number, pitch: number, dist: number, target: number[]): Mat4 {
  // camera orbits `target` at `dist`; rotation yaw about y, then pitch about x, then back by dist:
  // back · r · translate(-target), written out
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  o[0] = cy; o[1] = sy * sp; o[2] = -sy * cp; o[3] = 0;
  o[4] = 0; o[5] = cp; o[6] = sp; o[7] = 0;
  o[8] = sy; o[9] = -cy * sp; o[10] = cy * cp; o[11] = 0;
  const [tx, ty, tz] = target;
  o[12] = -(o[0] * tx + o[4] * ty + o[8] * tz);
  o[13] = -(o[1] * tx + o[5] * ty + o[9] * tz);
  o[14] = -(o[2] * tx + o[6] * ty + o[10] * tz) - dist;
  o[15] = 1;
  return o;
}

function render({ model, el }: RenderProps<Network3DTraits>): (() => void) | undefined {
  el.classList.add("bmtl-network3d");
  const canvas = document.createElement("canvas");
  const legend = document.createElement("div");
  legend.className = "bmtl-network3d-legend";
  const box = document.createElement("div");
  box.className = "bmtl-network3d-box";
  const note = document.createElement("div");
  note.className = "bmtl-network3d-note";
  const host = document.createElement("div");
  host.className = "bmtl-network3d-host";
  host.append(canvas, box, note);
  el.append(host, legend);
  const gl = canvas.getContext("webgl", { preserveDrawingBuffer: true, antialias: false }) as WebGLRenderingContext | null;
  el.dataset.gl = gl ? "webgl" : "none";
  if (!gl) {
    legend.textContent = "WebGL is not available in this browser: the 3D view cannot draw.";
    return;
  }
  // programs with their attribute and uniform locations, looked up once
  const program = (fsrc: string): Program => {
    const prog = compile(gl, VERT, fsrc);
    return { prog, a_pos: gl.getAttribLocation(prog, "a_pos"), a_col: gl.getAttribLocation(prog, "a_col"),
      a_show: gl.getAttribLocation(prog, "a_show"), u_mvp: gl.getUniformLocation(prog, "u_mvp"),
      u_size: gl.getUniformLocation(prog, "u_size") };
  };
  const points = program(FRAG_POINTS);
  const lines = program(FRAG_LINES);
  const buf = { pos: gl.createBuffer(), col: gl.createBuffer(), show: gl.createBuffer(),
    lpos: gl.createBuffer(), lcol: gl.createBuffer(), lshow: gl.createBuffer(),
    ppos: gl.createBuffer(), pcol: gl.createBuffer(), pshow: gl.createBuffer() };
  let n = 0;
  let nLines = 0;
  let every = 1;  // the moving preview draws cells 0, every, 2·every, …
  let nPreview = 0;
  let pos: Float32Array = new Float32Array(0);
  let centre: number[] = [0, 0, 0];
  let radius = 1;
  const cam = { yaw: 0.6, pitch: 0.35, dist: 3, pan: [0, 0, 0] as Vec3 };
  let frames = 0;
  const mvp = new Float32Array(16);
  const projM = new Float32Array(16);
  const viewM = new Float32Array(16);
  const target: Vec3 = [0, 0, 0];
  let cssW = 480;
  let moving = false;
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  let rafPending = 0;

  const groupsOf = () => {
    const g = bytesOf(model.get("groups"));
    if (!g || !g.byteLength) return new Uint16Array(n);
    const len = Math.floor(g.byteLength / 2);
    return new Uint16Array(g.buffer.slice(g.byteOffset, g.byteOffset + len * 2)); // aligned copy
  };

  // every k-th element of a flat array of `size`-vectors: the stable preview subsample
  const strided = (src: Float32Array, size: number) => {
    const out = new Float32Array(nPreview * size);
    for (let j = 0; j < nPreview; j++) for (let a = 0; a < size; a++) out[j * size + a] = src[j * every * size + a];
    return out;
  };

  const upload = () => {
    pos = floats(model.get("positions"));
    n = Math.floor(pos.length / 3);
    const pmax = model.get("preview_max") ?? 15000;
    every = pmax > 0 && n > pmax ? Math.ceil(n / pmax) : 1;
    nPreview = every > 1 ? Math.ceil(n / every) : 0;
    el.dataset.previewEvery = String(every);
    el.dataset.previewPoints = String(nPreview);
    let lo = [Infinity, Infinity, Infinity];
    let hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < n * 3; i++) {
      const a = i % 3;
      if (pos[i] < lo[a]) lo[a] = pos[i];
      if (pos[i] > hi[a]) hi[a] = pos[i];
    }
    if (n === 0) { lo = [0, 0, 0]; hi = [1, 1, 1]; }
    centre = lo.map((l, a) => (l + hi[a]) / 2);
    radius = Math.max(1, Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2);
    cam.dist = radius * 3;
    cam.pan = [0, 0, 0];
    gl.bindBuffer(gl.ARRAY_BUFFER, buf.pos);
    gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, buf.ppos);
    gl.bufferData(gl.ARRAY_BUFFER, strided(pos, 3), gl.STATIC_DRAW);
    const axes = floats(model.get("axes"));
    const len = model.get("axis_length_um") || radius * 0.05;
    nLines = axes.length >= n * 3 ? n : 0;
    const lp = new Float32Array(nLines * 6);
    for (let i = 0; i < nLines; i++) {
      for (let a = 0; a < 3; a++) {
        lp[i * 6 + a] = pos[i * 3 + a];
        lp[i * 6 + 3 + a] = pos[i * 3 + a] + axes[i * 3 + a] * len;
      }
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, buf.lpos);
    gl.bufferData(gl.ARRAY_BUFFER, lp, gl.STATIC_DRAW);
    recolour();
  };

  const recolour = () => {
    const groups = groupsOf();
    const colours = (model.get("group_colors") || []).map(hexRgb);
    const hidden = new Set(model.get("hidden") || []);
    const hl = bytesOf(model.get("highlight"));
    const hlv = hl && hl.byteLength >= n ? new Uint8Array(hl.buffer, hl.byteOffset, n) : null;
    const col = new Float32Array(n * 3);
    const show = new Float32Array(n);
    let shown = 0;
    let highlighted = 0;
    for (let i = 0; i < n; i++) {
      const g = groups[i] ?? 0;
      const h = hlv ? hlv[i] : 0;
      const rgb = h ? (HIGHLIGHT[h] as Vec3) : hlv ? DIM : colours[g] || [0.4, 0.4, 0.4];
      col.set(rgb, i * 3);
      show[i] = hidden.has(g) ? 0 : 1;
      shown += show[i];
      if (h) highlighted += 1;
    }
    for (const [b, data] of [[buf.col, col], [buf.show, show], [buf.pcol, strided(col, 3)], [buf.pshow, strided(show, 1)]] as
      [WebGLBuffer, Float32Array][]) {
      gl.bindBuffer(gl.ARRAY_BUFFER, b);
      gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW);
    }
    // the axis segments take their cell's colour and visibility at both ends
    const lc = new Float32Array(nLines * 6);
    const ls = new Float32Array(nLines * 2);
    for (let i = 0; i < nLines; i++) {
      lc.set(col.subarray(i * 3, i * 3 + 3), i * 6);
      lc.set(col.subarray(i * 3, i * 3 + 3), i * 6 + 3);
      ls[i * 2] = ls[i * 2 + 1] = show[i];
    }
    for (const [b, data] of [[buf.lcol, lc], [buf.lshow, ls]] as [WebGLBuffer, Float32Array][]) {
      gl.bindBuffer(gl.ARRAY_BUFFER, b);
      gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW);
    }
    el.dataset.points = String(shown);
    el.dataset.hiddenPoints = String(n - shown);
    el.dataset.highlighted = String(highlighted);
    drawLegend(colours, hidden);
    draw();
  };

  const drawLegend = (colours: number[][], hidden: Set<number>) => {
    legend.replaceChildren();
    (model.get("group_labels") || []).forEach((label, g) => {
      const item = document.createElement("button");
      item.className = "bmtl-network3d-group" + (hidden.has(g) ? " bmtl-hidden" : "");
      item.title = hidden.has(g) ? "show this group" : "hide this group";
      const sw = document.createElement("span");
      sw.className = "bmtl-network3d-swatch";
      sw.style.background = `rgb(${colours[g]?.map((c) => Math.round(c * 255)).join(",") ?? "128,128,128"})`;
      item.append(sw, document.createTextNode(String(label)));
      item.addEventListener("click", () => {
        const h = new Set(model.get("hidden") || []);
        if (h.has(g)) h.delete(g); else h.add(g);
        model.set("hidden", [...h].sort((a, b) => a - b));
        model.save_changes();
      });
      legend.append(item);
    });
  };

  const resize = () => {
    cssW = Math.max(120, Math.floor(host.getBoundingClientRect().width || 480));  // the sidebar is ~190 px inside
    const height = Math.max(160, model.get("height") || 420);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${cssW}px`;
      canvas.style.height = `${height}px`;
    }
  };

  const bind = (p: Program, bp: WebGLBuffer, bc: WebGLBuffer, bs: WebGLBuffer) => {
    gl.useProgram(p.prog);
    gl.bindBuffer(gl.ARRAY_BUFFER, bp);
    gl.enableVertexAttribArray(p.a_pos);
    gl.vertexAttribPointer(p.a_pos, 3, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, bc);
    gl.enableVertexAttribArray(p.a_col);
    gl.vertexAttribPointer(p.a_col, 3, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, bs);
    gl.enableVertexAttribArray(p.a_show);
    gl.vertexAttribPointer(p.a_show, 1, gl.FLOAT, false, 0, 0);
    gl.uniformMatrix4fv(p.u_mvp, false, mvp);
    gl.uniform1f(p.u_size, (model.get("point_size") || 4) * (window.devicePixelRatio || 1));
  };

  // one frame: the whole network, or (preview) every k-th cell without axes. Only the camera
  // matrix is computed here; the buffers are the ones uploaded with the data.
  const frame = (preview: boolean) => {
    const t0 = performance.now();
    const sub = preview && every > 1;
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    target[0] = centre[0] + cam.pan[0]; target[1] = centre[1] + cam.pan[1]; target[2] = centre[2] + cam.pan[2];
    mulInto(mvp, perspectiveInto(projM, 0.8, canvas.width / canvas.height, radius * 0.01, cam.dist + radius * 4),
      viewInto(viewM, cam.yaw, cam.pitch, cam.dist, target));
    if (sub) {
      bind(points, buf.ppos, buf.pcol, buf.pshow);
      gl.drawArrays(gl.POINTS, 0, nPreview);
    } else {
      if (nLines) {
        bind(lines, buf.lpos, buf.lcol, buf.lshow);
        gl.drawArrays(gl.LINES, 0, nLines * 2);
      }
      if (n) {
        bind(points, buf.pos, buf.col, buf.show);
        gl.drawArrays(gl.POINTS, 0, n);
      }
    }
    if (sub !== (note.dataset.on === "1")) {
      note.dataset.on = sub ? "1" : "0";
      note.textContent = sub ? `preview: 1 in ${every} cells while moving` : "";
      note.style.display = sub ? "block" : "none";
    }
    frames += 1;
    el.dataset.frames = String(frames);
    el.dataset.preview = sub ? "1" : "0";
    el.dataset.frameMs = (performance.now() - t0).toFixed(2);
  };

  // a full frame now (data or size changed, or the movement ended)
  const draw = () => {
    resize();
    frame(moving);
  };

  // the camera moved: one preview frame per display frame, the full frame SETTLE_MS after the
  // last movement (a pointer still held keeps the preview)
  const settle = () => {
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => {
      if (drag) return;
      moving = false;
      frame(false);
    }, SETTLE_MS);
  };
  const moved = () => {
    moving = true;
    if (!rafPending) rafPending = requestAnimationFrame(() => { rafPending = 0; frame(moving); });
    settle();
  };

  // screen position (CSS px) of cell i, or null behind the camera
  const project = (i: number, w: number, h: number): [number, number] | null => {
    const x = pos[i * 3], y = pos[i * 3 + 1], z = pos[i * 3 + 2];
    const cx = mvp[0] * x + mvp[4] * y + mvp[8] * z + mvp[12];
    const cy = mvp[1] * x + mvp[5] * y + mvp[9] * z + mvp[13];
    const cw = mvp[3] * x + mvp[7] * y + mvp[11] * z + mvp[15];
    if (cw <= 0) return null;
    return [((cx / cw + 1) / 2) * w, ((1 - cy / cw) / 2) * h];
  };

  let drag: { x: number; y: number; x0: number; y0: number; x1?: number; y1?: number; mode: "box" | "pan" | "orbit" } |
    null = null;
  canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
  canvas.addEventListener("pointerdown", (ev) => {
    const r = canvas.getBoundingClientRect();
    drag = { x: ev.clientX, y: ev.clientY, x0: ev.clientX - r.left, y0: ev.clientY - r.top,
      mode: ev.shiftKey ? "box" : ev.button === 2 || ev.ctrlKey ? "pan" : "orbit" };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    drag.x = ev.clientX;
    drag.y = ev.clientY;
    if (drag.mode === "orbit") {
      cam.yaw += dx * 0.01;
      cam.pitch = Math.max(-1.55, Math.min(1.55, cam.pitch + dy * 0.01));
      moved();
    } else if (drag.mode === "pan") {
      const s = cam.dist / 600;
      const cy = Math.cos(cam.yaw), sy = Math.sin(cam.yaw);
      cam.pan[0] -= dx * s * cy;
      cam.pan[2] -= dx * s * sy;
      cam.pan[1] += dy * s;
      moved();
    } else {
      const r = canvas.getBoundingClientRect();
      const x1 = ev.clientX - r.left, y1 = ev.clientY - r.top;
      Object.assign(box.style, { display: "block", left: `${Math.min(drag.x0, x1)}px`, top: `${Math.min(drag.y0, y1)}px`,
        width: `${Math.abs(x1 - drag.x0)}px`, height: `${Math.abs(y1 - drag.y0)}px` });
      drag.x1 = x1;
      drag.y1 = y1;
    }
  });
  const release = () => {
    if (drag && drag.mode === "box" && drag.x1 !== undefined && drag.y1 !== undefined) {
      const [xa, xb] = [Math.min(drag.x0, drag.x1), Math.max(drag.x0, drag.x1)];
      const [ya, yb] = [Math.min(drag.y0, drag.y1), Math.max(drag.y0, drag.y1)];
      const r = canvas.getBoundingClientRect();
      const hidden = new Set(model.get("hidden") || []);
      const groups = groupsOf();
      const picked: number[] = [];
      for (let i = 0; i < n; i++) {
        if (hidden.has(groups[i])) continue;
        const p = project(i, r.width, r.height);
        if (p && p[0] >= xa && p[0] <= xb && p[1] >= ya && p[1] <= yb) picked.push(i);
      }
      model.set("selected", picked);
      model.save_changes();
      el.dataset.selected = String(picked.length);
    }
    box.style.display = "none";
    const wasMoving = drag && drag.mode !== "box" && moving;
    drag = null;
    if (wasMoving) settle();
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    cam.dist = Math.max(radius * 0.05, Math.min(radius * 20, cam.dist * Math.exp(ev.deltaY * 0.001)));
    moved();
  }, { passive: false });

  model.on("change:positions", upload);
  model.on("change:axes", upload);
  model.on("change:axis_length_um", upload);
  model.on("change:preview_max", upload);
  for (const k of ["groups", "group_colors", "group_labels", "hidden", "highlight"] as const) model.on(`change:${k}`, recolour);
  model.on("change:point_size", draw);
  model.on("change:height", draw);
  model.on("msg:custom", (msg: Custom | null) => {
    if (msg?.type === "orbit") {
      // a camera step from the kernel (or a benchmark): moving=true draws it as a drag frame now
      // and the full frame once the steps stop, as a drag does
      cam.yaw += msg.dyaw ?? 0;
      cam.pitch += msg.dpitch ?? 0;
      if (msg.moving) { moving = true; frame(true); settle(); } else draw();
    }
    if (msg?.type === "save_png") {
      moving = false;
      draw();
      const a = document.createElement("a");
      a.href = canvas.toDataURL("image/png");
      a.download = msg.name || "network3d.png";
      a.click();
    }
  });
  const ro = new ResizeObserver(() => draw());
  ro.observe(host);
  upload();
  return () => { ro.disconnect(); clearTimeout(settleTimer); cancelAnimationFrame(rafPending); };
}

export default { render } satisfies WidgetModule<Network3DTraits>;
