/**
 * A run = one resolved config. {@link runConfig} computes it (or reads it back) in a run
 * folder `runs/<data>/<run key>/`: the resolved `config.json`, `results.json` (the record),
 * the final `last.safetensors` and `metrics.jsonl`, the CAM baseline `cam.safetensors` and
 * TeD-Loc's test `scoremaps/`. The run key hashes the config (labels left out), the data's
 * identity and the record version, so equal configs share one run and any change gets a new one.
 *
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../io/atomic.ts";
import { InputError } from "../io/errors.ts";
import { projectPath } from "../util/paths.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { RunConfig } from "../config/schema.ts";
import { RUN_RECORD_VERSION, runKey } from "../config/identity.ts";
import type { CamHead } from "../model/baselines.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import { loadRunInputs, type RunInputs } from "./inputs.ts";
import { type PipelineResult, runPipeline, warmPipelineCaches } from "./pipeline.ts";
import { parseCueRecipe } from "./cue_recipe.ts";
import { readCamHead, writeCamHead } from "../train/cam.ts";
import type { BoxMetrics } from "../metrics/box.ts";
import { loadTedLocCheckpoint, setBoxThreshold, setExtraInputSizes } from "../train/checkpoint.ts";
import { cachedStage, stageFinished } from "./stages.ts";

/** What a finished run leaves in `results.json`. */
export type RunRecord = Omit<PipelineResult, "model" | "cam"> & {
  /** {@link RUN_RECORD_VERSION} of the code that made it. */
  recordVersion: number;
  runKey: string;
  /** The resolved config it ran. */
  runConfig: RunConfig;
  /** The data it ran on. */
  description: string;
};

/** Where and how runs are carried out (none of it changes a run's result). */
export interface RunOptions {
  /** Parent of the run folders (default `<project>/runs`); runs go to `<runsDir>/<data>/<key>`. */
  runsDir?: string;
  /** Use this run folder instead (e.g. `train --out`); it must not hold another config's run. */
  runDir?: string;
  /** Parent of the stage caches and features (default `$TEDLOC_CACHE_DIR`, then `<project>/data/cache`). */
  cacheDir?: string;
  workers?: number;
  /**
   * Run the frozen encoder on each batch inside training and evaluation instead of caching
   * its tokens (for caches larger than the disk; chosen anyway when the estimate exceeds the
   * free space). Slower per step, same result up to float16 rounding of batch composition.
   */
  encoderInLoop?: boolean;
  progress?: ProgressOptions | false;
  signal?: AbortSignal;
  /** Compute the run again even when finished (its cached stages are still reused). */
  force?: boolean;
}

/** Where stage caches and features go by default: `$TEDLOC_CACHE_DIR`, else `<project>/data/cache`. */
export function defaultCacheDir(): string {
  return Deno.env.get("TEDLOC_CACHE_DIR") || projectPath("data", "cache");
}

/** The run folder of a config and its key. */
export async function runLocation(
  cfg: RunConfig,
  inputs: RunInputs,
  opts: Pick<RunOptions, "runsDir" | "runDir"> = {},
): Promise<{ dir: string; key: string }> {
  const key = await runKey(cfg, inputs.dataKey);
  const dir = opts.runDir ?? join(opts.runsDir ?? projectPath("runs"), inputs.dataName, key);
  return { dir, key };
}

/** The finished record of a config's run, or null when it has not run (to the end) yet. */
export async function readRunRecord(
  cfg: RunConfig,
  opts: Pick<RunOptions, "runsDir" | "runDir"> = {},
): Promise<RunRecord | null> {
  const { dir, key } = await runLocation(cfg, await loadRunInputs(cfg), opts);
  if (!(await stageFinished(dir, { runKey: key }))) return null;
  return await readRecordFile(dir);
}

async function readRecordFile(dir: string): Promise<RunRecord> {
  const path = join(dir, "results.json");
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new InputError(`unreadable run record: ${(err as Error).message}`, { file: path });
  }
}

/**
 * Run a config (every stage, reusing finished ones) and return its record and folder; a
 * finished run is only read back.
 *
 * @example
 * ```ts
 * const cfg = await resolveRunConfig({ file: "configs/default/main.json", profile: "ci" });
 * const { record, dir } = await runConfig(cfg);
 * console.log(dir, record.rows[0].metrics.maxBoxAccV2);
 * ```
 */
export async function runConfig(
  cfg: RunConfig,
  opts: RunOptions = {},
): Promise<{ record: RunRecord; dir: string }> {
  parseCueRecipe(cfg.cues.recipe); // a bad recipe fails before any loading
  const inputs = await loadRunInputs(cfg);
  const { dir, key } = await runLocation(cfg, inputs, opts);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const record = await cachedStage({
    root: "",
    stage: "run",
    dir,
    key: { runKey: key },
    force: opts.force,
    whenBusy: "refuse",
    read: readRecordFile,
    compute: async (d) => {
      await writeTextAtomic(join(d, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
      const r = await runPipeline(cfg, inputs, {
        cacheDir,
        workers: opts.workers,
        encoderInLoop: opts.encoderInLoop,
        progress: opts.progress,
        signal: opts.signal,
        scoremapDir: join(d, "scoremaps"),
      });
      try {
        for (const f of ["last.safetensors", "metrics.jsonl"]) {
          await Deno.copyFile(join(r.checkpointDir, f), join(d, f));
        }
        await writeCamHead(join(d, "cam.safetensors"), r.cam);
      } finally {
        r.model.dispose();
        r.cam.dispose();
      }
      const { model: _m, cam: _c, checkpointDir: _d, ...rest } = r;
      const rec: RunRecord = {
        ...rest,
        recordVersion: RUN_RECORD_VERSION,
        runKey: key,
        runConfig: cfg,
        description: inputs.description,
      };
      await writeRunBoxThreshold(d, rec);
      await writeRunExtraInputSizes(d, rec);
      await writeTextAtomic(join(d, "results.json"), JSON.stringify(rec, null, 2) + "\n");
      return rec;
    },
  });
  return { record, dir };
}

/** The τ inference uses when a run has no held-out images to choose one on (test-free). */
export const DEFAULT_BOX_THRESHOLD = 0.5;

/**
 * The box threshold a run's TeD-Loc model was selected with: the best τ of MaxBoxAcc
 * (largest contour, δ = 0.5) on the held-out images, or {@link DEFAULT_BOX_THRESHOLD} when
 * the run held none out (e.g. CUB-50 trains on all its train images) — never a τ chosen on
 * the test split. `source` says which, in words.
 *
 * @example
 * ```ts
 * const { tau, source } = selectedBoxThreshold(record.validation);
 * ```
 */
export function selectedBoxThreshold(
  validation: Readonly<Record<string, BoxMetrics>>,
): { tau: number; source: string } {
  const m = validation.tedloc;
  const curve = m?.largest.find((c) => c.iou === 50);
  if (!m || !curve || m.count === 0) {
    return {
      tau: DEFAULT_BOX_THRESHOLD,
      source: `test-free default ${DEFAULT_BOX_THRESHOLD}: the run held out no images to ` +
        "choose τ on (the test split is never used for it)",
    };
  }
  return {
    tau: curve.bestTau,
    source: `best τ of MaxBoxAcc (δ = 0.5, largest contour) on ${m.count} held-out images ` +
      `(MaxBoxAcc ${curve.max.toFixed(1)} there)`,
  };
}

/**
 * Store {@link selectedBoxThreshold} of a run record in its run folder's `last.safetensors`
 * (metadata `box_threshold`, `box_threshold_source`), so `deno task localize` boxes as the
 * evaluation selected. {@link runConfig} does it when a run finishes; call it on run folders
 * finished before this existed.
 *
 * @example
 * ```ts
 * const { record, dir } = await runConfig(cfg);
 * await writeRunBoxThreshold(dir, record);
 * ```
 */
export async function writeRunBoxThreshold(
  dir: string,
  record: Pick<RunRecord, "validation">,
): Promise<{ tau: number; source: string }> {
  const t = selectedBoxThreshold(record.validation);
  await setBoxThreshold(join(dir, "last.safetensors"), t.tau, t.source);
  return t;
}

/**
 * Store a run's `eval.extraInputSizes` in its run folder's `last.safetensors` (metadata
 * `extra_input_sizes`; nothing when empty), so `deno task localize` fuses the maps of the same
 * input sizes as the evaluation. {@link runConfig} does it when a run finishes.
 *
 * @example
 * ```ts
 * const { record, dir } = await runConfig(cfg);
 * await writeRunExtraInputSizes(dir, record);
 * ```
 */
export async function writeRunExtraInputSizes(
  dir: string,
  record: { runConfig: { eval: Pick<RunConfig["eval"], "extraInputSizes"> } },
): Promise<number[]> {
  const sizes = record.runConfig.eval.extraInputSizes ?? [];
  await setExtraInputSizes(join(dir, "last.safetensors"), sizes);
  return sizes;
}

/** Fill the caches `cfg`'s run reads (features, CAM baseline, round-1 cues); seconds per stage. */
export async function warmRunCaches(
  cfg: RunConfig,
  opts: Pick<RunOptions, "cacheDir" | "workers" | "progress"> = {},
): Promise<Record<string, number>> {
  return await warmPipelineCaches(cfg, await loadRunInputs(cfg), {
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    workers: opts.workers,
    progress: opts.progress,
  });
}

/**
 * The trained TeD-Loc model and CAM baseline of a finished run folder. The caller disposes both.
 *
 * @example
 * ```ts
 * const { model, cam } = await loadRunModels((await runConfig(cfg)).dir);
 * ```
 */
export async function loadRunModels(dir: string): Promise<{ model: TedLocModel; cam: CamHead }> {
  const ckpt = join(dir, "last.safetensors"), camPath = join(dir, "cam.safetensors");
  for (const p of [ckpt, camPath]) {
    if (!(await Deno.stat(p).then(() => true, () => false))) {
      throw new InputError("no finished run here (run its config first)", { file: p });
    }
  }
  const { model } = await loadTedLocCheckpoint(ckpt);
  const cam = await readCamHead(camPath);
  if (!cam) {
    model.dispose();
    throw new InputError("unreadable CAM baseline", { file: camPath });
  }
  return { model, cam };
}
