/**
 * The feature cache's files: a header (`.json`, written last) and the tokens (`.bin`,
 * `[count, per]` little-endian values) per encoder × view × key; written as batches arrive
 * (positioned writes into a temporary file, renamed when complete), so extraction never
 * holds a split's tokens either. A shard (`--shard i/N`) writes the same pair for its
 * contiguous range of the split under `<base>.shard-<i>-of-<N>`; {@link mergeFeatureShards}
 * checks that the shards agree on the key and cover the split exactly once, then joins them.
 *
 * @module
 */
import { dirname } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { type FeatureStorage, storageBytes } from "../model/token_source.ts";
import type { FeatureView } from "./view_images.ts";

/** A cache entry's header (`<base>.json`). */
export interface FeatureHeader {
  format: "tedloc-features/1";
  encoderId: string;
  view: FeatureView;
  dtype: FeatureStorage;
  ids: string[];
  grid: [number, number];
  dim: number;
  stride: number;
  cellOffset: number;
  keyInputs: Record<string, unknown>;
  /** The cache key (hash of `keyInputs` and the images' stamps); shards must agree on it. */
  key?: string;
  /** A shard's range `[start, end)` of the split's ids (absent for a whole entry). */
  shard?: { index: number; count: number; start: number; end: number };
}

/** `i/N` → `{ index, count }` (0-based index) with a one-line error otherwise. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new InputError(`--shard '${text}': use i/N with 0 ≤ i < N (e.g. 0/4)`);
  }
  return { index, count };
}

/** The contiguous range `[start, end)` of `n` ids that shard `index` of `count` covers. */
export function shardRange(n: number, index: number, count: number): [number, number] {
  return [Math.floor((index * n) / count), Math.floor(((index + 1) * n) / count)];
}

/** The file base of one shard of an entry. */
export function shardBase(base: string, index: number, count: number): string {
  return `${base}.shard-${index}-of-${count}`;
}

/** Whether a whole cache entry is present and sound (header matches, size right). */
export async function cacheEntryValid(
  base: string,
  count: number,
  per: number,
  storage: FeatureStorage,
): Promise<boolean> {
  let header: FeatureHeader;
  try {
    header = JSON.parse(await Deno.readTextFile(base + ".json"));
    const st = await Deno.stat(base + ".bin");
    return header.format === "tedloc-features/1" && header.dtype === storage &&
      header.ids.length === count && st.size === count * per * storageBytes(storage);
  } catch {
    return false;
  }
}

/** Streams batches of one view into `<base>.bin` (temporary until {@link finish}). */
export class FeatureFileWriter {
  #file: Deno.FsFile;
  #tmp: string;
  constructor(
    readonly base: string,
    readonly count: number,
    readonly per: number,
    readonly storage: FeatureStorage,
  ) {
    Deno.mkdirSync(dirname(base), { recursive: true });
    this.#tmp = `${base}.bin.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    this.#file = Deno.openSync(this.#tmp, { write: true, create: true, truncate: true });
    this.#file.truncateSync(count * per * storageBytes(storage));
  }

  /** Write `values` (`[n, per]`, already rounded or not) at row `start`. */
  write(start: number, values: Float32Array): void {
    const arr = this.storage === "f16" ? new Float16Array(values) : values;
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    this.#file.seekSync(start * this.per * storageBytes(this.storage), Deno.SeekMode.Start);
    for (let done = 0; done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
  }

  /** Flush, rename into place, then write the header (last: it marks the entry complete). */
  async finish(header: FeatureHeader): Promise<void> {
    await this.#file.sync();
    this.#file.close();
    await Deno.rename(this.#tmp, this.base + ".bin");
    await writeTextAtomic(this.base + ".json", JSON.stringify(header));
  }

  /** Drop the temporary file (after an error). */
  abort(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
    try {
      Deno.removeSync(this.#tmp);
    } catch { /* gone */ }
  }
}

/**
 * Join the shards of an entry into `<base>.bin/.json` when every one of the `count` shards
 * is present. Returns false when some are missing (the entry is then extracted here).
 * Raises when the present shards disagree: another key, overlapping or missing ranges, ids
 * that differ from the split's.
 */
export async function mergeFeatureShards(
  base: string,
  expected: FeatureHeader,
  per: number,
): Promise<boolean> {
  const dir = dirname(base), prefix = base.slice(dir.length + 1) + ".shard-";
  const found = new Map<number, FeatureHeader[]>();
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.name.startsWith(prefix) &&
        /^(\d+)-of-(\d+)\.json$/.exec(e.name.slice(prefix.length));
      if (!m) continue;
      const h: FeatureHeader = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`));
      const n = Number(m[2]);
      found.set(n, [...(found.get(n) ?? []), h]);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  for (const [n, headers] of found) {
    checkShards(base, expected, headers, n);
    if (headers.length < n) continue;
    const w = new FeatureFileWriter(base, expected.ids.length, per, expected.dtype);
    try {
      for (const h of headers) {
        const bytes = await Deno.readFile(`${shardBase(base, h.shard!.index, n)}.bin`);
        const values = expected.dtype === "f16"
          ? new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
          : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        w.write(h.shard!.start, Float32Array.from(values));
      }
      await w.finish(expected);
    } catch (err) {
      w.abort();
      throw err;
    }
    // joined and checked: the shard files would only double the disk the cache takes
    for (const h of headers) {
      const b = shardBase(base, h.shard!.index, n);
      for (const ext of [".json", ".bin"]) await Deno.remove(b + ext).catch(() => {});
    }
    return true;
  }
  return false;
}

/** The shards of one count agree with the entry: key, ids, disjoint ranges (all when complete). */
function checkShards(base: string, expected: FeatureHeader, headers: FeatureHeader[], n: number) {
  const file = `${base}.shard-*-of-${n}.json`;
  const covered = new Int32Array(expected.ids.length);
  for (const h of headers) {
    if (
      h.key !== expected.key || h.dtype !== expected.dtype || h.encoderId !== expected.encoderId
    ) {
      throw new InputError(
        `shard ${h.shard?.index}/${n} was extracted with another key (${h.key}, expected ` +
          `${expected.key}): images, encoder or storage changed; re-extract it`,
        { file },
      );
    }
    const s = h.shard!;
    const [start, end] = shardRange(expected.ids.length, s.index, n);
    if (s.start !== start || s.end !== end || h.ids.length !== end - start) {
      throw new InputError(
        `shard ${s.index}/${n} covers ${s.start}..${s.end}, expected ${start}..${end}`,
        {
          file,
        },
      );
    }
    h.ids.forEach((id, i) => {
      if (id !== expected.ids[start + i]) {
        throw new InputError(
          `shard ${s.index}/${n}: image ${start + i} is '${id}', expected '${
            expected.ids[start + i]
          }'`,
          { file },
        );
      }
      covered[start + i]++;
    });
  }
  const twice = covered.findIndex((c) => c > 1);
  if (twice >= 0) {
    throw new InputError(`image '${expected.ids[twice]}' is in two shards of ${n}`, { file });
  }
  if (headers.length === n) {
    const missing = covered.findIndex((c) => c === 0);
    if (missing >= 0) {
      throw new InputError(`image '${expected.ids[missing]}' is in no shard of ${n}`, { file });
    }
  }
}

/** Bytes a cache of `images × views × tokens × dim` values of `storage` takes. */
export function featureCacheBytes(
  images: number,
  views: number,
  tokens: number,
  dim: number,
  storage: FeatureStorage,
): number {
  return images * views * tokens * dim * storageBytes(storage);
}

/** Free bytes on the file system holding `dir` (`df`), or null when unknown. */
export async function freeDiskBytes(dir: string): Promise<number | null> {
  let at = dir;
  for (;;) {
    try {
      await Deno.stat(at);
      break;
    } catch {
      const up = dirname(at);
      if (up === at) return null;
      at = up;
    }
  }
  try {
    const out = await new Deno.Command("df", { args: ["-Pk", at], stdout: "piped", stderr: "null" })
      .output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    const avail = Number(line.split(/\s+/)[3]);
    return Number.isFinite(avail) ? avail * 1024 : null;
  } catch {
    return null;
  }
}

/** `1.2 GB`-style size. */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${n.toFixed(n < 10 && u > 0 ? 1 : 0)} ${units[u]}`;
}
