// The anywidget model interface the front ends use, typed by each widget's traits. anywidget
// hands `render` a model with this surface (Backbone underneath); the unit tests pass a fake
// with the same surface (js/tests/fake_model.ts).

/** Bytes traits arrive as a DataView (ipywidgets 8); null while unset. */
export type Binary = DataView | ArrayBufferView | ArrayBuffer | null;

export type ChangeEvent<T> = `change:${Extract<keyof T, string>}`;

export interface AnyModel<T extends object> {
  get<K extends keyof T>(name: K): T[K];
  set<K extends keyof T>(name: K, value: T[K]): void;
  on(event: ChangeEvent<T> | "change", callback: () => void): void;
  on(event: "msg:custom", callback: (content: any, buffers: DataView[]) => void): void;
  off(event?: string, callback?: (...args: any[]) => void): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void;
}

export interface RenderProps<T extends object> {
  model: AnyModel<T>;
  el: HTMLElement;
}

/** What `render` may return: nothing, or a cleanup run when the view is removed. */
export type Cleanup = void | (() => void);

export interface WidgetModule<T extends object> {
  render(props: RenderProps<T>): Cleanup | Promise<Cleanup>;
}
