/**
 * A small anti-aliased rasterizer for the synthetic dataset: shapes are signed-distance
 * functions (ellipses, polygons, strokes) defined in a local frame and placed on the image
 * by an affine map; a pixel's coverage is `clamp(0.5 − d, 0, 1)` with `d` the signed
 * distance in pixels from the pixel centre (one-pixel linear ramp: analytic anti-aliasing).
 *
 * The canvas also tracks an object-coverage layer: painting with `layer: "object"` unions
 * coverage into it, `layer: "occluder"` removes it. The object's mask is `coverage ≥ ½`,
 * exactly the pixels where the object dominates the rendered colour, so masks (and the boxes
 * cut from them) agree with the image by construction.
 *
 * @module
 */

/** An affine map `x = a·u + c·v + e`, `y = b·u + d·v + f` (local → pixel). */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

/** Compose `outer ∘ inner` (apply inner first). */
export function compose(outer: Affine, inner: Affine): Affine {
  return {
    a: outer.a * inner.a + outer.c * inner.b,
    b: outer.b * inner.a + outer.d * inner.b,
    c: outer.a * inner.c + outer.c * inner.d,
    d: outer.b * inner.c + outer.d * inner.d,
    e: outer.a * inner.e + outer.c * inner.f + outer.e,
    f: outer.b * inner.e + outer.d * inner.f + outer.f,
  };
}

/** Inverse of an affine map (throws when singular). */
export function invert(m: Affine): Affine {
  const det = m.a * m.d - m.b * m.c;
  if (!(Math.abs(det) > 1e-12)) throw new Error("singular affine map");
  const a = m.d / det, b = -m.b / det, c = -m.c / det, d = m.a / det;
  return { a, b, c, d, e: -(a * m.e + c * m.f), f: -(b * m.e + d * m.f) };
}

/** translate · rotate(θ) · scale(sx, sy): the usual pose of a part or object. */
export function pose(tx: number, ty: number, theta: number, sx: number, sy: number): Affine {
  const cos = Math.cos(theta), sin = Math.sin(theta);
  return { a: cos * sx, b: sin * sx, c: -sin * sy, d: cos * sy, e: tx, f: ty };
}

/** Apply an affine map to a point. */
export function applyAffine(m: Affine, u: number, v: number): [number, number] {
  return [m.a * u + m.c * v + m.e, m.b * u + m.d * v + m.f];
}

/** A shape in its local frame: signed distance (negative inside) and a bounding box. */
export interface LocalShape {
  /** Signed distance at local point (u, v), in local units. */
  sd(u: number, v: number): number;
  /** `[u0, v0, u1, v1]` enclosing the shape. */
  bounds: [number, number, number, number];
}

/** Ellipse centred at (cx, cy), radii (rx, ry), rotated by `rot` radians. */
export function ellipse(cx: number, cy: number, rx: number, ry: number, rot = 0): LocalShape {
  const cos = Math.cos(rot), sin = Math.sin(rot);
  const ex = Math.sqrt((rx * cos) ** 2 + (ry * sin) ** 2);
  const ey = Math.sqrt((rx * sin) ** 2 + (ry * cos) ** 2);
  return {
    bounds: [cx - ex, cy - ey, cx + ex, cy + ey],
    sd(u, v) {
      const du = u - cx, dv = v - cy;
      const x = du * cos + dv * sin, y = -du * sin + dv * cos;
      const px = x / rx, py = y / ry;
      const r = Math.sqrt(px * px + py * py);
      if (r === 0) return -Math.min(rx, ry);
      // first-order distance (r − 1)/|∇r|: exact on the boundary, which is all AA needs
      const gx = px / rx, gy = py / ry;
      const g = Math.sqrt(gx * gx + gy * gy) / r;
      return (r - 1) / g;
    },
  };
}

/** Circle (an ellipse with equal radii, with an exact distance). */
export function circle(cx: number, cy: number, r: number): LocalShape {
  return {
    bounds: [cx - r, cy - r, cx + r, cy + r],
    sd: (u, v) => Math.sqrt((u - cx) * (u - cx) + (v - cy) * (v - cy)) - r,
  };
}

function segmentDistance(
  u: number,
  v: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): number {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((u - ax) * dx + (v - ay) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = u - (ax + t * dx), ey = v - (ay + t * dy);
  return Math.sqrt(ex * ex + ey * ey); // (Math.hypot is several times slower in V8)
}

/** Simple polygon (any winding): exact signed distance (even–odd inside test). */
export function polygon(points: [number, number][]): LocalShape {
  if (points.length < 3) throw new Error("polygon needs 3 points");
  const n = points.length;
  const px = Float64Array.from(points, (p) => p[0]), py = Float64Array.from(points, (p) => p[1]);
  return {
    bounds: [Math.min(...px), Math.min(...py), Math.max(...px), Math.max(...py)],
    sd(u, v) {
      let dmin = Infinity, inside = false;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const xi = px[i], yi = py[i], xj = px[j], yj = py[j];
        const d = segmentDistance(u, v, xj, yj, xi, yi);
        if (d < dmin) dmin = d;
        if ((yi > v) !== (yj > v) && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
      }
      return inside ? -dmin : dmin;
    },
  };
}

/** A stroke of width `w` along a polyline (round caps and joins). */
export function stroke(points: [number, number][], w: number): LocalShape {
  const n = points.length;
  const px = Float64Array.from(points, (p) => p[0]), py = Float64Array.from(points, (p) => p[1]);
  const h = w / 2;
  return {
    bounds: [Math.min(...px) - h, Math.min(...py) - h, Math.max(...px) + h, Math.max(...py) + h],
    sd(u, v) {
      let d = Infinity;
      for (let i = 1; i < n; i++) {
        const e = segmentDistance(u, v, px[i - 1], py[i - 1], px[i], py[i]);
        if (e < d) d = e;
      }
      return d - h;
    },
  };
}

/** A colour in 0..1 RGB. */
export type Rgb = [number, number, number];

/**
 * What a shape is filled with: a constant colour, or a function of the pixel centre that
 * writes a colour into `out` (textures, gradients).
 */
export type Paint = Rgb | ((x: number, y: number, out: Rgb) => void);

/** Options of {@link Canvas.fill}. */
export interface FillOptions {
  /** `object`: union into the object layer; `occluder`: cut it; `none` (default). */
  layer?: "object" | "occluder" | "none";
  /** Multiply coverage by this opacity (default 1). */
  opacity?: number;
}

/** An RGB float canvas with an object-coverage layer. */
export class Canvas {
  readonly width: number;
  readonly height: number;
  /** `height × width × 3`, values 0..1. */
  readonly rgb: Float32Array;
  /** Object coverage per pixel, 0..1. */
  readonly object: Float32Array;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.rgb = new Float32Array(width * height * 3);
    this.object = new Float32Array(width * height);
  }

  /** Fill every pixel from a paint (backgrounds). */
  paintAll(paint: (x: number, y: number, out: Rgb) => void): void {
    const out: Rgb = [0, 0, 0];
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        paint(x + 0.5, y + 0.5, out);
        const i = (y * this.width + x) * 3;
        this.rgb[i] = out[0];
        this.rgb[i + 1] = out[1];
        this.rgb[i + 2] = out[2];
      }
    }
  }

  /**
   * Composite `shape` (local frame) placed by `toPixel` with `paint`, anti-aliased.
   * Returns the number of pixels touched.
   */
  fill(shape: LocalShape, toPixel: Affine, paint: Paint, opts: FillOptions = {}): number {
    const inv = invert(toPixel);
    // pixels per local unit (geometric mean of the axes' scales) converts distances
    const scale = Math.sqrt(Math.abs(toPixel.a * toPixel.d - toPixel.b * toPixel.c));
    const [u0, v0, u1, v1] = shape.bounds;
    const corners = [[u0, v0], [u1, v0], [u0, v1], [u1, v1]].map(([u, v]) =>
      applyAffine(toPixel, u, v)
    );
    const xMin = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0])) - 1));
    const xMax = Math.min(this.width - 1, Math.ceil(Math.max(...corners.map((c) => c[0])) + 1));
    const yMin = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1])) - 1));
    const yMax = Math.min(this.height - 1, Math.ceil(Math.max(...corners.map((c) => c[1])) + 1));
    const opacity = opts.opacity ?? 1;
    const layer = opts.layer ?? "none";
    const constant = Array.isArray(paint) ? paint : null;
    const fn = constant ? null : paint as (x: number, y: number, out: Rgb) => void;
    const colour: Rgb = constant ? [...constant] as Rgb : [0, 0, 0];
    let touched = 0;
    for (let y = yMin; y <= yMax; y++) {
      const py = y + 0.5;
      for (let x = xMin; x <= xMax; x++) {
        const px = x + 0.5;
        const u = inv.a * px + inv.c * py + inv.e, v = inv.b * px + inv.d * py + inv.f;
        let cov = 0.5 - shape.sd(u, v) * scale;
        if (cov <= 0) continue;
        if (cov > 1) cov = 1;
        cov *= opacity;
        if (fn) fn(px, py, colour);
        const p = y * this.width + x, i = p * 3;
        this.rgb[i] += (colour[0] - this.rgb[i]) * cov;
        this.rgb[i + 1] += (colour[1] - this.rgb[i + 1]) * cov;
        this.rgb[i + 2] += (colour[2] - this.rgb[i + 2]) * cov;
        if (layer === "object") this.object[p] += cov * (1 - this.object[p]);
        else if (layer === "occluder") this.object[p] *= 1 - cov;
        touched++;
      }
    }
    return touched;
  }

  /** The image as 8-bit RGB (rounded, clamped). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.rgb.length);
    const rgb = this.rgb;
    for (let i = 0; i < out.length; i++) {
      const v = rgb[i] * 255 + 0.5;
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v | 0; // round half up, clamped
    }
    return out;
  }

  /** The object mask: 255 where object coverage ≥ ½, else 0. */
  maskBytes(): Uint8Array {
    const out = new Uint8Array(this.object.length);
    for (let i = 0; i < out.length; i++) out[i] = this.object[i] >= 0.5 ? 255 : 0;
    return out;
  }
}

/**
 * The inclusive pixel extent `[x0, y0, x1, y1]` of the nonzero pixels of a mask, or null
 * when it is empty (wsolevaluation's box convention: x1 is the last column inside).
 */
export function maskExtent(
  mask: Uint8Array,
  width: number,
  height: number,
): [number, number, number, number] | null {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x] !== 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1];
}
