// Builds the pages the broker embeds (dist/, committed): the app and the key worker as ES
// modules, one stylesheet, index.html. Deterministic: the same sources give the same bytes, so
// that .ci/run can rebuild and compare.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/assets", { recursive: true });
const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  sourcemap: false,
  logLevel: "warning",
  charset: "utf8",
};
await build({ ...common, entryPoints: { app: "src/main.ts", worker: "src/worker.ts" }, outdir: "dist/assets" });
await build({ ...common, entryPoints: { app: "src/app.css" }, outdir: "dist/assets", loader: { ".svg": "dataurl", ".woff2": "dataurl" } });
copyFileSync("index.html", "dist/index.html");
