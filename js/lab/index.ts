// JupyterLab plugin of bmtool_lab:
//  - the "BMTool Lab" left panel (model browser) and its commands / launcher items;
//  - SidebarHost, a widget model that kernel code creates (bmtool_lab.open_sidebar) and that
//    shows its children's views in the shell (right sidebar or main area). JupyterLab keeps
//    one widget manager per kernel bound to the notebook's renderers, so a sidebar cannot
//    render a kernel's widget by itself; the host model builds the views when it is created.
import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette } from "@jupyterlab/apputils";
import { ILauncher } from "@jupyterlab/launcher";
import type { Kernel } from "@jupyterlab/services";
import { LabIcon } from "@jupyterlab/ui-components";
import {
  DOMWidgetModel,
  DOMWidgetView,
  IJupyterWidgetRegistry,
  unpack_models,
  type IBackboneModelOptions,
  type ISerializers,
  type WidgetModel,
} from "@jupyter-widgets/base";
import { Panel, Widget } from "@lumino/widgets";
import { ModelBrowser } from "./browser.js";
import { keepCleanOnKernelInfo } from "./clean_open.js";
import { commandId, PANEL_KINDS } from "./dashboard_kinds.js";
import { isNotebookLike, type FileBrowserLike, type NotebookLike } from "./types.js";

const MODULE_NAME = "bmtool-lab";
const MODULE_VERSION = "0.1.0";

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="6" cy="6" r="3"/><circle cx="18" cy="8" r="3"/>
<circle cx="10" cy="18" r="3"/><path d="M6 6 L18 8 L10 18 Z" fill="none" stroke="#616161" stroke-width="1.6"/></g></svg>`;
export const bmtlIcon = new LabIcon({ name: "bmtool-lab:icon", svgstr: ICON_SVG });

let theApp: JupyterFrontEnd | null = null;
// Notebook-like widgets seen in the shell, to find the one whose kernel a host belongs to.
const seenNotebooks = new Set<NotebookLike>();

function trackNotebooks(app: JupyterFrontEnd) {
  const note = () => {
    const w = app.shell.currentWidget;
    if (isNotebookLike(w)) {
      seenNotebooks.add(w);
      keepCleanOnKernelInfo(w);
    }
  };
  app.shell.currentChanged?.connect(note);
  // Every notebook as it opens (also those opened in the background), not only the current one.
  app.docRegistry?.getWidgetFactory?.("Notebook")?.widgetCreated?.connect((_, w) => keepCleanOnKernelInfo(w as unknown as NotebookLike));
  note();
}

function notebookOfKernel(kernelId: string | undefined): NotebookLike | null {
  let fallback: NotebookLike | null = null;
  for (const w of [...seenNotebooks]) {
    if (w.isDisposed) {
      seenNotebooks.delete(w);
      continue;
    }
    fallback = w;
    if (w.sessionContext.session?.kernel?.id === kernelId) return w;
  }
  return fallback;
}

async function insertCodeCell(app: JupyterFrontEnd, kernelId: string | undefined, code: string) {
  const nb = notebookOfKernel(kernelId);
  if (!nb) throw new Error("no open notebook to insert the code into");
  app.shell.activateById(nb.id);
  await app.commands.execute("notebook:insert-cell-below");
  nb.content.activeCell.model.sharedModel.setSource(code);
  return nb;
}
// Hosts by model id, so a page reload or a second open of the same host reuses its panel.
const hosts = new Map<string, Panel>();

// The kernel's reply to "copy_code", and the kernel's "show" request.
interface HostMessage {
  event?: string;
  code?: string;
  error?: string;
}

export class SidebarHostModel extends DOMWidgetModel {
  // Set in initialize(), which Backbone calls from the constructor: declared only, so no class
  // field initializer runs after it and resets them.
  declare private _panel: Panel | null;
  declare private _views: DOMWidgetView[];
  declare private _note: HTMLSpanElement;

  override defaults() {
    return {
      ...super.defaults(),
      _model_name: "SidebarHostModel",
      _model_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_name: "SidebarHostView",
      _view_module: MODULE_NAME,
      _view_module_version: MODULE_VERSION,
      children: [],
      title: "BMTool Lab",
      area: "right",
      host_id: "",
    };
  }

  override initialize(attributes: Backbone.ObjectHash, options: IBackboneModelOptions) {
    super.initialize(attributes, options);
    this._panel = null;
    this._views = [];
    // Build the shell panel at once: no notebook output area is involved.
    this._open().catch((err) => console.error("bmtool-lab: cannot open the host panel", err));
    this.on("change:children", () => this._fill());
    this.on("msg:custom", (content: HostMessage) => this._onCustom(content));
    this.on("change:title", () => {
      if (this._panel) this._panel.title.label = this.get("title");
    });
    this.on("comm_live_update", () => {
      if (!this.comm_live) this._showClosed("The kernel restarted or stopped; re-run the cell that opened this dashboard.");
    });
    this.once("destroy", () => this._showClosed("The kernel restarted; re-run the cell that opened this dashboard."));
    // The widget manager marks models disconnected on a restart; listen to the kernel too, so
    // the panel says what happened instead of showing dead controls.
    const kernel = (this.widget_manager as { kernel?: Kernel.IKernelConnection }).kernel;
    if (kernel && kernel.statusChanged) {
      const onStatus = (_k: Kernel.IKernelConnection, status: Kernel.Status) => {
        if (status === "restarting" || status === "autorestarting" || status === "dead") {
          kernel.statusChanged.disconnect(onStatus);
          this._showClosed(`The kernel ${status === "dead" ? "died" : "restarted"}; re-run the cell that opened this dashboard.`);
        }
      };
      kernel.statusChanged.connect(onStatus);
    }
  }

  async _open() {
    if (!theApp) return;
    const key = this.get("host_id") || this.model_id;
    let panel = hosts.get(key);
    if (!panel || panel.isDisposed) {
      panel = new Panel();
      panel.id = `bmtool-lab-host-${key}`;
      panel.addClass("bmtl-host");
      panel.title.icon = bmtlIcon;
      panel.title.closable = true;
      hosts.set(key, panel);
      const area = this.get("area") === "main" ? "main" : "right";
      theApp.shell.add(panel, area, { rank: 600 });
    }
    panel.title.label = this.get("title");
    panel.title.caption = `BMTool Lab: ${this.get("title")}`;
    this._panel = panel;
    await this._fill();
    theApp.shell.activateById(panel.id);
  }

  _toolbar() {
    const bar = new Widget();
    bar.addClass("bmtl-host-toolbar");
    const copy = document.createElement("button");
    copy.className = "jp-mod-styled bmtl-host-copy";
    copy.textContent = "Copy as code";
    copy.title = "Insert the Python that recreates this dashboard into the notebook";
    copy.onclick = () => this.send({ event: "copy_code" });
    this._note = document.createElement("span");
    this._note.className = "bmtl-host-toolbar-note";
    bar.node.append(copy, this._note);
    return bar;
  }

  async _onCustom(content: HostMessage) {
    if (content.event === "show") {
      // opened again from the kernel (e.g. "Open synapse tuner"): re-add a closed panel, activate it
      if (!this._panel || this._panel.isDisposed || !this._panel.isAttached) {
        hosts.delete(this.get("host_id") || this.model_id);
      }
      await this._open();
      return;
    }
    if (content.event !== "code") return;
    if (content.error || !content.code) {
      this._note.textContent = content.error || "nothing to copy";
      return;
    }
    try {
      const kernelId = (this.widget_manager as { kernel?: Kernel.IKernelConnection }).kernel?.id;
      await insertCodeCell(theApp as JupyterFrontEnd, kernelId, content.code);
      this._note.textContent = "inserted below the active cell";
    } catch (err) {
      this._note.textContent = String((err as Error).message || err);
    }
  }

  async _fill() {
    const panel = this._panel;
    if (!panel) return;
    for (const view of this._views) view.remove();
    this._views = [];
    for (const w of [...panel.widgets]) w.dispose();
    panel.addWidget(this._toolbar());
    const children: DOMWidgetModel[] = this.get("children") || [];
    for (const child of children) {
      const view = await this.widget_manager.create_view<DOMWidgetView>(child, {});
      this._views.push(view);
      panel.addWidget(view.luminoWidget);
    }
    panel.node.dataset.ready = "true";
  }

  _showClosed(message: string) {
    const panel = this._panel;
    if (!panel || panel.isDisposed) return;
    for (const w of [...panel.widgets]) w.dispose();
    const note = new Widget();
    note.addClass("bmtl-host-closed");
    note.node.textContent = message;
    panel.addWidget(note);
    panel.node.dataset.ready = "closed";
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    children: { deserialize: unpack_models as (value: unknown, manager?: unknown) => Promise<WidgetModel[]> },
  };
}

// Inline view of a host: a one-line note saying where the dashboard is shown.
export class SidebarHostView extends DOMWidgetView {
  override render() {
    this.el.classList.add("bmtl-host-note");
    const update = () => {
      const where = this.model.get("area") === "main" ? "a main-area tab" : "the right sidebar";
      this.el.textContent = `"${this.model.get("title")}" is shown in ${where}.`;
    };
    update();
    this.listenTo(this.model, "change:title", update);
  }
}

const hostPlugin: JupyterFrontEndPlugin<void> = {
  id: "bmtool-lab:widgets",
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  activate: (app: JupyterFrontEnd, registry: IJupyterWidgetRegistry) => {
    theApp = app;
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { SidebarHostModel, SidebarHostView },
    });
  },
};

const browserPlugin: JupyterFrontEndPlugin<void> = {
  id: "bmtool-lab:browser",
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, launcher: ILauncher | null,
    restorer: ILayoutRestorer | null) => {
    theApp = theApp || app;
    trackNotebooks(app);
    const browser = new ModelBrowser(app);
    browser.id = "bmtool-lab-browser";
    browser.title.icon = bmtlIcon;
    browser.title.caption = "BMTool Lab";
    app.shell.add(browser, "left", { rank: 850 });
    if (restorer) restorer.add(browser, "bmtool-lab-browser");

    const open = "bmtool-lab:open-panel";
    app.commands.addCommand(open, {
      label: "BMTool Lab",
      caption: "Open the BMTool Lab panel (model browser and dashboards)",
      icon: (args) => (args.isPalette ? undefined : bmtlIcon),
      execute: () => app.shell.activateById(browser.id),
    });
    const openExample = "bmtool-lab:open-example";
    app.commands.addCommand(openExample, {
      label: "BMTool Lab: open the example network",
      execute: async () => {
        app.shell.activateById(browser.id);
        await browser.openExample();
      },
    });
    for (const kind of PANEL_KINDS) {
      app.commands.addCommand(commandId(kind), {
        label: `BMTool Lab: ${kind.title.toLowerCase()}`,
        caption: kind.caption,
        execute: async (args) => {
          app.shell.activateById(browser.id);
          const item = (args.item as string | undefined) ?? null;
          await browser.openDashboard(kind.panel, item, (args.area as string | undefined) ?? kind.area);
        },
      });
    }
    const openConfig = "bmtool-lab:open-config";
    app.commands.addCommand(openConfig, {
      label: "Open in BMTool Lab",
      caption: "Show this BMTK config in the BMTool Lab panel",
      icon: bmtlIcon,
      execute: async (args) => {
        let path = args.path as string | undefined;
        if (!path) {
          const left = app.shell.widgets("left") as Iterable<Widget> & { find?: (f: (w: Widget) => boolean) => Widget | undefined };
          const fb = (left.find?.((w) => w.id === "filebrowser") ||
            [...left].find((w) => w.id === "filebrowser")) as FileBrowserLike | undefined;
          const item = fb?.selectedItems?.().next?.().value;
          path = item?.path;
        }
        if (!path) return;
        app.shell.activateById(browser.id);
        await browser.openConfig(path);
      },
    });
    app.contextMenu.addItem({
      command: openConfig,
      selector: '.jp-DirListing-item[data-file-type="json"]',
      rank: 20,
    });
    if (palette) {
      palette.addItem({ command: open, category: "BMTool Lab" });
      palette.addItem({ command: openExample, category: "BMTool Lab" });
      for (const kind of PANEL_KINDS) palette.addItem({ command: commandId(kind), category: "BMTool Lab" });
    }
    if (launcher) {
      launcher.add({ command: open, category: "BMTool Lab", rank: 1 });
      for (const kind of PANEL_KINDS) launcher.add({ command: commandId(kind), category: "BMTool Lab", rank: 2 });
    }
  },
};

export default [hostPlugin, browserPlugin];
