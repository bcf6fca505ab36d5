/**
 * A WSOL dataset on disk: a folder holding `dataset.json`, a class-name list and one
 * wsolevaluation metadata folder per split (plus, optionally, mask metadata for PxAP and an
 * anchors file). Both the CUB converter and the embedded default dataset write this layout,
 * and everything downstream reads it through {@link loadDataset}.
 *
 * `dataset.json`:
 * ```json
 * { "name": "CUB", "imageRoot": "/data/CUB_200_2011/images", "classes": "classes.txt",
 *   "splits": { "train": "metadata/train", "test": "metadata/test" },
 *   "anchors": "anchors.safetensors", "maskRoot": "masks",
 *   "maskSplits": { "test": "metadata_masks/test" } }
 * ```
 * Relative paths are relative to the dataset folder; `anchors`, `maskRoot` and `maskSplits`
 * are optional; other fields are kept in {@link WsolDataset.info}.
 *
 * `classes.txt`: one class name a line; line k (1-based) names class label k − 1.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { InputError, readInputText } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { Progress } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { findUndecodableImages } from "./image.ts";
import { readMetadata, type ReadMetadataOptions, type WsolMetadata } from "./metadata.ts";

/** A loaded dataset: names, image location and per-split metadata (paths absolute). */
export interface WsolDataset {
  /** Short name, e.g. `CUB` or `default-quick`. */
  name: string;
  /** Absolute path of the dataset folder (holds dataset.json). */
  root: string;
  /** Absolute folder that image ids are relative to. */
  imageRoot: string;
  /** Class names; index = class label. */
  classNames: string[];
  /** Split name → metadata ("train", "test", and "val" when present). */
  splits: Record<string, WsolMetadata>;
  /** Absolute path of the anchors file shipped with the dataset, when there is one. */
  anchorsPath?: string;
  /** Absolute folder that mask paths are relative to (for PxAP). */
  maskRoot?: string;
  /** Split name → metadata whose localization.txt holds masks. */
  maskSplits?: Record<string, WsolMetadata>;
  /** Extra fields of dataset.json (e.g. `source`, `generator`), untouched. */
  info?: Record<string, unknown>;
}

/** The JSON descriptor as stored in `dataset.json` (paths as written). */
export interface DatasetDescriptor {
  name: string;
  imageRoot: string;
  classes: string;
  splits: Record<string, string>;
  anchors?: string;
  maskRoot?: string;
  maskSplits?: Record<string, string>;
  [extra: string]: unknown;
}

/** The descriptor's file name inside a dataset folder. */
export const DATASET_FILE = "dataset.json";

/**
 * Read a class-name list (one name a line; blank trailing lines ignored).
 *
 * @example
 * ```ts
 * const names = await readClassNames("data/generated/default-quick/classes.txt");
 * ```
 */
export async function readClassNames(path: string): Promise<string[]> {
  const text = await readInputText(path);
  const lines = text.replace(/\r/g, "").split("\n");
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((raw, i) => {
    const name = raw.trim();
    if (name === "") throw new InputError("empty class name", { file: path, line: i + 1 });
    const first = seen.get(name);
    if (first !== undefined) {
      throw new InputError(`class name '${name}' repeats line ${first}`, {
        file: path,
        line: i + 1,
      });
    }
    seen.set(name, i + 1);
  });
  if (lines.length === 0) throw new InputError("no class names", { file: path });
  return lines.map((l) => l.trim());
}

/** Write a class-name list (one a line), atomically. */
export async function writeClassNames(path: string, names: string[]): Promise<void> {
  if (new Set(names).size !== names.length) throw new Error("writeClassNames: duplicate names");
  if (names.some((n) => n.trim() !== n || n === "" || /[\r\n]/.test(n))) {
    throw new Error("writeClassNames: a name is empty, padded or holds a line break");
  }
  await writeTextAtomic(path, names.map((n) => n + "\n").join(""));
}

/** Write `dataset.json` into `root`, atomically. */
export async function writeDatasetDescriptor(root: string, d: DatasetDescriptor): Promise<void> {
  await writeTextAtomic(join(root, DATASET_FILE), JSON.stringify(d, null, 2) + "\n");
}

function stringField(d: Record<string, unknown>, key: string, file: string, optional = false) {
  const v = d[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v === "") {
    throw new InputError(`field '${key}' must be a non-empty string`, { file });
  }
  return v;
}

function pathMap(d: Record<string, unknown>, key: string, file: string, optional = false) {
  const v = d[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.keys(v).length === 0) {
    throw new InputError(`field '${key}' must map split names to folders`, { file });
  }
  for (const [k, p] of Object.entries(v)) {
    if (typeof p !== "string" || p === "") {
      throw new InputError(`field '${key}.${k}' must be a non-empty string`, { file });
    }
  }
  return v as Record<string, string>;
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions extends ReadMetadataOptions {
  /**
   * Decode-check every image ({@link assertDatasetImagesDecode}) so a corrupt or truncated
   * file is named now, not in the middle of training (default false: ~2 ms per image).
   */
  checkImages?: boolean;
  /** A progress bar for `checkImages` (default false). */
  progress?: boolean;
}

/**
 * Load a dataset folder: `dataset.json`, the class names and every split's metadata (and
 * mask metadata when declared). Checks that every label names a class.
 *
 * @example
 * ```ts
 * const ds = await loadDataset("data/generated/default-quick");
 * console.log(ds.classNames.length, ds.splits.test.imageIds.length);
 * ```
 */
export async function loadDataset(
  root: string,
  opts: LoadDatasetOptions = {},
): Promise<WsolDataset> {
  const absRoot = resolve(root);
  const file = join(absRoot, DATASET_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(file));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new InputError("no dataset.json (not a dataset folder)", { file });
    }
    if (err instanceof SyntaxError) throw new InputError(`invalid JSON: ${err.message}`, { file });
    throw err;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InputError("dataset.json must hold an object", { file });
  }
  const d = parsed as Record<string, unknown>;
  const at = (p: string) => (isAbsolute(p) ? p : join(absRoot, p));
  const name = stringField(d, "name", file)!;
  const imageRoot = at(stringField(d, "imageRoot", file)!);
  const classesPath = at(stringField(d, "classes", file)!);
  const splitDirs = pathMap(d, "splits", file)!;
  const anchors = stringField(d, "anchors", file, true);
  const maskRoot = stringField(d, "maskRoot", file, true);
  const maskSplitDirs = pathMap(d, "maskSplits", file, true);
  if ((maskRoot === undefined) !== (maskSplitDirs === undefined)) {
    throw new InputError("'maskRoot' and 'maskSplits' must be given together", { file });
  }
  try {
    if (!(await Deno.stat(imageRoot)).isDirectory) throw new Deno.errors.NotFound();
  } catch {
    throw new InputError(`imageRoot '${imageRoot}' is not a folder`, { file });
  }

  const classNames = await readClassNames(classesPath);
  const readSplit = async (dir: string) => {
    const m = (await readMetadata(at(dir), opts)).metadata;
    const labelsFile = join(at(dir), "class_labels.txt");
    for (const [id, label] of m.classLabels) {
      if (label >= classNames.length) {
        throw new InputError(
          `label ${label} of '${id}' has no class (${classesPath} lists ${classNames.length})`,
          { file: labelsFile },
        );
      }
    }
    return m;
  };
  const splits: Record<string, WsolMetadata> = {};
  for (const [split, dir] of Object.entries(splitDirs)) splits[split] = await readSplit(dir);
  let maskSplits: Record<string, WsolMetadata> | undefined;
  if (maskSplitDirs) {
    maskSplits = {};
    for (const [split, dir] of Object.entries(maskSplitDirs)) {
      const m = await readSplit(dir);
      if (m.masks.size === 0) {
        throw new InputError("mask split has no masks in localization.txt", {
          file: join(at(dir), "localization.txt"),
        });
      }
      maskSplits[split] = m;
    }
  }
  const {
    name: _n,
    imageRoot: _i,
    classes: _c,
    splits: _s,
    anchors: _a,
    maskRoot: _m,
    maskSplits: _ms,
    ...info
  } = d;
  const dataset: WsolDataset = {
    name,
    root: absRoot,
    imageRoot,
    classNames,
    splits,
    ...(anchors !== undefined ? { anchorsPath: at(anchors) } : {}),
    ...(maskRoot !== undefined ? { maskRoot: at(maskRoot), maskSplits } : {}),
    ...(Object.keys(info).length > 0 ? { info } : {}),
  };
  if (opts.checkImages) await assertDatasetImagesDecode(dataset, { progress: opts.progress });
  return dataset;
}

/**
 * The absolute path of an image of the dataset.
 *
 * @example
 * ```ts
 * const path = datasetImagePath(ds, ds.splits.test.imageIds[0]);
 * ```
 */
export function datasetImagePath(dataset: Pick<WsolDataset, "imageRoot">, imageId: string): string {
  return join(dataset.imageRoot, imageId);
}

/**
 * Split a metadata in two, stratified by class: `perClass` images of every class (or all but
 * one when a class has fewer) go to `heldOut`, the rest stay in `rest`; which ones is decided
 * by `seed`. Use it to carve a validation set out of train, so choices never touch the test
 * split. File order is kept in both parts.
 *
 * @example
 * ```ts
 * const { rest, heldOut } = holdOutPerClass(ds.splits.train, 5, 0);
 * ```
 */
export function holdOutPerClass(
  m: WsolMetadata,
  perClass: number,
  seed: number,
): { rest: WsolMetadata; heldOut: WsolMetadata } {
  if (!(Number.isInteger(perClass) && perClass >= 0)) {
    throw new Error(`holdOutPerClass: perClass must be a non-negative integer, got ${perClass}`);
  }
  const byClass = new Map<number, string[]>();
  for (const id of m.imageIds) {
    const c = m.classLabels.get(id)!;
    const list = byClass.get(c);
    if (list) list.push(id);
    else byClass.set(c, [id]);
  }
  const rng = new Rng(seed);
  const held = new Set<string>();
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const ids = rng.shuffle([...byClass.get(c)!]);
    for (const id of ids.slice(0, Math.min(perClass, ids.length - 1))) held.add(id);
  }
  const part = (keep: (id: string) => boolean): WsolMetadata => {
    const ids = m.imageIds.filter(keep);
    const pick = <V>(map: Map<string, V>) =>
      new Map(ids.filter((id) => map.has(id)).map((id) => [id, map.get(id)!]));
    return {
      imageIds: ids,
      classLabels: pick(m.classLabels),
      imageSizes: pick(m.imageSizes),
      boxes: pick(m.boxes),
      masks: pick(m.masks),
      ignoreMasks: pick(m.ignoreMasks),
    };
  };
  return { rest: part((id) => !held.has(id)), heldOut: part((id) => held.has(id)) };
}

/** An image of a dataset that does not decode. */
export interface BadDatasetImage {
  split: string;
  id: string;
  path: string;
  /** libvips' reason. */
  reason: string;
}

/**
 * Decode-check every image of a dataset's splits (default: all) before slow work, so a
 * corrupt or truncated file is named now, with libvips' reason, not in the middle of
 * training. Returns the bad images (empty when all decode); ~2 ms per CUB image.
 *
 * @example
 * ```ts
 * const bad = await findBadDatasetImages(ds, { progress: true });
 * if (bad.length) throw new InputError(bad[0].reason, { file: bad[0].path });
 * ```
 */
export async function findBadDatasetImages(
  dataset: WsolDataset,
  opts: { splits?: string[]; progress?: boolean } = {},
): Promise<BadDatasetImage[]> {
  const items: { split: string; id: string; path: string }[] = [];
  const seen = new Set<string>();
  for (const split of opts.splits ?? Object.keys(dataset.splits)) {
    const m = dataset.splits[split];
    if (!m) throw new Error(`dataset '${dataset.name}' has no split '${split}'`);
    for (const id of m.imageIds) {
      const path = datasetImagePath(dataset, id);
      if (!seen.has(path)) items.push({ split, id, path }), seen.add(path);
    }
  }
  const bar = opts.progress ? new Progress("decode check", items.length, { unit: "img" }) : null;
  const bad = await findUndecodableImages(items.map((i) => i.path), {
    onChecked: () => bar?.tick(),
  });
  bar?.done();
  const byPath = new Map(items.map((i) => [i.path, i]));
  return bad.map((b) => ({ ...byPath.get(b.path)!, reason: b.reason }));
}

/**
 * {@link findBadDatasetImages}, then an {@link InputError} naming the first bad file with its
 * reason and how many more there are (nothing when all decode).
 */
export async function assertDatasetImagesDecode(
  dataset: WsolDataset,
  opts: { splits?: string[]; progress?: boolean } = {},
): Promise<void> {
  const bad = await findBadDatasetImages(dataset, opts);
  if (bad.length === 0) return;
  const more = bad.length > 1 ? ` (and ${bad.length - 1} more images that do not decode)` : "";
  throw new InputError(`${bad[0].reason} (image '${bad[0].id}' of split ${bad[0].split})${more}`, {
    file: bad[0].path,
  });
}
