/**
 * The frozen anchor space TeD-Loc distils into: raw class anchors `[C, D]` → a fixed
 * projection to the model's dimension d → orthogonalization (none / QR / symmetric).
 *
 * Choices (method.md leaves them open):
 * - Proj: identity when `projDim` is unset or equals D. Otherwise a fixed orthonormal map
 *   drawn from a seeded Gaussian (orthonormal columns when d ≤ D, orthonormal rows when
 *   d > D), so angles between anchors are kept as well as a linear map of that size can.
 *   Rows are re-normalised after projecting.
 * - Orthogonalization comes after Proj, so the anchors the model actually uses are the
 *   orthonormal ones (projecting orthonormal vectors to fewer dimensions would undo it).
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Anchors } from "../text/anchors.ts";
import { normalizeRows } from "../text/anchors.ts";

/** How the anchors are orthogonalized (same names as lib/text's `OrthoMethod`). */
export type AnchorOrtho = "none" | "qr" | "symmetric";

/** How to turn raw anchors into the model's anchor space. */
export interface AnchorSpaceConfig {
  /** Orthogonalization applied after the projection. */
  ortho: AnchorOrtho;
  /** Target dimension d of the fixed projection; `null`/absent keeps the anchors' own D. */
  projDim?: number | null;
  /** Seed of the fixed projection matrix. */
  projSeed: number;
}

/** The anchors as the model uses them (frozen). */
export interface AnchorSpace {
  classNames: string[];
  /** `count × dim`, rows unit-norm (orthonormal unless `ortho` is "none"). */
  vectors: Float32Array;
  count: number;
  dim: number;
  /** Raw anchors' dimension D before the projection. */
  rawDim: number;
  ortho: AnchorOrtho;
  /** Where the raw anchors came from (anchors file `source`). */
  source: string;
}

/**
 * A fixed, seeded `[inDim, outDim]` matrix with orthonormal columns (outDim ≤ inDim) or
 * orthonormal rows (outDim > inDim). Identity when the dimensions agree.
 *
 * @example
 * ```ts
 * const P = fixedProjection(384, 128, 0); // x[1×384] · P → [1×128], norms shrink, angles ~kept
 * ```
 */
export function fixedProjection(inDim: number, outDim: number, seed: number): Float32Array {
  const P = new Float32Array(inDim * outDim);
  if (inDim === outDim) {
    for (let i = 0; i < inDim; i++) P[i * outDim + i] = 1;
    return P;
  }
  const rng = new Rng(seed);
  // Orthonormalize the k = min(in, out) vectors of length L = max(in, out).
  const k = Math.min(inDim, outDim), L = Math.max(inDim, outDim);
  const basis = new Float64Array(k * L);
  for (let i = 0; i < basis.length; i++) basis[i] = rng.normal();
  gramSchmidtRows(basis, k, L, "fixedProjection");
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < L; b++) {
      // columns of P when outDim ≤ inDim (vector a is column a); rows otherwise
      if (outDim <= inDim) P[b * outDim + a] = basis[a * L + b];
      else P[a * outDim + b] = basis[a * L + b];
    }
  }
  return P;
}

/** Modified Gram–Schmidt over the rows of a `count × dim` matrix, in place (row order kept). */
function gramSchmidtRows(m: Float64Array, count: number, dim: number, what: string): void {
  for (let i = 0; i < count; i++) {
    for (let pass = 0; pass < 2; pass++) { // two passes: numerically orthogonal
      for (let j = 0; j < i; j++) {
        let dot = 0;
        for (let t = 0; t < dim; t++) dot += m[i * dim + t] * m[j * dim + t];
        for (let t = 0; t < dim; t++) m[i * dim + t] -= dot * m[j * dim + t];
      }
    }
    let s = 0;
    for (let t = 0; t < dim; t++) s += m[i * dim + t] ** 2;
    if (!(s > 1e-20)) throw new Error(`${what}: row ${i} is linearly dependent on earlier rows`);
    const inv = 1 / Math.sqrt(s);
    for (let t = 0; t < dim; t++) m[i * dim + t] *= inv;
  }
}

/** Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi). Returns values and row-major vectors (columns). */
function symmetricEigen(
  a: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

/**
 * Orthogonalize `count × dim` anchor rows. The single place the model calls into
 * orthogonalization: lib/text's `orthogonalizeAnchors` replaces this body once it lands.
 *
 * - `none`: rows unchanged (copied).
 * - `qr`: Gram–Schmidt in class order (= Q of the QR of the dim×count matrix).
 * - `symmetric`: Löwdin, `(A Aᵀ)^(-1/2) A`, the closest orthonormal set, order-free.
 *
 * Needs count ≤ dim and independent rows for `qr`/`symmetric` (clear error otherwise).
 */
export function orthogonalizeAnchorRows(
  vectors: Float32Array,
  count: number,
  dim: number,
  method: AnchorOrtho,
): { vectors: Float32Array; dim: number } {
  if (method === "none") return { vectors: Float32Array.from(vectors), dim };
  if (method !== "qr" && method !== "symmetric") {
    throw new Error(`unknown orthogonalization '${method}': use none, qr or symmetric`);
  }
  if (count > dim) {
    throw new Error(
      `cannot orthogonalize ${count} anchors in ${dim} dimensions (needs count ≤ dim): ` +
        `set the anchor projection dimension to at least ${count}`,
    );
  }
  const A = Float64Array.from(vectors);
  if (method === "qr") {
    gramSchmidtRows(A, count, dim, "orthogonalize(qr)");
    return { vectors: Float32Array.from(A), dim };
  }
  const G = new Float64Array(count * count);
  for (let i = 0; i < count; i++) {
    for (let j = i; j < count; j++) {
      let s = 0;
      for (let t = 0; t < dim; t++) s += A[i * dim + t] * A[j * dim + t];
      G[i * count + j] = G[j * count + i] = s;
    }
  }
  const { values, vectors: U } = symmetricEigen(G, count);
  const maxEig = Math.max(...values);
  const invSqrt = new Float64Array(count * count); // U Λ^(-1/2) Uᵀ
  for (let k = 0; k < count; k++) {
    if (!(values[k] > 1e-10 * maxEig)) {
      throw new Error("orthogonalize(symmetric): anchors are linearly dependent");
    }
    const f = 1 / Math.sqrt(values[k]);
    for (let i = 0; i < count; i++) {
      const uik = U[i * count + k] * f;
      for (let j = 0; j < count; j++) invSqrt[i * count + j] += uik * U[j * count + k];
    }
  }
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let t = 0; t < dim; t++) {
      let s = 0;
      for (let j = 0; j < count; j++) s += invSqrt[i * count + j] * A[j * dim + t];
      out[i * dim + t] = s;
    }
  }
  return { vectors: out, dim };
}

/**
 * Raw anchors → fixed projection → orthogonalization: the frozen anchors of the model.
 *
 * @example
 * ```ts
 * const space = buildAnchorSpace(await readAnchors(path), { ortho: "qr", projDim: 128, projSeed: 0 });
 * ```
 */
export function buildAnchorSpace(raw: Anchors, config: AnchorSpaceConfig): AnchorSpace {
  const C = raw.count, D = raw.dim;
  const d = config.projDim ?? D;
  if (!Number.isInteger(d) || d < 1) throw new Error(`anchor projection dimension ${d} is invalid`);
  let vectors: Float32Array;
  if (d === D) vectors = Float32Array.from(raw.vectors);
  else {
    const P = fixedProjection(D, d, config.projSeed);
    vectors = new Float32Array(C * d);
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < D; i++) {
        const v = raw.vectors[c * D + i];
        if (v === 0) continue;
        for (let j = 0; j < d; j++) vectors[c * d + j] += v * P[i * d + j];
      }
    }
  }
  normalizeRows(vectors, C, d);
  const o = orthogonalizeAnchorRows(vectors, C, d, config.ortho);
  return {
    classNames: [...raw.classNames],
    vectors: o.vectors,
    count: C,
    dim: o.dim,
    rawDim: D,
    ortho: config.ortho,
    source: raw.source,
  };
}
