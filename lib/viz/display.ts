/**
 * Showing things in notebooks: MIME bundles sent on the kernel's IOPub channel, figures
 * with a PNG every front end renders, text lines, and project-relative paths. Outside a
 * Jupyter kernel the `text/plain` part is printed instead, so the same code runs in scripts.
 *
 * Everything here is sent with {@link jupyterSend}, never through `console.log`: Deno's
 * kernel stamps each output with the header of whichever cell runs when its queue gets to
 * the output, so in a front end's Run All (all cells queued at once) a cell's last outputs
 * can land under the next cell. `jupyterSend` keeps the cell running until they are out.
 *
 * @module
 */
import sharp from "sharp";
import { type MimeBundle, plotlyBundle, type PlotlyFigure } from "./figure.ts";
import { base64 } from "./encode.ts";
import { renderFigurePng, type RenderOptions } from "./export.ts";
import { jupyterBroadcast, jupyterSend } from "../util/progress.ts";
import { PROJECT_ROOT, sharedDataDir } from "../util/paths.ts";

/** Whether this code runs inside the Deno Jupyter kernel. */
export function inJupyter(): boolean {
  return jupyterBroadcast() !== null;
}

/**
 * `text` with this machine's absolute project path removed: paths under the project root
 * become project-relative (`figures/00_quickstart.png`), paths under the shared data folder
 * start with `<shared data>/`. Committed notebook outputs should not carry `/home/…`.
 *
 * @example
 * ```ts
 * projectRelative(`${PROJECT_ROOT}/figures/a.png`); // "figures/a.png"
 * ```
 */
export function projectRelative(text: string): string {
  let out = text;
  const shared = sharedDataDir();
  if (shared !== null) out = out.replaceAll(`${shared}/`, "<shared data>/");
  out = out.replaceAll(`${PROJECT_ROOT}/`, "");
  return out.replaceAll(PROJECT_ROOT, ".");
}

function relativeBundle(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [type, value] of Object.entries(bundle)) {
    out[type] = typeof value === "string" && type.startsWith("text/")
      ? projectRelative(value)
      : value;
  }
  return out;
}

/** Options of {@link displayBundle}. */
export interface DisplayBundleOptions {
  /** Per-MIME-type metadata, e.g. `{ "image/png": { width: 662 } }` (display size). */
  metadata?: Record<string, unknown>;
  /** A display id, so the output can be replaced later with {@link updateBundle}. */
  displayId?: string;
}

/**
 * Display a MIME bundle as one cell output (keys are MIME types); text parts get
 * project-relative paths. Outside Jupyter, prints its `text/plain` (or `text/markdown`) part.
 *
 * @example
 * ```ts
 * await displayBundle({ "text/markdown": "**done**", "text/plain": "done" });
 * ```
 */
export async function displayBundle(
  bundle: MimeBundle,
  opts: DisplayBundleOptions = {},
): Promise<void> {
  const sent = await jupyterSend("display_data", {
    data: relativeBundle(bundle),
    metadata: opts.metadata ?? {},
    transient: opts.displayId ? { display_id: opts.displayId } : {},
  });
  if (sent) return;
  const text = bundle["text/plain"] ?? bundle["text/markdown"];
  if (typeof text === "string") console.log(text);
}

/** Replace the output shown with `displayId` (see {@link displayBundle}); no-op outside Jupyter. */
export async function updateBundle(
  displayId: string,
  bundle: MimeBundle,
  opts: { metadata?: Record<string, unknown> } = {},
): Promise<void> {
  await jupyterSend("update_display_data", {
    data: relativeBundle(bundle),
    metadata: opts.metadata ?? {},
    transient: { display_id: displayId },
  });
}

/**
 * Print a line (arguments joined by spaces, non-strings through `Deno.inspect`) as the
 * cell's stdout, with project-relative paths. In a notebook use `await print(…)` instead
 * of `console.log(…)`: the text is sent before the cell ends, so it stays under its cell.
 *
 * @example
 * ```ts
 * await print("written:", "figures/00_quickstart.png");
 * ```
 */
export async function print(...args: unknown[]): Promise<void> {
  const text = args.map((a) => typeof a === "string" ? a : Deno.inspect(a, { colors: false }))
    .join(" ");
  const sent = await jupyterSend("stream", {
    name: "stdout",
    text: projectRelative(text) + "\n",
  });
  if (!sent) console.log(text);
}

/**
 * A PNG re-encoded with a 256-colour palette (libimagequant through sharp): plots have few
 * colours, so it looks the same at about a quarter of the bytes (measured 1.42 MB → 0.37 MB
 * on notebook 02's 15 figures), which keeps committed notebooks small.
 */
export async function palettePng(png: Uint8Array): Promise<Uint8Array> {
  const b = await sharp(png).png({ palette: true, quality: 95, effort: 7, compressionLevel: 9 })
    .toBuffer();
  return b.length < png.length ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : png;
}

/** Options of {@link showFigure}. */
export interface ShowFigureOptions extends RenderOptions {
  /**
   * Add the PNG rendering (default true; needs Chromium). It is what an untrusted notebook
   * (a fresh clone), GitHub and nbconvert show; the Plotly JSON is the interactive view.
   */
  png?: boolean;
}

/**
 * Pixel density of a figure's notebook PNG. 1: Plotly's JupyterLab renderer (and GitHub)
 * show a PNG at its pixel size whatever the output metadata says, so a 2× PNG appeared twice
 * the figure's size there, wider than the cell (seen in scripts/e2e.sh's screenshots).
 */
export const NOTEBOOK_PNG_SCALE = 1;

/**
 * Show a Plotly figure in a notebook: the interactive Plotly JSON plus a PNG at screen
 * size (rendered in headless Chromium at {@link NOTEBOOK_PNG_SCALE}× density, palette-encoded,
 * shown at the figure's CSS size) that front ends without a Plotly renderer, untrusted
 * notebooks, GitHub and nbconvert show. JupyterLab's Plotly renderer shows the PNG and turns
 * it into the interactive plot when the mouse enters it.
 *
 * @example
 * ```ts
 * await showFigure({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: paperLayout() });
 * ```
 */
export async function showFigure(fig: PlotlyFigure, opts: ShowFigureOptions = {}): Promise<void> {
  if (opts.png === false) {
    await displayBundle(plotlyBundle(fig));
    return;
  }
  const scale = opts.scale ?? NOTEBOOK_PNG_SCALE;
  const png = await palettePng(await renderFigurePng(fig, { ...opts, scale }));
  const width = opts.width ?? fig.layout?.width ?? 700;
  const height = opts.height ?? fig.layout?.height ?? 450;
  await displayBundle(plotlyBundle(fig, { png }), {
    metadata: { "image/png": { width: Math.round(width), height: Math.round(height) } },
  });
}

/** Options of {@link showImage}. */
export interface ShowImageOptions {
  /** Widest the notebook copy may be, in pixels (default 720): larger images are shrunk. */
  maxWidth?: number;
  /**
   * Encoding of the notebook copy: `png`, `jpeg`, or `auto` (default): PNG unless it is
   * over 300 kB and JPEG (quality 85) is less than half its size — photographs are.
   */
  format?: "png" | "jpeg" | "auto";
}

/** An image as a notebook keeps it: encoded bytes, their MIME type and pixel width. */
export interface ScreenImage {
  mime: "image/png" | "image/jpeg";
  bytes: Uint8Array;
  width: number;
}

/**
 * The copy of an image (PNG/JPEG bytes) a notebook should keep: at most `maxWidth` px wide,
 * PNG, or JPEG when that is much smaller (photographs). See {@link ShowImageOptions}.
 *
 * @example
 * ```ts
 * const { mime, bytes } = await screenImage(grid, { maxWidth: 720 });
 * ```
 */
export async function screenImage(
  image: Uint8Array,
  opts: ShowImageOptions = {},
): Promise<ScreenImage> {
  const maxWidth = opts.maxWidth ?? 720;
  const meta = await sharp(image).metadata();
  const width = Math.min(meta.width ?? maxWidth, maxWidth);
  const resized = sharp(image).resize({ width, withoutEnlargement: true }).removeAlpha();
  const toBytes = (b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) =>
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const png = toBytes(await resized.clone().png({ compressionLevel: 9 }).toBuffer());
  const format = opts.format ?? "auto";
  if (format === "jpeg" || (format === "auto" && png.length > 300_000)) {
    const jpeg = toBytes(await resized.clone().jpeg({ quality: 85, mozjpeg: true }).toBuffer());
    if (format === "jpeg" || jpeg.length < png.length / 2) {
      return { mime: "image/jpeg", bytes: jpeg, width };
    }
  }
  return { mime: "image/png", bytes: png, width };
}

/**
 * Show an image (PNG/JPEG bytes) in a notebook at screen resolution, with a caption line
 * above it. The notebook keeps a copy at most `maxWidth` px wide (a photo grid as JPEG;
 * {@link screenImage}), so committed notebooks stay small; full-resolution files belong in
 * `figures/`. Returns what was shown.
 *
 * @example
 * ```ts
 * await showImage(await imageGrid(tiles), "input | CAM | TeD-Loc");
 * ```
 */
export async function showImage(
  image: Uint8Array,
  caption: string,
  opts: ShowImageOptions = {},
): Promise<ScreenImage> {
  const shown = await screenImage(image, opts);
  await displayBundle({ "text/markdown": `**${caption}**`, "text/plain": caption });
  await displayBundle({ [shown.mime]: base64(shown.bytes), "text/plain": `<${caption}>` }, {
    metadata: { [shown.mime]: { width: shown.width } },
  });
  return shown;
}
