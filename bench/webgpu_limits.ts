/**
 * Reproduces what tfjs-backend-webgpu 4.22 cannot do under Deno (docs/webgpu.md), one line
 * per limit, on whatever WebGPU adapter this machine has:
 *
 * ```bash
 * deno run -A bench/webgpu_limits.ts        # bare tfjs: the failures as they happen
 * deno run -A bench/webgpu_limits.ts --lib  # through lib/backend's initBackend (patched)
 * ```
 *
 * 1. synchronous readback (`dataSync`) of GPU data; 2. a webgpu tensor used after switching
 * to wasm (the engine moves it with a synchronous read); 3. a kernel that falls back to the
 * CPU with a synchronous read (Tile of a rank-5 tensor); 4. a reduction over more than
 * 65535 × 512 elements; 5. a tensor over the adapter's `maxStorageBufferBindingSize`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { initBackend, webgpuAdapterInfo } from "../lib/backend/mod.ts";

const useLib = Deno.args.includes("--lib");

async function use(name: "webgpu" | "wasm"): Promise<void> {
  if (useLib) await initBackend(name);
  else {
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed`);
  }
}

async function attempt(what: string, run: () => Promise<string>): Promise<void> {
  try {
    console.log(`${what}: ${await run()}`);
  } catch (err) {
    console.log(`${what}: ${(err as Error).name}: ${(err as Error).message.split("\n")[0]}`);
  }
}

const adapter = await webgpuAdapterInfo();
if (adapter === null) {
  console.log("no WebGPU adapter here (software one: apt-get install mesa-vulkan-drivers)");
  Deno.exit(0);
}
console.log(`adapter: ${adapter.kind} '${adapter.description}', ${useLib ? "lib" : "bare tfjs"}`);
await use("webgpu");
// ≥ 1000 elements, computed on the GPU: below that tfjs-webgpu runs small ops on the CPU.
const gpuTensor = () => tf.add(tf.ones([64, 64]), 1);

await attempt("1 dataSync of GPU data", () => {
  const x = gpuTensor();
  return Promise.resolve(`ok ${x.dataSync()[0]}`);
});
await attempt("  await data() instead", async () => `ok ${(await gpuTensor().data())[0]}`);

await attempt("2 webgpu tensor used after switching to wasm", async () => {
  const x = gpuTensor();
  await use("wasm");
  const v = tf.sum(x).dataSync()[0];
  await use("webgpu");
  return `ok ${v}`;
});

await use("webgpu");
await attempt("3 tile of a rank-5 tensor", async () => {
  const x = tf.add(tf.ones([4, 4, 4, 4, 4]), 1);
  return `ok ${(await tf.tile(x, [1, 1, 1, 2, 1]).data()).length} values`;
});

await attempt("4 sum of 2^25 - 2^10 twos", async () => {
  const n = 2 ** 25 - 2 ** 10;
  const y = tf.add(tf.fill([n], 1), 1);
  const s = (await tf.sum(y).data())[0];
  y.dispose();
  return `${s} (expected ${2 * n})`;
});

await attempt("5 a tensor of 2^25 + 16 float32 (> 128 MiB)", async () => {
  const n = 2 ** 25 + 16;
  const y = tf.add(tf.fill([n], 1), 1);
  const v = await y.data();
  y.dispose();
  return `first ${v[0]}, last ${v[n - 1]} (expected 2, 2)`;
});
