/**
 * Datasets: wsolevaluation metadata, the CUB converter, the image pipeline (PIL-exact
 * decode/resize, views, batches with prefetch) and the embedded default dataset.
 * @module
 */
export * from "./metadata.ts";
export * from "./image_size.ts";
export * from "./dataset.ts";
export * from "./cub.ts";
export * from "./resize.ts";
export * from "./image.ts";
export * from "./loader.ts";
