/**
 * Training TeD-Loc's decoder D and patch classifier g on cached frozen tokens.
 *
 * Per step and per image: a random view of the image (cheap augmentation: e.g. the
 * flipped copy, whose cue map is mirrored to match), FG/BG patches drawn from its cue
 * map, then the three losses. Everything random comes from one {@link Rng} seeded by
 * `config.seed`; its state, the weights and the optimizer's moments are checkpointed
 * after every epoch, so an interrupted run resumed from its checkpoint ends with exactly
 * the weights of an uninterrupted one.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { Rng } from "../util/rng.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import type { Anchors } from "../text/anchors.ts";
import type { FeatureSet } from "../model/encoder.ts";
import { type AnchorSpaceConfig, buildAnchorSpace } from "../model/anchor_space.ts";
import {
  resolveTedLocConfig,
  type TedLocConfig,
  TedLocModel,
  type TedLocOptions,
} from "../model/tedloc.ts";
import {
  DEFAULT_LOSS_WEIGHTS,
  type LossWeights,
  sampledPatchLists,
  tedLocLosses,
} from "../model/losses.ts";
import type { CueSet } from "../cues/cues.ts";
import {
  DEFAULT_SAMPLER,
  sampleBatchMasks,
  type SamplerConfig,
  validateSamplerConfig,
} from "../cues/sampler.ts";
import { featureRows } from "../cues/sources.ts";
import {
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
  learningRate,
  Optimizer,
  type OptimizerConfig,
  type ScheduleConfig,
} from "./optim.ts";
import { configDiff, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";

/** Everything that determines a training run's result. */
export interface TrainConfig {
  model: TedLocOptions;
  anchors: AnchorSpaceConfig;
  loss: LossWeights;
  sampler: SamplerConfig;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Pick a random view per image per step (else always the plain view). */
  randomViews: boolean;
}

/** A config overriding parts of the defaults. */
export type TrainConfigInput =
  & Partial<Omit<TrainConfig, "loss" | "sampler" | "optimizer" | "schedule" | "anchors">>
  & {
    loss?: Partial<LossWeights>;
    sampler?: Partial<SamplerConfig>;
    optimizer?: Partial<OptimizerConfig>;
    schedule?: Partial<ScheduleConfig>;
    anchors?: Partial<AnchorSpaceConfig>;
  };

/**
 * Defaults filled in. The default run: 2-layer GELU MLP decoder, linear g, τ 0.07 (cosine),
 * QR anchors, λ = 1 each, FG top 60 % / BG bottom 10 %, Adam 1e-3 cosine, 30 epochs of 32.
 *
 * @example
 * ```ts
 * const cfg = resolveTrainConfig({ epochs: 10, sampler: { fgFraction: 0.3 } });
 * ```
 */
export function resolveTrainConfig(input: TrainConfigInput = {}): TrainConfig {
  const cfg: TrainConfig = {
    model: input.model ?? {},
    anchors: { ortho: "qr", projDim: null, projSeed: 0, ...(input.anchors ?? {}) },
    loss: { ...DEFAULT_LOSS_WEIGHTS, ...(input.loss ?? {}) },
    sampler: { ...DEFAULT_SAMPLER, ...(input.sampler ?? {}) },
    optimizer: { ...DEFAULT_OPTIMIZER, ...(input.optimizer ?? {}) },
    schedule: { ...DEFAULT_SCHEDULE, ...(input.schedule ?? {}) },
    epochs: input.epochs ?? 30,
    batchSize: input.batchSize ?? 32,
    seed: input.seed ?? 0,
    randomViews: input.randomViews ?? true,
  };
  validateSamplerConfig(cfg.sampler);
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 1) {
    throw new Error(`train config: epochs must be a positive integer, got ${cfg.epochs}`);
  }
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1) {
    throw new Error(`train config: batchSize must be a positive integer, got ${cfg.batchSize}`);
  }
  return cfg;
}

/** The data a run trains on. */
export interface TrainData {
  features: FeatureSet;
  /** Class label of every image of `features` (same order as `features.ids`). */
  labels: ArrayLike<number>;
  /** Cue maps (any order; aligned by id; grid must equal the token grid). */
  cues: CueSet;
  /** Raw anchors (projected and orthogonalized per `config.anchors`). */
  anchors: Anchors;
  /** Train on these ids only (default: all of `features`), e.g. to hold out a validation part. */
  ids?: string[];
}

/** One line of `metrics.jsonl`. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  kd: number;
  pcl: number;
  icl: number;
  trainAcc: number;
  lr: number;
  seconds: number;
  [extra: string]: number;
}

/** How to run training. */
export interface TrainOptions {
  /** Folder for `last.safetensors` and `metrics.jsonl` (none: nothing written). */
  outDir?: string;
  /** Continue from `outDir/last.safetensors` when it exists (config must match). */
  resume?: boolean;
  /** Stop after this many epochs in this call (simulates an interruption). */
  stopAfterEpochs?: number;
  /** Abort between steps; the last finished epoch's checkpoint stays valid. */
  signal?: AbortSignal;
  /** Progress bar options, or false for none. */
  progress?: ProgressOptions | false;
  /** Extra per-epoch metrics (e.g. held-out accuracy and MaxBoxAcc), merged into the record. */
  validate?: (
    model: TedLocModel,
    epoch: number,
  ) => Promise<Record<string, number>> | Record<string, number>;
  /** The encoder's JSON recipe (`PatchEncoder.spec`), stored in checkpoints for inference. */
  encoderSpec?: unknown;
  /** Called after each step with the step index (tests use it to watch tensor counts). */
  onStep?: (step: number) => void;
}

/** What {@link trainTedLoc} returns. */
export interface TrainResult {
  model: TedLocModel;
  config: TrainConfig;
  modelConfig: TedLocConfig;
  history: EpochRecord[];
  /** Epochs finished (== config.epochs unless stopped early). */
  epochsDone: number;
  /** Epoch the run resumed from (0 when fresh). */
  resumedFrom: number;
  /** Mean seconds of one optimisation step. */
  secondsPerStep: number;
}

/** The resolved model config of a run (dims from the data and anchors). */
export function modelConfigFor(
  config: TrainConfig,
  inDim: number,
  anchorDim: number,
  numClasses: number,
): TedLocConfig {
  return resolveTedLocConfig(inDim, anchorDim, numClasses, {
    initSeed: config.seed,
    ...config.model,
  });
}

/**
 * Train D and g. Returns the trained model (caller disposes it).
 *
 * @example
 * ```ts
 * const { model, history } = await trainTedLoc({ features, labels, cues, anchors },
 *   { epochs: 20 }, { outDir: "runs/tedloc", resume: true });
 * ```
 */
export async function trainTedLoc(
  data: TrainData,
  input: TrainConfigInput | TrainConfig = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  const config = resolveTrainConfig(input);
  const f = data.features;
  const [gh, gw] = f.grid, N = gh * gw;
  if (data.labels.length !== f.ids.length) {
    throw new Error(`trainTedLoc: ${data.labels.length} labels for ${f.ids.length} images`);
  }
  if (data.cues.grid[0] !== gh || data.cues.grid[1] !== gw) {
    throw new InputError(
      `cue grid ${data.cues.grid.join("×")} differs from the token grid ${gh}×${gw}`,
    );
  }
  const space = buildAnchorSpace(data.anchors, config.anchors);
  for (let i = 0; i < data.labels.length; i++) {
    const y = data.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= space.count) {
      throw new InputError(`label ${y} of '${f.ids[i]}' is outside 0..${space.count - 1}`);
    }
  }
  const modelConfig = modelConfigFor(config, f.dim, space.dim, space.count);
  const model = new TedLocModel(modelConfig, space);
  const optimizer = new Optimizer(model.params, config.optimizer);
  const rng = new Rng(config.seed);

  const trainIds = data.ids ?? f.ids;
  const rows = featureRows(f, trainIds);
  const cueAt = new Map(data.cues.ids.map((id, i) => [id, i]));
  const cueRows = trainIds.map((id) => {
    const r = cueAt.get(id);
    if (r === undefined) {
      throw new InputError(
        `no cue map for training image '${id}' (cue source ${data.cues.source})`,
      );
    }
    return r;
  });
  const flipView = f.views.map((v) => /flip/i.test(v));
  const plainView = Math.max(0, f.views.indexOf("test"));
  const stepsPerEpoch = Math.ceil(rows.length / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;

  let startEpoch = 0, step = 0;
  let history: EpochRecord[] = [];
  const ckptPath = options.outDir ? join(options.outDir, "last.safetensors") : null;
  if (options.resume && ckptPath && (await exists(ckptPath))) {
    const ck = await readCheckpoint(ckptPath);
    const diff = configDiff(ck.info.trainConfig, JSON.parse(JSON.stringify(config)));
    if (diff.length > 0) {
      throw new InputError(
        `cannot resume: checkpoint was trained with another config (checkpoint ≠ this run): ${
          diff.join("; ")
        }`,
        { file: ckptPath },
      );
    }
    const dataDiff = configDiff(
      { encoderId: ck.info.encoderId, grid: ck.info.grid, classes: ck.anchors.classNames },
      { encoderId: f.encoderId, grid: f.grid, classes: space.classNames },
    );
    if (dataDiff.length > 0) {
      throw new InputError(`cannot resume: checkpoint is for other data: ${dataDiff.join("; ")}`, {
        file: ckptPath,
      });
    }
    model.setWeights(ck.weights, ckptPath);
    optimizer.loadState(ck.optimizerState, ck.info.optimizerStep, ckptPath);
    rng.state = ck.info.rngState;
    startEpoch = ck.info.epoch;
    step = ck.info.step;
    history = ck.info.history as EpochRecord[];
  }

  const stopAt = Math.min(config.epochs, startEpoch + (options.stopAfterEpochs ?? Infinity));
  const bar = options.progress === false
    ? null
    : new Progress("train", (stopAt - startEpoch) * stepsPerEpoch, {
      unit: "step",
      ...(options.progress ?? {}),
    });
  const vars = model.trainableVariables();
  const nameOf = new Map(vars.map((v) => [v.name, [...model.params].find(([, p]) => p === v)![0]]));
  const din = f.dim, per = N * din, viewStride = f.ids.length * per;
  let stepSeconds = 0, stepsTimed = 0;
  let epochsDone = startEpoch;

  for (let epoch = startEpoch; epoch < stopAt; epoch++) {
    const t0 = performance.now();
    const order = rng.shuffle(rows.map((_, i) => i));
    const sums = { loss: 0, kd: 0, pcl: 0, icl: 0, correct: 0, n: 0 };
    let lr = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      if (options.signal?.aborted) break;
      const ts = performance.now();
      const batch = order.slice(b * config.batchSize, (b + 1) * config.batchSize);
      const B = batch.length;
      const buf = new Float32Array(B * per);
      const flipped: boolean[] = [];
      const labels = new Int32Array(B);
      batch.forEach((k, i) => {
        const v = config.randomViews && f.views.length > 1 ? rng.int(f.views.length) : plainView;
        flipped.push(flipView[v]);
        const at = v * viewStride + rows[k] * per;
        buf.set(f.tokens.subarray(at, at + per), i * per);
        labels[i] = data.labels[rows[k]];
      });
      const masks = sampleBatchMasks(
        data.cues.maps,
        f.grid,
        batch.map((k) => cueRows[k]),
        config.sampler,
        rng,
        flipped,
      );
      lr = learningRate(config.optimizer, config.schedule, step, totalSteps, stepsPerEpoch);

      const x = tf.tensor3d(buf, [B, N, din]);
      const y = tf.tensor1d(labels, "int32");
      const fg = tf.tensor2d(masks.fg, [B, N]), bg = tf.tensor2d(masks.bg, [B, N]);
      const lists = sampledPatchLists(masks.fg, masks.bg, labels, N);
      const sampled = {
        index: tf.tensor1d(lists.index, "int32"),
        labels: tf.tensor1d(lists.labels, "int32"),
        isFg: tf.tensor1d(lists.isFg),
      };
      let kept: tf.Tensor[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const out = model.forward(x);
        const L = tedLocLosses(
          model,
          out,
          { labels: y, fgMask: fg, bgMask: bg, sampled },
          config.loss,
        );
        kept = [tf.keep(L.kd), tf.keep(L.pcl), tf.keep(L.icl), tf.keep(tf.argMax(out.scores, 1))];
        return L.total;
      }, vars);
      const named = new Map(Object.entries(grads).map(([n, g]) => [nameOf.get(n)!, g]));
      optimizer.apply(named, lr);
      const [kd, pcl, icl] = kept.slice(0, 3).map((t) => t.dataSync()[0]);
      const pred = kept[3].dataSync();
      const loss = value.dataSync()[0];
      tf.dispose([
        x,
        y,
        fg,
        bg,
        sampled.index,
        sampled.labels,
        sampled.isFg,
        value,
        ...Object.values(grads),
        ...kept,
      ]);
      if (!Number.isFinite(loss)) {
        throw new Error(
          `training diverged at epoch ${epoch + 1} step ${
            b + 1
          }: loss ${loss} (lower the learning rate?)`,
        );
      }

      sums.loss += loss * B;
      sums.kd += kd * B;
      sums.pcl += pcl * B;
      sums.icl += icl * B;
      for (let i = 0; i < B; i++) if (pred[i] === labels[i]) sums.correct++;
      sums.n += B;
      step++;
      stepSeconds += (performance.now() - ts) / 1000;
      stepsTimed++;
      bar?.tick(
        1,
        `epoch ${epoch + 1}/${config.epochs} loss ${(sums.loss / sums.n).toFixed(4)} lr ${
          lr.toExponential(2)
        }`,
      );
      options.onStep?.(step);
    }
    if (options.signal?.aborted) break;
    const rec: EpochRecord = {
      epoch: epoch + 1,
      loss: sums.loss / sums.n,
      kd: sums.kd / sums.n,
      pcl: sums.pcl / sums.n,
      icl: sums.icl / sums.n,
      trainAcc: sums.correct / sums.n,
      lr,
      seconds: (performance.now() - t0) / 1000,
    };
    if (options.validate) Object.assign(rec, await options.validate(model, epoch + 1));
    history.push(rec);
    epochsDone = epoch + 1;
    if (options.outDir && ckptPath) {
      await writeCheckpoint(ckptPath, model, {
        trainConfig: config,
        modelConfig,
        epoch: epoch + 1,
        step,
        optimizerStep: optimizer.stepCount,
        rngState: rng.state,
        encoderId: f.encoderId,
        grid: f.grid,
        stride: f.stride,
        cellOffset: f.cellOffset,
        history,
        encoderSpec: options.encoderSpec ?? null,
      }, optimizer.state());
      await writeTextAtomic(
        join(options.outDir, "metrics.jsonl"),
        history.map((h) => JSON.stringify(h)).join("\n") + "\n",
      );
    }
  }
  bar?.done();
  optimizer.dispose();
  return {
    model,
    config,
    modelConfig,
    history,
    epochsDone,
    resumedFrom: startEpoch,
    secondsPerStep: stepsTimed > 0 ? stepSeconds / stepsTimed : 0,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
