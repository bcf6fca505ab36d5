/**
 * GPU throughput in one command: (1) a ViT-B/16-shaped encoder with random weights, images/s
 * at batch 32; (2) one TeD-Loc training step (forward, three losses, backward, Adam) on
 * 768-d tokens, steps/s; (3) evaluation (`evaluateHead`: head forward, one read per batch,
 * score maps, wsolevaluation box metrics) of 768-d tokens, images/s. Every read is
 * `await data()`, so it runs on webgpu, wasm and cpu alike.
 *
 * ```bash
 * deno run -A bench/gpu.ts                      # full size (meant for a real GPU)
 * deno run -A bench/gpu.ts --toy                # toy size (software adapter, CPU backends)
 * deno run -A bench/gpu.ts --toy --backend wasm # the same on wasm, for comparison
 * ```
 *
 * Full: ViT-B/16 (12 blocks, D 768, 12 heads, MLP 3072, 224 px) at batch 32; TeD-Loc on
 * [32, 196, 768] tokens, d 512, 200 classes; evaluation of the embedded `ci` dataset's 64
 * test images. Toy: one such block at batch 2; TeD-Loc on [4, 196, 768]; 32 test images —
 * under a minute on a software adapter (llvmpipe) on two cores.
 * Prints one JSON line (also to `--json FILE`) naming the backend and the WebGPU adapter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BackendChoice,
  initBackend,
  readTensors,
  webgpuAdapterInfo,
} from "../lib/backend/mod.ts";
import { Rng } from "../lib/util/rng.ts";
import type { SafeTensor } from "../lib/io/safetensors.ts";
import { VitEncoder } from "../lib/model/vit.ts";
import type { AnchorSpace } from "../lib/model/anchor_space.ts";
import { resolveTedLocConfig, TedLocModel } from "../lib/model/tedloc.ts";
import { sampledPatchLists, tedLocLosses } from "../lib/model/losses.ts";
import { tedLocHead } from "../lib/model/baselines.ts";
import { DEFAULT_OPTIMIZER, Optimizer } from "../lib/train/optim.ts";
import { evaluateHead } from "../lib/eval/evaluate.ts";
import { ensureDefaultDataset } from "../lib/data/synthetic.ts";
import { parseCli, runCli } from "../lib/util/cli.ts";

const SPEC = {
  usage: "deno run -A bench/gpu.ts [--toy] [--backend webgpu|wasm|cpu|auto] [--json FILE]",
  description: "ViT-B/16-shaped encoder img/s, TeD-Loc train step/s on 768-d tokens, " +
    "evaluation img/s, on one tfjs backend.",
  options: {
    toy: { type: "boolean" as const, help: "toy size (software adapter, CPU backends)" },
    backend: { type: "string" as const, help: "tfjs backend (default $TEDLOC_BACKEND, auto)" },
    json: { type: "string" as const, help: "also write the result to this file" },
    reps: { type: "string" as const, help: "timed repetitions (default 3)", default: "3" },
  },
};

/** Sizes of one run. */
interface Size {
  vit: { depth: number; batch: number };
  tedloc: { batch: number; classes: number; dim: number; steps: number };
  /** Test images evaluated (of the ci dataset's 64). */
  evalImages: number;
}
const FULL: Size = {
  vit: { depth: 12, batch: 32 },
  tedloc: { batch: 32, classes: 200, dim: 512, steps: 8 },
  evalImages: 64,
};
const TOY: Size = {
  vit: { depth: 1, batch: 2 },
  tedloc: { batch: 4, classes: 200, dim: 512, steps: 2 },
  evalImages: 32,
};
const D = 768, HEADS = 12, MLP = 3072, PATCH = 16, S = 224, N = (S / PATCH) ** 2;

function normals(n: number, rng: Rng, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

/** A ViT-B/16-shaped encoder with random weights (timm names, std 0.02, unit LayerNorms). */
function randomVit(depth: number, rng: Rng): VitEncoder {
  const tensors = new Map<string, SafeTensor>();
  const put = (name: string, shape: number[], fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = fill === undefined ? normals(n, rng, 0.02) : new Float32Array(n).fill(fill);
    tensors.set(name, { dtype: "F32", shape, data });
  };
  put("patch_embed.proj.weight", [D, 3, PATCH, PATCH]);
  put("patch_embed.proj.bias", [D], 0);
  put("cls_token", [1, 1, D]);
  put("pos_embed", [1, N + 1, D]);
  put("norm.weight", [D], 1);
  put("norm.bias", [D], 0);
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}.`;
    put(b + "norm1.weight", [D], 1);
    put(b + "norm1.bias", [D], 0);
    put(b + "attn.qkv.weight", [3 * D, D]);
    put(b + "attn.qkv.bias", [3 * D], 0);
    put(b + "attn.proj.weight", [D, D]);
    put(b + "attn.proj.bias", [D], 0);
    put(b + "norm2.weight", [D], 1);
    put(b + "norm2.bias", [D], 0);
    put(b + "mlp.fc1.weight", [MLP, D]);
    put(b + "mlp.fc1.bias", [MLP], 0);
    put(b + "mlp.fc2.weight", [D, MLP]);
    put(b + "mlp.fc2.bias", [D], 0);
  }
  return VitEncoder.fromSafetensors({ tensors, metadata: { num_heads: String(HEADS) } }, {
    inputSize: S,
    name: `random-vit-b16-depth${depth}`,
  });
}

/** Median of `reps` timed runs of `run` (after one warm-up run: shader/kernel compilation). */
async function medianSeconds(run: () => Promise<void>, reps: number): Promise<number> {
  await run();
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await run();
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

async function benchVit(size: Size, reps: number, rng: Rng): Promise<number> {
  const vit = randomVit(size.vit.depth, rng);
  const B = size.vit.batch;
  const images = tf.tensor4d(normals(B * S * S * 3, rng, 60).map((v) => v + 128), [B, S, S, 3]);
  const sec = await medianSeconds(async () => {
    await readTensors([vit.encode(images)], { dispose: true });
  }, reps);
  images.dispose();
  vit.dispose();
  return B / sec;
}

function anchorSpace(C: number, d: number, rng: Rng): AnchorSpace {
  const v = normals(C * d, rng, 1);
  for (let k = 0; k < C; k++) {
    const row = v.subarray(k * d, (k + 1) * d);
    const n = Math.hypot(...row);
    for (let j = 0; j < d; j++) row[j] /= n;
  }
  const classNames = Array.from({ length: C }, (_, k) => `c${k}`);
  return { classNames, vectors: v, count: C, dim: d, rawDim: d, ortho: "none", source: "bench" };
}

async function benchTrainStep(size: Size, reps: number, rng: Rng): Promise<number> {
  const { batch: B, classes: C, dim: d } = size.tedloc;
  const model = new TedLocModel(resolveTedLocConfig(D, d, C), anchorSpace(C, d, rng));
  const opt = new Optimizer(model.params, DEFAULT_OPTIMIZER);
  const vars = model.trainableVariables();
  const byVar = new Map(vars.map((v) => [v.name, [...model.params].find(([, p]) => p === v)![0]]));
  const x = tf.tensor3d(normals(B * N * D, rng, 1), [B, N, D]);
  // 20 % FG, 10 % BG patches per image, as the default sampler keeps.
  const fg = Float32Array.from({ length: B * N }, (_, i) => (i % N < N / 5 ? 1 : 0));
  const bg = Float32Array.from({ length: B * N }, (_, i) => (i % N >= N - N / 10 ? 1 : 0));
  const labels = Int32Array.from({ length: B }, (_, i) => i % C);
  const L = sampledPatchLists(fg, bg, labels, N);
  const targets = {
    labels: tf.tensor1d(labels, "int32"),
    fgMask: tf.tensor2d(fg, [B, N]),
    bgMask: tf.tensor2d(bg, [B, N]),
    sampled: {
      index: tf.tensor1d(L.index, "int32"),
      labels: tf.tensor1d(L.labels, "int32"),
      isFg: tf.tensor1d(L.isFg),
    },
  };
  const weights = { kd: 1, pcl: 1, icl: 1, pclBg: 1 };
  const steps = size.tedloc.steps;
  const sec = await medianSeconds(async () => {
    let last: tf.Scalar | null = null;
    for (let s = 0; s < steps; s++) {
      const { value, grads } = tf.variableGrads(
        () => tedLocLosses(model, model.forward(x), targets, weights).total,
        vars,
      );
      opt.apply(new Map(Object.entries(grads).map(([n, g]) => [byVar.get(n)!, g])), 1e-4);
      tf.dispose(Object.values(grads));
      last?.dispose();
      last = value;
    }
    // The loss stays on the device; one read at the end waits for every queued step.
    await readTensors([last!], { dispose: true });
  }, reps);
  tf.dispose([x, targets.labels, targets.fgMask, targets.bgMask]);
  tf.dispose(Object.values(targets.sampled));
  opt.dispose();
  model.dispose();
  return steps / sec;
}

async function benchEvaluation(size: Size, reps: number, rng: Rng): Promise<number> {
  const ds = await ensureDefaultDataset({ profile: "ci" });
  const meta = ds.splits.test;
  const ids = meta.imageIds.slice(0, size.evalImages);
  const { classes: C, dim: d } = size.tedloc;
  const model = new TedLocModel(resolveTedLocConfig(D, d, C), anchorSpace(C, d, rng));
  const features = {
    encoderId: "random",
    ids,
    grid: [14, 14] as [number, number],
    dim: D,
    stride: 16,
    cellOffset: 7.5,
    views: ["test"],
    tokens: normals(ids.length * N * D, rng, 1),
  };
  const head = tedLocHead(model);
  const sec = await medianSeconds(async () => {
    await evaluateHead(head, features, meta, { ids, progress: false, batchSize: 32 });
  }, reps);
  model.dispose();
  return ids.length / sec;
}

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  const toy = a.values.toy === true;
  const reps = Math.max(1, Number(a.values.reps));
  const backend = await initBackend(a.values.backend as BackendChoice | undefined);
  const adapter = backend === "webgpu" ? await webgpuAdapterInfo() : null;
  const size = toy ? TOY : FULL;
  const rng = new Rng(0);
  const t0 = performance.now();
  const result = {
    backend,
    adapter,
    size: toy ? "toy" : "full",
    vit: { ...size.vit, dim: D, imagesPerSecond: await benchVit(size, reps, rng) },
    trainStep: {
      ...size.tedloc,
      tokens: [N, D],
      stepsPerSecond: await benchTrainStep(size, reps, rng),
    },
    evaluation: {
      images: size.evalImages,
      dim: D,
      imagesPerSecond: await benchEvaluation(size, reps, rng),
    },
    seconds: (performance.now() - t0) / 1000,
  };
  const line = JSON.stringify(result);
  console.log(line);
  if (typeof a.values.json === "string") await Deno.writeTextFile(a.values.json, line + "\n");
}

if (import.meta.main) await runCli(() => main(Deno.args));
