// The "BMTool Lab" left panel: a model browser bound to the active notebook's kernel.
// It asks the kernel (silent execute + user_expressions) so every number it shows comes from
// the same Python code the dashboards use; it never depends on @jupyterlab/notebook (the
// current widget's sessionContext is duck-typed).
import type { JupyterFrontEnd } from "@jupyterlab/application";
import type { Kernel, KernelMessage } from "@jupyterlab/services";
import { Widget } from "@lumino/widgets";
import type { FileBrowserLike, NotebookLike } from "./types.js";

const STORAGE_KEY = "bmtool-lab:last-config";

// What bmtool_lab.lab.describe_json returns (the tables of the panel).
type Row = Record<string, string | number | null | undefined> & { name?: string };
export interface DescribeInfo {
  error?: string;
  config: string;
  shown: string;
  note?: string;
  populations?: Row[];
  connections?: (Row & { synapse?: string })[];
  cells?: (Row & { model_type?: string })[];
  problems?: string[];
}

type Attrs = Record<string, string | ((e: Event) => void)>;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]):
  HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v as string;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v as (e: Event) => void);
    else node.setAttribute(k, v as string);
  }
  for (const c of children) node.append(c);
  return node;
}

function pyString(s: unknown): string {
  return JSON.stringify(String(s));
}

const errorText = (err: unknown): string => String((err as Error)?.message || err);

export class ModelBrowser extends Widget {
  readonly app: JupyterFrontEnd;
  private _sessionWidget: NotebookLike | null;
  // Built by _build() in the constructor.
  declare kernelLine: HTMLDivElement;
  declare configInput: HTMLInputElement;
  declare message: HTMLDivElement;
  declare loadedLine: HTMLDivElement;
  declare configs: HTMLDivElement;
  declare details: HTMLDivElement;
  declare startKernel: HTMLButtonElement;
  declare loaded: string | null;

  constructor(app: JupyterFrontEnd) {
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
      placeholder: "simulation_config.json or model folder",
      title: "a BMTK config file or a model folder, relative to the server root (as in the file browser) or absolute",
      value: localStorage.getItem(STORAGE_KEY) || "example_network/simulation_config.json",
    });
    // Keep JupyterLab's notebook shortcuts from swallowing keys typed here.
    this.configInput.addEventListener("keydown", (e: KeyboardEvent) => {
      e.stopPropagation();
      if (e.key === "Enter") this.describe();
    });
    this.message = el("div", { class: "bmtl-browser-message" });
    this.loadedLine = el("div", { class: "bmtl-browser-loaded" });
    this.configs = el("div", { class: "bmtl-browser-configs" });
    this.details = el("div", { class: "bmtl-browser-details" });
    this.startKernel = el(
      "button",
      { class: "jp-mod-styled bmtl-btn-start-kernel", onclick: () => this.startNotebook() },
      "Start a notebook kernel"
    );
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
        el("button", { class: "jp-mod-styled bmtl-btn-find", onclick: () => this.findConfigs() }, "Find configs"),
        el("button", { class: "jp-mod-styled bmtl-btn-demo", onclick: () => this.openDemo() }, "Trace demo")
      ),
      this.startKernel,
      this.message,
      this.loadedLine,
      this.configs,
      this.details
    );
  }

  _trackKernel() {
    const current = this.app.shell.currentWidget;
    if (current && (current as { sessionContext?: unknown }).sessionContext) this._sessionWidget = current as NotebookLike;
    const w = this._sessionWidget;
    if (!w || w.isDisposed) {
      this.kernelLine.textContent = "No notebook kernel yet: dashboards run in a notebook's kernel.";
      this.startKernel.style.display = "";
      return;
    }
    this.startKernel.style.display = "none";
    const name = w.sessionContext.path || w.title.label;
    this.kernelLine.textContent = `Kernel of ${name}`;
  }

  // The notebook's folder relative to the server root: the kernel runs there, and Python
  // resolves the paths typed or found here against the root first (bmtool_lab.lab.resolve_config).
  get kernelDir() {
    const path = this._sessionWidget?.sessionContext?.path || "";
    return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  }

  fileBrowserPath(): string {
    for (const w of this.app.shell.widgets("left") as Iterable<FileBrowserLike>) {
      if (w.id === "filebrowser" && w.model) return w.model.path || "";
    }
    return "";
  }

  async startNotebook() {
    try {
      await this.app.commands.execute("notebook:create-new", { kernelName: "python3", cwd: this.fileBrowserPath() });
      this._trackKernel();
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  async findConfigs() {
    const folder = this.fileBrowserPath();
    this.setMessage(`Looking for BMTK configs under ${folder || "the server root"}…`);
    try {
      const found = await this.run<string[]>(
        "import bmtool_lab.lab as _bmtl_lab",
        `_bmtl_lab.find_configs_json(${pyString(folder)}, ${pyString(this.kernelDir)})`
      );
      this.configs.replaceChildren();
      if (!found.length) this.configs.append(el("div", { class: "bmtl-empty" }, "no BMTK config found here"));
      for (const path of found) {
        this.configs.append(
          el("div", { class: "bmtl-config-item", title: "load this config", onclick: () => this.openConfig(path) }, path)
        );
      }
      this.setMessage(found.length ? `${found.length} config(s) found` : "");
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  // Open a config (or model folder) given relative to the server root, or absolute.
  async openConfig(path: string) {
    this.configInput.value = path;
    await this.describe();
  }

  // The config file last loaded (absolute, from the kernel), else what is typed.
  get configPath(): string {
    return this.loaded || this.configInput.value.trim();
  }

  async openDashboard(kind: string, item: string | null = null, area = "right") {
    const path = this.configPath;
    this.setMessage(`Opening the ${kind} ${area === "main" ? "in a tab" : "in the right sidebar"}…`);
    try {
      const itemArg = item === null ? "None" : pyString(item);
      await this.run(
        `import bmtool_lab.lab as _bmtl_lab\n_bmtl_lab.open_dashboard(${pyString(kind)}, ${pyString(path)}, ${itemArg}, ${pyString(area)})`
      );
      this.setMessage("");
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  get kernel(): Kernel.IKernelConnection | null {
    const w = this._sessionWidget;
    return w && !w.isDisposed && w.sessionContext.session ? w.sessionContext.session.kernel : null;
  }

  // Run `code` silently in the kernel; with an expression, return its value parsed as JSON.
  async run<T = unknown>(code: string, expression: string | null = null): Promise<T> {
    const kernel = this.kernel;
    if (!kernel) throw new Error("Open a notebook (with a Python kernel) first: dashboards run in its kernel.");
    const content: KernelMessage.IExecuteRequestMsg["content"] = { code, silent: true, store_history: false };
    if (expression) content.user_expressions = { out: expression };
    const future = kernel.requestExecute(content);
    const reply = await future.done;
    if (reply.content.status !== "ok") {
      const e = reply.content as KernelMessage.IReplyErrorContent;
      throw new Error(`${e.ename}: ${e.evalue}`);
    }
    if (!expression) return null as T;
    const out = reply.content.user_expressions.out as {
      status: string; ename?: string; evalue?: string; data: Record<string, string>;
    };
    if (out.status !== "ok") throw new Error(`${out.ename}: ${out.evalue}`);
    return JSON.parse(out.data["text/plain"]) as T;
  }

  setMessage(text: string, isError = false) {
    this.message.textContent = text;
    this.message.classList.toggle("bmtl-error", isError);
  }

  async describe() {
    const path = this.configInput.value.trim();
    if (!path) return;
    localStorage.setItem(STORAGE_KEY, path);
    this.setMessage("Reading the model…");
    this.showLoaded(null);
    try {
      const info = await this.run<DescribeInfo>(
        "import bmtool_lab.lab as _bmtl_lab",
        `_bmtl_lab.describe_json(${pyString(path)}, ${pyString(this.kernelDir)})`
      );
      this.render(info);
      this.setMessage(info.error ? info.error : "", Boolean(info.error));
      if (!info.error) {
        this.showLoaded(info);
        this.configInput.value = info.shown;
        localStorage.setItem(STORAGE_KEY, info.shown);
      }
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  // Which config file the tables below come from (a folder names the file picked in it).
  showLoaded(info: DescribeInfo | null) {
    this.loaded = info ? info.config : null;
    this.loadedLine.replaceChildren();
    if (!info) return;
    this.loadedLine.append("Loaded: ", el("code", { title: info.config }, info.shown));
    if (info.note) this.loadedLine.append(el("div", { class: "bmtl-muted" }, `(${info.note})`));
  }

  async openExample() {
    this.setMessage("Building the example network…");
    try {
      const path = await this.run<string>("import bmtool_lab.lab as _bmtl_lab", "_bmtl_lab.example_config_json()");
      this.configInput.value = path;
      await this.describe();
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  async openDemo() {
    const path = this.configPath;
    this.setMessage("Opening the trace demo in the right sidebar…");
    try {
      await this.run(`import bmtool_lab.lab as _bmtl_lab\n_bmtl_lab.open_demo(${pyString(path)})`);
      this.setMessage("");
    } catch (err) {
      this.setMessage(errorText(err), true);
    }
  }

  render(info: DescribeInfo) {
    const d = this.details;
    d.replaceChildren();
    if (!info || info.error) return;
    const open = (kind: string, item: string | null, area: string) => (e: Event) => {
      e.stopPropagation();
      this.openDashboard(kind, item, area);
    };
    const actions = (kind: string) => (r: Row) =>
      el(
        "span",
        { class: "bmtl-actions" },
        el("button", { class: `bmtl-open bmtl-open-${kind}`, title: "open in the right sidebar", onclick: open(kind, r.name ?? null, "right") }, "side"),
        el("button", { class: `bmtl-open-tab bmtl-open-${kind}-tab`, title: "open in a main-area tab", onclick: open(kind, r.name ?? null, "main") }, "tab")
      );
    d.append(
      el(
        "div",
        { class: "bmtl-browser-buttons" },
        el("button", { class: "jp-mod-styled bmtl-btn-connectivity", onclick: open("connectivity", null, "main") }, "Connectivity matrices"),
        el("button", { class: "jp-mod-styled bmtl-btn-network", title: "Run the whole network with BioNet (right sidebar)",
          onclick: open("network", null, "right") }, "Network run")
      )
    );
    const section = (title: string, rows: Row[], cols: [string, string][], action: ((r: Row) => Node) | null = null) => {
      d.append(el("h3", {}, title));
      if (!rows.length) {
        d.append(el("div", { class: "bmtl-empty" }, "none"));
        return;
      }
      const table = el("table", { class: "bmtl-table" });
      table.append(el("tr", {}, ...cols.map((c) => el("th", {}, c[1])), ...(action ? [el("th", {}, "")] : [])));
      for (const r of rows) {
        const cells: Node[] = cols.map((c) => el("td", {}, String(r[c[0]] ?? "")));
        if (action) cells.push(el("td", {}, action(r)));
        const row = el("tr", { "data-name": String(r.name ?? "") }, ...cells);
        table.append(row);
      }
      d.append(table);
    };
    section("Node populations", info.populations || [], [
      ["population", "population"],
      ["group", "group"],
      ["count", "cells"],
    ]);
    const chemical = (info.connections || []).filter((c) => c.synapse !== "gap junction");
    const gaps = (info.connections || []).filter((c) => c.synapse === "gap junction");
    section("Connection types", chemical, [
      ["name", "name"],
      ["edges", "edges"],
      ["synapse", "synapse model"],
    ], actions("tuner"));
    if (gaps.length) section("Gap junctions", gaps, [["name", "name"], ["edges", "edges"]]);
    // NEURON cells, and NEST point neurons (a PointNet model: its profiler runs on NEST)
    const simulatable = (info.cells || []).filter((c) => c.model_type === "biophysical" ||
      (c.model_type === "point_process" && String(c.template || "").startsWith("nest:")));
    section("Cell types", info.cells || [], [
      ["name", "name"],
      ["template", "template"],
    ], (r) => (simulatable.includes(r) ? actions("profiler")(r) : el("span", { class: "bmtl-muted" }, String(r.model_type))));
    if ((info.problems || []).length) {
      d.append(el("h3", {}, "Problems"));
      for (const p of info.problems ?? []) d.append(el("div", { class: "bmtl-problem" }, p));
    }
  }
}
