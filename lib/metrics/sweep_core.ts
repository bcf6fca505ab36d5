/**
 * The sweep machinery behind lib/metrics/sweep.ts: shared scratch buffers, 8-neighbour
 * offsets, counting sort, the union–find sweeps over components (descending level) and holes
 * (ascending level), and grayscale hole filling by priority flood. See sweep.ts for why these
 * give exactly OpenCV's contours at every threshold.
 *
 * @module
 */

/** Receives each candidate box `[x0, y0, x1, y1]` of binarization level `level`. */
export type BoxSink = (level: number, x0: number, y0: number, x1: number, y1: number) => void;

/**
 * Scratch buffers shared by the sweeps. The sweeps are synchronous and JavaScript is
 * single-threaded, so one set per process is safe; it grows to the largest map seen.
 */
export class Workspace {
  n = 0;
  order = new Int32Array(0);
  start = new Int32Array(258);
  parent = new Int32Array(0);
  size = new Int32Array(0);
  x0 = new Int32Array(0);
  y0 = new Int32Array(0);
  x1 = new Int32Array(0);
  y1 = new Int32Array(0);
  live = new Int32Array(0);
  pos = new Int32Array(0);
  area2 = new Int32Array(0);
  first = new Int32Array(0);
  flag = new Uint8Array(0);
  fill = new Uint8Array(0);
  quads = new Uint8Array(0);

  ensure(n: number, quadCount: number): this {
    if (n > this.n) {
      this.n = n;
      for (
        const k of [
          "order",
          "parent",
          "size",
          "x0",
          "y0",
          "x1",
          "y1",
          "live",
          "pos",
          "area2",
          "first",
        ] as const
      ) this[k] = new Int32Array(n);
      this.flag = new Uint8Array(n);
      this.fill = new Uint8Array(n);
    }
    if (quadCount > this.quads.length) this.quads = new Uint8Array(quadCount);
    return this;
  }
}
export const WS = new Workspace();

export const DX8 = new Int32Array([-1, 0, 1, -1, 1, -1, 0, 1]);
export const DY8 = new Int32Array([-1, -1, -1, 0, 0, 1, 1, 1]);
/** Index offsets of the 8 neighbours in a row-major image of width w. */
export function offsets8(w: number): Int32Array {
  return DX8.map((dx, j) => dx + DY8[j] * w);
}

/** Counting sort: pixels of value v end up in `order[start[v]..start[v+1])`. */
export function sortByValue(values: Uint8Array, n: number, ws: Workspace): void {
  const start = ws.start, order = ws.order;
  start.fill(0);
  for (let i = 0; i < n; i++) start[values[i] + 1]++;
  for (let v = 0; v < 256; v++) start[v + 1] += start[v];
  // start[v] is advanced while filling, then restored by shifting back
  for (let i = 0; i < n; i++) order[start[values[i]]++] = i;
  for (let v = 256; v > 0; v--) start[v] = start[v - 1];
  start[0] = 0;
}

/**
 * Outer contours: the 8-connected components of `u8 > t` for every needed level t (pixels
 * added in descending value; union by size, path halving), boxes to `sink`.
 */
export function sweepComponents(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  need: Uint8Array,
  sink: BoxSink,
): void {
  const n = h * w;
  const ws = WS.ensure(n, 0);
  sortByValue(u8, n, ws);
  const { order, start, parent, size, x0, y0, x1, y1, live, pos } = ws;
  const off8 = offsets8(w);
  parent.fill(-1, 0, n);
  let nLive = 0;
  for (let t = max - 1; t >= 0; t--) {
    const end = start[t + 2];
    for (let k = start[t + 1]; k < end; k++) {
      const p = order[k];
      const y = (p / w) | 0, x = p - y * w;
      parent[p] = p;
      size[p] = 1;
      x0[p] = x1[p] = x;
      y0[p] = y1[p] = y;
      pos[p] = nLive;
      live[nLive++] = p;
      let r = p;
      const inside = x > 0 && y > 0 && x < w - 1 && y < h - 1;
      for (let j = 0; j < 8; j++) {
        let q = p + off8[j];
        if (!inside) {
          const xx = x + DX8[j], yy = y + DY8[j];
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        }
        if (parent[q] < 0) continue;
        while (parent[q] !== q) q = parent[q] = parent[parent[q]];
        if (q === r) continue;
        let a = r, b = q;
        if (size[a] < size[b]) {
          a = q;
          b = r;
        }
        parent[b] = a;
        size[a] += size[b];
        if (x0[b] < x0[a]) x0[a] = x0[b];
        if (y0[b] < y0[a]) y0[a] = y0[b];
        if (x1[b] > x1[a]) x1[a] = x1[b];
        if (y1[b] > y1[a]) y1[a] = y1[b];
        const i = pos[b], last = live[--nLive];
        live[i] = last;
        pos[last] = i;
        r = a;
      }
    }
    if (!need[t]) continue;
    for (let i = 0; i < nLive; i++) {
      const r = live[i];
      sink(t, x0[r], y0[r], Math.min(x1[r] + 1, w - 1), Math.min(y1[r] + 1, h - 1));
    }
  }
}

/**
 * Hole contours: the 4-connected regions of `u8 <= t` that do not touch the image border,
 * for every needed t (pixels added in ascending value; a flag per root marks regions
 * connected to the outside, which leave the live list).
 */
export function sweepHoles(
  u8: Uint8Array,
  max: number,
  h: number,
  w: number,
  need: Uint8Array,
  sink: BoxSink,
): void {
  const n = h * w;
  const ws = WS.ensure(n, 0);
  sortByValue(u8, n, ws);
  const { order, start, parent, size, x0, y0, x1, y1, live, pos, flag: outside } = ws;
  parent.fill(-1, 0, n);
  let nLive = 0;
  for (let t = 0; t < max; t++) {
    const end = start[t + 1];
    for (let k = start[t]; k < end; k++) {
      const p = order[k];
      const y = (p / w) | 0, x = p - y * w;
      parent[p] = p;
      size[p] = 1;
      x0[p] = x1[p] = x;
      y0[p] = y1[p] = y;
      const border = x === 0 || y === 0 || x === w - 1 || y === h - 1;
      outside[p] = border ? 1 : 0;
      if (border) pos[p] = -1;
      else {
        pos[p] = nLive;
        live[nLive++] = p;
      }
      let r = p;
      for (let j = 0; j < 4; j++) {
        let q: number;
        if (j === 0) {
          if (x === 0) continue;
          q = p - 1;
        } else if (j === 1) {
          if (x === w - 1) continue;
          q = p + 1;
        } else if (j === 2) {
          if (y === 0) continue;
          q = p - w;
        } else {
          if (y === h - 1) continue;
          q = p + w;
        }
        if (parent[q] < 0) continue;
        while (parent[q] !== q) q = parent[q] = parent[parent[q]];
        if (q === r) continue;
        let a = r, b = q;
        if (size[a] < size[b]) {
          a = q;
          b = r;
        }
        parent[b] = a;
        size[a] += size[b];
        if (x0[b] < x0[a]) x0[a] = x0[b];
        if (y0[b] < y0[a]) y0[a] = y0[b];
        if (x1[b] > x1[a]) x1[a] = x1[b];
        if (y1[b] > y1[a]) y1[a] = y1[b];
        // b leaves the live list; a leaves it too when the merged region reaches outside
        const ib = pos[b];
        if (ib >= 0) {
          const last = live[--nLive];
          live[ib] = last;
          pos[last] = ib;
          pos[b] = -1;
        }
        if (outside[b] && !outside[a]) {
          outside[a] = 1;
          const ia = pos[a];
          if (ia >= 0) {
            const last = live[--nLive];
            live[ia] = last;
            pos[last] = ia;
            pos[a] = -1;
          }
        }
        r = a;
      }
    }
    if (!need[t]) continue;
    for (let i = 0; i < nLive; i++) {
      const r = live[i];
      sink(t, x0[r] - 1, y0[r] - 1, Math.min(x1[r] + 2, w - 1), Math.min(y1[r] + 2, h - 1));
    }
  }
}

/** Priority flood (bucket queue) into `fill`; `next` and `seen` are scratch of length n. */
export function floodFill(
  u8: Uint8Array,
  h: number,
  w: number,
  fill: Uint8Array,
  next: Int32Array,
  seen: Uint8Array,
): void {
  const n = h * w;
  const head = new Int32Array(256).fill(-1);
  seen.fill(0, 0, n);
  const seed = (p: number) => {
    if (seen[p]) return;
    seen[p] = 1;
    const v = u8[p];
    fill[p] = v;
    next[p] = head[v];
    head[v] = p;
  };
  for (let x = 0; x < w; x++) {
    seed(x);
    seed((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    seed(y * w);
    seed(y * w + w - 1);
  }
  for (let v = 0; v < 256; v++) {
    while (head[v] >= 0) {
      const p = head[v];
      head[v] = next[p];
      const y = (p / w) | 0, x = p - y * w;
      for (let j = 0; j < 4; j++) {
        let q: number;
        if (j === 0) {
          if (x === 0) continue;
          q = p - 1;
        } else if (j === 1) {
          if (x === w - 1) continue;
          q = p + 1;
        } else if (j === 2) {
          if (y === 0) continue;
          q = p - w;
        } else {
          if (y === h - 1) continue;
          q = p + w;
        }
        if (seen[q]) continue;
        seen[q] = 1;
        const m = u8[q] > v ? u8[q] : v;
        fill[q] = m;
        next[q] = head[m];
        head[m] = q;
      }
    }
  }
}

/**
 * Grayscale hole filling: `fill[p]` = min over 4-paths from outside the image to p of the
 * largest u8 on the path. `fill > t` is `u8 > t` with its holes filled.
 *
 * @example
 * ```ts
 * const filled = fillHoleLevels(u8, 224, 224);
 * ```
 */
export function fillHoleLevels(u8: Uint8Array, h: number, w: number): Uint8Array {
  const n = h * w;
  const fill = new Uint8Array(n);
  floodFill(u8, h, w, fill, new Int32Array(n), new Uint8Array(n));
  return fill;
}
