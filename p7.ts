import * as tf from "@tensorflow/tfjs";
import { initBackend, readTensors } from "./lib/backend/mod.ts";
import { resolveTedLocConfig, TedLocModel } from "./lib/model/tedloc.ts";
import { sampledPatchLists, tedLocLosses } from "./lib/model/losses.ts";
import { DEFAULT_OPTIMIZER, Optimizer } from "./lib/train/optim.ts";
await initBackend(Deno.args[0] as "wasm");
const B = 32, N = 196, din = 128, d = 128, C = 8;
const v = new Float32Array(C * d).map((_, i) => (i % (d + 1) === 0 ? 1 : 0));
const model = new TedLocModel(resolveTedLocConfig(din, d, C), { classNames: [...Array(C)].map(String), vectors: v, count: C, dim: d, rawDim: d, ortho: "none", source: "t" });
const opt = new Optimizer(model.params, DEFAULT_OPTIMIZER);
const vars = model.trainableVariables();
const byVar = new Map(vars.map((x) => [x.name, [...model.params].find(([, p]) => p === x)![0]]));
const x = tf.randomNormal([B, N, din], 0, 1, "float32", 1) as tf.Tensor3D;
const fg = Float32Array.from({ length: B * N }, (_, i) => (i % N < 39 ? 1 : 0));
const bg = Float32Array.from({ length: B * N }, (_, i) => (i % N >= N - 19 ? 1 : 0));
const labels = Int32Array.from({ length: B }, (_, i) => i % C);
const L = sampledPatchLists(fg, bg, labels, N);
const targets = { labels: tf.tensor1d(labels, "int32"), fgMask: tf.tensor2d(fg, [B, N]), bgMask: tf.tensor2d(bg, [B, N]),
  sampled: { index: tf.tensor1d(L.index, "int32"), labels: tf.tensor1d(L.labels, "int32"), isFg: tf.tensor1d(L.isFg) } };
for (let s = 0; s < 5; s++) {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => tedLocLosses(model, model.forward(x), targets, { kd: 1, pcl: 1, icl: 1, pclBg: 1 }).total, vars);
  opt.apply(new Map(Object.entries(grads).map(([n, g]) => [byVar.get(n)!, g])), 1e-3);
  tf.dispose(Object.values(grads));
  await readTensors([value], { dispose: true });
  console.log(Deno.args[0], "step", s, (performance.now() - t0).toFixed(0), "ms");
}
tf.env().set("WEBGPU_USE_PROFILE_TOOL", false);
const prof = await tf.profile(() => {
  const { value, grads } = tf.variableGrads(() => tedLocLosses(model, model.forward(x), targets, { kd: 1, pcl: 1, icl: 1, pclBg: 1 }).total, vars);
  tf.dispose(Object.values(grads)); value.dispose();
});
const ks = await Promise.all(prof.kernels.map(async (k) => ({ name: k.name, ms: typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : (await k.kernelTimeMs as any)?.error ?? -1, shapes: JSON.stringify(k.inputShapes) })));
const agg = new Map<string, number>();
for (const k of ks) agg.set(k.name, (agg.get(k.name) ?? 0) + (typeof k.ms === "number" ? k.ms : 0));
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 12));
console.log(ks.sort((a, b) => (b.ms as number) - (a.ms as number)).slice(0, 8));
