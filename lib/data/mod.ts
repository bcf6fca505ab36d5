/**
 * Datasets: wsolevaluation metadata, converters, image pipeline, the embedded default.
 * @module
 */
export * from "./metadata.ts";
