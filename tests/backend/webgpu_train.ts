/**
 * `deno task train --profile ci`'s work (the main config) in one call, on the backend chosen
 * by `TEDLOC_BACKEND`, with its own cache folder (so features, CAM cues and the CAM
 * baseline are computed on that backend, not read from another backend's cache): frozen
 * features → ImageNet-CAM × CAM × prior cues → TeD-Loc and CAM training → test metrics and
 * score maps. tests/backend/webgpu_test.ts runs it on webgpu and on wasm and compares.
 *
 * `deno run -A tests/backend/webgpu_train.ts --out DIR [--epochs N] [--cam-epochs N]` writes
 * `DIR/summary.json` (`{ backend, adapter, rows: { method: metrics } }`) and
 * `DIR/run/scoremaps/` (TeD-Loc's test maps, wsolevaluation layout, for `deno task evaluate`).
 * One TeD-Loc epoch by default (`--epochs`), no test-time-flip rows.
 *
 * @module
 */
import { join } from "node:path";
import { initBackend, webgpuAdapterInfo } from "../../lib/backend/mod.ts";
import { resolveRunConfig } from "../../lib/config/resolve.ts";
import { experimentConfigFile } from "../../lib/run/experiment.ts";
import { disposeRunInputs, loadRunInputs } from "../../lib/run/inputs.ts";
import { runPipeline } from "../../lib/run/pipeline.ts";

const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const out = arg("--out");
if (!out) throw new Error("webgpu_train.ts: --out DIR is required");
const set = [`train.epochs=${arg("--epochs") ?? 1}`, "eval.flipTta=false"];
// The CAM baseline trains 60 epochs by default (240 steps here); the test shortens it.
if (arg("--cam-epochs") !== undefined) set.push(`cam.epochs=${arg("--cam-epochs")}`);

const backend = await initBackend();
const adapter = backend === "webgpu" ? await webgpuAdapterInfo() : null;
const cfg = await resolveRunConfig({
  file: experimentConfigFile("default", "main"),
  profile: "ci",
  set,
});
const inputs = await loadRunInputs(cfg);
const t0 = performance.now();
const r = await runPipeline(cfg, inputs, {
  cacheDir: join(out, "cache"),
  scoremapDir: join(out, "run", "scoremaps"),
  workers: 1,
  progress: false,
});
const summary = {
  backend,
  adapter,
  seconds: (performance.now() - t0) / 1000,
  timings: r.timings,
  metadata: join(inputs.dataset.root, "metadata", cfg.eval.split),
  rows: Object.fromEntries(r.rows.map((row) => [row.method, row.metrics])),
};
await Deno.writeTextFile(join(out, "summary.json"), JSON.stringify(summary));
r.model.dispose();
r.cam.dispose();
await disposeRunInputs();
