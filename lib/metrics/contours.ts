/**
 * Contours and boxes at one threshold, the way wsolevaluation gets them from OpenCV: the
 * per-threshold implementation (a port of the semantics, written from the Suzuki–Abe paper
 * and OpenCV's documented behaviour). {@link ./sweep.ts} computes the same boxes for all
 * thresholds at once; tests prove the two agree.
 *
 * What the reference does per threshold τ (evaluation.py, `compute_bboxes_from_scoremaps`):
 * 1. `u8 = (map * 255).astype(uint8)`; `thr = int(τ · max(u8))`;
 * 2. `cv2.threshold(u8, thr, 255, THRESH_BINARY)`: foreground is `u8 > thr` (strict);
 * 3. `cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`: every border of the binary image
 *    (8-connected foreground, 4-connected background, pixels outside the image count as
 *    background — OpenCV pads the image with zeros), i.e. one OUTER contour per 8-connected
 *    component and one HOLE contour per 4-connected background region enclosed by
 *    foreground. Returned in pre-order of the containment tree, siblings in reverse order of
 *    discovery (the raster scan finds a border at its first pixel; OpenCV prepends it to its
 *    parent's child list);
 * 4. box of a contour = `cv2.boundingRect` → `[x, y, x + w, y + h]` with `x + w` and
 *    `y + h` clipped to W−1 / H−1 (so a box reaches one pixel past the contour's last
 *    pixel, unless clipped);
 * 5. largest-contour mode: the contour with the largest `cv2.contourArea` (polygon area of
 *    the contour through pixel centres), the FIRST in list order on ties (Python `max`);
 *    multi-contour mode: every contour, hole contours included;
 * 6. no contour (empty foreground) → the box `[0, 0, 0, 0]`.
 *
 * Hole contours: a hole contour runs through the foreground pixels 4-adjacent to the hole,
 * so its box is the hole's bounding box grown by one pixel on each side (then `+w`, `+h`
 * and clipping as above). In multi-contour mode these boxes are candidates like any other
 * and can win (a GT box inside a ring); in largest-contour mode they never change the
 * result: a hole's polygon lies inside its component's outer polygon, so its area is at
 * most the outer one's, and on a tie the outer contour (its ancestor) comes first.
 *
 * @module
 */
import type { Box } from "../data/metadata.ts";

/** One contour as `cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)` returns it. */
export interface BinaryContour {
  /** Vertices `[x0, y0, x1, y1, …]` after CHAIN_APPROX_SIMPLE compression. */
  points: number[];
  /** Whether this is a hole border (inner boundary of a component). */
  isHole: boolean;
  /** Index of the parent contour in the returned list, −1 for top level. */
  parent: number;
}

// Neighbour directions in OpenCV's order: E, NE, N, NW, W, SW, S, SE (y grows downwards;
// increasing index = counter-clockwise on screen).
const DX = [1, 1, 0, -1, -1, -1, 0, 1];
const DY = [0, -1, -1, -1, 0, 1, 1, 1];

interface RawContour {
  points: number[];
  isHole: boolean;
  parent: number; // raw index, −1 = frame
  children: number[]; // raw indices, in discovery order
}

/**
 * All contours of a binary image (non-zero = foreground), in the order, with the points and
 * the hierarchy of `cv2.findContours(img, RETR_TREE, CHAIN_APPROX_SIMPLE)` (OpenCV ≥ 3.2
 * semantics: image border pixels are ordinary pixels, outside counts as background).
 *
 * @example
 * ```ts
 * const contours = findContours(binary, 224, 224);
 * const boxes = contours.map((c) => contourBoundingRect(c.points));
 * ```
 */
export function findContours(binary: ArrayLike<number>, h: number, w: number): BinaryContour[] {
  const pw = w + 2;
  // Labels: 0 background, 1 unvisited foreground, ±k visited (border number k ≥ 2).
  const f = new Int32Array((h + 2) * pw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if (binary[y * w + x] !== 0) f[(y + 1) * pw + x + 1] = 1;
  }
  const delta = DX.map((dx, k) => dx + DY[k] * pw);
  const raw: RawContour[] = [];
  const roots: number[] = [];
  // border number → raw index (number 1 is the frame, a hole border with no contour)
  const byNumber: number[] = [-1, -1];
  let nbd = 1;

  for (let y = 1; y <= h; y++) {
    let lnbd = 1;
    for (let x = 1; x <= w; x++) {
      const p = y * pw + x;
      const v = f[p];
      if (v === 0) continue;
      let isHole: boolean;
      let from: number;
      if (v === 1 && f[p - 1] === 0) {
        isHole = false;
        from = 4; // W
      } else if (v >= 1 && f[p + 1] === 0) {
        isHole = true;
        from = 0; // E
        if (v > 1) lnbd = v;
      } else {
        if (v !== 1) lnbd = Math.abs(v);
        continue;
      }
      nbd++;
      // Parent (Suzuki–Abe table 1): same kind as the last border met → its parent.
      const last = byNumber[lnbd];
      const lastIsHole = last < 0 ? true : raw[last].isHole;
      const parent = isHole === lastIsHole ? (last < 0 ? -1 : raw[last].parent) : last;
      const points = traceBorder(f, p, from, nbd, delta, pw);
      const idx = raw.length;
      raw.push({ points, isHole, parent, children: [] });
      byNumber[nbd] = idx;
      if (parent < 0) roots.push(idx);
      else raw[parent].children.push(idx);
      if (f[p] !== 1) lnbd = Math.abs(f[p]);
    }
  }

  // Output: pre-order over the tree, siblings newest first (OpenCV prepends children).
  const order: number[] = [];
  const newIndex = new Int32Array(raw.length);
  const stack: number[] = [];
  for (let i = 0; i < roots.length; i++) stack.push(roots[i]);
  while (stack.length > 0) {
    const i = stack.pop()!;
    newIndex[i] = order.length;
    order.push(i);
    const kids = raw[i].children;
    for (let k = 0; k < kids.length; k++) stack.push(kids[k]);
  }
  return order.map((i) => ({
    points: raw[i].points,
    isHole: raw[i].isHole,
    parent: raw[i].parent < 0 ? -1 : newIndex[raw[i].parent],
  }));
}

/**
 * Follow one border from its start pixel `p0` (padded index), marking it with `nbd` as in
 * Suzuki–Abe; returns CHAIN_APPROX_SIMPLE vertices in image coordinates.
 */
function traceBorder(
  f: Int32Array,
  p0: number,
  from: number,
  nbd: number,
  delta: number[],
  pw: number,
): number[] {
  const pts: number[] = [];
  const push = (p: number) => pts.push((p % pw) - 1, Math.floor(p / pw) - 1);
  // (3.1) clockwise from `from` for the first non-zero neighbour
  let s = from;
  let p1 = -1;
  for (let k = 0; k < 7; k++) {
    s = (s + 7) & 7;
    if (f[p0 + delta[s]] !== 0) {
      p1 = p0 + delta[s];
      break;
    }
  }
  if (p1 < 0) {
    f[p0] = -nbd; // isolated pixel
    push(p0);
    return pts;
  }
  let prevDir = s ^ 4;
  let p3 = p0;
  for (;;) {
    // (3.3) counter-clockwise from the direction after the one we came from
    const sEnd = s;
    let passedEast = false;
    let d = sEnd;
    let p4: number;
    for (;;) {
      d = (d + 1) & 7;
      p4 = p3 + delta[d];
      if (f[p4] !== 0) break;
      if (d === 0) passedEast = true;
    }
    // (3.4) right-border marking
    if (passedEast) f[p3] = -nbd;
    else if (f[p3] === 1) f[p3] = nbd;
    // CHAIN_APPROX_SIMPLE: keep a point where the direction changes
    if (d !== prevDir) {
      push(p3);
      prevDir = d;
    }
    // (3.5)
    if (p4 === p0 && p3 === p1) break;
    p3 = p4;
    s = (d + 4) & 7;
  }
  return pts;
}

/**
 * `cv2.contourArea` (non-oriented): the shoelace area of the vertex polygon, in float64.
 *
 * @example
 * ```ts
 * contourArea([0, 0, 2, 0, 2, 2, 0, 2]); // 4
 * ```
 */
export function contourArea(points: ArrayLike<number>): number {
  const n = points.length / 2;
  if (n === 0) return 0;
  let a = 0;
  let px = points[2 * n - 2], py = points[2 * n - 1];
  for (let i = 0; i < n; i++) {
    const x = points[2 * i], y = points[2 * i + 1];
    a += px * y - py * x;
    px = x;
    py = y;
  }
  return Math.abs(a * 0.5);
}

/**
 * wsolevaluation's box of a contour: `cv2.boundingRect` → `[x, y, min(x+w, W−1),
 * min(y+h, H−1)]`.
 *
 * @example
 * ```ts
 * contourBox([3, 4], 224, 224); // [3, 4, 4, 5]
 * ```
 */
export function contourBox(points: ArrayLike<number>, h: number, w: number): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i], y = points[i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, Math.min(x1 + 1, w - 1), Math.min(y1 + 1, h - 1)];
}

/** Boxes of one score map at one threshold, in both of the reference's modes. */
export interface ThresholdBoxes {
  /** Largest-contour mode (MaxBoxAcc): one box. */
  largest: Box;
  /** Multi-contour mode (MaxBoxAccV2): one box per contour, `[[0,0,0,0]]` when none. */
  all: Box[];
}

/**
 * The integer binarization threshold of τ for a map whose uint8 maximum is `max`:
 * `int(τ · max)`, computed in float64 as NumPy does.
 */
export function binarizationLevel(tau: number, max: number): number {
  return Math.trunc(tau * max);
}

/**
 * Per-threshold reference: the boxes wsolevaluation extracts from a quantized map (see
 * {@link quantizeScoremap}) at threshold τ, by binarizing and tracing all contours.
 *
 * @example
 * ```ts
 * const { u8, max } = quantizeScoremap(map);
 * const { largest, all } = boxesAtThreshold(u8, max, 224, 224, 0.5);
 * ```
 */
export function boxesAtThreshold(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  tau: number,
): ThresholdBoxes {
  const level = binarizationLevel(tau, max);
  const bin = new Uint8Array(u8.length);
  for (let i = 0; i < u8.length; i++) bin[i] = u8[i] > level ? 1 : 0;
  const contours = findContours(bin, h, w);
  if (contours.length === 0) return { largest: [0, 0, 0, 0], all: [[0, 0, 0, 0]] };
  let best = 0, bestArea = -1;
  const all: Box[] = [];
  contours.forEach((c, i) => {
    all.push(contourBox(c.points, h, w));
    const a = contourArea(c.points);
    if (a > bestArea) {
      bestArea = a;
      best = i;
    }
  });
  return { largest: all[best], all };
}
