/**
 * Reading tensors back to the CPU asynchronously, the only way that works on every backend
 * (webgpu under Deno has no synchronous readback: docs/webgpu.md).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The values of several tensors with ONE device→host transfer: they are flattened, cast to
 * float32 and concatenated on the backend, read with a single `await data()`, then split.
 * int32/bool values come back exactly when |v| < 2²⁴ (indices, labels). With `dispose`
 * the inputs are disposed once the read has been issued.
 *
 * @example
 * ```ts
 * const [scores, maps] = await readTensors([p.scores, p.maps], { dispose: true });
 * ```
 */
export async function readTensors(
  tensors: readonly tf.Tensor[],
  opts: { dispose?: boolean } = {},
): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  const flat = tf.tidy(() => {
    const parts = tensors.map((t) =>
      tf.reshape(t.dtype === "float32" ? t : tf.cast(t, "float32"), [-1])
    );
    return parts.length === 1 ? parts[0].clone() : tf.concat(parts);
  });
  if (opts.dispose) tf.dispose(tensors as tf.Tensor[]);
  try {
    const all = await flat.data() as Float32Array;
    const out: Float32Array[] = [];
    let at = 0;
    for (const t of tensors) {
      out.push(all.slice(at, at + t.size));
      at += t.size;
    }
    return out;
  } finally {
    flat.dispose();
  }
}

/**
 * The values of one tensor, read asynchronously as float32 (a copy the caller owns).
 *
 * @example
 * ```ts
 * const tokens = await readFloat32(encoder.encode(images), { dispose: true });
 * ```
 */
export async function readFloat32(
  t: tf.Tensor,
  opts: { dispose?: boolean } = {},
): Promise<Float32Array> {
  const [v] = await readTensors([t], opts);
  return v;
}
