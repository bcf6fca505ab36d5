/**
 * TeD-Loc checkpoints: plain `.safetensors`, written atomically.
 *
 * Tensors: every model parameter under its own name (`decoder.fc1.weight`, `g.weight`, …;
 * layout `[in, out]`), the frozen anchors actually used (`anchors`, `[C, d]`), and the
 * optimizer's moments (`optim.m.<param>`, `optim.v.<param>` or `optim.momentum.<param>`).
 *
 * `__metadata__` (all strings): `format = "tedloc-checkpoint/1"`, `train_config` and
 * `model_config` (JSON), `epoch` (epochs finished), `step`, `optimizer_step`, `rng_state`,
 * `class_names` (JSON), `anchor_source`, `anchor_ortho`, `anchor_raw_dim`, `encoder_id`,
 * `grid` (JSON), `stride`, `cell_offset`, `history` (JSON array of epoch records),
 * `encoder_spec` (JSON recipe to rebuild the encoder, or null), `weight_layout = "in_out"`,
 * optionally `box_threshold`, `box_threshold_source` and `extra_input_sizes` (what inference
 * needs to box and fuse maps as the run's evaluation did; set after a run finishes),
 * `content_sha256` (see {@link checkpointContentHash}: checked at load, so flipped bytes are a
 * clear error instead of silent nonsense).
 *
 * A checkpoint is self-contained for inference: model config, weights, anchors, class
 * names and the encoder geometry.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InputError, readInputFile } from "../io/errors.ts";
import {
  parseSafetensors,
  type SafeData,
  type SafeTensorInput,
  toFloat32,
  writeSafetensors,
} from "../io/safetensors.ts";
import type { AnchorOrtho, AnchorSpace } from "../model/anchor_space.ts";
import { type TedLocConfig, TedLocModel } from "../model/tedloc.ts";

/** The format tag of checkpoint files. */
export const CHECKPOINT_FORMAT = "tedloc-checkpoint/1";

/** Where the tokens the model was trained on come from. */
export interface TokenGeometry {
  encoderId: string;
  grid: [number, number];
  stride: number;
  cellOffset: number;
}

/** Everything a checkpoint holds besides the weights. */
export interface CheckpointInfo extends TokenGeometry {
  /** The training config as given (JSON-able), or null for a bare model export. */
  trainConfig: unknown;
  modelConfig: TedLocConfig;
  epoch: number;
  step: number;
  optimizerStep: number;
  rngState: number;
  history: Record<string, unknown>[];
  /** The encoder's JSON recipe (`PatchEncoder.spec`), so inference can rebuild it; null when unknown. */
  encoderSpec?: unknown;
  /**
   * The box threshold τ (fraction of the map maximum) the model was selected with, with where
   * it comes from (`box_threshold`, `box_threshold_source`; see {@link setBoxThreshold});
   * absent in checkpoints written before it existed or outside a run folder.
   */
  boxThreshold?: { tau: number; source: string };
  /**
   * The extra square input sides the run evaluated multi-scale maps at (`eval.extraInputSizes`,
   * metadata `extra_input_sizes`; see {@link setExtraInputSizes}); absent when the run used the
   * native size only, or in checkpoints written before runs stored it or outside a run folder.
   */
  extraInputSizes?: number[];
}

/** Named arrays (weights or optimizer slots). */
export type NamedArrays = Record<string, { shape: number[]; data: Float32Array }>;

/**
 * The differences between two JSON-like values as `path: a ≠ b` lines (empty when equal).
 *
 * @example
 * ```ts
 * configDiff({ lr: 1e-3, d: { h: 8 } }, { lr: 1e-3, d: { h: 16 } }); // ["d.h: 8 ≠ 16"]
 * ```
 */
export function configDiff(a: unknown, b: unknown, path = ""): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === "object" && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDiff(a[k], b[k], path ? `${path}.${k}` : k));
  }
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  return sa === sb ? [] : [`${path || "(root)"}: ${sa ?? "(absent)"} ≠ ${sb ?? "(absent)"}`];
}

/** The metadata key holding {@link checkpointContentHash}. */
export const CHECKPOINT_HASH_KEY = "content_sha256";

/**
 * SHA-256 (hex) of a checkpoint's content: every tensor (name, shape, element type, bytes; in
 * name order) and every metadata entry but the hash itself. Stored at save and recomputed at
 * load, so damage anywhere in the file — weights, anchors, optimizer state or metadata — is
 * found before the model is used.
 */
export function checkpointContentHash(
  tensors: Iterable<[string, { shape: number[]; data: SafeData }]>,
  metadata: Record<string, string>,
): string {
  const h = createHash("sha256");
  const list = [...tensors].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, t] of list) {
    h.update(JSON.stringify([name, t.shape, t.data.constructor.name, t.data.byteLength]));
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const keys = Object.keys(metadata).filter((k) => k !== CHECKPOINT_HASH_KEY).sort();
  h.update(JSON.stringify(keys.map((k) => [k, metadata[k]])));
  return h.digest("hex");
}

/** Named weight arrays as a model hands them out. */
type NamedWeightsLike = Record<string, SafeTensorInput>;

/** Write a checkpoint atomically (with its content hash). */
export async function writeCheckpoint(
  path: string,
  model: Pick<TedLocModel, "anchors"> & {
    getWeights(): NamedWeightsLike | Promise<NamedWeightsLike>;
  },
  info: CheckpointInfo,
  optimizerState: NamedArrays = {},
): Promise<void> {
  const tensors: Record<string, SafeTensorInput> = {};
  for (const [n, w] of Object.entries(await model.getWeights())) tensors[n] = w;
  for (const [n, w] of Object.entries(optimizerState)) tensors[`optim.${n}`] = w;
  const a = model.anchors;
  tensors.anchors = { shape: [a.count, a.dim], data: a.vectors };
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    train_config: JSON.stringify(info.trainConfig ?? null),
    model_config: JSON.stringify(info.modelConfig),
    epoch: String(info.epoch),
    step: String(info.step),
    optimizer_step: String(info.optimizerStep),
    rng_state: String(info.rngState),
    class_names: JSON.stringify(a.classNames),
    anchor_source: a.source,
    anchor_ortho: a.ortho,
    anchor_raw_dim: String(a.rawDim),
    encoder_id: info.encoderId,
    grid: JSON.stringify(info.grid),
    stride: String(info.stride),
    cell_offset: String(info.cellOffset),
    history: JSON.stringify(info.history),
    encoder_spec: JSON.stringify(info.encoderSpec ?? null),
    weight_layout: "in_out",
  };
  metadata[CHECKPOINT_HASH_KEY] = checkpointContentHash(Object.entries(tensors), metadata);
  await writeSafetensors(path, tensors, metadata);
}

/** A checkpoint read back. */
export interface LoadedCheckpoint {
  info: CheckpointInfo;
  anchors: AnchorSpace;
  weights: NamedArrays;
  optimizerState: NamedArrays;
}

function parseJson(text: string | undefined, what: string, file: string): unknown {
  try {
    return JSON.parse(text ?? "");
  } catch {
    throw new InputError(`checkpoint metadata '${what}' is missing or not JSON`, { file });
  }
}

function num(text: string | undefined, what: string, file: string): number {
  const v = Number(text);
  if (text === undefined || !Number.isFinite(v)) {
    throw new InputError(`checkpoint metadata '${what}' is missing or not a number`, { file });
  }
  return v;
}

/** Read a checkpoint file (format checked; weights not yet put into a model). */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const st = parseSafetensors(await readInputFile(path), path);
  const md = st.metadata;
  if (md.format !== CHECKPOINT_FORMAT) {
    throw new InputError(
      `not a TeD-Loc checkpoint: format is '${
        md.format ?? "(none)"
      }', expected '${CHECKPOINT_FORMAT}'`,
      { file: path },
    );
  }
  // Checkpoints written before the hash existed have no content_sha256: they still load,
  // unchecked (as they always did).
  const stored = md[CHECKPOINT_HASH_KEY];
  if (stored !== undefined && checkpointContentHash(st.tensors, md) !== stored) {
    throw new InputError(
      "checkpoint is damaged: its content does not match the SHA-256 stored when it was " +
        "saved (content_sha256); use another checkpoint or train again",
      { file: path },
    );
  }
  const weights: NamedArrays = {}, optimizerState: NamedArrays = {};
  let anchorVectors: Float32Array | null = null, anchorShape: number[] = [];
  for (const [name, t] of st.tensors) {
    if (name === "anchors") {
      anchorVectors = toFloat32(t);
      anchorShape = t.shape;
    } else if (name.startsWith("optim.")) {
      optimizerState[name.slice(6)] = { shape: t.shape, data: toFloat32(t) };
    } else weights[name] = { shape: t.shape, data: toFloat32(t) };
  }
  if (!anchorVectors || anchorShape.length !== 2) {
    throw new InputError("checkpoint lacks the 2-D 'anchors' tensor", { file: path });
  }
  const classNames = parseJson(md.class_names, "class_names", path) as string[];
  if (!Array.isArray(classNames) || classNames.length !== anchorShape[0]) {
    throw new InputError(
      `checkpoint has ${classNames?.length} class names for ${anchorShape[0]} anchors`,
      { file: path },
    );
  }
  const info: CheckpointInfo = {
    trainConfig: parseJson(md.train_config, "train_config", path),
    modelConfig: parseJson(md.model_config, "model_config", path) as TedLocConfig,
    epoch: num(md.epoch, "epoch", path),
    step: num(md.step, "step", path),
    optimizerStep: num(md.optimizer_step, "optimizer_step", path),
    rngState: num(md.rng_state, "rng_state", path),
    encoderId: md.encoder_id ?? "",
    grid: parseJson(md.grid, "grid", path) as [number, number],
    stride: num(md.stride, "stride", path),
    cellOffset: num(md.cell_offset, "cell_offset", path),
    history: (parseJson(md.history ?? "[]", "history", path) as Record<string, unknown>[]) ?? [],
    encoderSpec: parseJson(md.encoder_spec ?? "null", "encoder_spec", path),
  };
  if (md[BOX_THRESHOLD_KEY] !== undefined) {
    const tau = num(md[BOX_THRESHOLD_KEY], BOX_THRESHOLD_KEY, path);
    if (!(tau >= 0 && tau <= 1)) {
      throw new InputError(
        `checkpoint metadata '${BOX_THRESHOLD_KEY}' = ${tau} is outside [0, 1]`,
        {
          file: path,
        },
      );
    }
    info.boxThreshold = { tau, source: md[BOX_THRESHOLD_SOURCE_KEY] ?? "" };
  }
  if (md[EXTRA_INPUT_SIZES_KEY] !== undefined) {
    const sizes = parseJson(md[EXTRA_INPUT_SIZES_KEY], EXTRA_INPUT_SIZES_KEY, path);
    if (!isSizeList(sizes)) {
      throw new InputError(
        `checkpoint metadata '${EXTRA_INPUT_SIZES_KEY}' must be a list of integer sides ` +
          `${MIN_INPUT_SIZE}..${MAX_INPUT_SIZE}, got ${md[EXTRA_INPUT_SIZES_KEY]}`,
        { file: path },
      );
    }
    info.extraInputSizes = sizes;
  }
  const anchors: AnchorSpace = {
    classNames,
    vectors: anchorVectors,
    count: anchorShape[0],
    dim: anchorShape[1],
    rawDim: num(md.anchor_raw_dim, "anchor_raw_dim", path),
    ortho: (md.anchor_ortho ?? "none") as AnchorOrtho,
    source: md.anchor_source ?? "",
  };
  return { info, anchors, weights, optimizerState };
}

/**
 * Load a checkpoint as a ready model. With `expectConfig`, a differing model config is an
 * {@link InputError} listing every mismatching field.
 *
 * @example
 * ```ts
 * const { model, info } = await loadTedLocCheckpoint("runs/x/last.safetensors");
 * ```
 */
export async function loadTedLocCheckpoint(
  path: string,
  expectConfig?: TedLocConfig,
): Promise<{ model: TedLocModel; info: CheckpointInfo; anchors: AnchorSpace }> {
  const ck = await readCheckpoint(path);
  if (expectConfig) {
    const diff = configDiff(ck.info.modelConfig, expectConfig);
    if (diff.length > 0) {
      throw new InputError(
        `checkpoint was made with another model config (checkpoint ≠ requested): ${
          diff.join("; ")
        }`,
        { file: path },
      );
    }
  }
  let model: TedLocModel;
  try {
    model = new TedLocModel(ck.info.modelConfig, ck.anchors);
  } catch (err) {
    throw new InputError(`checkpoint model config is unusable: ${(err as Error).message}`, {
      file: path,
    });
  }
  try {
    model.setWeights(ck.weights, path);
  } catch (err) {
    model.dispose();
    throw new InputError((err as Error).message.replace(`${path}: `, ""), { file: path });
  }
  return { model, info: ck.info, anchors: ck.anchors };
}

/** Checkpoint metadata key: the box threshold τ the model was selected with (a decimal string). */
export const BOX_THRESHOLD_KEY = "box_threshold";
/** Checkpoint metadata key: where {@link BOX_THRESHOLD_KEY} comes from (one readable line). */
export const BOX_THRESHOLD_SOURCE_KEY = "box_threshold_source";

/** Checkpoint metadata key: the run's `eval.extraInputSizes` (a JSON list of pixel sides). */
export const EXTRA_INPUT_SIZES_KEY = "extra_input_sizes";
/** Smallest input side (px) an encoder may run at (the `eval.extraInputSizes` bound). */
export const MIN_INPUT_SIZE = 32;
/** Largest input side (px) an encoder may run at (the `eval.extraInputSizes` bound). */
export const MAX_INPUT_SIZE = 1024;

function isSizeList(x: unknown): x is number[] {
  return Array.isArray(x) &&
    x.every((v) => Number.isInteger(v) && v >= MIN_INPUT_SIZE && v <= MAX_INPUT_SIZE);
}

/**
 * Add or replace metadata entries of an existing checkpoint, atomically; tensors are kept
 * byte for byte and the content hash is recomputed (so the file still loads checked). The
 * format tag and the hash itself cannot be set this way.
 *
 * @example
 * ```ts
 * await setCheckpointMetadata("runs/x/last.safetensors", { note: "re-evaluated" });
 * ```
 */
export async function setCheckpointMetadata(
  path: string,
  entries: Record<string, string>,
): Promise<void> {
  for (const k of Object.keys(entries)) {
    if (k === "format" || k === CHECKPOINT_HASH_KEY) {
      throw new Error(`setCheckpointMetadata: '${k}' is not settable`);
    }
  }
  const st = parseSafetensors(await readInputFile(path), path);
  if (st.metadata.format !== CHECKPOINT_FORMAT) {
    throw new InputError(`not a TeD-Loc checkpoint (format '${st.metadata.format ?? "(none)"}')`, {
      file: path,
    });
  }
  const metadata = { ...st.metadata, ...entries };
  const tensors: Record<string, SafeTensorInput> = {};
  for (const [n, t] of st.tensors) tensors[n] = { shape: t.shape, data: t.data, dtype: t.dtype };
  metadata[CHECKPOINT_HASH_KEY] = checkpointContentHash(Object.entries(tensors), metadata);
  await writeSafetensors(path, tensors, metadata);
}

/**
 * Store the box threshold τ a model was selected with in its checkpoint, so inference
 * (`deno task localize`) boxes maps as the evaluation did.
 *
 * @example
 * ```ts
 * await setBoxThreshold(ckpt, 0.62, "best τ of MaxBoxAcc (δ = 0.5) on 150 held-out train images");
 * ```
 */
export async function setBoxThreshold(path: string, tau: number, source: string): Promise<void> {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`box threshold must be in [0, 1], got ${tau}`);
  await setCheckpointMetadata(path, {
    [BOX_THRESHOLD_KEY]: String(tau),
    [BOX_THRESHOLD_SOURCE_KEY]: source,
  });
}

/**
 * Store the extra input sides a run evaluated its maps at (`eval.extraInputSizes`) in its
 * checkpoint, so inference (`deno task localize`) fuses the same scales as the evaluation.
 * An empty list writes nothing (absence means the native size only).
 *
 * @example
 * ```ts
 * await setExtraInputSizes("runs/x/last.safetensors", [448]);
 * ```
 */
export async function setExtraInputSizes(path: string, sizes: readonly number[]): Promise<void> {
  if (!isSizeList([...sizes])) {
    throw new RangeError(
      `extra input sizes must be integers ${MIN_INPUT_SIZE}..${MAX_INPUT_SIZE}, got [${sizes}]`,
    );
  }
  if (sizes.length === 0) return;
  await setCheckpointMetadata(path, { [EXTRA_INPUT_SIZES_KEY]: JSON.stringify(sizes) });
}
