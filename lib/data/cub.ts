/**
 * CUB-200-2011 → wsolevaluation metadata.
 *
 * Reads the original layout (`images.txt`, `image_class_labels.txt`, `train_test_split.txt`,
 * `bounding_boxes.txt`, `classes.txt`, `images/`) and writes a dataset folder:
 * `metadata/{train,test}/` (wsolevaluation layout), `classes.txt` and `dataset.json`, whose
 * `imageRoot` points at the CUB `images/` folder (images are not copied).
 *
 * Rules, checked against wsolevaluation's published `metadata/CUB` (see
 * tests/fixtures/data/wsol_cub_sample): ids are the `images.txt` paths, in that file's order;
 * label = CUB class id − 1; size = the stored size of the image file; a CUB box `x y w h` becomes
 * `x0 = int(x)`, `y0 = int(y)`, `x1 = min(int(x + w), W − 1)`, `y1 = min(int(y + h), H − 1)`
 * (a few CUB boxes overshoot the right or bottom edge, up to 32 px: they are clipped, as the
 * published metadata does). A box that starts outside the image or is empty is an error.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { InputError, readInputText } from "../io/errors.ts";
import { Progress } from "../util/progress.ts";
import { readImageSize } from "./image_size.ts";
import { findUndecodableImages } from "./image.ts";
import {
  type Box,
  emptyMetadata,
  type SkippedLine,
  writeMetadata,
  type WsolMetadata,
} from "./metadata.ts";
import {
  DATASET_FILE,
  type DatasetDescriptor,
  loadDataset,
  writeClassNames,
  writeDatasetDescriptor,
  type WsolDataset,
} from "./dataset.ts";
import { sharedDataPath } from "../util/paths.ts";

/** Options of {@link prepareCub}. */
export interface PrepareCubOptions {
  /** `"error"` (default): stop at the first bad line. `"skip"`: leave the image out, report it. */
  onBadLine?: "error" | "skip";
  /**
   * How `dataset.json` names the image folder: `"absolute"` (default: the prepared folder can
   * move, CUB cannot) or `"relative"` to the output folder (both move together).
   */
  imageRoot?: "absolute" | "relative";
  /** Dataset name written into dataset.json (default `CUB`). */
  name?: string;
  /** Image headers read at once (default 16). */
  concurrency?: number;
  /** Show a progress bar while reading image sizes (default false). */
  progress?: boolean;
  /**
   * Decode every image in full (at 1/8 scale) so corrupt or truncated files are found now,
   * named with libvips' reason, instead of in the middle of training (default true; ~2 ms per
   * image, against ~0.1 ms for the headers alone).
   */
  checkDecode?: boolean;
}

/** What {@link prepareCub} wrote. */
export interface PrepareCubResult {
  /** Absolute output folder (holds dataset.json). */
  out: string;
  /** Images per split written. */
  counts: Record<string, number>;
  classNames: string[];
  /** Bad lines left out in skip mode (empty in error mode); `length` is the count. */
  skipped: SkippedLine[];
  /** Of `skipped`, the images that do not decode (corrupt, truncated); `length` is the count. */
  undecodable: SkippedLine[];
}

/** The CUB files read, relative to the CUB root. */
export const CUB_FILES = {
  images: "images.txt",
  labels: "image_class_labels.txt",
  split: "train_test_split.txt",
  boxes: "bounding_boxes.txt",
  classes: "classes.txt",
  imageDir: "images",
} as const;

interface Row {
  fields: string[];
  line: number;
}

async function readRows(path: string): Promise<Row[]> {
  const text = await readInputText(path);
  const rows: Row[] = [];
  text.replace(/\r/g, "").split("\n").forEach((raw, i) => {
    const t = raw.trim();
    if (t !== "") rows.push({ fields: t.split(/\s+/), line: i + 1 });
  });
  return rows;
}

const isIntText = (s: string) => /^\d+$/.test(s);

/**
 * Image sizes from the files' headers and, with `checkDecode` (default), a full decode of each
 * (corrupt or truncated files are returned, all of them, with libvips' reason; an unreadable
 * header is one too). Images in `dropped` are not read.
 */
async function readImageSizes(
  cubRoot: string,
  imagesFile: string,
  images: { cubId: string; path: string; line: number }[],
  dropped: Set<string>,
  opts: PrepareCubOptions,
): Promise<{ sizes: Map<string, [number, number]>; undecodable: SkippedLine[] }> {
  const sizes = new Map<string, [number, number]>();
  const undecodable: SkippedLine[] = [];
  const todo = images.filter((im) => !dropped.has(im.cubId));
  const pathOf = (im: { path: string }) => join(cubRoot, CUB_FILES.imageDir, im.path);
  const bad = (im: { cubId: string; line: number }, reason: string) =>
    undecodable.push({ file: imagesFile, line: im.line, reason, imageId: im.cubId });
  const bar = opts.progress ? new Progress("image sizes", todo.length, { unit: "img" }) : null;
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const im = todo[next++];
      try {
        const h = await readImageSize(pathOf(im));
        sizes.set(im.cubId, [h.width, h.height]);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        bad(im, `image file ${pathOf(im)}: ${err.reason}`);
      }
      bar?.tick();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  bar?.done();
  if (opts.checkDecode ?? true) {
    const sized = todo.filter((im) => sizes.has(im.cubId));
    const check = opts.progress
      ? new Progress("decode check", sized.length, { unit: "img" })
      : null;
    const failed = await findUndecodableImages(sized.map(pathOf), {
      onChecked: () => check?.tick(),
    });
    check?.done();
    const byPath = new Map(sized.map((im) => [pathOf(im), im]));
    for (const f of failed) bad(byPath.get(f.path)!, `image file ${f.path}: ${f.reason}`);
  }
  undecodable.sort((a, b) => a.line - b.line); // file order, not finishing order
  return { sizes, undecodable };
}

/**
 * Convert a CUB-200-2011 root (or any subset in its layout) into a dataset folder `out`.
 *
 * @example
 * ```ts
 * const r = await prepareCub("../shared/data/cub50/CUB_200_2011", "data/cache/cub50");
 * console.log(r.counts); // { train: 1500, test: 1389 }
 * const ds = await loadDataset(r.out);
 * ```
 */
export async function prepareCub(
  root: string,
  out: string,
  opts: PrepareCubOptions = {},
): Promise<PrepareCubResult> {
  const cubRoot = resolve(root);
  const outDir = resolve(out);
  const skip = opts.onBadLine === "skip";
  const skipped: SkippedLine[] = [];
  const dropped = new Set<string>(); // CUB image ids left out
  const file = (name: string) => join(cubRoot, name);
  const problem = (f: string, line: number, reason: string, cubId?: string) => {
    if (!skip || cubId === undefined) throw new InputError(reason, { file: f, line });
    skipped.push({ file: f, line, reason, imageId: cubId });
    dropped.add(cubId);
  };

  // classes.txt: "<id> <NNN.Name>", ids 1..C in order, so label = id − 1 indexes the list
  const classesFile = file(CUB_FILES.classes);
  const classNames: string[] = [];
  for (const { fields, line } of await readRows(classesFile)) {
    if (fields.length !== 2 || !isIntText(fields[0])) {
      throw new InputError(`expected '<class id> <name>', got '${fields.join(" ")}'`, {
        file: classesFile,
        line,
      });
    }
    const id = Number(fields[0]);
    if (id !== classNames.length + 1) {
      throw new InputError(
        `class id ${id} out of sequence (expected ${classNames.length + 1}: ids must run 1..C)`,
        { file: classesFile, line },
      );
    }
    classNames.push(fields[1].replace(/^\d+\./, ""));
  }
  if (classNames.length === 0) throw new InputError("no classes", { file: classesFile });

  // images.txt: "<id> <path>"
  const imagesFile = file(CUB_FILES.images);
  const images: { cubId: string; path: string; line: number }[] = [];
  const imageLine = new Map<string, number>();
  for (const { fields, line } of await readRows(imagesFile)) {
    if (fields.length !== 2 || !isIntText(fields[0])) {
      problem(imagesFile, line, `expected '<image id> <path>', got '${fields.join(" ")}'`);
      continue;
    }
    const [cubId, path] = fields;
    if (imageLine.has(cubId)) {
      problem(imagesFile, line, `image id ${cubId} repeats line ${imageLine.get(cubId)}`, cubId);
      continue;
    }
    if (path.includes(",")) {
      problem(imagesFile, line, `image path '${path}' holds a comma`, cubId);
      continue;
    }
    imageLine.set(cubId, line);
    images.push({ cubId, path, line });
  }
  if (images.length === 0) throw new InputError("no images", { file: imagesFile });

  // per-image files: "<image id> <value...>"
  const readPerImage = async (name: string, arity: number, what: string) => {
    const f = file(name);
    const byId = new Map<string, Row[]>();
    for (const row of await readRows(f)) {
      const cubId = row.fields[0];
      if (!imageLine.has(cubId)) {
        problem(f, row.line, `image id '${cubId}' is not in ${CUB_FILES.images}`);
        continue;
      }
      if (row.fields.length !== arity + 1) {
        problem(f, row.line, `expected '<image id> ${what}', got '${row.fields.join(" ")}'`, cubId);
        continue;
      }
      const list = byId.get(cubId);
      if (list) list.push(row);
      else byId.set(cubId, [row]);
    }
    return { f, byId };
  };
  const labels = await readPerImage(CUB_FILES.labels, 1, "<class id>");
  const split = await readPerImage(CUB_FILES.split, 1, "<1 train | 0 test>");
  const boxes = await readPerImage(CUB_FILES.boxes, 4, "<x> <y> <width> <height>");

  const label = new Map<string, number>();
  const isTrain = new Map<string, boolean>();
  for (const { cubId, line } of images) {
    const one = (src: { f: string; byId: Map<string, Row[]> }, what: string): Row | null => {
      const rows = src.byId.get(cubId);
      if (!rows) {
        problem(imagesFile, line, `image ${cubId} has no ${what} in ${src.f}`, cubId);
        return null;
      }
      if (rows.length > 1) {
        problem(src.f, rows[1].line, `second ${what} for image ${cubId}`, cubId);
        return null;
      }
      return rows[0];
    };
    const l = one(labels, "class");
    if (l) {
      const c = l.fields[1];
      if (!isIntText(c) || Number(c) < 1 || Number(c) > classNames.length) {
        problem(
          labels.f,
          l.line,
          `class id '${c}' is not in ${classesFile} (1..${classNames.length})`,
          cubId,
        );
      } else label.set(cubId, Number(c) - 1);
    }
    const s = one(split, "train/test flag");
    if (s) {
      const v = s.fields[1];
      if (v !== "0" && v !== "1") {
        problem(split.f, s.line, `split flag '${v}' is not 0 or 1`, cubId);
      } else isTrain.set(cubId, v === "1");
    }
    if (!boxes.byId.has(cubId)) {
      problem(imagesFile, line, `image ${cubId} has no box in ${boxes.f}`, cubId);
    }
  }

  const { sizes, undecodable } = await readImageSizes(cubRoot, imagesFile, images, dropped, opts);
  if (!skip && undecodable.length > 0) {
    const [u] = undecodable, more = undecodable.length - 1;
    throw new InputError(
      u.reason + (more > 0 ? ` (and ${more} more bad images: --skip-bad leaves them out)` : ""),
      { file: u.file, line: u.line },
    );
  }
  for (const u of undecodable) problem(u.file, u.line, u.reason, u.imageId);
  const todo = images.filter((im) => !dropped.has(im.cubId));

  // boxes → x0y0x1y1, clipped to the image as the published metadata is
  const boxOf = new Map<string, Box[]>();
  for (const { cubId } of todo) {
    const size = sizes.get(cubId);
    if (!size || dropped.has(cubId)) continue;
    const [W, H] = size;
    const list: Box[] = [];
    for (const { fields, line } of boxes.byId.get(cubId)!) {
      const [x, y, w, h] = fields.slice(1).map(Number);
      if (![x, y, w, h].every(Number.isFinite)) {
        problem(boxes.f, line, `box '${fields.slice(1).join(" ")}' is not numeric`, cubId);
        break;
      }
      if (w <= 0 || h <= 0 || x < 0 || y < 0 || x >= W || y >= H) {
        problem(
          boxes.f,
          line,
          `box x=${x} y=${y} w=${w} h=${h} lies outside the ${W}x${H} image ${cubId}`,
          cubId,
        );
        break;
      }
      list.push([
        Math.trunc(x),
        Math.trunc(y),
        Math.min(Math.trunc(x + w), W - 1),
        Math.min(Math.trunc(y + h), H - 1),
      ]);
    }
    boxOf.set(cubId, list);
  }

  const splitMeta = (train: boolean): WsolMetadata => {
    const m = emptyMetadata();
    for (const { cubId, path } of images) {
      if (dropped.has(cubId) || isTrain.get(cubId) !== train) continue;
      m.imageIds.push(path);
      m.classLabels.set(path, label.get(cubId)!);
      m.imageSizes.set(path, sizes.get(cubId)!);
      m.boxes.set(path, boxOf.get(cubId)!);
    }
    return m;
  };
  const train = splitMeta(true), test = splitMeta(false);
  if (train.imageIds.length + test.imageIds.length === 0) {
    throw new InputError("no usable images left", { file: imagesFile });
  }

  const imageDir = join(cubRoot, CUB_FILES.imageDir);
  const descriptor: DatasetDescriptor = {
    name: opts.name ?? "CUB",
    imageRoot: opts.imageRoot === "relative" ? relative(outDir, imageDir) || "." : imageDir,
    classes: "classes.txt",
    splits: { train: "metadata/train", test: "metadata/test" },
    source: `CUB-200-2011 layout at ${cubRoot} (prepare-cub)`, // ensurePreparedCub matches it
    boxRule: "x0=int(x), y0=int(y), x1=min(int(x+w),W-1), y1=min(int(y+h),H-1)",
    skippedImages: dropped.size,
  };
  // a split with no images (e.g. a subset of test images only) is left out
  for (const [name, m] of [["train", train], ["test", test]] as const) {
    if (m.imageIds.length > 0) await writeMetadata(join(outDir, "metadata", name), m);
    else delete descriptor.splits[name];
  }
  await writeClassNames(join(outDir, "classes.txt"), classNames);
  await writeDatasetDescriptor(outDir, descriptor); // last: its presence marks a complete folder
  return {
    out: outDir,
    counts: { train: train.imageIds.length, test: test.imageIds.length },
    classNames,
    skipped,
    undecodable,
  };
}

/**
 * The CUB root to use: `$TEDLOC_CUB_ROOT` when set, else the shared CUB-50
 * (`<shared>/cub50/CUB_200_2011`), else null (CUB absent: use the embedded default dataset).
 */
export function cubRootFromEnv(): string | null {
  const env = Deno.env.get("TEDLOC_CUB_ROOT");
  if (env) return resolve(env);
  return sharedDataPath("cub50", "CUB_200_2011");
}

/**
 * A prepared CUB dataset folder, prepared only when `out` lacks one made from the same root
 * (prepare-cub reads and decode-checks every image: ~7 s for CUB-50's 2,889 images on 2 busy cores).
 *
 * @example
 * ```ts
 * const root = cubRootFromEnv();
 * if (root) ds = await ensurePreparedCub(root, projectPath("data", "cache", "cub"));
 * ```
 */
export async function ensurePreparedCub(
  root: string,
  out: string,
  opts: PrepareCubOptions = {},
): Promise<WsolDataset> {
  const source = `CUB-200-2011 layout at ${resolve(root)} (prepare-cub)`;
  try {
    const d = JSON.parse(await Deno.readTextFile(join(resolve(out), DATASET_FILE)));
    if (d?.source === source) return await loadDataset(out);
  } catch {
    // absent or unreadable: prepare
  }
  await prepareCub(root, out, opts);
  return await loadDataset(out);
}
