/**
 * Our side of bench/side_by_side.ts, one measurement per process (tfjs-wasm's thread pool is
 * fixed when wasm starts, so `TEDLOC_WASM_THREADS` is set by the caller per process):
 *
 * - `--mode encoder`: MobileNet v1 0.75 → conv_pw_11_relu (BatchNorm folded, batch 16, seeded
 *   random pixels), img/s per repeat after one warm-up batch.
 * - `--mode train`: the TeD-Loc train step through `trainTedLoc` (the product's loop: batch
 *   drawing, 8 + 8 FG/BG sampling from cue maps, tokens read per batch, forward, the three
 *   losses, backward, Adam), B 32, 196 tokens, 384 → 256 → 128, 50 classes, 192 synthetic
 *   images × 2 views (6 full batches an epoch); `--warmup` steps excluded, then step/s per chunk
 *   of 10 steps.
 * - `--mode eval`: box evaluation (`BoxEvaluator`, τ step `--interval`, default 0.01, IoU 30/50/70) of the workload's
 *   maps (`--part i/P`: this process's share), maps/s per repeat; the maps are built before
 *   timing (bicubic 14 → 224, negatives cut, min–max), as the Python side does.
 * - `--mode workload --out DIR [--maps 1389]`: writes the eval workload both sides read
 *   (`grids.npy` `[n, 14, 14]` float32 CAM-like grids, `gt.npy` `[n, 4]` int32 boxes in the 224
 *   frame).
 * - `--mode stepdump --out DIR`: one train step on seeded inputs (tokens, labels, patches,
 *   anchors, weights before/after Adam, losses, gradients) for bench/torch/check_step.py.
 * - `--mode dump --out DIR [--n 4]`: the first n CUB-50 test images through our pipeline's test
 *   view (`inputs.npy` uint8 `[n, 224, 224, 3]`) and our pw11 activations (`pw11.npy` float32
 *   `[n, 14, 14, 384]`), for bench/torch/check_pw11.py.
 *
 * With `--barrier`, a measuring child prints `ready` after its set-up and waits for a line on
 * stdin, so that N processes started by the runner measure at the same time. Prints one JSON
 * line last.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { join } from "node:path";
import { initBackend, readFloat32 } from "../lib/backend/mod.ts";
import { drawImageView, loadImageView } from "../lib/data/image.ts";
import { emptyMetadata } from "../lib/data/metadata.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";
import { BoxEvaluator, normalizeScoremap, resizeBicubic } from "../lib/metrics/mod.ts";
import { TfjsCnnEncoder } from "../lib/model/mobilenet.ts";
import type { AnchorSpace } from "../lib/model/anchor_space.ts";
import { DEFAULT_LOSS_WEIGHTS, sampledPatchLists, tedLocLosses } from "../lib/model/losses.ts";
import { resolveTedLocConfig, TedLocModel } from "../lib/model/tedloc.ts";
import {
  DEFAULT_OPTIMIZER,
  makeSyntheticTokens,
  Optimizer,
  trainTedLoc,
} from "../lib/train/mod.ts";
import { sharedDataPath } from "../lib/util/paths.ts";
import { Rng } from "../lib/util/rng.ts";

/** Maps in the eval workload: the CUB-50 test split's size. */
export const EVAL_MAPS = 1389;

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : dflt;
}

function intArg(name: string, dflt: number): number {
  const v = Number(arg(name, String(dflt)));
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`side_by_side_ours.ts: --${name} must be an integer ≥ 0, got ${v}`);
  }
  return v;
}

/** The MobileNet 0.75 folder (`$TEDLOC_MOBILENET_075` or the shared data), or null. */
export function mobilenet075Dir(): string | null {
  return Deno.env.get("TEDLOC_MOBILENET_075") ??
    sharedDataPath("mobilenet", "mobilenet_v1_0.75_224");
}

const median = (v: number[]) => {
  const s = v.slice().sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** With --barrier: say ready, wait for the runner's go (one line on stdin). */
async function barrier(): Promise<void> {
  if (!Deno.args.includes("--barrier")) return;
  console.log("ready");
  const buf = new Uint8Array(64);
  await Deno.stdin.read(buf);
}

async function encoderMode(iters: number): Promise<Record<string, unknown>> {
  const dir = mobilenet075Dir();
  if (!dir) return { encoderSkipped: "no mobilenet/mobilenet_v1_0.75_224 in the shared data" };
  await initBackend("wasm");
  const enc = await TfjsCnnEncoder.load(dir, { layer: "conv_pw_11_relu" });
  const B = 16;
  const x = tf.randomUniform([B, 224, 224, 3], 0, 255, "float32", 1) as tf.Tensor4D;
  await readFloat32(enc.encode(x), { dispose: true }); // warm-up
  await barrier();
  const runs: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await readFloat32(enc.encode(x), { dispose: true });
    runs.push(B / ((performance.now() - t0) / 1000));
  }
  x.dispose();
  enc.dispose();
  return { threads: getThreadsCount(), encoderImgPerS: median(runs), encoderRuns: runs };
}

async function trainMode(steps: number, warmup: number): Promise<Record<string, unknown>> {
  if (warmup < 1) {
    throw new Error("side_by_side_ours.ts: --warmup must be ≥ 1 (timing starts at its end)");
  }
  await initBackend("wasm");
  const data = makeSyntheticTokens({
    numClasses: 50,
    imagesPerClass: 4,
    grid: [14, 14],
    dim: 384,
    anchorDim: 128,
    prefix: "side",
  });
  const ids = data.features.ids.slice(0, 192); // 6 full batches of 32 an epoch
  const chunk = 10, perEpoch = ids.length / 32;
  const total = warmup + Math.max(1, Math.floor(steps / chunk)) * chunk;
  const stamps: number[] = [];
  await barrier();
  const r = await trainTedLoc(
    {
      features: data.features,
      labels: data.labels,
      cues: data.objectnessCues,
      anchors: data.anchors,
      ids,
    },
    {
      epochs: Math.ceil(total / perEpoch),
      batchSize: 32,
      model: { decoder: { hidden: 256 } },
      sampler: { fgFraction: 0.2, bgFraction: 0.1, fgCount: 8, bgCount: 8 },
    },
    { progress: false, onStep: () => stamps.push(performance.now()) },
  );
  r.model.dispose();
  // stamps[k] = end of step k (0-based): chunk j covers steps warmup + j·chunk … + chunk − 1
  const runs: number[] = [];
  for (let a = warmup; a + chunk <= total; a += chunk) {
    runs.push(chunk / ((stamps[a + chunk - 1] - stamps[a - 1]) / 1000));
  }
  return { threads: getThreadsCount(), trainStepPerS: median(runs), trainRuns: runs };
}

/** CAM-like 14×14 grids (low noise, three hot cells) and one GT box each, seeded. */
async function workloadMode(out: string, n: number): Promise<Record<string, unknown>> {
  const rng = new Rng(2026);
  const grids = new Float32Array(n * 196), gt = new Int32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const g = grids.subarray(i * 196, (i + 1) * 196);
    for (let k = 0; k < 196; k++) g[k] = rng.next() * 0.3;
    for (let k = 0; k < 3; k++) g[Math.floor(rng.next() * 196)] = 1;
    const w = 60 + Math.floor(rng.next() * 120), h = 60 + Math.floor(rng.next() * 120);
    const x0 = Math.floor(rng.next() * (224 - w)), y0 = Math.floor(rng.next() * (224 - h));
    gt.set([x0, y0, x0 + w - 1, y0 + h - 1], i * 4);
  }
  await Deno.mkdir(out, { recursive: true });
  await writeNpy(join(out, "grids.npy"), grids, [n, 14, 14]);
  await writeNpy(join(out, "gt.npy"), gt, [n, 4]);
  return { workload: out, maps: n };
}

async function evalMode(
  dir: string,
  iters: number,
  part: string,
  interval: number,
): Promise<Record<string, unknown>> {
  const [pi, pn] = part.split("/").map(Number);
  const grids = (await readNpy(join(dir, "grids.npy"))).data as Float32Array;
  const gt = (await readNpy(join(dir, "gt.npy"))).data as Int32Array;
  const n = grids.length / 196;
  const lo = Math.floor((pi * n) / pn), hi = Math.floor(((pi + 1) * n) / pn);
  const meta = emptyMetadata(), maps: Float32Array[] = [];
  for (let i = lo; i < hi; i++) {
    const id = `m${i}`;
    meta.imageIds.push(id);
    meta.classLabels.set(id, 0);
    meta.imageSizes.set(id, [224, 224]);
    meta.boxes.set(id, [[gt[4 * i], gt[4 * i + 1], gt[4 * i + 2], gt[4 * i + 3]]]);
    const up = resizeBicubic(grids.subarray(i * 196, (i + 1) * 196), 14, 14, 224, 224);
    maps.push(normalizeScoremap(up.map((v) => Math.max(0, v))));
  }
  const once = () => {
    const ev = new BoxEvaluator({ metadata: meta, camCurveInterval: interval });
    meta.imageIds.forEach((id, k) => ev.accumulate(maps[k], id));
    return ev.compute();
  };
  once(); // warm-up (JIT)
  await barrier();
  const runs: number[] = [];
  let m = once();
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    m = once();
    runs.push(maps.length / ((performance.now() - t0) / 1000));
  }
  const curves = (k: "largest" | "multi") =>
    Object.fromEntries(
      m[k].map((c) => [c.iou, c.accuracy.map((a) => Math.round((a * maps.length) / 100))]),
    );
  return {
    evalMapsPerS: median(runs),
    evalRuns: runs,
    count: maps.length,
    // hit counts per δ and τ, so the runner can merge parts into one MaxBoxAccV2
    hits: { largest: curves("largest"), multi: curves("multi") },
  };
}

async function dumpMode(out: string, n: number): Promise<Record<string, unknown>> {
  const dir = mobilenet075Dir();
  const cub = sharedDataPath("cub50", "CUB_200_2011");
  if (!dir || !cub) return { skipped: "no MobileNet 0.75 or CUB-50 in the shared data" };
  const table = async (f: string) =>
    (await Deno.readTextFile(join(cub, f))).trim().split("\n").map((l) => l.trim().split(/\s+/));
  const split = new Map((await table("train_test_split.txt")).map(([k, v]) => [k, v]));
  const paths = (await table("images.txt")).filter(([k]) => split.get(k) === "0").slice(0, n);
  const pixels = new Uint8Array(paths.length * 224 * 224 * 3);
  for (let i = 0; i < paths.length; i++) {
    const p = join(cub, "images", paths[i][1]);
    pixels.set(await loadImageView(p, drawImageView("test")), i * 224 * 224 * 3);
  }
  await initBackend("wasm");
  const enc = await TfjsCnnEncoder.load(dir, { layer: "conv_pw_11_relu" });
  const x = tf.tensor4d(Float32Array.from(pixels), [paths.length, 224, 224, 3]);
  const tokens = await readFloat32(enc.encode(x), { dispose: true });
  x.dispose();
  enc.dispose();
  await Deno.mkdir(out, { recursive: true });
  await writeNpy(join(out, "inputs.npy"), pixels, [paths.length, 224, 224, 3]);
  await writeNpy(join(out, "pw11.npy"), tokens, [paths.length, 14, 14, 384]);
  return { images: paths.map((p) => p[1]), out };
}

/**
 * One TeD-Loc train step on seeded inputs at the bench's shapes, everything a second
 * implementation needs to redo it: tokens, labels, FG/BG patch indices, anchors, the weights
 * before, the three losses, the gradients and the weights after one Adam step (lr 1e-3).
 */
async function stepDumpMode(out: string): Promise<Record<string, unknown>> {
  await initBackend("wasm");
  const B = 32, N = 196, D = 384, d = 128, C = 50, K = 8, rng = new Rng(7);
  const vectors = new Float32Array(C * d).map(() => rng.normal());
  for (let c = 0; c < C; c++) {
    const row = vectors.subarray(c * d, (c + 1) * d);
    const n = Math.hypot(...row);
    row.forEach((v, j) => row[j] = v / n);
  }
  const space: AnchorSpace = {
    classNames: Array.from({ length: C }, (_, c) => `c${c}`),
    vectors,
    count: C,
    dim: d,
    rawDim: d,
    ortho: "none",
    source: "side_by_side stepdump",
  };
  const model = new TedLocModel(
    resolveTedLocConfig(D, d, C, { decoder: { hidden: 256 }, initSeed: 0 }),
    space,
  );
  const tokens = new Float32Array(B * N * D).map(() => rng.normal());
  const labels = Int32Array.from({ length: B }, () => rng.int(C));
  const fgIdx = new Int32Array(B * K), bgIdx = new Int32Array(B * K);
  const fg = new Float32Array(B * N), bg = new Float32Array(B * N);
  for (let b = 0; b < B; b++) {
    const order = rng.shuffle(Array.from({ length: N }, (_, i) => i));
    for (let k = 0; k < K; k++) {
      fgIdx[b * K + k] = order[k];
      bgIdx[b * K + k] = order[K + k];
      fg[b * N + order[k]] = 1;
      bg[b * N + order[K + k]] = 1;
    }
  }
  const lists = sampledPatchLists(fg, bg, labels, N);
  const before = await model.getWeights();
  const x = tf.tensor3d(tokens, [B, N, D]), y = tf.tensor1d(labels, "int32");
  const fgMask = tf.tensor2d(fg, [B, N]), bgMask = tf.tensor2d(bg, [B, N]);
  const sampled = {
    index: tf.tensor1d(lists.index, "int32"),
    labels: tf.tensor1d(lists.labels, "int32"),
    isFg: tf.tensor1d(lists.isFg),
  };
  let terms: tf.Tensor[] = [];
  const nameOf = new Map([...model.params].map(([n, v]) => [v.name, n]));
  const { value, grads } = tf.variableGrads(() => {
    const L = tedLocLosses(model, model.forward(x), { labels: y, fgMask, bgMask, sampled }, {
      ...DEFAULT_LOSS_WEIGHTS,
    });
    terms = [L.kd, L.pcl, L.icl].map((t) => tf.keep(t));
    return L.total;
  }, model.trainableVariables());
  const byName = new Map(Object.entries(grads).map(([n, g]) => [nameOf.get(n)!, g]));
  const gradArrays = Object.fromEntries(
    await Promise.all([...byName].map(async ([n, g]) => [n, await g.data()] as const)),
  );
  const [total, kd, pcl, icl] = await Promise.all(
    [value, ...terms].map(async (t) => (await t.data())[0]),
  );
  const opt = new Optimizer(model.params, { ...DEFAULT_OPTIMIZER });
  opt.apply(byName, 1e-3);
  const after = await model.getWeights();
  await Deno.mkdir(out, { recursive: true });
  await writeNpy(join(out, "tokens.npy"), tokens, [B, N, D]);
  await writeNpy(join(out, "labels.npy"), labels, [B]);
  await writeNpy(join(out, "fg.npy"), fgIdx, [B, K]);
  await writeNpy(join(out, "bg.npy"), bgIdx, [B, K]);
  await writeNpy(join(out, "anchors.npy"), vectors, [C, d]);
  for (const [n, w] of Object.entries(before)) {
    await writeNpy(join(out, `w0.${n}.npy`), w.data, w.shape);
    await writeNpy(join(out, `grad.${n}.npy`), gradArrays[n] as Float32Array, w.shape);
    await writeNpy(join(out, `w1.${n}.npy`), after[n].data, w.shape);
  }
  const losses = { total, kd, pcl, icl };
  await Deno.writeTextFile(join(out, "losses.json"), JSON.stringify(losses));
  tf.dispose([x, y, fgMask, bgMask, value, ...terms, ...Object.values(grads)]);
  tf.dispose(Object.values(sampled));
  opt.dispose();
  model.dispose();
  return { out, params: Object.keys(before), losses };
}

if (import.meta.main) {
  const mode = arg("mode", "");
  const iters = intArg("iters", 5);
  let res: Record<string, unknown>;
  switch (mode) {
    case "encoder":
      res = await encoderMode(iters);
      break;
    case "train":
      res = await trainMode(intArg("steps", 60), intArg("warmup", 10));
      break;
    case "eval":
      res = await evalMode(
        arg("workload", ""),
        iters,
        arg("part", "0/1"),
        Number(arg("interval", "0.01")),
      );
      break;
    case "workload":
      res = await workloadMode(arg("out", ""), intArg("maps", EVAL_MAPS));
      break;
    case "stepdump":
      res = await stepDumpMode(arg("out", ""));
      break;
    case "dump":
      res = await dumpMode(arg("out", ""), intArg("n", 4));
      break;
    default:
      throw new Error(
        `side_by_side_ours.ts: --mode must be encoder, train, eval, workload, dump or stepdump, got '${mode}'`,
      );
  }
  console.log(JSON.stringify({ side: "ours", mode, ...res }));
}
