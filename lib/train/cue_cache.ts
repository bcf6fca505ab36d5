/**
 * Cached cue maps: ImageNet-CAM cues (top-k classes of a tfjs classifier) and ViT CLS
 * attention, computed once per split and view and kept on disk like the features.
 *
 * Cache file: `<cacheDir>/<source>.<view>.<key>.safetensors` with `maps` F32 `[N, gh·gw]`
 * (and `top_classes` I32 / `top_probs` F32 `[N, k]` for CAM), metadata `ids` (JSON), `grid`,
 * `source`. The key hashes the model id and fingerprint, the cue parameters, the target grid,
 * the view, the image loader and every image's id, size and mtime.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { projectPath } from "../util/paths.ts";
import { Progress } from "../util/progress.ts";
import type { CueSet } from "../cues/cues.ts";
import type { GridGeometry } from "../cues/imagenet_cam.ts";
import type { TfjsCnnClassifier } from "../model/mobilenet.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import { checkFeatureView, type FeatureView, VIEW_LOADER_ID } from "./view_images.ts";
import {
  type BatchResult,
  type ExtractionTask,
  extractionWorkers,
  type LoadedTask,
  runExtraction,
} from "./extract.ts";
import {
  cacheSafeName,
  encoderTask,
  type ExtractCommonOptions,
  hashCacheKey,
  imageFileStamps,
  type ImageListDataset,
  splitImageIds,
} from "./features.ts";

/** The default cue cache folder. */
export function defaultCueCacheDir(): string {
  return projectPath("data", "cache", "cues");
}

/** CAM cues with the ImageNet classes they came from. */
export interface CamCueSet extends CueSet {
  /** Classes mixed per image. */
  topK: number;
  /** `[N, topK]` ImageNet class indices, most probable first. */
  topClasses: Int32Array;
  /** `[N, topK]` their probabilities. */
  topProbs: Float32Array;
}

/** Options of {@link extractCamCues}. */
export interface ExtractCamCuesOptions extends ExtractCommonOptions {
  /** Top classes mixed into the map (default 5). */
  topK?: number;
  /**
   * Grid to put the cues on, usually the TeD-Loc encoder (`{ grid, stride, cellOffset }`);
   * default: the classifier's own feature grid.
   */
  target?: GridGeometry;
  /** Image view (default `test`). Flip-view cues are computed on the mirrored image. */
  view?: FeatureView;
}

interface Cached {
  maps: Float32Array;
  topClasses?: Int32Array;
  topProbs?: Float32Array;
}

async function readCueCache(
  path: string,
  n: number,
  cells: number,
  k: number,
): Promise<Cached | null> {
  try {
    const st = await readSafetensors(path);
    const maps = st.tensors.get("maps");
    if (!maps || maps.dtype !== "F32" || maps.data.length !== n * cells) return null;
    const out: Cached = { maps: maps.data as Float32Array };
    if (k > 0) {
      const c = st.tensors.get("top_classes"), p = st.tensors.get("top_probs");
      if (!c || !p || c.data.length !== n * k || p.data.length !== n * k) return null;
      out.topClasses = c.data as Int32Array;
      out.topProbs = p.data as Float32Array;
    }
    return out;
  } catch {
    return null;
  }
}

async function extractCues(
  label: string,
  task: ExtractionTask,
  local: LoadedTask,
  workers: number,
  dataset: ImageListDataset,
  split: string,
  grid: [number, number],
  k: number,
  keyInputs: Record<string, unknown>,
  opts: ExtractCommonOptions & { view?: FeatureView },
): Promise<{ ids: string[]; cached: Cached }> {
  const ids = opts.ids ?? splitImageIds(dataset, split);
  const view = checkFeatureView(opts.view ?? "test");
  const cells = grid[0] * grid[1];
  const cacheDir = opts.cacheDir === undefined ? defaultCueCacheDir() : opts.cacheDir;
  let path: string | null = null;
  if (cacheDir !== null) {
    const stamps = await imageFileStamps(dataset.imageRoot, ids);
    const key = await hashCacheKey({ ...keyInputs, view, loader: VIEW_LOADER_ID, images: stamps });
    path = join(cacheDir, `${cacheSafeName(label)}.${view}.${key}.safetensors`);
    const hit = await readCueCache(path, ids.length, cells, k);
    if (hit) return { ids, cached: hit };
  }
  const maps = new Float32Array(ids.length * cells);
  const topClasses = new Int32Array(ids.length * k);
  const topProbs = new Float32Array(ids.length * k);
  const bar = new Progress(
    `cues ${label} [${view}] ×${workers}`,
    ids.length,
    opts.progress === false ? { silent: true } : { unit: "img", ...opts.progress },
  );
  await runExtraction(task, local, dataset.imageRoot, ids, [view], {
    workers,
    batchSize: opts.batchSize ?? 16,
    inputSize: local.kind === "cam" ? local.classifier.inputSize : local.encoder.inputSize,
    onBatch: (r: BatchResult) => {
      maps.set(r.values, r.start * cells);
      if (k > 0) {
        topClasses.set(r.topClasses!, r.start * k);
        topProbs.set(r.topProbs!, r.start * k);
      }
      bar.tick(r.count);
    },
  });
  bar.done();
  if (path !== null) {
    const tensors: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {
      maps: { shape: [ids.length, cells], data: maps },
    };
    if (k > 0) {
      tensors.top_classes = { shape: [ids.length, k], data: topClasses };
      tensors.top_probs = { shape: [ids.length, k], data: topProbs };
    }
    await writeSafetensors(path, tensors, {
      format: "tedloc-cues/1",
      source: label,
      ids: JSON.stringify(ids),
      grid: JSON.stringify(grid),
      key_inputs: JSON.stringify(keyInputs),
    });
  }
  return { ids, cached: k > 0 ? { maps, topClasses, topProbs } : { maps } };
}

/**
 * ImageNet-CAM cues for every image of `split`: the top-`k` class activation map of
 * `classifier`, on `target`'s grid with true cell centres, min-max normalised. Cached.
 *
 * @example
 * ```ts
 * const clf = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR);
 * const cues = await extractCamCues(clf, dataset, "train", { target: encoder, workers: 2 });
 * cues.source;   // "cam:mobilenet_v1_0.25_224@conv_pw_13_relu:top5"
 * ```
 */
export async function extractCamCues(
  classifier: TfjsCnnClassifier,
  dataset: ImageListDataset,
  split: string,
  opts: ExtractCamCuesOptions = {},
): Promise<CamCueSet> {
  const topK = opts.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1 || topK > classifier.labels.length) {
    throw new InputError(`topK must be an integer in 1..${classifier.labels.length}, got ${topK}`);
  }
  const g = classifier.geometry;
  const target: GridGeometry = opts.target
    ? {
      grid: [...opts.target.grid],
      stride: opts.target.stride,
      cellOffset: opts.target.cellOffset,
    }
    : { grid: [g.size[0], g.size[1]], stride: g.stride[0], cellOffset: g.offset[0] };
  const source = `cam:${classifier.id}:top${topK}`;
  let workers = extractionWorkers(opts.workers ?? 1);
  if (workers > 1 && !classifier.spec) workers = 1;
  const task: ExtractionTask = { kind: "cam", classifier: classifier.spec, topK, target };
  const local: LoadedTask = { kind: "cam", classifier, topK, target };
  const { ids, cached } = await extractCues(
    source,
    task,
    local,
    workers,
    dataset,
    split,
    target.grid,
    topK,
    { source, fingerprint: classifier.fingerprint, target },
    opts,
  );
  return {
    source,
    ids: [...ids],
    grid: [target.grid[0], target.grid[1]],
    maps: cached.maps,
    topK,
    topClasses: cached.topClasses!,
    topProbs: cached.topProbs!,
  };
}

/**
 * Last-layer CLS→patch attention cues (ViT encoders) for every image of `split`, min-max
 * normalised per image, on the encoder's grid. Cached.
 *
 * @example
 * ```ts
 * const cues = await extractAttentionCues(vit, dataset, "train");
 * ```
 */
export async function extractAttentionCues(
  encoder: PatchEncoder,
  dataset: ImageListDataset,
  split: string,
  opts: ExtractCommonOptions & { view?: FeatureView } = {},
): Promise<CueSet> {
  if (!encoder.clsAttention) throw new InputError(`encoder ${encoder.id} has no CLS attention`);
  const source = `attention:${encoder.id}`;
  const { task, local, workers } = encoderTask(encoder, "attention", opts.workers ?? 1);
  const { ids, cached } = await extractCues(
    source,
    task,
    local,
    workers,
    dataset,
    split,
    encoder.grid,
    0,
    { source, fingerprint: encoder.fingerprint ?? null, inputSize: encoder.inputSize },
    opts,
  );
  return { source, ids: [...ids], grid: [encoder.grid[0], encoder.grid[1]], maps: cached.maps };
}
