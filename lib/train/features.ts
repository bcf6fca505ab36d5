/**
 * The frozen-feature cache: an encoder's patch tokens for every image of a split and view,
 * computed once and kept on disk, so training and evaluation never run the encoder twice.
 *
 * Cache files, one pair per view: `<cacheDir>/<encoder id>.<view>.<key>.bin` (tokens
 * `[N, gh·gw, dim]`, little-endian float16 by default) and `.json` (header: ids, grid, dim,
 * geometry, dtype, and the inputs the key was made from). The key is a SHA-256 over the
 * encoder id and weight fingerprint, input size, view, image loader, storage type, and every
 * image's id, file size and mtime: change any of them and the entry is recomputed. Writes are
 * atomic and the header is written last, so an interrupted run leaves no half entry.
 *
 * Float16 storage halves the files (relu6 / LayerNorm outputs lose ~3 significant digits;
 * relative error ≤ 2⁻¹¹). Freshly computed tokens are rounded the same way, so a run gives
 * identical numbers whether or not the cache existed.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeFileAtomic, writeTextAtomic } from "../io/atomic.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import { projectPath } from "../util/paths.ts";
import type { FeatureSet, PatchEncoder } from "../model/encoder.ts";
import type { EncoderSpec } from "../model/load_encoder.ts";
import { checkFeatureView, type FeatureView, VIEW_LOADER_ID } from "./view_images.ts";
import {
  type BatchResult,
  type ExtractionTask,
  extractionWorkers,
  type LoadedTask,
  runExtraction,
} from "./extract.ts";

/** What feature extraction needs of a dataset (a `WsolDataset` fits). */
export interface ImageListDataset {
  /** Dataset name (informational). */
  name: string;
  /** Image ids are paths relative to this folder. */
  imageRoot: string;
  /** Splits by name, each with its image ids. */
  splits: Record<string, { imageIds: string[] }>;
}

/** How tokens are stored in the cache. */
export type FeatureStorage = "f16" | "f32";

/** Options shared by the feature and cue extractors. */
export interface ExtractCommonOptions {
  /** Cache folder (default `data/cache/features` in the project); `null`: no cache. */
  cacheDir?: string | null;
  /** Worker threads (default 1: this thread). 2 uses both cores on a 2-core machine. */
  workers?: number;
  /** Images per batch (default 16). */
  batchSize?: number;
  /** Only these ids, in this order (default: the split's list). */
  ids?: string[];
  /** Progress bar options, or `false` for none. */
  progress?: ProgressOptions | false;
}

/** Options of {@link extractFeatures}. */
export interface ExtractFeaturesOptions extends ExtractCommonOptions {
  /** Views to extract (default `["test"]`). A flip view's cells live on the mirrored image. */
  views?: FeatureView[];
  /** Cache storage type (default `f16`). */
  storage?: FeatureStorage;
}

/** The default cache folder. */
export function defaultFeatureCacheDir(): string {
  return projectPath("data", "cache", "features");
}

/** The ids of a split (error naming the available splits when absent). */
export function splitImageIds(dataset: ImageListDataset, split: string): string[] {
  const s = dataset.splits[split];
  if (!s) {
    throw new InputError(
      `dataset '${dataset.name}' has no split '${split}' (splits: ${
        Object.keys(dataset.splits).join(", ")
      })`,
    );
  }
  return s.imageIds;
}

/** `[id, size, mtime]` of every image: part of cache keys. */
export async function imageFileStamps(
  imageRoot: string,
  ids: string[],
): Promise<[string, number, number][]> {
  return await Promise.all(ids.map(async (id): Promise<[string, number, number]> => {
    const path = join(imageRoot, id);
    try {
      const st = await Deno.stat(path);
      return [id, st.size, st.mtime?.getTime() ?? 0];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new InputError("image not found", { file: path });
      }
      throw err;
    }
  }));
}

/** Hex SHA-256 (first 16 hex digits) of a JSON value. */
export async function hashCacheKey(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...hash.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file-name-safe form of an id. */
export function cacheSafeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@-]+/g, "_");
}

interface FeatureHeader {
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
}

function progressBar(label: string, total: number, opt: ProgressOptions | false | undefined) {
  return new Progress(label, total, opt === false ? { silent: true } : { unit: "img", ...opt });
}

async function readCached(
  base: string,
  into: Float32Array,
  count: number,
  storage: FeatureStorage,
): Promise<boolean> {
  let header: FeatureHeader;
  try {
    header = JSON.parse(await Deno.readTextFile(base + ".json"));
  } catch {
    return false;
  }
  if (header.format !== "tedloc-features/1" || header.dtype !== storage) return false;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(base + ".bin");
  } catch {
    return false;
  }
  const per = storage === "f16" ? 2 : 4;
  if (bytes.byteLength !== count * per) return false; // damaged: recompute
  // Deno.readFile gives a fresh, aligned buffer: view it without copying.
  const aligned = bytes.byteOffset % per === 0
    ? bytes
    : new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  into.set(
    storage === "f16"
      ? new Float16Array(aligned.buffer, aligned.byteOffset, count)
      : new Float32Array(aligned.buffer, aligned.byteOffset, count),
  );
  return true;
}

async function writeCached(
  base: string,
  values: Float32Array,
  storage: FeatureStorage,
  header: FeatureHeader,
): Promise<void> {
  const arr = storage === "f16" ? new Float16Array(values) : values;
  await writeFileAtomic(base + ".bin", new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  await writeTextAtomic(base + ".json", JSON.stringify(header));
}

/** The task and in-thread model for an encoder; workers need a spec. */
export function encoderTask(
  encoder: PatchEncoder,
  kind: "tokens" | "attention",
  workers: number,
): { task: ExtractionTask; local: LoadedTask; workers: number } {
  const local: LoadedTask = { kind, encoder };
  workers = extractionWorkers(workers);
  if (workers > 1 && !encoder.spec) {
    console.warn(`encoder ${encoder.id} has no spec (built in memory): extracting in one thread`);
    workers = 1;
  }
  const spec = (encoder.spec ?? { kind: "in-memory" }) as EncoderSpec;
  return { task: { kind, encoder: spec }, local, workers };
}

/**
 * Patch tokens of every image of `split` for each view, from the cache when present.
 *
 * @example
 * ```ts
 * const enc = await defaultEncoder();
 * const fs = await extractFeatures(enc, dataset, "train", { views: ["test", "flip"], workers: 2 });
 * // fs.tokens: [2][fs.ids.length][196][128]
 * ```
 */
export async function extractFeatures(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  split: string,
  opts: ExtractFeaturesOptions = {},
): Promise<FeatureSet> {
  const ids = opts.ids ?? splitImageIds(dataset, split);
  const views = (opts.views ?? ["test"]).map(checkFeatureView);
  const storage = opts.storage ?? "f16";
  if (storage !== "f16" && storage !== "f32") {
    throw new InputError(`unknown feature storage '${storage}' (use f16 or f32)`);
  }
  const cacheDir = opts.cacheDir === undefined ? defaultFeatureCacheDir() : opts.cacheDir;
  const batchSize = opts.batchSize ?? 16;
  const [gh, gw] = encoder.grid;
  const perImage = gh * gw * encoder.dim;
  const perView = ids.length * perImage;
  const tokens = new Float32Array(views.length * perView);
  const stamps = cacheDir === null ? [] : await imageFileStamps(dataset.imageRoot, ids);

  const todo: { v: number; base: string | null; header: FeatureHeader }[] = [];
  for (let v = 0; v < views.length; v++) {
    const keyInputs = {
      encoder: encoder.id,
      fingerprint: encoder.fingerprint ?? null,
      inputSize: encoder.inputSize,
      grid: encoder.grid,
      dim: encoder.dim,
      view: views[v],
      loader: VIEW_LOADER_ID,
      storage,
    };
    const header: FeatureHeader = {
      format: "tedloc-features/1",
      encoderId: encoder.id,
      view: views[v],
      dtype: storage,
      ids,
      grid: [gh, gw],
      dim: encoder.dim,
      stride: encoder.stride,
      cellOffset: encoder.cellOffset,
      keyInputs,
    };
    let base: string | null = null;
    if (cacheDir !== null) {
      const key = await hashCacheKey({ ...keyInputs, images: stamps });
      base = join(cacheDir, `${cacheSafeName(encoder.id)}.${views[v]}.${key}`);
      const slice = tokens.subarray(v * perView, (v + 1) * perView);
      if (await readCached(base, slice, perView, storage)) continue;
    }
    todo.push({ v, base, header });
  }

  if (todo.length > 0) {
    const { task, local, workers } = encoderTask(encoder, "tokens", opts.workers ?? 1);
    const bar = progressBar(
      `features ${encoder.id} [${todo.map((t) => views[t.v]).join("+")}] ×${workers}`,
      ids.length * todo.length,
      opts.progress,
    );
    const slices = todo.map(({ v }) => tokens.subarray(v * perView, (v + 1) * perView));
    await runExtraction(task, local, dataset.imageRoot, ids, todo.map((t) => views[t.v]), {
      workers,
      batchSize,
      inputSize: encoder.inputSize,
      onBatch: (r: BatchResult) => {
        if (r.values.length !== r.count * perImage) {
          throw new Error(`batch of ${r.count} gave ${r.values.length} values`);
        }
        // Round through the storage type so fresh and cached runs give equal numbers.
        const values = storage === "f16" ? new Float16Array(r.values) : r.values;
        slices[r.view].set(values, r.start * perImage);
        bar.tick(r.count);
      },
    });
    for (const [i, { base, header }] of todo.entries()) {
      if (base !== null) await writeCached(base, slices[i], storage, header);
    }
    bar.done();
  }

  return {
    encoderId: encoder.id,
    ids: [...ids],
    grid: [gh, gw],
    dim: encoder.dim,
    stride: encoder.stride,
    cellOffset: encoder.cellOffset,
    views,
    tokens,
  };
}
