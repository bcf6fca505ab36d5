/**
 * INTERIM stand-in for lib/metrics (same names as its contract) until that module lands on
 * main; then this file re-exports it. Not exported from lib/train/mod.ts.
 * Simplifications: bilinear (not bicubic) upsampling at true cell centres, 8-connected
 * components instead of OpenCV contours, threshold grid step 0.01.
 *
 * @module
 */
import type { Box, WsolMetadata } from "../data/metadata.ts";

/** Bilinear upsampling of a cell map to `size×size` using true cell centres (clamped at borders). */
export function upsampleCellMap(
  map: ArrayLike<number>,
  gh: number,
  gw: number,
  g: { size: number; stride: number; cellOffset: number },
): Float32Array {
  const S = g.size, out = new Float32Array(S * S);
  const coord = (k: number, n: number) => {
    const u = Math.min(Math.max((k + 0.5 - g.cellOffset) / g.stride, 0), n - 1);
    const i0 = Math.floor(u);
    return [i0, Math.min(i0 + 1, n - 1), u - i0] as const;
  };
  const xs = Array.from({ length: S }, (_, k) => coord(k, gw));
  for (let y = 0; y < S; y++) {
    const [y0, y1, fy] = coord(y, gh);
    for (let x = 0; x < S; x++) {
      const [x0, x1, fx] = xs[x];
      const top = map[y0 * gw + x0] * (1 - fx) + map[y0 * gw + x1] * fx;
      const bot = map[y1 * gw + x0] * (1 - fx) + map[y1 * gw + x1] * fx;
      out[y * S + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

/** Min–max normalisation; NaN or constant maps become zeros. */
export function normalizeScoremap(map: ArrayLike<number>): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (Number.isNaN(v)) return new Float32Array(map.length);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(map.length);
  if (!(hi > lo)) return out;
  for (let i = 0; i < map.length; i++) out[i] = (map[i] - lo) / (hi - lo);
  return out;
}

/** Bounding boxes of the 8-connected components of `map > tau·max`, largest (by area) first. */
export function boxesFromScoremap(map: Float32Array, size: number, tau: number): Box[] {
  let mx = 0;
  for (const v of map) if (v > mx) mx = v;
  const thr = Math.floor(tau * mx * 255);
  const on = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) on[i] = Math.floor(map[i] * 255) > thr ? 1 : 0;
  const seen = new Uint8Array(map.length);
  const found: { box: Box; area: number }[] = [];
  const stack: number[] = [];
  for (let s = 0; s < map.length; s++) {
    if (!on[s] || seen[s]) continue;
    let x0 = size, y0 = size, x1 = -1, y1 = -1, area = 0;
    stack.push(s);
    seen[s] = 1;
    while (stack.length) {
      const p = stack.pop()!, y = Math.floor(p / size), x = p % size;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue;
          const q = yy * size + xx;
          if (on[q] && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    found.push({ box: [x0, y0, x1, y1], area });
  }
  found.sort((a, b) => b.area - a.area);
  return found.length ? found.map((f) => f.box) : [[0, 0, 0, 0]];
}

function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1,
    ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const area = (r: Box) => (r[2] - r[0] + 1) * (r[3] - r[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

/** Box metrics (percent). */
export interface BoxMetrics {
  maxBoxAcc: number;
  maxBoxAccV2: number;
  gtKnownLoc: number;
  top1Loc: number;
  top5Loc: number;
  top1Cls: number;
  top5Cls: number;
  bestThreshold: number;
}

/** Accumulates score maps; MaxBoxAcc (IoU 50, largest box) and MaxBoxAccV2 (30/50/70, all boxes). */
export class BoxEvaluator {
  private readonly meta: WsolMetadata;
  private readonly taus: number[];
  private readonly ious: number[][] = []; // per image, per tau: [best IoU all boxes, IoU of largest]
  private readonly top1: boolean[] = [];
  private readonly top5: boolean[] = [];
  private readonly size: number;

  constructor(o: { metadata: WsolMetadata; camCurveInterval?: number; resizeLength?: number }) {
    this.meta = o.metadata;
    const step = o.camCurveInterval ?? 0.01;
    this.taus = Array.from({ length: Math.round(1 / step) }, (_, i) => i * step);
    this.size = o.resizeLength ?? 224;
  }

  accumulate(scoremap: Float32Array, imageId: string, classScores?: ArrayLike<number>): void {
    const gts = this.meta.boxes.get(imageId);
    const size = this.meta.imageSizes.get(imageId);
    if (!gts || !size) throw new Error(`no GT boxes/size for '${imageId}'`);
    const S = this.size;
    const gt = gts.map((b) =>
      [b[0] * S / size[0], b[1] * S / size[1], b[2] * S / size[0], b[3] * S / size[1]] as Box
    );
    const row: number[] = [];
    for (const tau of this.taus) {
      const boxes = boxesFromScoremap(scoremap, S, tau);
      let bestAll = 0, bestLargest = 0;
      for (const g of gt) {
        for (const b of boxes) bestAll = Math.max(bestAll, iou(b, g));
        bestLargest = Math.max(bestLargest, iou(boxes[0], g));
      }
      row.push(bestAll, bestLargest);
    }
    this.ious.push(row);
    const y = this.meta.classLabels.get(imageId)!;
    if (classScores) {
      const order = Array.from(classScores, (v, i) => [v, i]).sort((a, b) => b[0] - a[0]).map((p) =>
        p[1]
      );
      this.top1.push(order[0] === y);
      this.top5.push(order.slice(0, 5).includes(y));
    } else {
      this.top1.push(true);
      this.top5.push(true);
    }
  }

  compute(): BoxMetrics {
    const n = this.ious.length;
    const acc = (delta: number, which: 0 | 1, mask?: boolean[]) => {
      let best = 0, bestTau = 0;
      this.taus.forEach((tau, t) => {
        let c = 0;
        for (let i = 0; i < n; i++) {
          if (this.ious[i][2 * t + which] >= delta && (!mask || mask[i])) c++;
        }
        if (c > best) {
          best = c;
          bestTau = tau;
        }
      });
      return { v: (100 * best) / Math.max(n, 1), tau: bestTau };
    };
    const v1 = acc(0.5, 1);
    return {
      maxBoxAcc: v1.v,
      maxBoxAccV2: (acc(0.3, 0).v + acc(0.5, 0).v + acc(0.7, 0).v) / 3,
      gtKnownLoc: acc(0.5, 0).v,
      top1Loc: acc(0.5, 0, this.top1).v,
      top5Loc: acc(0.5, 0, this.top5).v,
      top1Cls: (100 * this.top1.filter((x) => x).length) / Math.max(n, 1),
      top5Cls: (100 * this.top5.filter((x) => x).length) / Math.max(n, 1),
      bestThreshold: v1.tau,
    };
  }
}
