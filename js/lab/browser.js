// The "BMTool Lab" left panel: a model browser bound to the active notebook's kernel.
// It asks the kernel (silent execute + user_expressions) so every number it shows comes from
// the same Python code the dashboards use; it never depends on @jupyterlab/notebook (the
// current widget's sessionContext is duck-typed).
import { Widget } from "@lumino/widgets";

const STORAGE_KEY = "bmtool-lab:last-config";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function pyString(s) {
  return JSON.stringify(String(s));
}

export class ModelBrowser extends Widget {
  constructor(app) {
    super();
    this.app = app;
    this.addClass("bmtl-browser");
    this._sessionWidget = null;
    this._build();
    app.shell.currentChanged?.connect(() => this._trackKernel());
    this._trackKernel();
  }

  _build() {
    const n = this.node;
    this.kernelLine = el("div", { class: "bmtl-browser-kernel" }, "No notebook kernel yet: open a notebook.");
    this.configInput = el("input", {
      class: "bmtl-browser-config",
      type: "text",
      placeholder: "path/to/simulation_config.json",
      value: localStorage.getItem(STORAGE_KEY) || "example_network/simulation_config.json",
    });
    // Keep JupyterLab's notebook shortcuts from swallowing keys typed here.
    this.configInput.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter") this.describe();
    });
    this.message = el("div", { class: "bmtl-browser-message" });
    this.details = el("div", { class: "bmtl-browser-details" });
    n.append(
      el("h2", { class: "bmtl-browser-title" }, "BMTool Lab"),
      this.kernelLine,
      el("label", { class: "bmtl-browser-label" }, "BMTK config"),
      this.configInput,
      el(
        "div",
        { class: "bmtl-browser-buttons" },
        el("button", { class: "jp-mod-styled bmtl-btn-load", onclick: () => this.describe() }, "Load"),
        el("button", { class: "jp-mod-styled bmtl-btn-example", onclick: () => this.openExample() }, "Example network"),
        el("button", { class: "jp-mod-styled bmtl-btn-demo", onclick: () => this.openDemo() }, "Trace demo")
      ),
      this.message,
      this.details
    );
  }

  _trackKernel() {
    const current = this.app.shell.currentWidget;
    if (current && current.sessionContext) this._sessionWidget = current;
    const w = this._sessionWidget;
    if (!w || w.isDisposed) {
      this.kernelLine.textContent = "No notebook kernel yet: open a notebook.";
      return;
    }
    const name = w.sessionContext.path || w.title.label;
    this.kernelLine.textContent = `Kernel of ${name}`;
  }

  get kernel() {
    const w = this._sessionWidget;
    return w && !w.isDisposed && w.sessionContext.session ? w.sessionContext.session.kernel : null;
  }

  async run(code, expression = null) {
    const kernel = this.kernel;
    if (!kernel) throw new Error("Open a notebook (with a Python kernel) first: dashboards run in its kernel.");
    const content = { code, silent: true, store_history: false };
    if (expression) content.user_expressions = { out: expression };
    const future = kernel.requestExecute(content);
    const reply = await future.done;
    if (reply.content.status !== "ok") {
      throw new Error(`${reply.content.ename}: ${reply.content.evalue}`);
    }
    if (!expression) return null;
    const out = reply.content.user_expressions.out;
    if (out.status !== "ok") throw new Error(`${out.ename}: ${out.evalue}`);
    return JSON.parse(out.data["text/plain"]);
  }

  setMessage(text, isError = false) {
    this.message.textContent = text;
    this.message.classList.toggle("bmtl-error", isError);
  }

  async describe() {
    const path = this.configInput.value.trim();
    if (!path) return;
    localStorage.setItem(STORAGE_KEY, path);
    this.setMessage("Reading the model…");
    try {
      const info = await this.run("import bmtool_lab.lab as _bmtl_lab", `_bmtl_lab.describe_json(${pyString(path)})`);
      this.render(info);
      this.setMessage(info.error ? info.error : "", Boolean(info.error));
    } catch (err) {
      this.setMessage(String(err.message || err), true);
    }
  }

  async openExample() {
    this.setMessage("Building the example network…");
    try {
      const path = await this.run("import bmtool_lab.lab as _bmtl_lab", "_bmtl_lab.example_config_json()");
      this.configInput.value = path;
      await this.describe();
    } catch (err) {
      this.setMessage(String(err.message || err), true);
    }
  }

  async openDemo() {
    const path = this.configInput.value.trim();
    this.setMessage("Opening the trace demo in the right sidebar…");
    try {
      await this.run(`import bmtool_lab.lab as _bmtl_lab\n_bmtl_lab.open_demo(${pyString(path)})`);
      this.setMessage("");
    } catch (err) {
      this.setMessage(String(err.message || err), true);
    }
  }

  render(info) {
    const d = this.details;
    d.replaceChildren();
    if (!info || info.error) return;
    const section = (title, rows, cols) => {
      d.append(el("h3", {}, title));
      if (!rows.length) {
        d.append(el("div", { class: "bmtl-empty" }, "none"));
        return;
      }
      const table = el("table", { class: "bmtl-table" });
      table.append(el("tr", {}, ...cols.map((c) => el("th", {}, c[1]))));
      for (const r of rows) table.append(el("tr", {}, ...cols.map((c) => el("td", {}, String(r[c[0]] ?? "")))));
      d.append(table);
    };
    section("Node populations", info.populations || [], [
      ["population", "population"],
      ["group", "group"],
      ["count", "cells"],
    ]);
    section("Connection types", info.connections || [], [
      ["name", "name"],
      ["edges", "edges"],
      ["synapse", "synapse model"],
    ]);
    section("Cell types", info.cells || [], [
      ["name", "name"],
      ["template", "template"],
    ]);
    if ((info.problems || []).length) {
      d.append(el("h3", {}, "Problems"));
      for (const p of info.problems) d.append(el("div", { class: "bmtl-problem" }, p));
    }
  }
}
