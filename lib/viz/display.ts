/**
 * Showing things in notebooks: MIME bundles through `Deno.jupyter.display`, figures with a
 * static SVG fallback rendered in Chromium. Outside a Jupyter kernel the `text/plain` part
 * is printed instead, so the same code runs in scripts.
 *
 * @module
 */
import { type MimeBundle, plotlyBundle, type PlotlyFigure } from "./figure.ts";
import { renderFigurePng, renderFigureSvg, type RenderOptions } from "./export.ts";

function jupyterDisplay(): ((obj: unknown, opts: { raw: boolean }) => Promise<void>) | null {
  try {
    // Deno.jupyter is a getter that throws outside `deno jupyter`.
    return Deno.jupyter.display;
  } catch {
    return null;
  }
}

/** Whether this code runs inside the Deno Jupyter kernel. */
export function inJupyter(): boolean {
  return jupyterDisplay() !== null;
}

/**
 * Display a MIME bundle as one cell output (raw: keys are MIME types). Outside Jupyter,
 * prints its `text/plain` (or `text/markdown`) part.
 *
 * @example
 * ```ts
 * await displayBundle({ "text/markdown": "**done**", "text/plain": "done" });
 * ```
 */
export async function displayBundle(bundle: MimeBundle): Promise<void> {
  const display = jupyterDisplay();
  if (display) {
    await display(bundle, { raw: true });
    return;
  }
  const text = bundle["text/plain"] ?? bundle["text/markdown"];
  if (typeof text === "string") console.log(text);
}

/** Options of {@link showFigure}. */
export interface ShowFigureOptions extends RenderOptions {
  /** Add an SVG rendering as fallback (default true; needs Chromium). */
  svg?: boolean;
  /** Add a PNG rendering too (default false). */
  png?: boolean;
}

/**
 * Show a Plotly figure in a notebook: the interactive Plotly JSON plus a static SVG
 * (rendered in headless Chromium) that nbconvert's HTML export and plain viewers use.
 *
 * @example
 * ```ts
 * await showFigure({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: paperLayout() });
 * ```
 */
export async function showFigure(fig: PlotlyFigure, opts: ShowFigureOptions = {}): Promise<void> {
  const svg = opts.svg === false ? undefined : await renderFigureSvg(fig, opts);
  const png = opts.png ? await renderFigurePng(fig, opts) : undefined;
  await displayBundle(plotlyBundle(fig, { svg, png }));
}
