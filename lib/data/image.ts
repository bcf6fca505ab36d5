/**
 * Decoding and the three image views (transforms) of the pipeline, on raw 8-bit RGB buffers.
 *
 * - decode: npm `sharp` (libvips, libjpeg-turbo, libpng) with PIL's semantics of
 *   `Image.open(p).convert("RGB")`: embedded ICC profiles are ignored (PIL ignores them),
 *   grayscale is replicated to RGB, alpha is dropped (not composited), CMYK uses PIL's own
 *   formula; EXIF orientation is not applied (neither PIL nor wsolevaluation apply it). On
 *   CUB the decoded pixels are byte-identical to PIL's.
 * - resize: {@link resizePil} (PIL's anti-aliased bilinear, bit-exact), so the `test` view
 *   equals torchvision `Resize((224, 224))`.
 * - views: `test` (resize 224×224, no crop), `flip` (test + horizontal flip), `train`
 *   (resize 256×256, random 224 crop, horizontal flip with p = ½), as in wsolevaluation's
 *   train transform (RandomResizedCrop aside, which WSOL code for CUB does not use).
 *
 * Boxes follow wsolevaluation's inclusive pixel-index convention (x1 may be W − 1), so a
 * horizontal flip maps x ↦ (S − 1) − x; scaling multiplies by S/W without rounding (the
 * evaluators apply wsolevaluation's own integer rule).
 *
 * @module
 */
import sharp from "sharp";
import { InputError } from "../io/errors.ts";
import type { Rng } from "../util/rng.ts";
import type { Box } from "./metadata.ts";
import { resizePil } from "./resize.ts";

/** Side of the square images the encoders receive. */
export const PIPELINE_IMAGE_SIZE = 224;
/** Side of the resize before the random 224 crop of the train view. */
export const PIPELINE_TRAIN_RESIZE = 256;
/**
 * Identifies what the views compute (decode semantics, resampling, sizes): put it in
 * feature-cache keys so caches are rebuilt when the pipeline changes.
 */
export const IMAGE_PIPELINE_ID = "pil-rgb+pil-bilinear@224|train256crop224flip/1";

/** An 8-bit RGB image, row-major interleaved (`height × width × 3`). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The image views the pipeline produces. */
export type ImageTransform = "test" | "train" | "flip";

/** A fully drawn view: which transform and, for `train`, its random crop and flip. */
export interface ImageViewParams {
  transform: ImageTransform;
  /** Crop origin in the 256×256 frame (train only). */
  cropX: number;
  cropY: number;
  /** Horizontal flip after the crop/resize. */
  flip: boolean;
}

/**
 * Draw the random parameters of a view (only `train` is random: crop origin uniform in
 * 0..32 on each axis, flip with probability ½). Draw these in a fixed order from a seeded
 * {@link Rng} so a batch's augmentation does not depend on decode timing.
 *
 * @example
 * ```ts
 * const p = drawImageView("train", new Rng(1)); // { transform: "train", cropX: 17, cropY: 3, flip: true }
 * ```
 */
export function drawImageView(transform: ImageTransform, rng?: Rng): ImageViewParams {
  if (transform === "test") return { transform, cropX: 0, cropY: 0, flip: false };
  if (transform === "flip") return { transform, cropX: 0, cropY: 0, flip: true };
  if (transform !== "train") throw new Error(`unknown transform '${transform}'`);
  if (!rng) throw new Error("the train transform needs an rng");
  const span = PIPELINE_TRAIN_RESIZE - PIPELINE_IMAGE_SIZE + 1;
  const cropX = rng.int(span), cropY = rng.int(span);
  return { transform, cropX, cropY, flip: rng.next() < 0.5 };
}

/** PIL's CMYK → RGB (`Convert.c` cmyk2rgb: `nk − c·nk/255` with its rounding). */
function cmykToRgb(src: Uint8Array): Uint8Array {
  const out = new Uint8Array((src.length / 4) * 3);
  for (let i = 0, j = 0; i < src.length; i += 4, j += 3) {
    const nk = 255 - src[i + 3];
    for (let k = 0; k < 3; k++) {
      const t = src[i + k] * nk + 128;
      const v = nk - ((t + (t >> 8)) >> 8);
      out[j + k] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** Keep the first `keep` of `channels` interleaved channels. */
function dropChannels(src: Uint8Array, channels: number, keep: number): Uint8Array {
  const n = src.length / channels;
  const out = new Uint8Array(n * keep);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < keep; k++) out[i * keep + k] = src[i * channels + k];
  }
  return out;
}

function grayToRgb(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length * 3);
  for (let i = 0; i < src.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i];
  return out;
}

/** Decoded pixels with 1 (gray) or 3 (RGB) channels, before any gray → RGB expansion. */
interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

async function decodeRaw(path: string): Promise<RawImage> {
  try {
    const meta = await sharp(path, { ignoreIcc: true, failOn: "error" }).metadata();
    const cmyk = meta.space === "cmyk";
    let s = sharp(path, { ignoreIcc: true, failOn: "error" });
    if (cmyk) s = s.pipelineColourspace("cmyk").toColourspace("cmyk");
    else if (meta.depth !== "uchar") {
      s = s.toColourspace((meta.channels ?? 3) <= 2 ? "b-w" : "srgb");
    }
    const { data, info } = await s.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const { width, height, channels } = info;
    if (cmyk) {
      if (channels !== 4) throw new Error(`CMYK image decoded to ${channels} channels`);
      return { data: cmykToRgb(bytes), width, height, channels: 3 };
    }
    if (channels === 1) return { data: bytes, width, height, channels: 1 };
    if (channels === 2) return { data: dropChannels(bytes, 2, 1), width, height, channels: 1 };
    if (channels === 3) return { data: bytes, width, height, channels: 3 };
    if (channels === 4) return { data: dropChannels(bytes, 4, 3), width, height, channels: 3 };
    throw new Error(`unsupported channel count ${channels}`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw decodeError(path, err);
  }
}

/**
 * The InputError for a file libvips could not read: "image not found" when the file system
 * says so (libvips' own wording for a missing file varies; it has said "unsupported image
 * format" for one), else libvips' first line.
 */
function decodeError(path: string, err: unknown): InputError {
  const msg = (err as Error).message ?? String(err);
  let missing = /missing|no such file|not found/i.test(msg);
  try {
    Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) missing = true;
  }
  if (missing) return new InputError("image not found", { file: path });
  return new InputError(`cannot decode image: ${msg.split("\n")[0]}`, { file: path });
}

/**
 * Decode a JPEG/PNG to 8-bit RGB at its stored size (PIL `convert("RGB")` semantics).
 * A missing or corrupt file raises an InputError naming it.
 *
 * @example
 * ```ts
 * const img = await decodeImage("images/001.Black_footed_Albatross/x.jpg"); // 500×335
 * ```
 */
export async function decodeImage(path: string): Promise<RgbImage> {
  const r = await decodeRaw(path);
  return {
    data: r.channels === 1 ? grayToRgb(r.data) : r.data,
    width: r.width,
    height: r.height,
  };
}

/**
 * Check that an image decodes in full, as training will decode it (libvips, `failOn:
 * "error"`), without keeping its pixels: a truncated or corrupt file raises an InputError
 * naming it with libvips' reason ("VipsJpeg: premature end of JPEG image"). JPEGs decode at
 * 1/8 scale (shrink-on-load still reads every scan), so this costs ~2 ms per CUB image.
 *
 * @example
 * ```ts
 * await verifyImageDecodes("images/001.Black_footed_Albatross/x.jpg");
 * ```
 */
export async function verifyImageDecodes(path: string): Promise<void> {
  try {
    await sharp(path, { ignoreIcc: true, failOn: "error" })
      .resize(8, 8, { fit: "fill", kernel: "nearest" }).raw().toBuffer();
  } catch (err) {
    throw decodeError(path, err);
  }
}

/** An image that failed {@link findUndecodableImages}. */
export interface UndecodableImage {
  path: string;
  /** libvips' reason, e.g. "cannot decode image: VipsJpeg: premature end of JPEG image". */
  reason: string;
}

/**
 * Decode-check many images ({@link verifyImageDecodes}), `concurrency` at a time; returns the
 * bad ones in input order. Failures are checked again one at a time, because libvips' error
 * text is process-wide and a concurrent decode can wipe it ("Unknown error").
 *
 * @example
 * ```ts
 * const bad = await findUndecodableImages(paths, { onChecked: () => bar.tick() });
 * ```
 */
export async function findUndecodableImages(
  paths: string[],
  opts: { concurrency?: number; onChecked?: () => void } = {},
): Promise<UndecodableImage[]> {
  const failed: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < paths.length) {
      const k = next++;
      try {
        await verifyImageDecodes(paths[k]);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        failed.push(k);
      }
      opts.onChecked?.();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, lane));
  const bad: UndecodableImage[] = [];
  for (const k of failed.sort((a, b) => a - b)) {
    try {
      await verifyImageDecodes(paths[k]);
    } catch (err) {
      bad.push({ path: paths[k], reason: (err as InputError).reason });
    }
  }
  return bad;
}

function flipRowsInPlace(data: Uint8Array, width: number, height: number, c: number): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * c;
    for (let a = 0, b = width - 1; a < b; a++, b--) {
      for (let k = 0; k < c; k++) {
        const i = row + a * c + k, j = row + b * c + k;
        const t = data[i];
        data[i] = data[j];
        data[j] = t;
      }
    }
  }
}

function applyViewRaw(img: RawImage, view: ImageViewParams): Uint8Array {
  const c = img.channels;
  let out: Uint8Array;
  if (view.transform === "train") {
    const big = resizePil(
      img.data,
      img.width,
      img.height,
      PIPELINE_TRAIN_RESIZE,
      PIPELINE_TRAIN_RESIZE,
      c,
    );
    out = new Uint8Array(PIPELINE_IMAGE_SIZE * PIPELINE_IMAGE_SIZE * c);
    for (let y = 0; y < PIPELINE_IMAGE_SIZE; y++) {
      const from = ((y + view.cropY) * PIPELINE_TRAIN_RESIZE + view.cropX) * c;
      out.set(big.subarray(from, from + PIPELINE_IMAGE_SIZE * c), y * PIPELINE_IMAGE_SIZE * c);
    }
  } else {
    out = resizePil(img.data, img.width, img.height, PIPELINE_IMAGE_SIZE, PIPELINE_IMAGE_SIZE, c);
  }
  if (view.flip) flipRowsInPlace(out, PIPELINE_IMAGE_SIZE, PIPELINE_IMAGE_SIZE, c);
  return c === 1 ? grayToRgb(out) : out;
}

/**
 * Apply a view to a decoded image: 224×224×3 bytes.
 *
 * @example
 * ```ts
 * const pixels = applyImageView(await decodeImage(p), drawImageView("test"));
 * ```
 */
export function applyImageView(img: RgbImage, view: ImageViewParams): Uint8Array {
  return applyViewRaw({ ...img, channels: 3 }, view);
}

/**
 * Decode an image and apply a view (grayscale images are resized as one channel and
 * expanded afterwards: the same bytes as expanding first, at a third of the work).
 */
export async function loadImageView(path: string, view: ImageViewParams): Promise<Uint8Array> {
  return applyViewRaw(await decodeRaw(path), view);
}

/**
 * Map boxes of an image of size `[width, height]` (its own pixels) into a view's 224 frame:
 * scale, then crop offset and clipping (train), then flip.
 *
 * @example
 * ```ts
 * transformBoxes([[0, 0, 499, 332]], [500, 333], drawImageView("flip"));
 * ```
 */
export function transformBoxes(boxes: Box[], size: [number, number], view: ImageViewParams): Box[] {
  const [w, h] = size;
  const side = view.transform === "train" ? PIPELINE_TRAIN_RESIZE : PIPELINE_IMAGE_SIZE;
  const sx = side / w, sy = side / h;
  const last = PIPELINE_IMAGE_SIZE - 1;
  const clip = (v: number) => Math.min(Math.max(v, 0), last);
  return boxes.map(([x0, y0, x1, y1]) => {
    let a = x0 * sx, b = y0 * sy, c = x1 * sx, d = y1 * sy;
    if (view.transform === "train") {
      a = clip(a - view.cropX);
      c = clip(c - view.cropX);
      b = clip(b - view.cropY);
      d = clip(d - view.cropY);
    }
    if (view.flip) [a, c] = [last - c, last - a];
    return [a, b, c, d] as Box;
  });
}

/** ImageNet channel means (RGB, 0..1 scale) used by torchvision-pretrained models. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB, 0..1 scale). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];
