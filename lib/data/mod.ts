/**
 * Datasets: wsolevaluation metadata, the CUB converter, the image pipeline (PIL-exact
 * decode/resize, views, batches with prefetch) and the embedded default dataset (synthetic
 * birds). The rasterizer behind the default dataset (`raster.ts`) stays internal.
 * @module
 */
export * from "./metadata.ts";
export * from "./image_size.ts";
export * from "./dataset.ts";
export * from "./cub.ts";
export * from "./resize.ts";
export * from "./image.ts";
export * from "./loader.ts";
export * from "./synthetic.ts";
