/**
 * Where a {@link FeatureSet}'s tokens live, read per batch: in memory (small data), in the
 * on-disk cache files (positioned reads of the rows a batch needs, so a split larger than
 * memory never sits in one array), or nowhere at all (the frozen encoder runs on the batch's
 * images inside the training loop, for caches that would not fit the disk).
 *
 * Every source returns the same numbers for the same rows: values are rounded through the
 * cache's storage type (float16 by default) whichever way they were obtained, so a run is
 * bit-identical from memory, from disk, or from a fresh extraction.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";
import type { FeatureSet } from "./encoder.ts";

/** How tokens are stored in the cache. */
export type FeatureStorage = "f16" | "f32";

/** Bytes per stored value. */
export function storageBytes(storage: FeatureStorage): number {
  return storage === "f16" ? 2 : 4;
}

/** Tokens of some rows of one view, `[rows.length, gh·gw, dim]` row-major. */
export interface TokenSource {
  /** What the tokens come from (named in errors): `memory`, `disk`, `encoder`. */
  readonly kind: "memory" | "disk" | "encoder";
  /** Tokens of `rows` (indices into the feature set's ids) of view `view` (index). */
  read(view: number, rows: number[]): Promise<Float32Array>;
  /** Synchronous read, where the source can (memory and disk; not the encoder). */
  readSync?(view: number, rows: number[]): Float32Array;
  /** Every token of every view in one array (loads a disk source whole: small data only). */
  readAll?(): Float32Array;
}

/** A feature set whose tokens are read through a {@link TokenSource}. */
export interface SourcedFeatureSet extends FeatureSet {
  /** The token source (`tokens` is a lazy whole-split read through it, for small data). */
  readonly source: TokenSource;
}

/** Values per image. */
function perImage(f: Pick<FeatureSet, "grid" | "dim">): number {
  return f.grid[0] * f.grid[1] * f.dim;
}

/** Tokens held in one Float32Array `[views][ids][N][dim]` (the classic `FeatureSet.tokens`). */
export function memoryTokenSource(tokens: Float32Array, count: number, per: number): TokenSource {
  const readSync = (view: number, rows: number[]) => {
    const out = new Float32Array(rows.length * per), base = view * count * per;
    rows.forEach((r, i) => out.set(tokens.subarray(base + r * per, base + (r + 1) * per), i * per));
    return out;
  };
  return {
    kind: "memory",
    readSync,
    read: (view, rows) => Promise.resolve(readSync(view, rows)),
    readAll: () => tokens,
  };
}

/**
 * Tokens in cache files, one per view (`[count, per]` values of `storage`), read row by row
 * with positioned reads. Each call opens and closes the files it needs, so nothing is held
 * open between batches (and tests see no leaked resources).
 */
export function diskTokenSource(
  files: string[],
  count: number,
  per: number,
  storage: FeatureStorage,
): TokenSource {
  const bytes = storageBytes(storage), rowBytes = per * bytes;
  const readSync = (view: number, rows: number[]) => {
    const path = files[view];
    if (path === undefined) throw new Error(`disk tokens: no view ${view}`);
    const raw = new Uint8Array(rows.length * rowBytes);
    const file = Deno.openSync(path, { read: true });
    try {
      rows.forEach((r, i) => {
        if (!(r >= 0 && r < count)) {
          throw new Error(`disk tokens: row ${r} outside 0..${count - 1}`);
        }
        file.seekSync(r * rowBytes, Deno.SeekMode.Start);
        const dst = raw.subarray(i * rowBytes, (i + 1) * rowBytes);
        for (let got = 0; got < rowBytes;) {
          const n = file.readSync(dst.subarray(got));
          if (n === null || n === 0) {
            throw new InputError(`feature cache file is shorter than expected`, { file: path });
          }
          got += n;
        }
      });
    } finally {
      file.close();
    }
    const values = storage === "f16"
      ? new Float16Array(raw.buffer, 0, rows.length * per)
      : new Float32Array(raw.buffer, 0, rows.length * per);
    return storage === "f16" ? new Float32Array(values) : values as Float32Array;
  };
  return {
    kind: "disk",
    readSync,
    read: (view, rows) => Promise.resolve(readSync(view, rows)),
    readAll: () => {
      const out = new Float32Array(files.length * count * per);
      const all = Array.from({ length: count }, (_, i) => i);
      files.forEach((_, v) => out.set(readSync(v, all), v * count * per));
      return out;
    },
  };
}

/**
 * A {@link FeatureSet} over `source`. Its `tokens` field stays for code written against
 * in-memory sets: reading it loads every token once (kept), so batch readers use
 * {@link readFeatureTokens} instead.
 */
export function sourcedFeatureSet(
  meta: Omit<FeatureSet, "tokens">,
  source: TokenSource,
): SourcedFeatureSet {
  let all: Float32Array | null = null;
  const f = { ...meta, source } as SourcedFeatureSet;
  Object.defineProperty(f, "tokens", {
    enumerable: false,
    get(): Float32Array {
      if (all) return all;
      if (!source.readAll) {
        throw new InputError(
          `the tokens of ${meta.encoderId} are computed in the training loop (encoder in the ` +
            `loop): this step needs cached tokens; run without --encoder-in-loop`,
        );
      }
      all = source.readAll();
      return all;
    },
  });
  return f;
}

/**
 * The token source of a feature set (a memory source over `tokens` for plain sets). A copy made
 * by spreading a sourced set keeps its `source`: to swap the tokens, build a new set with
 * {@link sourcedFeatureSet} (or drop `source`).
 */
export function tokenSourceOf(f: FeatureSet): TokenSource {
  const s = (f as Partial<SourcedFeatureSet>).source;
  return s ?? memoryTokenSource(f.tokens, f.ids.length, perImage(f));
}

/** Tokens `[rows.length, N, dim]` of one view of `f`, read for one batch. */
export async function readFeatureTokens(
  f: FeatureSet,
  view: number,
  rows: number[],
): Promise<Float32Array> {
  return await tokenSourceOf(f).read(view, rows);
}

/** Tokens of a batch whose images each have their own view (`views[i]` for `rows[i]`). */
export async function readFeatureTokensByView(
  f: FeatureSet,
  rows: number[],
  views: number[],
): Promise<Float32Array> {
  const per = perImage(f), out = new Float32Array(rows.length * per);
  const src = tokenSourceOf(f);
  // one read per view present, in batch order within it (the batch's order is restored)
  for (const v of [...new Set(views)]) {
    const at = views.flatMap((w, i) => w === v ? [i] : []);
    const got = await src.read(v, at.map((i) => rows[i]));
    at.forEach((i, k) => out.set(got.subarray(k * per, (k + 1) * per), i * per));
  }
  return out;
}

/**
 * Tokens of one view synchronously (memory and disk sources): for callers that cannot
 * await. An encoder-in-the-loop source raises a one-line error.
 */
export function readFeatureTokensSync(f: FeatureSet, view: number, rows: number[]): Float32Array {
  const src = tokenSourceOf(f);
  if (!src.readSync) {
    throw new InputError(
      `the tokens of ${f.encoderId} are computed in the training loop (encoder in the loop): ` +
        `this step needs cached tokens; run without --encoder-in-loop`,
    );
  }
  return src.readSync(view, rows);
}
