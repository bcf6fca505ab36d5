/**
 * Image sizes from file headers (JPEG and PNG), without decoding pixels: converting a dataset
 * needs the size of every image, and reading a few kilobytes is ~100× faster than a decode.
 *
 * The size is the stored raster size (EXIF orientation is ignored), as PIL's `Image.size`
 * reports it and as wsolevaluation's `image_sizes.txt` records it.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";

/** An image's stored size and container format. */
export interface ImageHeader {
  width: number;
  height: number;
  format: "jpeg" | "png";
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** JPEG start-of-frame markers (C0–CF except DHT C4, JPG C8 and DAC CC) carry the size. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

/**
 * Parse the size from the first bytes of a JPEG or PNG. Returns `"more"` when the header
 * continues past `bytes` (read more and call again), throws an InputError for anything
 * that is not a well-formed JPEG/PNG header.
 */
export function parseImageHeader(bytes: Uint8Array, file = "(bytes)"): ImageHeader | "more" {
  if (bytes.length < 8) return "more";
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    if (bytes.length < 24) return "more";
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const type = String.fromCharCode(...bytes.subarray(12, 16));
    if (type !== "IHDR") throw new InputError("PNG without an IHDR chunk first", { file });
    const width = v.getUint32(16), height = v.getUint32(20);
    if (width === 0 || height === 0) throw new InputError("PNG with a zero size", { file });
    return { width, height, format: "png" };
  }
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new InputError("not a JPEG or PNG file (unknown signature)", { file });
  }
  let p = 2;
  while (true) {
    // skip fill bytes before a marker
    while (p < bytes.length && bytes[p] === 0xff && bytes[p + 1] === 0xff) p++;
    if (p + 4 > bytes.length) return "more";
    if (bytes[p] !== 0xff) throw new InputError(`corrupt JPEG: no marker at byte ${p}`, { file });
    const marker = bytes[p + 1];
    if (marker === 0xd9 || marker === 0xda) {
      throw new InputError("corrupt JPEG: image data before any frame header", { file });
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2; // markers without a length
      continue;
    }
    const length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (length < 2) throw new InputError(`corrupt JPEG: segment length ${length}`, { file });
    if (isStartOfFrame(marker)) {
      if (p + 9 > bytes.length) return "more";
      const height = (bytes[p + 5] << 8) | bytes[p + 6];
      const width = (bytes[p + 7] << 8) | bytes[p + 8];
      if (width === 0 || height === 0) {
        throw new InputError(`JPEG frame with a zero size (${width}x${height})`, { file });
      }
      return { width, height, format: "jpeg" };
    }
    p += 2 + length;
  }
}

/**
 * Read an image's stored size from its header (JPEG or PNG). Reads 4 KiB at first and more
 * only when metadata segments (EXIF, ICC) push the frame header further.
 *
 * @example
 * ```ts
 * const { width, height } = await readImageSize("images/001.Black_footed_Albatross/x.jpg");
 * ```
 */
export async function readImageSize(path: string): Promise<ImageHeader> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new InputError("image not found", { file: path });
    }
    throw err;
  }
  try {
    let buf = new Uint8Array(4096);
    let filled = 0;
    while (true) {
      const n = await file.read(buf.subarray(filled));
      if (n !== null) filled += n;
      const r = parseImageHeader(buf.subarray(0, filled), path);
      if (r !== "more") return r;
      if (n === null) {
        throw new InputError(
          filled === 0 ? "empty image file" : "truncated image header",
          { file: path },
        );
      }
      if (filled === buf.length) {
        const bigger = new Uint8Array(buf.length * 4);
        bigger.set(buf);
        buf = bigger;
      }
    }
  } finally {
    file.close();
  }
}
