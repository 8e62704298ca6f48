// Bundles the anywidget front ends (js/widgets/*.ts -> bmtool_lab/static/*.js, ES modules)
// and compiles the JupyterLab plugin sources (js/lab/*.ts -> lib/*.js) for @jupyter/builder.
// esbuild only strips the types: `npm run typecheck` (tsc --noEmit, first step of `npm run
// build`) checks them. Files starting with "_" are helpers, not widget entries.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const target = process.argv[2] ?? "widgets";
const watch = process.argv.includes("--watch");

if (target === "widgets") {
  const entries = readdirSync("js/widgets")
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts") && !f.startsWith("_"))
    .map((f) => `js/widgets/${f}`);
  await build({
    entryPoints: entries,
    bundle: true,
    format: "esm",
    minify: !watch,
    sourcemap: watch ? "inline" : false,
    outdir: "bmtool_lab/static",
    loader: { ".css": "css" },
    target: ["es2020"],
    logLevel: "info",
  });
} else if (target === "lib") {
  // The lab plugin keeps its imports of @jupyterlab/* and @lumino/* external: the
  // federated build shares them with the running JupyterLab.
  await build({
    entryPoints: readdirSync("js/lab").filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts")).map((f) => `js/lab/${f}`),
    bundle: false,
    format: "esm",
    outdir: "lib",
    target: ["es2020"],
    logLevel: "info",
  });
} else {
  throw new Error(`unknown target ${target}`);
}
