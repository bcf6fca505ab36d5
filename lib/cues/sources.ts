/**
 * Cue sources behind one interface ({@link CueSource} → {@link CueSet}), and their
 * combination. Every map a source returns is min–max normalised to [0, 1] per image.
 *
 * - {@link camCueSource}: CAM of a classifier trained on the same frozen tokens, for the
 *   image's TRUE class (training images carry their label).
 * - {@link attentionCueSource}: last-layer CLS→patch attention of a ViT encoder.
 * - {@link fileCueSource}: one `.npy` map per image, `<dir>/<imageId>.npy`, any grid
 *   (resampled to the token grid: area average when shrinking, bilinear when enlarging).
 * - {@link combineCueSets} / {@link combinedCueSource}: product, mean, geometric mean or
 *   minimum of normalised maps (complementary cues agree on the object, disagree on
 *   clutter).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { readFloat32, readTensors } from "../backend/read.ts";
import { readNpy } from "../io/npy.ts";
import type { FeatureSet, PatchEncoder } from "../model/encoder.ts";
import { readFeatureTokens, readFeatureTokensSync } from "../model/token_source.ts";
import type { CamHead, LocalizationHead } from "../model/baselines.ts";
import type { CueSet } from "./cues.ts";

/** What a source is asked for. */
export interface CueRequest {
  /** Image ids, in the order the maps must come back. */
  ids: string[];
  /** Target grid `[gh, gw]` (the token grid). */
  grid: [number, number];
  /** Class label of each id (needed by class-specific sources such as CAM). */
  labels?: ArrayLike<number>;
  /** Cached tokens (needed by sources that read them, such as CAM). */
  features?: FeatureSet;
}

/** A pluggable producer of cue maps. */
export interface CueSource {
  /** Name recorded in the CueSet (`cam`, `attention:<encoder>`, `files:<dir>`, …). */
  readonly name: string;
  produce(request: CueRequest): Promise<CueSet>;
}

/** Min–max normalise `map` into [0, 1] in place; constant or non-finite maps become zeros. */
export function normalizeCueMap(map: Float32Array): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (const v of map) {
    if (!Number.isFinite(v)) return map.fill(0);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return map.fill(0);
  const s = 1 / (hi - lo);
  for (let i = 0; i < map.length; i++) map[i] = (map[i] - lo) * s;
  return map;
}

/** 1-D resampling weights `[dst][src]`: area average when shrinking, bilinear (half-pixel centres) otherwise. */
function axisWeights(src: number, dst: number): Float64Array {
  const w = new Float64Array(dst * src);
  if (dst < src) {
    const scale = src / dst;
    for (let j = 0; j < dst; j++) {
      const a = j * scale, b = (j + 1) * scale;
      for (let i = Math.floor(a); i < Math.min(src, Math.ceil(b)); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 0) w[j * src + i] = overlap / scale;
      }
    }
  } else {
    for (let j = 0; j < dst; j++) {
      const x = Math.min(Math.max((j + 0.5) * (src / dst) - 0.5, 0), src - 1);
      const i0 = Math.floor(x), i1 = Math.min(i0 + 1, src - 1), f = x - i0;
      w[j * src + i0] += 1 - f;
      w[j * src + i1] += f;
    }
  }
  return w;
}

/**
 * Resample a row-major `sh×sw` map to `dh×dw` (separable; area when shrinking an axis,
 * bilinear when enlarging it; identity when sizes agree).
 *
 * @example
 * ```ts
 * const m14 = resampleCueMap(m224, 224, 224, 14, 14); // 16×16 block means
 * ```
 */
export function resampleCueMap(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
): Float32Array {
  const wy = axisWeights(sh, dh), wx = axisWeights(sw, dw);
  const tmp = new Float64Array(sh * dw);
  for (let y = 0; y < sh; y++) {
    for (let j = 0; j < dw; j++) {
      let s = 0;
      for (let i = 0; i < sw; i++) {
        const w = wx[j * sw + i];
        if (w !== 0) s += w * src[y * sw + i];
      }
      tmp[y * dw + j] = s;
    }
  }
  const out = new Float32Array(dh * dw);
  for (let j = 0; j < dh; j++) {
    for (let y = 0; y < sh; y++) {
      const w = wy[j * sh + y];
      if (w === 0) continue;
      for (let x = 0; x < dw; x++) out[j * dw + x] += w * tmp[y * dw + x];
    }
  }
  return out;
}

/** Index of the view to read cues from: "test" when present (unaugmented), else the first. */
export function plainViewIndex(features: FeatureSet): number {
  const i = features.views.indexOf("test");
  return i >= 0 ? i : 0;
}

/** Rows of `features` for `ids` (error naming the first id it lacks). */
export function featureRows(features: FeatureSet, ids: string[]): number[] {
  const at = new Map(features.ids.map((id, i) => [id, i]));
  return ids.map((id) => {
    const r = at.get(id);
    if (r === undefined) {
      throw new InputError(`image '${id}' is not in the feature set (${features.encoderId})`);
    }
    return r;
  });
}

/** Tokens `[ids.length, N, dim]` of one view, read from a FeatureSet (memory or cache files). */
export function gatherTokens(features: FeatureSet, view: number, rows: number[]): Float32Array {
  return readFeatureTokensSync(features, view, rows);
}

/**
 * CAM cues: the trained CAM head's map for each image's TRUE class, on the features' plain
 * view. Needs `features` and `labels` in the request, and the request grid = token grid.
 *
 * @example
 * ```ts
 * const cues = await camCueSource(cam).produce({ ids, grid, labels, features });
 * ```
 */
export function camCueSource(cam: CamHead, opts: { batchSize?: number } = {}): CueSource {
  const batchSize = opts.batchSize ?? 64;
  return {
    name: "cam",
    async produce(req) {
      const f = req.features, labels = req.labels;
      if (!f || !labels) throw new Error("camCueSource needs features and labels in the request");
      if (f.grid[0] !== req.grid[0] || f.grid[1] !== req.grid[1]) {
        throw new Error(`camCueSource: features grid ${f.grid} differs from requested ${req.grid}`);
      }
      const N = f.grid[0] * f.grid[1];
      const rows = featureRows(f, req.ids);
      const view = plainViewIndex(f);
      const maps = new Float32Array(req.ids.length * N);
      for (let s = 0; s < rows.length; s += batchSize) {
        const part = rows.slice(s, s + batchSize);
        const cls = Array.from({ length: part.length }, (_, i) => labels[s + i]);
        const tokens = await readFeatureTokens(f, view, part); // per batch (cache or encoder)
        const m = tf.tidy(() => cam.classMaps(tf.tensor3d(tokens, [part.length, N, f.dim]), cls));
        maps.set(await readFloat32(m, { dispose: true }), s * N);
      }
      for (let i = 0; i < req.ids.length; i++) normalizeCueMap(maps.subarray(i * N, (i + 1) * N));
      return { source: "cam", ids: [...req.ids], grid: [...req.grid], maps };
    },
  };
}

/**
 * CLS→patch attention cues of a ViT encoder. `loadImages` returns raw RGB `[B, S, S, 3]`
 * (0..255, test transform) for a list of ids (e.g. lib/data's `loadImageBatch`).
 */
export function attentionCueSource(
  encoder: PatchEncoder,
  loadImages: (ids: string[]) => Promise<tf.Tensor4D>,
  opts: { batchSize?: number } = {},
): CueSource {
  const batchSize = opts.batchSize ?? 16;
  const name = `attention:${encoder.id}`;
  return {
    name,
    async produce(req) {
      if (!encoder.clsAttention) {
        throw new Error(`encoder ${encoder.id} has no CLS attention (not a ViT?)`);
      }
      const [gh, gw] = encoder.grid, N = gh * gw, M = req.grid[0] * req.grid[1];
      const maps = new Float32Array(req.ids.length * M);
      for (let s = 0; s < req.ids.length; s += batchSize) {
        const ids = req.ids.slice(s, s + batchSize);
        const images = await loadImages(ids);
        const att = tf.tidy(() => encoder.clsAttention!(images));
        images.dispose();
        const data = await readFloat32(att, { dispose: true });
        for (let i = 0; i < ids.length; i++) {
          const m = data.subarray(i * N, (i + 1) * N);
          const r = gh === req.grid[0] && gw === req.grid[1]
            ? Float32Array.from(m)
            : resampleCueMap(m, gh, gw, req.grid[0], req.grid[1]);
          maps.set(normalizeCueMap(r), (s + i) * M);
        }
      }
      return { source: name, ids: [...req.ids], grid: [...req.grid], maps };
    },
  };
}

/**
 * Cue maps from files: `<dir>/<imageId>.npy`, a 2-D array (or `[1, H, W]`) of any size,
 * resampled to the requested grid and min–max normalised. A missing, unreadable, wrongly
 * shaped or non-finite file is an {@link InputError} naming it.
 *
 * @example
 * ```ts
 * const cues = await fileCueSource("runs/cues").produce({ ids, grid: [14, 14] });
 * ```
 */
export function fileCueSource(dir: string): CueSource {
  const name = `files:${dir}`;
  return {
    name,
    async produce(req) {
      const [gh, gw] = req.grid, M = gh * gw;
      const maps = new Float32Array(req.ids.length * M);
      for (let i = 0; i < req.ids.length; i++) {
        const path = join(dir, `${req.ids[i]}.npy`);
        let arr;
        try {
          arr = await readNpy(path);
        } catch (err) {
          if (err instanceof InputError) {
            throw new InputError(`cue map for '${req.ids[i]}': ${err.reason}`, { file: path });
          }
          throw err;
        }
        let shape = arr.shape;
        if (shape.length === 3 && shape[0] === 1) shape = shape.slice(1);
        if (shape.length !== 2 || shape[0] < 1 || shape[1] < 1) {
          throw new InputError(
            `cue map must be 2-D [H, W] (or [1, H, W]), got shape [${arr.shape}]`,
            { file: path },
          );
        }
        if (arr.data instanceof BigInt64Array) {
          throw new InputError(`cue map dtype ${arr.dtype} is not supported`, { file: path });
        }
        const src = arr.data as ArrayLike<number>;
        for (let k = 0; k < src.length; k++) {
          if (!Number.isFinite(src[k])) {
            throw new InputError(`cue map holds a non-finite value at index ${k}`, { file: path });
          }
        }
        const r = resampleCueMap(src, shape[0], shape[1], gh, gw);
        maps.set(normalizeCueMap(r), i * M);
      }
      return { source: name, ids: [...req.ids], grid: [gh, gw], maps };
    },
  };
}

/**
 * Cues from any trained {@link LocalizationHead}'s maps on the plain view (e.g. a first-round
 * TeD-Loc model, for a second round of training on its own, cleaner maps). Needs `features`.
 */
export function headCueSource(
  head: LocalizationHead,
  opts: { batchSize?: number } = {},
): CueSource {
  const batchSize = opts.batchSize ?? 64;
  return {
    name: `head:${head.name}`,
    async produce(req) {
      const f = req.features;
      if (!f) throw new Error("headCueSource needs features in the request");
      if (f.grid[0] !== req.grid[0] || f.grid[1] !== req.grid[1]) {
        throw new Error(
          `headCueSource: features grid ${f.grid} differs from requested ${req.grid}`,
        );
      }
      const N = f.grid[0] * f.grid[1];
      const rows = featureRows(f, req.ids);
      const view = plainViewIndex(f);
      const maps = new Float32Array(rows.length * N);
      for (let s = 0; s < rows.length; s += batchSize) {
        const part = rows.slice(s, s + batchSize);
        const tokens = await readFeatureTokens(f, view, part); // per batch (cache or encoder)
        const m = tf.tidy(() => head.predict(tf.tensor3d(tokens, [part.length, N, f.dim])).maps);
        maps.set(await readFloat32(m, { dispose: true }), s * N);
      }
      for (let i = 0; i < rows.length; i++) normalizeCueMap(maps.subarray(i * N, (i + 1) * N));
      return { source: `head:${head.name}`, ids: [...req.ids], grid: [...req.grid], maps };
    },
  };
}

/** Options of {@link pcaCueSource}. */
export interface PcaCueOptions {
  /** Images whose tokens estimate the principal direction (default 200, drawn with `seed`). */
  sampleImages?: number;
  seed?: number;
  /** Power-iteration steps (default 50). */
  iterations?: number;
}

/**
 * Co-localization cue (DDT, Wei et al., "Deep Descriptor Transforming", 2017): project each
 * token on the first principal direction of the training tokens (mean-centred). Across
 * images of one domain the dominant shared pattern is the object, so positive projections
 * mark it. The eigenvector's sign is arbitrary: it is chosen so the central half of the
 * grid scores higher than the border on average. Map = relu(projection) / max.
 * Class-agnostic; complements a classifier's CAM (which fires on discriminative parts).
 * Needs `features` in the request and the request grid = token grid.
 */
export function pcaCueSource(opts: PcaCueOptions = {}): CueSource {
  return {
    name: "pca",
    async produce(req) {
      const f = req.features;
      if (!f) throw new Error("pcaCueSource needs features in the request");
      const [gh, gw] = f.grid, N = gh * gw, d = f.dim;
      if (gh !== req.grid[0] || gw !== req.grid[1]) {
        throw new Error(`pcaCueSource: features grid ${f.grid} differs from requested ${req.grid}`);
      }
      const view = plainViewIndex(f);
      const all = Array.from({ length: f.ids.length }, (_, i) => i);
      let s = opts.seed ?? 0;
      const pick = all.length <= (opts.sampleImages ?? 200) ? all : all
        .map((i) => [(s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32, i])
        .sort((a, b) => a[0] - b[0]).slice(0, opts.sampleImages ?? 200).map((p) => p[1]);
      const sample = await readFeatureTokens(f, view, pick);
      const [mean, dir] = await readTensors(
        tf.tidy(() => {
          const X = tf.tensor2d(sample, [pick.length * N, d]);
          const mu = tf.mean(X, 0, true);
          const Xc = tf.sub(X, mu);
          let v = tf.div(tf.ones([d, 1]), Math.sqrt(d));
          for (let it = 0; it < (opts.iterations ?? 50); it++) {
            // (Xcᵀ Xc) v computed as ((Xc v)ᵀ Xc)ᵀ: no transposed copy of the token matrix
            const w = tf.reshape(tf.matMul(tf.reshape(tf.matMul(Xc, v), [1, -1]), Xc), [d, 1]);
            v = tf.div(w, tf.norm(w));
          }
          return [mu, v];
        }),
        { dispose: true },
      );
      const rows = featureRows(f, req.ids);
      const maps = new Float32Array(rows.length * N);
      const per = N * d, chunk = 256; // tokens read per chunk of images, never the whole split
      for (let c = 0; c < rows.length; c += chunk) {
        const t = await readFeatureTokens(f, view, rows.slice(c, c + chunk));
        for (let i = c; i < Math.min(rows.length, c + chunk); i++) {
          for (let p = 0; p < N; p++) {
            let dot = 0;
            const at = (i - c) * per + p * d;
            for (let j = 0; j < d; j++) dot += (t[at + j] - mean[j]) * dir[j];
            maps[i * N + p] = dot;
          }
        }
      }
      // sign: centre cells should score higher than border cells on average
      let centre = 0, border = 0;
      for (let y = 0; y < gh; y++) {
        for (let x = 0; x < gw; x++) {
          const inner = Math.abs(y - (gh - 1) / 2) < gh / 4 && Math.abs(x - (gw - 1) / 2) < gw / 4;
          let sum = 0;
          for (let i = 0; i < rows.length; i++) sum += maps[i * N + y * gw + x];
          if (inner) centre += sum;
          else border += sum;
        }
      }
      const nIn = Array.from({ length: N }, (_, p) => p).filter((p) => {
        const y = Math.floor(p / gw), x = p % gw;
        return Math.abs(y - (gh - 1) / 2) < gh / 4 && Math.abs(x - (gw - 1) / 2) < gw / 4;
      }).length;
      const sign = centre / Math.max(nIn, 1) >= border / Math.max(N - nIn, 1) ? 1 : -1;
      for (let i = 0; i < maps.length; i++) maps[i] = Math.max(0, sign * maps[i]);
      for (let i = 0; i < rows.length; i++) normalizeCueMap(maps.subarray(i * N, (i + 1) * N));
      return { source: "pca", ids: [...req.ids], grid: [gh, gw], maps };
    },
  };
}

/**
 * The image-independent centre prior as a cue: an isotropic Gaussian (std `sigma` px) centred
 * on the frame centre ((size−1)/2), evaluated at the token cells' true centres
 * (`i·stride + cellOffset`, from `features` or `geometry`), min–max normalised. Alone it is
 * method.md's sanity baseline; multiplied into other cues it suppresses the border clutter
 * that class activation maps pick up (objects in WSOL datasets are mostly central).
 */
export function centerPriorCueSource(
  opts: { sigma?: number; size?: number; geometry?: { stride: number; cellOffset: number } } = {},
): CueSource {
  const sigma = opts.sigma ?? 56, size = opts.size ?? 224;
  return {
    name: `prior:gauss${sigma}`,
    produce(req) {
      const g = opts.geometry ?? req.features;
      if (!g) {
        throw new Error("centerPriorCueSource needs features (or a geometry) for the cell centres");
      }
      const [gh, gw] = req.grid, N = gh * gw, c = (size - 1) / 2;
      const one = new Float32Array(N);
      for (let y = 0; y < gh; y++) {
        for (let x = 0; x < gw; x++) {
          const py = y * g.stride + g.cellOffset, px = x * g.stride + g.cellOffset;
          one[y * gw + x] = Math.exp(-((px - c) ** 2 + (py - c) ** 2) / (2 * sigma * sigma));
        }
      }
      normalizeCueMap(one);
      const maps = new Float32Array(req.ids.length * N);
      for (let i = 0; i < req.ids.length; i++) maps.set(one, i * N);
      return Promise.resolve({
        source: `prior:gauss${sigma}`,
        ids: [...req.ids],
        grid: [gh, gw],
        maps,
      });
    },
  };
}

/** A source that returns a fixed CueSet (reordered to the request; e.g. cues computed elsewhere). */
export function staticCueSource(cues: CueSet): CueSource {
  return {
    name: cues.source,
    produce(req) {
      return Promise.resolve(alignCueSet(cues, req.ids, req.grid));
    },
  };
}

/** The maps of `cues` for `ids` in that order, resampled to `grid` when it differs. */
export function alignCueSet(
  cues: CueSet,
  ids: string[],
  grid: [number, number] = cues.grid,
): CueSet {
  const [sh, sw] = cues.grid, S = sh * sw, M = grid[0] * grid[1];
  const at = new Map(cues.ids.map((id, i) => [id, i]));
  const maps = new Float32Array(ids.length * M);
  ids.forEach((id, i) => {
    const r = at.get(id);
    if (r === undefined) {
      throw new InputError(`cue set '${cues.source}' has no map for image '${id}'`);
    }
    const m = cues.maps.subarray(r * S, (r + 1) * S);
    maps.set(
      sh === grid[0] && sw === grid[1]
        ? m
        : normalizeCueMap(resampleCueMap(m, sh, sw, grid[0], grid[1])),
      i * M,
    );
  });
  return { source: cues.source, ids: [...ids], grid: [...grid], maps };
}

/** How {@link combineCueSets} merges maps. */
export type CueCombine = "product" | "mean" | "geomean" | "min";

/**
 * Combine normalised cue sets pixel-wise (aligned by id, on the first set's grid), then
 * re-normalise each map to [0, 1].
 *
 * @example
 * ```ts
 * const both = combineCueSets([camCues, attentionCues], "product");
 * ```
 */
export function combineCueSets(sets: CueSet[], mode: CueCombine = "product"): CueSet {
  if (sets.length === 0) throw new Error("combineCueSets: no cue sets");
  if (!["product", "mean", "geomean", "min"].includes(mode)) {
    throw new Error(`combineCueSets: unknown mode '${mode}'`);
  }
  const base = sets[0], grid = base.grid, M = grid[0] * grid[1];
  const aligned = sets.map((s) => alignCueSet(s, base.ids, grid));
  const maps = new Float32Array(base.ids.length * M);
  for (let p = 0; p < maps.length; p++) {
    let v = mode === "product" || mode === "geomean" ? 1 : mode === "min" ? Infinity : 0;
    for (const s of aligned) {
      const x = s.maps[p];
      if (mode === "product" || mode === "geomean") v *= x;
      else if (mode === "min") v = Math.min(v, x);
      else v += x;
    }
    if (mode === "mean") v /= aligned.length;
    if (mode === "geomean") v = Math.pow(v, 1 / aligned.length);
    maps[p] = v;
  }
  for (let i = 0; i < base.ids.length; i++) normalizeCueMap(maps.subarray(i * M, (i + 1) * M));
  return {
    source: `${mode}(${sets.map((s) => s.source).join(",")})`,
    ids: [...base.ids],
    grid: [...grid],
    maps,
  };
}

/** A source that asks several sources and combines their maps. */
export function combinedCueSource(sources: CueSource[], mode: CueCombine = "product"): CueSource {
  return {
    name: `${mode}(${sources.map((s) => s.name).join(",")})`,
    async produce(req) {
      const sets: CueSet[] = [];
      for (const s of sources) sets.push(await s.produce(req));
      return combineCueSets(sets, mode);
    },
  };
}
