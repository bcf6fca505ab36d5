/**
 * One run of a config, as stages: frozen features (cached) → CAM baseline (stage) → cues →
 * TeD-Loc training, one stage per round (self-training rounds train on the previous round's
 * maps) → evaluation of TeD-Loc and the baselines on the test split → the run record.
 *
 * Choices are made on a validation set that is never the test split: the dataset's `val`
 * split when it has one, else a seeded `dataset.valFraction` of train held out from training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { InterruptedError } from "../util/interrupt.ts";
import { Rng } from "../util/rng.ts";
import type { ProgressOptions } from "../util/progress.ts";
import { classLabelsOf, type WsolMetadata } from "../data/metadata.ts";
import { loadImageBatch } from "../data/loader.ts";
import type { FeatureSet } from "../model/encoder.ts";
import { buildAnchorSpace } from "../model/anchor_space.ts";
import {
  type CamHead,
  type LocalizationHead,
  tedLocHead,
  VanillaSimilarityHead,
} from "../model/baselines.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import type { CueSet } from "../cues/cues.ts";
import { headCueSource } from "../cues/sources.ts";
import { type BoxMetrics, centerGaussianMap } from "../metrics/mod.ts";
import { computedPart, RUN_RECORD_VERSION } from "../config/identity.ts";
import type { RunConfig } from "../config/schema.ts";
import { extractFeatures } from "../train/features.ts";
import { buildCues, parseCueRecipe } from "./cue_recipe.ts";
import { readCamHead, trainCamHead, writeCamHead } from "../train/cam.ts";
import { type TrainConfig, type TrainResult, trainTedLoc } from "../train/trainer.ts";
import { loadTedLocCheckpoint } from "../train/checkpoint.ts";
import {
  evaluateCueSet,
  evaluateFixedMap,
  evaluateHead,
  type ScaleFeatures,
} from "../eval/evaluate.ts";
import { extraScaleFeatures } from "./scales.ts";
import type { RunInputs } from "./inputs.ts";
import { cachedStage } from "./stages.ts";
import { camTrainInput, trainConfigInput } from "./run_config.ts";

/** How a run is carried out (none of it changes the result). */
export interface PipelineOptions {
  /** Parent of the stage caches and features (default `<project>/data/cache`). */
  cacheDir: string;
  /** Feature/cue extraction workers (default: one per core). */
  workers?: number;
  /** Run the frozen encoder per batch instead of caching tokens (see `RunOptions`). */
  encoderInLoop?: boolean;
  progress?: ProgressOptions | false;
  /** Stop between steps; the last finished epoch's checkpoint stays resumable. */
  signal?: AbortSignal;
  /** Save TeD-Loc's test score maps here (`<imageId>.npy`, wsolevaluation layout). */
  scoremapDir?: string;
}

/** One row of the results table. */
export interface PipelineRow {
  method: string;
  metrics: BoxMetrics;
  /** Parameters used at inference: encoder + head. */
  params: { encoder: number; head: number; total: number };
  /** Analytic head FLOPs per image. */
  headFlops: number;
  /** Measured ms per image: encoder (batch of 16) + head. */
  msPerImage: number;
}

/** What a run computes (the record, `results.json`) plus the live models. */
export interface PipelineResult {
  rows: PipelineRow[];
  /** Validation metrics of TeD-Loc and CAM (the numbers choices may look at). */
  validation: Record<string, BoxMetrics>;
  /** Test metrics of each round's model (the last one is the `tedloc` row). */
  roundMetrics: BoxMetrics[];
  /** Cue quality on held-out train images (box metrics of the cue maps); null with a val split. */
  cueValidation: BoxMetrics | null;
  config: {
    flipTta: boolean;
    cues: string;
    cuesSource: string;
    train: TrainConfig;
    valIds: number;
    fitIds: number;
  };
  /** Per-epoch history of the last round. */
  history: TrainResult["history"];
  timings: Record<string, number>;
  model: TedLocModel;
  cam: CamHead;
}

/** What every run of a config starts from: tokens, labels, the CAM baseline, round-1 cues. */
export interface PreparedInputs {
  train: FeatureSet;
  test: FeatureSet;
  labels: Int32Array;
  val: FeatureSet;
  valMeta: WsolMetadata;
  valIds: string[];
  fitIds: string[];
  cam: CamHead;
  cues: CueSet;
  cueValidation: BoxMetrics | null;
  /** Test (and held-out) tokens at `eval.extraInputSizes` (empty without). */
  scales: { test: ScaleFeatures[]; val: ScaleFeatures[]; encoderMs: number[] };
}

type Clock = <T>(name: string, f: () => Promise<T>) => Promise<T>;

function makeClock(timings: Record<string, number>): Clock {
  return async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    timings[name] = (timings[name] ?? 0) + (performance.now() - t0) / 1000;
    return r;
  };
}

/** Extraction workers by default: one per core (each runs a single-threaded wasm model). */
export function defaultExtractionWorkers(cores = navigator.hardwareConcurrency ?? 2): number {
  return Math.max(1, cores);
}

/** Features (cached), the held-out split, the CAM baseline (stage), round-1 cues. */
async function prepareInputs(
  cfg: RunConfig,
  inputs: RunInputs,
  opts: PipelineOptions,
  clock: Clock,
): Promise<PreparedInputs> {
  const { dataset, encoder } = inputs;
  const recipe = parseCueRecipe(cfg.cues.recipe);
  const workers = opts.workers ?? defaultExtractionWorkers();
  const fq = {
    workers,
    cacheDir: join(opts.cacheDir, "features"),
    encoderInLoop: opts.encoderInLoop,
    progress: opts.progress,
  };
  const features = (split: string, flip: boolean) =>
    clock(
      "features",
      () =>
        extractFeatures(encoder, dataset, split, {
          ...fq,
          views: flip ? ["test", "flip"] : ["test"],
        }),
    );
  const train = await features("train", true);
  const test = await features(cfg.eval.split, cfg.eval.flipTta);
  const trainMeta = dataset.splits.train;
  const labels = classLabelsOf(trainMeta, train.ids);

  let val = train, valMeta = trainMeta, valIds: string[], fitIds: string[];
  if (dataset.splits.val) {
    val = await features("val", false);
    valMeta = dataset.splits.val;
    valIds = [...val.ids];
    fitIds = [...train.ids];
  } else {
    const shuffled = new Rng(cfg.train.seed).shuffle([...train.ids]);
    const nVal = Math.round(cfg.dataset.valFraction * shuffled.length);
    valIds = shuffled.slice(0, nVal);
    fitIds = shuffled.slice(nVal);
  }

  const camInput = camTrainInput(cfg);
  const cam = await clock("train cam", () =>
    cachedStage({
      root: join(opts.cacheDir, "stages"),
      stage: "cam",
      key: {
        dataKey: inputs.dataKey,
        version: RUN_RECORD_VERSION,
        cam: camInput,
        tokens: [train.encoderId, train.grid, train.dim, train.ids.length],
        fitIds,
      },
      read: async (dir) => (await readCamHead(join(dir, "cam.safetensors")))!,
      compute: async (dir) => {
        const { cam } = await trainCamHead(train, labels, {
          ...camInput,
          numClasses: inputs.anchors.count,
          ids: fitIds,
          progress: opts.progress,
        });
        await writeCamHead(join(dir, "cam.safetensors"), cam);
        return cam;
      },
    }));
  const cues = await clock("cues", () =>
    buildCues(recipe, {
      dataset,
      encoder,
      classifier: inputs.classifier,
      cam,
      workers,
      cacheDir: opts.cacheDir,
      progress: opts.progress,
    }, { ids: train.ids, grid: train.grid, labels, features: train }));
  // cue quality on the validation images (train images held out; none when val is separate)
  const cueValidation = dataset.splits.val || valIds.length === 0
    ? null
    : await evaluateCueSet(cues, trainMeta, train, {
      ids: valIds,
      camCurveInterval: cfg.eval.camCurveInterval,
    });
  const scales = await clock("features", () => scaleInputs(cfg, inputs, valIds, fq));
  return { train, test, labels, val, valMeta, valIds, fitIds, cam, cues, cueValidation, scales };
}

/** Test and held-out tokens at the extra input sizes (none when `eval.extraInputSizes` is empty). */
async function scaleInputs(
  cfg: RunConfig,
  inputs: RunInputs,
  valIds: string[],
  fq: { workers: number; cacheDir: string; progress?: ProgressOptions | false },
): Promise<PreparedInputs["scales"]> {
  const sizes = cfg.eval.extraInputSizes;
  if (sizes.length === 0) return { test: [], val: [], encoderMs: [] };
  const split = cfg.eval.split,
    views = cfg.eval.flipTta ? ["test", "flip"] as const : ["test"] as const;
  const timeIds = inputs.dataset.splits[split]?.imageIds.slice(0, 16) ?? [];
  const test = await extraScaleFeatures(inputs, sizes, { split, views: [...views] }, fq, timeIds);
  const hasVal = inputs.dataset.splits.val !== undefined;
  const val = !hasVal && valIds.length === 0 ? { scales: [] } : await extraScaleFeatures(
    inputs,
    sizes,
    hasVal ? { split: "val", views: ["test"] } : { split: "train", views: ["test"], ids: valIds },
    fq,
  );
  return { test: test.scales, val: val.scales, encoderMs: test.encoderMs };
}

/**
 * What a run of `cfg` starts from — features, held-out split, CAM baseline, round-1 cues —
 * read from the caches (computed when missing), for evaluations beside the run (e.g. the
 * cue alone, lib/run/cue_alone.ts). The caller disposes `cam`.
 */
export async function preparedRunInputs(
  cfg: RunConfig,
  inputs: RunInputs,
  opts: PipelineOptions,
): Promise<PreparedInputs> {
  return await prepareInputs(cfg, inputs, opts, makeClock({}));
}

/**
 * Fill the caches a run of `cfg` reads — train/val/test features (the flip view too when
 * `eval.flipTta`), the CAM baseline, the round-1 cues — and return the seconds each took, so
 * runs that share them can then start in parallel without computing them twice.
 */
export async function warmPipelineCaches(
  cfg: RunConfig,
  inputs: RunInputs,
  opts: PipelineOptions,
): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  const p = await prepareInputs(cfg, inputs, opts, makeClock(timings));
  p.cam.dispose();
  return timings;
}

/** What training depends on: the config without its labels, evaluation and round count. */
function trainingIdentity(cfg: RunConfig, dataKey: string, round: number) {
  const { eval: _e, ...rest } = computedPart(cfg);
  return { ...rest, train: { ...rest.train, rounds: null }, dataKey, round, RUN_RECORD_VERSION };
}

/** Train round `round` (a cached stage: a finished round is read back, an unfinished one resumed). */
async function fitRound(
  cfg: RunConfig,
  inputs: RunInputs,
  p: PreparedInputs,
  cues: CueSet,
  round: number,
  opts: PipelineOptions,
): Promise<
  { model: TedLocModel; config: TrainConfig; history: TrainResult["history"]; dir: string }
> {
  let dir = "";
  const out = await cachedStage({
    root: join(opts.cacheDir, "stages"),
    stage: "fit",
    key: trainingIdentity(cfg, inputs.dataKey, round),
    read: async (d) => {
      dir = d;
      const { model, info } = await loadTedLocCheckpoint(join(d, "last.safetensors"));
      return {
        model,
        config: info.trainConfig as TrainConfig,
        history: info.history as TrainResult["history"],
      };
    },
    compute: async (d) => {
      dir = d;
      const r = await trainTedLoc(
        { features: p.train, labels: p.labels, cues, anchors: inputs.anchors, ids: p.fitIds },
        trainConfigInput(cfg),
        {
          outDir: d,
          resume: true,
          progress: opts.progress,
          encoderSpec: inputs.encoder.spec ?? null,
          signal: opts.signal,
        },
      );
      if (opts.signal?.aborted) {
        // the last finished epoch's checkpoint stays in this stage's folder: a rerun resumes it
        r.model.dispose();
        throw opts.signal.reason instanceof Error
          ? opts.signal.reason
          : new InterruptedError("SIGINT");
      }
      return { model: r.model, config: r.config, history: r.history };
    },
  });
  return { ...out, dir };
}

/**
 * Run a config: every stage, reusing finished ones. The caller disposes `result.model` and
 * `result.cam`. `checkpoint` is the last round's stage folder.
 *
 * @example
 * ```ts
 * const cfg = await resolveRunConfig({ profile: "ci" });
 * const r = await runPipeline(cfg, await loadRunInputs(cfg), { cacheDir: "data/cache" });
 * console.table(r.rows.map((x) => ({ method: x.method, ...x.metrics })));
 * ```
 */
export async function runPipeline(
  cfg: RunConfig,
  inputs: RunInputs,
  opts: PipelineOptions,
): Promise<PipelineResult & { checkpointDir: string }> {
  const timings: Record<string, number> = {};
  const clock = makeClock(timings);
  const p = await prepareInputs(cfg, inputs, opts, clock);
  const testMeta = inputs.dataset.splits[cfg.eval.split];
  if (!testMeta) {
    throw new InputError(`dataset ${inputs.dataset.name} has no split '${cfg.eval.split}'`);
  }
  const ev = { progress: opts.progress, camCurveInterval: cfg.eval.camCurveInterval };

  const roundMetrics: BoxMetrics[] = [];
  let fit = await clock("train tedloc", () => fitRound(cfg, inputs, p, p.cues, 1, opts));
  for (let r = 2; r <= cfg.train.rounds; r++) {
    const head = tedLocHead(fit.model);
    const cues = await headCueSource(head).produce({
      ids: p.train.ids,
      grid: p.train.grid,
      features: p.train,
    });
    roundMetrics.push(
      (await evaluateHead(head, p.test, testMeta, { ...ev, extraScales: p.scales.test })).metrics,
    );
    fit.model.dispose();
    fit = await clock("train tedloc", () => fitRound(cfg, inputs, p, cues, r, opts));
  }
  const model = fit.model;
  const ted = tedLocHead(model);
  const validation = await validate(cfg, ted, p, ev);
  const { rows, tedMetrics } = await evaluateRows(cfg, inputs, p, ted, fit.config, clock, opts);
  roundMetrics.push(tedMetrics);
  return {
    rows,
    validation,
    roundMetrics,
    cueValidation: p.cueValidation,
    config: {
      flipTta: cfg.eval.flipTta,
      cues: cfg.cues.recipe,
      cuesSource: p.cues.source,
      train: fit.config,
      valIds: p.valIds.length,
      fitIds: p.fitIds.length,
    },
    history: fit.history,
    timings,
    model,
    cam: p.cam,
    checkpointDir: fit.dir,
  };
}

/** Validation metrics of TeD-Loc (and its flip TTA) and CAM on the held-out images. */
async function validate(
  cfg: RunConfig,
  ted: LocalizationHead,
  p: PreparedInputs,
  ev: { progress?: ProgressOptions | false; camCurveInterval: number },
): Promise<Record<string, BoxMetrics>> {
  const validation: Record<string, BoxMetrics> = {};
  if (p.valIds.length === 0) return validation;
  const on = { ...ev, ids: p.valIds, extraScales: p.scales.val };
  validation.tedloc = (await evaluateHead(ted, p.val, p.valMeta, on)).metrics;
  if (cfg.eval.flipTta && p.val.views.includes("flip") && p.scales.val.length === 0) {
    validation["tedloc+flip"] =
      (await evaluateHead(ted, p.val, p.valMeta, { ...on, flipTta: true })).metrics;
  }
  validation.cam =
    (await evaluateHead(p.cam, p.val, p.valMeta, { ...on, extraScales: undefined })).metrics;
  return validation;
}

/** The test table: TeD-Loc (+flip), and with baselines CAM (+flip), vanilla, centre prior. */
async function evaluateRows(
  cfg: RunConfig,
  inputs: RunInputs,
  p: PreparedInputs,
  ted: LocalizationHead,
  trainConfig: TrainConfig,
  clock: Clock,
  opts: PipelineOptions,
): Promise<{ rows: PipelineRow[]; tedMetrics: BoxMetrics }> {
  const { dataset, encoder } = inputs;
  const split = cfg.eval.split, testMeta = dataset.splits[split];
  // Multi-scale maps are TeD-Loc's: the baselines keep the encoder's own size (their rows
  // cost what they did, and the main run stays in its time budget).
  const nativeEncoderMs = await encoderMsPerImage(inputs, p.test.ids.slice(0, 16), split);
  const encoderMs = nativeEncoderMs + p.scales.encoderMs.reduce((a, b) => a + b, 0);
  const space = buildAnchorSpace(inputs.anchors, trainConfig.anchors);
  const vanilla = new VanillaSimilarityHead(p.test.dim, space, trainConfig.anchors.projSeed);
  const N = p.test.grid[0] * p.test.grid[1];
  const scaleTokens = [N, ...p.scales.test.map((e) => e.features.grid[0] * e.features.grid[1])];
  const { baselines, flipTta } = cfg.eval;
  const evals: { head: LocalizationHead; flip: boolean }[] = [
    { head: ted, flip: false },
    ...(flipTta ? [{ head: ted, flip: true }] : []),
    ...(baselines ? [{ head: p.cam, flip: false }, { head: vanilla, flip: false }] : []),
    ...(baselines && flipTta ? [{ head: p.cam, flip: true }] : []),
  ];
  const rows: PipelineRow[] = [];
  let tedMetrics: BoxMetrics | null = null;
  const encParams = encoder.parameterCount();
  for (const { head, flip } of evals) {
    const method = flip ? `${head.name}+flip` : head.name;
    const r = await clock(`eval ${method}`, () =>
      evaluateHead(head, p.test, testMeta, {
        progress: opts.progress,
        camCurveInterval: cfg.eval.camCurveInterval,
        flipTta: flip,
        extraScales: head === ted ? p.scales.test : undefined,
        scoremapDir: method === "tedloc" ? opts.scoremapDir : undefined,
      }));
    if (method === "tedloc") tedMetrics = r.metrics;
    const hp = head.parameterCount();
    rows.push({
      method,
      metrics: r.metrics,
      params: { encoder: encParams, head: hp, total: encParams + hp },
      headFlops: (head === ted ? scaleTokens : [N]).reduce((a, n) => a + head.flops(n), 0) *
        (flip ? 2 : 1),
      msPerImage: (head === ted ? encoderMs : nativeEncoderMs) * (flip ? 2 : 1) + r.headMsPerImage,
    });
  }
  vanilla.dispose();
  if (baselines) {
    rows.push({
      method: "center-prior",
      metrics: await evaluateFixedMap(centerGaussianMap(), testMeta, {
        camCurveInterval: cfg.eval.camCurveInterval,
      }),
      params: { encoder: 0, head: 0, total: 0 },
      headFlops: 0,
      msPerImage: 0,
    });
  }
  return { rows, tedMetrics: tedMetrics! };
}

/** Encoder time per image on a batch of test images (after one warm-up pass). */
async function encoderMsPerImage(inputs: RunInputs, ids: string[], split: string): Promise<number> {
  const { images } = await loadImageBatch(inputs.dataset, ids, { transform: "test", split });
  tf.tidy(() => inputs.encoder.encode(images)).dispose();
  const t0 = performance.now();
  tf.tidy(() => inputs.encoder.encode(images)).dispose();
  const ms = (performance.now() - t0) / ids.length;
  images.dispose();
  return ms;
}
