/**
 * tfjs-backend-wasm's threaded SIMD build under Deno (experimental, opt-in with
 * `TEDLOC_WASM_THREADS=N`). tfjs turns wasm threads off under Node-like runtimes (Deno has
 * `process`), and Emscripten's Node path then needs three things Deno lacks; this module
 * supplies them before `tf.setBackend("wasm")`:
 *
 * - the pthread worker script is handed over as a `blob:` URL, which `worker_threads`
 *   cannot start: it is written to a `.cjs` file instead (URL.createObjectURL answers the
 *   file path while the backend initialises);
 * - that script assigns `location` (read-only in Deno): removed;
 * - each pthread evaluates the main script from a Blob (synchronously, through a `blob:` URL
 *   again): it `require`s the unbundled Emscripten module file instead;
 * - XNNPACK's pool is sized at start-up to half the logical cores (clamped to 1..4; tfjs
 *   assumes two hyperthreads per core, and `setThreadsCount` does not reach it in 4.22):
 *   `os.cpus()` reports twice the wanted threads while the module starts;
 * - the pthread workers would keep the process alive after its work (Emscripten does not
 *   unref them here): they are unref'd once the backend is up.
 *
 * docs/scale.md has the measurements and where it stops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { join } from "node:path";
import os from "node:os";
import { Worker as NodeWorker } from "node:worker_threads";
import { projectPath } from "../util/paths.ts";

const PKG = ["node_modules", "@tensorflow", "tfjs-backend-wasm", "wasm-out"];

/** Text edits to the pthread worker script: [what, replacement]; each must match once. */
function patchedWorker(contents: string, mainJs: string): string {
  const edits: [string, string][] = [
    ["location:{href:__filename},", ""],
    [
      "var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)",
      `global.WasmBackendModuleThreadedSimd=require(${JSON.stringify(mainJs)})`,
    ],
  ];
  for (const [from, to] of edits) {
    if (!contents.includes(from)) {
      throw new Error(
        `wasm threads: the pthread worker script changed (no '${from.slice(0, 40)}…')`,
      );
    }
    contents = contents.replace(from, to);
  }
  return contents;
}

/**
 * Enable tfjs-wasm threads (`threads` ≥ 2) for the next `tf.setBackend("wasm")`. Returns a
 * function to call once the backend is ready (restores `URL.createObjectURL` and Deno's
 * `Worker`, which Emscripten replaced by `worker_threads.Worker`).
 */
export async function prepareWasmThreads(threads: number): Promise<() => void> {
  const dir = await Deno.realPath(projectPath(...PKG));
  const mainJs = join(dir, "tfjs-backend-wasm-threaded-simd.js");
  const workerJs = await Deno.readTextFile(join(dir, "tfjs-backend-wasm-threaded-simd.worker.js"));
  // the .worker.js file is `module.exports.wasmWorkerContents = \`…\``: take the template
  const m = /wasmWorkerContents = `([\s\S]*)`;\s*$/.exec(workerJs);
  if (!m) throw new Error("wasm threads: unexpected tfjs-backend-wasm-threaded-simd.worker.js");
  const file = join(await Deno.makeTempDir({ prefix: "tedloc-wasm-" }), "pthread.cjs");
  await Deno.writeTextFile(file, patchedWorker(m[1], mainJs));
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  const createObjectURL = URL.createObjectURL, DenoWorker = globalThis.Worker;
  const cpus = os.cpus;
  // Emscripten registers its handlers with `worker.on(...)` on each pool worker: collect them
  const workers = new Set<NodeWorker>(), on = NodeWorker.prototype.on;
  NodeWorker.prototype.on = function (this: NodeWorker, ...args: Parameters<typeof on>) {
    workers.add(this);
    return on.apply(this, args);
  };
  const one = cpus()[0];
  (os as { cpus: () => unknown[] }).cpus = () => Array.from({ length: 2 * threads }, () => one);
  // tfjs makes one worker Blob (type application/javascript) per pthread: answer the file
  URL.createObjectURL = (obj: Blob) =>
    obj.type === "application/javascript" ? file : createObjectURL(obj);
  return () => {
    NodeWorker.prototype.on = on;
    for (const w of workers) w.unref();
    (os as { cpus: typeof cpus }).cpus = cpus;
    URL.createObjectURL = createObjectURL;
    globalThis.Worker = DenoWorker;
  };
}
