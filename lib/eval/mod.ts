/**
 * Evaluation: a head's maps, classes and boxes on cached tokens or images (localize), and
 * wsolevaluation's box metrics of heads, fixed maps and cue maps (evaluate).
 *
 * @module
 */
export * from "./localize.ts";
export * from "./evaluate.ts";
export * from "./embeddings.ts";
export * from "./multiscale.ts";
