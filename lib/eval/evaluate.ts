/**
 * Evaluation of a localization head on cached tokens (and of fixed maps and cue maps) with
 * wsolevaluation's box metrics: score maps (optionally saved, wsolevaluation layout), class
 * scores, optional test-time flip and multi-scale maps.
 *
 * @module
 */
import { join } from "node:path";
import { writeNpy } from "../io/npy.ts";
import { InputError } from "../io/errors.ts";
import { writeDirAtomic } from "../io/atomic.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import { classLabelsOf, type WsolMetadata } from "../data/metadata.ts";
import type { FeatureSet } from "../model/encoder.ts";
import type { LocalizationHead } from "../model/baselines.ts";
import { alignCueSet, featureRows, plainViewIndex } from "../cues/sources.ts";
import { readFeatureTokens } from "../model/token_source.ts";
import type { CueSet } from "../cues/cues.ts";
import { flipMapHorizontal } from "../cues/sampler.ts";
import { PIPELINE_IMAGE_SIZE } from "../data/image.ts";
import type { MapGeometry } from "./localize.ts";
import { BoxEvaluator, type BoxMetrics, normalizeScoremap } from "../metrics/mod.ts";
import { gridMapToScoremap, type LocalizeOptions, localizeTokens } from "./localize.ts";

/** Options of {@link evaluateHead}. */
export interface EvaluateOptions {
  /** Evaluate these ids (default: every image of the metadata). */
  ids?: string[];
  /** Write each score map to `<dir>/<imageId>.npy` (wsolevaluation layout; folder replaced atomically). */
  scoremapDir?: string;
  /** Threshold grid step (default 0.01). */
  camCurveInterval?: number;
  batchSize?: number;
  progress?: ProgressOptions | false;
  /**
   * Which class's map class-specific heads are scored on: `gt` (default; wsolevaluation's
   * protocol, so MaxBoxAcc is GT-known) or `predicted`.
   */
  mapClass?: "gt" | "predicted";
  /**
   * Test-time flip: also run the head on the features' `flip` view, mirror that map back in
   * the 224×224 frame (exact for any cell geometry) and average maps and class scores.
   */
  flipTta?: boolean;
  /**
   * Multi-scale maps: tokens of the same images with the encoder run at other input sides.
   * Each scale's map (and its flip view's, with `flipTta`) is upsampled into the 224 frame at
   * its own cell centres; the normalised maps are averaged. Class scores stay the native ones.
   */
  extraScales?: ScaleFeatures[];
}

/** Tokens of the images with the encoder run at input side `inputSize` (px). */
export interface ScaleFeatures {
  features: FeatureSet;
  inputSize: number;
}

/**
 * Where `features`' cells sit in the `frame`-sized evaluation frame when the encoder ran on
 * the image resized to `inputSize`: the same image area, so stride and centre positions (in
 * continuous pixel coordinates, pixel k spanning [k, k+1)) scale by frame / inputSize.
 *
 * @example
 * ```ts
 * frameGeometry({ grid: [28, 28], stride: 16, cellOffset: 15.5 }, 448); // stride 8, offset 7.75
 * ```
 */
export function frameGeometry(
  features: { grid: [number, number]; stride: number; cellOffset: number },
  inputSize: number,
  frame = PIPELINE_IMAGE_SIZE,
): MapGeometry {
  const r = frame / inputSize;
  return {
    grid: features.grid,
    stride: features.stride * r,
    cellOffset: features.cellOffset * r,
    size: frame,
  };
}

/**
 * The normalised mean of normalised maps (in the order given): how flip and multi-scale maps
 * are fused, here and at inference (lib/eval/multiscale.ts).
 */
export function fuseMaps(maps: Float32Array[]): Float32Array {
  const out = new Float32Array(maps[0].length);
  for (const m of maps) for (let p = 0; p < out.length; p++) out[p] += m[p];
  for (let p = 0; p < out.length; p++) out[p] /= maps.length;
  return normalizeScoremap(out);
}

/** Extra-scale tokens ready for batches: rows of the evaluated ids, geometry in the frame. */
export interface PreparedScales {
  scales: {
    features: FeatureSet;
    rows: number[];
    geometry: MapGeometry;
    /** Index of the plain view, and of the flip view (−1: not read). */
    view: number;
    flipView: number;
  }[];
}

/**
 * Look up the rows of `ids` in each extra scale's tokens once (and, with `flip`, check that each
 * has a `flip` view), for {@link extraScaleMaps} to read batch by batch.
 */
export function prepareScales(
  extra: readonly ScaleFeatures[],
  ids: string[],
  flip = false,
): PreparedScales {
  return {
    scales: extra.map((e) => {
      const flipView = flip ? e.features.views.indexOf("flip") : -1;
      if (flip && flipView < 0) {
        throw new InputError(`flip TTA needs the 'flip' view of the ${e.inputSize}px tokens too`);
      }
      const geometry = frameGeometry(e.features, e.inputSize);
      const rows = featureRows(e.features, ids), view = plainViewIndex(e.features);
      return { features: e.features, rows, geometry, view, flipView };
    }),
  };
}

/**
 * Each image's maps at the extra scales for the evaluated ids `start`…`end − 1`, in the 224
 * frame: per scale its plain view's map, then its flip view's mirrored back (when prepared
 * with `flip`). What {@link evaluateHead} and lib/report/cases.ts fuse with the native map.
 */
export async function extraScaleMaps(
  head: LocalizationHead,
  prepared: PreparedScales,
  start: number,
  end: number,
  lo: LocalizeOptions,
): Promise<Float32Array[][]> {
  const out = Array.from({ length: end - start }, () => [] as Float32Array[]);
  for (const sc of prepared.scales) {
    const rows = sc.rows.slice(start, end);
    for (const v of sc.flipView >= 0 ? [sc.view, sc.flipView] : [sc.view]) {
      const t = await readFeatureTokens(sc.features, v, rows);
      const rs = await localizeTokens(head, t, rows.length, sc.geometry, lo);
      rs.forEach((r, i) => out[i].push(v === sc.view ? r.map : flipMapHorizontal(r.map, 224, 224)));
    }
  }
  return out;
}

/** Metrics plus timing of one evaluation. */
export interface EvaluationResult {
  metrics: BoxMetrics;
  /** Images evaluated. */
  count: number;
  /** Head forward time per image (ms), tokens given. */
  headMsPerImage: number;
}

/**
 * Evaluate a head on cached tokens against box metadata: score maps (optionally saved) and
 * class scores go through the box evaluator.
 *
 * @example
 * ```ts
 * const { metrics } = await evaluateHead(tedLocHead(model), testFeatures, dataset.splits.test);
 * console.log(metrics.maxBoxAccV2, metrics.top1Loc);
 * ```
 */
export async function evaluateHead(
  head: LocalizationHead,
  features: FeatureSet,
  metadata: WsolMetadata,
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const ids = opts.ids ?? metadata.imageIds;
  const rows = featureRows(features, ids);
  const view = plainViewIndex(features);
  const flipView = opts.flipTta ? features.views.indexOf("flip") : -1;
  if (opts.flipTta && flipView < 0) {
    throw new InputError(
      `flip TTA needs the features' 'flip' view (they have: ${features.views.join(", ")})`,
    );
  }
  const scales = prepareScales(opts.extraScales ?? [], ids, opts.flipTta);
  const ev = new BoxEvaluator({ metadata, camCurveInterval: opts.camCurveInterval });
  const bs = opts.batchSize ?? 32;
  const bar = opts.progress === false
    ? null
    : new Progress(`eval ${head.name}`, ids.length, { unit: "img", ...(opts.progress ?? {}) });
  let headMs = 0;
  const run = async (dir: string | null) => {
    for (let s = 0; s < ids.length; s += bs) {
      const part = rows.slice(s, s + bs);
      const tokens = await readFeatureTokens(features, view, part);
      const classes = opts.mapClass === "predicted"
        ? undefined
        : classLabelsOf(metadata, ids.slice(s, s + bs));
      const t0 = performance.now();
      const lo = { batchSize: bs, topk: 1, classes };
      const res = await localizeTokens(head, tokens, part.length, features, lo);
      const maps = res.map((r) => [r.map]);
      if (flipView >= 0) {
        const f = await readFeatureTokens(features, flipView, part);
        const resF = await localizeTokens(head, f, part.length, features, lo);
        res.forEach((r, i) => {
          maps[i].push(flipMapHorizontal(resF[i].map, 224, 224));
          r.scores = r.scores.map((v, k) => (v + resF[i].scores[k]) / 2);
        });
      }
      (await extraScaleMaps(head, scales, s, s + part.length, lo)).forEach((m, i) =>
        maps[i].push(...m)
      );
      res.forEach((r, i) => {
        if (maps[i].length > 1) r.map = fuseMaps(maps[i]);
      });
      headMs += performance.now() - t0;
      for (let i = 0; i < part.length; i++) {
        const id = ids[s + i];
        ev.accumulate(res[i].map, id, res[i].scores);
        if (dir) await writeNpy(join(dir, `${id}.npy`), res[i].map, [224, 224]);
      }
      bar?.tick(part.length);
    }
  };
  if (opts.scoremapDir) await writeDirAtomic(opts.scoremapDir, (tmp) => run(tmp));
  else await run(null);
  bar?.done();
  return {
    metrics: ev.compute(),
    count: ids.length,
    headMsPerImage: headMs / Math.max(1, ids.length),
  };
}

/**
 * Evaluate one fixed map for every image (e.g. lib/metrics' `centerGaussianMap()`, the
 * method.md prior); no class scores, so no classification or Top-k Loc.
 */
export function evaluateFixedMap(
  map: Float32Array,
  metadata: WsolMetadata,
  opts: { ids?: string[]; camCurveInterval?: number } = {},
): BoxMetrics {
  const ev = new BoxEvaluator({ metadata, camCurveInterval: opts.camCurveInterval });
  for (const id of opts.ids ?? metadata.imageIds) ev.accumulate(map, id);
  return ev.compute();
}

/**
 * Box metrics of cue maps themselves (how good a pseudo-label source is), on images with GT
 * boxes: each grid map is upsampled at the tokens' true cell centres and normalised.
 *
 * @example
 * ```ts
 * const q = evaluateCueSet(cues, dataset.splits.train, features, { ids: heldOutIds });
 * ```
 */
export function evaluateCueSet(
  cues: CueSet,
  metadata: WsolMetadata,
  geometry: { stride: number; cellOffset: number },
  opts: { ids?: string[]; camCurveInterval?: number } = {},
): BoxMetrics {
  const ids = opts.ids ?? cues.ids;
  const a = alignCueSet(cues, ids);
  const [gh, gw] = cues.grid, N = gh * gw;
  const ev = new BoxEvaluator({ metadata, camCurveInterval: opts.camCurveInterval });
  ids.forEach((id, i) => {
    const g = { grid: cues.grid, stride: geometry.stride, cellOffset: geometry.cellOffset };
    ev.accumulate(gridMapToScoremap(a.maps.subarray(i * N, (i + 1) * N), g), id);
  });
  return ev.compute();
}
