/**
 * The boxes of a score map at ALL thresholds in one sweep, equal to binarizing and tracing
 * contours at every threshold ({@link boxesAtThreshold}) but ~100× faster.
 *
 * Only ≤ 256 binarizations exist: foreground at level t is `u8 > t` (t = int(τ·max)). The
 * contours of that image are (see contours.ts): one outer contour per 8-connected
 * foreground component, box = the component's bounding box; one hole contour per
 * 4-connected background region not connected to the outside (pixels outside the image
 * are background), box = the region's bounding box grown by one pixel. So:
 *
 * - components: pixels in descending u8 order, union–find over 8-neighbours merging
 *   bounding boxes; the live roots after adding level t+1 are the components at level t;
 * - holes: the background only grows with t, so pixels in ascending u8 order, union–find
 *   over 4-neighbours with an "touches the outside" flag; live unflagged roots after adding
 *   level t are the holes at level t;
 * - largest contour: `cv2.contourArea` of an outer contour equals the area of the region
 *   enclosed by the polygon through the boundary pixel centres. Counting 2×2 pixel quads of
 *   the component *with its holes filled*, that area is `#quads with 4 pixels + ½ #quads with
 *   3 pixels` (a diagonal pair encloses nothing). Holes' and nested contours' areas never
 *   exceed their top-level ancestor's, and an ancestor precedes its descendants in OpenCV's
 *   order, so the first largest contour is a top-level one: among top-level components with
 *   the same area, the one found last by the raster scan (largest index of its first pixel)
 *   comes first in OpenCV's list. The hole-filled foreground at level t is `fill > t`, where
 *   `fill` is the grayscale hole-filling of u8 (minimax value of 4-paths from the outside,
 *   a priority flood), and it only grows as t falls: a third union–find sweep over `fill`
 *   keeps per component its quad area, first pixel and box.
 *
 * Verified against cv2 on random and adversarial maps (tests/fixtures/metrics) and against
 * the per-threshold tracer (tests/metrics/sweep_test.ts).
 *
 * @module
 */
import type { Box } from "../data/metadata.ts";
import { binarizationLevel, type ThresholdBoxes } from "./contours.ts";

/** Receives each candidate box `[x0, y0, x1, y1]` of binarization level `level`. */
type BoxSink = (level: number, x0: number, y0: number, x1: number, y1: number) => void;

/** Pixel indices sorted by value (counting sort): pixels of value v are order[start[v]..start[v+1]). */
function sortByValue(values: Uint8Array): { order: Int32Array; start: Int32Array } {
  const start = new Int32Array(257);
  for (let i = 0; i < values.length; i++) start[values[i] + 1]++;
  for (let v = 0; v < 256; v++) start[v + 1] += start[v];
  const fill = start.slice(0, 256);
  const order = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) order[fill[values[i]]++] = i;
  return { order, start };
}

/** Union–find with per-root bounding boxes and a list of live roots. */
class BoxForest {
  readonly parent: Int32Array;
  readonly size: Int32Array;
  readonly x0: Int32Array;
  readonly y0: Int32Array;
  readonly x1: Int32Array;
  readonly y1: Int32Array;
  readonly live: Int32Array;
  readonly pos: Int32Array;
  nLive = 0;

  constructor(n: number) {
    this.parent = new Int32Array(n).fill(-1);
    this.size = new Int32Array(n);
    this.x0 = new Int32Array(n);
    this.y0 = new Int32Array(n);
    this.x1 = new Int32Array(n);
    this.y1 = new Int32Array(n);
    this.live = new Int32Array(n);
    this.pos = new Int32Array(n).fill(-1);
  }

  add(p: number, x: number, y: number, live: boolean): void {
    this.parent[p] = p;
    this.size[p] = 1;
    this.x0[p] = this.x1[p] = x;
    this.y0[p] = this.y1[p] = y;
    if (live) this.link(p);
  }

  find(p: number): number {
    const parent = this.parent;
    while (parent[p] !== p) {
      parent[p] = parent[parent[p]];
      p = parent[p];
    }
    return p;
  }

  link(r: number): void {
    this.pos[r] = this.nLive;
    this.live[this.nLive++] = r;
  }

  unlink(r: number): void {
    const i = this.pos[r];
    if (i < 0) return;
    const last = this.live[--this.nLive];
    this.live[i] = last;
    this.pos[last] = i;
    this.pos[r] = -1;
  }

  /** Merge the sets of roots a ≠ b; returns the new root (the other is unlinked). */
  merge(a: number, b: number): number {
    if (this.size[a] < this.size[b]) {
      const t = a;
      a = b;
      b = t;
    }
    this.parent[b] = a;
    this.size[a] += this.size[b];
    if (this.x0[b] < this.x0[a]) this.x0[a] = this.x0[b];
    if (this.y0[b] < this.y0[a]) this.y0[a] = this.y0[b];
    if (this.x1[b] > this.x1[a]) this.x1[a] = this.x1[b];
    if (this.y1[b] > this.y1[a]) this.y1[a] = this.y1[b];
    this.unlink(b);
    return a;
  }
}

/** Outer contours: components of `u8 > t` for every needed t, boxes to `sink`. */
function sweepComponents(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  need: Uint8Array,
  sink: BoxSink,
): void {
  const { order, start } = sortByValue(u8);
  const uf = new BoxForest(u8.length);
  for (let t = max - 1; t >= 0; t--) {
    for (let k = start[t + 1]; k < start[t + 2]; k++) {
      const p = order[k];
      const x = p % w, y = (p - x) / w;
      uf.add(p, x, y, true);
      let r = p;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
          const q = yy * w + xx;
          if (uf.parent[q] < 0) continue;
          const rq = uf.find(q);
          if (rq !== r) r = uf.merge(r, rq);
        }
      }
    }
    if (!need[t]) continue;
    for (let i = 0; i < uf.nLive; i++) {
      const r = uf.live[i];
      sink(t, uf.x0[r], uf.y0[r], Math.min(uf.x1[r] + 1, w - 1), Math.min(uf.y1[r] + 1, h - 1));
    }
  }
}

/** Hole contours: enclosed 4-connected regions of `u8 <= t` for every needed t. */
function sweepHoles(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  need: Uint8Array,
  sink: BoxSink,
): void {
  const { order, start } = sortByValue(u8);
  const uf = new BoxForest(u8.length);
  const outside = new Uint8Array(u8.length); // per root: touches the image border
  const nx = [1, -1, 0, 0], ny = [0, 0, 1, -1];
  for (let t = 0; t < max; t++) {
    for (let k = start[t]; k < start[t + 1]; k++) {
      const p = order[k];
      const x = p % w, y = (p - x) / w;
      const border = x === 0 || y === 0 || x === w - 1 || y === h - 1;
      uf.add(p, x, y, !border);
      outside[p] = border ? 1 : 0;
      let r = p;
      for (let j = 0; j < 4; j++) {
        const xx = x + nx[j], yy = y + ny[j];
        if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
        const q = yy * w + xx;
        if (uf.parent[q] < 0) continue;
        const rq = uf.find(q);
        if (rq === r) continue;
        const out = outside[r] | outside[rq];
        r = uf.merge(r, rq);
        if (out && !outside[r]) {
          outside[r] = 1;
          uf.unlink(r);
        }
      }
    }
    if (!need[t]) continue;
    for (let i = 0; i < uf.nLive; i++) {
      const r = uf.live[i];
      sink(
        t,
        uf.x0[r] - 1,
        uf.y0[r] - 1,
        Math.min(uf.x1[r] + 2, w - 1),
        Math.min(uf.y1[r] + 2, h - 1),
      );
    }
  }
}

/**
 * Grayscale hole filling: `fill[p]` = min over 4-paths from outside the image to p of the
 * largest u8 on the path. `fill > t` is `u8 > t` with its holes filled.
 */
export function fillHoleLevels(u8: Uint8Array, h: number, w: number): Uint8Array {
  const n = u8.length;
  const fill = new Uint8Array(n);
  const seen = new Uint8Array(n);
  const head = new Int32Array(256).fill(-1);
  const next = new Int32Array(n);
  const push = (p: number, v: number) => {
    fill[p] = v;
    seen[p] = 1;
    next[p] = head[v];
    head[v] = p;
  };
  for (let x = 0; x < w; x++) {
    push(x, u8[x]);
    if (h > 1) push((h - 1) * w + x, u8[(h - 1) * w + x]);
  }
  for (let y = 1; y < h - 1; y++) {
    push(y * w, u8[y * w]);
    if (w > 1) push(y * w + w - 1, u8[y * w + w - 1]);
  }
  for (let v = 0; v < 256; v++) {
    while (head[v] >= 0) {
      const p = head[v];
      head[v] = next[p];
      const x = p % w;
      if (x > 0 && !seen[p - 1]) push(p - 1, Math.max(u8[p - 1], v));
      if (x < w - 1 && !seen[p + 1]) push(p + 1, Math.max(u8[p + 1], v));
      if (p >= w && !seen[p - w]) push(p - w, Math.max(u8[p - w], v));
      if (p + w < n && !seen[p + w]) push(p + w, Math.max(u8[p + w], v));
    }
  }
  return fill;
}

/**
 * Largest-contour box for every needed level: `boxes[4t..4t+3]`.
 */
function sweepLargest(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  need: Uint8Array,
): Int32Array {
  const fill = fillHoleLevels(u8, h, w);
  const { order, start } = sortByValue(fill);
  const uf = new BoxForest(u8.length);
  const area2 = new Int32Array(u8.length); // twice the contour area, per root
  const first = new Int32Array(u8.length); // raster index of the first pixel, per root
  const qw = w + 1;
  const quads = new Uint8Array(qw * (h + 1)); // quad (qx,qy) holds pixels x∈{qx−1,qx}, y∈{qy−1,qy}
  const boxes = new Int32Array(4 * Math.max(max, 1));
  for (let t = max - 1; t >= 0; t--) {
    for (let k = start[t + 1]; k < start[t + 2]; k++) {
      const p = order[k];
      const x = p % w, y = (p - x) / w;
      uf.add(p, x, y, true);
      first[p] = p;
      let r = p;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
          const q = yy * w + xx;
          if (uf.parent[q] < 0) continue;
          const rq = uf.find(q);
          if (rq === r) continue;
          const a = area2[r] + area2[rq], f = Math.min(first[r], first[rq]);
          r = uf.merge(r, rq);
          area2[r] = a;
          first[r] = f;
        }
      }
      const q0 = y * qw + x;
      let gained = 0;
      if (++quads[q0] >= 3) gained++;
      if (++quads[q0 + 1] >= 3) gained++;
      if (++quads[q0 + qw] >= 3) gained++;
      if (++quads[q0 + qw + 1] >= 3) gained++;
      area2[r] += gained;
    }
    if (!need[t]) continue;
    let best = -1;
    for (let i = 0; i < uf.nLive; i++) {
      const r = uf.live[i];
      if (
        best < 0 || area2[r] > area2[best] || (area2[r] === area2[best] && first[r] > first[best])
      ) {
        best = r;
      }
    }
    boxes[4 * t] = uf.x0[best];
    boxes[4 * t + 1] = uf.y0[best];
    boxes[4 * t + 2] = Math.min(uf.x1[best] + 1, w - 1);
    boxes[4 * t + 3] = Math.min(uf.y1[best] + 1, h - 1);
  }
  return boxes;
}

function levelsOf(taus: ArrayLike<number>, max: number): { levels: Int32Array; need: Uint8Array } {
  const levels = new Int32Array(taus.length);
  const need = new Uint8Array(Math.max(max, 1));
  for (let i = 0; i < taus.length; i++) {
    const t = binarizationLevel(taus[i], max);
    levels[i] = t;
    if (t >= 0 && t < max) need[t] = 1;
  }
  return { levels, need };
}

function checkQuantized(u8: Uint8Array, h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || u8.length !== h * w) {
    throw new RangeError(`score map sweep: ${u8.length} values for ${h}x${w}`);
  }
}

/**
 * The boxes wsolevaluation extracts at every threshold τ of `taus`, from one sweep over the
 * quantized map (see {@link quantizeScoremap}). Multi-contour boxes come in no particular
 * order (the metrics only use their best IoU); the largest-contour box is OpenCV's.
 *
 * @example
 * ```ts
 * const { u8, max } = quantizeScoremap(map);
 * const perTau = boxesAllThresholds(u8, max, 224, 224, camThresholds(0.01));
 * ```
 */
export function boxesAllThresholds(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  taus: ArrayLike<number>,
): ThresholdBoxes[] {
  checkQuantized(u8, h, w);
  const { levels, need } = levelsOf(taus, max);
  const all: Box[][] = Array.from({ length: Math.max(max, 1) }, () => []);
  const sink: BoxSink = (t, x0, y0, x1, y1) => all[t].push([x0, y0, x1, y1]);
  sweepComponents(u8, max, h, w, need, sink);
  sweepHoles(u8, max, h, w, need, sink);
  const largest = sweepLargest(u8, max, h, w, need);
  return Array.from(levels, (t) => {
    if (t < 0 || t >= max) return { largest: [0, 0, 0, 0], all: [[0, 0, 0, 0]] };
    return { largest: Array.from(largest.subarray(4 * t, 4 * t + 4)) as Box, all: all[t] };
  });
}

/**
 * IoU of two boxes with wsolevaluation's +1 pixel convention (`calculate_multiple_iou`):
 * 0 when the union is degenerate.
 *
 * @example
 * ```ts
 * wsolIou([0, 0, 9, 9], [5, 0, 14, 9]); // 50 / 150
 * ```
 */
export function wsolIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
  const inter = iw * ih;
  const den = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) -
    inter;
  return den <= 0 ? 0 : inter / den;
}

function bestIouOf(x0: number, y0: number, x1: number, y1: number, gt: Int32Array): number {
  let best = 0;
  const area = (x1 - x0 + 1) * (y1 - y0 + 1);
  for (let g = 0; g < gt.length; g += 4) {
    const iw = Math.min(x1, gt[g + 2]) - Math.max(x0, gt[g]) + 1;
    const ih = Math.min(y1, gt[g + 3]) - Math.max(y0, gt[g + 1]) + 1;
    const inter = iw > 0 && ih > 0 ? iw * ih : 0;
    const den = area + (gt[g + 2] - gt[g] + 1) * (gt[g + 3] - gt[g + 1] + 1) - inter;
    const iou = den <= 0 ? 0 : inter / den;
    if (iou > best) best = iou;
  }
  return best;
}

/** Best IoU against the GT boxes at each threshold, in both box modes. */
export interface IouCurves {
  /** Largest-contour mode (MaxBoxAcc), one value per τ. */
  largest: Float64Array;
  /** Multi-contour mode (MaxBoxAccV2): best over all contours' boxes, per τ. */
  multi: Float64Array;
}

/**
 * For every τ: the best IoU between the predicted box(es) and any GT box, in the
 * largest-contour and multi-contour modes — what BoxEvaluator needs, in one sweep,
 * without materializing the boxes.
 *
 * @example
 * ```ts
 * const { u8, max } = quantizeScoremap(map);
 * const { largest, multi } = iouCurvesAllThresholds(u8, max, 224, 224, taus, [[10, 20, 150, 200]]);
 * ```
 */
export function iouCurvesAllThresholds(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  taus: ArrayLike<number>,
  gtBoxes: readonly ArrayLike<number>[],
): IouCurves {
  checkQuantized(u8, h, w);
  const gt = new Int32Array(gtBoxes.length * 4);
  gtBoxes.forEach((b, i) => gt.set(Array.from(b).slice(0, 4), 4 * i));
  const { levels, need } = levelsOf(taus, max);
  const bestMulti = new Float64Array(Math.max(max, 1));
  const sink: BoxSink = (t, x0, y0, x1, y1) => {
    const iou = bestIouOf(x0, y0, x1, y1, gt);
    if (iou > bestMulti[t]) bestMulti[t] = iou;
  };
  sweepComponents(u8, max, h, w, need, sink);
  sweepHoles(u8, max, h, w, need, sink);
  const boxes = sweepLargest(u8, max, h, w, need);
  const emptyIou = bestIouOf(0, 0, 0, 0, gt);
  const largest = new Float64Array(levels.length);
  const multi = new Float64Array(levels.length);
  const largestAt = new Float64Array(Math.max(max, 1));
  for (let t = 0; t < max; t++) {
    if (need[t]) {
      largestAt[t] = bestIouOf(
        boxes[4 * t],
        boxes[4 * t + 1],
        boxes[4 * t + 2],
        boxes[4 * t + 3],
        gt,
      );
    }
  }
  levels.forEach((t, i) => {
    if (t < 0 || t >= max) {
      largest[i] = multi[i] = emptyIou;
    } else {
      largest[i] = largestAt[t];
      multi[i] = bestMulti[t];
    }
  });
  return { largest, multi };
}
