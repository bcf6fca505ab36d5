/**
 * Box metrics of wsolevaluation (Choe et al., CVPR 2020): MaxBoxAcc (IoU ≥ 0.5, largest
 * contour), MaxBoxAccV2 (mean over IoU 30/50/70, all contours), their curves over the CAM
 * threshold grid, GT-known / Top-1 / Top-5 localization and classification accuracy.
 *
 * Conventions (the reference's, exactly):
 * - τ grid: `np.arange(0, 1, interval)` = `i · interval` for i < ceil(1 / interval);
 * - GT boxes rescaled to the 224 frame with truncation: `int(x0 · 224 / W)` … (`resize_bbox`);
 * - an image counts at (τ, δ) when the best IoU of its box(es) with any GT box is
 *   ≥ δ/100; accuracy = `count · 100 / n` (percent), maxima over τ, best τ = first argmax.
 *
 * Top-k localization (not in wsolevaluation; TeD-Loc and the WSOL literature report it):
 * correct at (τ, δ) when the box is correct AND the true class is among the top k class
 * scores (ranked by score, ties broken by lower class index). As in the code the TeD-Loc
 * authors build on (sbelharbi's wsolevaluation fork), Top-1/Top-5 Loc are each maximised
 * over τ at δ = 50, with the same boxes as MaxBoxAcc (largest contour); GT-known Loc is
 * MaxBoxAcc. Curves for both box modes and every δ are kept.
 *
 * Memory is bounded by the τ grid (counters per mode × δ × τ), not by the image count.
 *
 * @module
 */
import type { Box, WsolMetadata } from "../data/metadata.ts";
import { InputError } from "../io/errors.ts";
import { checkScoremap, quantizeScoremap } from "./scoremap.ts";
import { iouCurvesAllThresholds, wsolIou } from "./sweep.ts";
import { boxesAtThreshold } from "./contours.ts";

/**
 * wsolevaluation's CAM threshold grid `np.arange(0, 1, interval)`.
 *
 * @example
 * ```ts
 * camThresholds(0.25); // [0, 0.25, 0.5, 0.75]
 * ```
 */
export function camThresholds(interval: number): number[] {
  if (!(interval > 0 && interval <= 1)) {
    throw new RangeError(`cam curve interval must be in (0, 1], got ${interval}`);
  }
  const n = Math.ceil(1 / interval);
  return Array.from({ length: n }, (_, i) => i * interval);
}

/**
 * wsolevaluation's `resize_bbox`: a box of an `imageW×imageH` image rescaled to
 * `newW×newH`, each coordinate `int(v · new / old)` (truncation).
 *
 * @example
 * ```ts
 * resizeBoxTo([60, 27, 385, 331], [500, 400], [224, 224]); // [26, 15, 172, 185]
 * ```
 */
export function resizeBoxTo(
  box: ArrayLike<number>,
  imageSize: [number, number],
  newSize: [number, number],
): Box {
  const [w, h] = imageSize, [nw, nh] = newSize;
  return [
    Math.trunc(box[0] * nw / w),
    Math.trunc(box[1] * nh / h),
    Math.trunc(box[2] * nw / w),
    Math.trunc(box[3] * nh / h),
  ];
}

/** Options of {@link BoxEvaluator}. */
export interface BoxEvaluatorOptions {
  /** GT boxes, image sizes and labels (from `readMetadata`). */
  metadata: WsolMetadata;
  /** τ grid step (default 0.01; wsolevaluation's library default is 0.001). */
  camCurveInterval?: number;
  /** IoU thresholds δ in percent for the curves and MaxBoxAccV2 (default [30, 50, 70]). */
  iouThresholds?: number[];
  /** Side of the square frame maps live in (default 224). */
  resizeLength?: number;
  /**
   * `"sweep"` (default): all thresholds in one pass. `"per-threshold"`: binarize and trace
   * contours at every τ as the reference does (slow; for tests and benchmarks).
   */
  method?: "sweep" | "per-threshold";
}

/** One accuracy curve over the τ grid at one IoU threshold. */
export interface BoxCurve {
  /** δ in percent. */
  iou: number;
  /** Accuracy (%) at each τ of the grid. */
  accuracy: number[];
  /** max over τ. */
  max: number;
  /** The first τ reaching the max. */
  bestTau: number;
  /** Top-1 localization accuracy (%) at each τ (when class scores were given). */
  top1Loc?: number[];
  /** Top-5 localization accuracy (%) at each τ (when class scores were given). */
  top5Loc?: number[];
}

/** The result of {@link BoxEvaluator.compute}. */
export interface BoxMetrics {
  /** Images accumulated. */
  count: number;
  /** The τ grid. */
  thresholds: number[];
  /** The δ list of the curves (the requested ones, plus 50 if absent). */
  iouThresholds: number[];
  /** MaxBoxAcc: largest contour, δ = 50 (%). */
  maxBoxAcc: number;
  /** MaxBoxAccV2: all contours, mean over the requested δ (%). */
  maxBoxAccV2: number;
  /** Largest-contour curves, one per δ. */
  largest: BoxCurve[];
  /** Multi-contour curves, one per δ. */
  multi: BoxCurve[];
  /** GT-known localization (%) = MaxBoxAcc. */
  gtKnownLoc: number;
  /** Top-1 Loc (%), max over τ at δ = 50 with largest-contour boxes (class scores needed). */
  top1Loc?: number;
  /** Top-5 Loc (%), as top1Loc. */
  top5Loc?: number;
  /** Top-1 classification accuracy (%). */
  top1Cls?: number;
  /** Top-5 classification accuracy (%). */
  top5Cls?: number;
}

/**
 * Rank of `label` among the class scores: how many classes come before it (higher score,
 * or equal score and lower index). Top-k correct ⇔ rank < k.
 */
export function classRank(scores: ArrayLike<number>, label: number): number {
  if (label < 0 || label >= scores.length) {
    throw new RangeError(`label ${label} outside ${scores.length} class scores`);
  }
  const s = scores[label];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) {
    const v = scores[j];
    if (!Number.isFinite(v)) throw new RangeError(`class score ${j} is ${v}`);
    if (v > s || (v === s && j < label)) rank++;
  }
  return rank;
}

/**
 * Accumulates score maps and computes wsolevaluation's box metrics.
 *
 * @example
 * ```ts
 * const { metadata } = await readMetadata("metadata/test");
 * const ev = new BoxEvaluator({ metadata, camCurveInterval: 0.01 });
 * for (const id of metadata.imageIds) ev.accumulate(scoremaps.get(id)!, id, classScores.get(id));
 * const m = ev.compute(); // m.maxBoxAcc, m.maxBoxAccV2, m.top1Loc, …
 * ```
 */
export class BoxEvaluator {
  readonly thresholds: number[];
  readonly iouThresholds: number[];
  readonly resizeLength: number;
  private readonly requested: number[];
  private readonly method: "sweep" | "per-threshold";
  private readonly gt = new Map<string, Box[]>();
  private readonly labels: Map<string, number>;
  // counts[mode][δ index][τ]: mode 0 largest, 1 multi
  private readonly correct: Float64Array[][];
  private readonly correctTop1: Float64Array[][];
  private readonly correctTop5: Float64Array[][];
  private readonly seen = new Set<string>();
  private cnt = 0;
  private withScores = 0;
  private top1 = 0;
  private top5 = 0;

  constructor(opts: BoxEvaluatorOptions) {
    this.thresholds = camThresholds(opts.camCurveInterval ?? 0.01);
    this.requested = [...(opts.iouThresholds ?? [30, 50, 70])];
    if (this.requested.length === 0 || this.requested.some((d) => !(d >= 0 && d <= 100))) {
      throw new RangeError(`IoU thresholds must be in [0, 100], got ${this.requested}`);
    }
    this.iouThresholds = this.requested.includes(50) ? this.requested : [...this.requested, 50];
    this.resizeLength = opts.resizeLength ?? 224;
    this.method = opts.method ?? "sweep";
    const { metadata } = opts;
    this.labels = metadata.classLabels;
    const size: [number, number] = [this.resizeLength, this.resizeLength];
    for (const id of metadata.imageIds) {
      const boxes = metadata.boxes.get(id);
      const imageSize = metadata.imageSizes.get(id);
      if (!boxes || boxes.length === 0) throw new InputError(`image '${id}' has no GT box`);
      if (!imageSize) throw new InputError(`image '${id}' has no image size`);
      this.gt.set(id, boxes.map((b) => resizeBoxTo(b, imageSize, size)));
    }
    const zeros = () =>
      [0, 1].map(() => this.iouThresholds.map(() => new Float64Array(this.thresholds.length)));
    this.correct = zeros();
    this.correctTop1 = zeros();
    this.correctTop5 = zeros();
  }

  /**
   * Add one image's score map (`resizeLength²` values in [0, 1], row-major) and optionally
   * its class scores (for Top-1/Top-5 Loc and classification).
   */
  accumulate(scoremap: ArrayLike<number>, imageId: string, classScores?: ArrayLike<number>): void {
    const gt = this.gt.get(imageId);
    if (!gt) throw new InputError(`image id '${imageId}' is not in the metadata`);
    if (this.seen.has(imageId)) throw new InputError(`image '${imageId}' accumulated twice`);
    const s = this.resizeLength;
    checkScoremap(scoremap, s, s, imageId);
    let rank = -1;
    if (classScores !== undefined) {
      const label = this.labels.get(imageId);
      if (label === undefined) throw new InputError(`image '${imageId}' has no class label`);
      rank = classRank(classScores, label);
    }
    const { u8, max } = quantizeScoremap(scoremap);
    let curves: Float64Array[];
    if (this.method === "sweep") {
      const c = iouCurvesAllThresholds(u8, max, s, s, this.thresholds, gt);
      curves = [c.largest, c.multi];
    } else {
      const largest = new Float64Array(this.thresholds.length);
      const multi = new Float64Array(this.thresholds.length);
      this.thresholds.forEach((tau, i) => {
        const b = boxesAtThreshold(u8, max, s, s, tau);
        const best = (box: Box) => Math.max(...gt.map((g) => wsolIou(box, g)));
        largest[i] = best(b.largest);
        multi[i] = Math.max(...b.all.map(best));
      });
      curves = [largest, multi];
    }
    for (let mode = 0; mode < 2; mode++) {
      const ious = curves[mode];
      this.iouThresholds.forEach((delta, di) => {
        const bar = delta / 100;
        const c = this.correct[mode][di], c1 = this.correctTop1[mode][di];
        const c5 = this.correctTop5[mode][di];
        for (let i = 0; i < ious.length; i++) {
          if (ious[i] >= bar) {
            c[i]++;
            if (rank === 0) c1[i]++;
            if (rank >= 0 && rank < 5) c5[i]++;
          }
        }
      });
    }
    this.seen.add(imageId);
    this.cnt++;
    if (rank >= 0) {
      this.withScores++;
      if (rank === 0) this.top1++;
      if (rank < 5) this.top5++;
    }
  }

  /** Number of images accumulated so far. */
  get count(): number {
    return this.cnt;
  }

  /** The metrics over the images accumulated so far. */
  compute(): BoxMetrics {
    if (this.cnt === 0) throw new Error("BoxEvaluator.compute: no score map accumulated");
    const n = this.cnt;
    const scored = this.withScores === n;
    const pct = (a: Float64Array) => Array.from(a, (v) => v * 100 / n);
    const curve = (mode: number, di: number): BoxCurve => {
      const accuracy = pct(this.correct[mode][di]);
      let arg = 0;
      for (let i = 1; i < accuracy.length; i++) if (accuracy[i] > accuracy[arg]) arg = i;
      const c: BoxCurve = {
        iou: this.iouThresholds[di],
        accuracy,
        max: accuracy[arg],
        bestTau: this.thresholds[arg],
      };
      if (scored) {
        c.top1Loc = pct(this.correctTop1[mode][di]);
        c.top5Loc = pct(this.correctTop5[mode][di]);
      }
      return c;
    };
    const largest = this.iouThresholds.map((_, di) => curve(0, di));
    const multi = this.iouThresholds.map((_, di) => curve(1, di));
    const at50 = largest[this.iouThresholds.indexOf(50)];
    // np.average over the requested δ: sequential sum, then divide
    let sum = 0;
    for (const d of this.requested) sum += multi[this.iouThresholds.indexOf(d)].max;
    const out: BoxMetrics = {
      count: n,
      thresholds: this.thresholds,
      iouThresholds: this.iouThresholds,
      maxBoxAcc: at50.max,
      maxBoxAccV2: sum / this.requested.length,
      largest,
      multi,
      gtKnownLoc: at50.max,
    };
    if (scored) {
      out.top1Loc = Math.max(...at50.top1Loc!);
      out.top5Loc = Math.max(...at50.top5Loc!);
      out.top1Cls = this.top1 * 100 / n;
      out.top5Cls = this.top5 * 100 / n;
    }
    return out;
  }
}
