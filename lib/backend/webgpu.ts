/**
 * Making tfjs-backend-webgpu safe under Deno. The backend reads GPU data synchronously
 * (`dataSync`, `arraySync`, and the engine moving a tensor to another backend) through an
 * `OffscreenCanvas` 2D context, which Deno does not have: such a read dies deep inside tfjs with
 * `TypeError: Cannot read properties of null (reading 'clearRect')`. Two patches on the backend
 * instance (docs/webgpu.md):
 *
 * - a synchronous read of data that lives only on the GPU throws one clear error naming the
 *   fix (`await t.data()`) instead;
 * - before {@link initBackend} switches away from webgpu, every live GPU tensor is read back
 *   asynchronously once, so its values sit in the backend's CPU cache and the engine's later
 *   synchronous move to the new backend finds them there.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The parts of the webgpu backend instance these patches touch. */
interface TensorDataLike {
  values: unknown;
  dtype: string;
}
interface WebgpuBackendLike {
  tensorMap: {
    get(id: object): TensorDataLike;
    has(id: object): boolean;
    set(id: object, v: TensorDataLike): void;
    delete(id: object): boolean;
  };
  tensorDataPendingDisposal?: object[];
  readSync(id: object): unknown;
  read(id: object): Promise<unknown>;
  __tedlocPatched?: boolean;
}

/**
 * Whether this runtime can do tfjs-webgpu's synchronous readback: it draws the GPU buffer
 * into an `OffscreenCanvas` and reads it back through a 2D context. Deno 2 has
 * `OffscreenCanvas` with a `webgpu` context but no `2d` one (`getContext("2d")` is null).
 */
export function canReadWebgpuSync(): boolean {
  const C = (globalThis as { OffscreenCanvas?: new (w: number, h: number) => unknown })
    .OffscreenCanvas;
  if (C === undefined) return false;
  try {
    return (new C(1, 1) as { getContext(kind: string): unknown }).getContext("2d") != null;
  } catch {
    return false;
  }
}

/** Data ids that live in the webgpu backend, per backend instance. */
const live = new WeakMap<object, Set<object>>();

/**
 * Install the patches on the registered webgpu backend (idempotent). Call after
 * `tf.setBackend("webgpu")` succeeded.
 */
export function patchWebgpuBackend(): void {
  const backend = tf.findBackend("webgpu") as unknown as WebgpuBackendLike | null;
  if (!backend || backend.__tedlocPatched) return;
  backend.__tedlocPatched = true;
  const ids = new Set<object>();
  live.set(backend, ids);
  const map = backend.tensorMap;
  const set = map.set.bind(map), del = map.delete.bind(map);
  map.set = (id, v) => {
    ids.add(id);
    set(id, v);
  };
  map.delete = (id) => {
    ids.delete(id);
    return del(id);
  };
  if (canReadWebgpuSync()) return; // a browser: the canvas readback works there
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (id) => {
    const d = map.get(id);
    // Values on the CPU (fresh uploads, cached reads), strings and complex pairs are fine.
    if (d.values != null || d.dtype === "string" || d.dtype === "complex64") return readSync(id);
    throw new Error(
      "webgpu: synchronous readback (dataSync/arraySync/bufferSync, or a tensor moving to " +
        "another backend) needs an OffscreenCanvas 2D context, which Deno lacks: read with `await t.data()` " +
        "(docs/webgpu.md)",
    );
  };
}

/**
 * Read every live webgpu tensor back to the CPU once (asynchronously), so that switching to
 * another backend can move them synchronously. Returns how many tensors were read.
 */
export async function cacheWebgpuTensorsOnCpu(): Promise<number> {
  const backend = tf.findBackend("webgpu") as unknown as WebgpuBackendLike | null;
  const ids = backend ? live.get(backend) : undefined;
  if (!backend || !ids) return 0;
  const pending = new Set(backend.tensorDataPendingDisposal ?? []);
  const todo = [...ids].filter((id) => {
    if (pending.has(id) || !backend.tensorMap.has(id)) return false;
    const d = backend.tensorMap.get(id);
    return d.values == null && d.dtype !== "string" && d.dtype !== "complex64";
  });
  await Promise.all(todo.map((id) => backend.read(id)));
  return todo.length;
}
