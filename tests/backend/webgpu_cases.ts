/**
 * Small deterministic computations run on one tfjs backend, for comparing webgpu with wasm
 * (tests/backend/webgpu_test.ts). tfjs holds one backend per process, so the test runs this
 * file as a subprocess on webgpu and calls {@link runCases} in its own process on wasm.
 *
 * `deno run -A tests/backend/webgpu_cases.ts --backend webgpu --out FILE.json`
 * writes `{ adapter, backend, cases }`; with no WebGPU adapter it writes `adapter: null` and
 * no cases; `--probe` writes only the adapter. Every read is `await data()`: synchronous reads throw on webgpu under Deno.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BackendName,
  initBackend,
  matMul,
  readTensors,
  webgpuAdapterInfo,
} from "../../lib/backend/mod.ts";
import { Rng } from "../../lib/util/rng.ts";
import {
  DEFAULT_MOBILENET_DIR,
  defaultEncoder,
  TfjsCnnClassifier,
} from "../../lib/model/mobilenet.ts";
import { VitEncoder } from "../../lib/model/vit.ts";
import { readNpy } from "../../lib/io/npy.ts";
import type { AnchorSpace } from "../../lib/model/anchor_space.ts";
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";
import { sampledPatchLists, tedLocLosses } from "../../lib/model/losses.ts";
import { tedLocHead } from "../../lib/model/baselines.ts";
import { DEFAULT_OPTIMIZER, Optimizer } from "../../lib/train/optim.ts";
import { localizeImages } from "../../lib/eval/localize.ts";

/** Case name → values (flattened). */
export type CaseResults = Record<string, number[]>;

const FIX = new URL("../fixtures/vit/", import.meta.url).pathname;

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function pixels(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => Math.floor(rng.uniform(0, 256)));
}

async function put(out: CaseResults, names: string[], tensors: tf.Tensor[]): Promise<void> {
  const values = await readTensors(tensors, { dispose: true });
  names.forEach((n, i) => (out[n] = Array.from(values[i])));
}

/** The transpose-free matMul and its gradient: 2-D, transposes, batched, rank 3 × 2. */
async function matmulCases(out: CaseResults): Promise<void> {
  const t = (shape: number[], seed: number) =>
    tf.tensor(normals(shape.reduce((a, b) => a * b, 1), seed), shape);
  const cases: [string, number[], number[], boolean, boolean][] = [
    ["plain", [5, 7], [7, 3], false, false],
    ["transposeA", [7, 5], [7, 3], true, false],
    ["transposeB", [5, 7], [3, 7], false, true],
    ["batched", [2, 4, 6], [2, 6, 5], false, false],
    ["rank3x2", [2, 4, 6], [6, 3], false, false],
    ["large", [64, 96], [96, 48], false, false],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    const a = t(sa, 1), b = t(sb, 2);
    const y = matMul(a, b, ta, tb);
    const w = t(y.shape, 3);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.mul(matMul(p, q, ta, tb), w))
    )([
      a,
      b,
    ]);
    await put(out, [`matmul.${name}`, `matmul.${name}.da`, `matmul.${name}.db`], [y, ga, gb]);
    tf.dispose([a, b, w]);
  }
}

/** The vendored MobileNet v1 0.25 (folded chain) and its classifier's CAM, batch of 2. */
async function cnnCases(out: CaseResults): Promise<void> {
  const images = tf.tensor4d(pixels(2 * 224 * 224 * 3, 7), [2, 224, 224, 3]);
  const enc = await defaultEncoder();
  await put(out, ["cnn.tokens"], [enc.encode(images)]);
  enc.dispose();
  const clf = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR);
  const cam = await clf.cam(images, 3);
  out["cnn.cam.maps"] = Array.from(cam.maps);
  out["cnn.cam.topProbs"] = cam.topProbs.flat();
  out["cnn.cam.topClasses"] = cam.topClasses.flat();
  clf.dispose();
  images.dispose();
}

/** The tiny timm-style ViT fixture: tokens and CLS attention. */
async function vitCases(out: CaseResults): Promise<void> {
  const vit = await VitEncoder.load(FIX + "tiny_vit.safetensors", { inputSize: 32 });
  const a = await readNpy(FIX + "images32.npy");
  const images = tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
  const { tokens, attention } = vit.forward(images);
  await put(out, ["vit.tokens", "vit.attention"], [tokens, attention]);
  images.dispose();
  vit.dispose();
}

function anchorSpace(C: number, d: number): AnchorSpace {
  const v = normals(C * d, 11);
  for (let k = 0; k < C; k++) {
    const row = v.subarray(k * d, (k + 1) * d);
    const n = Math.hypot(...row);
    for (let j = 0; j < d; j++) row[j] /= n;
  }
  return {
    classNames: Array.from({ length: C }, (_, k) => `c${k}`),
    vectors: v,
    count: C,
    dim: d,
    rawDim: d,
    ortho: "none",
    source: "test",
  };
}

/** TeD-Loc (default transformer decoder) forward, losses, gradients and one Adam step. */
async function tedlocCases(out: CaseResults): Promise<void> {
  const B = 2, N = 16, din = 32, d = 16, C = 4;
  const model = new TedLocModel(resolveTedLocConfig(din, d, C), anchorSpace(C, d));
  const x = tf.tensor3d(normals(B * N * din, 5), [B, N, din]);
  const fg = Float32Array.from({ length: B * N }, (_, i) => (i % N < 3 ? 1 : 0));
  const bg = Float32Array.from({ length: B * N }, (_, i) => (i % N >= N - 3 ? 1 : 0));
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
  const fwd = tf.tidy(() => {
    const o = model.forward(x);
    return [o.map, o.scores, o.z];
  });
  await put(out, ["tedloc.map", "tedloc.scores", "tedloc.z"], fwd);
  const vars = model.trainableVariables();
  const names = new Map(vars.map((v) => [v.name, [...model.params].find(([, p]) => p === v)![0]]));
  const { value, grads } = tf.variableGrads(
    () => tedLocLosses(model, model.forward(x), targets, { kd: 1, pcl: 1, icl: 1, pclBg: 1 }).total,
    vars,
  );
  const gnames = Object.keys(grads).sort();
  await put(
    out,
    ["tedloc.loss", ...gnames.map((n) => `tedloc.grad.${names.get(n)}`)],
    [value, ...gnames.map((n) => grads[n].clone())],
  );
  const opt = new Optimizer(model.params, DEFAULT_OPTIMIZER);
  opt.apply(new Map(Object.entries(grads).map(([n, g]) => [names.get(n)!, g])), 1e-2);
  tf.dispose(Object.values(grads));
  const pnames = [...model.params.keys()];
  await put(
    out,
    pnames.map((n) => `tedloc.step.${n}`),
    pnames.map((n) => model.params.get(n)!.clone()),
  );
  opt.dispose();
  model.dispose();
  tf.dispose([
    x,
    targets.labels,
    targets.fgMask,
    targets.bgMask,
    ...Object.values(targets.sampled),
  ]);
}

/** localizeImages on one image: MobileNet tokens → a TeD-Loc head → scores, map, box. */
async function localizeCases(out: CaseResults): Promise<void> {
  const enc = await defaultEncoder();
  const C = 5, d = 16;
  const model = new TedLocModel(resolveTedLocConfig(enc.dim, d, C), anchorSpace(C, d));
  const image = tf.tensor4d(pixels(224 * 224 * 3, 9), [1, 224, 224, 3]);
  const [r] = await localizeImages(tedLocHead(model), enc, image, { topk: 3 });
  out["localize.scores"] = Array.from(r.scores);
  out["localize.gridMap"] = Array.from(r.gridMap);
  out["localize.topk"] = r.topk.map((t) => t.label);
  out["localize.box"] = [...r.boxes[0]];
  image.dispose();
  model.dispose();
  enc.dispose();
}

/** Every case, on the active backend. */
export async function runCases(): Promise<CaseResults> {
  const out: CaseResults = {};
  for (const run of [matmulCases, cnnCases, vitCases, tedlocCases, localizeCases]) {
    const t0 = performance.now();
    await run(out);
    out[`ms.${run.name}`] = [performance.now() - t0];
  }
  return out;
}

/** What lib/backend's webgpu patches do (webgpu.ts): the guard's message, a safe switch. */
export interface GuardResults {
  /** The error a `dataSync()` of GPU-only data throws ("" when it did not throw). */
  syncReadError: string;
  /** Sum of a 64×64 webgpu tensor of 2s, computed on wasm after switching (8192 expected). */
  sumAfterSwitch: number;
}

/** Run on webgpu: the clear error of a sync read, then a tensor used after a switch to wasm. */
async function guardCases(): Promise<GuardResults> {
  const x = tf.add(tf.ones([64, 64]), 1); // ≥ 1000 elements: computed on the GPU
  let syncReadError = "";
  try {
    x.dataSync();
  } catch (err) {
    syncReadError = (err as Error).message;
  }
  await initBackend("wasm");
  const s = tf.sum(x);
  const [sum] = await readTensors([s], { dispose: true });
  x.dispose();
  return { syncReadError, sumAfterSwitch: sum[0] };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--backend"), o = Deno.args.indexOf("--out");
  const backend = (i >= 0 ? Deno.args[i + 1] : "webgpu") as BackendName;
  const outFile = o >= 0 ? Deno.args[o + 1] : undefined;
  const adapter = backend === "webgpu" ? await webgpuAdapterInfo() : null;
  let result: {
    adapter: typeof adapter;
    backend: string;
    cases?: CaseResults;
    guards?: GuardResults;
  };
  // --probe: only say which adapter a webgpu process gets.
  if (Deno.args.includes("--probe") || (backend === "webgpu" && adapter === null)) {
    result = { adapter, backend };
  } else {
    await initBackend(backend);
    result = { adapter, backend, cases: await runCases() };
    if (backend === "webgpu") result.guards = await guardCases(); // last: it switches to wasm
  }
  const text = JSON.stringify(result);
  if (outFile) await Deno.writeTextFile(outFile, text);
  else console.log(text);
}
