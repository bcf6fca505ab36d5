/**
 * Per-epoch curves on held-out images: Top-1 cls, MaxBoxAcc and MaxBoxAccV2 of TeD-Loc and
 * of the CAM baseline after every epoch, to test the paper's claim that WSOL methods reach
 * their best classification and their best localization at different epochs while TeD-Loc
 * gets both from one model.
 *
 * Held-out = the pipeline's own choice (lib/run/pipeline.ts): the dataset's `val` split when
 * it has one, else the seeded `dataset.valFraction` of train, the models training on the
 * rest — never the test split. Both heads train exactly as a run's round 1 and CAM stage do
 * (same configs, seeds and loop, lib/train/fit.ts), with an `onEpochEnd` that scores the
 * head so far; a run of the same config therefore ends on the curves' last points.
 *
 * An analysis beside the runs, not part of them: no config field, so no run key changes.
 * Results are cached by content key in `<runsDir>/<data>/curves/<key>/curves.json`.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import { projectPath } from "../util/paths.ts";
import { contentKey, runKey } from "../config/identity.ts";
import type { DatasetProfile, RunConfig } from "../config/schema.ts";
import { configsDir, resolveRunConfig } from "../config/resolve.ts";
import type { BoxMetrics } from "../metrics/box.ts";
import { type LocalizationHead, tedLocHead } from "../model/baselines.ts";
import { evaluateHead } from "../eval/evaluate.ts";
import { trainTedLoc } from "../train/trainer.ts";
import { trainCamHead } from "../train/cam.ts";
import { loadRunInputs } from "./inputs.ts";
import { type PreparedInputs, preparedRunInputs } from "./pipeline.ts";
import { camTrainInput, trainConfigInput } from "./run_config.ts";
import { defaultCacheDir } from "./run.ts";
import { cachedStage } from "./stages.ts";

/** Bumped when what a curves record holds or how it is computed changes. */
export const CURVES_VERSION = 1;

/** Heads a curve can follow. */
export type CurveMethod = "tedloc" | "cam";

/** Metrics a curve records per evaluated epoch. */
export type CurveMetric = "top1Cls" | "top5Cls" | "maxBoxAcc" | "maxBoxAccV2" | "top1Loc";

/** One evaluated epoch of a curve (metrics in %, on the held-out images). */
export interface CurvePoint {
  /** Epoch (1-based) after which the head was scored. */
  epoch: number;
  /** Mean training loss of that epoch. */
  loss: number;
  top1Cls: number;
  top5Cls: number;
  maxBoxAcc: number;
  maxBoxAccV2: number;
  top1Loc: number;
}

/** One head's curve and the epochs where each metric peaks. */
export interface Curve {
  method: CurveMethod;
  /** Training epochs of the head (the config's `train.epochs` or `cam.epochs`). */
  epochs: number;
  /** Scored every this many epochs (and at the last one). */
  evalEvery: number;
  points: CurvePoint[];
  /** Epoch of the best value of each metric (first epoch on ties), see {@link bestEpoch}. */
  best: Record<CurveMetric, number>;
}

/** What `curves.json` holds. */
export interface CurvesRecord {
  version: number;
  key: string;
  /** The resolved config whose round 1 and CAM stage the curves follow. */
  runConfig: RunConfig;
  description: string;
  /** Where the held-out images come from: the `val` split or held-out train images. */
  heldOut: "val split" | "held-out train";
  valIds: number;
  fitIds: number;
  curves: Partial<Record<CurveMethod, Curve>>;
  /** Seconds per head (training plus per-epoch scoring). */
  seconds: Partial<Record<CurveMethod, number>>;
}

/** Options of {@link computeCurves}. */
export interface CurvesOptions {
  /** Heads to follow (default both, TeD-Loc first). */
  methods?: CurveMethod[];
  /** Score every this many epochs per head (default 1: every epoch); the last epoch always. */
  evalEvery?: Partial<Record<CurveMethod, number>>;
  /** Parent of the curves folders (default `<project>/runs`): `<runsDir>/<data>/curves/<key>`. */
  runsDir?: string;
  /** Stage caches and features (default `$TEDLOC_CACHE_DIR`, then `<project>/data/cache`). */
  cacheDir?: string;
  workers?: number;
  progress?: ProgressOptions | false;
  /** Compute again even when cached. */
  force?: boolean;
}

/** Held-out part of train the curves use by default when a dataset has no val split. */
export const CURVES_VAL_FRACTION = 0.2;

/**
 * The config the curves follow by default: the dataset's base (`configs/<kind>/base.json`,
 * one round) with {@link CURVES_VAL_FRACTION} of train held out (ignored when the dataset has
 * a val split). `deno task curves` and notebook 02 resolve the same one, so they share a cache.
 *
 * @example
 * ```ts
 * const cfg = await curvesConfig("cub50", "quick");
 * ```
 */
export async function curvesConfig(
  kind: "default" | "cub50",
  profile: DatasetProfile,
  opts: { valFraction?: number; set?: string[]; file?: string } = {},
): Promise<RunConfig> {
  return await resolveRunConfig({
    file: opts.file ?? join(configsDir(), kind, "base.json"),
    profile,
    overrides: [{
      layer: { dataset: { valFraction: opts.valFraction ?? CURVES_VAL_FRACTION } },
      where: "--val-fraction",
    }],
    set: opts.set,
  });
}

const METRICS: CurveMetric[] = ["top1Cls", "top5Cls", "maxBoxAcc", "maxBoxAccV2", "top1Loc"];

/**
 * The epoch of a curve's best value of `metric`: the argmax over its points, the earliest
 * epoch on ties (the checkpoint one would have kept when selecting on that metric).
 *
 * @example
 * ```ts
 * bestEpoch([{ epoch: 1, top1Cls: 40 }, { epoch: 2, top1Cls: 55 }] as CurvePoint[], "top1Cls"); // 2
 * ```
 */
export function bestEpoch(points: CurvePoint[], metric: CurveMetric): number {
  if (points.length === 0) throw new InputError("bestEpoch: the curve has no points");
  let best = points[0];
  for (const p of points) if (p[metric] > best[metric]) best = p;
  return best.epoch;
}

/** Whether a curve's classification and localization peaks fall on the same epoch. */
export interface PeakAgreement {
  /** Best epoch of Top-1 cls. */
  cls: number;
  /** Best epoch of the localization metric. */
  loc: number;
  /** `loc - cls` in epochs (0: the peaks coincide). */
  gap: number;
  coincide: boolean;
  /** What the head would lose by taking the other metric's best epoch (points of %). */
  clsLostAtLocPeak: number;
  locLostAtClsPeak: number;
}

/**
 * Compare the Top-1 cls peak of a curve with its localization peak (default MaxBoxAccV2).
 *
 * @example
 * ```ts
 * const a = peakAgreement(record.curves.cam!);
 * console.log(a.coincide ? "same epoch" : `${Math.abs(a.gap)} epochs apart`);
 * ```
 */
export function peakAgreement(
  curve: Curve,
  loc: "maxBoxAcc" | "maxBoxAccV2" = "maxBoxAccV2",
): PeakAgreement {
  const cls = bestEpoch(curve.points, "top1Cls"), locEpoch = bestEpoch(curve.points, loc);
  const at = (e: number) => curve.points.find((p) => p.epoch === e)!;
  return {
    cls,
    loc: locEpoch,
    gap: locEpoch - cls,
    coincide: cls === locEpoch,
    clsLostAtLocPeak: at(cls).top1Cls - at(locEpoch).top1Cls,
    locLostAtClsPeak: at(locEpoch)[loc] - at(cls)[loc],
  };
}

/** A point from an evaluation's metrics (classification metrics are 0 when absent). */
function pointOf(epoch: number, loss: number, m: BoxMetrics): CurvePoint {
  return {
    epoch,
    loss,
    top1Cls: m.top1Cls ?? 0,
    top5Cls: m.top5Cls ?? 0,
    maxBoxAcc: m.maxBoxAcc,
    maxBoxAccV2: m.maxBoxAccV2,
    top1Loc: m.top1Loc ?? 0,
  };
}

function checkEvery(method: CurveMethod, every: number): number {
  if (!Number.isInteger(every) || every < 1) {
    throw new InputError(`curves: evalEvery of ${method} must be a positive integer, got ${every}`);
  }
  return every;
}

/**
 * The curves of a config's TeD-Loc (round 1) and CAM baseline on its held-out images,
 * computed once per content key and then read back from `curves.json`.
 *
 * @example
 * ```ts
 * const cfg = await resolveRunConfig({ file: "configs/cub50/base.json",
 *   set: ["dataset.valFraction=0.2"] });
 * const { record } = await computeCurves(cfg, { runsDir: "runs" });
 * console.log(record.curves.tedloc!.best, record.curves.cam!.best);
 * ```
 */
export async function computeCurves(
  cfg: RunConfig,
  opts: CurvesOptions = {},
): Promise<{ record: CurvesRecord; dir: string }> {
  const methods = opts.methods ?? ["tedloc", "cam"];
  if (methods.length === 0) throw new InputError("curves: no method to follow");
  for (const m of methods) {
    if (m !== "tedloc" && m !== "cam") {
      throw new InputError(`curves: unknown method '${m}' (use tedloc, cam)`);
    }
  }
  const every = {
    tedloc: checkEvery("tedloc", opts.evalEvery?.tedloc ?? 1),
    cam: checkEvery("cam", opts.evalEvery?.cam ?? 1),
  };
  const inputs = await loadRunInputs(cfg);
  if (!inputs.dataset.splits.val && cfg.dataset.valFraction <= 0) {
    throw new InputError(
      `curves need held-out images: dataset ${inputs.dataset.name} has no val split and ` +
        `dataset.valFraction is 0 (e.g. --set dataset.valFraction=0.2)`,
    );
  }
  const key = await contentKey({
    curves: CURVES_VERSION,
    run: await runKey(cfg, inputs.dataKey),
    methods,
    every: methods.map((m) => every[m]),
  });
  const dir = join(opts.runsDir ?? projectPath("runs"), inputs.dataName, "curves", key);
  const record = await cachedStage<CurvesRecord>({
    root: "",
    stage: "curves",
    dir,
    key: { curvesKey: key },
    force: opts.force,
    read: async (d) => JSON.parse(await Deno.readTextFile(join(d, "curves.json"))),
    compute: async (d) => {
      const cacheDir = opts.cacheDir ?? defaultCacheDir();
      const p = await preparedRunInputs(cfg, inputs, {
        cacheDir,
        workers: opts.workers,
        progress: opts.progress,
      });
      const rec: CurvesRecord = {
        version: CURVES_VERSION,
        key,
        runConfig: cfg,
        description: inputs.description,
        heldOut: inputs.dataset.splits.val ? "val split" : "held-out train",
        valIds: p.valIds.length,
        fitIds: p.fitIds.length,
        curves: {},
        seconds: {},
      };
      try {
        for (const m of methods) {
          const t0 = performance.now();
          rec.curves[m] = m === "tedloc"
            ? await tedLocCurve(cfg, inputs.anchors, p, every.tedloc, opts.progress)
            : await camCurve(cfg, p, inputs.anchors.count, every.cam, opts.progress);
          rec.seconds[m] = (performance.now() - t0) / 1000;
        }
      } finally {
        p.cam.dispose();
      }
      await writeTextAtomic(join(d, "curves.json"), JSON.stringify(rec, null, 2) + "\n");
      return rec;
    },
  });
  return { record, dir };
}

/** A scorer for `onEpochEnd`: evaluates every `every` epochs (and the last) on held-out images. */
function heldOutScorer(
  method: CurveMethod,
  p: PreparedInputs,
  cfg: RunConfig,
  epochs: number,
  every: number,
  progress: ProgressOptions | false | undefined,
) {
  const scored = new Map<number, BoxMetrics>();
  const bar = progress === false
    ? null
    : new Progress(`curves ${method}`, Math.ceil(epochs / every), {
      unit: "eval",
      ...(progress ?? {}),
    });
  const score = async (head: LocalizationHead, epoch: number) => {
    if (epoch % every !== 0 && epoch !== epochs) return {};
    const { metrics } = await evaluateHead(head, p.val, p.valMeta, {
      ids: p.valIds,
      camCurveInterval: cfg.eval.camCurveInterval,
      progress: false,
    });
    scored.set(epoch, metrics);
    bar?.tick(
      1,
      `epoch ${epoch}/${epochs} cls ${metrics.top1Cls?.toFixed(1)} V2 ${
        metrics.maxBoxAccV2.toFixed(1)
      }`,
    );
    return {};
  };
  const finish = (
    history: { epoch: number; loss: number }[],
    epochsTrained: number,
  ): Curve => {
    bar?.done();
    const points = history.filter((h) => scored.has(h.epoch))
      .map((h) => pointOf(h.epoch, h.loss, scored.get(h.epoch)!));
    const best = Object.fromEntries(METRICS.map((k) => [k, bestEpoch(points, k)])) as Record<
      CurveMetric,
      number
    >;
    return { method, epochs: epochsTrained, evalEvery: every, points, best };
  };
  return { score, finish };
}

/** TeD-Loc's round 1 as the run trains it (no checkpoint folder), scored after each epoch. */
async function tedLocCurve(
  cfg: RunConfig,
  anchors: Parameters<typeof trainTedLoc>[0]["anchors"],
  p: PreparedInputs,
  every: number,
  progress: ProgressOptions | false | undefined,
): Promise<Curve> {
  const epochs = cfg.train.epochs;
  const s = heldOutScorer("tedloc", p, cfg, epochs, every, progress);
  const r = await trainTedLoc(
    { features: p.train, labels: p.labels, cues: p.cues, anchors, ids: p.fitIds },
    trainConfigInput(cfg),
    { progress, validate: (model, epoch) => s.score(tedLocHead(model), epoch) },
  );
  r.model.dispose();
  return s.finish(r.history, epochs);
}

/** The CAM baseline as the run's CAM stage trains it, scored after each epoch. */
async function camCurve(
  cfg: RunConfig,
  p: PreparedInputs,
  numClasses: number,
  every: number,
  progress: ProgressOptions | false | undefined,
): Promise<Curve> {
  const epochs = cfg.cam.epochs;
  const s = heldOutScorer("cam", p, cfg, epochs, every, progress);
  const r = await trainCamHead(p.train, p.labels, {
    ...camTrainInput(cfg),
    numClasses,
    ids: p.fitIds,
    progress,
    onEpochEnd: (cam, epoch) => s.score(cam, epoch),
  });
  r.cam.dispose();
  return s.finish(r.history, epochs);
}
