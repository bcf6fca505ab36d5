/**
 * NumPy `.npy` files (format versions 1.0–3.0, C order), the layout wsolevaluation uses
 * for saved score maps and that this project uses for cue maps and feature caches.
 *
 * @module
 */
import { InputError, readInputFile } from "./errors.ts";
import { writeFileAtomic } from "./atomic.ts";

/** The array types `.npy` files round-trip to. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | BigInt64Array;

/** A decoded `.npy` array: flat C-order data plus its shape. */
export interface NpyArray<T extends NpyData = NpyData> {
  /** Flat data in C (row-major) order. */
  data: T;
  /** Dimensions, outermost first. `[]` for a scalar. */
  shape: number[];
  /** The numpy dtype string, e.g. `<f4`. Booleans (`|b1`) decode to Uint8Array. */
  dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

type Ctor = { new (buf: ArrayBuffer): NpyData; BYTES_PER_ELEMENT: number };
const DTYPES: Record<string, Ctor> = {
  "<f4": Float32Array,
  "<f8": Float64Array,
  "<i4": Int32Array,
  "<u4": Uint32Array,
  "<i2": Int16Array,
  "<u2": Uint16Array,
  "<i8": BigInt64Array,
  "|u1": Uint8Array,
  "|i1": Int8Array,
  "|b1": Uint8Array,
};

function dtypeOf(data: NpyData): string {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Float64Array) return "<f8";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof Uint32Array) return "<u4";
  if (data instanceof Int16Array) return "<i2";
  if (data instanceof Uint16Array) return "<u2";
  if (data instanceof BigInt64Array) return "<i8";
  if (data instanceof Int8Array) return "|i1";
  return "|u1";
}

/**
 * Decode `.npy` bytes. `source` names the file in error messages.
 *
 * @example
 * ```ts
 * const { data, shape } = parseNpy(await Deno.readFile("map.npy"), "map.npy");
 * ```
 */
export function parseNpy(bytes: Uint8Array, source = "<npy>"): NpyArray {
  const fail = (why: string) => new InputError(`not a valid .npy file: ${why}`, { file: source });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw fail("bad magic");
  const major = bytes[6];
  let headerLen: number, headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw fail("truncated header");
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw fail(`unsupported format version ${major}`);
  }
  if (headerStart + headerLen > bytes.length) throw fail("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw fail(`cannot parse header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === "True") throw fail("Fortran-order arrays are not supported; save with C order");
  const ctor = DTYPES[descr.replace(/^=/, "<")];
  if (!ctor) throw fail(`unsupported dtype '${descr}' (supported: ${Object.keys(DTYPES)})`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(
    Number,
  );
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const nbytes = count * ctor.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart < nbytes) {
    throw fail(
      `expected ${nbytes} data bytes for shape (${shape}), found ${bytes.length - dataStart}`,
    );
  }
  // Copy so the result is aligned and owns its memory.
  const buf = bytes.slice(dataStart, dataStart + nbytes).buffer;
  return { data: new ctor(buf), shape, dtype: descr };
}

/**
 * Read a `.npy` file.
 *
 * @example
 * ```ts
 * const map = await readNpy("scoremaps/001.Black_footed_Albatross/x.npy");
 * ```
 */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readInputFile(path), path);
}

/**
 * Encode an array as `.npy` (format 1.0, or 2.0 if the header needs it).
 *
 * @example
 * ```ts
 * const bytes = encodeNpy(new Float32Array(224 * 224), [224, 224]);
 * ```
 */
export function encodeNpy(data: NpyData, shape: number[], dtype = dtypeOf(data)): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`encodeNpy: shape (${shape}) holds ${count} values, data has ${data.length}`);
  }
  const shapeText = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shapeText}), }`;
  const v1 = header.length + 11 < 65536;
  const pre = v1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = v1 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/**
 * Write a `.npy` file atomically.
 *
 * @example
 * ```ts
 * await writeNpy("cues/img1.npy", new Float32Array(196), [14, 14]);
 * ```
 */
export async function writeNpy(path: string, data: NpyData, shape: number[]): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}
