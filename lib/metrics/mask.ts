/**
 * PxAP — pixel-wise average precision of wsolevaluation's MaskEvaluator (OpenImages-style
 * masks): score histograms of GT-foreground and GT-background pixels over the τ grid,
 * then the area under the precision–recall curve.
 *
 * Reference semantics: bins `[0, s), [s, 2s), …, [1−s, 1), [1, 2), [2, 3]` (`np.histogram`
 * with the τ grid plus edges 1, 2, 3: right-open except the last; a score of exactly 1.0
 * lands in [1, 2)); pixels whose GT mask value is 255 (ignore region minus foreground) are
 * skipped. `tp`, `fp` = reversed cumulative sums; precision = tp/(tp+fp),
 * recall = tp/(tp+fn); PxAP = 100 · Σ precision[i]·(recall[i] − recall[i−1]) over i ≥ 1
 * with tp+fp ≠ 0 (NumPy's pairwise summation reproduced).
 *
 * @module
 */
import { InputError } from "../io/errors.ts";
import { camThresholds } from "./box.ts";
import { checkScoremap } from "./scoremap.ts";

/** GT mask values: 0 background, 1 foreground, 255 ignored. */
export const MASK_IGNORE = 255;

/**
 * wsolevaluation's `get_mask`: union of the instance masks (value > 0.5), plus 255 where
 * the ignore mask (> 0.5) is set and no instance is. Masks must already be at map size
 * (e.g. via {@link resizeNearest}).
 *
 * @example
 * ```ts
 * const gt = combineGtMasks([inst0, inst1], ignore); // Uint8Array of 0 / 1 / 255
 * ```
 */
export function combineGtMasks(
  instanceMasks: readonly ArrayLike<number>[],
  ignoreMask?: ArrayLike<number>,
): Uint8Array {
  if (instanceMasks.length === 0) throw new RangeError("combineGtMasks: no instance mask");
  const n = instanceMasks[0].length;
  const out = new Uint8Array(n);
  for (const m of instanceMasks) {
    if (m.length !== n) throw new RangeError("combineGtMasks: masks differ in size");
    for (let i = 0; i < n; i++) if (m[i] > 0.5) out[i] = 1;
  }
  if (ignoreMask) {
    if (ignoreMask.length !== n) throw new RangeError("combineGtMasks: ignore mask size");
    for (let i = 0; i < n; i++) if (out[i] === 0 && ignoreMask[i] > 0.5) out[i] = MASK_IGNORE;
  }
  return out;
}

/** NumPy's pairwise summation of a float64 array (`np.sum`, `np.add.reduce`). */
export function pairwiseSum(a: ArrayLike<number>, lo = 0, n = a.length): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[lo + i];
    return s;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let k = 0; k < 8; k++) r[k] += a[lo + i + k];
    }
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[lo + i];
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, lo, n2) + pairwiseSum(a, lo + n2, n - n2);
}

/** Options of {@link MaskEvaluator}. */
export interface MaskEvaluatorOptions {
  /** τ grid step (default 0.01). */
  camCurveInterval?: number;
  /** Side of the square maps (default 224). */
  resizeLength?: number;
}

/** The result of {@link MaskEvaluator.compute}. */
export interface MaskMetrics {
  /** Images accumulated. */
  count: number;
  /** PxAP in percent. */
  pxap: number;
  /**
   * The precision–recall points, one per histogram bin from the top: point i counts the
   * scores ≥ `thresholds[i]` as positive.
   */
  curve: { precision: number[]; recall: number[]; thresholds: number[] };
}

/**
 * Accumulates score maps against GT masks and computes PxAP.
 *
 * @example
 * ```ts
 * const ev = new MaskEvaluator({ camCurveInterval: 0.01 });
 * ev.accumulate(scoremap, "img1.jpg", combineGtMasks([mask], ignore));
 * console.log(ev.compute().pxap);
 * ```
 */
export class MaskEvaluator {
  readonly thresholds: number[];
  readonly resizeLength: number;
  private readonly edges: Float64Array;
  private readonly trueHist: Float64Array;
  private readonly falseHist: Float64Array;
  private cnt = 0;

  constructor(opts: MaskEvaluatorOptions = {}) {
    this.thresholds = camThresholds(opts.camCurveInterval ?? 0.01);
    this.resizeLength = opts.resizeLength ?? 224;
    this.edges = Float64Array.from([...this.thresholds, 1, 2, 3]);
    this.trueHist = new Float64Array(this.edges.length - 1);
    this.falseHist = new Float64Array(this.edges.length - 1);
  }

  /** The histogram bin of a score: the last edge ≤ v (the last bin is closed). */
  private bin(v: number): number {
    const e = this.edges;
    let lo = 0, hi = e.length - 1; // invariant: e[lo] <= v < e[hi] (or v == e[last])
    if (v >= e[hi]) return v === e[hi] ? hi - 1 : -1;
    if (v < e[0]) return -1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (e[mid] <= v) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Add one image: its score map and its GT mask (0 background, 1 foreground, 255 ignored;
   * see {@link combineGtMasks}), both `resizeLength²` values.
   */
  accumulate(scoremap: ArrayLike<number>, imageId: string, gtMask: ArrayLike<number>): void {
    const s = this.resizeLength;
    checkScoremap(scoremap, s, s, imageId);
    if (gtMask.length !== s * s) {
      throw new InputError(`GT mask has ${gtMask.length} values, expected ${s}x${s}`, {
        file: imageId,
      });
    }
    for (let i = 0; i < scoremap.length; i++) {
      const m = gtMask[i];
      if (m !== 0 && m !== 1) continue;
      const b = this.bin(scoremap[i]);
      if (b < 0) continue;
      if (m === 1) this.trueHist[b]++;
      else this.falseHist[b]++;
    }
    this.cnt++;
  }

  /** PxAP and its precision–recall curve. */
  compute(): MaskMetrics {
    const nb = this.trueHist.length;
    const tp = new Float64Array(nb), fp = new Float64Array(nb);
    let a = 0, b = 0;
    for (let i = 0; i < nb; i++) {
      a += this.trueHist[nb - 1 - i];
      b += this.falseHist[nb - 1 - i];
      tp[i] = a;
      fp[i] = b;
    }
    const numTrue = pairwiseSum(this.trueHist);
    if (!(numTrue > 0)) throw new InputError("PxAP: no positive ground-truth pixel in the set");
    if (!(tp[nb - 1] + fp[nb - 1] > 0)) throw new InputError("PxAP: no positive prediction");
    const precision = Array.from(tp, (t, i) => t / (t + fp[i]));
    const recall = Array.from(tp, (t) => t / (t + (numTrue - t)));
    const terms: number[] = [];
    for (let i = 1; i < nb; i++) {
      if (tp[i] + fp[i] !== 0) terms.push(precision[i] * (recall[i] - recall[i - 1]));
    }
    // bin edges from the top: tp[i] counts scores ≥ edges[nb - 1 - i]
    const thresholds = Array.from({ length: nb }, (_, i) => this.edges[nb - 1 - i]);
    return {
      count: this.cnt,
      pxap: pairwiseSum(terms) * 100,
      curve: { precision, recall, thresholds },
    };
  }
}
