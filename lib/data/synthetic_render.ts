/**
 * Rendering of one synthetic bird sample (background clutter, perch, bird, occluding twig)
 * with its exact coverage mask and box (see lib/data/synthetic.ts for the whole).
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Box } from "./metadata.ts";
import {
  type Affine,
  Canvas,
  circle,
  compose,
  ellipse,
  invert,
  maskExtent,
  type Paint,
  polygon,
  pose,
  type Rgb,
  stroke,
} from "./raster.ts";
import {
  BIRD_ATTRIBUTES,
  type HeadColour,
  type SyntheticClass,
  type WingPattern,
} from "./synthetic_classes.ts";

const HEAD_RGB: Record<HeadColour, Rgb> = {
  red: [0.86, 0.1, 0.12],
  blue: [0.14, 0.32, 0.9],
  yellow: [0.96, 0.86, 0.12],
  green: [0.12, 0.68, 0.22],
  purple: [0.58, 0.2, 0.74],
  orange: [0.98, 0.55, 0.08],
};

/** Shared (non-discriminative) body colours: browns, greys, olive, slate, cream. */
const BODY_RGB: Rgb[] = [
  [0.45, 0.33, 0.22],
  [0.58, 0.46, 0.32],
  [0.5, 0.5, 0.5],
  [0.32, 0.32, 0.34],
  [0.45, 0.45, 0.3],
  [0.36, 0.42, 0.5],
  [0.82, 0.78, 0.68],
  [0.2, 0.18, 0.17],
];
const PATTERN_RGB: Rgb[] = [[0.96, 0.96, 0.94], [0.08, 0.08, 0.08], [0.9, 0.84, 0.62], [
  0.3,
  0.2,
  0.12,
]];
const BEAK_RGB: Rgb[] = [[0.2, 0.2, 0.2], [0.95, 0.7, 0.1], [0.75, 0.65, 0.5], [0.9, 0.45, 0.1]];
const SCENES: Rgb[][] = [
  [[0.25, 0.42, 0.2], [0.5, 0.62, 0.3], [0.16, 0.28, 0.14]], // foliage
  [[0.55, 0.7, 0.88], [0.82, 0.87, 0.92], [0.45, 0.55, 0.7]], // sky
  [[0.5, 0.4, 0.28], [0.68, 0.58, 0.42], [0.36, 0.28, 0.2]], // earth
  [[0.5, 0.5, 0.48], [0.66, 0.66, 0.63], [0.36, 0.37, 0.36]], // stone
  [[0.3, 0.45, 0.45], [0.55, 0.65, 0.55], [0.2, 0.3, 0.3]], // marsh
];

// ---------------------------------------------------------------------------------------
// rendering

/** `out = a + (b − a)·t`, without allocating (paints run once per pixel). */
function mixInto(out: Rgb, a: Rgb, b: Rgb, t: number): void {
  out[0] = a[0] + (b[0] - a[0]) * t;
  out[1] = a[1] + (b[1] - a[1]) * t;
  out[2] = a[2] + (b[2] - a[2]) * t;
}
const shade = (c: Rgb, k: number): Rgb =>
  [c[0] * k, c[1] * k, c[2] * k].map((v) => Math.min(1, Math.max(0, v))) as Rgb;
const jitter = (c: Rgb, rng: Rng, amount: number): Rgb =>
  c.map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5) * 2 * amount))) as Rgb;
const pickOf = <T>(xs: readonly T[], rng: Rng): T => xs[rng.int(xs.length)];

/** Smooth value noise in [0, 1] on a lattice of `cell` pixels (smoothstep interpolation). */
function valueNoise(width: number, height: number, cell: number, rng: Rng) {
  const gw = Math.ceil(width / cell) + 2, gh = Math.ceil(height / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => rng.next());
  return (x: number, y: number) => {
    const fx = x / cell, fy = y / cell;
    const ix = Math.floor(fx), iy = Math.floor(fy);
    let tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const i = iy * gw + ix;
    const a = grid[i] + (grid[i + 1] - grid[i]) * tx;
    const b = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * tx;
    return a + (b - a) * ty;
  };
}

/** Coverage of a signed distance `d` with a one-pixel ramp (`px` = local units per pixel). */
function ramp(d: number, px: number): number {
  const c = 0.5 - d / px;
  return c <= 0 ? 0 : c >= 1 ? 1 : c;
}

/** Pattern coverage in a part's frame (u along the part), anti-aliased over `px` local units. */
function patternCoverage(kind: WingPattern, u: number, v: number, px: number): number {
  switch (kind) {
    case "plain":
      return 0;
    case "striped": {
      const period = 0.085;
      const t = ((u / period) % 1 + 1) % 1; // stripes across the wing
      return ramp((Math.abs(t - 0.5) - 0.22) * period, px);
    }
    case "spotted": {
      const cell = 0.085;
      const cu = Math.round(u / cell), cv = Math.round(v / cell);
      const du = u - (cu + ((cv & 1) ? 0.5 : 0)) * cell;
      const ex = du - (Math.abs(du) > cell / 2 ? Math.sign(du) * cell : 0), ey = v - cv * cell;
      const d = Math.sqrt(ex * ex + ey * ey);
      return ramp(d - cell * 0.28, px);
    }
    case "checkered": {
      const cell = 0.075;
      const fu = u / cell, fv = v / cell;
      const du = (Math.abs(fu - Math.round(fu))) * cell,
        dv = (Math.abs(fv - Math.round(fv))) * cell;
      const parity = (Math.floor(fu) + Math.floor(fv)) & 1;
      const edge = Math.min(du, dv); // distance to the nearest cell border
      return parity ? ramp(-edge, px) : 1 - ramp(-edge, px);
    }
  }
}

/** A paint that maps pixels to a part's local frame. */
function framePaint(
  toPixel: Affine,
  f: (u: number, v: number, px: number, out: Rgb) => void,
): Paint {
  const inv = invert(toPixel);
  const px = 1 / Math.sqrt(Math.abs(toPixel.a * toPixel.d - toPixel.b * toPixel.c));
  return (x, y, out) => f(inv.a * x + inv.c * y + inv.e, inv.b * x + inv.d * y + inv.f, px, out);
}

/** One rendered sample: image, mask, box, size. */
export interface RenderedBirdSample {
  width: number;
  height: number;
  /** `height × width × 3` bytes. */
  rgb: Uint8Array;
  /** `height × width`, 255 = object. */
  mask: Uint8Array;
  /** The mask's inclusive extent. */
  box: Box;
}

const LOCAL_EXTENT: [number, number, number, number] = [-0.9, -0.62, 0.82, 0.5];

function drawBackground(canvas: Canvas, rng: Rng): void {
  const { width: W, height: H } = canvas;
  const scene = pickOf(SCENES, rng).map((c) => jitter(c, rng, 0.06)) as Rgb[];
  const coarse = valueNoise(W, H, 30 + rng.int(40), rng);
  const fine = valueNoise(W, H, 6 + rng.int(8), rng);
  const tilt = rng.uniform(-0.25, 0.25);
  canvas.paintAll((x, y, out) => {
    const n = 0.7 * coarse(x, y) + 0.3 * fine(x, y);
    const g = Math.min(1, Math.max(0, n + tilt * (y / H - 0.5)));
    if (g < 0.5) mixInto(out, scene[2], scene[0], g * 2);
    else mixInto(out, scene[0], scene[1], (g - 0.5) * 2);
  });
  const side = Math.min(W, H);
  // clutter: leaves and twigs in scene colours
  const clutter = 5 + rng.int(10);
  for (let i = 0; i < clutter; i++) {
    const at = pose(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0, Math.PI), 1, 1);
    const colour = shade(pickOf(scene, rng), rng.uniform(0.7, 1.25));
    if (rng.next() < 0.6) {
      const r = side * rng.uniform(0.02, 0.07);
      canvas.fill(ellipse(0, 0, r * rng.uniform(1.2, 2.2), r), at, colour, { opacity: 0.9 });
    } else {
      const len = side * rng.uniform(0.1, 0.4);
      canvas.fill(
        stroke([[-len / 2, 0], [0, len * rng.uniform(-0.1, 0.1)], [len / 2, 0]], side * 0.012),
        at,
        shade([0.35, 0.25, 0.15], rng.uniform(0.7, 1.3)),
      );
    }
  }
  // distractors sharing the discriminative colours and patterns (never a whole bird)
  const distractors = 2 + rng.int(4);
  for (let i = 0; i < distractors; i++) {
    const r = side * rng.uniform(0.03, 0.09);
    const at = pose(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0, 2 * Math.PI), r, r);
    const colour = jitter(HEAD_RGB[pickOf(BIRD_ATTRIBUTES.head, rng)], rng, 0.05);
    const kind = rng.int(4);
    if (kind === 0) canvas.fill(circle(0, 0, 1), at, colour);
    else if (kind === 1) canvas.fill(polygon([[0, -1.2], [1, 0.8], [-1, 0.8]]), at, colour);
    else if (kind === 2) {
      const spikes: [number, number][] = [];
      for (let k = 0; k < 10; k++) {
        const a = (k / 10) * 2 * Math.PI, rr = k % 2 ? 0.45 : 1.1;
        spikes.push([Math.cos(a) * rr, Math.sin(a) * rr]);
      }
      canvas.fill(polygon(spikes), at, colour);
    } else {
      const pattern = pickOf(BIRD_ATTRIBUTES.wing.slice(1), rng);
      const base = pickOf(BODY_RGB, rng), ink = pickOf(PATTERN_RGB, rng);
      const rect = polygon([[-1.6, -0.8], [1.6, -0.8], [1.6, 0.8], [-1.6, 0.8]]);
      const local = pose(0, 0, 0, 1 / 3.2, 1 / 3.2); // pattern frame ≈ a wing's scale
      canvas.fill(
        rect,
        at,
        framePaint(compose(at, invert(local)), (u, v, px, out) => {
          mixInto(out, base, ink, patternCoverage(pattern, u, v, px));
        }),
      );
    }
  }
}

function drawBird(canvas: Canvas, cls: SyntheticClass, rng: Rng, toPixel: Affine): void {
  const obj = { layer: "object" as const };
  const at = (m: Affine) => compose(toPixel, m);
  const id = pose(0, 0, 0, 1, 1);
  const body = jitter(pickOf(BODY_RGB, rng), rng, 0.05);
  const dark = shade(body, 0.72);
  const head = jitter(HEAD_RGB[cls.head], rng, 0.04);
  const ink = pickOf(PATTERN_RGB.filter((c) => Math.abs(c[0] - dark[0]) > 0.25), rng) ??
    PATTERN_RGB[0];
  const legColour = pickOf([[0.25, 0.22, 0.2], [0.85, 0.55, 0.2]] as Rgb[], rng);
  const bodyRy = 0.25 * rng.uniform(0.85, 1.15);

  // tail (behind the body)
  const tailLift = rng.uniform(-0.12, 0.12);
  const tail = rng.next() < 0.5
    ? polygon([[-0.3, -0.08], [-0.78, -0.22 + tailLift], [-0.84, 0.06 + tailLift], [-0.3, 0.07]])
    : polygon([[-0.3, -0.07], [-0.88, tailLift], [-0.3, 0.07]]);
  canvas.fill(tail, at(id), dark, obj);
  // legs and feet
  for (const lx of [0.0, 0.12]) {
    const foot = lx + rng.uniform(-0.03, 0.03);
    canvas.fill(
      stroke([[lx, bodyRy * 0.7], [foot, 0.44], [foot + 0.07, 0.46]], 0.028),
      at(id),
      legColour,
      obj,
    );
  }
  // body with a light belly (vertical gradient in the body frame)
  const bodyShape = ellipse(0, 0, 0.43, bodyRy, rng.uniform(-0.08, 0.08));
  const belly = shade(body, 1.25);
  canvas.fill(
    bodyShape,
    at(id),
    framePaint(toPixel, (_u, v, _px, out) => {
      mixInto(out, body, belly, Math.min(1, Math.max(0, (v / bodyRy + 0.2) * 0.9)));
    }),
    obj,
  );
  // wing with the class's pattern
  const wingFrame = pose(-0.06, -0.03, rng.uniform(-0.25, 0.05), 1, 1);
  canvas.fill(
    ellipse(0, 0, 0.31, 0.14),
    at(wingFrame),
    framePaint(at(wingFrame), (u, v, px, out) => {
      mixInto(out, dark, ink, patternCoverage(cls.wing, u, v, px));
    }),
    obj,
  );
  // head, crest, beak, eye
  const r = 0.16 * rng.uniform(0.9, 1.1);
  const hx = 0.37 + rng.uniform(-0.03, 0.05), hy = -0.21 + rng.uniform(-0.05, 0.04);
  const onHead = (angleDeg: number, dist: number): [number, number] => {
    const a = (angleDeg * Math.PI) / 180;
    return [hx + Math.cos(a) * dist * r, hy + Math.sin(a) * dist * r];
  };
  const crestColour = shade(head, 0.85);
  if (cls.crest === "spiky") {
    for (const a of [-95, -122, -150]) {
      const [tx, ty] = onHead(a - 12, 2.0);
      const [lx, ly] = onHead(a - 14, 0.85), [rx, ry] = onHead(a + 14, 0.85);
      canvas.fill(polygon([[lx, ly], [tx, ty], [rx, ry]]), at(id), crestColour, obj);
    }
  } else if (cls.crest === "round") {
    const [cx, cy] = onHead(-115, 0.95);
    canvas.fill(circle(cx, cy, 0.55 * r), at(id), crestColour, obj);
  } else if (cls.crest === "plumed") {
    const [ax, ay] = onHead(-70, 0.9), [bx, by] = onHead(-125, 0.9);
    canvas.fill(
      polygon([[ax, ay], [hx - 2.4 * r, hy - 1.35 * r], [hx - 2.6 * r, hy - 1.05 * r], [bx, by]]),
      at(id),
      crestColour,
      obj,
    );
  }
  canvas.fill(circle(hx, hy, r), at(id), head, obj);
  canvas.fill(
    polygon([[hx + 0.8 * r, hy - 0.3 * r], [hx + 1.95 * r, hy + 0.12 * r], [
      hx + 0.8 * r,
      hy + 0.38 * r,
    ]]),
    at(id),
    pickOf(BEAK_RGB, rng),
    obj,
  );
  canvas.fill(circle(hx + 0.38 * r, hy - 0.2 * r, 0.17 * r), at(id), [0.03, 0.03, 0.03], obj);
  canvas.fill(circle(hx + 0.42 * r, hy - 0.26 * r, 0.06 * r), at(id), [1, 1, 1], obj);
}

/**
 * Render one sample of a class: background, perch, bird, sometimes an occluding twig.
 * Deterministic in `rng`. Retries (same stream) if the visible bird is too small.
 */
export function renderBirdSample(
  cls: SyntheticClass,
  rng: Rng,
  width: number,
  height: number,
): RenderedBirdSample {
  for (let attempt = 0; attempt < 8; attempt++) {
    const canvas = new Canvas(width, height);
    drawBackground(canvas, rng);
    // pose: facing, rotation, aspect, size, then a position that keeps the bird (mostly) in
    const flip = rng.next() < 0.5 ? -1 : 1;
    const theta = rng.uniform(-0.5, 0.5) + (rng.next() < 0.1 ? rng.uniform(-0.6, 0.6) : 0);
    const aspect = rng.uniform(0.85, 1.2);
    const frac = rng.uniform(0.45, 1.15);
    const unit = pose(0, 0, theta, flip, aspect);
    const [u0, v0, u1, v1] = LOCAL_EXTENT;
    const corners = [[u0, v0], [u1, v0], [u0, v1], [u1, v1]].map(([u, v]) => [
      unit.a * u + unit.c * v,
      unit.b * u + unit.d * v,
    ]);
    const ex0 = Math.min(...corners.map((c) => c[0])), ex1 = Math.max(...corners.map((c) => c[0]));
    const ey0 = Math.min(...corners.map((c) => c[1])), ey1 = Math.max(...corners.map((c) => c[1]));
    const s = (frac * Math.min(width, height)) / Math.max(ex1 - ex0, ey1 - ey0);
    const slack = rng.next() < 0.2 ? 0.15 : 0; // sometimes let the bird leave the frame a bit
    const txLo = -ex0 * s - slack * (ex1 - ex0) * s,
      txHi = width - ex1 * s + slack * (ex1 - ex0) * s;
    const tyLo = -ey0 * s - slack * (ey1 - ey0) * s,
      tyHi = height - ey1 * s + slack * (ey1 - ey0) * s;
    const tx = txHi > txLo ? rng.uniform(txLo, txHi) : width / 2;
    const ty = tyHi > tyLo ? rng.uniform(tyLo, tyHi) : height / 2;
    const toPixel = pose(tx, ty, theta, flip * s, aspect * s);
    // a perch under the bird, behind it
    if (rng.next() < 0.5) {
      const [px, py] = [tx + (unit.c * 0.46) * s, ty + (unit.d * 0.46) * s];
      const ang = rng.uniform(-0.4, 0.4);
      const len = Math.max(width, height) * 1.5;
      canvas.fill(
        stroke([[-len / 2, 0], [len / 2, 0]], Math.min(width, height) * rng.uniform(0.025, 0.05)),
        pose(px, py, ang, 1, 1),
        shade([0.36, 0.26, 0.17], rng.uniform(0.8, 1.2)),
      );
    }
    drawBird(canvas, cls, rng, toPixel);
    // an occluding twig in front, cutting the object layer
    if (rng.next() < 0.2) {
      const ang = rng.uniform(0, Math.PI);
      const len = Math.max(width, height) * 1.5;
      canvas.fill(
        stroke(
          [[-len / 2, 0], [len / 2, 0]],
          Math.min(width, height) * rng.uniform(0.012, 0.03),
        ),
        pose(tx + rng.uniform(-0.3, 0.3) * s, ty + rng.uniform(-0.3, 0.3) * s, ang, 1, 1),
        shade([0.3, 0.22, 0.14], rng.uniform(0.8, 1.2)),
        { layer: "occluder" },
      );
    }
    const mask = canvas.maskBytes();
    const box = maskExtent(mask, width, height);
    let area = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i]) area++;
    if (box === null || area < 0.02 * width * height) continue;
    // global lighting: brightness and contrast per image
    const gain = rng.uniform(0.85, 1.12), bias = rng.uniform(-0.04, 0.04);
    for (let i = 0; i < canvas.rgb.length; i++) canvas.rgb[i] = canvas.rgb[i] * gain + bias;
    return { width, height, rgb: canvas.toBytes(), mask, box };
  }
  throw new Error(`renderBirdSample: no visible bird after 8 attempts (class ${cls.label})`);
}
