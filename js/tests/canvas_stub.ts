// happy-dom has no canvas rendering: a recording 2D context stands in for it, so tests can
// assert what a widget drew (text, rectangles, line styles, the pixels it put) without a
// browser. Unknown methods are no-ops; measureText gives 6 px per character.
export interface Call {
  op: string;
  args: unknown[];
  state: { fillStyle: unknown; strokeStyle: unknown; font: string; lineDash: number[] };
}

export interface FakeContext extends Record<string, any> {
  canvas: HTMLCanvasElement;
  calls: Call[];
  callsOf(op: string): Call[];
}

const contexts = new WeakMap<HTMLCanvasElement, FakeContext>();
export const allContexts: FakeContext[] = [];

class FakeImageData {
  readonly data: Uint8ClampedArray;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8ClampedArray(width * height * 4);
  }
}

function makeContext(canvas: HTMLCanvasElement): FakeContext {
  const calls: Call[] = [];
  let lineDash: number[] = [];
  const target: Record<string, any> = {
    canvas,
    calls,
    fillStyle: "#000",
    strokeStyle: "#000",
    font: "10px sans-serif",
    lineWidth: 1,
    globalAlpha: 1,
    callsOf: (op: string) => calls.filter((c) => c.op === op),
    measureText: (text: string) => ({
      width: String(text).length * 6,
      actualBoundingBoxAscent: 8,
      actualBoundingBoxDescent: 2,
    }),
    createImageData: (w: number, h: number) => new FakeImageData(w, h),
    getImageData: (_x: number, _y: number, w: number, h: number) => new FakeImageData(w, h),
    createLinearGradient: () => ({ addColorStop() {} }),
    createPattern: () => ({}),
    setLineDash: (d: number[]) => {
      lineDash = [...d];
      record("setLineDash", [d]);
    },
    getLineDash: () => lineDash,
    isPointInPath: () => false,
  };
  function record(op: string, args: unknown[]) {
    calls.push({ op, args, state: { fillStyle: target.fillStyle, strokeStyle: target.strokeStyle, font: target.font,
      lineDash } });
  }
  return new Proxy(target, {
    get(t, prop: string) {
      if (prop in t) {
        const v = t[prop];
        if (typeof v === "function" && prop !== "callsOf" && prop !== "setLineDash") {
          return (...args: unknown[]) => {
            record(prop, args);
            return v(...args);
          };
        }
        return v;
      }
      return (...args: unknown[]) => record(prop, args);
    },
  }) as FakeContext;
}

export function contextOf(canvas: HTMLCanvasElement): FakeContext {
  let ctx = contexts.get(canvas);
  if (!ctx) {
    ctx = makeContext(canvas);
    contexts.set(canvas, ctx);
    allContexts.push(ctx);
  }
  return ctx;
}

export function installCanvasStub(): void {
  HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement, type: string) {
    return type === "2d" ? contextOf(this) : null;
  } as typeof HTMLCanvasElement.prototype.getContext;
  const g = globalThis as Record<string, unknown>;
  g.ImageData ??= FakeImageData;
  // uPlot builds its series paths as Path2D objects.
  g.Path2D ??= class {
    moveTo() {}
    lineTo() {}
    rect() {}
    arc() {}
    closePath() {}
    bezierCurveTo() {}
    quadraticCurveTo() {}
    addPath() {}
  };
}
