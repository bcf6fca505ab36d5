/**
 * The frozen anchor space TeD-Loc distils into: raw class anchors `[C, D]` → a fixed
 * projection to the model's dimension d → orthogonalization (none / QR / symmetric).
 *
 * Choices (method.md leaves them open):
 * - Proj: identity when `projDim` is unset or equals D. Otherwise a fixed orthonormal map
 *   drawn from a seeded Gaussian (orthonormal columns when d ≤ D, orthonormal rows when
 *   d > D), so angles between anchors are kept as well as a linear map of that size can.
 *   Rows are re-normalised after projecting.
 * - Orthogonalization (lib/text's `orthogonalizeAnchors`) comes after Proj, so the anchors
 *   the model actually uses are the orthonormal ones (projecting orthonormal vectors to fewer
 *   dimensions would undo it). When C > d it lifts the anchors to d + C dimensions, and the
 *   model's embedding dimension follows (`AnchorSpace.dim`).
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Anchors } from "../text/anchors.ts";
import { normalizeRows } from "../text/anchors.ts";
import { orthogonalizeAnchors, type OrthoMethod } from "../text/orthogonalize.ts";

/**
 * What is done to the anchors: lib/text's `OrthoMethod` (`none`: as they come, L2-normalised
 * only; `qr`; `symmetric`), or `centre`: centred (by the run's inputs, before this space is
 * built: see lib/run/inputs.ts) and not orthogonalized — here it acts as `none`.
 */
export type AnchorOrtho = OrthoMethod | "centre";

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
  /** `count × dim`, rows unit-norm (orthonormal unless `ortho` is "none" or "centre"). */
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
  // lib/text: QR (Householder, class order) or symmetric (Löwdin); C > d or dependent anchors
  // are lifted to d + C dimensions first, so the model's d becomes d + C then.
  // "centre" is done to the raw anchors the run reads (their centring population differs by
  // source); the space itself leaves them as they are.
  const method: OrthoMethod = config.ortho === "centre" ? "none" : config.ortho;
  const o = orthogonalizeAnchors(vectors, C, d, method);
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
