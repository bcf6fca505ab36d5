/**
 * Multi-scale maps (`eval.extraInputSizes`): the frozen encoder run again on the images
 * resized to other square sides, its tokens cached like the native ones, so evaluation can
 * average each head's maps over the sizes (lib/eval/evaluate.ts `extraScales`).
 *
 * A CNN is fully convolutional, so a larger input gives a finer grid over the same image
 * (MobileNet conv_pw_11 at 448 px: 28×28 cells at 8 px of the 224 frame instead of 14×14 at
 * 16): the head trained on 224-px tokens runs unchanged on them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { FeatureView } from "../train/view_images.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import { type EncoderSpec, loadEncoder } from "../model/load_encoder.ts";
import type { ScaleFeatures } from "../eval/evaluate.ts";
import { extractFeatures } from "../train/features.ts";
import { loadViewBatch } from "../train/view_images.ts";
import type { RunInputs } from "./inputs.ts";

/** What to extract at each extra size. */
export interface ScaleRequest {
  split: string;
  views: FeatureView[];
  /** Only these images of the split (e.g. the held-out part of train). */
  ids?: string[];
}

/** Extraction settings shared with the native features. */
export interface ScaleExtraction {
  cacheDir: string;
  workers: number;
  progress?: ProgressOptions | false;
}

/** The run's encoder rebuilt at input side `size` (tfjs CNN encoders only). */
export async function encoderAtSize(
  inputs: Pick<RunInputs, "encoder">,
  size: number,
): Promise<PatchEncoder> {
  const spec = inputs.encoder.spec as EncoderSpec | undefined;
  if (!spec || spec.kind !== "tfjs-cnn") {
    throw new InputError(
      `eval.extraInputSizes needs a tfjs CNN encoder (the run's is ${inputs.encoder.id})`,
    );
  }
  return await loadEncoder({ ...spec, inputSize: size });
}

/**
 * Tokens of `request` at every size of `sizes` (cached under `cacheDir` like the native ones),
 * plus the encoder's measured ms per image at each size (after a warm-up, on `timeIds`).
 */
export async function extraScaleFeatures(
  inputs: Pick<RunInputs, "encoder" | "dataset">,
  sizes: readonly number[],
  request: ScaleRequest,
  ex: ScaleExtraction,
  timeIds: string[] = [],
): Promise<{ scales: ScaleFeatures[]; encoderMs: number[] }> {
  const scales: ScaleFeatures[] = [], encoderMs: number[] = [];
  for (const size of sizes) {
    const encoder = await encoderAtSize(inputs, size);
    try {
      const features = await extractFeatures(encoder, inputs.dataset, request.split, {
        views: request.views,
        ids: request.ids,
        cacheDir: ex.cacheDir,
        workers: ex.workers,
        progress: ex.progress,
      });
      scales.push({ features, inputSize: size });
      encoderMs.push(timeIds.length ? await msPerImage(encoder, inputs, timeIds) : 0);
    } finally {
      encoder.dispose();
    }
  }
  return { scales, encoderMs };
}

async function msPerImage(
  encoder: PatchEncoder,
  inputs: Pick<RunInputs, "dataset">,
  ids: string[],
) {
  const images = await loadViewBatch(inputs.dataset.imageRoot, ids, "test", encoder.inputSize);
  try {
    tf.tidy(() => encoder.encode(images)).dispose();
    const t0 = performance.now();
    tf.tidy(() => encoder.encode(images)).dispose();
    return (performance.now() - t0) / ids.length;
  } finally {
    images.dispose();
  }
}
