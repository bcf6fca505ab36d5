/**
 * The paper's experiments as named configs: `configs/<dataset>/<variant>.json` (a base per
 * dataset; each Table 2 / Table 5 variant an override of it). The notebooks and
 * `deno task experiment` resolve the same files and run them through {@link runConfigs}, so
 * they share one set of runs (`runs/<data>/<run key>/`); `deno task train --config` runs the
 * very same resolved config.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import type { WsolDataset } from "../data/dataset.ts";
import { cubRootFromEnv } from "../data/cub.ts";
import type { Anchors } from "../text/anchors.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import type { TfjsCnnClassifier } from "../model/mobilenet.ts";
import type { CamHead } from "../model/baselines.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import { configsDir, resolveRunConfig } from "../config/resolve.ts";
import type { DatasetProfile, RunConfig } from "../config/schema.ts";
import { disposeRunInputs, loadRunInputs } from "./inputs.ts";
import { loadRunModels, readRunRecord, runLocation, type RunRecord } from "./run.ts";
import { runConfigs, type RunConfigsOptions } from "./worker.ts";

/** Which data an experiment runs on. */
export type ExperimentDataset = "default" | "cub50";

/** Experiment variants: the main run and the paper's ablations (a config file each). */
export type ExperimentVariant =
  | "main"
  | "loss-kd"
  | "loss-kd-pcl"
  | "loss-kd-pcl-icl"
  | "ortho-none"
  | "ortho-centred"
  | "ortho-qr"
  | "ortho-symmetric"
  | "cam-strong"
  | "cam-pw13";

/** Table 2 rows (loss ablation), in paper order. */
export const LOSS_ABLATION: ExperimentVariant[] = ["loss-kd", "loss-kd-pcl", "loss-kd-pcl-icl"];
/** Table 5 rows (anchor orthogonalization): raw anchors, centred only (ours), QR, symmetric (ours). */
export const ORTHO_ABLATION: ExperimentVariant[] = [
  "ortho-none",
  "ortho-centred",
  "ortho-qr",
  "ortho-symmetric",
];
/** Every variant of the paper's tables (`--variant all`). */
export const ALL_VARIANTS: ExperimentVariant[] = ["main", ...LOSS_ABLATION, ...ORTHO_ABLATION];
/**
 * Variants beyond the paper's tables, run only when named, and only for a dataset that has
 * their config file (CUB-50; docs/strong_cam.md): `cam-strong` = the strongest CAM of the frozen
 * encoder by a rule fixed before looking (layer and epochs chosen on held-out images),
 * `cam-pw13` = CAM on the last feature layer trained to convergence.
 */
export const EXTRA_VARIANTS: ExperimentVariant[] = ["cam-strong", "cam-pw13"];

/** What a finished run leaves in `results.json`. */
export type ExperimentRecord = RunRecord;

/** An experiment: its resolved variant configs and the inputs they share. */
export interface ExperimentContext {
  kind: ExperimentDataset;
  profile: DatasetProfile;
  /** Training seed of every variant. */
  seed: number;
  dataset: WsolDataset;
  encoder: PatchEncoder;
  classifier?: TfjsCnnClassifier;
  anchors: Anchors;
  /** Human-readable description of the setup (backbone, anchors, sizes). */
  description: string;
  /** The resolved config of each variant. */
  configs: Map<ExperimentVariant, RunConfig>;
  /** Parent of the run folders (default `<project>/runs`). */
  runsDir?: string;
}

/** Options of {@link loadExperiment}. */
export interface LoadExperimentOptions {
  /** Default `$TEDLOC_PROFILE`, then `quick`. */
  profile?: DatasetProfile;
  /** CUB-200-2011 root (default `cubRootFromEnv()`). */
  cubRoot?: string;
  /** MobileNet folder (overrides the config's encoder.model). */
  mobilenetDir?: string;
  /** Parent of the run folders (default `<project>/runs`). */
  runsDir?: string;
  /** Training seed (default 0); a seed is part of each run's config, so its runs are its own. */
  seed?: number;
  /** Further `key.path=value` overrides applied to every variant. */
  set?: string[];
}

/** Whether the CUB-50 experiment can run here (the CUB root exists). */
export function cubAvailable(cubRoot?: string): boolean {
  return (cubRoot ?? cubRootFromEnv()) !== null;
}

/** The config file of a variant: `configs/<dataset>/<variant>.json`. */
export function experimentConfigFile(kind: ExperimentDataset, variant: ExperimentVariant): string {
  return join(configsDir(), kind, `${variant}.json`);
}

function profileFromEnv(p?: string): DatasetProfile {
  const v = p ?? Deno.env.get("TEDLOC_PROFILE") ?? "quick";
  if (!["ci", "quick", "full"].includes(v)) {
    throw new InputError(`unknown profile '${v}' (TEDLOC_PROFILE): use ci, quick or full`);
  }
  return v as DatasetProfile;
}

/**
 * Resolve every variant's config of an experiment and load the inputs they share.
 *
 * @example
 * ```ts
 * const ctx = await loadExperiment("default", { profile: "ci" });
 * const recs = await runExperiments(ctx, ["main"]);
 * ```
 */
export async function loadExperiment(
  kind: ExperimentDataset,
  opts: LoadExperimentOptions = {},
): Promise<ExperimentContext> {
  const profile = profileFromEnv(opts.profile);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new InputError(`seed must be a non-negative integer, got ${seed}`);
  }
  if (kind === "cub50" && !cubAvailable(opts.cubRoot)) {
    throw new InputError(
      "CUB-200-2011 not found: set TEDLOC_CUB_ROOT or TEDLOC_SHARED_DATA (../shared/data)",
    );
  }
  const override = {
    train: { seed },
    ...(opts.cubRoot ? { dataset: { path: opts.cubRoot } } : {}),
    ...(opts.mobilenetDir ? { encoder: { model: opts.mobilenetDir } } : {}),
  };
  const configs = new Map<ExperimentVariant, RunConfig>();
  for (const v of [...ALL_VARIANTS, ...EXTRA_VARIANTS]) {
    if (EXTRA_VARIANTS.includes(v) && !(await isFile(experimentConfigFile(kind, v)))) continue;
    configs.set(
      v,
      await resolveRunConfig({
        file: experimentConfigFile(kind, v),
        profile,
        override,
        set: opts.set,
      }),
    );
  }
  const inputs = await loadRunInputs(configs.get("main")!);
  return {
    kind,
    profile,
    seed,
    dataset: inputs.dataset,
    encoder: inputs.encoder,
    classifier: inputs.classifier,
    anchors: inputs.anchors,
    description: inputs.description,
    configs,
    runsDir: opts.runsDir,
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The resolved config of a variant. */
export function experimentConfig(ctx: ExperimentContext, variant: ExperimentVariant): RunConfig {
  const cfg = ctx.configs.get(variant);
  if (!cfg) {
    throw new InputError(
      `unknown experiment variant '${variant}' for ${ctx.kind}` +
        (EXTRA_VARIANTS.includes(variant)
          ? ` (no ${experimentConfigFile(ctx.kind, variant)})`
          : ""),
    );
  }
  return cfg;
}

/** The run folder of a variant (equal configs share one). */
export async function experimentRunDir(
  ctx: ExperimentContext,
  variant: ExperimentVariant,
): Promise<string> {
  const cfg = experimentConfig(ctx, variant);
  return (await runLocation(cfg, await loadRunInputs(cfg), { runsDir: ctx.runsDir })).dir;
}

/** The record of a finished run of `variant`, or null when it has not run yet. */
export async function readExperimentRecord(
  ctx: ExperimentContext,
  variant: ExperimentVariant,
): Promise<ExperimentRecord | null> {
  return await readRunRecord(experimentConfig(ctx, variant), { runsDir: ctx.runsDir });
}

/**
 * Make sure every variant has a finished run (missing ones run in child processes, equal
 * configs once) and return their records.
 *
 * @example
 * ```ts
 * const ctx = await loadExperiment("default");
 * const recs = await runExperiments(ctx, ["main", ...LOSS_ABLATION]);
 * console.log(recs.get("loss-kd")!.rows[0].metrics.maxBoxAccV2);
 * ```
 */
export async function runExperiments(
  ctx: ExperimentContext,
  variants: ExperimentVariant[],
  opts: Omit<RunConfigsOptions, "runsDir"> = {},
): Promise<Map<ExperimentVariant, ExperimentRecord>> {
  const recs = await runConfigs(variants.map((v) => experimentConfig(ctx, v)), {
    ...opts,
    runsDir: ctx.runsDir,
  });
  return new Map(variants.map((v, i) => [v, recs[i]]));
}

/** The trained TeD-Loc model and CAM baseline of a finished variant. The caller disposes both. */
export async function loadExperimentModels(
  ctx: ExperimentContext,
  variant: ExperimentVariant = "main",
): Promise<{ model: TedLocModel; cam: CamHead }> {
  return await loadRunModels(await experimentRunDir(ctx, variant));
}

/** Free the experiment's encoder and classifier (and every other loaded run input). */
export async function disposeExperiment(_ctx?: ExperimentContext): Promise<void> {
  await disposeRunInputs();
}

/** Mean, sample standard deviation and range of one metric over seeds. */
export interface SeedStat {
  mean: number;
  sd: number;
  min: number;
  max: number;
  n: number;
}

/**
 * One row's metrics over the records of several seeds (same variant): mean ± sd per metric.
 * Metrics a record lacks (e.g. Top-1 cls of the centre prior) are left out.
 *
 * @example
 * ```ts
 * const s = seedSummary([rec0, rec1, rec2], "tedloc");
 * console.log(`${s.top1Cls.mean.toFixed(1)} ± ${s.top1Cls.sd.toFixed(1)}`);
 * ```
 */
export function seedSummary(
  records: ExperimentRecord[],
  method = "tedloc",
): Record<"maxBoxAcc" | "maxBoxAccV2" | "top1Loc" | "top1Cls", SeedStat> {
  if (records.length === 0) throw new InputError("seedSummary: no records");
  const metrics = ["maxBoxAcc", "maxBoxAccV2", "top1Loc", "top1Cls"] as const;
  const out = {} as Record<(typeof metrics)[number], SeedStat>;
  for (const m of metrics) {
    const xs: number[] = [];
    for (const r of records) {
      const row = r.rows.find((x) => x.method === method);
      if (!row) throw new InputError(`seedSummary: a record has no '${method}' row`);
      const v = row.metrics[m];
      if (typeof v === "number") xs.push(v);
    }
    if (xs.length === 0) continue;
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length > 1
      ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
      : 0;
    out[m] = { mean, sd, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
  }
  return out;
}
