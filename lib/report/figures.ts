/**
 * Plotly figures the notebooks share: accuracy-vs-τ curves, similarity heat maps, 2-D
 * scatters, grouped bars, and a raster image (an overlay grid) wrapped as a figure so it
 * exports to SVG/PNG/PDF like the others.
 *
 * @module
 */
import type { BoxMetrics } from "../metrics/box.ts";
import { PAPER_COLORWAY, paperLayout, type PlotlyFigure } from "../viz/figure.ts";
import { base64 } from "../viz/encode.ts";

/** One curve of {@link boxAccuracyCurveFigure}. */
export interface CurveSeries {
  name: string;
  metrics: BoxMetrics;
}

/**
 * Box accuracy against the CAM threshold τ at IoU δ (MaxBoxAcc is the maximum of the
 * largest-contour curve at δ = 50): one line per method, the best τ marked.
 *
 * @example
 * ```ts
 * await showFigure(boxAccuracyCurveFigure([{ name: "TeD-Loc", metrics: m }]));
 * ```
 */
export function boxAccuracyCurveFigure(
  series: readonly CurveSeries[],
  opts: { iou?: number; mode?: "largest" | "multi"; title?: string; columns?: 1 | 2 } = {},
): PlotlyFigure {
  const iou = opts.iou ?? 50;
  const mode = opts.mode ?? "largest";
  const data: Record<string, unknown>[] = [];
  series.forEach((s, i) => {
    const curve = s.metrics[mode].find((c) => c.iou === iou);
    if (!curve) throw new RangeError(`${s.name}: no ${mode} curve at IoU ${iou}`);
    const color = PAPER_COLORWAY[i % PAPER_COLORWAY.length];
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${s.name} (max ${curve.max.toFixed(1)})`,
      x: s.metrics.thresholds,
      y: curve.accuracy,
      line: { width: 1.5, color },
      legendgroup: String(i),
    });
    data.push({
      type: "scatter",
      mode: "markers",
      x: [curve.bestTau],
      y: [curve.max],
      marker: { size: 7, symbol: "circle-open", color },
      showlegend: false,
      legendgroup: String(i),
      hovertemplate: `${s.name}: best τ %{x:.2f}, %{y:.1f}%<extra></extra>`,
    });
  });
  return {
    data,
    layout: paperLayout({ columns: opts.columns ?? 1, title: opts.title }, {
      xaxis: { title: { text: "CAM threshold τ" }, range: [0, 1] },
      yaxis: {
        title: { text: `box accuracy at IoU ≥ ${iou / 100} (%)` },
        // headroom above 100 % for the legend, so it never covers a curve
        range: [0, 122],
        tickvals: [0, 20, 40, 60, 80, 100],
      },
      legend: {
        orientation: "h",
        x: 0.01,
        xanchor: "left",
        y: 0.99,
        yanchor: "top",
        tracegroupgap: 0,
      },
    }),
  };
}

/**
 * A `n × n` (or `rows × cols`) matrix as a heat map with labelled axes (e.g. anchor
 * cosine similarities), fixed colour range so panels compare.
 */
export function matrixHeatmapFigure(
  matrix: ArrayLike<number>,
  rowLabels: readonly string[],
  colLabels: readonly string[] = rowLabels,
  opts: { title?: string; zmin?: number; zmax?: number; colorscale?: string; size?: number } = {},
): PlotlyFigure {
  const R = rowLabels.length, C = colLabels.length;
  if (matrix.length !== R * C) {
    throw new RangeError(`matrixHeatmapFigure: ${matrix.length} values for ${R}×${C} labels`);
  }
  const z = Array.from(
    { length: R },
    (_, i) => Array.from({ length: C }, (_, j) => matrix[i * C + j]),
  );
  const size = opts.size ?? 420;
  return {
    data: [{
      type: "heatmap",
      z,
      x: [...colLabels],
      y: [...rowLabels],
      zmin: opts.zmin ?? -1,
      zmax: opts.zmax ?? 1,
      colorscale: opts.colorscale ?? "RdBu",
      reversescale: true,
      colorbar: { thickness: 10, title: { text: "cos" } },
    }],
    layout: paperLayout({ columns: 1, title: opts.title, height: size }, {
      width: size + 120,
      xaxis: { tickangle: -60, tickfont: { size: 6 }, showgrid: false, automargin: true },
      yaxis: { autorange: "reversed", tickfont: { size: 6 }, showgrid: false, automargin: true },
    }),
  };
}

/** One group of points of {@link scatter2dFigure}. */
export interface ScatterGroup {
  name: string;
  /** `count × 2` row-major coordinates. */
  xy: ArrayLike<number>;
  /** Hover labels, one per point. */
  labels?: readonly string[];
}

/** 2-D scatter (e.g. a t-SNE), one trace per group, equal axis scales. */
export function scatter2dFigure(
  groups: readonly ScatterGroup[],
  opts: { title?: string; markerSize?: number; showLegend?: boolean } = {},
): PlotlyFigure {
  return {
    data: groups.map((g) => {
      const n = g.xy.length / 2;
      return {
        type: "scatter",
        mode: "markers",
        name: g.name,
        x: Array.from({ length: n }, (_, i) => g.xy[2 * i]),
        y: Array.from({ length: n }, (_, i) => g.xy[2 * i + 1]),
        text: g.labels ? [...g.labels] : undefined,
        marker: { size: opts.markerSize ?? 4, opacity: 0.8 },
        hovertemplate: g.labels ? "%{text}<extra></extra>" : undefined,
      };
    }),
    layout: paperLayout({ columns: 1, title: opts.title, height: 300 }, {
      xaxis: { title: { text: "t-SNE 1" }, showticklabels: false },
      yaxis: { title: { text: "t-SNE 2" }, showticklabels: false, scaleanchor: "x" },
      showlegend: opts.showLegend ?? groups.length > 1,
    }),
  };
}

/** Grouped bars: one trace per series, shared categories; optional log scale. */
export function groupedBarFigure(
  categories: readonly string[],
  series: readonly { name: string; values: readonly (number | null)[] }[],
  opts: { title?: string; yTitle?: string; log?: boolean; columns?: 1 | 2 } = {},
): PlotlyFigure {
  return {
    data: series.map((s) => ({
      type: "bar",
      name: s.name,
      x: [...categories],
      y: [...s.values],
      text: s.values.map((v) => v === null ? "" : v >= 100 ? v.toFixed(0) : v.toPrecision(3)),
      textposition: "outside",
      cliponaxis: false,
    })),
    layout: paperLayout({ columns: opts.columns ?? 2, title: opts.title }, {
      barmode: "group",
      yaxis: { title: { text: opts.yTitle ?? "" }, type: opts.log ? "log" : "linear" },
      legend: { orientation: "h", y: -0.25 },
    }),
  };
}

/**
 * A PNG (e.g. an {@link imageGrid} of overlays) as a Plotly figure of the same pixel size,
 * so `exportFigure` writes it as SVG/PDF (raster embedded) and PNG like any other figure.
 */
export function rasterFigure(png: Uint8Array, width: number, height: number): PlotlyFigure {
  return {
    data: [],
    layout: {
      width,
      height,
      margin: { l: 0, r: 0, t: 0, b: 0, pad: 0 },
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fff",
      xaxis: { visible: false, range: [0, width] },
      yaxis: { visible: false, range: [0, height] },
      images: [{
        source: `data:image/png;base64,${base64(png)}`,
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 1,
        sizex: 1,
        sizey: 1,
        xanchor: "left",
        yanchor: "top",
        sizing: "stretch",
        layer: "below",
      }],
    },
  };
}

/**
 * A PNG as a notebook MIME bundle (inline image; HTML shown at most `maxWidth` pixels wide,
 * with a caption), for `displayBundle`.
 */
export function pngBundle(
  png: Uint8Array,
  caption: string,
  opts: { width?: number; maxWidth?: number } = {},
): Record<string, string> {
  const b64 = base64(png);
  const w = Math.min(opts.width ?? 720, opts.maxWidth ?? 720);
  return {
    "text/html": `<figure><img src="data:image/png;base64,${b64}" width="${w}"/>` +
      `<figcaption>${caption.replace(/[<>&]/g, " ")}</figcaption></figure>`,
    "image/png": b64,
    "text/plain": `<${caption}>`,
  };
}
