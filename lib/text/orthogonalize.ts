/**
 * Orthogonalization of class anchors (TeD-Loc's QR step, plus the order-free symmetric
 * variant). Anchors come in as C rows of dimension D (the anchors file layout); think of
 * them as the columns of T (D × C). All arithmetic is float64; the result is float32 rows.
 *
 * - `none`: the rows, L2-normalised; dimension D.
 * - `qr`: Q of T = QR (Householder), with diag(R) > 0. Column k of Q is what Gram–Schmidt
 *   on t_1..t_k gives (class order matters: anchor 1 keeps its direction exactly), and
 *   every anchor keeps a positive cosine with its raw vector.
 * - `symmetric` (Löwdin): T (TᵀT)^{-1/2}, the orthonormal set closest to T in Frobenius
 *   norm (the polar factor U Vᵀ of T = U S Vᵀ); treats all classes alike. Computed from the
 *   eigendecomposition of the smaller Gram matrix (C × C or D × D).
 *
 * Rows are L2-normalised before either method, so the result depends only on directions.
 *
 * **C > D (and rank-deficient T).** C orthonormal vectors need at least C dimensions, so
 * the anchors are lifted first: T' = [T; ε I_C], i.e. every anchor gets C extra coordinates
 * of which only its own one is non-zero (ε, default 0.1). T' has full column rank for any
 * ε > 0, the lift needs no random numbers, and its Gram matrix is TᵀT + ε² I, so the
 * symmetric result is the ridge-regularised Löwdin T' (TᵀT + ε² I)^{-1/2}. The output
 * dimension is then d' = D + C (≥ C); the model's projection maps into d' dimensions.
 * Smaller ε keeps more of each anchor in the original D coordinates (at most D/C of the
 * total on average when C > D, whatever ε) but makes near-duplicate classes differ by
 * little more than their private coordinate. The same lift is applied (and reported with
 * `lifted: true`) when C ≤ D but T is numerically rank-deficient, e.g. two classes with
 * identical embeddings, instead of returning an arbitrary direction for one of them.
 *
 * @module
 */
import { householderQR, symmetricEigen } from "./linalg.ts";

/** How anchors are made orthonormal. */
export type OrthoMethod = "none" | "qr" | "symmetric";

/** The methods, for CLI validation and loops. */
export const ORTHO_METHODS: readonly OrthoMethod[] = ["none", "qr", "symmetric"];

/** Options of {@link orthogonalizeAnchors}. */
export interface OrthoOptions {
  /** ε of the lift `[T; ε I]` used when C > D or T is rank-deficient (default 0.1). */
  liftScale?: number;
  /** Lift even when not needed (C ≤ D, full rank), e.g. to compare like with like. */
  forceLift?: boolean;
  /**
   * Singular values below `rankTolerance × √C` count as zero (default 1e-6): anchors
   * closer than that to the span of the others trigger the lift.
   */
  rankTolerance?: number;
}

/** Result of {@link orthogonalizeAnchors}. */
export interface OrthoResult {
  /** `count × dim` row-major, orthonormal rows (unit rows for `none`). */
  vectors: Float32Array;
  /** D, or D + C when lifted. */
  dim: number;
  /** Whether the ε·I lift was applied. */
  lifted: boolean;
}

function normalizedRows(vectors: ArrayLike<number>, count: number, dim: number): Float64Array {
  if (vectors.length !== count * dim) {
    throw new Error(`orthogonalizeAnchors: ${vectors.length} values, expected ${count}×${dim}`);
  }
  const x = Float64Array.from(vectors as ArrayLike<number>);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[i * dim + j] ** 2;
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new Error(`orthogonalizeAnchors: anchor ${i} is zero or not finite`);
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) x[i * dim + j] *= inv;
  }
  return x;
}

/**
 * Orthonormalise C anchors of dimension D (see the module doc for the methods, the sign
 * convention, and the lift to D + C dimensions when C > D).
 *
 * @example
 * ```ts
 * const a = await readAnchors("anchors.safetensors");
 * const { vectors, dim } = orthogonalizeAnchors(a.vectors, a.count, a.dim, "qr");
 * // 1000 ImageNet anchors of dim 512 → dim 1512, rows orthonormal
 * ```
 */
export function orthogonalizeAnchors(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
  method: OrthoMethod,
  opts: OrthoOptions = {},
): OrthoResult {
  if (!ORTHO_METHODS.includes(method)) {
    throw new Error(`orthogonalizeAnchors: unknown method '${method}' (${ORTHO_METHODS})`);
  }
  if (count < 1) throw new Error("orthogonalizeAnchors: no anchors");
  const eps = opts.liftScale ?? 0.1;
  if (!(eps > 0)) throw new Error(`orthogonalizeAnchors: liftScale must be > 0, got ${eps}`);
  const tol = (opts.rankTolerance ?? 1e-6) * Math.sqrt(count);
  const x = normalizedRows(vectors, count, dim);
  if (method === "none") return { vectors: Float32Array.from(x), dim, lifted: false };
  const mustLift = count > dim || !!opts.forceLift;
  if (method === "qr") {
    if (!mustLift) {
      const r = qrRows(x, count, dim, 0);
      if (Math.min(...r.rDiag) > tol) return { vectors: r.rows, dim, lifted: false };
    }
    return { vectors: qrRows(x, count, dim, eps).rows, dim: dim + count, lifted: true };
  }
  if (!mustLift) {
    const r = symmetricRows(x, count, dim, 0, tol);
    if (r) return { vectors: r, dim, lifted: false };
  }
  return { vectors: symmetricRows(x, count, dim, eps, tol)!, dim: dim + count, lifted: true };
}

/** QR of T (or of [T; εI] when eps > 0); rows of the result = columns of Q. */
function qrRows(x: Float64Array, C: number, D: number, eps: number) {
  const m = eps > 0 ? D + C : D;
  // column k of T' = anchor k (then ε at position D + k): x's rows are already contiguous
  const cols = new Float64Array(m * C);
  for (let k = 0; k < C; k++) {
    cols.set(x.subarray(k * D, k * D + D), k * m);
    if (eps > 0) cols[k * m + D + k] = eps;
  }
  const { q, rDiag } = householderQR(cols, m, C);
  const rows = new Float32Array(C * m);
  for (let i = 0; i < q.length; i++) rows[i] = q[i];
  return { rows, rDiag };
}

/**
 * Löwdin rows `(G + ε² I)^{-1/2} [X | ε I]` with G = X Xᵀ, from the thin SVD X = V S Uᵀ
 * (via the eigendecomposition of X Xᵀ when C ≤ D, else of Xᵀ X). Returns null when not
 * lifted and X is rank-deficient.
 */
function symmetricRows(
  x: Float64Array,
  C: number,
  D: number,
  eps: number,
  tol: number,
): Float32Array | null {
  const outDim = eps > 0 ? D + C : D;
  const out = new Float32Array(C * outDim);
  if (C <= D) {
    // G = X Xᵀ = V Λ Vᵀ; M = V f(Λ) Vᵀ with f = (λ + ε²)^{-1/2}; rows = M X (and ε M)
    const g = gram(x, C, D);
    const { values, vectors: v } = symmetricEigen(g, C);
    if (eps === 0 && !(Math.sqrt(Math.max(values[0], 0)) > tol)) return null;
    const f = values.map((l) => 1 / Math.sqrt(Math.max(l, 0) + eps * eps));
    const m = new Float64Array(C * C);
    for (let k = 0; k < C; k++) {
      const vk = v.subarray(k * C, k * C + C), fk = f[k];
      for (let i = 0; i < C; i++) {
        const a = fk * vk[i];
        if (a === 0) continue;
        const ri = i * C;
        for (let j = 0; j < C; j++) m[ri + j] += a * vk[j];
      }
    }
    const mx = multiply(m, x, C, C, D);
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < D; j++) out[i * outDim + j] = mx[i * D + j];
      if (eps > 0) { for (let j = 0; j < C; j++) out[i * outDim + D + j] = eps * m[i * C + j]; }
    }
    return out;
  }
  // C > D (lifted): Xᵀ X = U Λ Uᵀ, V_r = X U_r S_r^{-1} for the non-zero singular values;
  // left block = V_r diag(s/√(s²+ε²)) U_rᵀ; right block = I + V_r diag(ε/√(s²+ε²) − 1) V_rᵀ
  // (the null space of X Xᵀ gets the plain 1/ε scaling, which the ε of the lift cancels).
  const xt = transpose(x, C, D);
  const h = gram(xt, D, C);
  const { values, vectors: u } = symmetricEigen(h, D);
  const keep: number[] = [];
  for (let k = 0; k < D; k++) if (Math.sqrt(Math.max(values[k], 0)) > tol) keep.push(k);
  const r = keep.length;
  const vr = new Float64Array(C * r); // row-major C × r
  keep.forEach((k, col) => {
    const uk = u.subarray(k * D, k * D + D);
    const inv = 1 / Math.sqrt(values[k]);
    for (let i = 0; i < C; i++) {
      let s = 0;
      const ri = i * D;
      for (let j = 0; j < D; j++) s += x[ri + j] * uk[j];
      vr[i * r + col] = s * inv;
    }
  });
  const leftCoef = keep.map((k) => {
    const s = Math.sqrt(values[k]);
    return s / Math.sqrt(values[k] + eps * eps);
  });
  const rightCoef = keep.map((k) => eps / Math.sqrt(values[k] + eps * eps) - 1);
  // left: (V_r · diag) · U_rᵀ, with U_rᵀ rows = the kept eigenvectors
  const ur = new Float64Array(r * D);
  keep.forEach((k, col) => ur.set(u.subarray(k * D, k * D + D), col * D));
  const scaled = new Float64Array(C * r);
  for (let i = 0; i < C; i++) {
    for (let c = 0; c < r; c++) scaled[i * r + c] = vr[i * r + c] * leftCoef[c];
  }
  const left = multiply(scaled, ur, C, r, D);
  for (let i = 0; i < C; i++) {
    for (let c = 0; c < r; c++) scaled[i * r + c] = vr[i * r + c] * rightCoef[c];
  }
  const vrT = transpose(vr, C, r);
  const right = multiply(scaled, vrT, C, r, C);
  for (let i = 0; i < C; i++) right[i * C + i] += 1;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < D; j++) out[i * outDim + j] = left[i * D + j];
    for (let j = 0; j < C; j++) out[i * outDim + D + j] = right[i * C + j];
  }
  return out;
}

/** `a` (n × k) times its transpose: the n × n Gram matrix of a's rows. */
function gram(a: Float64Array, n: number, k: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * k;
    for (let j = 0; j <= i; j++) {
      const rj = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += a[ri + t] * a[rj + t];
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

function transpose(a: Float64Array, n: number, k: number): Float64Array {
  const t = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) t[j * n + i] = a[i * k + j];
  return t;
}

/** `a` (n × k) · `b` (k × m), row-major, i-k-j loop order (rows of b contiguous). */
function multiply(a: Float64Array, b: Float64Array, n: number, k: number, m: number) {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ro = i * m;
    for (let t = 0; t < k; t++) {
      const av = a[i * k + t];
      if (av === 0) continue;
      const rb = t * m;
      for (let j = 0; j < m; j++) out[ro + j] += av * b[rb + j];
    }
  }
  return out;
}
