/**
 * Localization pictures: a score map blended over the image as a heat map with ground-truth
 * (green) and predicted (red) boxes, and grids of such tiles with titles (the paper's
 * Figure 4 layout). Pixels are composed in JS; sharp encodes PNG and renders title text
 * (an SVG overlay, drawn with the system fonts).
 *
 * @module
 */
import sharp from "sharp";
import { Buffer } from "node:buffer";
import { escapeXml } from "./encode.ts";

/** `[x0, y0, x1, y1]` in pixels of the image (pixel k spans [k, k+1)). */
export type OverlayBox = readonly [number, number, number, number] | readonly number[];

/** Heat-map colour scales. */
export type ColormapName = "jet" | "viridis";

/** Options of {@link heatmapOverlayPng}. */
export interface HeatmapOverlayOptions {
  /** Image width (default 224); the image is `width×height×3` RGB, the map `width×height`. */
  width?: number;
  /** Image height (default: width). */
  height?: number;
  /** Ground-truth boxes, drawn green. */
  gtBoxes?: OverlayBox[];
  /** Predicted boxes, drawn red (on top of the green ones). */
  predBoxes?: OverlayBox[];
  /** Colour scale (default "jet", as in CAM papers). */
  colormap?: ColormapName;
  /** Weight of the heat map in the blend, 0..1 (default 0.5). */
  alpha?: number;
  /** Min-max normalise the map first (default false: values are clamped to [0, 1]). */
  normalize?: boolean;
  /** Box outline width in pixels, drawn inside the box (default 2). */
  lineWidth?: number;
}

const GREEN: readonly [number, number, number] = [0, 220, 0];
const RED: readonly [number, number, number] = [230, 0, 0];

/** matplotlib's viridis at 0, 0.1, …, 1 (interpolated linearly in between). */
const VIRIDIS_STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [72, 36, 117],
  [65, 68, 135],
  [53, 95, 141],
  [42, 120, 142],
  [33, 145, 140],
  [34, 168, 132],
  [68, 191, 112],
  [122, 209, 81],
  [189, 223, 38],
  [253, 231, 37],
];

/**
 * The colour of `value` (clamped to [0, 1]) on a colour scale, as `[r, g, b]` 0..255.
 * `jet` is OpenCV's COLORMAP_JET shape (blue → cyan → yellow → red).
 *
 * @example
 * ```ts
 * colormapRgb(1, "jet");     // [128, 0, 0] (dark red)
 * colormapRgb(0, "viridis"); // [68, 1, 84]
 * ```
 */
export function colormapRgb(value: number, name: ColormapName = "jet"): [number, number, number] {
  const v = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
  if (name === "jet") {
    const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
    return [
      c(1.5 - Math.abs(4 * v - 3)),
      c(1.5 - Math.abs(4 * v - 2)),
      c(1.5 - Math.abs(4 * v - 1)),
    ];
  }
  if (name === "viridis") {
    const pos = v * (VIRIDIS_STOPS.length - 1);
    const i = Math.min(VIRIDIS_STOPS.length - 2, Math.floor(pos));
    const t = pos - i;
    const a = VIRIDIS_STOPS[i], b = VIRIDIS_STOPS[i + 1];
    return [0, 1, 2].map((k) => Math.round(a[k] + t * (b[k] - a[k]))) as [number, number, number];
  }
  throw new RangeError(`unknown colormap '${name}' (use jet or viridis)`);
}

function drawBox(
  px: Uint8Array,
  width: number,
  height: number,
  box: OverlayBox,
  color: readonly [number, number, number],
  lineWidth: number,
): void {
  if (box.length !== 4 || !box.every(Number.isFinite)) {
    throw new RangeError(`a box is [x0, y0, x1, y1], got [${box.join(", ")}]`);
  }
  // Pixels covered by the box: k with [k, k+1) ∩ [x0, x1) non-empty.
  const xa = Math.max(0, Math.floor(box[0])), xb = Math.min(width - 1, Math.ceil(box[2]) - 1);
  const ya = Math.max(0, Math.floor(box[1])), yb = Math.min(height - 1, Math.ceil(box[3]) - 1);
  if (xb < xa || yb < ya) return;
  const set = (x: number, y: number) => {
    const o = 3 * (y * width + x);
    px[o] = color[0];
    px[o + 1] = color[1];
    px[o + 2] = color[2];
  };
  for (let t = 0; t < lineWidth; t++) {
    for (let x = xa; x <= xb; x++) {
      if (ya + t <= yb) set(x, ya + t);
      if (yb - t >= ya) set(x, yb - t);
    }
    for (let y = ya; y <= yb; y++) {
      if (xa + t <= xb) set(xa + t, y);
      if (xb - t >= xa) set(xb - t, y);
    }
  }
}

/**
 * Raw RGB pixels of an image with a score map blended on top as a heat map, and boxes:
 * ground truth green, predictions red. See {@link heatmapOverlayPng} for the PNG.
 */
export function heatmapOverlayRgb(
  rgb: ArrayLike<number>,
  map: ArrayLike<number>,
  opts: HeatmapOverlayOptions = {},
): Uint8Array {
  const width = opts.width ?? 224;
  const height = opts.height ?? width;
  const n = width * height;
  if (rgb.length !== 3 * n) {
    throw new RangeError(`image must be ${width}×${height}×3 = ${3 * n} values, got ${rgb.length}`);
  }
  if (map.length !== n) {
    throw new RangeError(`map must be ${width}×${height} = ${n} values, got ${map.length}`);
  }
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  const colormap = opts.colormap ?? "jet";
  let lo = 0, scale = 1;
  if (opts.normalize) {
    let mn = Infinity, mx = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = map[i];
      if (Number.isFinite(v)) {
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
    }
    if (mx > mn) {
      lo = mn;
      scale = 1 / (mx - mn);
    } else {
      lo = Number.isFinite(mn) ? mn : 0;
      scale = 0;
    }
  }
  // 256-entry lookup table: the colour scale is evaluated once per level, not per pixel.
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(colormapRgb(i / 255, colormap), 3 * i);
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const raw = (map[i] - lo) * scale;
    const v = Number.isFinite(raw) ? Math.min(1, Math.max(0, raw)) : 0;
    const l = 3 * Math.round(v * 255);
    for (let c = 0; c < 3; c++) {
      const base = Math.min(255, Math.max(0, rgb[3 * i + c]));
      out[3 * i + c] = Math.round((1 - alpha) * base + alpha * lut[l + c]);
    }
  }
  const lw = Math.max(1, Math.round(opts.lineWidth ?? 2));
  for (const b of opts.gtBoxes ?? []) drawBox(out, width, height, b, GREEN, lw);
  for (const b of opts.predBoxes ?? []) drawBox(out, width, height, b, RED, lw);
  return out;
}

/**
 * PNG bytes of an image (RGB, 0..255, `width×height×3`) with a score map (`width×height`,
 * values in [0, 1]) as a heat-map overlay; GT boxes green, predicted boxes red.
 *
 * @example
 * ```ts
 * const png = await heatmapOverlayPng(rgb, map, { gtBoxes: [[20, 30, 180, 200]],
 *   predBoxes: [[25, 28, 170, 190]], colormap: "jet" });
 * await Deno.writeFile("overlay.png", png);
 * ```
 */
export async function heatmapOverlayPng(
  rgb: ArrayLike<number>,
  map: ArrayLike<number>,
  opts: HeatmapOverlayOptions = {},
): Promise<Uint8Array> {
  const width = opts.width ?? 224;
  const height = opts.height ?? width;
  return await rgbToPng(heatmapOverlayRgb(rgb, map, opts), width, height);
}

/**
 * Encode raw RGB pixels (`width×height×3`, 0..255) as PNG.
 *
 * @example
 * ```ts
 * const png = await rgbToPng(pixels, 224, 224);
 * ```
 */
export async function rgbToPng(
  rgb: ArrayLike<number>,
  width: number,
  height: number,
): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`expected ${width}×${height}×3 values, got ${rgb.length}`);
  }
  const bytes = rgb instanceof Uint8Array
    ? rgb
    : Uint8Array.from(rgb, (v) => Math.min(255, Math.max(0, Math.round(v))));
  const buf = await sharp(bytes, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** One title per column, above the first row. */
  columnTitles?: string[];
  /** One title per row, left of the first column (written bottom-to-top). */
  rowTitles?: string[];
  /** Tile size in pixels (default: the first tile's size); other tiles are resized to fit. */
  tileWidth?: number;
  tileHeight?: number;
  /** Pixels between tiles and around the grid (default 4). */
  gap?: number;
  /** Title font size in pixels (default 14). */
  fontSize?: number;
  /** Background colour (default white). */
  background?: string;
}

/**
 * Compose encoded images (PNG/JPEG bytes; `null` leaves a blank cell) into one PNG grid,
 * row by row, with optional column titles on top and row titles at the left.
 *
 * @example
 * ```ts
 * const png = await imageGrid([[input, cam, ours], [input2, cam2, ours2]],
 *   { columnTitles: ["input", "CAM", "TeD-Loc"] });
 * ```
 */
export async function imageGrid(
  rows: (Uint8Array | null)[][],
  opts: ImageGridOptions = {},
): Promise<Uint8Array> {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  if (rows.length === 0 || cols === 0) throw new RangeError("imageGrid needs at least one tile");
  const first = rows.flat().find((t) => t !== null);
  let tw = opts.tileWidth, th = opts.tileHeight;
  if (tw === undefined || th === undefined) {
    if (!first) throw new RangeError("imageGrid: every tile is null and no tile size was given");
    const meta = await sharp(first).metadata();
    tw ??= meta.width!;
    th ??= meta.height!;
  }
  const gap = opts.gap ?? 4;
  const fontSize = opts.fontSize ?? 14;
  const top = opts.columnTitles?.length ? Math.ceil(fontSize * 1.6) : 0;
  const left = opts.rowTitles?.length ? Math.ceil(fontSize * 1.6) : 0;
  const width = left + gap + cols * (tw + gap);
  const height = top + gap + rows.length * (th + gap);
  const layers: { input: Buffer; left: number; top: number }[] = [];
  for (const [r, row] of rows.entries()) {
    for (const [c, tile] of row.entries()) {
      if (tile === null) continue;
      const fitted = await sharp(tile).resize(tw, th, { fit: "contain", background: "#ffffff" })
        .removeAlpha().png().toBuffer();
      layers.push({
        input: fitted,
        left: left + gap + c * (tw + gap),
        top: top + gap + r * (th + gap),
      });
    }
  }
  if (top > 0 || left > 0) {
    const font =
      `font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${fontSize}"`;
    const texts: string[] = [];
    (opts.columnTitles ?? []).forEach((t, c) => {
      const x = left + gap + c * (tw! + gap) + tw! / 2;
      texts.push(
        `<text x="${x}" y="${top - fontSize * 0.4}" text-anchor="middle" ${font}>${
          escapeXml(t)
        }</text>`,
      );
    });
    (opts.rowTitles ?? []).forEach((t, r) => {
      const y = top + gap + r * (th! + gap) + th! / 2;
      const x = left - fontSize * 0.4;
      texts.push(
        `<text transform="translate(${x} ${y}) rotate(-90)" text-anchor="middle" ${font}>${
          escapeXml(t)
        }</text>`,
      );
    });
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${
      texts.join("")
    }</svg>`;
    layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  }
  const buf = await sharp({
    create: { width, height, channels: 3, background: opts.background ?? "#ffffff" },
  }).composite(layers).png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Resize a `sw×sh` map to `dw×dh` by bilinear interpolation at pixel centres (edges
 * clamped), so a map computed on the 224×224 frame can be laid over the original image at
 * its own size and aspect.
 *
 * @example
 * ```ts
 * const full = resizeMapBilinear(map224, 224, 224, img.width, img.height);
 * ```
 */
export function resizeMapBilinear(
  map: ArrayLike<number>,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
): Float32Array {
  if (map.length !== sw * sh) {
    throw new RangeError(`map must be ${sw}×${sh} = ${sw * sh} values, got ${map.length}`);
  }
  if (!(dw >= 1 && dh >= 1 && Number.isInteger(dw) && Number.isInteger(dh))) {
    throw new RangeError(`target size must be whole pixels ≥ 1, got ${dw}×${dh}`);
  }
  // Source coordinate of each target column/row, computed once (not per pixel).
  const axis = (dn: number, sn: number) => {
    const i0 = new Int32Array(dn), i1 = new Int32Array(dn), t = new Float32Array(dn);
    for (let d = 0; d < dn; d++) {
      const s = Math.min(sn - 1, Math.max(0, (d + 0.5) * (sn / dn) - 0.5));
      i0[d] = Math.floor(s);
      i1[d] = Math.min(sn - 1, i0[d] + 1);
      t[d] = s - i0[d];
    }
    return { i0, i1, t };
  };
  const X = axis(dw, sw), Y = axis(dh, sh);
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const r0 = Y.i0[y] * sw, r1 = Y.i1[y] * sw, ty = Y.t[y];
    for (let x = 0; x < dw; x++) {
      const a = map[r0 + X.i0[x]], b = map[r0 + X.i1[x]];
      const c = map[r1 + X.i0[x]], d = map[r1 + X.i1[x]];
      const top = a + (b - a) * X.t[x], bottom = c + (d - c) * X.t[x];
      out[y * dw + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

/**
 * A box of the `size×size` frame (wsolevaluation's inclusive pixel convention: x1 is the last
 * pixel inside) in the pixels of a `width×height` image, in the same inclusive convention,
 * rounded to 0.1 px. The box `localize.json` reports and the console prints.
 *
 * @example
 * ```ts
 * frameBoxToImage([0, 0, 223, 223], 640, 480); // [0, 0, 639, 479]
 * ```
 */
export function frameBoxToImage(
  box: readonly number[],
  width: number,
  height: number,
  size = 224,
): [number, number, number, number] {
  const sx = width / size, sy = height / size;
  const r = (v: number) => Math.round(v * 10) / 10;
  return [r(box[0] * sx), r(box[1] * sy), r((box[2] + 1) * sx - 1), r((box[3] + 1) * sy - 1)];
}
