/**
 * The wasm matMul pitfall: tfjs's transposed matMul vs explicit transposes, and a dense
 * layer's gradient through tfjs's built-in matMul vs ours.
 * Run: deno bench -A bench/matmul_bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, matMul, readTensors } from "../lib/backend/mod.ts";

await initBackend("wasm");
const a = tf.randomNormal([512, 512]);
const b = tf.randomNormal([512, 512]);

Deno.bench("tfjs matMul(a, b, false, true) on wasm", { group: "transposeB" }, async () => {
  await readTensors([tf.matMul(a, b, false, true)], { dispose: true });
});
Deno.bench(
  "matMul(a, b, false, true) explicit transpose",
  { group: "transposeB", baseline: true },
  async () => {
    await readTensors([matMul(a, b, false, true)], { dispose: true });
  },
);
Deno.bench("grad through tf.matMul", { group: "grad" }, async () => {
  const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y)))([a, b]);
  await readTensors([g[0]]);
  tf.dispose(g);
});
Deno.bench("grad through matMul (customGrad)", { group: "grad", baseline: true }, async () => {
  const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(matMul(x, y)))([a, b]);
  await readTensors([g[0]]);
  tf.dispose(g);
});
