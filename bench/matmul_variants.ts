/**
 * Variants of the train step's largest matrix products on tfjs-wasm (docs/scale.md, "what was
 * tried"): the fc1 weight gradient `Xᵀ·dY` ([384, 6272]·[6272, 256]) as lib/backend/matmul.ts
 * computes it, transposed the other way, and through tfjs's transpose flag; the fc1 forward
 * with a separate bias add, fused, and with a fresh weight tensor every call (as after each Adam
 * update, so XNNPACK repacks it). One process, variants interleaved, median of the rounds after
 * the first.
 *
 * Run: `deno run -A bench/matmul_variants.ts [--rounds 5]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, readTensors } from "../lib/backend/mod.ts";

const i = Deno.args.indexOf("--rounds");
const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 5;
if (!Number.isInteger(rounds) || rounds < 2) {
  throw new Error(`matmul_variants.ts: --rounds must be an integer ≥ 2, got ${Deno.args[i + 1]}`);
}
await initBackend("wasm");
const X = tf.randomNormal([6272, 384]), dY = tf.randomNormal([6272, 256]);
const W = tf.randomNormal([384, 256]), b = tf.randomNormal([256]);
const variants: Record<string, () => tf.Tensor> = {
  "dW = transpose(X)·dY (lib/backend/matmul.ts)": () =>
    tf.tidy(() => tf.matMul(tf.transpose(X), dY)),
  "dW = transpose(transpose(dY)·X)": () =>
    tf.tidy(() => tf.transpose(tf.matMul(tf.transpose(dY), X))),
  "dW = tf.matMul(X, dY, true) (tfjs's flag)": () => tf.matMul(X, dY, true, false),
  "fwd X·W, then + b": () => tf.tidy(() => tf.add(tf.matMul(X, W), b)),
  "fwd tf.fused.matMul(X, W, bias b)": () => tf.fused.matMul({ a: X, b: W, bias: b }),
  "fwd X·W with a fresh W every call": () => tf.tidy(() => tf.matMul(X, tf.clone(W))),
};
const times: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(variants)) {
    const t0 = performance.now();
    await readTensors([f()], { dispose: true });
    (times[name] ??= []).push(performance.now() - t0);
  }
}
for (const [name, v] of Object.entries(times)) {
  const s = v.slice(1).sort((a, b) => a - b);
  console.log(`${name.padEnd(48)}${s[s.length >> 1].toFixed(1).padStart(8)} ms`);
}
