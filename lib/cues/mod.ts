/**
 * Pseudo-label cues: sources (CAM, attention, files, PCA, centre prior, trained heads,
 * combinations), ImageNet-CAM cues, and the FG/BG sampler.
 * @module
 */
export * from "./cues.ts";
export * from "./imagenet_cam.ts";
export * from "./sources.ts";
export * from "./sampler.ts";
