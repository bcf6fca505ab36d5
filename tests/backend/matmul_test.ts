import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import {
  currentBackend,
  dense,
  gpuDeviceNodesPresent,
  initBackend,
  matMul,
  webgpuAdapterInfo,
} from "../../lib/backend/mod.ts";

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

Deno.test("matMul: values and gradients equal tfjs's own on cpu (2D, transposes, batched, dense)", async () => {
  await initBackend("cpu");
  const a = tf.randomNormal([5, 7], 0, 1, "float32", 1);
  const b = tf.randomNormal([7, 3], 0, 1, "float32", 2);
  const cases: [
    string,
    (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
    (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ][] = [
    ["plain", (x, y) => matMul(x, y), (x, y) => tf.matMul(x, y), a, b],
    ["transposeA", (x, y) => matMul(x, y, true), (x, y) => tf.matMul(x, y, true), a.transpose(), b],
    [
      "transposeB",
      (x, y) => matMul(x, y, false, true),
      (x, y) => tf.matMul(x, y, false, true),
      a,
      b.transpose(),
    ],
    [
      "batched",
      (x, y) => matMul(x, y),
      (x, y) => tf.matMul(x, y),
      tf.randomNormal([2, 4, 6], 0, 1, "float32", 3),
      tf.randomNormal([2, 6, 5], 0, 1, "float32", 4),
    ],
    [
      "rank3 x rank2",
      (x, y) => matMul(x, y),
      (x, y) => tf.matMul(x.reshape([-1, 6]), y).reshape([2, 4, 3]),
      tf.randomNormal([2, 4, 6], 0, 1, "float32", 5),
      tf.randomNormal([6, 3], 0, 1, "float32", 6),
    ],
  ];
  for (const [name, ours, theirs, x, y] of cases) {
    const w = tf.randomNormal(ours(x, y).shape, 0, 1, "float32", 9);
    const f1 = (p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(ours(p, q), w));
    const f2 = (p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(theirs(p, q), w));
    assert(maxAbsDiff(ours(x, y), theirs(x, y)) < 1e-6, `${name}: forward`);
    const [ga1, gb1] = tf.grads(f1)([x, y]);
    const [ga2, gb2] = tf.grads(f2)([x, y]);
    assert(maxAbsDiff(ga1, ga2) < 1e-6, `${name}: grad a differs by ${maxAbsDiff(ga1, ga2)}`);
    assert(maxAbsDiff(gb1, gb2) < 1e-6, `${name}: grad b differs by ${maxAbsDiff(gb1, gb2)}`);
  }
  const x = tf.randomNormal([3, 4], 0, 1, "float32", 7);
  const wt = tf.randomNormal([4, 2], 0, 1, "float32", 8);
  const bias = tf.tensor1d([0.5, -1]);
  assert(maxAbsDiff(dense(x, wt, bias), tf.add(tf.matMul(x, wt), bias)) < 1e-6, "dense");
});

Deno.test("matMul: leaks no tensors", async () => {
  await initBackend("cpu");
  const a = tf.randomNormal([4, 4]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const g = tf.grads((p: tf.Tensor) => tf.sum(matMul(p, p, false, true)))([a]);
    g.forEach((t) => t.dispose());
  }
  assertAlmostEquals(tf.memory().numTensors, before, 0);
  a.dispose();
});

Deno.test("backend: wasm initialises and matches cpu", async () => {
  await initBackend("cpu");
  const data = Array.from({ length: 12 }, (_, i) => Math.sin(i));
  const ref = tf.tidy(() =>
    matMul(tf.tensor2d(data, [3, 4]), tf.tensor2d(data, [4, 3])).arraySync()
  );
  assert((await initBackend("wasm")) === "wasm" && currentBackend() === "wasm");
  const got = tf.tidy(() =>
    matMul(tf.tensor2d(data, [3, 4]), tf.tensor2d(data, [4, 3])).arraySync()
  );
  assert(
    Math.max(
      ...(got as number[][]).flat().map((v, i) => Math.abs(v - (ref as number[][]).flat()[i])),
    ) < 1e-5,
  );
  await initBackend("cpu");
});

Deno.test("backend: no GPU device node → no WebGPU probe (no lavapipe in the process), unless forced", () => {
  const nodes = ["/dev/nvidia0", "/dev/kfd"].some((p) => {
    try {
      return Deno.statSync(p) && true;
    } catch {
      return false;
    }
  });
  let dri = false;
  try {
    dri = [...Deno.readDirSync("/dev/dri")].some((e) => e.name.startsWith("renderD"));
  } catch {
    // none
  }
  if (Deno.build.os === "linux") assertEquals(gpuDeviceNodesPresent(), nodes || dri);
  Deno.env.set("TEDLOC_PROBE_GPU", "1");
  try {
    assert(gpuDeviceNodesPresent(), "forced probe");
  } finally {
    Deno.env.delete("TEDLOC_PROBE_GPU");
  }
});

Deno.test("backend: an unknown name is refused with the valid choices", async () => {
  let msg = "";
  try {
    await initBackend("tpu" as "cpu");
  } catch (err) {
    msg = (err as Error).message;
  }
  assert(msg.includes("wasm, webgpu, cpu"), msg);
});

Deno.test("backend: webgpuAdapterInfo names the adapter and its kind, or null without one", async () => {
  const info = await webgpuAdapterInfo();
  const gpu = (navigator as unknown as { gpu?: unknown }).gpu;
  if (!gpu) {
    assertEquals(info, null);
    return;
  }
  if (info === null) return; // navigator.gpu without an adapter: nothing more to check
  assert(info.kind === "hardware" || info.kind === "software", info.kind);
  assert(info.description.length > 0);
  if (/llvmpipe|lavapipe|swiftshader/i.test(info.description)) assertEquals(info.kind, "software");
  assert((await webgpuAdapterInfo()) === info, "cached: one probe per process");
});
