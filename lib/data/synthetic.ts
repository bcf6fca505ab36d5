/**
 * The embedded default dataset: synthetic "birds" that pose the real WSOL problem, generated
 * deterministically from a seed (no download, no real data needed).
 *
 * Each class is a bird-like creature assembled from parts. The body, tail, legs and beak are
 * shared by all classes (their colours and shapes vary per image, never per class); only
 * three small parts carry the class: the head colour, the crest shape and the wing pattern.
 * Classes come in families of near-duplicates that differ in one attribute, and are named by
 * their attributes ("red-headed spiky-crested striped-winged bird"), like CUB's species within
 * a genus. Objects vary in size (box area 5–60 % of the image, median ≈ 20 %), position
 * (sometimes cut by the frame), aspect, rotation and facing; backgrounds are textured clutter with distractors, some in the head colours or the
 * wing patterns, a perch behind and sometimes a twig in front (occluding the bird). Images
 * are 180–320 px per side (profile dependent), so the resize path is exercised.
 *
 * Ground truth is exact: the rasterizer tracks object coverage per pixel; the mask is
 * `coverage ≥ ½` and the box is the mask's inclusive extent (wsolevaluation's convention).
 *
 * The anchors file stands in for CLIP text embeddings: each class's one-hot attribute vector
 * goes through a fixed seeded Gaussian projection to D = 128, plus a component shared by all
 * classes and a class-specific random part, so classes that share attributes have similar
 * anchors, like CLIP's clusters of similar classes: the situation the orthogonalization
 * ablation is about. The mix is calibrated to real CLIP ViT-B/32 name embeddings of related
 * ImageNet classes (the 41 blocks of 24 consecutive classes: median mean cosine 0.73, nearest
 * neighbour 0.82, effective rank of the centred anchors 16.7 of 23); the quick profile's anchors
 * have 0.73 / 0.80 / 16.7 (see {@link STANDIN_ANCHOR_SHAPE}).
 *
 * Layout written (all paths relative to the dataset folder):
 * `dataset.json`, `classes.txt`, `attributes.json`, `anchors.safetensors`, `config.json`,
 * `images/<split>/c<k>/<i>.png`, `masks/<split>/c<k>/<i>.png` (+ `<i>_ignore.png`, all zero),
 * `metadata/{train,val,test}/` (boxes) and `metadata_masks/{val,test}/` (mask layout).
 *
 * @module
 */
import sharp, { type OverlayOptions } from "sharp";
import { join } from "node:path";
import { writeDirAtomic, writeTextAtomic } from "../io/atomic.ts";
import { writeAnchors } from "../text/anchors.ts";
import { Progress } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { projectPath } from "../util/paths.ts";
import { type Box, emptyMetadata, writeMetadata, type WsolMetadata } from "./metadata.ts";
import {
  loadDataset,
  writeClassNames,
  writeDatasetDescriptor,
  type WsolDataset,
} from "./dataset.ts";
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

/** Bump when the generator's output changes: cached datasets are then regenerated. */
export const SYNTHETIC_VERSION = 2; // 2: anchors calibrated to CLIP's spectrum (β 2.9, σ 1.45)

/** Dataset sizes. */
export type DatasetProfile = "ci" | "quick" | "full";

/** What a profile generates. */
export interface SyntheticConfig {
  /** Number of families of near-duplicate classes. */
  families: number;
  /** Classes per family (the base and its one-attribute variants). */
  perFamily: number;
  /** Images per class in each split. */
  perClass: { train: number; val: number; test: number };
  /** Image side range in pixels (width and height drawn independently). */
  minSide: number;
  maxSide: number;
  /** Anchor dimension. */
  anchorDim: number;
}

/** The three profiles: `ci` (tiny, test suite), `quick` (default, main job), `full`. */
export const SYNTHETIC_PROFILES: Record<DatasetProfile, SyntheticConfig> = {
  ci: {
    families: 4,
    perFamily: 2,
    perClass: { train: 16, val: 4, test: 8 },
    minSide: 150,
    maxSide: 240,
    anchorDim: 128,
  },
  quick: {
    families: 8,
    perFamily: 3,
    perClass: { train: 100, val: 10, test: 30 },
    minSide: 180,
    maxSide: 320,
    anchorDim: 128,
  },
  full: {
    families: 16,
    perFamily: 3,
    perClass: { train: 200, val: 20, test: 50 },
    minSide: 180,
    maxSide: 320,
    anchorDim: 128,
  },
};

/** The discriminative attributes and their values (order = one-hot order). */
export const BIRD_ATTRIBUTES = {
  head: ["red", "blue", "yellow", "green", "purple", "orange"],
  crest: ["crestless", "spiky", "round", "plumed"],
  wing: ["plain", "striped", "spotted", "checkered"],
} as const;

type HeadColour = (typeof BIRD_ATTRIBUTES.head)[number];
type Crest = (typeof BIRD_ATTRIBUTES.crest)[number];
type WingPattern = (typeof BIRD_ATTRIBUTES.wing)[number];

/** One synthetic class. */
export interface SyntheticClass {
  label: number;
  name: string;
  head: HeadColour;
  crest: Crest;
  wing: WingPattern;
  /** Index of its family of near-duplicates. */
  family: number;
}

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

/** Class name from its attributes, e.g. "red-headed spiky-crested striped-winged bird". */
export function birdClassName(head: string, crest: string, wing: string): string {
  const crestWord = crest === "crestless" ? "crestless" : `${crest}-crested`;
  return `${head}-headed ${crestWord} ${wing}-winged bird`;
}

/**
 * Choose the classes: `families` random distinct attribute triples, each with
 * `perFamily − 1` variants that change exactly one attribute (so every class has a
 * near-duplicate). Labels are assigned family by family.
 */
export function designBirdClasses(config: SyntheticConfig, seed: number): SyntheticClass[] {
  const rng = new Rng(hashInts(seed, 0x5eed, 1));
  const used = new Set<string>();
  const key = (h: string, c: string, w: string) => `${h}|${c}|${w}`;
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  const classes: SyntheticClass[] = [];
  for (let f = 0; f < config.families; f++) {
    let h: HeadColour, c: Crest, w: WingPattern;
    do {
      h = pick(BIRD_ATTRIBUTES.head);
      c = pick(BIRD_ATTRIBUTES.crest);
      w = pick(BIRD_ATTRIBUTES.wing);
    } while (used.has(key(h, c, w)));
    const members: [HeadColour, Crest, WingPattern][] = [[h, c, w]];
    used.add(key(h, c, w));
    let guard = 0;
    while (members.length < config.perFamily) {
      if (++guard > 1000) throw new Error("designBirdClasses: cannot find variants");
      const which = rng.int(3);
      const v: [HeadColour, Crest, WingPattern] = [h, c, w];
      if (which === 0) v[0] = pick(BIRD_ATTRIBUTES.head);
      else if (which === 1) v[1] = pick(BIRD_ATTRIBUTES.crest);
      else v[2] = pick(BIRD_ATTRIBUTES.wing);
      if (used.has(key(...v))) continue;
      used.add(key(...v));
      members.push(v);
    }
    for (const [mh, mc, mw] of members) {
      classes.push({
        label: classes.length,
        name: birdClassName(mh, mc, mw),
        head: mh,
        crest: mc,
        wing: mw,
        family: f,
      });
    }
  }
  return classes;
}

/** The one-hot attribute vector of a class (head ‖ crest ‖ wing). */
export function birdAttributeVector(
  cls: Pick<SyntheticClass, "head" | "crest" | "wing">,
): number[] {
  const v: number[] = [];
  for (const [k, values] of Object.entries(BIRD_ATTRIBUTES)) {
    const mine = cls[k as keyof typeof BIRD_ATTRIBUTES];
    for (const value of values) v.push(value === mine ? 1 : 0);
  }
  return v;
}

/**
 * The stand-in anchors' mix: shared component β, class-specific random part σ (the
 * attribute part has norm ≈ 1). Fitted by grid search (β step 0.1, σ step 0.05) to real CLIP
 * ViT-B/32 name embeddings ("a photo of a {}") of the 41 blocks of 24 consecutive ImageNet
 * classes (related classes: WordNet order), matching three medians at once: mean cosine 0.73,
 * mean nearest-neighbour cosine 0.82 and the effective rank of the centred anchors 16.7
 * (`anchorSpectrum` in lib/text/analysis.ts). The first stand-in (β 0.8, σ 0.25) matched neither crowding
 * (0.45 / 0.76) nor spectrum (6.9): its anchors were almost exactly linear in the 14
 * attributes, far more compositional than CLIP's name embeddings, where about two thirds of
 * what tells related classes apart is not shared with other classes.
 */
export const STANDIN_ANCHOR_SHAPE = { beta: 2.9, sigma: 1.45 } as const;

/**
 * The calibration target of {@link STANDIN_ANCHOR_SHAPE}: medians over the 41 blocks of 24
 * consecutive classes of CLIP ViT-B/32's ImageNet name embeddings (`../shared/data/clip`).
 * Interquartile ranges: mean cosine 0.67–0.75, nearest neighbour 0.80–0.83, effective rank
 * 13.2–17.5.
 */
export const CLIP_RELATED_CLASSES_GEOMETRY = {
  blockSize: 24,
  meanCosine: 0.7283,
  nearestCosine: 0.8169,
  effectiveRank: 16.671,
} as const;

/**
 * Anchors from attributes (a stand-in for CLIP text embeddings): `normalize(β·g + x·R/√(3D)
 * + σ·ε/√D)` with `x` the one-hot attributes, `R` a seeded N(0,1) projection to `dim`, `g` a
 * shared vector (N(0, 1/D) entries) and per-class noise ε ~ N(0,1). Rows L2-normalised.
 * β and σ default to {@link STANDIN_ANCHOR_SHAPE}; `shape` overrides them (e.g. β 0.8, σ 0.25
 * for the first, far more compositional stand-in).
 */
export function birdAttributeAnchors(
  classes: SyntheticClass[],
  dim: number,
  seed: number,
  shape: { beta?: number; sigma?: number } = {},
): Float32Array {
  const rng = new Rng(hashInts(seed, 0xa7c4, 2));
  const attrs = birdAttributeVector(classes[0]).length;
  const R = Float64Array.from({ length: attrs * dim }, () => rng.normal());
  const g = Float64Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim));
  const beta = shape.beta ?? STANDIN_ANCHOR_SHAPE.beta;
  const sigma = shape.sigma ?? STANDIN_ANCHOR_SHAPE.sigma;
  const out = new Float32Array(classes.length * dim);
  classes.forEach((cls, k) => {
    const x = birdAttributeVector(cls);
    const ones = x.reduce((s, v) => s + v, 0);
    const row = new Float64Array(dim);
    for (let j = 0; j < dim; j++) {
      let z = 0;
      for (let a = 0; a < attrs; a++) z += x[a] * R[a * dim + j];
      row[j] = beta * g[j] + z / Math.sqrt(ones * dim) + (sigma * rng.normal()) / Math.sqrt(dim);
    }
    const norm = Math.sqrt(row.reduce((acc, x) => acc + x * x, 0));
    for (let j = 0; j < dim; j++) out[k * dim + j] = row[j] / norm;
  });
  return out;
}

/** A 32-bit hash of integers (for per-image seeds independent of generation order). */
function hashInts(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}

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

// ---------------------------------------------------------------------------------------
// the dataset on disk

/** Splits generated, in order. */
export const SYNTHETIC_SPLITS = ["train", "val", "test"] as const;

/** One image to generate. */
export interface SyntheticJob {
  split: (typeof SYNTHETIC_SPLITS)[number];
  label: number;
  index: number;
  /** Image id (path relative to `images/`, also the mask's path relative to `masks/`). */
  id: string;
  /** Whether to write the mask (val/test). */
  withMask: boolean;
}

/** What a written image contributes to the metadata. */
export interface SyntheticResult {
  id: string;
  width: number;
  height: number;
  box: Box;
}

/** The jobs of a config, in metadata order (split, class, index). */
export function syntheticJobs(config: SyntheticConfig): SyntheticJob[] {
  const jobs: SyntheticJob[] = [];
  const classes = config.families * config.perFamily;
  for (const split of SYNTHETIC_SPLITS) {
    for (let label = 0; label < classes; label++) {
      for (let index = 0; index < config.perClass[split]; index++) {
        const id = `${split}/c${String(label).padStart(2, "0")}/${
          String(index).padStart(4, "0")
        }.png`;
        jobs.push({ split, label, index, id, withMask: split !== "train" });
      }
    }
  }
  return jobs;
}

/**
 * Render and write one job's image (and mask) under `dir` (the dataset folder being built).
 * The image depends only on (seed, split, label, index), never on job order.
 */
export async function writeSyntheticJob(
  dir: string,
  job: SyntheticJob,
  cls: SyntheticClass,
  config: SyntheticConfig,
  seed: number,
): Promise<SyntheticResult> {
  const rng = new Rng(hashInts(seed, SYNTHETIC_SPLITS.indexOf(job.split), job.label, job.index));
  const span = config.maxSide - config.minSide + 1;
  const width = config.minSide + rng.int(span), height = config.minSide + rng.int(span);
  const s = renderBirdSample(cls, rng, width, height);
  const imagePath = join(dir, "images", job.id);
  await Deno.mkdir(join(imagePath, ".."), { recursive: true });
  await sharp(s.rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6 }).toFile(imagePath);
  if (job.withMask) {
    const maskPath = join(dir, "masks", job.id);
    await Deno.mkdir(join(maskPath, ".."), { recursive: true });
    // toColourspace("b-w"): without it sharp writes a one-channel input as an RGB PNG
    const gray = (bytes: Uint8Array) =>
      sharp(bytes, { raw: { width, height, channels: 1 } }).toColourspace("b-w").png();
    await gray(s.mask).toFile(maskPath);
    await gray(new Uint8Array(width * height)).toFile(maskPath.replace(/\.png$/, "_ignore.png"));
  }
  return { id: job.id, width, height, box: s.box };
}

/** Options of {@link generateDefaultDataset}. */
export interface GenerateDefaultDatasetOptions {
  profile?: DatasetProfile;
  seed?: number;
  /**
   * Worker count (default: one per core, at most 4, for 1,000 images or more; below that 0,
   * which renders on the main thread).
   */
  workers?: number;
  /** Show a progress bar (default false). */
  progress?: boolean;
  /** Dataset name (default `default-<profile>`). */
  name?: string;
}

/** The config hash recorded in dataset.json (changes when profile, seed or version change). */
export async function syntheticConfigHash(profile: DatasetProfile, seed: number): Promise<string> {
  const text = JSON.stringify({
    version: SYNTHETIC_VERSION,
    profile,
    config: SYNTHETIC_PROFILES[profile],
    seed,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, 16);
}

function checkProfile(profile: string): DatasetProfile {
  if (!(profile in SYNTHETIC_PROFILES)) {
    throw new Error(`unknown profile '${profile}' (use ci, quick or full)`);
  }
  return profile as DatasetProfile;
}

async function runJobs(
  dir: string,
  jobs: SyntheticJob[],
  classes: SyntheticClass[],
  config: SyntheticConfig,
  seed: number,
  workers: number,
  bar: Progress | null,
): Promise<SyntheticResult[]> {
  const results: SyntheticResult[] = new Array(jobs.length);
  if (workers <= 0) {
    // a few in flight so PNG encoding (sharp's threads) overlaps rendering (this thread)
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const k = next++;
        results[k] = await writeSyntheticJob(dir, jobs[k], classes[jobs[k].label], config, seed);
        bar?.tick();
      }
    };
    await Promise.all([lane(), lane(), lane()]);
    return results;
  }
  const pool = Array.from(
    { length: workers },
    () => new Worker(new URL("./synthetic_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    let next = 0;
    await Promise.all(pool.map((w) =>
      new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next >= jobs.length) return resolve();
          // small chunks keep the workers balanced
          const from = next;
          next = Math.min(jobs.length, next + 8);
          w.postMessage({ dir, from, jobs: jobs.slice(from, next), classes, config, seed });
        };
        w.onmessage = (
          e: MessageEvent<{ from: number; results?: SyntheticResult[]; error?: string }>,
        ) => {
          if (e.data.error) return reject(new Error(e.data.error));
          e.data.results!.forEach((r, i) => (results[e.data.from + i] = r));
          bar?.tick(e.data.results!.length);
          send();
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`synthetic worker failed: ${e.message}`));
        };
        send();
      })
    ));
  } finally {
    pool.forEach((w) => w.terminate());
  }
  return results;
}

/**
 * Generate the embedded default dataset into `out` (replaced atomically when it exists).
 *
 * @example
 * ```ts
 * const ds = await generateDefaultDataset("data/generated/default-ci", { profile: "ci" });
 * ```
 */
export async function generateDefaultDataset(
  out: string,
  opts: GenerateDefaultDatasetOptions = {},
): Promise<WsolDataset> {
  const profile = checkProfile(opts.profile ?? "quick");
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const config = SYNTHETIC_PROFILES[profile];
  const classes = designBirdClasses(config, seed);
  const jobs = syntheticJobs(config);
  const hash = await syntheticConfigHash(profile, seed);
  // small datasets render faster on this thread than workers start (under `deno test` each
  // worker is type-checked first, ~3 s)
  const workers = opts.workers ??
    (jobs.length < 1000 ? 0 : Math.max(0, Math.min(4, navigator.hardwareConcurrency ?? 2)));
  await writeDirAtomic(out, async (dir) => {
    const bar = opts.progress
      ? new Progress("default dataset", jobs.length, { unit: "img" })
      : null;
    const results = await runJobs(dir, jobs, classes, config, seed, workers, bar);
    bar?.done();
    const boxSplits: Record<string, WsolMetadata> = {};
    const maskSplits: Record<string, WsolMetadata> = {};
    jobs.forEach((job, k) => {
      const r = results[k];
      const m = (boxSplits[job.split] ??= emptyMetadata());
      m.imageIds.push(job.id);
      m.classLabels.set(job.id, job.label);
      m.imageSizes.set(job.id, [r.width, r.height]);
      m.boxes.set(job.id, [r.box]);
      if (job.withMask) {
        const mm = (maskSplits[job.split] ??= emptyMetadata());
        mm.imageIds.push(job.id);
        mm.classLabels.set(job.id, job.label);
        mm.masks.set(job.id, [job.id]);
        mm.ignoreMasks.set(job.id, job.id.replace(/\.png$/, "_ignore.png"));
      }
    });
    for (const [split, m] of Object.entries(boxSplits)) {
      await writeMetadata(join(dir, "metadata", split), m);
    }
    for (const [split, m] of Object.entries(maskSplits)) {
      await writeMetadata(join(dir, "metadata_masks", split), m);
    }
    await writeClassNames(join(dir, "classes.txt"), classes.map((c) => c.name));
    const attributeNames = Object.entries(BIRD_ATTRIBUTES).flatMap(([k, vs]) =>
      vs.map((v) => `${k}:${v}`)
    );
    await writeTextAtomic(
      join(dir, "attributes.json"),
      JSON.stringify(
        {
          attributes: BIRD_ATTRIBUTES,
          vectorLayout: attributeNames,
          classes: classes.map((c) => ({ ...c, vector: birdAttributeVector(c) })),
        },
        null,
        1,
      ) + "\n",
    );
    await writeAnchors(join(dir, "anchors.safetensors"), {
      classNames: classes.map((c) => c.name),
      vectors: birdAttributeAnchors(classes, config.anchorDim, seed),
      count: classes.length,
      dim: config.anchorDim,
      template: "",
      source: "attributes:synthetic-default (stand-in for CLIP text embeddings)",
      extra: {
        construction:
          `normalize(${STANDIN_ANCHOR_SHAPE.beta}*g + onehot(head,crest,wing)·R/sqrt(3D) + ` +
          `${STANDIN_ANCHOR_SHAPE.sigma}*noise/sqrt(D)), R ~ N(0,1) seeded; calibrated to CLIP ViT-B/32 names`,
        seed: String(seed),
      },
    });
    await writeDatasetDescriptor(dir, {
      name: opts.name ?? `default-${profile}`,
      imageRoot: "images",
      classes: "classes.txt",
      splits: Object.fromEntries(Object.keys(boxSplits).map((s) => [s, `metadata/${s}`])),
      anchors: "anchors.safetensors",
      maskRoot: "masks",
      maskSplits: Object.fromEntries(
        Object.keys(maskSplits).map((s) => [s, `metadata_masks/${s}`]),
      ),
      attributes: "attributes.json",
      generator: {
        kind: "tedloc-synthetic-birds",
        version: SYNTHETIC_VERSION,
        profile,
        seed,
        hash,
        config,
      },
    });
  });
  return await loadDataset(out);
}

/** Options of {@link ensureDefaultDataset}. */
export interface EnsureDefaultDatasetOptions {
  profile?: DatasetProfile;
  seed?: number;
  /** Parent folder (default `<project>/data/generated`). */
  dir?: string;
  workers?: number;
  progress?: boolean;
}

/** The folder name of a profile/seed: `default-<profile>` (seed 0) or `default-<profile>-s<seed>`. */
export function defaultDatasetName(profile: DatasetProfile, seed = 0): string {
  return seed === 0 ? `default-${profile}` : `default-${profile}-s${seed}`;
}

/**
 * The embedded default dataset, generated into `data/generated/<name>/` when missing or
 * when its config hash (profile, seed, generator version) changed; otherwise just loaded.
 * The profile defaults to `$TEDLOC_PROFILE`, then `quick`.
 *
 * @example
 * ```ts
 * const ds = await ensureDefaultDataset({ profile: "ci" });
 * console.log(ds.classNames.length, ds.splits.train.imageIds.length); // 8 128
 * ```
 */
export async function ensureDefaultDataset(
  opts: EnsureDefaultDatasetOptions = {},
): Promise<WsolDataset> {
  const profile = checkProfile(
    opts.profile ?? (Deno.env.get("TEDLOC_PROFILE") as DatasetProfile | undefined) ?? "quick",
  );
  const seed = opts.seed ?? 0;
  const name = defaultDatasetName(profile, seed);
  const out = join(opts.dir ?? projectPath("data", "generated"), name);
  const hash = await syntheticConfigHash(profile, seed);
  try {
    const d = JSON.parse(await Deno.readTextFile(join(out, "dataset.json")));
    if (d?.generator?.hash === hash) return await loadDataset(out);
  } catch {
    // missing or unreadable: generate
  }
  return await generateDefaultDataset(out, {
    profile,
    seed,
    name,
    workers: opts.workers,
    progress: opts.progress,
  });
}

/**
 * Write a small sample of a dataset for docs: `count` test images from different families
 * (their PNGs and masks), `overview.jpg` (each image with its GT box in green beside its
 * mask) and `sample.json` (ids, class names, boxes).
 *
 * @example
 * ```ts
 * await writeDatasetSample(await ensureDefaultDataset(), "data/sample", 4);
 * ```
 */
export async function writeDatasetSample(
  dataset: WsolDataset,
  out: string,
  count = 4,
): Promise<void> {
  const test = dataset.splits.test;
  const masks = dataset.maskSplits?.test;
  if (!test || !masks || !dataset.maskRoot) throw new Error("writeDatasetSample: no test masks");
  // one image per label, labels spread over the families (every perFamily-th class)
  const labels = dataset.classNames.map((_, k) => k);
  const step = Math.max(1, Math.floor(labels.length / count));
  const chosen = labels.filter((k) => k % step === 0).slice(0, count).map((k) =>
    test.imageIds.find((id) => test.classLabels.get(id) === k)!
  );
  const tile = 220;
  const tiles: OverlayOptions[] = [];
  const entries = [];
  await Deno.mkdir(out, { recursive: true });
  for (const [i, id] of chosen.entries()) {
    const name = `sample${i}`;
    await Deno.copyFile(join(dataset.imageRoot, id), join(out, `${name}.png`));
    await Deno.copyFile(
      join(dataset.maskRoot, masks.masks.get(id)![0]),
      join(out, `${name}_mask.png`),
    );
    const { data, info } = await sharp(join(dataset.imageRoot, id)).removeAlpha().raw()
      .toBuffer({ resolveWithObject: true });
    const [x0, y0, x1, y1] = test.boxes.get(id)![0];
    const px = (x: number, y: number) => data.set([0, 255, 0], (y * info.width + x) * 3);
    for (let x = x0; x <= x1; x++) px(x, y0), px(x, y1);
    for (let y = y0; y <= y1; y++) px(x0, y), px(x1, y);
    const fit = { width: tile, height: tile, fit: "contain" as const, background: "#ffffff" };
    tiles.push({
      input: await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .resize(fit).png().toBuffer(),
      left: (2 * i) * tile,
      top: 0,
    });
    tiles.push({
      input: await sharp(join(dataset.maskRoot, masks.masks.get(id)![0])).resize(fit).png()
        .toBuffer(),
      left: (2 * i + 1) * tile,
      top: 0,
    });
    entries.push({
      file: `${name}.png`,
      mask: `${name}_mask.png`,
      id,
      label: test.classLabels.get(id),
      className: dataset.classNames[test.classLabels.get(id)!],
      size: test.imageSizes.get(id),
      box: test.boxes.get(id)![0],
    });
  }
  await sharp({
    create: { width: 2 * chosen.length * tile, height: tile, channels: 3, background: "#ffffff" },
  }).composite(tiles).jpeg({ quality: 85 }).toFile(join(out, "overview.jpg"));
  await writeTextAtomic(
    join(out, "sample.json"),
    JSON.stringify(
      { dataset: dataset.name, generator: dataset.info?.generator, images: entries },
      null,
      2,
    ) +
      "\n",
  );
}
