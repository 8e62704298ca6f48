// The dashboards the left panel opens: the JS view of bmtool_lab.tuning.kinds.KINDS (the one
// registry of dashboard kinds). Commands are registered when the plugin activates, before any
// kernel runs, so the table is here as well as in Python; tests/unit/test_dashboard_kinds.py
// fails when the two disagree (panel names, titles, default areas).

export interface PanelKind {
  /** the name `bmtool_lab.lab.open_dashboard(kind, ...)` takes */
  panel: string;
  /** the tab title ("Synapse tuner: <model folder>") */
  title: string;
  /** where the command opens it unless told: the right sidebar or a main-area tab */
  area: "right" | "main";
  /** the palette's caption */
  caption: string;
}

export const PANEL_KINDS: readonly PanelKind[] = [
  { panel: "tuner", title: "Synapse tuner", area: "right", caption: "Open the synapse tuner of the panel's config" },
  { panel: "profiler", title: "Cell profiler", area: "right", caption: "Open the cell profiler of the panel's config" },
  { panel: "connectivity", title: "Connectivity", area: "main", caption: "Open the connectivity explorer of the panel's config" },
  { panel: "network", title: "Network run", area: "right", caption: "Run the panel's network (BioNet or PointNet)" },
];

/** The palette command of a panel kind: "bmtool-lab:open-network-run" keeps its old name. */
export function commandId(kind: PanelKind): string {
  return kind.panel === "network" ? "bmtool-lab:open-network-run" : `bmtool-lab:open-${kind.panel}`;
}
