/**
 * Picture material for the visual-results notebook: every test image's map, predicted box
 * and IoU for a head (so best and failure cases can be chosen by IoU), and a grid of
 * heat-map overlays (input | method maps…) with GT boxes green and predicted boxes red.
 *
 * @module
 */
import sharp from "sharp";
import type { Box, WsolMetadata } from "../data/metadata.ts";
import type { WsolDataset } from "../data/dataset.ts";
import { loadImageBatch } from "../data/loader.ts";
import { readFloat32 } from "../backend/read.ts";
import type { FeatureSet } from "../model/encoder.ts";
import type { LocalizationHead } from "../model/baselines.ts";
import { featureRows, plainViewIndex } from "../cues/sources.ts";
import { readFeatureTokens } from "../model/token_source.ts";
import { localizeTokens, scoremapBoxes } from "../eval/localize.ts";
import { extraScaleMaps, fuseMaps, prepareScales, type ScaleFeatures } from "../eval/evaluate.ts";
import { resizeBoxTo } from "../metrics/box.ts";
import { wsolIou } from "../metrics/sweep.ts";
import { heatmapOverlayPng, imageGrid } from "../viz/overlay.ts";

/** One test image localized by one head. */
export interface LocalizationCase {
  id: string;
  /** True class. */
  label: number;
  /** Top-1 predicted class. */
  predicted: number;
  /** Normalised map on the 224×224 frame. */
  map: Float32Array;
  /** Predicted boxes at τ (largest contour first), 224 frame. */
  boxes: Box[];
  /** GT boxes on the 224 frame (wsolevaluation's resize). */
  gtBoxes: Box[];
  /** IoU of the largest predicted box with the best-matching GT box. */
  iou: number;
}

/** GT boxes of an image on the `size×size` frame, as the box evaluator sees them. */
export function frameGtBoxes(metadata: WsolMetadata, id: string, size = 224): Box[] {
  const wh = metadata.imageSizes.get(id);
  const boxes = metadata.boxes.get(id) ?? [];
  if (!wh) throw new RangeError(`no image size for '${id}'`);
  return boxes.map((b) => resizeBoxTo(b, wh, [size, size]));
}

/**
 * Localize every image of `ids` (default: the metadata's) from cached tokens at box
 * threshold τ (use the head's best τ from its metrics) and score each by IoU.
 *
 * @example
 * ```ts
 * const tau = result.rows[0].metrics.largest.find((c) => c.iou === 50)!.bestTau;
 * const cases = await localizationCases(tedLocHead(model), testFeatures, dataset.splits.test, tau);
 * cases.sort((a, b) => b.iou - a.iou); // best first
 * ```
 */
export async function localizationCases(
  head: LocalizationHead,
  features: FeatureSet,
  metadata: WsolMetadata,
  tau: number,
  opts: {
    ids?: string[];
    batchSize?: number;
    /** Class whose map class-specific heads (CAM, vanilla) show: `gt` (default, wsolevaluation) or `predicted`. */
    mapClass?: "gt" | "predicted";
    /** Multi-scale maps, fused as evaluateHead fuses them (a run's `eval.extraInputSizes`). */
    extraScales?: ScaleFeatures[];
  } = {},
): Promise<LocalizationCase[]> {
  const ids = opts.ids ?? metadata.imageIds;
  const rows = featureRows(features, ids);
  const view = plainViewIndex(features);
  const bs = opts.batchSize ?? 32;
  const scales = prepareScales(opts.extraScales ?? [], ids);
  const out: LocalizationCase[] = [];
  for (let s = 0; s < ids.length; s += bs) {
    const part = rows.slice(s, s + bs);
    const classes = opts.mapClass === "predicted"
      ? undefined
      : ids.slice(s, s + bs).map((id) => metadata.classLabels.get(id) ?? 0);
    const lo = { classes, topk: 1, batchSize: bs };
    const tokens = await readFeatureTokens(features, view, part);
    const res = await localizeTokens(head, tokens, part.length, features, {
      ...lo,
      boxThreshold: tau,
    });
    const extra = await extraScaleMaps(head, scales, s, s + part.length, lo);
    res.forEach((r, i) => {
      if (extra[i].length === 0) return;
      r.map = fuseMaps([r.map, ...extra[i]]);
      r.boxes = scoremapBoxes(r.map, 224, tau);
    });
    res.forEach((r, i) => {
      const id = ids[s + i];
      const gtBoxes = frameGtBoxes(metadata, id);
      const iou = Math.max(0, ...gtBoxes.map((g) => wsolIou(r.boxes[0], g)));
      out.push({
        id,
        label: metadata.classLabels.get(id) ?? -1,
        predicted: r.topk[0].label,
        map: r.map,
        boxes: r.boxes,
        gtBoxes,
        iou,
      });
    });
  }
  return out;
}

/** One row of an overlay grid: an image and one panel (map + predicted boxes) per method. */
export interface OverlayGridRow {
  id: string;
  gtBoxes: Box[];
  panels: { map: Float32Array; predBoxes: Box[] }[];
}

/**
 * The paper's Figure 4 layout: per row the input image (GT box green) then each method's
 * map overlaid (GT green, prediction red). Returns the PNG and its size.
 *
 * @example
 * ```ts
 * const { png } = await overlayGrid(dataset, "test", rows, { columnTitles: ["input", "CAM", "TeD-Loc"] });
 * ```
 */
export async function overlayGrid(
  dataset: WsolDataset,
  split: string,
  rows: readonly OverlayGridRow[],
  opts: { columnTitles?: string[]; rowTitles?: string[]; alpha?: number; fontSize?: number } = {},
): Promise<{ png: Uint8Array; width: number; height: number }> {
  const ids = rows.map((r) => r.id);
  const { images } = await loadImageBatch(dataset, ids, { transform: "test", split });
  const pixels = await readFloat32(images, { dispose: true });
  const P = 224 * 224 * 3;
  const tiles: Uint8Array[][] = [];
  for (const [i, row] of rows.entries()) {
    const rgb = pixels.subarray(i * P, (i + 1) * P);
    const input = await heatmapOverlayPng(rgb, new Float32Array(224 * 224), {
      alpha: 0,
      gtBoxes: row.gtBoxes,
    });
    const line: Uint8Array[] = [input];
    for (const p of row.panels) {
      line.push(
        await heatmapOverlayPng(rgb, p.map, {
          gtBoxes: row.gtBoxes,
          predBoxes: p.predBoxes.slice(0, 1),
          alpha: opts.alpha ?? 0.5,
        }),
      );
    }
    tiles.push(line);
  }
  const png = await imageGrid(tiles, {
    columnTitles: opts.columnTitles,
    rowTitles: opts.rowTitles,
    fontSize: opts.fontSize ?? 14,
  });
  const meta = await sharp(png).metadata();
  return { png, width: meta.width!, height: meta.height! };
}
