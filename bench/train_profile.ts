/**
 * Where a TeD-Loc train step's time goes, by tfjs kernel: the step of bench/side_by_side.ts
 * (trainTedLoc, B 32, 196 tokens, 384 → 256 → 128, 50 classes, 8 + 8 patches, the three losses,
 * Adam; 192 synthetic images, 6 steps an epoch) run under `tf.profile`, which times every
 * kernel (wasm: wall time around the kernel call). Prints the kernels sorted by time per step
 * (ms, share of the step's wall time, calls per step) and, for BatchMatMul, each shape; the rest
 * ("outside kernels") is JavaScript: the gradient tape, batch drawing, FG/BG sampling, tensor
 * creation. The first epoch is a warm-up, profiled epochs follow.
 *
 * Run: `deno run -A bench/train_profile.ts [--epochs 3] [--json out.json]`
 * (`TEDLOC_WASM_THREADS=2` profiles the threaded build.)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../lib/backend/mod.ts";
import { writeTextAtomic } from "../lib/io/atomic.ts";
import { makeSyntheticTokens, trainTedLoc } from "../lib/train/mod.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : dflt;
}

const epochs = Number(arg("epochs", "3"));
if (!Number.isInteger(epochs) || epochs < 1) {
  throw new Error(
    `train_profile.ts: --epochs must be a positive integer, got ${arg("epochs", "")}`,
  );
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
const train = {
  features: data.features,
  labels: data.labels,
  cues: data.objectnessCues,
  anchors: data.anchors,
  ids: data.features.ids.slice(0, 192),
};
const config = {
  batchSize: 32,
  model: { decoder: { hidden: 256 } },
  sampler: { fgFraction: 0.2, bgFraction: 0.1, fgCount: 8, bgCount: 8 },
};
// warm-up (JIT, wasm kernels' first calls), then the same run unprofiled for the wall time
(await trainTedLoc(train, { ...config, epochs: 1 }, { progress: false })).model.dispose();
const plain = await trainTedLoc(train, { ...config, epochs }, { progress: false });
plain.model.dispose();
const steps = epochs * 6;
const t0 = performance.now();
const info = await tf.profile(async () => {
  (await trainTedLoc(train, { ...config, epochs }, { progress: false })).model.dispose();
});
const profiledMs = (performance.now() - t0) / steps;

interface Row {
  ms: number;
  calls: number;
}
const byKernel = new Map<string, Row>(), byMatMul = new Map<string, Row>();
const add = (m: Map<string, Row>, k: string, ms: number) => {
  const r = m.get(k) ?? { ms: 0, calls: 0 };
  r.ms += ms;
  r.calls++;
  m.set(k, r);
};
// tf.profile also lists custom-gradient ops and scopes ("forward", "unnamed scope") around the
// kernels they run: those are not kernels, and counting them would count the time twice
const scopes = new Set<string>();
for (const k of info.kernels) {
  const ms = Number(k.kernelTimeMs) || 0;
  if (!tf.getKernel(k.name, tf.getBackend())) {
    scopes.add(k.name);
    continue;
  }
  add(byKernel, k.name, ms);
  if (k.name === "BatchMatMul" || k.name === "_FusedMatMul") {
    add(byMatMul, `${k.inputShapes.map((s) => `[${s}]`).join("·")} → [${k.outputShapes[0]}]`, ms);
  }
}
const kernelMs = [...byKernel.values()].reduce((s, r) => s + r.ms, 0) / steps;
const stepMs = plain.secondsPerStep * 1000;
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).map(([name, r]) => ({
  kernel: name,
  msPerStep: r.ms / steps,
  shareOfKernels: r.ms / steps / kernelMs,
  callsPerStep: r.calls / steps,
}));
console.log(
  `TeD-Loc train step, wasm ${getThreadsCount()} thread(s): ${stepMs.toFixed(1)} ms unprofiled, ` +
    `${profiledMs.toFixed(1)} ms profiled, of which kernels ${kernelMs.toFixed(1)} ms ` +
    `(${
      [...byKernel.values()].reduce((s, r) => s + r.calls, 0) / steps
    } kernel calls a step; outside kernels ${(profiledMs - kernelMs).toFixed(1)} ms; ` +
    `not counted: ${[...scopes].join(", ")})`,
);
console.log("kernel                     ms/step   share of kernel time   calls/step");
for (const r of rows.slice(0, 20)) {
  console.log(
    `${r.kernel.padEnd(24)}${r.msPerStep.toFixed(2).padStart(9)}${
      (100 * r.shareOfKernels).toFixed(1).padStart(17)
    } %${r.callsPerStep.toFixed(0).padStart(13)}`,
  );
}
console.log("BatchMatMul by shape (ms/step, GFLOP/s):");
for (const [shape, r] of [...byMatMul].sort((a, b) => b[1].ms - a[1].ms)) {
  const m = shape.match(/^\[([\d,]+)\]·\[([\d,]+)\]/);
  let flop = 0;
  if (m) {
    const a = m[1].split(",").map(Number), b = m[2].split(",").map(Number);
    flop = 2 * a.slice(0, -1).reduce((x, y) => x * y, 1) * a[a.length - 1] * b[b.length - 1];
  }
  console.log(
    `  ${shape.padEnd(44)}${(r.ms / steps).toFixed(2).padStart(8)}${
      flop ? (flop / (r.ms / r.calls) / 1e6).toFixed(1).padStart(8) : ""
    }`,
  );
}
const out = arg("json", "");
if (out) {
  await writeTextAtomic(
    out,
    JSON.stringify({ threads: getThreadsCount(), stepMs, profiledMs, kernelMs, rows }, null, 1),
  );
}
