/**
 * Multi-scale inference on images, as evaluated: the frozen encoder runs on the image resized
 * to its native input side and to each extra side (`eval.extraInputSizes`); each scale's map
 * is upsampled into the native frame at its own cell centres ({@link frameGeometry}) and the
 * normalised maps are averaged with {@link fuseMaps} (the code lib/eval/evaluate.ts
 * `evaluateHead` fuses `extraScales` with), while class scores stay the native size's.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readFloat32 } from "../backend/read.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import type { LocalizationHead } from "../model/baselines.ts";
import { frameGeometry, fuseMaps } from "./evaluate.ts";
import {
  type Localization,
  localizeImages,
  type LocalizeOptions,
  localizeTokens,
  scoremapBoxes,
} from "./localize.ts";

/** Images `[B, S, S, 3]` (0..255) resized to `encoder.inputSize` = S, and that encoder. */
export interface ScaleImages {
  encoder: PatchEncoder;
  images: tf.Tensor4D;
}

function checkScale(s: ScaleImages, count: number): void {
  const [b, h, w] = s.images.shape, S = s.encoder.inputSize;
  if (b !== count || h !== S || w !== S) {
    throw new Error(
      `localizeImageScales: ${s.encoder.id} needs images [${count}, ${S}, ${S}, 3], got ` +
        `[${s.images.shape}]`,
    );
  }
}

/**
 * Localize the same images at several input sides: `native` gives the class scores, top-k
 * and `gridMap`; `map` is the fused map of the native and every `extra` scale (in that
 * order, as evaluateHead fuses `extraScales`) in the native `size×size` frame, and `boxes`
 * are taken on it. A class-specific head (CAM) maps, at every scale, `opts.classes` or else
 * the native prediction. With no extra scale this is {@link localizeImages}.
 *
 * Resize each scale's images from the original pixels with the feature extraction's own
 * resize (lib/train/view_images.ts `loadViewFiles`), so the maps are those the run evaluated.
 *
 * @example
 * ```ts
 * const enc448 = await loadEncoder({ ...spec, inputSize: 448 });
 * const [r] = await localizeImageScales(head, { encoder, images: x224 }, [
 *   { encoder: enc448, images: x448 },
 * ], { boxThreshold: 0.62 });
 * ```
 */
export async function localizeImageScales(
  head: LocalizationHead,
  native: ScaleImages,
  extra: readonly ScaleImages[],
  opts: LocalizeOptions = {},
): Promise<Localization[]> {
  const count = native.images.shape[0];
  for (const s of [native, ...extra]) checkScale(s, count);
  const res = await localizeImages(head, native.encoder, native.images, opts);
  if (extra.length === 0) return res;
  const frame = native.encoder.inputSize;
  const maps = res.map((r) => [r.map]);
  const classes = opts.classes ?? res.map((r) => r.topk[0].label);
  for (const s of extra) {
    const tokens = await readFloat32(tf.tidy(() => s.encoder.encode(s.images)), {
      dispose: true,
    });
    const geometry = frameGeometry(s.encoder, s.encoder.inputSize, frame);
    const rs = await localizeTokens(head, tokens, count, geometry, { ...opts, topk: 1, classes });
    rs.forEach((r, i) => maps[i].push(r.map));
  }
  const tau = opts.boxThreshold ?? 0.5;
  res.forEach((r, i) => {
    r.map = fuseMaps(maps[i]);
    r.boxes = scoremapBoxes(r.map, frame, tau);
  });
  return res;
}
