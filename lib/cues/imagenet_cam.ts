/**
 * Class-agnostic localization cues from an ImageNet classifier: the class activation map of
 * its top-k ImageNet classes, weighted by their probabilities, moved onto the token grid of
 * the TeD-Loc encoder with the true cell geometry and min-max normalised. For CUB the
 * classifier knows "bird", not the species: the cue says where the object is, as the paper's
 * CLIP-ES cues do.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { TfjsCnnClassifier } from "../model/mobilenet.ts";

/** Where the cells of a square grid sit on the input (cell i centred at i·stride + cellOffset). */
export interface GridGeometry {
  /** `[gh, gw]`. */
  grid: [number, number];
  /** Input pixels per cell. */
  stride: number;
  /** Centre of cell 0 in input pixels. */
  cellOffset: number;
}

/**
 * Resample a map from one cell grid to another by bilinear interpolation at the target cells'
 * true centres (in input pixels), clamping at the borders. Both grids must live on the same
 * input frame.
 *
 * @example
 * ```ts
 * // MobileNet 7×7 (stride 32, centres 32i+31.5) → 14×14 (stride 16, centres 16i+15.5)
 * const m14 = resampleGridMap(m7, { grid: [7, 7], stride: 32, cellOffset: 31.5 },
 *   { grid: [14, 14], stride: 16, cellOffset: 15.5 });
 * ```
 */
export function resampleGridMap(
  map: ArrayLike<number>,
  from: GridGeometry,
  to: GridGeometry,
): Float32Array {
  const [fh, fw] = from.grid;
  const [th, tw] = to.grid;
  if (map.length !== fh * fw) {
    throw new Error(`resampleGridMap: map has ${map.length} values, grid ${fh}×${fw}`);
  }
  const coord = (j: number, n: number) => {
    const u = (j * to.stride + to.cellOffset - from.cellOffset) / from.stride;
    return Math.min(Math.max(u, 0), n - 1);
  };
  const out = new Float32Array(th * tw);
  for (let y = 0; y < th; y++) {
    const v = coord(y, fh);
    const y0 = Math.floor(v), y1 = Math.min(y0 + 1, fh - 1), wy = v - y0;
    for (let x = 0; x < tw; x++) {
      const u = coord(x, fw);
      const x0 = Math.floor(u), x1 = Math.min(x0 + 1, fw - 1), wx = u - x0;
      const top = map[y0 * fw + x0] * (1 - wx) + map[y0 * fw + x1] * wx;
      const bottom = map[y1 * fw + x0] * (1 - wx) + map[y1 * fw + x1] * wx;
      out[y * tw + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** Min-max normalise in place to [0, 1]; a constant or non-finite map becomes zeros. */
function minMaxInPlace(m: Float32Array): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (const v of m) {
    if (!Number.isFinite(v)) {
      m.fill(0);
      return m;
    }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return m.fill(0);
  const s = 1 / (hi - lo);
  for (let i = 0; i < m.length; i++) m[i] = (m[i] - lo) * s;
  return m;
}

/** Options of {@link imagenetCamCues}. */
export interface ImagenetCamOptions {
  /** How many top classes to mix (default 5). */
  topK?: number;
  /** Grid to resample to (default: the classifier's own feature grid). */
  target?: GridGeometry;
}

/** Cue maps of a batch with the classes they came from. */
export interface CamCueBatch {
  /** `[B, gh*gw]`, each map in [0, 1]. */
  maps: Float32Array;
  /** Grid of the maps. */
  grid: [number, number];
  /** `[B][k]` top ImageNet classes. */
  topClasses: number[][];
  /** `[B][k]` their probabilities. */
  topProbs: number[][];
}

/**
 * Cues for a batch of raw 0..255 images: Σ_k p_k · CAM_k over the top-k classes, on the
 * classifier's feature grid, resampled to `target` with true cell centres, min-max
 * normalised per image.
 *
 * @example
 * ```ts
 * const clf = await TfjsCnnClassifier.load(dir);
 * const cues = await imagenetCamCues(clf, images, { topK: 5, target: encoder });  // 14×14 cues
 * ```
 */
export async function imagenetCamCues(
  classifier: TfjsCnnClassifier,
  images: tf.Tensor4D,
  opts: ImagenetCamOptions = {},
): Promise<CamCueBatch> {
  const topK = opts.topK ?? 5;
  const cam = await classifier.cam(images, topK);
  const g = cam.geometry;
  const from: GridGeometry = { grid: g.size, stride: g.stride[0], cellOffset: g.offset[0] };
  const to = opts.target
    ? { grid: opts.target.grid, stride: opts.target.stride, cellOffset: opts.target.cellOffset }
    : from;
  const B = images.shape[0];
  const fn = from.grid[0] * from.grid[1];
  const tn = to.grid[0] * to.grid[1];
  const maps = new Float32Array(B * tn);
  for (let b = 0; b < B; b++) {
    const m = resampleGridMap(cam.maps.subarray(b * fn, (b + 1) * fn), from, to);
    maps.set(minMaxInPlace(m), b * tn);
  }
  return {
    maps,
    grid: [to.grid[0], to.grid[1]],
    topClasses: cam.topClasses,
    topProbs: cam.topProbs,
  };
}
