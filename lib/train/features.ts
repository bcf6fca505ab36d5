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
import { sha256Hex } from "../config/identity.ts";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import { projectPath } from "../util/paths.ts";
import type { FeatureSet, PatchEncoder } from "../model/encoder.ts";
import type { EncoderSpec } from "../model/load_encoder.ts";
import {
  checkFeatureView,
  type FeatureView,
  loadViewBatch,
  VIEW_LOADER_ID,
} from "./view_images.ts";
import { readFloat32 } from "../backend/read.ts";
import {
  diskTokenSource,
  type FeatureStorage,
  sourcedFeatureSet,
  type TokenSource,
} from "../model/token_source.ts";
import {
  cacheEntryValid,
  featureCacheBytes,
  FeatureFileWriter,
  type FeatureHeader,
  formatBytes,
  freeDiskBytes,
  mergeFeatureShards,
  shardBase,
  shardRange,
} from "./feature_files.ts";
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

export type { FeatureStorage } from "../model/token_source.ts";

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
  /**
   * Run the frozen encoder on each batch inside the training loop instead of caching tokens
   * (for caches larger than the disk). Also chosen, with a message, when the cache estimate
   * exceeds the free space of `cacheDir`.
   */
  encoderInLoop?: boolean;
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

/**
 * Hex SHA-256 (first 16 hex digits) of a JSON value, in its key order (not canonical like
 * `contentKey`: the feature and cue cache files are named by this form).
 */
export function hashCacheKey(value: unknown): Promise<string> {
  return sha256Hex(JSON.stringify(value), 16);
}

/** A file-name-safe form of an id. */
export function cacheSafeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@-]+/g, "_");
}

function progressBar(label: string, total: number, opt: ProgressOptions | false | undefined) {
  return new Progress(label, total, opt === false ? { silent: true } : { unit: "img", ...opt });
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
 * Tokens computed on demand by the frozen encoder (no cache): each read decodes the rows'
 * images in the view and encodes them, rounded through `storage` like cached tokens.
 */
export function encoderTokenSource(
  encoder: PatchEncoder,
  imageRoot: string,
  ids: string[],
  views: FeatureView[],
  storage: FeatureStorage,
): TokenSource {
  return {
    kind: "encoder",
    read: async (view, rows) => {
      if (rows.length === 0) return new Float32Array(0);
      const images = await loadViewBatch(
        imageRoot,
        rows.map((r) => ids[r]),
        views[view],
        encoder.inputSize,
      );
      let values: Float32Array;
      try {
        values = await readFloat32(encoder.encode(images), { dispose: true });
      } finally {
        images.dispose();
      }
      return storage === "f16" ? new Float32Array(new Float16Array(values)) : values;
    },
  };
}

/** One cache entry per view: its file base and header. */
interface EntryPlan {
  view: FeatureView;
  base: string;
  header: FeatureHeader;
}

/** The cache entries (key, base, header) of `ids` × `views`. */
async function planEntries(
  encoder: PatchEncoder,
  imageRoot: string,
  ids: string[],
  views: FeatureView[],
  storage: FeatureStorage,
  cacheDir: string,
): Promise<EntryPlan[]> {
  const stamps = await imageFileStamps(imageRoot, ids);
  return await Promise.all(views.map(async (view) => {
    const keyInputs = {
      encoder: encoder.id,
      fingerprint: encoder.fingerprint ?? null,
      inputSize: encoder.inputSize,
      grid: encoder.grid,
      dim: encoder.dim,
      view,
      loader: VIEW_LOADER_ID,
      storage,
    };
    const key = await hashCacheKey({ ...keyInputs, images: stamps });
    const header: FeatureHeader = {
      format: "tedloc-features/1",
      encoderId: encoder.id,
      view,
      dtype: storage,
      ids,
      grid: [encoder.grid[0], encoder.grid[1]],
      dim: encoder.dim,
      stride: encoder.stride,
      cellOffset: encoder.cellOffset,
      keyInputs,
      key,
    };
    return { view, base: join(cacheDir, `${cacheSafeName(encoder.id)}.${view}.${key}`), header };
  }));
}

function checkOptions(opts: ExtractFeaturesOptions): {
  views: FeatureView[];
  storage: FeatureStorage;
  cacheDir: string | null;
} {
  const views = (opts.views ?? ["test"]).map(checkFeatureView);
  const storage = opts.storage ?? "f16";
  if (storage !== "f16" && storage !== "f32") {
    throw new InputError(`unknown feature storage '${storage}' (use f16 or f32)`);
  }
  const cacheDir = opts.cacheDir === undefined ? defaultFeatureCacheDir() : opts.cacheDir;
  return { views, storage, cacheDir };
}

/**
 * Extract `ids` for the planned entries into their files (`base` of each plan, or a shard
 * base), streaming each batch to disk.
 */
async function extractToFiles(
  encoder: PatchEncoder,
  imageRoot: string,
  ids: string[],
  todo: { base: string; header: FeatureHeader }[],
  storage: FeatureStorage,
  opts: ExtractCommonOptions,
): Promise<void> {
  const perImage = encoder.grid[0] * encoder.grid[1] * encoder.dim;
  const { task, local, workers } = encoderTask(encoder, "tokens", opts.workers ?? 1);
  const bar = progressBar(
    `features ${encoder.id} [${todo.map((t) => t.header.view).join("+")}] ×${workers}`,
    ids.length * todo.length,
    opts.progress,
  );
  const writers = todo.map((t) => new FeatureFileWriter(t.base, ids.length, perImage, storage));
  try {
    await runExtraction(task, local, imageRoot, ids, todo.map((t) => t.header.view), {
      workers,
      batchSize: opts.batchSize ?? 16,
      inputSize: encoder.inputSize,
      onBatch: (r: BatchResult) => {
        if (r.values.length !== r.count * perImage) {
          throw new Error(`batch of ${r.count} gave ${r.values.length} values`);
        }
        writers[r.view].write(r.start, r.values);
        bar.tick(r.count);
      },
    });
    for (const [i, w] of writers.entries()) await w.finish(todo[i].header);
  } catch (err) {
    for (const w of writers) w.abort();
    throw err;
  }
  bar.done();
}

/** Tokens of every image in memory (no cache folder): the classic FeatureSet. */
async function extractInMemory(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  ids: string[],
  views: FeatureView[],
  storage: FeatureStorage,
  opts: ExtractCommonOptions,
): Promise<Float32Array> {
  const perImage = encoder.grid[0] * encoder.grid[1] * encoder.dim, perView = ids.length * perImage;
  const tokens = new Float32Array(views.length * perView);
  const { task, local, workers } = encoderTask(encoder, "tokens", opts.workers ?? 1);
  const bar = progressBar(
    `features ${encoder.id} [${views.join("+")}] ×${workers}`,
    ids.length * views.length,
    opts.progress,
  );
  await runExtraction(task, local, dataset.imageRoot, ids, views, {
    workers,
    batchSize: opts.batchSize ?? 16,
    inputSize: encoder.inputSize,
    onBatch: (r: BatchResult) => {
      // Round through the storage type so cached and uncached runs give equal numbers.
      const values = storage === "f16" ? new Float16Array(r.values) : r.values;
      tokens.set(values, r.view * perView + r.start * perImage);
      bar.tick(r.count);
    },
  });
  bar.done();
  return tokens;
}

/**
 * Patch tokens of every image of `split` for each view, from the cache when present (a
 * complete set of `--shard` files is merged first). With a cache folder the result reads its
 * tokens from the files per batch (see {@link readFeatureTokens}); without one they are in
 * memory; with `encoderInLoop` (or when the cache would not fit the disk) the encoder runs
 * on each batch's images.
 *
 * @example
 * ```ts
 * const enc = await defaultEncoder();
 * const fs = await extractFeatures(enc, dataset, "train", { views: ["test", "flip"], workers: 2 });
 * const batch = await readFeatureTokens(fs, 0, [0, 1, 2]); // [3][196][128]
 * ```
 */
export async function extractFeatures(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  split: string,
  opts: ExtractFeaturesOptions = {},
): Promise<FeatureSet> {
  const ids = [...(opts.ids ?? splitImageIds(dataset, split))];
  const { views, storage, cacheDir } = checkOptions(opts);
  const [gh, gw] = encoder.grid;
  const perImage = gh * gw * encoder.dim;
  const meta = {
    encoderId: encoder.id,
    ids,
    grid: [gh, gw] as [number, number],
    dim: encoder.dim,
    stride: encoder.stride,
    cellOffset: encoder.cellOffset,
    views,
  };
  const inLoop = () =>
    sourcedFeatureSet(meta, encoderTokenSource(encoder, dataset.imageRoot, ids, views, storage));
  if (opts.encoderInLoop) return inLoop();
  if (cacheDir === null) {
    return { ...meta, tokens: await extractInMemory(encoder, dataset, ids, views, storage, opts) };
  }
  const plans = await planEntries(encoder, dataset.imageRoot, ids, views, storage, cacheDir);
  const todo: EntryPlan[] = [];
  for (const p of plans) {
    if (await cacheEntryValid(p.base, ids.length, perImage, storage)) continue;
    if (await mergeFeatureShards(p.base, p.header, perImage)) continue;
    todo.push(p);
  }
  if (todo.length > 0) {
    const need = featureCacheBytes(ids.length, todo.length, gh * gw, encoder.dim, storage);
    const free = await freeDiskBytes(cacheDir);
    const fits = free === null || need < 0.95 * free;
    if (opts.progress !== false || !fits) {
      console.error(
        `feature cache ${split}: ${ids.length} images × ${todo.length} views × ${
          gh * gw
        } tokens × ` +
          `${encoder.dim} × ${storage === "f16" ? 2 : 4} B = ${formatBytes(need)}; free on ` +
          `${cacheDir}: ${free === null ? "unknown" : formatBytes(free)}` +
          (fits ? "" : " — does not fit: the encoder runs in the training loop instead"),
      );
    }
    if (!fits) return inLoop();
    await extractToFiles(encoder, dataset.imageRoot, ids, todo, storage, opts);
  }
  return sourcedFeatureSet(
    meta,
    diskTokenSource(plans.map((p) => p.base + ".bin"), ids.length, perImage, storage),
  );
}

/**
 * Extract shard `index` of `count` of a split (a contiguous range of its ids) into shard
 * files next to the cache entry, for a batch scheduler that spreads extraction over
 * machines (one array task per shard). The run that then needs the features merges the
 * shards once all are present (or `deno task extract --merge` does). Returns the shard range.
 */
export async function extractFeatureShard(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  split: string,
  shard: { index: number; count: number },
  opts: ExtractFeaturesOptions = {},
): Promise<{ start: number; end: number; files: string[] }> {
  const ids = [...(opts.ids ?? splitImageIds(dataset, split))];
  const { views, storage, cacheDir } = checkOptions(opts);
  if (cacheDir === null) throw new InputError("shards need a cache folder");
  const [start, end] = shardRange(ids.length, shard.index, shard.count);
  const plans = await planEntries(encoder, dataset.imageRoot, ids, views, storage, cacheDir);
  const perImage = encoder.grid[0] * encoder.grid[1] * encoder.dim;
  const part = ids.slice(start, end);
  const todo = [];
  for (const p of plans) {
    const base = shardBase(p.base, shard.index, shard.count);
    const header: FeatureHeader = {
      ...p.header,
      ids: part,
      shard: { ...shard, start, end },
    };
    if (await cacheEntryValid(base, part.length, perImage, storage)) continue;
    todo.push({ base, header });
  }
  if (todo.length > 0 && part.length > 0) {
    await extractToFiles(encoder, dataset.imageRoot, part, todo, storage, opts);
  }
  return { start, end, files: plans.map((p) => shardBase(p.base, shard.index, shard.count)) };
}

/**
 * Merge the shard files of a split's entries (all `count` must be present) and check them:
 * same key, each image exactly once. Returns the merged entries' bases; raises naming the
 * first problem.
 */
export async function mergeFeatureShardSet(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  split: string,
  opts: ExtractFeaturesOptions = {},
): Promise<string[]> {
  const ids = [...(opts.ids ?? splitImageIds(dataset, split))];
  const { views, storage, cacheDir } = checkOptions(opts);
  if (cacheDir === null) throw new InputError("shards need a cache folder");
  const plans = await planEntries(encoder, dataset.imageRoot, ids, views, storage, cacheDir);
  const perImage = encoder.grid[0] * encoder.grid[1] * encoder.dim;
  for (const p of plans) {
    if (await cacheEntryValid(p.base, ids.length, perImage, storage)) continue;
    if (!(await mergeFeatureShards(p.base, p.header, perImage))) {
      throw new InputError(
        `split '${split}' view '${p.view}': not every shard is present yet (${p.base}.shard-*)`,
      );
    }
  }
  return plans.map((p) => p.base);
}
