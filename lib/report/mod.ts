/**
 * What the notebooks share: the paper's printed numbers, Table-1/ablation rows labelled
 * "measured here" vs "reported", Plotly figures (τ curves, heat maps, scatters, bars, raster
 * grids), localization cases for visual results, and small latency measurements.
 *
 * @module
 */
export * from "./paper.ts";
export * from "./tables.ts";
export * from "./figures.ts";
export * from "./cases.ts";
export * from "./latency.ts";
export * from "./anchor_rows.ts";
export * from "./seeds.ts";
export * from "./curves_figure.ts";
