/**
 * Choosing the tfjs backend. `wasm` (SIMD) is the fastest CPU backend in Deno; `webgpu`
 * runs on a real GPU through Deno's WebGPU (Vulkan); `cpu` is the slow pure-JS reference.
 *
 * Choice order: the explicit argument, then `$TEDLOC_BACKEND`, then `auto` (webgpu when a
 * non-fallback GPU adapter exists, else wasm).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { cacheWebgpuTensorsOnCpu, patchWebgpuBackend } from "./webgpu.ts";
import { prepareWasmThreads } from "./wasm_threads.ts";

/** Backends the project supports. */
export type BackendName = "wasm" | "webgpu" | "cpu";

/** What {@link initBackend} accepts. */
export type BackendChoice = BackendName | "auto";

const NAMES: readonly string[] = ["wasm", "webgpu", "cpu", "auto"];

/** Names of software rasterizers, for adapters that do not set `isFallbackAdapter`. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|microsoft basic render/i;

interface GpuAdapterInfo {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean; description?: string; vendor?: string; device?: string };
}

/**
 * A real (non-fallback) GPU adapter's description, or `null` when none exists. Deno offers
 * llvmpipe as a fallback adapter on CPU-only machines: that one is slower than wasm.
 */
export async function gpuAdapter(): Promise<string | null> {
  if (!gpuDeviceNodesPresent()) return null;
  const a = await webgpuAdapterInfo();
  return a?.kind === "hardware" ? a.description : null;
}

/**
 * Whether this machine can have a real GPU at all. On Linux a GPU shows up as a device node
 * (`/dev/nvidia*`, `/dev/dri/renderD*`, `/dev/kfd`); without one we do not ask WebGPU for an
 * adapter, because that loads the Vulkan software rasterizer (lavapipe + LLVM) into the process
 * only to learn there is no GPU — slow, noisy (`XDG_RUNTIME_DIR` warnings) and the likely source
 * of an intermittent heap-corruption abort at process exit we saw in the test runner.
 * `TEDLOC_PROBE_GPU=1` probes anyway; other systems always probe.
 */
export function gpuDeviceNodesPresent(): boolean {
  if (Deno.env.get("TEDLOC_PROBE_GPU") === "1" || Deno.build.os !== "linux") return true;
  const has = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (has("/dev/nvidia0") || has("/dev/kfd")) return true;
  try {
    for (const e of Deno.readDirSync("/dev/dri")) if (e.name.startsWith("renderD")) return true;
  } catch {
    // no /dev/dri
  }
  return false;
}

/** Which WebGPU adapter this process gets: a real GPU or a software rasterizer. */
export interface WebgpuAdapterInfo {
  /** `software` for a fallback adapter (llvmpipe, lavapipe, SwiftShader, WARP), else `hardware`. */
  kind: "hardware" | "software";
  /** The adapter's vendor, device and description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
}

let adapterInfoPromise: Promise<WebgpuAdapterInfo | null> | undefined;

/**
 * The WebGPU adapter that `initBackend("webgpu")` would run on, or `null` when this process
 * has no adapter at all (no `navigator.gpu`, or `requestAdapter()` yields none). Unlike
 * {@link gpuAdapter} it always asks (no device-node shortcut) and reports software adapters
 * too, so a notebook can say which adapter it measured. Asked once per process (cached).
 *
 * @example
 * ```ts
 * const a = await webgpuAdapterInfo();
 * console.log(a ? `webgpu on ${a.kind} adapter ${a.description}` : "no WebGPU adapter");
 * ```
 */
export function webgpuAdapterInfo(): Promise<WebgpuAdapterInfo | null> {
  adapterInfoPromise ??= probeAdapter();
  return adapterInfoPromise;
}

async function probeAdapter(): Promise<WebgpuAdapterInfo | null> {
  const gpu =
    (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterInfo | null> } }).gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const fallback = adapter.isFallbackAdapter ?? adapter.info?.isFallbackAdapter ?? false;
    // Deno's vendor/device are numeric PCI ids; the description names the device when set.
    const info = adapter.info;
    const description = info?.description ||
      [info?.vendor, info?.device].filter((s) => s).join(" ") || "GPU";
    const software = fallback || SOFTWARE_ADAPTER.test(description);
    return { kind: software ? "software" : "hardware", description };
  } catch {
    return null;
  }
}

let webgpuRegistered = false;

/**
 * Initialise tfjs on the chosen backend and return its name. Calls `tf.enableProdMode()`.
 * Asking for `webgpu` explicitly also works on a software adapter (llvmpipe/lavapipe: slow,
 * for tests). On webgpu, read tensors with `await t.data()` only: a synchronous read throws
 * (docs/webgpu.md). Switching away from webgpu first reads its live tensors back (one async
 * read each) so they can move to the new backend.
 *
 * @example
 * ```ts
 * const name = await initBackend();          // "wasm" on a CPU machine
 * await initBackend("cpu");                  // the reference backend
 * ```
 */
export async function initBackend(choice?: BackendChoice): Promise<BackendName> {
  const requested = choice ?? (Deno.env.get("TEDLOC_BACKEND") as BackendChoice | undefined) ??
    "auto";
  if (!NAMES.includes(requested)) {
    throw new Error(
      `unknown backend '${requested}' (TEDLOC_BACKEND): use one of ${NAMES.join(", ")}`,
    );
  }
  tf.enableProdMode();
  let name: BackendName;
  if (requested === "auto") name = (await gpuAdapter()) !== null ? "webgpu" : "wasm";
  else name = requested;
  if (name === "webgpu" && (await webgpuAdapterInfo()) === null) {
    throw new Error(
      "backend 'webgpu': this process has no WebGPU adapter (a GPU's Vulkan driver, or " +
        "Mesa's software one: apt-get install mesa-vulkan-drivers; docs/webgpu.md)",
    );
  }
  if (name === "webgpu" && !webgpuRegistered) {
    // Imported lazily: importing it registers webgpu as the preferred backend.
    await import("@tensorflow/tfjs-backend-webgpu");
    webgpuRegistered = true;
  }
  const active = tf.getBackend();
  if (active !== name || !tf.engine().backend) {
    // Tensors left on webgpu move to the new backend synchronously on first use, which
    // webgpu cannot do under Deno: read them back asynchronously now (webgpu.ts).
    if (active === "webgpu") await cacheWebgpuTensorsOnCpu();
    const threads = name === "wasm" ? wasmThreadsWanted() : 1;
    const restore = threads > 1 ? await prepareWasmThreads(threads) : () => {};
    let ok: boolean;
    try {
      ok = await tf.setBackend(name);
    } finally {
      restore();
    }
    if (!ok) throw new Error(`tfjs backend '${name}' failed to initialise`);
  }
  await tf.ready();
  if (name === "webgpu") patchWebgpuBackend();
  return name;
}

/**
 * Threads for the wasm backend: `$TEDLOC_WASM_THREADS` (default 1, one thread per process,
 * several processes or workers for several cores). ≥ 2 starts tfjs-wasm's threaded SIMD build
 * (lib/backend/wasm_threads.ts; docs/scale.md). Read once per process, when wasm starts.
 */
export function wasmThreadsWanted(): number {
  const raw = Deno.env.get("TEDLOC_WASM_THREADS");
  if (raw === undefined || raw === "") return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 4) {
    throw new Error(`TEDLOC_WASM_THREADS='${raw}': use an integer 1..4 (XNNPACK's limit in tfjs)`);
  }
  return n;
}

/** The name of the active tfjs backend. */
export function currentBackend(): string {
  return tf.getBackend();
}
