/**
 * Speed-up of training on cached tokens vs re-encoding the images every step: the same
 * TeD-Loc training step with (a) tokens copied from a FeatureSet, (b) images decoded,
 * resized and run through the frozen encoder first. Run:
 * `deno run -A bench/train_cache_speedup.ts [ENCODER_DIR] [STEPS]`.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { ensureDefaultDataset } from "../lib/data/synthetic.ts";
import { loadImageBatch } from "../lib/data/loader.ts";
import { readAnchors } from "../lib/text/anchors.ts";
import { DEFAULT_MOBILENET_DIR, TfjsCnnEncoder } from "../lib/model/mobilenet.ts";
import { extractFeatures } from "../lib/train/features.ts";
import {
  buildAnchorSpace,
  resolveTedLocConfig,
  sampledPatchLists,
  tedLocLosses,
  TedLocModel,
} from "../lib/model/mod.ts";
import { DEFAULT_OPTIMIZER, Optimizer } from "../lib/train/optim.ts";
import { gatherTokens } from "../lib/cues/sources.ts";

await initBackend("wasm");
const dir = Deno.args[0] ?? DEFAULT_MOBILENET_DIR, steps = Number(Deno.args[1] ?? 8), B = 32;
const ds = await ensureDefaultDataset(
  Deno.env.get("TEDLOC_DATA_DIR") ? { dir: Deno.env.get("TEDLOC_DATA_DIR") } : {},
);
const enc = await TfjsCnnEncoder.load(dir, { layer: "conv_pw_11_relu" });
const ids = ds.splits.train.imageIds.slice(0, B * steps);
const feats = await extractFeatures(enc, ds, "train", {
  ids,
  views: ["test"],
  progress: false,
  workers: 1,
});
const space = buildAnchorSpace(await readAnchors(ds.anchorsPath!), { ortho: "qr", projSeed: 0 });
const model = new TedLocModel(resolveTedLocConfig(enc.dim, space.dim, space.count), space);
const opt = new Optimizer(model.params, DEFAULT_OPTIMIZER);
const vars = model.trainableVariables();
const names = new Map(vars.map((v) => [v.name, [...model.params].find(([, p]) => p === v)![0]]));
const N = enc.grid[0] * enc.grid[1];
const fgA = new Float32Array(B * N).map((_, i) => (i % 49 === 0 ? 1 : 0)),
  bgA = new Float32Array(B * N).map((_, i) => (i % 49 === 7 ? 1 : 0));
const labels = Int32Array.from({ length: B }, (_, i) => i % space.count);
const L = sampledPatchLists(fgA, bgA, labels, N);
async function step(x: tf.Tensor3D): Promise<void> {
  const t = {
    labels: tf.tensor1d(labels, "int32"),
    fgMask: tf.tensor2d(fgA, [B, N]),
    bgMask: tf.tensor2d(bgA, [B, N]),
    sampled: {
      index: tf.tensor1d(L.index, "int32"),
      labels: tf.tensor1d(L.labels, "int32"),
      isFg: tf.tensor1d(L.isFg),
    },
  };
  const { value, grads } = tf.variableGrads(
    () => tedLocLosses(model, model.forward(x), t, { kd: 1, pcl: 1, icl: 1, pclBg: 1 }).total,
    vars,
  );
  opt.apply(new Map(Object.entries(grads).map(([n, g]) => [names.get(n)!, g])), 1e-3);
  await value.data();
  tf.dispose([
    value,
    ...Object.values(grads),
    t.labels,
    t.fgMask,
    t.bgMask,
    t.sampled.index,
    t.sampled.labels,
    t.sampled.isFg,
  ]);
}
const rows = ids.map((_, i) => i);
let cached = 0, reencode = 0, encodeOnly = 0;
for (let s = -1; s < steps; s++) { // s = -1: warm-up
  const part = rows.slice(Math.max(s, 0) * B, (Math.max(s, 0) + 1) * B);
  let t0 = performance.now();
  const x = tf.tensor3d(gatherTokens(feats, 0, part), [B, N, enc.dim]);
  await step(x);
  x.dispose();
  if (s >= 0) cached += performance.now() - t0;
  t0 = performance.now();
  const { images } = await loadImageBatch(ds, part.map((i) => ids[i]), {
    transform: "test",
    split: "train",
  });
  const t1 = performance.now();
  const tok = tf.tidy(() => enc.encode(images));
  await tok.data();
  const t2 = performance.now();
  await step(tok as tf.Tensor3D);
  tf.dispose([images, tok]);
  if (s >= 0) {
    reencode += performance.now() - t0;
    encodeOnly += t2 - t1;
  }
}
console.log(
  `${enc.id}, batch ${B}, ${steps} steps: cached ${(cached / steps).toFixed(0)} ms/step, ` +
    `re-encode ${(reencode / steps).toFixed(0)} ms/step (encoder ${
      (encodeOnly / steps).toFixed(0)
    } ms) → speed-up ×${(reencode / cached).toFixed(1)}`,
);
