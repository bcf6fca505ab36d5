/**
 * Anchor analysis for notebooks (pure functions, no tfjs): cosine-similarity matrix,
 * similarity statistics, the spectrum of the class-specific parts (how many independent
 * directions the anchors really use), and an exact, seeded t-SNE for the before/after orthogonalization
 * figure (the paper's Figure 3).
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { symmetricEigen } from "./linalg.ts";

function unitRows(vectors: ArrayLike<number>, count: number, dim: number): Float64Array {
  if (vectors.length !== count * dim) {
    throw new Error(`anchor analysis: ${vectors.length} values, expected ${count}×${dim}`);
  }
  const x = Float64Array.from(vectors as ArrayLike<number>);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[i * dim + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) x[i * dim + j] *= inv;
  }
  return x;
}

/**
 * The `count × count` matrix of cosine similarities between rows (rows are normalised
 * here, so raw vectors are fine; a zero row gives zeros).
 *
 * @example
 * ```ts
 * const sim = cosineSimilarityMatrix(anchors.vectors, anchors.count, anchors.dim);
 * sim[i * anchors.count + j]; // cos(anchor i, anchor j)
 * ```
 */
export function cosineSimilarityMatrix(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
): Float32Array {
  const x = unitRows(vectors, count, dim);
  const out = new Float32Array(count * count);
  for (let i = 0; i < count; i++) {
    const ri = i * dim;
    for (let j = 0; j <= i; j++) {
      const rj = j * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += x[ri + k] * x[rj + k];
      out[i * count + j] = s;
      out[j * count + i] = s;
    }
  }
  return out;
}

/** Summary of how similar a set of anchors are to each other. */
export interface AnchorStatistics {
  count: number;
  /** Mean cosine over all ordered pairs i ≠ j. */
  meanOffDiagonal: number;
  /** Mean |cosine| over pairs i ≠ j. */
  meanAbsOffDiagonal: number;
  /** Largest cosine between two different anchors, and the pair. */
  maxOffDiagonal: number;
  maxPair: [number, number];
  /** Smallest cosine between two different anchors. */
  minOffDiagonal: number;
  /** Per class: the cosine with its nearest other anchor, and that anchor's index. */
  nearestCosine: Float64Array;
  nearestIndex: Int32Array;
  /** Mean of `nearestCosine`. */
  meanNearestCosine: number;
}

/**
 * Cosine statistics of anchors: mean/max off-diagonal cosine, nearest-neighbour cosine
 * per class. Pass `similarity` when the matrix is already computed.
 *
 * @example
 * ```ts
 * const s = anchorStatistics(a.vectors, a.count, a.dim);
 * console.log(s.meanOffDiagonal.toFixed(3), s.maxOffDiagonal.toFixed(3), a.classNames[s.maxPair[0]]);
 * ```
 */
export function anchorStatistics(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
  similarity?: Float32Array,
): AnchorStatistics {
  if (count < 2) throw new Error("anchorStatistics: needs at least 2 anchors");
  const sim = similarity ?? cosineSimilarityMatrix(vectors, count, dim);
  let sum = 0, abs = 0, max = -Infinity, min = Infinity;
  let maxPair: [number, number] = [0, 1];
  const nearestCosine = new Float64Array(count).fill(-Infinity);
  const nearestIndex = new Int32Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < count; j++) {
      if (i === j) continue;
      const c = sim[i * count + j];
      sum += c;
      abs += Math.abs(c);
      if (c > max) [max, maxPair] = [c, [Math.min(i, j), Math.max(i, j)]];
      if (c < min) min = c;
      if (c > nearestCosine[i]) [nearestCosine[i], nearestIndex[i]] = [c, j];
    }
  }
  const pairs = count * (count - 1);
  return {
    count,
    meanOffDiagonal: sum / pairs,
    meanAbsOffDiagonal: abs / pairs,
    maxOffDiagonal: max,
    maxPair,
    minOffDiagonal: min,
    nearestCosine,
    nearestIndex,
    meanNearestCosine: nearestCosine.reduce((a, b) => a + b, 0) / count,
  };
}

/** How many independent directions a set of anchors uses, once what they share is removed. */
export interface AnchorSpectrum {
  count: number;
  /**
   * Singular values of the centred unit rows (`x̂_k − mean_k x̂_k`), descending, relative to
   * the largest (`count` values; the last is 0 up to rounding: centring removes one rank).
   */
  relative: Float64Array;
  /**
   * Participation ratio `(Σ λ)² / Σ λ²` of the centred Gram matrix's eigenvalues λ = s²:
   * the number of equally strong directions that would give the same spread. Between 1
   * (all class-specific variance on one axis) and `count − 1` (a regular simplex, which is
   * what orthonormal anchors become after centring).
   */
  effectiveRank: number;
  /** Fewest directions holding 90 % of the centred variance. */
  rank90: number;
}

/**
 * The spectrum of anchors after removing their mean direction (the component every class
 * shares, e.g. the prompt "Image of a …"). Real CLIP name embeddings of 24 related ImageNet
 * classes have an effective rank of 12–15 here; anchors built from a few shared factors
 * have far fewer directions than classes, which changes what orthogonalizing them does.
 *
 * @example
 * ```ts
 * const s = anchorSpectrum(a.vectors, a.count, a.dim);
 * console.log(s.effectiveRank.toFixed(1), s.rank90, Array.from(s.relative.slice(0, 5)));
 * ```
 */
export function anchorSpectrum(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
): AnchorSpectrum {
  if (count < 2) throw new Error("anchorSpectrum: needs at least 2 anchors");
  const x = unitRows(vectors, count, dim);
  for (let j = 0; j < dim; j++) {
    let m = 0;
    for (let i = 0; i < count; i++) m += x[i * dim + j];
    m /= count;
    for (let i = 0; i < count; i++) x[i * dim + j] -= m;
  }
  // the count×count Gram matrix has the squared singular values as eigenvalues
  const gram = new Float64Array(count * count);
  for (let i = 0; i < count; i++) {
    for (let k = i; k < count; k++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += x[i * dim + j] * x[k * dim + j];
      gram[i * count + k] = s;
      gram[k * count + i] = s;
    }
  }
  const lambda = Array.from(symmetricEigen(gram, count).values, (v) => Math.max(0, v))
    .sort((a, b) => b - a);
  const total = lambda.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error("anchorSpectrum: all anchors are the same direction");
  const sumSq = lambda.reduce((a, b) => a + b * b, 0);
  let cum = 0, rank90 = 0;
  while (cum < 0.9 * total) cum += lambda[rank90++];
  const top = Math.sqrt(lambda[0]);
  return {
    count,
    relative: Float64Array.from(lambda, (l) => Math.sqrt(l) / top),
    effectiveRank: (total * total) / sumSq,
    rank90,
  };
}

/** Three numbers that describe a set of anchors' geometry. */
export interface AnchorGeometry {
  /** Mean cosine between different anchors (crowding). */
  meanCosine: number;
  /** Mean over classes of the cosine with the nearest other anchor. */
  nearestCosine: number;
  /** Effective rank of the centred anchors ({@link anchorSpectrum}). */
  effectiveRank: number;
}

/**
 * {@link AnchorGeometry} of one set of anchors.
 *
 * @example
 * ```ts
 * const g = anchorGeometry(a.vectors, a.count, a.dim); // { meanCosine, nearestCosine, effectiveRank }
 * ```
 */
export function anchorGeometry(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
): AnchorGeometry {
  const s = anchorStatistics(vectors, count, dim);
  return {
    meanCosine: s.meanOffDiagonal,
    nearestCosine: s.meanNearestCosine,
    effectiveRank: anchorSpectrum(vectors, count, dim).effectiveRank,
  };
}

/**
 * Median {@link AnchorGeometry} over consecutive blocks of `blockSize` anchors (a trailing
 * partial block is dropped). With ImageNet's class order (WordNet) a block holds related
 * classes, which is what the synthetic stand-in anchors are calibrated to.
 *
 * @example
 * ```ts
 * const g = blockGeometryMedian(clip.vectors, 1000, 512, 24); // 41 blocks
 * ```
 */
export function blockGeometryMedian(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
  blockSize: number,
): AnchorGeometry & { blocks: number } {
  if (!Number.isInteger(blockSize) || blockSize < 2 || blockSize > count) {
    throw new Error(`blockGeometryMedian: block size ${blockSize} for ${count} anchors`);
  }
  const all: AnchorGeometry[] = [];
  const x = Float32Array.from(vectors as ArrayLike<number>);
  for (let b = 0; b + blockSize <= count; b += blockSize) {
    all.push(anchorGeometry(x.subarray(b * dim, (b + blockSize) * dim), blockSize, dim));
  }
  const median = (xs: number[]) => {
    const a = [...xs].sort((p, q) => p - q);
    return (a[(a.length - 1) >> 1] + a[a.length >> 1]) / 2;
  };
  return {
    blocks: all.length,
    meanCosine: median(all.map((g) => g.meanCosine)),
    nearestCosine: median(all.map((g) => g.nearestCosine)),
    effectiveRank: median(all.map((g) => g.effectiveRank)),
  };
}

/**
 * Per class, the cosine between an orthogonalized anchor and its raw anchor: how much of
 * the raw direction survives. `ortho` rows may be longer than the raw ones (lifted to
 * `orthoDim` = D + C); the extra coordinates count as zero in the raw vector.
 *
 * @example
 * ```ts
 * const o = orthogonalizeAnchors(a.vectors, a.count, a.dim, "qr");
 * const kept = rawCosines(a.vectors, o.vectors, a.count, a.dim, o.dim);
 * ```
 */
export function rawCosines(
  raw: ArrayLike<number>,
  ortho: ArrayLike<number>,
  count: number,
  rawDim: number,
  orthoDim: number,
): Float64Array {
  if (orthoDim < rawDim) throw new Error(`rawCosines: orthoDim ${orthoDim} < rawDim ${rawDim}`);
  const t = unitRows(raw, count, rawDim);
  const q = unitRows(ortho, count, orthoDim);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let k = 0; k < rawDim; k++) s += t[i * rawDim + k] * q[i * orthoDim + k];
    out[i] = s;
  }
  return out;
}

/**
 * The rows `indices` of a `count × dim` matrix (e.g. a bird subset of the ImageNet anchors).
 */
export function selectAnchorRows(
  vectors: ArrayLike<number>,
  dim: number,
  indices: readonly number[],
): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((r, i) => {
    for (let j = 0; j < dim; j++) out[i * dim + j] = vectors[r * dim + j];
  });
  return out;
}

/** Options of {@link tsne}. */
export interface TsneOptions {
  /** Effective number of neighbours (default 30; must be < count). */
  perplexity?: number;
  /** Gradient steps (default 1000). */
  iterations?: number;
  /** Step size; default `max(count / earlyExaggeration / 4, 50)` (scikit-learn's "auto"). */
  learningRate?: number;
  /** P multiplier during the first `exaggerationIterations` steps (default 12). */
  earlyExaggeration?: number;
  /** Default 250. */
  exaggerationIterations?: number;
  /** Input distances: squared Euclidean on the rows, or on the L2-normalised rows. */
  metric?: "euclidean" | "cosine";
  /** Start: top-2 principal components scaled to std 1e-4 (default), or seeded noise. */
  init?: "pca" | "random";
  /** Seed for the random start (and the PCA power iteration's start). */
  seed?: number;
  /** Called every 50 steps with (step, KL divergence). */
  onProgress?: (step: number, kl: number) => void;
}

/** Result of {@link tsne}. */
export interface TsneResult {
  /** `count × 2` row-major coordinates (centred). */
  embedding: Float64Array;
  /** KL(P ‖ Q) at the end. */
  kl: number;
}

/**
 * Exact t-SNE (van der Maaten & Hinton 2008) to 2-D: Gaussian affinities calibrated to a
 * perplexity by bisection, symmetrised; Student-t output kernel; gradient descent with
 * momentum (0.5, then 0.8), per-coordinate gains and early exaggeration. O(N²) memory and
 * time per step: fine up to N ≈ 1000–2000. Deterministic for a given seed.
 *
 * @example
 * ```ts
 * const { embedding } = tsne(anchors.vectors, anchors.count, anchors.dim, { seed: 0 });
 * const x0 = embedding[0], y0 = embedding[1];
 * ```
 */
export function tsne(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
  opts: TsneOptions = {},
): TsneResult {
  const n = count;
  const perplexity = opts.perplexity ?? 30;
  if (n < 3) throw new Error("tsne: needs at least 3 points");
  if (!(perplexity > 0 && perplexity < n)) {
    throw new Error(`tsne: perplexity ${perplexity} must be in (0, ${n})`);
  }
  const iterations = opts.iterations ?? 1000;
  const exaggeration = opts.earlyExaggeration ?? 12;
  const exIters = opts.exaggerationIterations ?? 250;
  const lr = opts.learningRate ?? Math.max(n / exaggeration / 4, 50);
  const x = opts.metric === "cosine"
    ? unitRows(vectors, n, dim)
    : Float64Array.from(vectors as ArrayLike<number>);
  if (x.length !== n * dim) throw new Error(`tsne: ${x.length} values, expected ${n}×${dim}`);

  // squared distances
  const d2 = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const t = x[i * dim + k] - x[j * dim + k];
        s += t * t;
      }
      d2[i * n + j] = s;
      d2[j * n + i] = s;
    }
  }
  const p = affinities(d2, n, perplexity);

  const y = opts.init === "random"
    ? randomStart(n, opts.seed ?? 0)
    : pcaStart(x, n, dim, opts.seed ?? 0);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const grad = new Float64Array(2 * n);
  const num = new Float64Array(n * n);
  let kl = 0;
  for (let step = 0; step < iterations; step++) {
    const exag = step < exIters ? exaggeration : 1;
    const momentum = step < exIters ? 0.5 : 0.8;
    // Student-t numerators and their sum
    let z = 0;
    for (let i = 0; i < n; i++) {
      const yi0 = y[2 * i], yi1 = y[2 * i + 1];
      for (let j = 0; j < i; j++) {
        const a = yi0 - y[2 * j], b = yi1 - y[2 * j + 1];
        const q = 1 / (1 + a * a + b * b);
        num[i * n + j] = q;
        num[j * n + i] = q;
        z += 2 * q;
      }
    }
    const invZ = 1 / z;
    grad.fill(0);
    const wantKl = (step + 1) % 50 === 0 || step === iterations - 1;
    kl = 0;
    for (let i = 0; i < n; i++) {
      const yi0 = y[2 * i], yi1 = y[2 * i + 1];
      let g0 = 0, g1 = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const q = num[row + j];
        const pij = p[row + j];
        const f = (exag * pij - q * invZ) * q;
        g0 += f * (yi0 - y[2 * j]);
        g1 += f * (yi1 - y[2 * j + 1]);
        if (wantKl && pij > 0) kl += pij * Math.log(pij / Math.max(q * invZ, 1e-300));
      }
      grad[2 * i] = 4 * g0;
      grad[2 * i + 1] = 4 * g1;
    }
    for (let k = 0; k < 2 * n; k++) {
      const sameSign = grad[k] > 0 === update[k] > 0;
      gains[k] = Math.max(sameSign ? gains[k] * 0.8 : gains[k] + 0.2, 0.01);
      update[k] = momentum * update[k] - lr * gains[k] * grad[k];
      y[k] += update[k];
    }
    let m0 = 0, m1 = 0;
    for (let i = 0; i < n; i++) {
      m0 += y[2 * i];
      m1 += y[2 * i + 1];
    }
    for (let i = 0; i < n; i++) {
      y[2 * i] -= m0 / n;
      y[2 * i + 1] -= m1 / n;
    }
    if (wantKl && opts.onProgress) opts.onProgress(step + 1, kl);
  }
  return { embedding: y, kl };
}

/** Symmetrised P from squared distances: per-row bisection on the Gaussian precision. */
function affinities(d2: Float64Array, n: number, perplexity: number): Float64Array {
  const target = Math.log(perplexity);
  const p = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let beta = 1, lo = -Infinity, hi = Infinity;
    // distances relative to the nearest neighbour keep exp() in range
    let dmin = Infinity;
    for (let j = 0; j < n; j++) if (j !== i) dmin = Math.min(dmin, d2[i * n + j]);
    for (let iter = 0; iter < 200; iter++) {
      let sum = 0, dot = 0;
      for (let j = 0; j < n; j++) {
        const v = j === i ? 0 : Math.exp(-beta * (d2[i * n + j] - dmin));
        row[j] = v;
        sum += v;
        dot += v * (d2[i * n + j] - dmin);
      }
      const entropy = Math.log(sum) + (beta * dot) / sum;
      if (Math.abs(entropy - target) < 1e-6) break;
      if (entropy > target) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += row[j];
    for (let j = 0; j < n; j++) p[i * n + j] = row[j] / sum;
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = Math.max((p[i * n + j] + p[j * n + i]) / (2 * n), 1e-12);
      p[i * n + j] = v;
      p[j * n + i] = v;
    }
    p[i * n + i] = 0;
  }
  return p;
}

function randomStart(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: 2 * n }, () => 1e-4 * rng.normal());
}

/** Top-2 principal components (power iteration with deflation), scaled to std 1e-4. */
function pcaStart(x: Float64Array, n: number, dim: number, seed: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += x[i * dim + k] / n;
  const c = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < dim; k++) c[i * dim + k] = x[i * dim + k] - mean[k];
  }
  const rng = new Rng(seed);
  const comps: Float64Array[] = [];
  const y = new Float64Array(2 * n);
  for (let comp = 0; comp < 2; comp++) {
    let v = Float64Array.from({ length: dim }, () => rng.normal());
    for (let it = 0; it < 100; it++) {
      // v ← Cᵀ C v, orthogonal to earlier components
      const cv = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += c[i * dim + k] * v[k];
        cv[i] = s;
      }
      const w = new Float64Array(dim);
      for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) w[k] += c[i * dim + k] * cv[i];
      for (const u of comps) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += w[k] * u[k];
        for (let k = 0; k < dim; k++) w[k] -= s * u[k];
      }
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += w[k] * w[k];
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      for (let k = 0; k < dim; k++) w[k] /= norm;
      v = w;
    }
    // fix the sign (largest |component| positive) so the start does not depend on the seed
    let big = 0;
    for (let k = 0; k < dim; k++) if (Math.abs(v[k]) > Math.abs(big)) big = v[k];
    if (big < 0) { for (let k = 0; k < dim; k++) v[k] = -v[k]; }
    comps.push(v);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += c[i * dim + k] * v[k];
      y[2 * i + comp] = s;
    }
  }
  let sd = 0;
  for (let i = 0; i < n; i++) sd += y[2 * i] ** 2;
  sd = Math.sqrt(sd / n);
  const scale = sd > 0 ? 1e-4 / sd : 1;
  for (let k = 0; k < 2 * n; k++) y[k] *= scale;
  if (sd === 0) return randomStart(n, seed);
  return y;
}
