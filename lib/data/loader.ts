/**
 * Batches for the encoders: `[B, 224, 224, 3]` float32 tensors in 0..255 (encoders normalise
 * themselves), with the boxes mapped into each view's 224 frame, seeded shuffling and
 * background prefetch.
 *
 * Decoding (sharp, on libuv's thread pool) and resizing (JS, {@link resizePil}) run in a
 * small pool of Workers by default, so while the main thread runs tfjs on batch k, batches
 * k + 1 … k + prefetch are being decoded on the other core(s).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { Rng } from "../util/rng.ts";
import type { WsolDataset } from "./dataset.ts";
import { datasetImagePath } from "./dataset.ts";
import {
  drawImageView,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type ImageTransform,
  type ImageViewParams,
  loadImageView,
  PIPELINE_IMAGE_SIZE,
  transformBoxes,
} from "./image.ts";
import type { Box, WsolMetadata } from "./metadata.ts";

const PIXELS = PIPELINE_IMAGE_SIZE * PIPELINE_IMAGE_SIZE * 3;

/** Workers used when none is asked for: one per spare core, at most 2 (0 on one core). */
export function defaultDecodeWorkers(): number {
  const cores = navigator.hardwareConcurrency ?? 2;
  return Math.max(0, Math.min(2, cores - 1));
}

interface Pending {
  resolve: (px: Uint8Array) => void;
  reject: (err: Error) => void;
  worker: number;
}

/**
 * A pool of decode workers (or the main thread when `size` is 0). Each `load` decodes one
 * image and applies one view, returning 224×224×3 bytes.
 *
 * @example
 * ```ts
 * const pool = new ImageDecoderPool(1);
 * const px = await pool.load(path, drawImageView("test"));
 * pool.close();
 * ```
 */
export class ImageDecoderPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextJob = 0;
  private closed = false;

  constructor(size = defaultDecodeWorkers()) {
    this.size = size;
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e) => this.finish(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.failWorker(i, new Error(`decode worker ${i} crashed: ${e.message}`));
      };
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  private finish(msg: {
    job: number;
    pixels?: Uint8Array;
    error?: string;
    file?: string;
    input?: boolean;
  }): void {
    const p = this.pending.get(msg.job);
    if (!p) return;
    this.pending.delete(msg.job);
    this.busy[p.worker]--;
    if (msg.pixels) p.resolve(msg.pixels);
    else if (msg.input) p.reject(new InputError(msg.error ?? "bad image", { file: msg.file }));
    else p.reject(new Error(msg.error));
  }

  private failWorker(worker: number, err: Error): void {
    for (const [job, p] of this.pending) {
      if (p.worker === worker) {
        this.pending.delete(job);
        p.reject(err);
      }
    }
  }

  /** Decode `path` and apply `view`. Rejects with an InputError naming a bad file. */
  load(path: string, view: ImageViewParams): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("ImageDecoderPool is closed"));
    if (this.size === 0) return loadImageView(path, view);
    let w = 0;
    for (let i = 1; i < this.size; i++) if (this.busy[i] < this.busy[w]) w = i;
    const job = this.nextJob++;
    this.busy[w]++;
    return new Promise((resolve, reject) => {
      this.pending.set(job, { resolve, reject, worker: w });
      this.workers[w].postMessage({ job, path, view });
    });
  }

  /** Stop the workers; pending loads reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.terminate();
    for (const p of this.pending.values()) p.reject(new Error("ImageDecoderPool closed"));
    this.pending.clear();
  }
}

/** Scale a `[B, H, W, 3]` 0..255 batch to ImageNet-normalised values `(x/255 − mean)/std`. */
export function normalizeImagenet(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const mean = tf.tensor1d(IMAGENET_MEAN.map((m) => m * 255));
    const std = tf.tensor1d(IMAGENET_STD.map((s) => s * 255));
    return images.sub(mean).div(std) as tf.Tensor4D;
  });
}

/** Find the split whose metadata holds `id` (the named one first). */
function metadataOf(dataset: WsolDataset, id: string, split?: string): WsolMetadata | undefined {
  if (split !== undefined) {
    const m = dataset.splits[split];
    if (!m) throw new Error(`dataset '${dataset.name}' has no split '${split}'`);
    return m.classLabels.has(id) ? m : undefined;
  }
  return Object.values(dataset.splits).find((m) => m.classLabels.has(id));
}

function boxesOf(m: WsolMetadata | undefined, id: string, view: ImageViewParams): Box[] {
  const size = m?.imageSizes.get(id);
  const boxes = m?.boxes.get(id);
  return size && boxes ? transformBoxes(boxes, size, view) : [];
}

/** Options of {@link loadImageBatch}. */
export interface LoadBatchOptions {
  transform: ImageTransform;
  /** Needed by the `train` transform (crop, flip). */
  rng?: Rng;
  /** Split to look ids up in (default: any split holding the id). */
  split?: string;
  /** Decoder pool to use (default: decode on the main thread's sharp thread pool). */
  pool?: ImageDecoderPool;
}

/** A batch of views, ready for an encoder. */
export interface ImageBatchData {
  /** `[B, 224, 224, 3]` float32 in 0..255. */
  images: tf.Tensor4D;
  /** Each image's GT boxes in the 224 frame of its view (empty when it has none). */
  boxes: Box[][];
}

async function assemble(
  paths: string[],
  views: ImageViewParams[],
  pool: ImageDecoderPool | undefined,
): Promise<Float32Array> {
  const out = new Float32Array(paths.length * PIXELS);
  const load = pool ? (p: string, v: ImageViewParams) => pool.load(p, v) : loadImageView;
  await Promise.all(paths.map(async (p, i) => {
    const px = await load(p, views[i]);
    const base = i * PIXELS;
    for (let k = 0; k < PIXELS; k++) out[base + k] = px[k];
  }));
  return out;
}

/**
 * Load one batch of images of a dataset in a view.
 *
 * @example
 * ```ts
 * const ds = await ensureDefaultDataset({ profile: "ci" });
 * const { images, boxes } = await loadImageBatch(ds, ds.splits.test.imageIds.slice(0, 8),
 *   { transform: "test" });
 * images.dispose();
 * ```
 */
export async function loadImageBatch(
  dataset: WsolDataset,
  ids: string[],
  opts: LoadBatchOptions,
): Promise<ImageBatchData> {
  const views = ids.map(() => drawImageView(opts.transform, opts.rng));
  const metas = ids.map((id) => metadataOf(dataset, id, opts.split));
  const data = await assemble(ids.map((id) => datasetImagePath(dataset, id)), views, opts.pool);
  return {
    images: tf.tensor4d(data, [ids.length, PIPELINE_IMAGE_SIZE, PIPELINE_IMAGE_SIZE, 3], "float32"),
    boxes: ids.map((id, i) => boxesOf(metas[i], id, views[i])),
  };
}

/** Options of {@link iterateBatches}. */
export interface IterateBatchesOptions {
  batchSize: number;
  transform: ImageTransform;
  /** Shuffle the order (default false). */
  shuffle?: boolean;
  /** Source of shuffling and augmentation; or give `seed` (default seed 0). */
  rng?: Rng;
  seed?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Drop a last, smaller batch (default false). */
  dropLast?: boolean;
  /** Decode workers (default {@link defaultDecodeWorkers}); 0 decodes on the main thread. */
  workers?: number;
  /**
   * A pool to decode with instead of starting `workers` new ones (reuse one across epochs;
   * the iterator leaves it open).
   */
  pool?: ImageDecoderPool;
  /** Ids to iterate (default: the split's ids in file order). */
  ids?: string[];
}

/** One batch from {@link iterateBatches}. The consumer owns (and disposes) `images`. */
export interface ImageBatch extends ImageBatchData {
  /** 0-based batch number within the pass. */
  index: number;
  ids: string[];
  labels: Int32Array;
  views: ImageViewParams[];
}

/**
 * One pass over a split in batches, decoding up to `prefetch` batches ahead in the
 * background. Order and augmentation depend only on the seed, never on timing. Breaking out
 * of the loop stops the workers.
 *
 * @example
 * ```ts
 * for await (const b of iterateBatches(ds, "train", { batchSize: 32, transform: "train",
 *   shuffle: true, seed: epoch })) {
 *   const feats = encoder.encode(b.images);
 *   b.images.dispose();
 * }
 * ```
 */
export async function* iterateBatches(
  dataset: WsolDataset,
  split: string,
  opts: IterateBatchesOptions,
): AsyncGenerator<ImageBatch> {
  const meta = dataset.splits[split];
  if (!meta) throw new Error(`dataset '${dataset.name}' has no split '${split}'`);
  if (!(opts.batchSize >= 1 && Number.isInteger(opts.batchSize))) {
    throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const order = [...(opts.ids ?? meta.imageIds)];
  for (const id of order) {
    if (!meta.classLabels.has(id)) throw new Error(`image '${id}' is not in split '${split}'`);
  }
  if (opts.shuffle) rng.shuffle(order);
  const chunks: string[][] = [];
  for (let i = 0; i < order.length; i += opts.batchSize) {
    const c = order.slice(i, i + opts.batchSize);
    if (c.length === opts.batchSize || !opts.dropLast) chunks.push(c);
  }
  const ownPool = opts.pool === undefined;
  const pool = opts.pool ?? new ImageDecoderPool(opts.workers ?? defaultDecodeWorkers());
  const ahead = Math.max(0, opts.prefetch ?? 2);
  type Prepared = { ids: string[]; views: ImageViewParams[]; data: Float32Array };
  const queue: Promise<Prepared>[] = [];
  let scheduled = 0;
  const schedule = () => {
    const ids = chunks[scheduled++];
    // views drawn here, in batch order, so augmentation is independent of decode timing
    const views = ids.map(() => drawImageView(opts.transform, rng));
    const p = assemble(ids.map((id) => datasetImagePath(dataset, id)), views, pool)
      .then((data) => ({ ids, views, data }));
    p.catch(() => {}); // a batch never consumed must not surface as an unhandled rejection
    queue.push(p);
  };
  try {
    for (let index = 0; index < chunks.length; index++) {
      while (scheduled < chunks.length && scheduled <= index + ahead) schedule();
      const { ids, views, data } = await queue.shift()!;
      yield {
        index,
        ids,
        views,
        labels: Int32Array.from(ids, (id) => meta.classLabels.get(id)!),
        images: tf.tensor4d(
          data,
          [ids.length, PIPELINE_IMAGE_SIZE, PIPELINE_IMAGE_SIZE, 3],
          "float32",
        ),
        boxes: ids.map((id, i) => boxesOf(meta, id, views[i])),
      };
    }
  } finally {
    if (ownPool) pool.close();
  }
}
