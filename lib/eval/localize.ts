/**
 * Inference and evaluation of any {@link LocalizationHead} (TeD-Loc, CAM, vanilla) on
 * frozen tokens or on images through an encoder.
 *
 * Map post-processing follows wsolevaluation: the head's grid map is upsampled to the
 * 224×224 frame at the encoder's true cell centres (`stride`, `cellOffset`), then min–max
 * normalised (NaN/constant → zeros), with lib/metrics (OpenCV-exact bicubic). Boxes are the
 * contour boxes above `boxThreshold · max` (wsolevaluation's extraction), largest first. Saved score maps use the wsolevaluation layout
 * `<dir>/<imageId>.npy` (float32, 224×224).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readFloat32, readTensors } from "../backend/read.ts";
import type { Box } from "../data/metadata.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import type { LocalizationHead } from "../model/baselines.ts";
import {
  boxesAtThreshold,
  normalizeScoremap,
  quantizeScoremap,
  upsampleCellMap,
} from "../metrics/mod.ts";

/** Where tokens sit in the input frame. */
export interface MapGeometry {
  grid: [number, number];
  stride: number;
  cellOffset: number;
  /** Side of the square frame maps are upsampled to (default 224). */
  size?: number;
}

/** One image's result. */
export interface Localization {
  /** Best classes first. */
  topk: { label: number; name: string; score: number; prob: number }[];
  /** Class logits `[C]`. */
  scores: Float32Array;
  /** The head's raw map on the token grid `[gh·gw]`. */
  gridMap: Float32Array;
  /** Upsampled, min–max normalised map `[size·size]` in [0, 1]. */
  map: Float32Array;
  /** Boxes at `boxThreshold` in the size×size frame, largest region first. */
  boxes: Box[];
}

/** Options of {@link localizeTokens}. */
export interface LocalizeOptions {
  /** How many classes to list (default 5). */
  topk?: number;
  /** Box threshold τ as a fraction of the map maximum (default 0.5). */
  boxThreshold?: number;
  /** Class names (default `class_<k>`). */
  classNames?: string[];
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /**
   * Class whose map a class-specific head (CAM, vanilla) returns, one per image; default the
   * predicted class. Evaluation passes the ground truth, as wsolevaluation does.
   */
  classes?: ArrayLike<number>;
}

function softmax(s: Float32Array): Float32Array {
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/**
 * Boxes of a normalised `size×size` score map at threshold τ (fraction of its maximum),
 * extracted exactly as wsolevaluation does: the largest contour's box first, then the other
 * contours' boxes; `[[0,0,0,0]]` when nothing is above the threshold.
 */
export function scoremapBoxes(map: Float32Array, size: number, tau: number): Box[] {
  const { u8, max } = quantizeScoremap(map);
  const { largest, all } = boxesAtThreshold(u8, max, size, size, tau);
  const rest = all.filter((b) => b.some((v, i) => v !== largest[i]));
  return [largest, ...rest];
}

/** Upsample a grid map to the frame at true cell centres and normalise it to [0, 1]. */
export function gridMapToScoremap(gridMap: ArrayLike<number>, g: MapGeometry): Float32Array {
  const [gh, gw] = g.grid;
  return normalizeScoremap(
    upsampleCellMap(gridMap, gh, gw, {
      size: g.size ?? 224,
      stride: g.stride,
      cellOffset: g.cellOffset,
    }),
  );
}

/**
 * Localize from tokens: `tokens` is `[count, gh·gw, dim]` row-major.
 *
 * @example
 * ```ts
 * const [r] = await localizeTokens(tedLocHead(model), tokens, 1, features, { classNames });
 * console.log(r.topk[0].name, r.boxes[0]);
 * ```
 */
export async function localizeTokens(
  head: LocalizationHead,
  tokens: Float32Array,
  count: number,
  geometry: MapGeometry,
  opts: LocalizeOptions = {},
): Promise<Localization[]> {
  const [gh, gw] = geometry.grid, N = gh * gw;
  const dim = tokens.length / (count * N);
  if (!Number.isInteger(dim)) {
    throw new Error(`localizeTokens: ${tokens.length} values are not ${count}×${N}×dim`);
  }
  const size = geometry.size ?? 224,
    k = opts.topk ?? 5,
    tau = opts.boxThreshold ?? 0.5,
    bs = opts.batchSize ?? 32;
  const out: Localization[] = [];
  for (let s = 0; s < count; s += bs) {
    const B = Math.min(bs, count - s);
    const [sc, mp] = tf.tidy(() => {
      const p = head.predict(
        tf.tensor3d(tokens.subarray(s * N * dim, (s + B) * N * dim), [B, N, dim]),
        opts.classes === undefined
          ? undefined
          : Array.from({ length: B }, (_, i) => opts.classes![s + i]),
      );
      return [p.scores, p.maps];
    });
    const [scores, maps] = await readTensors([sc, mp], { dispose: true });
    const C = scores.length / B;
    for (let i = 0; i < B; i++) {
      const s1 = scores.slice(i * C, (i + 1) * C);
      const probs = softmax(s1);
      const order = Array.from(s1.keys()).sort((a, b) => s1[b] - s1[a]).slice(0, k);
      const gridMap = maps.slice(i * N, (i + 1) * N);
      const map = gridMapToScoremap(gridMap, { ...geometry, size });
      out.push({
        topk: order.map((c) => ({
          label: c,
          name: opts.classNames?.[c] ?? `class_${c}`,
          score: s1[c],
          prob: probs[c],
        })),
        scores: s1,
        gridMap,
        map,
        boxes: scoremapBoxes(map, size, tau),
      });
    }
  }
  return out;
}

/**
 * Localize raw images `[B, S, S, 3]` (0..255) through a frozen encoder.
 *
 * @example
 * ```ts
 * const results = await localizeImages(tedLocHead(model), encoder, images, { classNames });
 * ```
 */
export async function localizeImages(
  head: LocalizationHead,
  encoder: PatchEncoder,
  images: tf.Tensor4D,
  opts: LocalizeOptions = {},
): Promise<Localization[]> {
  const tokens = await readFloat32(tf.tidy(() => encoder.encode(images)), { dispose: true });
  return await localizeTokens(head, tokens, images.shape[0], {
    grid: encoder.grid,
    stride: encoder.stride,
    cellOffset: encoder.cellOffset,
    size: encoder.inputSize,
  }, opts);
}
