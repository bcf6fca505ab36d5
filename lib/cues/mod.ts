/**
 * Pseudo-label cues: sources (CAM, attention, files, combinations) and the FG/BG sampler.
 * @module
 */
export * from "./cues.ts";
export * from "./sources.ts";
export * from "./sampler.ts";
