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
import type { TrainConfigInput } from "./trainer.ts";
import { type PipelineOptions, type PipelineResult, runTedLocPipeline } from "./pipeline.ts";
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

/** Everything an experiment needs, loaded once. */
export interface ExperimentContext {
  kind: ExperimentDataset;
  profile: DatasetProfile;
  dataset: WsolDataset;
  encoder: PatchEncoder;
  /** ImageNet classifier for the class-agnostic CAM cue (`inet<k>`). */
  classifier: TfjsCnnClassifier;
  anchors: Anchors;
  /** Human-readable description of the setup (backbone, anchors, sizes). */
  description: string;
  /** Folder holding this experiment's runs. */
  runRoot: string;
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
  if (kind === "default") {
    const dataset = await ensureDefaultDataset({ profile });
    if (!dataset.anchorsPath) throw new InputError(`dataset ${dataset.name} has no anchors file`);
    const anchors = await readAnchors(dataset.anchorsPath);
    const encoder = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, {
      layer: MOBILENET_STRIDE16_LAYER,
    });
    const classifier = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR);
    return {
      kind,
      profile,
      dataset,
      encoder,
      classifier,
      anchors,
      description: `embedded default (${dataset.name}: ${dataset.classNames.length} classes, ` +
        `${dataset.splits.train.imageIds.length} train / ${dataset.splits.test.imageIds.length} test), ` +
        `MobileNet v1 0.25 conv_pw_11 (14×14×128), synthetic attribute anchors (${anchors.dim}-d)`,
      runRoot: join(runsDir, dataset.name),
    };
  }
  const cubRoot = opts.cubRoot ?? cubRootFromEnv();
  if (cubRoot === null) {
    throw new InputError(
      "CUB-200-2011 not found: set TEDLOC_CUB_ROOT or TEDLOC_SHARED_DATA (../shared/data)",
    );
  }
  const dataset = await ensurePreparedCub(cubRoot, projectPath("data", "cache", "cub50"));
  const anchors = await cubAttributeAnchors(cubRoot, dataset);
  const mobilenetDir = opts.mobilenetDir ?? Deno.env.get("TEDLOC_MOBILENET_DIR") ??
    sharedDataPath("mobilenet", "mobilenet_v1_0.75_224") ?? DEFAULT_MOBILENET_DIR;
  const encoder = await TfjsCnnEncoder.load(mobilenetDir, { layer: MOBILENET_STRIDE16_LAYER });
  const classifier = await TfjsCnnClassifier.load(mobilenetDir);
  return {
    kind,
    profile,
    dataset,
    encoder,
    classifier,
    anchors,
    description: `CUB-50 (${dataset.classNames.length} classes, ` +
      `${dataset.splits.train.imageIds.length} train / ${dataset.splits.test.imageIds.length} test), ` +
      `${encoder.id} (${
        encoder.grid.join("×")
      }×${encoder.dim}), CUB attribute anchors (${anchors.dim}-d)`,
    runRoot: join(runsDir, "cub50"),
  };
}

/**
 * The training setup of an experiment variant (chosen on held-out training images, never on
 * the test split; see docs/tedloc_head.md for how).
 */
export function experimentOptions(
  ctx: Pick<ExperimentContext, "kind" | "profile">,
  variant: ExperimentVariant = "main",
): Omit<PipelineOptions, "dataset" | "encoder" | "anchors" | "classifier"> {
  const base: TrainConfigInput = ctx.kind === "cub50"
    ? {
      epochs: 20,
      anchors: { projDim: 128, ortho: "qr" },
      sampler: { fgFraction: 0.2, fgCount: 8, bgCount: 8 },
    }
    : {
      epochs: ctx.profile === "ci" ? 8 : ctx.profile === "quick" ? 20 : 30,
      sampler: { fgFraction: 0.2, fgCount: 8, bgCount: 8 },
    };
  const train: TrainConfigInput = { ...base, loss: { ...base.loss } };
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
    valFraction: 0.2,
  };
}

/** Options of {@link runExperiment}. */
export interface RunExperimentOptions {
  progress?: ProgressOptions | false;
  /** Feature extraction workers (default 2). */
  workers?: number;
  /** Override parts of the variant's pipeline options. */
  override?: Partial<PipelineOptions>;
}

/**
 * Run (or resume and re-evaluate) one variant of an experiment in `runs/<dataset>/<variant>`.
 * The caller disposes `result.model` and `result.cam`.
 */
export async function runExperiment(
  ctx: ExperimentContext,
  variant: ExperimentVariant = "main",
  opts: RunExperimentOptions = {},
): Promise<PipelineResult> {
  return await runTedLocPipeline({
    dataset: ctx.dataset,
    encoder: ctx.encoder,
    classifier: ctx.classifier,
    anchors: ctx.anchors,
    ...experimentOptions(ctx, variant),
    outDir: join(ctx.runRoot, variant),
    resume: true,
    cacheDir: projectPath("data", "cache"),
    progress: opts.progress,
    workers: opts.workers,
    ...opts.override,
  });
}

/** Free the experiment's encoder and classifier. */
export function disposeExperiment(ctx: ExperimentContext): void {
  ctx.encoder.dispose();
  ctx.classifier.dispose();
}
