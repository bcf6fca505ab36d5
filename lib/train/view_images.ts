/**
 * Images for feature extraction: the deterministic views ("test": resize to S×S, no crop;
 * "flip": the same, mirrored left–right) as raw RGB 0..255.
 *
 * Stop-gap: until lib/data's image pipeline (`loadImageBatch(dataset, ids, { transform })`)
 * lands, this module decodes with sharp itself. Everything else in lib/train calls
 * {@link loadViewBatch} only, so swapping the loader touches this file alone (and
 * {@link VIEW_LOADER_ID}, which is part of every feature cache key).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";

/** The deterministic views feature extraction knows. */
export type FeatureView = "test" | "flip";

/** All views, for validation. */
export const FEATURE_VIEWS: readonly FeatureView[] = ["test", "flip"];

/** Identifies the decoder and resize used (changing them must invalidate caches). */
export const VIEW_LOADER_ID = "sharp-fill-linear/1";

/** Check a view name. */
export function checkFeatureView(view: string): FeatureView {
  if (!(FEATURE_VIEWS as readonly string[]).includes(view)) {
    throw new InputError(`unknown view '${view}': use one of ${FEATURE_VIEWS.join(", ")}`);
  }
  return view as FeatureView;
}

async function decodeResized(path: string, size: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(path)
      .removeAlpha()
      .toColourspace("srgb")
      .resize(size, size, { fit: "fill", kernel: "linear" })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== size * size * 3) {
      throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw new InputError(`cannot read image (${(err as Error).message})`, { file: path });
  }
}

/**
 * Decode, resize (S×S, aspect not kept, as wsolevaluation's test transform) and optionally
 * mirror a batch of images: `[B, S, S, 3]` float32 in 0..255.
 *
 * @example
 * ```ts
 * const x = await loadViewBatch(dataset.imageRoot, ids.slice(0, 16), "flip");
 * ```
 */
export async function loadViewBatch(
  imageRoot: string,
  ids: string[],
  view: FeatureView,
  size = 224,
): Promise<tf.Tensor4D> {
  return await loadViewFiles(ids.map((id) => join(imageRoot, id)), view, size);
}

/**
 * {@link loadViewBatch} for image files given by path: the same decode and resize, so
 * inference on a user's image (`deno task localize`) sees the pixels feature extraction gave
 * the evaluated model, at any input side.
 *
 * @example
 * ```ts
 * const x448 = await loadViewFiles(["bird.jpg"], "test", 448); // [1, 448, 448, 3]
 * ```
 */
export async function loadViewFiles(
  paths: string[],
  view: FeatureView,
  size = 224,
): Promise<tf.Tensor4D> {
  const pixels = await Promise.all(paths.map((p) => decodeResized(p, size)));
  const all = new Float32Array(paths.length * size * size * 3);
  pixels.forEach((p, i) => all.set(p, i * size * size * 3));
  const x = tf.tensor4d(all, [paths.length, size, size, 3]);
  if (view !== "flip") return x;
  const flipped = tf.reverse(x, 2) as tf.Tensor4D;
  x.dispose();
  return flipped;
}
