/**
 * Matrix products for all model code. tfjs's own matMul gradient calls matMul with
 * transposeA/transposeB flags, which the wasm backend runs ~12× slower than a plain
 * product; these versions transpose explicitly instead (same values, see tests).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

const plainMatMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, swapLast(sb)), tf.matMul(swapLast(sa), dy)];
    },
  };
});

/**
 * `a · b` with a wasm-friendly gradient. Ranks: 2×2, or batched N×N with equal batch
 * dims, or N×2 (a `[..., k]` tensor times a `[k, m]` matrix, the dense-layer case).
 * Transpose flags are applied with explicit transposes.
 *
 * @example
 * ```ts
 * const y = matMul(x, w);                 // [B, N, d] · [d, k] → [B, N, k]
 * const s = matMul(q, k, false, true);    // q · kᵀ
 * ```
 */
export function matMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA = false,
  transposeB = false,
): tf.Tensor {
  return tf.tidy(() => {
    const A = transposeA ? swapLast(a) : a;
    const B = transposeB ? swapLast(b) : b;
    if (A.rank > 2 && B.rank === 2) {
      const shape = A.shape as number[];
      const flat = plainMatMul(A.reshape([-1, shape[shape.length - 1]]), B) as tf.Tensor;
      return flat.reshape([...shape.slice(0, -1), (B.shape as number[])[1]]);
    }
    if (A.rank !== B.rank) throw new Error(`matMul: ranks ${A.rank} and ${B.rank} not supported`);
    return plainMatMul(A, B) as tf.Tensor;
  });
}

/**
 * A dense layer `x · w + b` on the last axis, with the wasm-friendly gradient.
 *
 * @example
 * ```ts
 * const h = dense(x, w, b);   // [B, N, in] → [B, N, out]
 * ```
 */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const y = matMul(x, w);
    return b ? tf.add(y, b) : y;
  });
}
