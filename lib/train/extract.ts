/**
 * The extraction engine behind the feature and cue caches: runs a frozen model over a list of
 * images in batches, either in this thread (decoding the next batch while the current one
 * runs) or split over Deno Workers. tfjs-wasm is single-threaded here, so two workers with a
 * model each use both cores (~2× throughput; platform.md).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { readFloat32 } from "../backend/read.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import type { TfjsCnnClassifier, TfjsCnnClassifierSpec } from "../model/mobilenet.ts";
import type { EncoderSpec } from "../model/load_encoder.ts";
import { type GridGeometry, imagenetCamCues } from "../cues/imagenet_cam.ts";
import { type FeatureView, loadViewBatch } from "./view_images.ts";

/** What to compute per image (serialisable: workers receive it). */
export type ExtractionTask =
  | { kind: "tokens"; encoder: EncoderSpec }
  | { kind: "attention"; encoder: EncoderSpec }
  | {
    kind: "cam";
    classifier: TfjsCnnClassifierSpec;
    topK: number;
    target: GridGeometry;
  };

/** A loaded task: the model instance plus the task's parameters. */
export type LoadedTask =
  | { kind: "tokens" | "attention"; encoder: PatchEncoder }
  | { kind: "cam"; classifier: TfjsCnnClassifier; topK: number; target: GridGeometry };

/** One batch's results. `values` is `[count, perImage]`. */
export interface BatchResult {
  /** Index of the batch's view in the list of views asked for. */
  view: number;
  start: number;
  count: number;
  values: Float32Array;
  /** `[count, k]` (cam only). */
  topClasses?: Int32Array;
  /** `[count, k]` (cam only). */
  topProbs?: Float32Array;
}

/** Min-max normalise each row of `[rows, cols]` in place; constant or non-finite rows → 0. */
function normalizeRows(values: Float32Array, cols: number): void {
  for (let r = 0; r * cols < values.length; r++) {
    const row = values.subarray(r * cols, (r + 1) * cols);
    let lo = Infinity, hi = -Infinity, finite = true;
    for (const v of row) {
      if (!Number.isFinite(v)) finite = false;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!finite || !(hi > lo)) row.fill(0);
    else for (let i = 0; i < row.length; i++) row[i] = (row[i] - lo) / (hi - lo);
  }
}

/** Run a loaded task on one batch of raw 0..255 images (one asynchronous read back). */
export async function computeBatch(
  task: LoadedTask,
  images: tf.Tensor4D,
): Promise<Omit<BatchResult, "view" | "start" | "count">> {
  switch (task.kind) {
    case "tokens": {
      return { values: await readFloat32(task.encoder.encode(images), { dispose: true }) };
    }
    case "attention": {
      if (!task.encoder.clsAttention) {
        throw new InputError(`encoder ${task.encoder.id} has no CLS attention`);
      }
      const a = task.encoder.clsAttention(images);
      const cols = a.shape[1];
      const values = await readFloat32(a, { dispose: true });
      normalizeRows(values, cols);
      return { values };
    }
    case "cam": {
      const r = await imagenetCamCues(task.classifier, images, {
        topK: task.topK,
        target: task.target,
      });
      return {
        values: r.maps,
        topClasses: Int32Array.from(r.topClasses.flat()),
        topProbs: Float32Array.from(r.topProbs.flat()),
      };
    }
  }
}

/**
 * Process `ids` for each view in batches in this thread, decoding the next batch (sharp, in
 * its own threads) while the current one runs through the model. `emit` gets each batch's
 * results in order.
 */
export async function processImageList(
  task: LoadedTask,
  imageRoot: string,
  ids: string[],
  views: FeatureView[],
  batchSize: number,
  inputSize: number,
  emit: (r: BatchResult) => void,
): Promise<void> {
  const batches: { view: number; start: number }[] = [];
  for (let v = 0; v < views.length; v++) {
    for (let s = 0; s < ids.length; s += batchSize) batches.push({ view: v, start: s });
  }
  const load = (b: { view: number; start: number }) => {
    const p = loadViewBatch(
      imageRoot,
      ids.slice(b.start, b.start + batchSize),
      views[b.view],
      inputSize,
    );
    p.catch(() => {}); // awaited later; avoid an unhandled-rejection report meanwhile
    return p;
  };
  let next = batches.length > 0 ? load(batches[0]) : null;
  for (let i = 0; i < batches.length; i++) {
    const images = await next!;
    next = i + 1 < batches.length ? load(batches[i + 1]) : null;
    try {
      const r = await computeBatch(task, images);
      emit({ ...batches[i], count: images.shape[0], ...r });
    } finally {
      images.dispose();
    }
  }
}

/**
 * How many extraction workers to use on `backend` (default: the active one). Workers split
 * the CPU's cores between wasm instances; a GPU is one device, already busy with this
 * thread's model, so on webgpu extraction stays in this thread.
 */
export function extractionWorkers(requested: number, backend: string = tf.getBackend()): number {
  return backend === "webgpu" ? 1 : Math.max(1, requested);
}

/** Options of {@link runExtraction}. */
export interface RunOptions {
  /** Worker threads (1: run here, in this thread). */
  workers: number;
  batchSize: number;
  inputSize: number;
  /** tfjs backend for the workers (default: this thread's). */
  backend?: string;
  onBatch: (r: BatchResult) => void;
}

/** Messages from a worker. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "batch"; result: BatchResult }
  | { type: "done" }
  | { type: "error"; message: string; name: string };

/** Message to a worker. */
export interface WorkerJob {
  task: ExtractionTask;
  backend: string;
  imageRoot: string;
  ids: string[];
  /** Index of ids[0] in the full list. */
  offset: number;
  views: FeatureView[];
  batchSize: number;
  inputSize: number;
}

/**
 * Run `task` over `ids` for each of `views`: in this thread with `local` when `workers` is 1,
 * else in `workers` Deno Workers, each rebuilding the model from the task's spec once and
 * taking one contiguous part of the list. Batch results arrive through `onBatch` (start
 * indices are positions in `ids`, `view` indexes `views`).
 */
export async function runExtraction(
  task: ExtractionTask,
  local: LoadedTask,
  imageRoot: string,
  ids: string[],
  views: FeatureView[],
  opts: RunOptions,
): Promise<void> {
  const backend = opts.backend ?? tf.getBackend() ?? "wasm";
  const wanted = extractionWorkers(opts.workers, backend);
  const workers = Math.max(1, Math.min(wanted, Math.ceil(ids.length / opts.batchSize)));
  if (workers === 1) {
    await processImageList(
      local,
      imageRoot,
      ids,
      views,
      opts.batchSize,
      opts.inputSize,
      opts.onBatch,
    );
    return;
  }
  const per = Math.ceil(ids.length / workers);
  const runs: Promise<void>[] = [];
  const started: Worker[] = [];
  try {
    for (let w = 0; w < workers; w++) {
      const part = ids.slice(w * per, (w + 1) * per);
      if (part.length === 0) continue;
      const worker = new Worker(new URL("./extract_worker.ts", import.meta.url).href, {
        type: "module",
      });
      started.push(worker);
      const job: WorkerJob = {
        task,
        backend,
        imageRoot,
        ids: part,
        offset: w * per,
        views,
        batchSize: opts.batchSize,
        inputSize: opts.inputSize,
      };
      runs.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
            const m = ev.data;
            if (m.type === "batch") {
              try {
                opts.onBatch({ ...m.result, start: m.result.start + job.offset });
              } catch (err) {
                reject(err);
              }
            } else if (m.type === "done") resolve();
            else if (m.type === "error") {
              // Keep bad-input errors recognisable (tasks print them as one line).
              reject(
                m.name === "InputError"
                  ? new InputError(m.message)
                  : new Error(`extraction worker ${w}: ${m.message}`),
              );
            }
          };
          worker.onerror = (ev) => {
            ev.preventDefault();
            reject(new Error(`extraction worker ${w} failed: ${ev.message}`));
          };
        }),
      );
      worker.postMessage(job);
    }
    await Promise.all(runs);
  } finally {
    for (const w of started) w.terminate();
  }
}
