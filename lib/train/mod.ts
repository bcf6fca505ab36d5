/**
 * Training-side plumbing: the frozen feature cache and cached cue maps (trainer, checkpoints
 * and evaluation land here too).
 * @module
 */
export * from "./view_images.ts";
export * from "./features.ts";
export * from "./cue_cache.ts";
export { type BatchResult, type ExtractionTask, runExtraction } from "./extract.ts";
