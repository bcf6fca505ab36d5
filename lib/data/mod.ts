/**
 * Datasets: wsolevaluation metadata, converters, image pipeline, the embedded default.
 * @module
 */
export * from "./metadata.ts";
export * from "./image_size.ts";
export * from "./dataset.ts";
export * from "./cub.ts";
