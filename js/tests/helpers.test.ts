import { describe, expect, it } from "vitest";
import { canonical, withoutRefresh } from "../lab/clean_open.js";
import { floats, splitSeries } from "../widgets/_floats.js";

describe("binary trait helpers", () => {
  it("views a DataView as float32 without copying, honouring its offset", () => {
    const buf = new Float32Array([9, 1, 2, 3]).buffer;
    const view = new DataView(buf, 4, 12);
    const f = floats(view);
    expect(Array.from(f)).toEqual([1, 2, 3]);
    expect(f.buffer).toBe(buf);
    expect(floats(null)).toHaveLength(0);
    expect(Array.from(floats([1.5, 2.5]))).toEqual([1.5, 2.5]);
  });

  it("splits a flat block into n series of equal length", () => {
    const parts = splitSeries(Float32Array.from([1, 2, 3, 4, 5, 6]), 3);
    expect(parts.map((p) => Array.from(p))).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(splitSeries(new Float32Array(0), 2)).toEqual([]);
    expect(splitSeries(Float32Array.from([1]), 0)).toEqual([]);
  });
});

describe("clean open", () => {
  it("compares notebooks by value with sorted keys, kernelspec and language_info by name only", () => {
    expect(canonical({ b: 1, a: [1, { d: null, c: "x" }] })).toBe('{"a":[1,{"c":"x","d":null}],"b":1}');
    const saved = { cells: [], metadata: { kernelspec: { name: "python3", display_name: "Python 3" },
      language_info: { name: "python", version: "3.11.4" } } };
    const refreshed = { metadata: { language_info: { version: "3.11.9", name: "python" },
      kernelspec: { display_name: "Python 3 (ipykernel)", name: "python3" } }, cells: [] };
    expect(withoutRefresh(refreshed)).toBe(withoutRefresh(saved));
    const switched = { ...refreshed, metadata: { ...refreshed.metadata, kernelspec: { name: "julia" } } };
    expect(withoutRefresh(switched)).not.toBe(withoutRefresh(saved));
    expect(withoutRefresh({ ...saved, cells: [{ source: "x" }] })).not.toBe(withoutRefresh(saved));
  });
});
