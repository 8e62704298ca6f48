// A fake anywidget model (the surface of js/widgets/_anywidget.ts), as lonboard's tests do:
// traits in a plain object, Backbone's event semantics (one update sets every trait, then fires a
// change:<name> per trait whose value changed), and a record of what the view synced back.
import type { AnyModel } from "../widgets/_anywidget.js";

type Listener = (...args: any[]) => void;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Backbone compares with _.isEqual: lists and plain objects by value, buffers by identity.
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]));
  return false;
}

export class FakeModel<T extends object> implements AnyModel<T> {
  state: T;
  /** What each save_changes() sent to the kernel: the traits set since the previous one. */
  saved: Partial<T>[] = [];
  /** Custom messages the view sent (model.send). */
  sent: { content: unknown; buffers?: unknown[] }[] = [];
  private listeners = new Map<string, Listener[]>();
  private dirty: Partial<T> = {};

  constructor(state: T) {
    this.state = { ...state };
  }

  get<K extends keyof T>(name: K): T[K] {
    return this.state[name];
  }

  /** A change made by the view (front end): synced by the next save_changes(). */
  set<K extends keyof T>(name: K, value: T[K]): void {
    this.dirty[name] = value;
    this.update({ [name]: value } as unknown as Partial<T>);
  }

  /** A state update, as one kernel message brings it: all traits first, then the events. */
  update(changes: Partial<T>): void {
    const changed: string[] = [];
    for (const [k, v] of Object.entries(changes)) {
      const key = k as keyof T;
      if (!same(this.state[key], v)) changed.push(k);
      this.state[key] = v as T[keyof T];
    }
    for (const k of changed) this.emit(`change:${k}`);
    if (changed.length) this.emit("change");
  }

  on(event: string, callback: Listener): void {
    const list = this.listeners.get(event) ?? [];
    list.push(callback);
    this.listeners.set(event, list);
  }

  off(event?: string, callback?: Listener): void {
    if (!event) this.listeners.clear();
    else if (!callback) this.listeners.delete(event);
    else this.listeners.set(event, (this.listeners.get(event) ?? []).filter((f) => f !== callback));
  }

  save_changes(): void {
    this.saved.push(this.dirty);
    this.dirty = {};
  }

  send(content: unknown, _callbacks?: unknown, buffers?: unknown[]): void {
    this.sent.push({ content, buffers });
  }

  /** A custom message from the kernel (msg:custom). */
  emitCustom(content: unknown, buffers: DataView[] = []): void {
    this.emit("msg:custom", content, buffers);
  }

  listenerCount(event: string): number {
    return (this.listeners.get(event) ?? []).length;
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const f of [...(this.listeners.get(event) ?? [])]) f(...args);
  }
}

/** float32 bytes as ipywidgets 8 delivers a Bytes trait: a DataView. */
export function f32(values: ArrayLike<number>): DataView {
  const a = Float32Array.from(values);
  return new DataView(a.buffer);
}

export function u16bytes(values: ArrayLike<number>): DataView {
  const a = Uint16Array.from(values);
  return new DataView(a.buffer);
}

/** A render target attached to the document, as the widget manager gives one. */
export function host(): HTMLElement {
  const el = document.createElement("div");
  document.body.append(el);
  return el;
}

/** Let queued microtasks (the trace panel's frame, uPlot's commit) and timers run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setTimeout(r, 0));
}

/** Let a requestAnimationFrame callback run. */
export function nextFrame(): Promise<void> {
  return new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
}
