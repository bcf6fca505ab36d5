/**
 * Training: the frozen feature cache and cached cue maps, optimizers, checkpoints, the one fit
 * loop with the TeD-Loc and CAM trainers on it, synthetic token sets.
 * @module
 */
export {
  checkFeatureView,
  FEATURE_VIEWS,
  type FeatureView,
  loadViewBatch,
  loadViewFiles,
  VIEW_LOADER_ID,
} from "./view_images.ts";
export {
  defaultFeatureCacheDir,
  encoderTokenSource,
  type ExtractCommonOptions,
  extractFeatures,
  extractFeatureShard,
  type ExtractFeaturesOptions,
  type ImageListDataset,
  mergeFeatureShardSet,
  splitImageIds,
} from "./features.ts";
export {
  featureCacheBytes,
  formatBytes,
  freeDiskBytes,
  parseShard,
  shardRange,
} from "./feature_files.ts";
export * from "./cue_cache.ts";
export { type BatchResult, type ExtractionTask, runExtraction } from "./extract.ts";
export * from "./optim.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./fit.ts";
export * from "./cam.ts";
export * from "./synthetic.ts";
