/**
 * The synthetic birds' classes and the anchors standing in for CLIP: profiles (sizes), the
 * attributes that carry the class (head colour, crest, wing pattern), class design in families
 * of near-duplicates, and the attribute anchors (see lib/data/synthetic.ts for the whole).
 *
 * @module
 */
import { Rng } from "../util/rng.ts";

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

/** A head colour (one of {@link BIRD_ATTRIBUTES}.head). */
export type HeadColour = (typeof BIRD_ATTRIBUTES.head)[number];
/** A crest shape (one of {@link BIRD_ATTRIBUTES}.crest). */
export type Crest = (typeof BIRD_ATTRIBUTES.crest)[number];
/** A wing pattern (one of {@link BIRD_ATTRIBUTES}.wing). */
export type WingPattern = (typeof BIRD_ATTRIBUTES.wing)[number];

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
export function hashInts(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}
