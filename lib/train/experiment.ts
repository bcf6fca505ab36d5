/**
 * The paper's experiments as named, cached runs: one place that says which dataset,
 * encoder, anchors, cues and training config each experiment uses, so the notebooks and
 * `deno task experiment` run exactly the same thing and share their caches.
 *
 * A run lives in `runs/<dataset>/<variant>/` (checkpoint, metrics.jsonl, results.json,
 * score maps). Running it again resumes the finished checkpoint and only re-evaluates.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { projectPath } from "../util/paths.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { WsolDataset } from "../data/dataset.ts";
import { cubRootFromEnv, ensurePreparedCub } from "../data/cub.ts";
import { type DatasetProfile, ensureDefaultDataset } from "../data/synthetic.ts";
import { type Anchors, readAnchors, writeAnchors } from "../text/anchors.ts";
import {
  attributeAnchors,
  findCubIdList,
  readAttributeMatrix,
  readClassList,
} from "../text/sources.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import {
  DEFAULT_MOBILENET_DIR,
  MOBILENET_STRIDE16_LAYER,
  TfjsCnnClassifier,
  TfjsCnnEncoder,
} from "../model/mobilenet.ts";
import { resolveTrainConfig, type TrainConfigInput } from "./trainer.ts";
import { configDiff, loadTedLocCheckpoint } from "./checkpoint.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { hashCacheKey } from "./features.ts";
import type { CamHead } from "../model/baselines.ts";
import { readCamHead } from "./cam.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import {
  PIPELINE_RECORD_VERSION,
  type PipelineOptions,
  type PipelineResult,
  runTedLocPipeline,
  warmPipelineCaches,
} from "./pipeline.ts";
import { sharedDataPath } from "../util/paths.ts";

/** Which data an experiment runs on. */
export type ExperimentDataset = "default" | "cub50";

/** Experiment variants: the main run and the paper's ablations. */
export type ExperimentVariant =
  | "main"
  | "loss-kd"
  | "loss-kd-pcl"
  | "loss-kd-pcl-icl"
  | "ortho-none"
  | "ortho-qr"
  | "ortho-symmetric";

/** Table 2 rows (loss ablation), in paper order. */
export const LOSS_ABLATION: ExperimentVariant[] = ["loss-kd", "loss-kd-pcl", "loss-kd-pcl-icl"];
/** Table 5 rows (anchor orthogonalization), plus our symmetric variant. */
export const ORTHO_ABLATION: ExperimentVariant[] = ["ortho-none", "ortho-qr", "ortho-symmetric"];
/** Every variant, in the order runs are shared: a variant whose setup equals an earlier one's reuses its run. */
export const ALL_VARIANTS: ExperimentVariant[] = ["main", ...LOSS_ABLATION, ...ORTHO_ABLATION];

/** Everything an experiment needs, loaded once. */
export interface ExperimentContext {
  kind: ExperimentDataset;
  profile: DatasetProfile;
  /** Training seed of every variant (0 by default; other seeds get their own run root). */
  seed: number;
  dataset: WsolDataset;
  encoder: PatchEncoder;
  /** ImageNet classifier for the class-agnostic CAM cue (`inet<k>`). */
  classifier: TfjsCnnClassifier;
  anchors: Anchors;
  /** Human-readable description of the setup (backbone, anchors, sizes). */
  description: string;
  /** Folder holding this experiment's runs. */
  runRoot: string;
  /**
   * Identity of the inputs the runs are made from (hash of the dataset descriptor, the anchor
   * vectors and the encoder's id and weights): runs made from other inputs (a regenerated
   * default dataset, another MobileNet) are discarded.
   */
  dataKey: string;
  /** The options it was loaded with (forwarded to run subprocesses). */
  loadOptions: LoadExperimentOptions & { profile: DatasetProfile; runsDir: string };
}

/** Options of {@link loadExperiment}. */
export interface LoadExperimentOptions {
  /** Default `$TEDLOC_PROFILE`, then `quick`. */
  profile?: DatasetProfile;
  /** CUB-200-2011 root (default `cubRootFromEnv()`). */
  cubRoot?: string;
  /** MobileNet folder for CUB (default `$TEDLOC_MOBILENET_DIR`, then the shared 0.75, then the vendored 0.25). */
  mobilenetDir?: string;
  /** Parent of the run folders (default `<project>/runs`). */
  runsDir?: string;
  /**
   * Training seed (default 0). Seed k ≠ 0 runs in `runs/<dataset>-seed<k>/`, so repeating an
   * experiment over seeds never disturbs the seed-0 runs the notebooks read.
   */
  seed?: number;
}

/** Whether the CUB-50 experiment can run here (the CUB root exists). */
export function cubAvailable(cubRoot?: string): boolean {
  return (cubRoot ?? cubRootFromEnv()) !== null;
}

function profileFromEnv(p?: DatasetProfile): DatasetProfile {
  const v = p ?? (Deno.env.get("TEDLOC_PROFILE") as DatasetProfile | undefined) ?? "quick";
  if (!["ci", "quick", "full"].includes(v)) {
    throw new InputError(`unknown profile '${v}' (TEDLOC_PROFILE): use ci, quick or full`);
  }
  return v;
}

/** CUB class attribute anchors for the prepared dataset's classes, cached beside it. */
async function cubAttributeAnchors(cubRoot: string, dataset: WsolDataset): Promise<Anchors> {
  const path = join(dataset.root, "anchors-attributes.safetensors");
  try {
    const a = await readAnchors(path);
    if (a.count === dataset.classNames.length) return a;
  } catch {
    // not made yet
  }
  const attrPath = join(cubRoot, "attributes", "class_attribute_labels_continuous.txt");
  const matrix = await readAttributeMatrix(attrPath);
  const classes = await readClassList(join(dataset.root, "classes.txt"));
  const idList = await findCubIdList(attrPath);
  const a = attributeAnchors(matrix, classes, { idList: idList ?? undefined });
  const anchors: Anchors = {
    classNames: dataset.classNames,
    vectors: a.vectors,
    count: a.count,
    dim: a.dim,
    template: "",
    source: `attributes:CUB-200-2011 (${a.transform})`,
  };
  await writeAnchors(path, anchors);
  return anchors;
}

/**
 * Load an experiment's dataset, encoder, classifier and anchors.
 *
 * - `default`: the embedded synthetic dataset of the profile, vendored MobileNet v1 0.25
 *   (`conv_pw_11_relu`, 14×14×128), the dataset's attribute anchors.
 * - `cub50`: CUB-50 (prepared into `data/cache/cub50`), MobileNet v1 0.75 from the shared
 *   data when present (`conv_pw_11_relu`, 14×14×384), CUB attribute anchors.
 *
 * @example
 * ```ts
 * const ctx = await loadExperiment("default", { profile: "ci" });
 * const r = await runExperiment(ctx, "main");
 * ```
 */
export async function loadExperiment(
  kind: ExperimentDataset,
  opts: LoadExperimentOptions = {},
): Promise<ExperimentContext> {
  const profile = profileFromEnv(opts.profile);
  const runsDir = opts.runsDir ?? projectPath("runs");
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new InputError(`seed must be a non-negative integer, got ${seed}`);
  }
  // what differs between the two: the data, its anchors and which MobileNet
  let dataset: WsolDataset, anchors: Anchors, mobilenetDir: string, title: string;
  let loadOptions: ExperimentContext["loadOptions"] = { ...opts, profile, runsDir };
  if (kind === "default") {
    dataset = await ensureDefaultDataset({ profile });
    if (!dataset.anchorsPath) throw new InputError(`dataset ${dataset.name} has no anchors file`);
    anchors = await readAnchors(dataset.anchorsPath);
    mobilenetDir = DEFAULT_MOBILENET_DIR;
    title = `embedded default (${dataset.name}: `;
  } else {
    const cubRoot = opts.cubRoot ?? cubRootFromEnv();
    if (cubRoot === null) {
      throw new InputError(
        "CUB-200-2011 not found: set TEDLOC_CUB_ROOT or TEDLOC_SHARED_DATA (../shared/data)",
      );
    }
    dataset = await ensurePreparedCub(cubRoot, projectPath("data", "cache", "cub50"));
    anchors = await cubAttributeAnchors(cubRoot, dataset);
    mobilenetDir = opts.mobilenetDir ?? Deno.env.get("TEDLOC_MOBILENET_DIR") ??
      sharedDataPath("mobilenet", "mobilenet_v1_0.75_224") ?? DEFAULT_MOBILENET_DIR;
    title = "CUB-50 (";
    loadOptions = { ...loadOptions, cubRoot, mobilenetDir };
  }
  const encoder = await TfjsCnnEncoder.load(mobilenetDir, { layer: MOBILENET_STRIDE16_LAYER });
  const classifier = await TfjsCnnClassifier.load(mobilenetDir);
  const anchorKind = kind === "default" ? "synthetic attribute anchors" : "CUB attribute anchors";
  const descriptor = await Deno.readTextFile(join(dataset.root, "dataset.json")).catch(() => "");
  const dataKey = await hashCacheKey({
    dataset: descriptor,
    anchors: [anchors.classNames, anchors.dim, Array.from(anchors.vectors)],
    encoder: [encoder.id, encoder.fingerprint ?? null],
  });
  const rootName = kind === "default" ? dataset.name : "cub50";
  return {
    kind,
    profile,
    seed,
    dataset,
    encoder,
    classifier,
    anchors,
    description: `${title}${dataset.classNames.length} classes, ` +
      `${dataset.splits.train.imageIds.length} train / ${dataset.splits.test.imageIds.length} test), ` +
      `${encoder.id} (${encoder.grid.join("×")}×${encoder.dim}), ${anchorKind} (${anchors.dim}-d)`,
    runRoot: join(runsDir, seed === 0 ? rootName : `${rootName}-seed${seed}`),
    dataKey,
    loadOptions,
  };
}

/**
 * The training setup of an experiment variant (chosen on held-out training images, never on
 * the test split; see docs/tedloc_head.md for how).
 */
export function experimentOptions(
  ctx: Pick<ExperimentContext, "kind" | "profile"> & { seed?: number },
  variant: ExperimentVariant = "main",
): Omit<PipelineOptions, "dataset" | "encoder" | "anchors" | "classifier"> {
  const base: TrainConfigInput = ctx.kind === "cub50"
    ? {
      epochs: 20,
      anchors: { projDim: 128, ortho: "qr" },
      sampler: { fgFraction: 0.2, fgCount: 8, bgCount: 8 },
    }
    : {
      epochs: ctx.profile === "ci" ? 8 : ctx.profile === "quick" ? 10 : 30,
      sampler: { fgFraction: 0.2, fgCount: 8, bgCount: 8 },
    };
  const train: TrainConfigInput = { ...base, loss: { ...base.loss }, seed: ctx.seed ?? 0 };
  switch (variant) {
    case "main":
    case "loss-kd-pcl-icl":
      break;
    case "loss-kd":
      train.loss = { ...train.loss, pcl: 0, icl: 0 };
      break;
    case "loss-kd-pcl":
      train.loss = { ...train.loss, icl: 0 };
      break;
    case "ortho-none":
    case "ortho-qr":
    case "ortho-symmetric":
      train.anchors = {
        ...train.anchors,
        ortho: variant.slice("ortho-".length) as "none" | "qr" | "symmetric",
      };
      break;
    default:
      throw new InputError(`unknown experiment variant '${variant}'`);
  }
  return {
    cues: "inet5*cam*prior",
    train,
    rounds: ctx.kind === "cub50" && variant === "main" ? 2 : 1,
    // CUB-50's choices were made on 300 held-out training images (docs/tedloc_head.md); the
    // reported models then train on all 1,500. The embedded default has its own val split.
    valFraction: ctx.kind === "cub50" ? 0 : 0.2,
    // the baselines do not depend on the variant: the main run reports them, and the
    // test-time-flip rows (our extension) beside the protocol's plain ones
    baselines: variant === "main",
    flipTta: variant === "main",
  };
}

/** Options of {@link runExperiment}. */
export interface RunExperimentOptions {
  progress?: ProgressOptions | false;
  /** Feature extraction workers (default 2). */
  workers?: number;
  /** Override parts of the variant's pipeline options (the run then goes to its own folder only if you pass `override.outDir`). */
  override?: Partial<PipelineOptions>;
}

/** What a finished run leaves in `results.json`: the pipeline result without the live model. */
export type ExperimentRecord = Omit<PipelineResult, "model" | "cam">;

/**
 * Canonical JSON of a variant's TeD-Loc setup (resolved defaults), to tell equal setups apart.
 * Whether baselines are evaluated is left out: a run with them is a superset of one without.
 */
export function experimentSetupKey(
  ctx: Pick<ExperimentContext, "kind" | "profile"> & { seed?: number },
  v: ExperimentVariant,
): string {
  const o = experimentOptions(ctx, v);
  return JSON.stringify({
    cues: o.cues,
    rounds: o.rounds,
    valFraction: o.valFraction,
    train: resolveTrainConfig(o.train),
  });
}

/**
 * The variant whose run folder `variant` shares: the first of {@link ALL_VARIANTS} with the
 * same setup (e.g. on the embedded default `ortho-qr` and `loss-kd-pcl-icl` are `main`).
 */
export function canonicalVariant(
  ctx: Pick<ExperimentContext, "kind" | "profile"> & { seed?: number },
  variant: ExperimentVariant,
): ExperimentVariant {
  const key = experimentSetupKey(ctx, variant);
  return ALL_VARIANTS.find((v) => experimentSetupKey(ctx, v) === key) ?? variant;
}

/** Run folder of a variant: `runs/<dataset>/<canonical variant>`. */
export function experimentRunDir(ctx: ExperimentContext, variant: ExperimentVariant): string {
  return join(ctx.runRoot, canonicalVariant(ctx, variant));
}

/**
 * The record of a finished run of `variant`, or null when there is none or it was made with
 * another setup (then it must be run again).
 */
export async function readExperimentRecord(
  ctx: ExperimentContext,
  variant: ExperimentVariant,
): Promise<ExperimentRecord | null> {
  if (!(await runRootHolds(ctx))) return null;
  const path = join(experimentRunDir(ctx, variant), "results.json");
  let rec: ExperimentRecord;
  try {
    rec = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new InputError(`unreadable run record: ${(err as Error).message}`, { file: path });
  }
  const canon = canonicalVariant(ctx, variant); // the run it shares
  const setup = await Deno.readTextFile(join(experimentRunDir(ctx, variant), "setup.json"))
    .catch(() => null);
  if (setup !== experimentSetupKey(ctx, canon)) return null;
  const o = experimentOptions(ctx, canon);
  const same = rec.config?.recordVersion === PIPELINE_RECORD_VERSION &&
    rec.config.cues === o.cues &&
    (rec.config.flipTta ?? false) === (o.flipTta ?? false) &&
    rec.roundMetrics?.length === (o.rounds ?? 1) &&
    configDiff(rec.config.train, resolveTrainConfig(o.train)).length === 0;
  return same ? rec : null;
}

/**
 * Run (or resume and re-evaluate) one variant of an experiment in its run folder, in this
 * process. The caller disposes `result.model` and `result.cam`.
 */
export async function runExperiment(
  ctx: ExperimentContext,
  variant: ExperimentVariant = "main",
  opts: RunExperimentOptions = {},
): Promise<PipelineResult> {
  if (!opts.override?.outDir) await claimRunDir(ctx, variant);
  return await runTedLocPipeline({
    ...pipelineOptions(ctx, variant, opts),
    outDir: experimentRunDir(ctx, variant),
    resume: true,
    ...opts.override,
  });
}

/** Where an experiment's CAM baseline is cached (one for all variants: same recipe, same tokens; it is also a cue). */
function camBaselinePath(ctx: ExperimentContext): string {
  return join(ctx.runRoot, "cam.safetensors");
}

/** The pipeline options of a variant, without its run folder. */
function pipelineOptions(
  ctx: ExperimentContext,
  variant: ExperimentVariant,
  opts: Pick<RunExperimentOptions, "progress" | "workers">,
): PipelineOptions {
  return {
    dataset: ctx.dataset,
    encoder: ctx.encoder,
    classifier: ctx.classifier,
    anchors: ctx.anchors,
    ...experimentOptions(ctx, variant),
    camPath: camBaselinePath(ctx),
    cacheDir: projectPath("data", "cache"),
    progress: opts.progress,
    workers: opts.workers,
  };
}

/**
 * Fill the caches every variant of the experiment reads (features incl. the test flip view,
 * the CAM baseline, the round-1 cues), in this process; returns seconds per stage.
 * {@link runExperiments} does this once before starting runs in parallel, so that two
 * children do not extract the same features side by side.
 */
export async function warmExperimentCaches(
  ctx: ExperimentContext,
  opts: Pick<RunExperimentOptions, "progress" | "workers"> = {},
): Promise<Record<string, number>> {
  await claimRunRoot(ctx);
  // main's options with the test flip view, which only main evaluates
  return await warmPipelineCaches({ ...pipelineOptions(ctx, "main", opts), flipTta: true });
}

/**
 * Make a variant's run folder belong to its current setup: `setup.json` there records the
 * setup (cues, rounds, held-out fraction, resolved training config) it was trained with. A folder
 * made with another setup, or with none recorded, is removed (resuming it would train on
 * something else); then the current setup is written.
 */
async function claimRunDir(ctx: ExperimentContext, variant: ExperimentVariant): Promise<void> {
  await claimRunRoot(ctx);
  const want = experimentSetupKey(ctx, canonicalVariant(ctx, variant));
  await claimFolder(
    experimentRunDir(ctx, variant),
    "setup.json",
    want,
    (have) => have === want,
    "made with another setup (or none recorded)",
  );
}

const DATA_FILE = "data.json";

/** Whether a `data.json` text records this context's inputs (unreadable JSON: it does not). */
function recordsData(ctx: Pick<ExperimentContext, "dataKey">, text: string): boolean {
  try {
    return JSON.parse(text).dataKey === ctx.dataKey;
  } catch {
    return false;
  }
}

/** Whether the run root's recorded inputs (`data.json`) are this context's. */
async function runRootHolds(ctx: Pick<ExperimentContext, "runRoot" | "dataKey">): Promise<boolean> {
  const have = await Deno.readTextFile(join(ctx.runRoot, DATA_FILE)).catch(() => null);
  return have !== null && recordsData(ctx, have);
}

/**
 * Make the run root belong to this context's inputs: runs (and the shared CAM baseline) made
 * from other data — a regenerated dataset, other anchors, another encoder — are removed, then
 * `data.json` records the current inputs. A root without `data.json` is from before it was
 * recorded and is treated as other data.
 */
async function claimRunRoot(ctx: ExperimentContext): Promise<void> {
  await claimFolder(
    ctx.runRoot,
    DATA_FILE,
    JSON.stringify({ dataKey: ctx.dataKey, description: ctx.description }, null, 1) + "\n",
    (have) => recordsData(ctx, have),
    "runs made from other data (or unrecorded)",
  );
}

/**
 * Make `dir` a folder whose `file` `holds` what it should: when it records something else or
 * nothing, the folder is removed (saying `why`) and made again with `file` = `content`.
 */
async function claimFolder(
  dir: string,
  file: string,
  content: string,
  holds: (recorded: string) => boolean,
  why: string,
): Promise<void> {
  const have = await Deno.readTextFile(join(dir, file)).catch(() => null);
  if (have !== null && holds(have)) return;
  if (await Deno.stat(dir).then(() => true, () => false)) {
    console.error(`${dir}: ${why}; starting over`);
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeTextAtomic(join(dir, file), content);
}

/** Options of {@link runExperiments}. */
export interface RunExperimentsOptions {
  /** Runs at once, each in its own process (tfjs wasm uses one core; default 2). */
  parallel?: number;
  /** Run again even when a finished record exists. */
  force?: boolean;
  /** Where child processes' progress lines go (default stderr), each prefixed `[variant]`. */
  log?: (line: string) => void;
}

/**
 * Make sure every variant has a finished run, running the missing ones — equal setups once,
 * up to `parallel` at a time as `tasks/experiment.ts` subprocesses (a single missing run
 * goes in one child too, so the caller's memory stays flat) — and return their records.
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
  opts: RunExperimentsOptions = {},
): Promise<Map<ExperimentVariant, ExperimentRecord>> {
  const parallel = opts.parallel ?? 2;
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw new InputError(`parallel must be a positive integer, got ${parallel}`);
  }
  const log = opts.log ?? ((line: string) => console.error(line));
  const canon = [...new Set(variants.map((v) => canonicalVariant(ctx, v)))];
  const todo: ExperimentVariant[] = [];
  for (const v of canon) {
    if (opts.force || (await readExperimentRecord(ctx, v)) === null) todo.push(v);
  }
  const queue = [...todo];
  const failures: string[] = [];
  if (todo.length > 1 && parallel > 1) {
    // shared inputs first, in one child: otherwise each parallel run would compute them
    const code = await runChild(ctx, "warm-caches", false, log);
    if (code !== 0) throw new Error(`preparing shared inputs failed (exit ${code}); see above`);
  }
  const worker = async () => {
    for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
      const code = await runChild(ctx, v, !!opts.force, log);
      if (code !== 0) failures.push(`${v} (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, worker));
  if (failures.length > 0) {
    throw new Error(`experiment runs failed: ${failures.join(", ")}; their output is above`);
  }
  const out = new Map<ExperimentVariant, ExperimentRecord>();
  for (const v of variants) {
    const rec = await readExperimentRecord(ctx, v);
    if (rec === null) throw new Error(`run ${v} finished without a matching results.json`);
    out.set(v, rec);
  }
  return out;
}

/** Command-line flags that make `tasks/experiment.ts` load the same experiment as `ctx`. */
export function experimentFlags(ctx: ExperimentContext): string[] {
  const o = ctx.loadOptions;
  const flags = ["--dataset", ctx.kind, "--profile", o.profile, "--runs-dir", o.runsDir];
  if (o.cubRoot) flags.push("--cub-root", o.cubRoot);
  if (o.mobilenetDir) flags.push("--mobilenet", o.mobilenetDir);
  if (ctx.seed) flags.push("--seeds", String(ctx.seed));
  return flags;
}

/** One variant in a child process, or (`warm-caches`) the shared inputs of all of them. */
async function runChild(
  ctx: ExperimentContext,
  variant: ExperimentVariant | "warm-caches",
  force: boolean,
  log: (line: string) => void,
): Promise<number> {
  const args = [
    "run",
    "-A",
    projectPath("tasks", "experiment.ts"),
    ...experimentFlags(ctx),
    ...(variant === "warm-caches" ? ["--warm-caches"] : ["--variant", variant, "--in-process"]),
    ...(force ? ["--force"] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: projectPath(),
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const lines = buf.split(/\r?\n|\r/);
      buf = lines.pop()!;
      for (const l of lines) if (l.trim() && !/XDG_RUNTIME_DIR/.test(l)) log(`[${variant}] ${l}`);
    }
    if (buf.trim()) log(`[${variant}] ${buf}`);
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  return status.code;
}

/**
 * The trained TeD-Loc model and CAM baseline of a finished run (for maps and figures).
 * The caller disposes both.
 */
export async function loadExperimentModels(
  ctx: ExperimentContext,
  variant: ExperimentVariant = "main",
): Promise<{ model: TedLocModel; cam: CamHead }> {
  const dir = experimentRunDir(ctx, variant);
  const rounds = experimentOptions(ctx, variant).rounds ?? 1;
  const ckpt = join(dir, ...(rounds > 1 ? [`round${rounds}`] : []), "last.safetensors");
  const camPath = camBaselinePath(ctx);
  for (const p of [ckpt, camPath]) {
    try {
      await Deno.stat(p);
    } catch {
      throw new InputError(`no finished run: run runExperiments(ctx, ["${variant}"]) first`, {
        file: p,
      });
    }
  }
  const { model } = await loadTedLocCheckpoint(ckpt);
  const cam = await readCamHead(camPath);
  if (!cam) throw new InputError("unreadable CAM baseline", { file: camPath });
  return { model, cam };
}

/** Free the experiment's encoder and classifier. */
export function disposeExperiment(ctx: ExperimentContext): void {
  ctx.encoder.dispose();
  ctx.classifier.dispose();
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
