// JS unit tests (`npm test`): the widgets against a fake anywidget model in happy-dom.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["js/tests/**/*.test.ts"],
    setupFiles: ["js/tests/setup.ts"],
    pool: "threads",
    maxWorkers: 2,
  },
});
