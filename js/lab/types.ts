// Duck types of the JupyterLab objects the plugin touches without depending on
// @jupyterlab/notebook or @jupyterlab/filebrowser (see browser.ts): a notebook-like widget
// with a session, and the file browser's path and selection.
import type { ISessionContext } from "@jupyterlab/apputils";
import type { Widget } from "@lumino/widgets";
import type { ISignal } from "@lumino/signaling";

export interface NotebookModelLike {
  dirty: boolean;
  isDisposed: boolean;
  toJSON(): unknown;
  stateChanged: ISignal<unknown, { name: string; oldValue?: unknown; newValue?: unknown }>;
}

export type NotebookLike = Widget & {
  sessionContext: ISessionContext;
  content: { model: unknown; activeCell: { model: { sharedModel: { setSource(code: string): void } } } };
  context?: { model?: NotebookModelLike; ready: Promise<void>; fileChanged: ISignal<unknown, unknown> };
  __bmtlCleanOpen?: boolean;
};

export type FileBrowserLike = Widget & {
  model?: { path?: string };
  selectedItems?: () => { next(): { value?: { path?: string } } };
};

export function isNotebookLike(w: Widget | null | undefined): w is NotebookLike {
  const nb = w as { sessionContext?: unknown; content?: { model?: unknown } } | null | undefined;
  return Boolean(nb && nb.sessionContext && nb.content && nb.content.model);
}
