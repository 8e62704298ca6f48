import { afterEach } from "vitest";
import { allContexts, installCanvasStub } from "./canvas_stub.js";

installCanvasStub();

afterEach(() => {
  document.body.replaceChildren();
  allContexts.length = 0;
});
