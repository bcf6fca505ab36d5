/**
 * Pseudo-label cues and the FG/BG patch sampler.
 * @module
 */
export * from "./cues.ts";
export * from "./imagenet_cam.ts";
