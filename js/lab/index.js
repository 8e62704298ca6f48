// JupyterLab plugin of bmtool_lab:
//  - the "BMTool Lab" left panel (model browser) and its commands / launcher items;
//  - SidebarHost, a widget model that kernel code creates (bmtool_lab.open_sidebar) and that
//    shows its children's views in the shell (right sidebar or main area). JupyterLab keeps
//    one widget manager per kernel bound to the notebook's renderers, so a sidebar cannot
//    render a kernel's widget by itself; the host model builds the views when it is created.
import { ILayoutRestorer } from "@jupyterlab/application";
import { ICommandPalette } from "@jupyterlab/apputils";
import { ILauncher } from "@jupyterlab/launcher";
import { LabIcon } from "@jupyterlab/ui-components";
import { DOMWidgetModel, DOMWidgetView, IJupyterWidgetRegistry, unpack_models } from "@jupyter-widgets/base";
import { Panel, Widget } from "@lumino/widgets";
import { ModelBrowser } from "./browser.js";

const MODULE_NAME = "bmtool-lab";
const MODULE_VERSION = "0.1.0";

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="6" cy="6" r="3"/><circle cx="18" cy="8" r="3"/>
<circle cx="10" cy="18" r="3"/><path d="M6 6 L18 8 L10 18 Z" fill="none" stroke="#616161" stroke-width="1.6"/></g></svg>`;
export const bmtlIcon = new LabIcon({ name: "bmtool-lab:icon", svgstr: ICON_SVG });

let theApp = null;
// Hosts by model id, so a page reload or a second open of the same host reuses its panel.
const hosts = new Map();

export class SidebarHostModel extends DOMWidgetModel {
  defaults() {
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

  initialize(attributes, options) {
    super.initialize(attributes, options);
    this._panel = null;
    this._views = [];
    // Build the shell panel at once: no notebook output area is involved.
    this._open().catch((err) => console.error("bmtool-lab: cannot open the host panel", err));
    this.on("change:children", () => this._fill());
    this.on("change:title", () => {
      if (this._panel) this._panel.title.label = this.get("title");
    });
    this.on("comm_live_update", () => {
      if (!this.comm_live) this._closed("The kernel stopped; re-run the cell that opened this dashboard.");
    });
    this.once("destroy", () => this._closed("The kernel restarted; re-run the cell that opened this dashboard."));
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

  async _fill() {
    const panel = this._panel;
    if (!panel) return;
    for (const view of this._views) view.remove();
    this._views = [];
    for (const w of [...panel.widgets]) w.dispose();
    const children = this.get("children") || [];
    for (const child of children) {
      const view = await this.widget_manager.create_view(child, {});
      this._views.push(view);
      panel.addWidget(view.luminoWidget);
    }
    panel.node.dataset.ready = "true";
  }

  _closed(message) {
    const panel = this._panel;
    if (!panel || panel.isDisposed) return;
    for (const w of [...panel.widgets]) w.dispose();
    const note = new Widget();
    note.addClass("bmtl-host-closed");
    note.node.textContent = message;
    panel.addWidget(note);
    panel.node.dataset.ready = "closed";
  }

  static serializers = {
    ...DOMWidgetModel.serializers,
    children: { deserialize: unpack_models },
  };
}

// Inline view of a host: a one-line note saying where the dashboard is shown.
export class SidebarHostView extends DOMWidgetView {
  render() {
    this.el.classList.add("bmtl-host-note");
    const update = () => {
      const where = this.model.get("area") === "main" ? "a main-area tab" : "the right sidebar";
      this.el.textContent = `"${this.model.get("title")}" is shown in ${where}.`;
    };
    update();
    this.listenTo(this.model, "change:title", update);
  }
}

const hostPlugin = {
  id: "bmtool-lab:widgets",
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  activate: (app, registry) => {
    theApp = app;
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { SidebarHostModel, SidebarHostView },
    });
  },
};

const browserPlugin = {
  id: "bmtool-lab:browser",
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (app, palette, launcher, restorer) => {
    theApp = theApp || app;
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
    if (palette) {
      palette.addItem({ command: open, category: "BMTool Lab" });
      palette.addItem({ command: openExample, category: "BMTool Lab" });
    }
    if (launcher) launcher.add({ command: open, category: "Other", rank: 1 });
  },
};

export default [hostPlugin, browserPlugin];
