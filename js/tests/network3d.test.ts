import { describe, expect, it } from "vitest";
import widget, { hexRgb, mulInto, perspectiveInto, viewInto, type Network3DTraits } from "../widgets/network3d.js";
import { f32, FakeModel, host } from "./fake_model.js";

// clip-space → normalised device coordinates of point p under the column-major matrix m
function ndc(m: Float32Array, p: number[]) {
  const [x, y, z] = p;
  const w = m[3] * x + m[7] * y + m[11] * z + m[15];
  return [(m[0] * x + m[4] * y + m[8] * z + m[12]) / w, (m[1] * x + m[5] * y + m[9] * z + m[13]) / w,
    (m[2] * x + m[6] * y + m[10] * z + m[14]) / w];
}

describe("3D view camera", () => {
  it("the orbit target projects to the centre of the view, at any yaw and pitch", () => {
    const target = [100, -50, 20];
    for (const [yaw, pitch] of [[0, 0], [0.6, 0.35], [2.5, -1.2]]) {
      const m = mulInto(new Float32Array(16), perspectiveInto(new Float32Array(16), 0.8, 1.5, 1, 1000),
        viewInto(new Float32Array(16), yaw, pitch, 300, target));
      const [x, y, z] = ndc(m, target);
      expect(x).toBeCloseTo(0, 6);
      expect(y).toBeCloseTo(0, 6);
      expect(z).toBeGreaterThan(-1);
      expect(z).toBeLessThan(1);
    }
  });

  it("at yaw 0 and pitch 0, +x is to the right and +y up; nearer points have smaller depth", () => {
    const m = mulInto(new Float32Array(16), perspectiveInto(new Float32Array(16), 0.8, 1, 1, 1000),
      viewInto(new Float32Array(16), 0, 0, 300, [0, 0, 0]));
    expect(ndc(m, [10, 0, 0])[0]).toBeGreaterThan(0);
    expect(ndc(m, [0, 10, 0])[1]).toBeGreaterThan(0);
    expect(ndc(m, [0, 0, 50])[2]).toBeLessThan(ndc(m, [0, 0, -50])[2]);
  });

  it("parses group colours and says so when WebGL is missing", () => {
    expect(hexRgb("#ff8000")).toEqual([1, 128 / 255, 0]);
    expect(hexRgb(undefined)).toEqual([0x88 / 255, 0x88 / 255, 0x88 / 255]);
    const model = new FakeModel<Network3DTraits>({
      positions: f32([0, 0, 0]), groups: null, axes: null, axis_length_um: 0, group_labels: ["Exc"],
      group_colors: ["#d62728"], hidden: [], highlight: null, selected: [], point_size: 4, height: 300,
      preview_max: null,
    });
    const el = host();
    expect(widget.render({ model, el })).toBeUndefined();
    expect(el.dataset.gl).toBe("none");
    expect(el.textContent).toContain("WebGL is not available");
  });
});
