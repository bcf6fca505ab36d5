/**
 * The run configuration: one plain-data description of a TeD-Loc run (dataset, encoder,
 * anchors, cues, sampler, model, losses, optimizer and schedule, rounds, CAM baseline,
 * evaluation), the schema that validates it, and EVERY default in one place.
 *
 * Lower layers (sampler, losses, optimizer, model) take their defaults from here, so a value
 * changed here changes it everywhere. The README's experiments are small JSON files in
 * `configs/` that override these defaults.
 *
 * @module
 */

/** How each value of the config may look (used to validate user files and `--set`). */
export type FieldSpec =
  | { kind: "int"; min?: number; max?: number; help?: string }
  | { kind: "number"; min?: number; max?: number; above?: number; help?: string }
  | { kind: "bool"; help?: string }
  | { kind: "string"; nonEmpty?: boolean; help?: string }
  | { kind: "enum"; values: readonly string[]; help?: string }
  | { kind: "nullable"; inner: FieldSpec; help?: string }
  | { kind: "list"; item: FieldSpec; maxLength?: number; help?: string }
  | { kind: "object"; fields: Record<string, FieldSpec>; help?: string };

/** Datasets a run can use. */
export type DatasetKind = "default" | "cub50" | "folder";
/** Sizes of the embedded default dataset. */
export type DatasetProfile = "ci" | "quick" | "full";
/**
 * What is done to the anchors: `none` = as they come (L2-normalised only; CUB-50: the raw
 * attribute vectors), `centre` = centred then none (CUB-50: on the 200-class attribute mean;
 * other anchors: on their own mean), `qr` / `symmetric` = orthogonalized (CUB-50: the centred
 * vectors, as every CUB-50 run so far).
 */
export type AnchorOrtho = "none" | "centre" | "qr" | "symmetric";

/** Which data a run trains and evaluates on. */
export interface DatasetSection {
  /** `default` (embedded synthetic), `cub50` (CUB-200 classes 1–50), `folder` (any prepared dataset). */
  kind: DatasetKind;
  /** Size of the embedded default (ignored by other kinds). */
  profile: DatasetProfile;
  /** `folder`: the dataset folder (holds dataset.json); `cub50`: the CUB_200_2011 root (null: from the environment). */
  path: string | null;
  /** Held-out part of train for choices when the dataset has no `val` split. */
  valFraction: number;
}

/** The frozen encoder. */
export interface EncoderSection {
  /** tfjs Layers model folder; null: the dataset's default MobileNet (0.25 vendored; 0.75 for CUB-50 when present). */
  model: string | null;
  /** Layer whose activations are the patch tokens. */
  layer: string;
}

/** The frozen class anchors. */
export interface AnchorsSection {
  /** Anchors file (.safetensors); null: the dataset's own anchors. */
  file: string | null;
  ortho: AnchorOrtho;
  /** Fixed random projection to this dimension; null keeps the anchors' own. */
  projDim: number | null;
  projSeed: number;
}

/** Pseudo-label cues and the FG/BG patch sampler. */
export interface CuesSection {
  /** Recipe: `inet<k>`, `cam`, `prior`, `pca`, `attention`, `files:<dir>` joined by `*` (product) and `+` (mean). */
  recipe: string;
}

/** FG/BG patch sampling from the cue maps. */
export interface SamplerSection {
  /** FG candidates: this fraction of the patches with the highest cue. */
  fgFraction: number;
  /** BG candidates: this fraction of the patches with the lowest cue. */
  bgFraction: number;
  /** FG patches drawn per image per step. */
  fgCount: number;
  /** BG patches drawn per image per step. */
  bgCount: number;
}

/** Architecture of the trainable head. */
export interface ModelSection {
  decoder: {
    kind: "linear" | "mlp" | "transformer";
    hidden: number;
    activation: "gelu" | "relu";
    layerNorm: boolean;
    residual: boolean;
    heads: number;
  };
  classifier: { kind: "linear" | "mlp"; hidden: number; activation: "gelu" | "relu" };
  temperature: number;
  cosine: boolean;
  poolEps: number;
}

/** λ of each loss. */
export interface LossSection {
  kd: number;
  pcl: number;
  icl: number;
  /** Weight of the BG term inside P_CL (0 turns it off). */
  pclBg: number;
}

/** Optimizer (Adam/AdamW or SGD with momentum). */
export interface OptimizerSection {
  kind: "adam" | "sgd";
  /** Peak learning rate. */
  lr: number;
  /** Decoupled weight decay (AdamW style for Adam; added to the gradient for SGD). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** SGD momentum. */
  momentum: number;
}

/** Learning-rate schedule. */
export interface ScheduleSection {
  kind: "constant" | "cosine" | "step";
  /** Linear warm-up from 0, in epochs (may be fractional). */
  warmupEpochs: number;
  /** `step`: multiply by `gamma` every `stepEpochs` epochs. */
  stepEpochs: number;
  gamma: number;
  /** `cosine`: final lr = lr · minLrRatio. */
  minLrRatio: number;
}

/** TeD-Loc training. */
export interface TrainSection {
  epochs: number;
  batchSize: number;
  /** Seed of everything random in training (init, order, views, patches, held-out split). */
  seed: number;
  /** A random view (plain or flipped) per image per step. */
  randomViews: boolean;
  /** Training rounds; round r > 1 trains on the maps of round r − 1 (self-training, our extension). */
  rounds: number;
}

/** The CAM baseline (GAP + linear on the same tokens); also the `cam` cue. */
export interface CamSection {
  epochs: number;
  batchSize: number;
  seed: number;
  randomViews: boolean;
  optimizer: OptimizerSection;
  schedule: ScheduleSection;
}

/** Evaluation. */
export interface EvalSection {
  split: string;
  /** Also evaluate CAM, vanilla similarity and the centre prior. */
  baselines: boolean;
  /** Also report test-time-flip rows (our extension). */
  flipTta: boolean;
  /** Threshold step of the box evaluator. */
  camCurveInterval: number;
  /**
   * Multi-scale maps: also run the encoder on the images resized to these square sides (px)
   * and average TeD-Loc's normalised maps over all sizes in the 224 frame (test and held-out
   * rows; the baselines keep the encoder's own size); class scores stay the encoder's own
   * size's. Empty: its own size only.
   */
  extraInputSizes: number[];
}

/** A complete run configuration. */
export interface RunConfig {
  /** A label (e.g. the variant); not part of the run's identity. */
  name: string;
  /** Free text shown with the run; not part of its identity. */
  description: string;
  dataset: DatasetSection;
  encoder: EncoderSection;
  anchors: AnchorsSection;
  cues: CuesSection;
  sampler: SamplerSection;
  model: ModelSection;
  loss: LossSection;
  optimizer: OptimizerSection;
  schedule: ScheduleSection;
  train: TrainSection;
  cam: CamSection;
  eval: EvalSection;
}

/** Fields that label a config but do not change what it computes. */
export const LABEL_FIELDS = ["name", "description"] as const;

/** The optimizer defaults (Adam 1e-3, no weight decay). */
export const DEFAULT_OPTIMIZER: OptimizerSection = {
  kind: "adam",
  lr: 1e-3,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  momentum: 0.9,
};

/** Cosine decay to 1 % with half an epoch of warm-up. */
export const DEFAULT_SCHEDULE: ScheduleSection = {
  kind: "cosine",
  warmupEpochs: 0.5,
  stepEpochs: 10,
  gamma: 0.1,
  minLrRatio: 0.01,
};

/**
 * Every default of a run: the embedded default dataset (quick profile) with the setup the
 * README's table was made with (chosen on validation images; docs/tedloc_head.md).
 */
export const DEFAULT_RUN_CONFIG: RunConfig = {
  name: "run",
  description: "",
  dataset: { kind: "default", profile: "quick", path: null, valFraction: 0.2 },
  encoder: { model: null, layer: "conv_pw_11_relu" },
  anchors: { file: null, ortho: "qr", projDim: null, projSeed: 0 },
  cues: { recipe: "inet5*cam*prior" },
  sampler: { fgFraction: 0.2, bgFraction: 0.1, fgCount: 8, bgCount: 8 },
  model: {
    decoder: {
      kind: "mlp",
      hidden: 256,
      activation: "gelu",
      layerNorm: true,
      residual: false,
      heads: 4,
    },
    classifier: { kind: "linear", hidden: 64, activation: "relu" },
    temperature: 0.07,
    cosine: true,
    poolEps: 1e-6,
  },
  loss: { kd: 1, pcl: 1, icl: 1, pclBg: 1 },
  optimizer: DEFAULT_OPTIMIZER,
  schedule: DEFAULT_SCHEDULE,
  train: { epochs: 10, batchSize: 32, seed: 0, randomViews: true, rounds: 1 },
  cam: {
    epochs: 60,
    batchSize: 32,
    seed: 0,
    randomViews: true,
    optimizer: { ...DEFAULT_OPTIMIZER, lr: 3e-2, weightDecay: 1e-4 },
    schedule: DEFAULT_SCHEDULE,
  },
  eval: {
    split: "test",
    baselines: true,
    flipTta: false,
    camCurveInterval: 0.01,
    extraInputSizes: [],
  },
};

const int = (min?: number, max?: number): FieldSpec => ({ kind: "int", min, max });
const num = (min?: number, max?: number): FieldSpec => ({ kind: "number", min, max });
const pos = (): FieldSpec => ({ kind: "number", above: 0 });
const bool: FieldSpec = { kind: "bool" };
const oneOf = (...values: string[]): FieldSpec => ({ kind: "enum", values });
const obj = (fields: Record<string, FieldSpec>): FieldSpec => ({ kind: "object", fields });
const nullable = (inner: FieldSpec): FieldSpec => ({ kind: "nullable", inner });

const OPTIMIZER_SPEC = obj({
  kind: oneOf("adam", "sgd"),
  lr: { kind: "number", above: 0, max: 10 },
  weightDecay: num(0),
  beta1: num(0, 0.999999),
  beta2: num(0, 0.999999999),
  eps: pos(),
  momentum: num(0, 1),
});
const SCHEDULE_SPEC = obj({
  kind: oneOf("constant", "cosine", "step"),
  warmupEpochs: num(0),
  stepEpochs: pos(),
  gamma: pos(),
  minLrRatio: num(0, 1),
});

/** The schema of {@link RunConfig}: every key, its type and its allowed range. */
export const RUN_CONFIG_SCHEMA: FieldSpec = obj({
  name: { kind: "string" },
  description: { kind: "string" },
  dataset: obj({
    kind: oneOf("default", "cub50", "folder"),
    profile: oneOf("ci", "quick", "full"),
    path: nullable({ kind: "string", nonEmpty: true }),
    valFraction: num(0, 0.9),
  }),
  encoder: obj({
    model: nullable({ kind: "string", nonEmpty: true }),
    layer: { kind: "string", nonEmpty: true },
  }),
  anchors: obj({
    file: nullable({ kind: "string", nonEmpty: true }),
    ortho: oneOf("none", "centre", "qr", "symmetric"),
    projDim: nullable(int(1)),
    projSeed: int(0),
  }),
  cues: obj({ recipe: { kind: "string", nonEmpty: true } }),
  sampler: obj({
    fgFraction: { kind: "number", above: 0, max: 1 },
    bgFraction: { kind: "number", above: 0, max: 1 },
    fgCount: int(0),
    bgCount: int(0),
  }),
  model: obj({
    decoder: obj({
      kind: oneOf("linear", "mlp", "transformer"),
      hidden: int(1),
      activation: oneOf("gelu", "relu"),
      layerNorm: bool,
      residual: bool,
      heads: int(1),
    }),
    classifier: obj({
      kind: oneOf("linear", "mlp"),
      hidden: int(1),
      activation: oneOf("gelu", "relu"),
    }),
    temperature: pos(),
    cosine: bool,
    poolEps: pos(),
  }),
  loss: obj({ kd: num(0), pcl: num(0), icl: num(0), pclBg: num(0) }),
  optimizer: OPTIMIZER_SPEC,
  schedule: SCHEDULE_SPEC,
  train: obj({
    epochs: int(1),
    batchSize: int(1),
    seed: int(0),
    randomViews: bool,
    rounds: int(1, 10),
  }),
  cam: obj({
    epochs: int(1),
    batchSize: int(1),
    seed: int(0),
    randomViews: bool,
    optimizer: OPTIMIZER_SPEC,
    schedule: SCHEDULE_SPEC,
  }),
  eval: obj({
    split: { kind: "string", nonEmpty: true },
    baselines: bool,
    flipTta: bool,
    camCurveInterval: { kind: "number", above: 0, max: 0.5 },
    extraInputSizes: { kind: "list", item: int(32, 1024), maxLength: 4 },
  }),
});
