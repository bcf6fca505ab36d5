/**
 * Figures and tables: Plotly figures as JSON with notebook MIME bundles, static export
 * through headless Chromium, heat-map overlays and image grids (sharp), Markdown/CSV tables.
 *
 * @module
 */
export * from "./figure.ts";
export * from "./export.ts";
export * from "./display.ts";
export * from "./overlay.ts";
export * from "./table.ts";
