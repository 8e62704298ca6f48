import type { Binary } from "./_anywidget.js";

// Binary traits arrive as DataView (ipywidgets 8); view them as float32 without copying.
export function floats(value: Binary | ArrayLike<number> | undefined): Float32Array {
  if (!value) return new Float32Array(0);
  if (value instanceof Float32Array) return value;
  if (value instanceof DataView || ArrayBuffer.isView(value)) {
    return new Float32Array(value.buffer, value.byteOffset, Math.floor(value.byteLength / 4));
  }
  if (value instanceof ArrayBuffer) return new Float32Array(value);
  return Float32Array.from(value as ArrayLike<number>);
}

// Split a flat float32 block holding `n` series of equal length.
export function splitSeries(flat: Float32Array, n: number): Float32Array[] {
  if (n <= 0 || flat.length === 0) return [];
  const len = Math.floor(flat.length / n);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) out.push(flat.subarray(i * len, (i + 1) * len));
  return out;
}
