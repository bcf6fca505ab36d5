/**
 * Training the CAM baseline (GAP + linear classifier, softmax cross-entropy) on the same
 * cached tokens TeD-Loc trains on — random view per image per step, Adam with the same
 * schedule code, seeded.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import type { FeatureSet } from "../model/encoder.ts";
import { CamHead } from "../model/baselines.ts";
import { featureRows } from "../cues/sources.ts";
import { InputError } from "../io/errors.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.ts";
import {
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
  learningRate,
  Optimizer,
  type OptimizerConfig,
  type ScheduleConfig,
} from "./optim.ts";

/** CAM training settings. */
export interface CamTrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  randomViews: boolean;
}

/** Defaults: 30 epochs of 32, Adam 1e-3 with weight decay 1e-4, cosine. */
export const DEFAULT_CAM_TRAIN: CamTrainConfig = {
  epochs: 30,
  batchSize: 32,
  seed: 0,
  optimizer: { ...DEFAULT_OPTIMIZER, weightDecay: 1e-4 },
  schedule: DEFAULT_SCHEDULE,
  randomViews: true,
};

/** Options of {@link trainCamHead}: config overrides plus the class count and a subset of ids. */
export type CamTrainInput = Partial<Omit<CamTrainConfig, "optimizer" | "schedule">> & {
  optimizer?: Partial<OptimizerConfig>;
  schedule?: Partial<ScheduleConfig>;
  /** Number of classes (default: max label + 1). */
  numClasses?: number;
  /** Train on these ids only (default: all of the features). */
  ids?: string[];
  progress?: ProgressOptions | false;
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
  const opt = new Optimizer(cam.params, cfg.optimizer);
  const rng = new Rng(cfg.seed + 7919);
  const rows = featureRows(features, input.ids ?? features.ids);
  const N = features.grid[0] * features.grid[1],
    per = N * features.dim,
    viewStride = features.ids.length * per;
  const plainView = Math.max(0, features.views.indexOf("test"));
  const stepsPerEpoch = Math.ceil(rows.length / cfg.batchSize), total = stepsPerEpoch * cfg.epochs;
  const vars = cam.trainableVariables();
  const nameOf = new Map(vars.map((v) => [v.name, [...cam.params].find(([, p]) => p === v)![0]]));
  const bar = input.progress === false
    ? null
    : new Progress("train cam", total, { unit: "step", ...(input.progress ?? {}) });
  const history: { epoch: number; loss: number; trainAcc: number }[] = [];
  let step = 0;
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const order = rng.shuffle(rows.map((_, i) => i));
    let lossSum = 0, correct = 0, n = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      const batch = order.slice(b * cfg.batchSize, (b + 1) * cfg.batchSize), B = batch.length;
      const buf = new Float32Array(B * per), y = new Int32Array(B);
      batch.forEach((k, i) => {
        const v = cfg.randomViews && features.views.length > 1
          ? rng.int(features.views.length)
          : plainView;
        const at = v * viewStride + rows[k] * per;
        buf.set(features.tokens.subarray(at, at + per), i * per);
        y[i] = labels[rows[k]];
      });
      const x = tf.tensor3d(buf, [B, N, features.dim]);
      const yt = tf.tensor1d(y, "int32");
      let pred: tf.Tensor | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const logits = cam.logits(x);
        pred = tf.keep(tf.argMax(logits, 1));
        const onehot = tf.oneHot(yt, C);
        return tf.mean(
          tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(logits, onehot), -1)),
        ) as tf.Scalar;
      }, vars);
      opt.apply(
        new Map(Object.entries(grads).map(([nm, g]) => [nameOf.get(nm)!, g])),
        learningRate(cfg.optimizer, cfg.schedule, step, total, stepsPerEpoch),
      );
      const p = (pred as unknown as tf.Tensor).dataSync();
      lossSum += value.dataSync()[0] * B;
      for (let i = 0; i < B; i++) if (p[i] === y[i]) correct++;
      n += B;
      tf.dispose([x, yt, value, ...Object.values(grads), pred as unknown as tf.Tensor]);
      step++;
      bar?.tick(1, `epoch ${epoch + 1}/${cfg.epochs} loss ${(lossSum / n).toFixed(4)}`);
    }
    history.push({ epoch: epoch + 1, loss: lossSum / n, trainAcc: correct / n });
  }
  bar?.done();
  opt.dispose();
  await Promise.resolve();
  return { cam, history };
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
  await writeSafetensors(path, cam.getWeights(), { key });
}
