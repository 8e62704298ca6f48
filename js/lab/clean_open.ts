// A notebook that opens clean stays clean when the kernel starts. On kernel start JupyterLab
// rewrites metadata.kernelspec and metadata.language_info from the kernel's info (e.g. the
// Python patch version), which marks a notebook saved under another Python as modified, so
// closing it asks to save a change the user never made. We clear the dirty flag only when the
// notebook differs from what was loaded or last saved by nothing but a refresh of those two
// entries with the same kernel and language names: a kernel switch or any edit stays dirty.

import type { NotebookLike } from "./types.js";

const REFRESHED = ["kernelspec", "language_info"];

type Json = Record<string, unknown>;

export function canonical(value: unknown): string {
  // JSON with sorted keys, so key order from the two writers does not count as a change.
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Json;
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export function withoutRefresh(nbJSON: Json): string {
  // The notebook with kernelspec/language_info reduced to their names.
  const metadata: Json = { ...((nbJSON.metadata as Json) || {}) };
  for (const key of REFRESHED) {
    const entry = metadata[key] as Json | null | undefined;
    if (entry && typeof entry === "object") metadata[key] = { name: entry.name ?? null };
  }
  return canonical({ ...nbJSON, metadata });
}

export function keepCleanOnKernelInfo(panel: NotebookLike): void {
  const context = panel.context;
  const model = context?.model;
  if (!model || typeof model.toJSON !== "function" || panel.__bmtlCleanOpen) return;
  panel.__bmtlCleanOpen = true;
  let saved: string | null = null;
  const snapshot = () => {
    if (!model.isDisposed && !model.dirty) saved = withoutRefresh(model.toJSON() as Json);
  };
  let pending = false;
  const check = () => {
    pending = false;
    if (model.isDisposed || !model.dirty || saved === null) return;
    if (withoutRefresh(model.toJSON() as Json) === saved) model.dirty = false;
  };
  model.stateChanged.connect((_, change) => {
    // Runs after the metadata write that set the flag has finished (several writes may follow).
    if (change.name === "dirty" && change.newValue === true && !pending) {
      pending = true;
      setTimeout(check, 0);
    }
  });
  context!.ready.then(snapshot).catch(() => {});
  context!.fileChanged.connect(() => setTimeout(snapshot, 0));
}
