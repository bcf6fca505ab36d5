/**
 * `deno task evaluate`: wsolevaluation's metrics for a folder of saved score maps.
 *
 * Score maps are `<scoremaps>/<imageId>.npy` (wsolevaluation's layout: the id keeps its
 * `.jpg`), 224×224 float32 (float64 accepted) in [0, 1]. Every map is checked before any
 * metric is computed; bad input stops with one line naming the file (and line), and no
 * output is written.
 *
 * @module
 */
import { join } from "node:path";
import sharp from "sharp";
import {
  BoxEvaluator,
  type BoxMetrics,
  checkScoremap,
  combineGtMasks,
  InputError,
  MaskEvaluator,
  type MaskMetrics,
  parseCli,
  Progress,
  readMetadata,
  readNpy,
  requireFlag,
  resizeNearest,
  runCli,
  UsageError,
  writeTextAtomic,
  type WsolMetadata,
} from "../lib/mod.ts";
import { checkOutputFile } from "../lib/util/output.ts";

const SIZE = 224;

const SPEC = {
  usage: "deno task evaluate --metadata DIR --scoremaps DIR [options]",
  description: "Box metrics (MaxBoxAcc, MaxBoxAccV2, per-IoU curves) of saved score maps, as " +
    "clovaai/wsolevaluation computes them; PxAP when the metadata holds masks (--mask-root).",
  options: {
    metadata: { type: "string", help: "metadata folder (image_ids.txt, class_labels.txt, …)" },
    scoremaps: { type: "string", help: "folder of <imageId>.npy score maps (224×224, [0,1])" },
    iou: { type: "string", help: "IoU thresholds in percent", default: "30,50,70" },
    "cam-curve-interval": { type: "string", help: "CAM threshold step", default: "0.01" },
    json: { type: "string", help: "also write the metrics (with curves) to this JSON file" },
    "mask-root": { type: "string", help: "folder the mask paths of localization.txt live in" },
  },
} as const;

function parseIous(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const v = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || v.some((d) => d < 0 || d > 100)) {
    throw new UsageError(`--iou must be integers in 0..100 separated by commas, got '${text}'`);
  }
  return v;
}

function parseInterval(text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !(v > 0 && v <= 0.5)) {
    throw new UsageError(`--cam-curve-interval must be a number in (0, 0.5], got '${text}'`);
  }
  return v;
}

/** Read and check one score map: 2-D, SIZE×SIZE, float32/float64, finite, in [0, 1]. */
async function loadScoremap(path: string): Promise<Float32Array | Float64Array> {
  const npy = await readNpy(path);
  if (!(npy.data instanceof Float32Array || npy.data instanceof Float64Array)) {
    throw new InputError(`score map dtype is '${npy.dtype}', expected float32 ('<f4')`, {
      file: path,
    });
  }
  if (npy.shape.length !== 2 || npy.shape[0] !== SIZE || npy.shape[1] !== SIZE) {
    throw new InputError(`score map shape is (${npy.shape}), expected (${SIZE}, ${SIZE})`, {
      file: path,
    });
  }
  checkScoremap(npy.data, SIZE, SIZE, path);
  return npy.data;
}

/** A grayscale PNG/JPEG mask at SIZE×SIZE (nearest neighbour, as wsolevaluation). */
async function loadMask(path: string): Promise<Float32Array> {
  let raw;
  try {
    raw = await sharp(path).greyscale().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new InputError(`cannot read mask image (${(err as Error).message})`, { file: path });
  }
  const { width, height } = raw.info;
  return resizeNearest(new Uint8Array(raw.data), height, width, SIZE, SIZE);
}

async function gtMask(m: WsolMetadata, maskRoot: string, id: string): Promise<Uint8Array> {
  const instances = await Promise.all(
    (m.masks.get(id) ?? []).map((p) => loadMask(join(maskRoot, p))),
  );
  const ignore = m.ignoreMasks.get(id);
  return combineGtMasks(instances, ignore ? await loadMask(join(maskRoot, ignore)) : undefined);
}

function fmt(v: number | undefined): string {
  return v === undefined ? "-" : v.toFixed(2);
}

function boxTable(m: BoxMetrics, ious: number[]): string {
  const at = (mode: "largest" | "multi", d: number) => m[mode][m.iouThresholds.indexOf(d)];
  const rows: [string, string, string][] = [["metric", "value", "best τ"]];
  const l50 = at("largest", 50);
  rows.push(["MaxBoxAcc (IoU 50, largest contour)", fmt(m.maxBoxAcc), l50.bestTau.toFixed(3)]);
  rows.push([`MaxBoxAccV2 (mean IoU ${ious.join("/")}, all contours)`, fmt(m.maxBoxAccV2), ""]);
  for (const d of ious) {
    const c = at("multi", d);
    rows.push([`  IoU ${d}, all contours`, fmt(c.max), c.bestTau.toFixed(3)]);
  }
  for (const d of ious.filter((d) => d !== 50)) {
    const c = at("largest", d);
    rows.push([`  IoU ${d}, largest contour`, fmt(c.max), c.bestTau.toFixed(3)]);
  }
  if (m.top1Loc !== undefined) {
    rows.push(["Top-1 Loc", fmt(m.top1Loc), ""], ["Top-5 Loc", fmt(m.top5Loc), ""]);
    rows.push(["Top-1 Cls", fmt(m.top1Cls), ""], ["Top-5 Cls", fmt(m.top5Cls), ""]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(6)}  ${r[2]}`.trimEnd()).join("\n");
}

/**
 * How many `.npy` files under `dir` (any depth: ids hold folders) are not maps of `ids`, and
 * one of them, so a user who points at the wrong metadata or split hears of it.
 */
async function countUnusedScoremaps(
  dir: string,
  ids: Set<string>,
): Promise<{ count: number; example?: string }> {
  let count = 0, example: string | undefined;
  const walk = async (rel: string): Promise<void> => {
    for await (const e of Deno.readDir(rel ? join(dir, rel) : dir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else if (r.endsWith(".npy") && !ids.has(r.slice(0, -4))) {
        count++;
        example ??= join(dir, r);
      }
    }
  };
  await walk("");
  return { count, example };
}

/** The task: returns the metrics it printed (for tests). */
export async function main(args: string[]): Promise<unknown> {
  const a = parseCli(args, SPEC);
  if (a === null) return null;
  const metadataDir = requireFlag(a, "metadata");
  const scoremapDir = requireFlag(a, "scoremaps");
  const ious = parseIous(String(a.values.iou));
  const interval = parseInterval(String(a.values["cam-curve-interval"]));
  const maskRoot = a.values["mask-root"] as string | undefined;
  const jsonOut = a.values.json as string | undefined;
  if (jsonOut) await checkOutputFile(jsonOut); // a bad --json fails now, not after every map

  // wsolevaluation's own CUB metadata has boxes reaching one pixel past the image
  // (x1 = int(x + w)); its evaluator accepts them, so must we.
  const { metadata } = await readMetadata(metadataDir, { checkBoxesInside: false });
  const ids = metadata.imageIds;
  const isMask = metadata.masks.size > 0;
  if (isMask && maskRoot === undefined) {
    throw new UsageError("the metadata holds masks: give --mask-root");
  }
  if (!isMask && metadata.boxes.size === 0) {
    throw new InputError("no boxes or masks (localization.txt missing or empty)", {
      file: join(metadataDir, "localization.txt"),
    });
  }
  // every map must exist before any work is done
  for (const id of ids) {
    const path = join(scoremapDir, `${id}.npy`);
    try {
      Deno.statSync(path);
    } catch {
      throw new InputError(`no score map for image '${id}'`, { file: path });
    }
  }

  const unused = await countUnusedScoremaps(scoremapDir, new Set(ids));
  if (unused.count > 0) {
    console.log(
      `note: ${unused.count} score map(s) in ${scoremapDir} are not in the metadata and are ` +
        `ignored (e.g. ${unused.example})`,
    );
  }

  const progress = new Progress("evaluate", ids.length, { unit: "map" });
  let result: { boxes?: BoxMetrics; masks?: MaskMetrics };
  if (isMask) {
    const ev = new MaskEvaluator({ camCurveInterval: interval, resizeLength: SIZE });
    for (const id of ids) {
      const map = await loadScoremap(join(scoremapDir, `${id}.npy`));
      ev.accumulate(map, id, await gtMask(metadata, maskRoot!, id));
      progress.tick();
    }
    result = { masks: ev.compute() };
  } else {
    const ev = new BoxEvaluator({
      metadata,
      camCurveInterval: interval,
      iouThresholds: ious,
      resizeLength: SIZE,
    });
    for (const id of ids) {
      ev.accumulate(await loadScoremap(join(scoremapDir, `${id}.npy`)), id);
      progress.tick();
    }
    result = { boxes: ev.compute() };
  }
  progress.done();

  console.log(
    `${ids.length} score maps, τ step ${interval}${isMask ? "" : `, IoU ${ious.join(",")}`}`,
  );
  if (result.boxes) console.log(boxTable(result.boxes, ious));
  if (result.masks) console.log(`PxAP  ${fmt(result.masks.pxap)}`);
  const out = {
    metadata: metadataDir,
    scoremaps: scoremapDir,
    camCurveInterval: interval,
    iouThresholds: ious,
    count: ids.length,
    unusedScoremaps: unused.count,
    ...result,
  };
  if (jsonOut) {
    await writeTextAtomic(jsonOut, JSON.stringify(out, null, 1) + "\n");
    console.log(`wrote ${jsonOut}`);
  }
  return out;
}

if (import.meta.main) await runCli(() => main(Deno.args).then(() => {}));
