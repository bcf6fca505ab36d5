/**
 * Plotly figures as plain JSON objects, paper-style layout defaults, and the Jupyter MIME
 * bundle that shows a figure in every front end.
 *
 * plotly.js cannot run inside Deno (it needs a DOM): figures are built here as data, shown
 * by the notebook front end from `application/vnd.plotly.v1+json`, and rendered to static
 * SVG/PNG/PDF in headless Chromium (see `export.ts`).
 *
 * @module
 */
import { base64 } from "./encode.ts";

/** One Plotly trace (`{ type: "scatter", x, y, … }`); any plotly.js trace attribute. */
export interface PlotlyTrace {
  type?: string;
  [attribute: string]: unknown;
}

/** A Plotly layout; any plotly.js layout attribute. */
export interface PlotlyLayout {
  width?: number;
  height?: number;
  [attribute: string]: unknown;
}

/** A Plotly figure as plain JSON: what `Plotly.newPlot(div, data, layout)` takes. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout?: PlotlyLayout;
}

/** Widths in CSS px (1/96 in, what Chromium's PDF uses) of paper figures. */
export const PAPER_WIDTH_PX: { readonly one: number; readonly two: number } = {
  /** One column of a two-column paper: 3.3 in. */
  one: 317,
  /** The full text width: 6.9 in. */
  two: 662,
};

/** Colour-blind-safe trace colours (Okabe–Ito). */
export const PAPER_COLORWAY: readonly string[] = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#F0E442",
  "#000000",
];

/** Options of {@link paperLayout}. */
export interface PaperLayoutOptions {
  /** One- or two-column figure width (default 1). */
  columns?: 1 | 2;
  /** Height in px (default: 0.72 × the one-column width, 0.45 × the two-column width). */
  height?: number;
  /** Base font size in px (default 10 px = 7.5 pt at the paper size). */
  fontSize?: number;
  /** Figure title (none by default: papers put titles in captions). */
  title?: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * Deep-merge plain objects: values in `over` win; arrays and other values replace.
 *
 * @example
 * ```ts
 * mergeLayout(paperLayout(), { xaxis: { title: { text: "τ" } } });
 * ```
 */
export function mergeLayout(base: PlotlyLayout, over: PlotlyLayout = {}): PlotlyLayout {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v)
      ? mergeLayout(b as PlotlyLayout, v as PlotlyLayout)
      : v;
  }
  return out as PlotlyLayout;
}

/**
 * A paper-style layout: white background, Liberation Sans (metric-compatible with Arial,
 * installed with Chromium's fonts), thin black axes with outside ticks, light grid,
 * tight margins, Okabe–Ito colours and a one- or two-column size. `overrides` are
 * deep-merged on top.
 *
 * @example
 * ```ts
 * const fig = { data: [{ type: "scatter", x, y }],
 *   layout: paperLayout({ columns: 1 }, { xaxis: { title: { text: "threshold τ" } } }) };
 * ```
 */
export function paperLayout(
  opts: PaperLayoutOptions = {},
  overrides: PlotlyLayout = {},
): PlotlyLayout {
  const columns = opts.columns ?? 1;
  const width = columns === 2 ? PAPER_WIDTH_PX.two : PAPER_WIDTH_PX.one;
  const height = opts.height ?? Math.round(width * (columns === 2 ? 0.45 : 0.72));
  const size = opts.fontSize ?? 10;
  const axis = {
    showline: true,
    linecolor: "#000",
    linewidth: 1,
    mirror: true,
    ticks: "outside",
    ticklen: 3,
    tickcolor: "#000",
    showgrid: true,
    gridcolor: "#e5e5e5",
    zeroline: false,
    automargin: true,
    title: { font: { size } },
    tickfont: { size: size - 1 },
  };
  const base: PlotlyLayout = {
    width,
    height,
    font: { family: "Liberation Sans, Arial, Helvetica, sans-serif", size, color: "#000" },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    colorway: [...PAPER_COLORWAY],
    margin: { l: 44, r: 8, t: opts.title ? 28 : 8, b: 36, pad: 0 },
    xaxis: axis,
    yaxis: axis,
    legend: { font: { size: size - 1 }, bgcolor: "rgba(255,255,255,0.8)" },
    ...(opts.title ? { title: { text: opts.title, font: { size: size + 1 }, x: 0.5 } } : {}),
  };
  return mergeLayout(base, overrides);
}

/**
 * The figure as plain JSON: typed arrays become arrays, non-finite numbers become null
 * (what Plotly draws as gaps), `undefined` attributes are dropped.
 */
export function figureJson(fig: PlotlyFigure): PlotlyFigure {
  if (!fig || !Array.isArray(fig.data)) {
    throw new TypeError("a Plotly figure needs a `data` array of traces");
  }
  return JSON.parse(
    JSON.stringify(
      { data: fig.data, layout: fig.layout ?? {} },
      (_key, value) => ArrayBuffer.isView(value) ? Array.from(value as unknown as number[]) : value,
    ),
  );
}

/** The figure's title, if it has one. */
function figureTitle(fig: PlotlyFigure): string | undefined {
  const t = fig.layout?.title;
  if (typeof t === "string") return t;
  if (isPlainObject(t) && typeof t.text === "string") return t.text;
  return undefined;
}

/** A Jupyter MIME bundle: MIME type → data (strings, or objects for JSON types). */
export type MimeBundle = Record<string, string | object>;

/** Options of {@link plotlyBundle}. */
export interface PlotlyBundleOptions {
  /** A static SVG rendering (from `renderFigure(fig, "svg")`): the fallback for HTML export. */
  svg?: string;
  /** A static PNG rendering, stored base64 (GitHub and old viewers). */
  png?: Uint8Array;
}

/**
 * A Jupyter MIME bundle for a figure: `application/vnd.plotly.v1+json` for editors that
 * render Plotly (VS Code, JupyterLab with the plotly extension), the given static
 * renderings as fallbacks (a PNG is what untrusted notebooks, GitHub and nbconvert show;
 * JupyterLab renders SVG only in trusted notebooks), and a `text/plain` line.
 *
 * @example
 * ```ts
 * const bundle = plotlyBundle(fig, { png: await renderFigurePng(fig, { scale: 2 }) });
 * await Deno.jupyter.display(bundle, { raw: true });
 * ```
 */
export function plotlyBundle(fig: PlotlyFigure, opts: PlotlyBundleOptions = {}): MimeBundle {
  const json = figureJson(fig);
  const title = figureTitle(fig);
  const bundle: MimeBundle = {
    "application/vnd.plotly.v1+json": json,
    "text/plain": `<Plotly figure: ${json.data.length} trace${json.data.length === 1 ? "" : "s"}${
      title ? `, "${title}"` : ""
    }>`,
  };
  if (opts.svg !== undefined) bundle["image/svg+xml"] = opts.svg;
  if (opts.png !== undefined) bundle["image/png"] = base64(opts.png);
  return bundle;
}

/** Options of {@link horizontalBarFigure}. */
export interface HorizontalBarOptions {
  /** Figure title. */
  title?: string;
  /** Value-axis title. */
  xTitle?: string;
  /** Log-scale value axis. */
  log?: boolean;
  /** One- or two-column width (default 2). */
  columns?: 1 | 2;
  /** Pixels per category row (default 16 × the number of series, at least 18). */
  rowHeight?: number;
}

/**
 * Grouped horizontal bars: one trace per series, categories down the left in the given
 * order (first on top). Long category labels stay readable — they sit beside the bars
 * (the axis widens to fit) instead of slanting under them into the legend — and the
 * height grows with the number of categories. The legend sits above the plot.
 *
 * @example
 * ```ts
 * horizontalBarFigure(["TeD-Loc (ours)", "CAM"], [{ name: "params (M)", values: [0.18, 0.11] }],
 *   { xTitle: "log scale", log: true });
 * ```
 */
export function horizontalBarFigure(
  categories: readonly string[],
  series: readonly { name: string; values: readonly (number | null)[] }[],
  opts: HorizontalBarOptions = {},
): PlotlyFigure {
  const rowHeight = opts.rowHeight ?? Math.max(18, 16 * series.length);
  const top = (opts.title ? 28 : 8) + 24; // title, then the legend row above the plot
  const height = Math.round(top + 40 + rowHeight * categories.length);
  return {
    data: series.map((s) => ({
      type: "bar",
      orientation: "h",
      name: s.name,
      y: [...categories],
      x: [...s.values],
      text: s.values.map((v) => v === null ? "" : v >= 100 ? v.toFixed(0) : v.toPrecision(3)),
      textposition: "outside",
      cliponaxis: false,
    })),
    layout: paperLayout({ columns: opts.columns ?? 2, title: opts.title, height }, {
      barmode: "group",
      bargap: 0.25,
      margin: { t: top, r: 40 },
      xaxis: { title: { text: opts.xTitle ?? "" }, type: opts.log ? "log" : "linear" },
      // reversed: the first category on top, as in a table
      yaxis: { autorange: "reversed", automargin: true, showgrid: false },
      legend: {
        orientation: "h",
        x: 0,
        y: 1.01,
        yanchor: "bottom",
        traceorder: "normal",
        bgcolor: "rgba(0,0,0,0)",
      },
    }),
  };
}
