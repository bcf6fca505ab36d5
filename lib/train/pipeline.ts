/**
 * The whole experiment in one call: frozen features (cached) → cues → TeD-Loc and the CAM
 * baseline trained on the same tokens → evaluation of TeD-Loc, CAM, vanilla similarity and
 * the centre prior on the test split, with parameters and timings.
 *
 * Choices are made on a validation set that is never the test split: the dataset's `val`
 * split when it has one, else a seeded `valFraction` of train held out from training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { Rng } from "../util/rng.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { WsolDataset } from "../data/dataset.ts";
import type { WsolMetadata } from "../data/metadata.ts";
import { loadImageBatch } from "../data/loader.ts";
import type { Anchors } from "../text/anchors.ts";
import type { FeatureSet, PatchEncoder } from "../model/encoder.ts";
import type { TfjsCnnClassifier } from "../model/mobilenet.ts";
import { buildAnchorSpace } from "../model/anchor_space.ts";
import {
  CamHead,
  type LocalizationHead,
  tedLocHead,
  VanillaSimilarityHead,
} from "../model/baselines.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import type { CueSet } from "../cues/cues.ts";
import {
  camCueSource,
  centerPriorCueSource,
  combineCueSets,
  fileCueSource,
  headCueSource,
  pcaCueSource,
} from "../cues/sources.ts";
import { extractFeatures, hashCacheKey } from "./features.ts";
import { extractAttentionCues, extractCamCues } from "./cue_cache.ts";
import { type CamTrainInput, readCamHead, trainCamHead, writeCamHead } from "./cam.ts";
import { type TrainConfigInput, type TrainResult, trainTedLoc } from "./trainer.ts";
import {
  evaluateCueSet,
  evaluateFixedMap,
  evaluateHead,
  type EvaluationResult,
} from "./localize.ts";
import { type BoxMetrics, centerGaussianMap } from "../metrics/mod.ts";

/**
 * Version of what a pipeline result means; bumped when evaluation changes (2: CAM and vanilla
 * scored on the ground-truth class's map, as wsolevaluation does), so stale run records are
 * recomputed rather than shown beside new ones.
 */
export const PIPELINE_RECORD_VERSION = 2;

/** Options of {@link runTedLocPipeline}. */
export interface PipelineOptions {
  dataset: WsolDataset;
  encoder: PatchEncoder;
  /** Raw anchors (default: the dataset's anchors file). */
  anchors: Anchors;
  /**
   * Cue recipe: terms joined by `*` (product) or `+` (mean, lower precedence), each one of
   * `inet<k>` (ImageNet CAM top-k; needs `classifier`), `cam` (CAM baseline, true class),
   * `prior`, `pca`, `attention` (ViT CLS attention), `files:<dir>`. Default `inet5*cam*prior`.
   */
  cues?: string;
  classifier?: TfjsCnnClassifier;
  train?: TrainConfigInput;
  cam?: CamTrainInput;
  /** Held-out fraction of train when the dataset has no `val` split (default 0.2). */
  valFraction?: number;
  /** Run folder: checkpoint, metrics.jsonl, results.json, score maps. */
  outDir?: string;
  /** Resume TeD-Loc training from `outDir` when possible. */
  resume?: boolean;
  /** Abort training between steps (the last finished epoch's checkpoint stays resumable). */
  signal?: AbortSignal;
  /** Feature/cue extraction workers (default 2). */
  workers?: number;
  cacheDir?: string;
  progress?: ProgressOptions | false;
  /**
   * Training rounds (default 1: plain TeD-Loc). Round r > 1 trains a fresh model on the maps
   * of round r − 1's model as cues (self-training; our extension, not in the paper). Its
   * checkpoint goes to `outDir/round<r>`.
   */
  rounds?: number;
  /**
   * Where the CAM baseline is cached (loaded when trained by the same recipe on the same
   * tokens, else trained and saved); default `outDir/cam.safetensors` when resuming.
   */
  camPath?: string;
  /**
   * Evaluate the baselines (CAM, vanilla, centre prior) beside TeD-Loc (default true); ablation
   * runs that only change TeD-Loc skip them.
   */
  baselines?: boolean;
  /**
   * Test-time flip (our extension): also report `tedloc+flip` and `cam+flip` rows, whose maps
   * and scores are averaged over the image and its mirror (see `evaluateHead`); the evaluation
   * split's flip view is extracted and cached. The plain rows stay the protocol's numbers.
   */
  flipTta?: boolean;
  /** Evaluate on this split (default `test`). */
  evalSplit?: string;
  /** Threshold step of the box evaluator (default 0.01). */
  camCurveInterval?: number;
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

/** What {@link runTedLocPipeline} returns. */
export interface PipelineResult {
  rows: PipelineRow[];
  /** Validation metrics of TeD-Loc and CAM (the numbers choices may look at). */
  validation: Record<string, BoxMetrics>;
  /** Test metrics of each round's model (the last one is the `tedloc` row). */
  roundMetrics: BoxMetrics[];
  /** Cue quality on held-out train images (box metrics of the cue maps themselves); null with a val split. */
  cueValidation: BoxMetrics | null;
  config: {
    /** {@link PIPELINE_RECORD_VERSION} of the code that produced it. */
    recordVersion: number;
    /** Whether `+flip` rows were evaluated. */
    flipTta: boolean;
    cues: string;
    cuesSource: string;
    train: TrainResult["config"];
    valIds: number;
    fitIds: number;
  };
  timings: Record<string, number>;
  model: TedLocModel;
  cam: CamHead;
}

/**
 * Train the CAM baseline, or load it from `path` when that file was written by the same
 * training recipe on the same tokens (key: config, token set, fit ids); saves it there.
 */
async function cachedCamHead(
  features: FeatureSet,
  labels: Int32Array,
  input: CamTrainInput,
  path?: string,
): Promise<CamHead> {
  const { progress: _p, ids, ...config } = input;
  const key = JSON.stringify({
    config,
    tokens: [features.encoderId, features.grid, features.dim, features.ids.length],
    fit: await hashCacheKey(ids ?? features.ids),
  });
  if (path && (await Deno.stat(path).then(() => true, () => false))) {
    const cached = await readCamHead(path, key);
    if (cached) return cached;
  }
  const { cam } = await trainCamHead(features, labels, input);
  if (path) await writeCamHead(path, cam, key);
  return cam;
}

function labelsFor(ids: string[], ...metas: WsolMetadata[]): Int32Array {
  return Int32Array.from(ids, (id) => {
    for (const m of metas) {
      const y = m.classLabels.get(id);
      if (y !== undefined) return y;
    }
    throw new InputError(`no class label for image '${id}'`);
  });
}

/** Parse and build a cue recipe (see {@link PipelineOptions.cues}). */
async function buildCues(
  recipe: string,
  ctx: {
    dataset: WsolDataset;
    encoder: PatchEncoder;
    classifier?: TfjsCnnClassifier;
    features: FeatureSet;
    labels: Int32Array;
    cam: CamHead;
    workers: number;
    cacheDir?: string;
    progress?: ProgressOptions | false;
  },
): Promise<CueSet> {
  const req = {
    ids: ctx.features.ids,
    grid: ctx.features.grid,
    labels: ctx.labels,
    features: ctx.features,
  };
  const term = async (t: string): Promise<CueSet> => {
    const inet = /^inet(\d+)$/.exec(t);
    if (inet) {
      if (!ctx.classifier) throw new InputError(`cue '${t}' needs an ImageNet classifier`);
      const c = await extractCamCues(ctx.classifier, ctx.dataset, "train", {
        topK: Number(inet[1]),
        target: ctx.encoder,
        workers: ctx.workers,
        cacheDir: ctx.cacheDir === undefined ? undefined : join(ctx.cacheDir, "cues"),
        progress: ctx.progress,
      });
      return c;
    }
    if (t === "cam") return await camCueSource(ctx.cam).produce(req);
    if (t === "prior") return await centerPriorCueSource().produce(req);
    if (t === "pca") return await pcaCueSource().produce(req);
    if (t === "attention") {
      return await extractAttentionCues(ctx.encoder, ctx.dataset, "train", {
        workers: ctx.workers,
        progress: ctx.progress,
      });
    }
    if (t.startsWith("files:")) return await fileCueSource(t.slice(6)).produce(req);
    throw new InputError(
      `unknown cue '${t}' (use inet<k>, cam, prior, pca, attention, files:<dir>)`,
    );
  };
  const sums: CueSet[] = [];
  for (const part of recipe.split("+").map((s) => s.trim()).filter(Boolean)) {
    const factors: CueSet[] = [];
    for (const f of part.split("*").map((s) => s.trim()).filter(Boolean)) {
      factors.push(await term(f));
    }
    if (factors.length === 0) throw new InputError(`empty cue term in '${recipe}'`);
    sums.push(factors.length === 1 ? factors[0] : combineCueSets(factors, "product"));
  }
  if (sums.length === 0) throw new InputError(`empty cue recipe '${recipe}'`);
  return sums.length === 1 ? sums[0] : combineCueSets(sums, "mean");
}

/** What every run of a pipeline setup starts from: tokens, labels, the CAM baseline, cues. */
interface PreparedInputs {
  recipe: string;
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
}

type Clock = <T>(name: string, f: () => Promise<T>) => Promise<T>;

/** Features (cached), CAM baseline (cached at `camPath`), round-1 cues (cached). */
async function prepareInputs(opts: PipelineOptions, clock: Clock): Promise<PreparedInputs> {
  const { dataset, encoder } = opts;
  const workers = opts.workers ?? 2;
  const evalSplit = opts.evalSplit ?? "test";
  const recipe = opts.cues ?? (opts.classifier ? "inet5*cam*prior" : "cam*prior");
  const featureCache = opts.cacheDir === undefined ? undefined : join(opts.cacheDir, "features");
  const fq = { workers, cacheDir: featureCache, progress: opts.progress };
  const train = await clock(
    "features",
    () => extractFeatures(encoder, dataset, "train", { ...fq, views: ["test", "flip"] }),
  );
  const test = await clock(
    "features",
    () =>
      extractFeatures(encoder, dataset, evalSplit, {
        ...fq,
        views: opts.flipTta ? ["test", "flip"] : ["test"],
      }),
  );
  const trainMeta = dataset.splits.train;
  const labels = labelsFor(train.ids, trainMeta);

  // validation: the dataset's val split, else a held-out part of train
  let val: FeatureSet, valMeta: WsolMetadata, valIds: string[], fitIds: string[];
  if (dataset.splits.val) {
    val = await clock(
      "features",
      () => extractFeatures(encoder, dataset, "val", { ...fq, views: ["test"] }),
    );
    valMeta = dataset.splits.val;
    valIds = [...val.ids];
    fitIds = [...train.ids];
  } else {
    const shuffled = new Rng(opts.train?.seed ?? 0).shuffle([...train.ids]);
    const nVal = Math.round((opts.valFraction ?? 0.2) * shuffled.length);
    valIds = shuffled.slice(0, nVal);
    fitIds = shuffled.slice(nVal);
    val = train;
    valMeta = trainMeta;
  }

  const cam = await clock("train cam", () =>
    cachedCamHead(
      train,
      labels,
      {
        epochs: 60,
        optimizer: { lr: 3e-2, weightDecay: 1e-4 },
        ...opts.cam,
        numClasses: opts.anchors.count,
        ids: fitIds,
        progress: opts.progress,
      },
      opts.camPath ??
        (opts.outDir && opts.resume ? join(opts.outDir, "cam.safetensors") : undefined),
    ));
  const cues = await clock(
    "cues",
    () =>
      buildCues(recipe, {
        dataset,
        encoder,
        classifier: opts.classifier,
        features: train,
        labels,
        cam,
        workers,
        cacheDir: opts.cacheDir,
        progress: opts.progress,
      }),
  );
  // cue quality on the validation images (train images held out, or none when val is separate)
  const cueValidation = dataset.splits.val || valIds.length === 0
    ? null
    : evaluateCueSet(cues, trainMeta, train, {
      ids: valIds,
      camCurveInterval: opts.camCurveInterval,
    });

  return { recipe, train, test, labels, val, valMeta, valIds, fitIds, cam, cues, cueValidation };
}

/**
 * Fill the caches a run of `opts` reads — train/val/test features (the test split's flip view
 * too when `flipTta`), the CAM baseline at `camPath`, the round-1 cues — and return the seconds
 * each took. Runs that share them (all variants of an experiment) can then start in parallel
 * without computing them twice.
 */
export async function warmPipelineCaches(opts: PipelineOptions): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  const p = await prepareInputs(opts, makeClock(timings));
  p.cam.dispose();
  return timings;
}

function makeClock(timings: Record<string, number>): Clock {
  return async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    timings[name] = (timings[name] ?? 0) + (performance.now() - t0) / 1000;
    return r;
  };
}

/**
 * Run the experiment. The caller disposes `result.model` and `result.cam`.
 *
 * @example
 * ```ts
 * const ds = await ensureDefaultDataset();
 * const r = await runTedLocPipeline({ dataset: ds, encoder: await defaultEncoder(),
 *   classifier: await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR), anchors: await readAnchors(ds.anchorsPath!) });
 * console.table(r.rows.map((x) => ({ method: x.method, ...x.metrics })));
 * ```
 */
export async function runTedLocPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const { dataset, encoder } = opts;
  const evalSplit = opts.evalSplit ?? "test";
  const timings: Record<string, number> = {};
  const clock = makeClock(timings);
  const { recipe, train, test, labels, val, valMeta, valIds, fitIds, cam, cues, cueValidation } =
    await prepareInputs(opts, clock);
  const ev = { progress: opts.progress, camCurveInterval: opts.camCurveInterval };

  const rounds = opts.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new InputError(`rounds must be a positive integer, got ${rounds}`);
  }
  let result: TrainResult | null = null;
  const roundMetrics: BoxMetrics[] = [];
  let roundCues = cues;
  for (let r = 1; r <= rounds; r++) {
    if (result) {
      roundCues = await headCueSource(tedLocHead(result.model)).produce({
        ids: train.ids,
        grid: train.grid,
        features: train,
      });
      roundMetrics.push(
        (await evaluateHead(tedLocHead(result.model), test, dataset.splits[evalSplit], ev))
          .metrics,
      );
      result.model.dispose();
    }
    const dir = opts.outDir ? (r === 1 ? opts.outDir : join(opts.outDir, `round${r}`)) : undefined;
    result = await clock("train tedloc", () =>
      trainTedLoc(
        { features: train, labels, cues: roundCues, anchors: opts.anchors, ids: fitIds },
        opts.train ?? {},
        {
          outDir: dir,
          resume: opts.resume,
          progress: opts.progress,
          encoderSpec: encoder.spec ?? null,
          signal: opts.signal,
        },
      ));
    if (opts.signal?.aborted) {
      result.model.dispose();
      cam.dispose();
      throw new InputError(
        `interrupted after epoch ${result.epochsDone}: run again with resume to continue`,
        { file: dir },
      );
    }
  }
  result = result!;
  const model = result.model;
  const ted = tedLocHead(model);
  const validation: Record<string, BoxMetrics> = {};
  if (valIds.length > 0) {
    validation.tedloc = (await evaluateHead(ted, val, valMeta, { ...ev, ids: valIds })).metrics;
    if (opts.flipTta && val.views.includes("flip")) {
      validation["tedloc+flip"] = (await evaluateHead(ted, val, valMeta, {
        ...ev,
        ids: valIds,
        flipTta: true,
      })).metrics;
    }
    validation.cam = (await evaluateHead(cam, val, valMeta, { ...ev, ids: valIds })).metrics;
  }

  // encoder time per image on a batch of 16 test images
  const sample = test.ids.slice(0, 16);
  const { images } = await loadImageBatch(dataset, sample, { transform: "test", split: evalSplit });
  tf.tidy(() => encoder.encode(images)).dispose(); // warm-up
  const t0 = performance.now();
  tf.tidy(() => encoder.encode(images)).dispose();
  const encoderMs = (performance.now() - t0) / sample.length;
  images.dispose();

  const space = buildAnchorSpace(opts.anchors, result.config.anchors);
  const vanilla = new VanillaSimilarityHead(test.dim, space, result.config.anchors.projSeed);
  const N = test.grid[0] * test.grid[1];
  const rows: PipelineRow[] = [];
  const testMeta = dataset.splits[evalSplit];
  const baselines = opts.baselines ?? true;
  const evals: { head: LocalizationHead; flip: boolean }[] = [
    { head: ted, flip: false },
    ...(opts.flipTta ? [{ head: ted, flip: true }] : []),
    ...(baselines ? [{ head: cam, flip: false }, { head: vanilla, flip: false }] : []),
    ...(baselines && opts.flipTta ? [{ head: cam, flip: true }] : []),
  ];
  for (const { head, flip } of evals) {
    const method = flip ? `${head.name}+flip` : head.name;
    const r: EvaluationResult = await clock(
      `eval ${method}`,
      () =>
        evaluateHead(head, test, testMeta, {
          ...ev,
          scoremapDir: opts.outDir && method === "tedloc"
            ? join(opts.outDir, "scoremaps")
            : undefined,
          flipTta: flip,
        }),
    );
    if (method === "tedloc") roundMetrics.push(r.metrics);
    const hp = head.parameterCount();
    rows.push({
      method,
      metrics: r.metrics,
      params: { encoder: encoder.parameterCount(), head: hp, total: encoder.parameterCount() + hp },
      headFlops: head.flops(N) * (flip ? 2 : 1),
      msPerImage: encoderMs * (flip ? 2 : 1) + r.headMsPerImage,
    });
  }
  vanilla.dispose();
  if (baselines) {
    rows.push({
      method: "center-prior",
      metrics: evaluateFixedMap(centerGaussianMap(), testMeta, {
        camCurveInterval: opts.camCurveInterval,
      }),
      params: { encoder: 0, head: 0, total: 0 },
      headFlops: 0,
      msPerImage: 0,
    });
  }
  const out: PipelineResult = {
    rows,
    validation,
    roundMetrics,
    cueValidation,
    config: {
      recordVersion: PIPELINE_RECORD_VERSION,
      flipTta: !!opts.flipTta,
      cues: recipe,
      cuesSource: cues.source,
      train: result.config,
      valIds: valIds.length,
      fitIds: fitIds.length,
    },
    timings,
    model,
    cam,
  };
  if (opts.outDir) {
    const { model: _m, cam: _c, ...json } = out;
    await writeTextAtomic(join(opts.outDir, "results.json"), JSON.stringify(json, null, 2) + "\n");
  }
  return out;
}
