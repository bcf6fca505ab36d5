/**
 * `deno task localize IMAGE… --checkpoint F [--out DIR] [--sizes S,…] [--scoremaps]`: class and
 * localization of images with a trained TeD-Loc checkpoint. Writes `<out>/<name>.png` (heat
 * map overlay at the image's own size and aspect, predicted box red) and `<out>/localize.json`
 * (top-k classes, boxes, input sizes), and prints one line per image with the box in the
 * original image's pixels.
 *
 * Boxes use the threshold the model was selected with (stored in run folders' checkpoints
 * as `box_threshold`), as evaluated; `--threshold` overrides it, 0.5 when neither exists.
 * Maps are those the run evaluated: the image is resized from its original pixels as feature
 * extraction does, at the native input side and at each extra side the run's evaluation
 * fused (`eval.extraInputSizes`, stored as `extra_input_sizes`), the maps fused as
 * evaluateHead does (lib/eval/multiscale.ts); `--sizes` overrides them. `--scoremaps` also
 * writes each fused 224×224 map as `<out>/<name>.npy` (float32, as the run's `scoremaps/`).
 *
 * All or nothing: flags and --out are checked and every image is decoded before the model
 * loads; outputs are staged in `<out>/.localize-tmp-PID/` and moved in only when every image
 * succeeded, so a bad image, an error or Ctrl-C leaves no half-written results. A tiny or
 * extreme-aspect image gets a warning (stderr and its JSON entry).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { fsErrorParts, InputError, OutputError } from "../lib/io/errors.ts";
import {
  type CliArgs,
  floatFlag,
  intFlag,
  parseCli,
  requireFlag,
  runCli,
  UsageError,
} from "../lib/util/cli.ts";
import { registerTempPath, throwIfInterrupted } from "../lib/util/interrupt.ts";
import { checkOutputDir } from "../lib/util/output.ts";
import { decodeImage, type RgbImage } from "../lib/data/image.ts";
import { loadViewFiles } from "../lib/train/view_images.ts";
import { encodeNpy } from "../lib/io/npy.ts";
import { type EncoderSpec, loadEncoder } from "../lib/model/load_encoder.ts";
import { TfjsCnnEncoder } from "../lib/model/mobilenet.ts";
import type { PatchEncoder } from "../lib/model/encoder.ts";
import { type LocalizationHead, tedLocHead } from "../lib/model/baselines.ts";
import {
  type CheckpointInfo,
  loadTedLocCheckpoint,
  MAX_INPUT_SIZE,
  MIN_INPUT_SIZE,
} from "../lib/train/checkpoint.ts";
import { localizeImageScales } from "../lib/eval/multiscale.ts";
import type { Localization } from "../lib/eval/localize.ts";
import { frameBoxToImage, heatmapOverlayPng, resizeMapBilinear } from "../lib/viz/overlay.ts";

const SPEC = {
  usage: "deno task localize IMAGE… --checkpoint FILE [--out DIR] [--sizes 224,448] [--scoremaps]",
  description:
    "Predict the class and the localization map of each image with a TeD-Loc checkpoint (made by `deno task train`). " +
    "The encoder is rebuilt from the recipe stored in the checkpoint, or loaded from --encoder.",
  options: {
    checkpoint: { type: "string" as const, help: "TeD-Loc checkpoint (.safetensors)" },
    out: {
      type: "string" as const,
      help: "output folder for overlays and localize.json",
      default: "runs/localize",
    },
    encoder: {
      type: "string" as const,
      help: "tfjs encoder folder (when the checkpoint has no encoder recipe)",
    },
    layer: {
      type: "string" as const,
      help: "encoder layer with --encoder",
      default: "conv_pw_11_relu",
    },
    topk: { type: "string" as const, help: "classes to list (1..classes)", default: "5" },
    threshold: {
      type: "string" as const,
      help: "box threshold as a fraction of the map maximum (0..1); default: the τ stored in " +
        "the checkpoint (the one the model was selected with on held-out data), else 0.5",
    },
    sizes: {
      type: "string" as const,
      help: "input sides whose maps are fused, comma-separated, the encoder's native one " +
        "included (e.g. 224 for native only, 224,448); default: the native side plus the " +
        "checkpoint's stored eval.extraInputSizes, as the run was evaluated",
    },
    scoremaps: {
      type: "boolean" as const,
      help: "also write each image's 224×224 score map as <name>.npy (float32)",
    },
  },
  positionals: true,
};

/** An input image, decoded and checked before any model work. */
interface Input {
  path: string;
  /** The decoded image at its own size (the overlay keeps its size and aspect). */
  image: RgbImage;
  width: number;
  height: number;
  /** Why the result may not mean much (tiny or extreme-aspect image), if so. */
  warning?: string;
}

/** Smallest side and largest aspect ratio below/above which an image is degenerate. */
const MIN_SIDE = 16, MAX_ASPECT = 8;

/**
 * Decode every image first, so a bad one (the 3rd of 4, say) stops the run before anything
 * is written, with one line naming it and libvips' reason.
 */
async function decodeInputs(paths: string[]): Promise<Input[]> {
  const inputs: Input[] = [];
  for (const path of paths) {
    throwIfInterrupted();
    const img = await decodeImage(path);
    const { width: w, height: h } = img;
    const aspect = Math.max(w / h, h / w);
    const warning = Math.min(w, h) < MIN_SIDE
      ? `${w}×${h} image is tiny (a side under ${MIN_SIDE} px): the prediction is not meaningful`
      : aspect > MAX_ASPECT
      ? `${w}×${h} image has an extreme aspect ratio (${aspect.toFixed(0)}:1), stretched to ` +
        `224×224: the prediction is not meaningful`
      : undefined;
    if (warning) console.error(`warning: ${path}: ${warning}`);
    inputs.push({
      path,
      image: img,
      width: w,
      height: h,
      warning,
    });
  }
  return inputs;
}

/** Most sides --sizes may list: the native one and as many extra as the config allows (4). */
const MAX_SIZES = 5;

/** --sizes as a list of input sides (undefined when absent), checked before any work. */
function sizesFlag(a: CliArgs): number[] | undefined {
  const raw = a.values.sizes;
  if (raw === undefined) return undefined;
  const parts = String(raw).split(",").map((p) => p.trim());
  const sizes = parts.map(Number);
  const fail = (why: string) => new UsageError(`--sizes ${why}, got '${raw}'`);
  if (
    parts.some((p) => !/^\d+$/.test(p)) ||
    sizes.some((v) => v < MIN_INPUT_SIZE || v > MAX_INPUT_SIZE)
  ) {
    throw fail(
      `must be comma-separated integer input sides ${MIN_INPUT_SIZE}..${MAX_INPUT_SIZE} ` +
        "(e.g. 224 or 224,448)",
    );
  }
  if (new Set(sizes).size !== sizes.length) throw fail("lists a side twice");
  if (sizes.length > MAX_SIZES) throw fail(`lists more than ${MAX_SIZES} sides`);
  return sizes;
}

/**
 * The extra input sides to fuse with the native one: --sizes (which must hold the native
 * side, whose class scores are used), else the checkpoint's stored ones, else none (said so).
 */
function chooseSizes(
  flag: number[] | undefined,
  info: CheckpointInfo,
  native: number,
): { extra: number[]; source: string } {
  if (flag) {
    if (!flag.includes(native)) {
      throw new UsageError(
        `--sizes must include the encoder's native input side ${native} (the class scores ` +
          `come from it), got '${flag.join(",")}'`,
      );
    }
    return { extra: flag.filter((v) => v !== native), source: "--sizes" };
  }
  if (info.extraInputSizes?.length) {
    return { extra: info.extraInputSizes, source: "checkpoint: the run's eval.extraInputSizes" };
  }
  return {
    extra: [],
    source: "native only: the checkpoint stores no extra input sizes (its run evaluated at " +
      "the native size, finished before runs stored them, or it was made outside a run folder)",
  };
}

/** The model's encoder, from --encoder or the checkpoint's recipe, at input side `size`. */
async function encoderAt(
  a: CliArgs,
  info: CheckpointInfo,
  ckpt: string,
  size?: number,
): Promise<PatchEncoder> {
  const opts = size === undefined ? {} : { inputSize: size };
  if (typeof a.values.encoder === "string") {
    return await TfjsCnnEncoder.load(a.values.encoder, {
      layer: a.values.layer as string,
      ...opts,
    });
  }
  const spec = info.encoderSpec as EncoderSpec | null | undefined;
  if (!spec) {
    throw new InputError("checkpoint has no encoder recipe: pass --encoder DIR", { file: ckpt });
  }
  if (size !== undefined && spec.kind !== "tfjs-cnn") {
    throw new InputError(
      `input side ${size} needs a tfjs CNN encoder (the checkpoint's is ${info.encoderId}): ` +
        "pass --sizes with its native side only",
      { file: ckpt },
    );
  }
  return await loadEncoder({ ...spec, ...opts } as EncoderSpec);
}

/**
 * The model, its encoder and one encoder per extra input side (the caller disposes them),
 * the sizes chosen as {@link chooseSizes} says.
 */
async function loadLocalizer(a: CliArgs, ckpt: string, topk: number, sizes?: number[]) {
  await initBackend();
  const { model, info } = await loadTedLocCheckpoint(ckpt);
  const encoders: PatchEncoder[] = [];
  try {
    if (topk > model.anchors.count) {
      throw new UsageError(
        `--topk must be ≤ ${model.anchors.count} (the checkpoint's classes), got '${topk}'`,
      );
    }
    const encoder = await encoderAt(a, info, ckpt);
    encoders.push(encoder);
    if (encoder.id !== info.encoderId) {
      throw new InputError(
        `encoder '${encoder.id}' differs from the checkpoint's '${info.encoderId}'`,
        { file: ckpt },
      );
    }
    const { extra, source } = chooseSizes(sizes, info, encoder.inputSize);
    for (const size of extra) encoders.push(await encoderAt(a, info, ckpt, size));
    const sizesUsed = [encoder.inputSize, ...extra];
    return { model, encoder, extras: encoders.slice(1), info, sizes: sizesUsed, source };
  } catch (err) {
    model.dispose();
    for (const e of encoders) e.dispose();
    throw err;
  }
}

/** The τ to box with: --threshold, else the checkpoint's selected one, else 0.5 (said so). */
function chooseThreshold(
  flag: number | undefined,
  info: CheckpointInfo,
): { tau: number; source: string } {
  if (flag !== undefined) return { tau: flag, source: "--threshold" };
  if (info.boxThreshold) {
    return { tau: info.boxThreshold.tau, source: `checkpoint: ${info.boxThreshold.source}` };
  }
  return {
    tau: 0.5,
    source: "0.5: the checkpoint stores no selected threshold (made outside a run folder or " +
      "before runs stored one)",
  };
}

/**
 * The overlay at the image's own size and aspect: the 224×224 map resized back over the
 * original pixels, the predicted box in original pixels.
 */
async function originalOverlay(im: Input, map: Float32Array, box: number[]): Promise<Uint8Array> {
  const { width: w, height: h, data } = im.image;
  const full = resizeMapBilinear(map, 224, 224, w, h);
  // the inclusive last pixel x1 covers [x1, x1 + 1): drawn up to x1 + 1
  const drawn = [box[0], box[1], box[2] + 1, box[3] + 1];
  const lineWidth = Math.max(1, Math.round(Math.min(w, h) / 112));
  return await heatmapOverlayPng(data, full, {
    width: w,
    height: h,
    predBoxes: [drawn],
    lineWidth,
  });
}

/** Write a staged output; a disk-full or similar failure names the file in `out`. */
async function stageWrite(stage: string, out: string, name: string, bytes: Uint8Array) {
  try {
    await Deno.writeFile(join(stage, name), bytes);
  } catch (err) {
    const p = fsErrorParts(err);
    throw p ? new OutputError(join(out, name), p.cause) : err;
  }
}

/**
 * Move every staged file into `out` (overwriting earlier results of the same names): the
 * outputs appear together, after all images succeeded.
 */
async function publish(stage: string, out: string): Promise<void> {
  for await (const e of Deno.readDir(stage)) {
    await Deno.rename(join(stage, e.name), join(out, e.name));
  }
}

/** What every image is localized with. */
interface Localizer {
  head: LocalizationHead;
  encoder: PatchEncoder;
  /** The encoder at each extra input side, fused as evaluated. */
  extras: PatchEncoder[];
  tau: number;
  topk: number;
  classNames: string[];
}

/**
 * One image through every scale: resized from its original pixels to each encoder's side as
 * feature extraction does, maps fused as evaluateHead does.
 */
async function localizeOne(l: Localizer, path: string): Promise<Localization> {
  const all = [l.encoder, ...l.extras];
  const xs: tf.Tensor4D[] = [];
  try {
    for (const e of all) xs.push(await loadViewFiles([path], "test", e.inputSize));
    const [r] = await localizeImageScales(
      l.head,
      { encoder: l.encoder, images: xs[0] },
      l.extras.map((e, i) => ({ encoder: e, images: xs[i + 1] })),
      { topk: l.topk, boxThreshold: l.tau, classNames: l.classNames },
    );
    return r;
  } finally {
    for (const x of xs) x.dispose();
  }
}

/** Localize every input into `stage` (overlays, optional maps, localize.json). */
async function localizeAll(
  l: Localizer,
  inputs: Input[],
  stage: string,
  out: string,
  extraReport: Record<string, unknown>,
  scoremaps: boolean,
): Promise<void> {
  const report: unknown[] = [];
  const used = new Set<string>();
  for (const im of inputs) {
    throwIfInterrupted();
    const r = await localizeOne(l, im.path);
    let name = basename(im.path).replace(/\.[^.]+$/, "");
    while (used.has(name)) name += "_";
    used.add(name);
    const b = r.boxes[0];
    const box = frameBoxToImage(b, im.width, im.height);
    await stageWrite(stage, out, `${name}.png`, await originalOverlay(im, r.map, box));
    if (scoremaps) await stageWrite(stage, out, `${name}.npy`, encodeNpy(r.map, [224, 224]));
    report.push({
      image: im.path,
      overlay: join(out, `${name}.png`),
      ...(scoremaps ? { scoremap: join(out, `${name}.npy`) } : {}),
      topk: r.topk,
      box224: b,
      box,
      ...extraReport,
      ...(im.warning ? { warning: im.warning } : {}),
    });
    console.log(
      `${im.path}: ${r.topk[0].name} (p ${r.topk[0].prob.toFixed(3)}) box [${
        box.join(", ")
      }] (pixels of the ${im.width}×${im.height} image) → ${join(out, `${name}.png`)}${
        im.warning ? " (see warning)" : ""
      }`,
    );
  }
  const json = new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n");
  await stageWrite(stage, out, "localize.json", json);
}

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  if (a.positionals.length === 0) throw new InputError("no images given (see --help)");
  const ckpt = requireFlag(a, "checkpoint");
  const topk = intFlag(a, "topk", { min: 1 })!;
  const tauFlag = floatFlag(a, "threshold", { min: 0, max: 1 });
  const sizesArg = sizesFlag(a);
  const out = a.values.out as string;
  await checkOutputDir(out);
  const inputs = await decodeInputs(a.positionals);
  const { model, encoder, extras, info, sizes, source: sizesSource } = await loadLocalizer(
    a,
    ckpt,
    topk,
    sizesArg,
  );
  const head = tedLocHead(model);
  const { tau, source: tauSource } = chooseThreshold(tauFlag, info);
  console.log(`box threshold τ = ${tau} (${tauSource})`);
  console.log(
    `input sizes: ${sizes.join(" + ")} px${
      sizes.length > 1 ? ", maps fused as evaluated" : ""
    } (${sizesSource})`,
  );
  // outputs are staged in a temporary folder inside --out and moved in when all succeeded
  await Deno.mkdir(out, { recursive: true });
  const stage = join(out, `.localize-tmp-${Deno.pid}`);
  const forget = registerTempPath(stage);
  try {
    await Deno.mkdir(stage);
    const l = { head, encoder, extras, tau, topk, classNames: model.anchors.classNames };
    await localizeAll(l, inputs, stage, out, {
      threshold: tau,
      thresholdSource: tauSource,
      inputSizes: sizes,
      inputSizesSource: sizesSource,
    }, a.values.scoremaps === true);
    await publish(stage, out);
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    forget();
    head.dispose();
    encoder.dispose();
    for (const e of extras) e.dispose();
  }
}

if (import.meta.main) await runCli(() => main(Deno.args));
