/**
 * Synthetic frozen tokens with known boxes, for tests and for developing the head without
 * an encoder: each image has one rectangular object on the token grid. Object patches
 * carry a generic "object" direction plus a weak class direction; a small discriminative
 * part of the object carries the class direction strongly (so a classifier's CAM peaks on
 * the part, as real CAMs do); background patches carry random mixtures of clutter
 * directions. Raw anchors are deliberately correlated — a component shared by all and a
 * stronger one shared within small groups of classes (near-duplicate "species") — the
 * situation orthogonalization is for.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { type Box, emptyMetadata, type WsolMetadata } from "../data/metadata.ts";
import type { FeatureSet } from "../model/encoder.ts";
import type { Anchors } from "../text/anchors.ts";
import type { CueSet } from "../cues/cues.ts";
import { normalizeCueMap } from "../cues/sources.ts";

/** Options of {@link makeSyntheticTokens}. */
export interface SyntheticTokenOptions {
  numClasses: number;
  imagesPerClass: number;
  /** Grid `[gh, gw]`; the 224 frame is split evenly (stride 224/gw, offset stride/2). */
  grid: [number, number];
  dim: number;
  /** Dimension of the raw anchors. */
  anchorDim: number;
  seed: number;
  /** Std of the per-patch Gaussian noise. */
  noise: number;
  /** Weight of the direction shared by all raw anchors. */
  anchorShared: number;
  /** Weight of the direction shared within a group of `anchorGroupSize` classes (near-duplicates). */
  anchorGroup: number;
  /** Classes per anchor group. */
  anchorGroupSize: number;
  /** Noise std of the objectness cue map. */
  cueNoise: number;
  /** Id prefix (e.g. "train" / "test"). */
  prefix: string;
}

/** What {@link makeSyntheticTokens} returns. */
export interface SyntheticTokens {
  features: FeatureSet;
  labels: Int32Array;
  anchors: Anchors;
  /** wsolevaluation-style metadata (224×224 images, boxes in the 224 frame). */
  metadata: WsolMetadata;
  /** A noisy objectness cue (dot product with the object direction), like an attention map. */
  objectnessCues: CueSet;
  /** Ground-truth object masks on the grid `[n][N]`. */
  objectMasks: Float32Array;
}

/** Token-space directions shared by all splits made with the same `seed`. */
function directions(o: SyntheticTokenOptions) {
  const rng = new Rng(o.seed * 7 + 1);
  const unit = (n: number) => {
    const v = Array.from({ length: n }, () => rng.normal());
    const s = Math.hypot(...v);
    return v.map((x) => x / s);
  };
  const object = unit(o.dim);
  const classes = Array.from({ length: o.numClasses }, () => unit(o.dim));
  const clutter = Array.from({ length: 6 }, () => unit(o.dim));
  const shared = unit(o.anchorDim);
  const groups = Array.from(
    { length: Math.ceil(o.numClasses / o.anchorGroupSize) },
    () => unit(o.anchorDim),
  );
  const anchors = Array.from({ length: o.numClasses }, (_, k) => {
    const r = unit(o.anchorDim), g = groups[Math.floor(k / o.anchorGroupSize)];
    return r.map((x, i) => x + o.anchorShared * shared[i] + o.anchorGroup * g[i]);
  });
  return { object, classes, clutter, anchors };
}

/**
 * Make a synthetic token set (views "test" and "flip") with labels, boxes, correlated raw
 * anchors and a noisy objectness cue. The same `seed` gives the same class directions and
 * anchors whatever the `prefix`, so train and test splits share them (use a different
 * `prefix` and image seed offset through `prefix`).
 *
 * @example
 * ```ts
 * const train = makeSyntheticTokens({ prefix: "train" });
 * const test = makeSyntheticTokens({ prefix: "test" });
 * ```
 */
export function makeSyntheticTokens(opts: Partial<SyntheticTokenOptions> = {}): SyntheticTokens {
  const o: SyntheticTokenOptions = {
    numClasses: 4,
    imagesPerClass: 8,
    grid: [7, 7],
    dim: 16,
    anchorDim: 12,
    seed: 0,
    noise: 0.5,
    anchorShared: 1,
    anchorGroup: 2,
    anchorGroupSize: 3,
    cueNoise: 0.3,
    prefix: "img",
    ...opts,
  };
  const dir = directions(o);
  let h = 0;
  for (const ch of o.prefix) h = (h * 31 + ch.charCodeAt(0)) | 0;
  const rng = new Rng(o.seed * 1000003 + h);
  const [gh, gw] = o.grid, N = gh * gw, d = o.dim;
  const stride = 224 / gw, n = o.numClasses * o.imagesPerClass;
  const ids: string[] = [], labels = new Int32Array(n);
  const tokens = new Float32Array(2 * n * N * d);
  const cueMaps = new Float32Array(n * N), masks = new Float32Array(n * N);
  const meta = emptyMetadata();
  for (let i = 0; i < n; i++) {
    const y = i % o.numClasses;
    const id = `${o.prefix}/${String(i).padStart(4, "0")}.png`;
    ids.push(id);
    labels[i] = y;
    // object box in cells, 30–80 % of each side
    const bw = Math.max(2, Math.round(gw * rng.uniform(0.3, 0.8))),
      bh = Math.max(2, Math.round(gh * rng.uniform(0.3, 0.8)));
    const x0 = rng.int(gw - bw + 1), y0 = rng.int(gh - bh + 1);
    // discriminative part: a 1–2 cell square inside the object
    const pw = Math.min(bw, 1 + rng.int(2)), ph = Math.min(bh, 1 + rng.int(2));
    const px = x0 + rng.int(bw - pw + 1), py = y0 + rng.int(bh - ph + 1);
    const mix = dir.clutter.map(() => rng.uniform(0, 1));
    for (let yy = 0; yy < gh; yy++) {
      for (let xx = 0; xx < gw; xx++) {
        const p = yy * gw + xx;
        const inObj = xx >= x0 && xx < x0 + bw && yy >= y0 && yy < y0 + bh;
        const inPart = xx >= px && xx < px + pw && yy >= py && yy < py + ph;
        const v = new Float32Array(d);
        for (let j = 0; j < d; j++) v[j] = o.noise * rng.normal();
        if (inObj) {
          const a = inPart ? 2.0 : 0.6;
          for (let j = 0; j < d; j++) v[j] += 1.5 * dir.object[j] + a * dir.classes[y][j];
        } else {
          for (let c = 0; c < dir.clutter.length; c++) {
            const w = mix[c] * rng.uniform(0.5, 1.5);
            for (let j = 0; j < d; j++) v[j] += w * dir.clutter[c][j];
          }
        }
        tokens.set(v, (i * N + p) * d);
        tokens.set(v, ((n + i) * N + (yy * gw + (gw - 1 - xx))) * d); // flip view
        masks[i * N + p] = inObj ? 1 : 0;
        let dot = 0;
        for (let j = 0; j < d; j++) dot += v[j] * dir.object[j];
        cueMaps[i * N + p] = dot + o.cueNoise * rng.normal();
      }
    }
    normalizeCueMap(cueMaps.subarray(i * N, (i + 1) * N));
    const box: Box = [
      x0 * stride,
      y0 * (224 / gh),
      (x0 + bw) * stride - 1,
      (y0 + bh) * (224 / gh) - 1,
    ];
    meta.imageIds.push(id);
    meta.classLabels.set(id, y);
    meta.imageSizes.set(id, [224, 224]);
    meta.boxes.set(id, [box]);
  }
  const anchorVecs = new Float32Array(o.numClasses * o.anchorDim);
  dir.anchors.forEach((a, k) => {
    const s = Math.hypot(...a);
    a.forEach((x, j) => (anchorVecs[k * o.anchorDim + j] = x / s));
  });
  return {
    features: {
      encoderId: `synthetic@${o.seed}`,
      ids,
      grid: [gh, gw],
      dim: d,
      stride,
      cellOffset: stride / 2,
      views: ["test", "flip"],
      tokens,
    },
    labels,
    anchors: {
      classNames: Array.from({ length: o.numClasses }, (_, k) => `class_${k}`),
      vectors: anchorVecs,
      count: o.numClasses,
      dim: o.anchorDim,
      template: "",
      source: `synthetic@${o.seed}`,
    },
    metadata: meta,
    objectnessCues: {
      source: "synthetic-objectness",
      ids: [...ids],
      grid: [gh, gw],
      maps: cueMaps,
    },
    objectMasks: masks,
  };
}
