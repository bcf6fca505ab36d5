/**
 * Training the CAM baseline (GAP + linear classifier, softmax cross-entropy) on the same
 * cached tokens TeD-Loc trains on, through the same loop ({@link fit}: random view per image
 * per step, Adam with the same schedule code, seeded).
 *
 * @module
 */
import { DEFAULT_RUN_CONFIG } from "../config/schema.ts";
import * as tf from "@tensorflow/tfjs";
import type { ProgressOptions } from "../util/progress.ts";
import type { FeatureSet } from "../model/encoder.ts";
import { CamHead } from "../model/baselines.ts";
import { featureRows } from "../cues/sources.ts";
import { InputError } from "../io/errors.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.ts";
import { type OptimizerConfig, type ScheduleConfig } from "./optim.ts";
import { fit, type FitHead } from "./fit.ts";

/** CAM training settings. */
export interface CamTrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  randomViews: boolean;
}

/** Defaults (the run config's): 60 epochs of 32, Adam 3e-2 with weight decay 1e-4, cosine. */
export const DEFAULT_CAM_TRAIN: CamTrainConfig = structuredClone(DEFAULT_RUN_CONFIG.cam);

/** Options of {@link trainCamHead}: config overrides plus the class count and a subset of ids. */
export type CamTrainInput = Partial<Omit<CamTrainConfig, "optimizer" | "schedule">> & {
  optimizer?: Partial<OptimizerConfig>;
  schedule?: Partial<ScheduleConfig>;
  /** Number of classes (default: max label + 1). */
  numClasses?: number;
  /** Train on these ids only (default: all of the features). */
  ids?: string[];
  progress?: ProgressOptions | false;
  /**
   * Called after each epoch (1-based) with the head as trained so far, e.g. to score it on
   * held-out images (lib/run/curves.ts); its numbers join that epoch's record.
   */
  onEpochEnd?: (
    cam: CamHead,
    epoch: number,
  ) => Promise<Record<string, number>> | Record<string, number>;
};

/**
 * Train a {@link CamHead} on cached tokens. Returns it with its per-epoch loss/accuracy.
 *
 * @example
 * ```ts
 * const { cam } = await trainCamHead(features, labels, { epochs: 20 });
 * ```
 */
export async function trainCamHead(
  features: FeatureSet,
  labels: ArrayLike<number>,
  input: CamTrainInput = {},
): Promise<{ cam: CamHead; history: { epoch: number; loss: number; trainAcc: number }[] }> {
  const cfg: CamTrainConfig = {
    ...DEFAULT_CAM_TRAIN,
    ...input,
    optimizer: { ...DEFAULT_CAM_TRAIN.optimizer, ...(input.optimizer ?? {}) },
    schedule: { ...DEFAULT_CAM_TRAIN.schedule, ...(input.schedule ?? {}) },
  };
  let maxLabel = 0;
  for (let i = 0; i < labels.length; i++) maxLabel = Math.max(maxLabel, labels[i]);
  const C = input.numClasses ?? maxLabel + 1;
  const cam = new CamHead(features.dim, C, cfg.seed);
  const head: FitHead<void> = {
    params: cam.params,
    termNames: [],
    loss(x, y) {
      // softmax cross-entropy of the GAP logits
      const logits = cam.logits(x);
      const onehot = tf.oneHot(y, C);
      const total = tf.mean(
        tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(logits, onehot), -1)),
      ) as tf.Scalar;
      return { total, terms: [], scores: logits };
    },
    getWeights: () => cam.getWeights(),
    setWeights: (w, source) => cam.setWeights(w, source),
  };
  try {
    const r = await fit(head, {
      features,
      labels,
      rows: featureRows(features, input.ids ?? features.ids),
    }, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      seed: cfg.seed + 7919, // its own stream, apart from the head's initialisation
      randomViews: cfg.randomViews,
      optimizer: cfg.optimizer,
      schedule: cfg.schedule,
      title: "train cam",
      progress: input.progress,
      onEpochEnd: input.onEpochEnd && ((epoch) => input.onEpochEnd!(cam, epoch)),
    });
    const history = r.history.map((h) => ({ epoch: h.epoch, loss: h.loss, trainAcc: h.trainAcc }));
    return { cam, history };
  } catch (err) {
    cam.dispose();
    throw err;
  }
}

/**
 * Read a CAM baseline written by {@link writeCamHead}. `expectKey` (when given) must equal the
 * key it was saved with, else null is returned (made by another recipe or on other tokens).
 *
 * @example
 * ```ts
 * const cam = await readCamHead("runs/cub50/cam.safetensors");
 * ```
 */
export async function readCamHead(path: string, expectKey?: string): Promise<CamHead | null> {
  const f = await readSafetensors(path);
  if (expectKey !== undefined && f.metadata.key !== expectKey) return null;
  const w = f.tensors.get("cam.weight");
  if (!w || w.shape.length !== 2 || !f.tensors.has("cam.bias")) {
    throw new InputError("not a CAM baseline file (needs cam.weight [d, C] and cam.bias [C])", {
      file: path,
    });
  }
  const cam = new CamHead(w.shape[0], w.shape[1]);
  try {
    cam.setWeights(
      Object.fromEntries(
        [...f.tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat32(t) }]),
      ),
    );
  } catch (err) {
    cam.dispose();
    throw new InputError((err as Error).message, { file: path });
  }
  return cam;
}

/** Write a CAM baseline (weights + a free-form `key` naming how it was made), atomically. */
export async function writeCamHead(path: string, cam: CamHead, key = ""): Promise<void> {
  await writeSafetensors(path, await cam.getWeights(), { key });
}
