/**
 * The `.safetensors` format (Hugging Face): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets}, __metadata__?: {string: string}}`, then the
 * raw little-endian tensor bytes. Used for encoder weights, CLIP text weights, anchors
 * files and training checkpoints.
 *
 * @module
 */
import { InputError, readInputFile } from "./errors.ts";
import { writeFileAtomic } from "./atomic.ts";

/** Element types this reader understands. */
export type SafeDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

/** Array type of each stored dtype (F16/BF16 stay raw 16-bit words). */
export type SafeData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** One stored tensor. */
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** Flat C-order data; F16 and BF16 come as their raw bits in a Uint16Array. */
  data: SafeData;
}

/** A whole `.safetensors` file. */
export interface SafeTensorsFile {
  tensors: Map<string, SafeTensor>;
  /** The free-form `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

function view(dtype: SafeDtype, buf: ArrayBuffer): SafeData {
  switch (dtype) {
    case "F64":
      return new Float64Array(buf);
    case "F32":
      return new Float32Array(buf);
    case "F16":
    case "BF16":
      return new Uint16Array(buf);
    case "I64":
      return new BigInt64Array(buf);
    case "I32":
      return new Int32Array(buf);
    case "I16":
      return new Int16Array(buf);
    case "I8":
      return new Int8Array(buf);
    case "U8":
    case "BOOL":
      return new Uint8Array(buf);
  }
}

/**
 * Decode `.safetensors` bytes; `source` names the file in error messages.
 *
 * @example
 * ```ts
 * const st = parseSafetensors(await Deno.readFile("vit.safetensors"), "vit.safetensors");
 * const w = toFloat32(st.tensors.get("blocks.0.attn.qkv.weight")!);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = "<safetensors>"): SafeTensorsFile {
  const fail = (why: string) =>
    new InputError(`not a valid .safetensors file: ${why}`, { file: source });
  if (bytes.length < 8) throw fail("shorter than its 8-byte header length");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > bytes.length - 8) throw fail(`header length ${headerLen} exceeds file size`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    throw fail(`header is not JSON (${(err as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: SafeDtype; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in BYTES)) throw fail(`tensor '${name}' has unsupported dtype '${e.dtype}'`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * BYTES[e.dtype]) {
      throw fail(
        `tensor '${name}' of shape [${e.shape}] ${e.dtype} needs ${
          count * BYTES[e.dtype]
        } bytes, offsets give ${end - begin}`,
      );
    }
    if (base + end > bytes.length) {
      throw fail(`tensor '${name}' ends at byte ${base + end}, file has ${bytes.length}`);
    }
    const buf = bytes.slice(base + begin, base + end).buffer;
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: view(e.dtype, buf) });
  }
  return { tensors, metadata };
}

/**
 * Read a `.safetensors` file from disk.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = await readSafetensors("anchors.safetensors");
 * ```
 */
export async function readSafetensors(path: string): Promise<SafeTensorsFile> {
  return parseSafetensors(await readInputFile(path), path);
}

/** Convert an IEEE half-precision bit pattern to a number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Convert a number to IEEE half-precision bits (round to nearest even). */
export function numberToF16(x: number): number {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant = (mant | 0x800000) >>> 0;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/**
 * The tensor's values as Float32 (F16, BF16, F64 and integer types converted).
 *
 * @example
 * ```ts
 * const w = toFloat32(st.tensors.get("token_embedding.weight")!);
 * ```
 */
export function toFloat32(t: SafeTensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  const out = new Float32Array(d.length);
  if (t.dtype === "F16") {
    for (let i = 0; i < d.length; i++) out[i] = f16ToNumber((d as Uint16Array)[i]);
  } else if (t.dtype === "BF16") {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < d.length; i++) u32[i] = (d as Uint16Array)[i] << 16;
  } else {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  }
  return out;
}

/** A tensor to write: data type is taken from `dtype`, or inferred from the array. */
export interface SafeTensorInput {
  shape: number[];
  data: SafeData;
  /** Needed only to write F16/BF16 (raw bits in a Uint16Array) or BOOL. */
  dtype?: SafeDtype;
}

function inferDtype(d: SafeData): SafeDtype {
  if (d instanceof Float64Array) return "F64";
  if (d instanceof Float32Array) return "F32";
  if (d instanceof BigInt64Array) return "I64";
  if (d instanceof Int32Array) return "I32";
  if (d instanceof Int16Array) return "I16";
  if (d instanceof Int8Array) return "I8";
  if (d instanceof Uint16Array) return "F16";
  return "U8";
}

/**
 * Encode tensors (sorted by name) and string metadata as `.safetensors` bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(4) } }, { note: "x" });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensorInput>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const names = Object.keys(tensors).sort();
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`encodeSafetensors: '${name}' shape [${t.shape}] vs ${t.data.length} values`);
    }
    const dtype = t.dtype ?? inferDtype(t.data);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json = json.padEnd(Math.ceil(json.length / 8) * 8, " ");
  const jsonBytes = new TextEncoder().encode(json);
  const pad = (8 - (jsonBytes.length % 8)) % 8; // non-ASCII names can break the alignment above
  const out = new Uint8Array(8 + jsonBytes.length + pad + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length + pad), true);
  out.set(jsonBytes, 8);
  out.fill(0x20, 8 + jsonBytes.length, 8 + jsonBytes.length + pad);
  let at = 8 + jsonBytes.length + pad;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Write a `.safetensors` file atomically.
 *
 * @example
 * ```ts
 * await writeSafetensors("ckpt.safetensors", { "head.weight": { shape: [4, 8], data } }, { step: "10" });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafeTensorInput>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
