/**
 * The wsolevaluation metadata layout (clovaai/wsolevaluation `metadata/<DATASET>/<split>/`):
 *
 * - `image_ids.txt`: `path` — one image id (a path relative to the image root) a line;
 * - `class_labels.txt`: `path,label` — integer class label;
 * - `image_sizes.txt`: `path,w,h` — original image size;
 * - `localization.txt`: `path,x0,y0,x1,y1` (boxes, one line per box, several per image) or
 *   `path,mask.png,ignore.png` (masks; the ignore path only on an image's first line).
 *
 * Reading checks that the files agree with each other and names file and line on any
 * disagreement; an explicit `onBadLine: "skip"` drops bad images and reports them instead.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";

/** A box `[x0, y0, x1, y1]` in pixels of its image (wsolevaluation's x0y0x1y1 convention). */
export type Box = [number, number, number, number];

/** One split's metadata. Maps are keyed by image id. */
export interface WsolMetadata {
  /** Image ids (relative image paths) in file order. */
  imageIds: string[];
  /** Integer class label of each image. */
  classLabels: Map<string, number>;
  /** Original `[width, height]` of each image (may be empty for mask datasets). */
  imageSizes: Map<string, [number, number]>;
  /** GT boxes of each image (empty map for mask datasets). */
  boxes: Map<string, Box[]>;
  /** GT mask paths of each image (relative to a mask root; empty map for box datasets). */
  masks: Map<string, string[]>;
  /** The ignore-mask path of each image ("" when none), for mask datasets. */
  ignoreMasks: Map<string, string>;
}

/**
 * Metadata with no images yet, to fill image by image.
 *
 * @example
 * ```ts
 * const m = emptyMetadata();
 * m.imageIds.push("a.png");
 * m.classLabels.set("a.png", 0);
 * ```
 */
export function emptyMetadata(): WsolMetadata {
  return {
    imageIds: [],
    classLabels: new Map(),
    imageSizes: new Map(),
    boxes: new Map(),
    masks: new Map(),
    ignoreMasks: new Map(),
  };
}

/**
 * The class label of each of `ids` (in order); an id without one is an {@link InputError}.
 *
 * @example
 * ```ts
 * const y = classLabelsOf(dataset.splits.test, ["a.png", "b.png"]);
 * ```
 */
export function classLabelsOf(metadata: WsolMetadata, ids: readonly string[]): Int32Array {
  return Int32Array.from(ids, (id) => {
    const y = metadata.classLabels.get(id);
    if (y === undefined) throw new InputError(`no class label for image '${id}'`);
    return y;
  });
}

/** A line that {@link readMetadata} dropped in skip mode. */
export interface SkippedLine {
  file: string;
  line: number;
  reason: string;
  imageId?: string;
}

/** Options of {@link readMetadata}. */
export interface ReadMetadataOptions {
  /** `"error"` (default): stop at the first bad line. `"skip"`: drop the image and report it. */
  onBadLine?: "error" | "skip";
  /** Whether `image_sizes.txt` must exist (default: when `localization.txt` holds boxes). */
  requireSizes?: boolean;
  /** Whether boxes must lie inside the image (default true). */
  checkBoxesInside?: boolean;
}

/** The result of {@link readMetadata}: the metadata plus what skip mode dropped. */
export interface ReadMetadataResult {
  metadata: WsolMetadata;
  /** Every bad line found in skip mode (empty in error mode). */
  skipped: SkippedLine[];
  /** Ids of the images dropped in skip mode, in `image_ids.txt` order (its length is the count). */
  skippedImages: string[];
}

/** File names of the layout. */
export const METADATA_FILES = {
  imageIds: "image_ids.txt",
  classLabels: "class_labels.txt",
  imageSizes: "image_sizes.txt",
  localization: "localization.txt",
} as const;

async function readLines(path: string, required: boolean): Promise<string[] | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      if (required) throw new InputError("file not found", { file: path });
      return null;
    }
    throw err;
  }
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => l.replace(/\r$/, ""));
}

function parseIntField(s: string): number | null {
  return /^-?\d+$/.test(s.trim()) ? Number(s.trim()) : null;
}

function parseNumField(s: string): number | null {
  const t = s.trim();
  if (t === "") return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/**
 * Read one split's metadata folder.
 *
 * @example
 * ```ts
 * const { metadata } = await readMetadata("data/generated/default/metadata/test");
 * console.log(metadata.imageIds.length, metadata.boxes.get(metadata.imageIds[0]));
 * ```
 */
export async function readMetadata(
  dir: string,
  opts: ReadMetadataOptions = {},
): Promise<ReadMetadataResult> {
  const skip = opts.onBadLine === "skip";
  const skipped: SkippedLine[] = [];
  const bad = new Set<string>();
  const problem = (file: string, line: number, reason: string, imageId?: string) => {
    if (!skip || imageId === undefined) throw new InputError(reason, { file, line });
    skipped.push({ file, line, reason, imageId });
    bad.add(imageId);
  };

  const idsPath = join(dir, METADATA_FILES.imageIds);
  const idLines = (await readLines(idsPath, true))!;
  const imageIds: string[] = [];
  const idSet = new Set<string>();
  idLines.forEach((raw, i) => {
    const id = raw.trim();
    if (id === "") return; // blank lines carry nothing, as in the other files
    if (id.includes(",")) return problem(idsPath, i + 1, `image id '${id}' contains a comma`);
    if (idSet.has(id)) return problem(idsPath, i + 1, `duplicate image id '${id}'`, id);
    idSet.add(id);
    imageIds.push(id);
  });
  if (imageIds.length === 0) throw new InputError("no image ids", { file: idsPath });

  const unknown = (file: string, line: number, id: string) =>
    problem(file, line, `image id '${id}' is not in ${METADATA_FILES.imageIds}`, id);

  // class_labels.txt
  const labelsPath = join(dir, METADATA_FILES.classLabels);
  const classLabels = new Map<string, number>();
  (await readLines(labelsPath, true))!.forEach((raw, i) => {
    if (raw.trim() === "") return;
    const f = raw.split(",");
    const id = f[0];
    if (f.length !== 2) {
      return problem(labelsPath, i + 1, `expected 'path,label', got '${raw}'`, id);
    }
    if (!idSet.has(id)) return unknown(labelsPath, i + 1, id);
    const label = parseIntField(f[1]);
    if (label === null || label < 0) {
      return problem(labelsPath, i + 1, `label '${f[1]}' is not a non-negative integer`, id);
    }
    if (classLabels.has(id)) return problem(labelsPath, i + 1, `second label for '${id}'`, id);
    classLabels.set(id, label);
  });

  // localization.txt: boxes or masks, decided by the first line's second field
  const locPath = join(dir, METADATA_FILES.localization);
  const locLines = await readLines(locPath, false);
  const boxes = new Map<string, Box[]>();
  const masks = new Map<string, string[]>();
  const ignoreMasks = new Map<string, string>();
  const firstField = locLines?.find((l) => l.trim() !== "")?.split(",")[1] ?? "";
  const isMask = /\.(png|jpe?g|bmp)$/i.test(firstField.trim());
  const boxLines: { id: string; box: Box; line: number }[] = [];
  locLines?.forEach((raw, i) => {
    if (raw.trim() === "") return;
    const f = raw.split(",");
    const id = f[0];
    if (!idSet.has(id)) return unknown(locPath, i + 1, id);
    if (isMask) {
      if (f.length !== 3) {
        return problem(locPath, i + 1, `expected 'path,mask,ignore', got '${raw}'`, id);
      }
      const list = masks.get(id);
      if (list) {
        if (f[2] !== "") {
          return problem(
            locPath,
            i + 1,
            "an ignore mask may only be given on an image's first line",
            id,
          );
        }
        list.push(f[1]);
      } else {
        masks.set(id, [f[1]]);
        ignoreMasks.set(id, f[2]);
      }
      return;
    }
    if (f.length !== 5) {
      return problem(locPath, i + 1, `expected 'path,x0,y0,x1,y1', got '${raw}'`, id);
    }
    const v = f.slice(1).map(parseNumField);
    if (v.some((x) => x === null)) {
      return problem(locPath, i + 1, `box '${f.slice(1)}' is not numeric`, id);
    }
    const box = v as Box;
    if (box[0] > box[2] || box[1] > box[3]) {
      return problem(locPath, i + 1, `box [${box}] has x0 > x1 or y0 > y1`, id);
    }
    boxLines.push({ id, box, line: i + 1 });
  });

  // image_sizes.txt
  const sizesPath = join(dir, METADATA_FILES.imageSizes);
  const requireSizes = opts.requireSizes ?? (locLines !== null && !isMask);
  const sizeLines = await readLines(sizesPath, requireSizes);
  const imageSizes = new Map<string, [number, number]>();
  sizeLines?.forEach((raw, i) => {
    if (raw.trim() === "") return;
    const f = raw.split(",");
    const id = f[0];
    if (f.length !== 3) return problem(sizesPath, i + 1, `expected 'path,w,h', got '${raw}'`, id);
    if (!idSet.has(id)) return unknown(sizesPath, i + 1, id);
    const w = parseIntField(f[1]), h = parseIntField(f[2]);
    if (w === null || h === null || w <= 0 || h <= 0) {
      return problem(sizesPath, i + 1, `size '${f[1]},${f[2]}' is not two positive integers`, id);
    }
    if (imageSizes.has(id)) return problem(sizesPath, i + 1, `second size for '${id}'`, id);
    imageSizes.set(id, [w, h]);
  });

  for (const { id, box, line } of boxLines) {
    const size = imageSizes.get(id);
    if (size && (opts.checkBoxesInside ?? true)) {
      const [w, h] = size;
      if (box[0] < 0 || box[1] < 0 || box[2] > w || box[3] > h) {
        problem(locPath, line, `box [${box}] lies outside the ${w}x${h} image`, id);
        continue;
      }
    }
    const list = boxes.get(id);
    if (list) list.push(box);
    else boxes.set(id, [box]);
  }

  // every image must appear in every file that exists
  const coverage: [string, Map<string, unknown> | null][] = [
    [labelsPath, classLabels],
    [sizesPath, sizeLines ? imageSizes : null],
    [locPath, locLines ? (isMask ? masks : boxes) : null],
  ];
  imageIds.forEach((id, i) => {
    if (bad.has(id)) return;
    for (const [file, map] of coverage) {
      if (map !== null && !map.has(id)) {
        problem(idsPath, i + 1, `image id '${id}' has no entry in ${file}`, id);
        break;
      }
    }
  });

  const keep = imageIds.filter((id) => !bad.has(id));
  for (const id of bad) {
    classLabels.delete(id);
    imageSizes.delete(id);
    boxes.delete(id);
    masks.delete(id);
    ignoreMasks.delete(id);
  }
  return {
    metadata: { imageIds: keep, classLabels, imageSizes, boxes, masks, ignoreMasks },
    skipped,
    skippedImages: imageIds.filter((id) => bad.has(id)),
  };
}

/**
 * Write one split's metadata folder (each file atomically). Sizes and localization files
 * are written only when the metadata holds them. Refuses metadata that {@link readMetadata}
 * would reject (ids with commas or line breaks, duplicate ids, an image without a label,
 * size, or boxes/masks while others have them), so a written folder always reads back.
 *
 * @example
 * ```ts
 * await writeMetadata("data/generated/default/metadata/train", metadata);
 * ```
 */
export async function writeMetadata(dir: string, m: WsolMetadata): Promise<void> {
  const ids = m.imageIds;
  const fail = (msg: string): never => {
    throw new Error(`writeMetadata(${dir}): ${msg}`);
  };
  const seen = new Set<string>();
  for (const id of ids) {
    if (id === "" || /[,\r\n]/.test(id) || id.trim() !== id) {
      fail(`image id '${id}' is empty, has surrounding spaces, or holds a comma or line break`);
    }
    if (seen.has(id)) fail(`duplicate image id '${id}'`);
    seen.add(id);
    const label = m.classLabels.get(id);
    if (label === undefined) fail(`no class label for '${id}'`);
    if (!Number.isInteger(label) || label! < 0) fail(`label ${label} of '${id}' is not >= 0 int`);
  }
  if (m.masks.size > 0 && m.boxes.size > 0) fail("holds both boxes and masks");
  await writeTextAtomic(join(dir, METADATA_FILES.imageIds), ids.map((id) => id + "\n").join(""));
  await writeTextAtomic(
    join(dir, METADATA_FILES.classLabels),
    ids.map((id) => `${id},${m.classLabels.get(id)}\n`).join(""),
  );
  if (m.imageSizes.size > 0) {
    await writeTextAtomic(
      join(dir, METADATA_FILES.imageSizes),
      ids.map((id) => {
        const s = m.imageSizes.get(id);
        if (!s) fail(`no image size for '${id}'`);
        return `${id},${s![0]},${s![1]}\n`;
      }).join(""),
    );
  }
  const loc: string[] = [];
  if (m.masks.size > 0) {
    for (const id of ids) {
      const list = m.masks.get(id);
      if (!list || list.length === 0) fail(`no mask for '${id}'`);
      list!.forEach((p, k) => {
        if (/[,\r\n]/.test(p)) fail(`mask path '${p}' holds a comma or line break`);
        loc.push(`${id},${p},${k === 0 ? m.ignoreMasks.get(id) ?? "" : ""}\n`);
      });
    }
  } else if (m.boxes.size > 0) {
    for (const id of ids) {
      const list = m.boxes.get(id);
      if (!list || list.length === 0) fail(`no box for '${id}'`);
      for (const b of list!) {
        if (b.length !== 4 || !b.every(Number.isFinite)) fail(`bad box [${b}] for '${id}'`);
        loc.push(`${id},${b.join(",")}\n`);
      }
    }
  }
  if (loc.length > 0) await writeTextAtomic(join(dir, METADATA_FILES.localization), loc.join(""));
}
