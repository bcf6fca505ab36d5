/**
 * Training TeD-Loc's decoder D and patch classifier g on cached frozen tokens.
 *
 * TeD-Loc is a head of the shared loop ({@link fit}): per step and per image a random view
 * of the image (cheap augmentation: e.g. the flipped copy, whose cue map is mirrored to
 * match), FG/BG patches drawn from its cue map, then the three losses. Everything random
 * comes from one seeded `Rng` (`config.seed`); its state, the weights and the
 * optimizer's moments are checkpointed after every epoch (`last.safetensors`), so an
 * interrupted run resumed from its checkpoint ends with exactly the weights of an
 * uninterrupted one.
 *
 * @module
 */
import { DEFAULT_RUN_CONFIG } from "../config/schema.ts";

const TRAIN_DEFAULTS = DEFAULT_RUN_CONFIG.train;
const { file: _file, ...ANCHOR_DEFAULTS } = DEFAULT_RUN_CONFIG.anchors;
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import type { ProgressOptions } from "../util/progress.ts";
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
  type OptimizerConfig,
  type ScheduleConfig,
} from "./optim.ts";
import {
  configDiff,
  type LoadedCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from "./checkpoint.ts";
import { fit, type FitCheckpoint, type FitHead } from "./fit.ts";

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
 * QR anchors, λ = 1 each, FG top 20 % / BG bottom 10 % (8 + 8 patches), Adam 1e-3 cosine,
 * 10 epochs of 32 — the run config's defaults (lib/config/schema.ts, their one place).
 *
 * @example
 * ```ts
 * const cfg = resolveTrainConfig({ epochs: 10, sampler: { fgFraction: 0.3 } });
 * ```
 */
export function resolveTrainConfig(input: TrainConfigInput = {}): TrainConfig {
  const cfg: TrainConfig = {
    model: input.model ?? {},
    anchors: { ...ANCHOR_DEFAULTS, ...(input.anchors ?? {}) },
    loss: { ...DEFAULT_LOSS_WEIGHTS, ...(input.loss ?? {}) },
    sampler: { ...DEFAULT_SAMPLER, ...(input.sampler ?? {}) },
    optimizer: { ...DEFAULT_OPTIMIZER, ...(input.optimizer ?? {}) },
    schedule: { ...DEFAULT_SCHEDULE, ...(input.schedule ?? {}) },
    epochs: input.epochs ?? TRAIN_DEFAULTS.epochs,
    batchSize: input.batchSize ?? TRAIN_DEFAULTS.batchSize,
    seed: input.seed ?? TRAIN_DEFAULTS.seed,
    randomViews: input.randomViews ?? TRAIN_DEFAULTS.randomViews,
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
  /** Read the loss from the device every this many steps (default 20) and at epoch ends. */
  logEvery?: number;
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

/** Check labels and cue maps against the tokens before any slow work; the cue row of each training image. */
function checkTrainData(data: TrainData, classCount: number, trainIds: string[]): number[] {
  const f = data.features;
  const [gh, gw] = f.grid;
  if (data.labels.length !== f.ids.length) {
    throw new Error(`trainTedLoc: ${data.labels.length} labels for ${f.ids.length} images`);
  }
  if (data.cues.grid[0] !== gh || data.cues.grid[1] !== gw) {
    throw new InputError(
      `cue grid ${data.cues.grid.join("×")} differs from the token grid ${gh}×${gw}`,
    );
  }
  for (let i = 0; i < data.labels.length; i++) {
    const y = data.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classCount) {
      throw new InputError(`label ${y} of '${f.ids[i]}' is outside 0..${classCount - 1}`);
    }
  }
  const cueAt = new Map(data.cues.ids.map((id, i) => [id, i]));
  return trainIds.map((id) => {
    const r = cueAt.get(id);
    if (r === undefined) {
      throw new InputError(
        `no cue map for training image '${id}' (cue source ${data.cues.source})`,
      );
    }
    return r;
  });
}

/** Host-side samples of one batch: FG/BG masks and their list form. */
interface SampledBatch {
  masks: { fg: Float32Array; bg: Float32Array };
  lists: ReturnType<typeof sampledPatchLists>;
}

/** TeD-Loc as a {@link FitHead}: FG/BG patches from the (mirrored for flips) cue maps, then the three losses. */
function tedLocFitHead(
  model: TedLocModel,
  config: TrainConfig,
  data: TrainData,
  cueRows: number[],
): FitHead<SampledBatch> {
  const f = data.features, N = f.grid[0] * f.grid[1];
  return {
    params: model.params,
    termNames: ["kd", "pcl", "icl"],
    prepare(batch, rng) {
      const rows = batch.items.map((k) => cueRows[k]);
      const masks = sampleBatchMasks(
        data.cues.maps,
        f.grid,
        rows,
        config.sampler,
        rng,
        batch.flipped,
      );
      return { masks, lists: sampledPatchLists(masks.fg, masks.bg, batch.labels, N) };
    },
    loss(x, y, { masks, lists }) {
      const B = x.shape[0];
      const fgMask = tf.tensor2d(masks.fg, [B, N]), bgMask = tf.tensor2d(masks.bg, [B, N]);
      const sampled = {
        index: tf.tensor1d(lists.index, "int32"),
        labels: tf.tensor1d(lists.labels, "int32"),
        isFg: tf.tensor1d(lists.isFg),
      };
      const out = model.forward(x);
      const L = tedLocLosses(model, out, { labels: y, fgMask, bgMask, sampled }, config.loss);
      return { total: L.total, terms: [L.kd, L.pcl, L.icl], scores: out.scores };
    },
    getWeights: () => model.getWeights(),
    setWeights: (w, source) => model.setWeights(w, source),
  };
}

/** Checkpoints of a TeD-Loc run in `outDir/last.safetensors` (+ `metrics.jsonl`). */
function tedLocCheckpoint(
  model: TedLocModel,
  config: TrainConfig,
  modelConfig: TedLocConfig,
  f: FeatureSet,
  options: TrainOptions,
): FitCheckpoint<EpochRecord> | undefined {
  const outDir = options.outDir;
  if (!outDir) return undefined;
  const path = join(outDir, "last.safetensors");
  return {
    where: path,
    async load() {
      if (!options.resume || !(await exists(path))) return null;
      const ck = await readCheckpoint(path);
      checkResumable(ck, config, f, model.anchors.classNames, path);
      return {
        epoch: ck.info.epoch,
        step: ck.info.step,
        optimizerStep: ck.info.optimizerStep,
        rngState: ck.info.rngState,
        history: ck.info.history as EpochRecord[],
        weights: ck.weights,
        optimizerState: ck.optimizerState,
      };
    },
    async save(s) {
      // writeCheckpoint takes the model for its anchors and weights: hand it the weights the
      // loop has just read (works whether or not checkpoint.ts awaits getWeights)
      const snapshot = { anchors: model.anchors, getWeights: () => s.weights };
      await writeCheckpoint(path, snapshot as unknown as TedLocModel, {
        trainConfig: config,
        modelConfig,
        epoch: s.epoch,
        step: s.step,
        optimizerStep: s.optimizerStep,
        rngState: s.rngState,
        encoderId: f.encoderId,
        grid: f.grid,
        stride: f.stride,
        cellOffset: f.cellOffset,
        history: s.history,
        encoderSpec: options.encoderSpec ?? null,
      }, s.optimizerState);
      await writeTextAtomic(
        join(outDir, "metrics.jsonl"),
        s.history.map((h) => JSON.stringify(h)).join("\n") + "\n",
      );
    },
  };
}

/** Throw (naming the differences) when a checkpoint was made with another config or data. */
function checkResumable(
  ck: LoadedCheckpoint,
  config: TrainConfig,
  f: FeatureSet,
  classNames: string[],
  path: string,
): void {
  const diff = configDiff(ck.info.trainConfig, JSON.parse(JSON.stringify(config)));
  if (diff.length > 0) {
    throw new InputError(
      `cannot resume: checkpoint was trained with another config (checkpoint ≠ this run): ${
        diff.join("; ")
      }`,
      { file: path },
    );
  }
  const dataDiff = configDiff(
    { encoderId: ck.info.encoderId, grid: ck.info.grid, classes: ck.anchors.classNames },
    { encoderId: f.encoderId, grid: f.grid, classes: classNames },
  );
  if (dataDiff.length > 0) {
    throw new InputError(`cannot resume: checkpoint is for other data: ${dataDiff.join("; ")}`, {
      file: path,
    });
  }
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
  const space = buildAnchorSpace(data.anchors, config.anchors);
  const trainIds = data.ids ?? f.ids;
  const cueRows = checkTrainData(data, space.count, trainIds);
  const modelConfig = modelConfigFor(config, f.dim, space.dim, space.count);
  const model = new TedLocModel(modelConfig, space);
  try {
    const r = await fit<SampledBatch, EpochRecord>(
      tedLocFitHead(model, config, data, cueRows),
      { features: f, labels: data.labels, rows: featureRows(f, trainIds) },
      {
        ...config,
        checkpoint: tedLocCheckpoint(model, config, modelConfig, f, options),
        stopAfterEpochs: options.stopAfterEpochs,
        signal: options.signal,
        progress: options.progress,
        onEpochEnd: options.validate && ((epoch) => options.validate!(model, epoch)),
        onStep: options.onStep,
        logEvery: options.logEvery,
      },
    );
    return { model, config, modelConfig, ...r };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
