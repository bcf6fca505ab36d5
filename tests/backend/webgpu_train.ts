/**
 * `deno task train`'s work on the embedded `ci` dataset in one call, on the backend chosen
 * by `TEDLOC_BACKEND`, with its own cache folder (so features, CAM cues and the CAM
 * baseline are computed on that backend, not read from another backend's cache): frozen
 * features → ImageNet-CAM × CAM × prior cues → TeD-Loc and CAM training → test metrics and
 * score maps. tests/backend/webgpu_test.ts runs it on webgpu and on wasm and compares.
 *
 * `deno run -A tests/backend/webgpu_train.ts --out DIR [--epochs N] [--cam-epochs N]` writes
 * `DIR/summary.json` (`{ backend, adapter, rows: { method: metrics } }`) and
 * `DIR/run/scoremaps/test/` (wsolevaluation layout, for `deno task evaluate`).
 *
 * @module
 */
import { join } from "node:path";
import { initBackend, webgpuAdapterInfo } from "../../lib/backend/mod.ts";
import { ensureDefaultDataset } from "../../lib/data/synthetic.ts";
import { readAnchors } from "../../lib/text/anchors.ts";
import {
  DEFAULT_MOBILENET_DIR,
  TfjsCnnClassifier,
  TfjsCnnEncoder,
} from "../../lib/model/mobilenet.ts";
import { runTedLocPipeline } from "../../lib/train/pipeline.ts";

const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const out = arg("--out");
if (!out) throw new Error("webgpu_train.ts: --out DIR is required");
const epochs = Number(arg("--epochs") ?? 1);
// The CAM baseline trains 60 epochs by default (240 steps here); the test shortens it.
const camEpochs = arg("--cam-epochs") === undefined ? undefined : Number(arg("--cam-epochs"));

const backend = await initBackend();
const adapter = backend === "webgpu" ? await webgpuAdapterInfo() : null;
const dataset = await ensureDefaultDataset({ profile: "ci" });
const anchors = await readAnchors(dataset.anchorsPath!);
const encoder = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
const classifier = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR);
const t0 = performance.now();
const r = await runTedLocPipeline({
  dataset,
  encoder,
  classifier,
  anchors,
  cues: "inet5*cam*prior",
  train: { epochs },
  cam: camEpochs === undefined ? undefined : { epochs: camEpochs },
  outDir: join(out, "run"),
  cacheDir: join(out, "cache"),
  workers: 1,
  progress: false,
});
const summary = {
  backend,
  adapter,
  seconds: (performance.now() - t0) / 1000,
  timings: r.timings,
  metadata: join(dataset.root, "metadata", "test"),
  rows: Object.fromEntries(r.rows.map((row) => [row.method, row.metrics])),
};
await Deno.writeTextFile(join(out, "summary.json"), JSON.stringify(summary));
r.model.dispose();
r.cam.dispose();
encoder.dispose();
classifier.dispose();
