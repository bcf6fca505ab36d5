/**
 * Training-side plumbing: the frozen feature cache and cached cue maps (trainer, checkpoints
 * and evaluation land here too).
 * @module
 */
export {
  checkFeatureView,
  FEATURE_VIEWS,
  type FeatureView,
  loadViewBatch,
  VIEW_LOADER_ID,
} from "./view_images.ts";
export {
  defaultFeatureCacheDir,
  type ExtractCommonOptions,
  extractFeatures,
  type ExtractFeaturesOptions,
  type FeatureStorage,
  type ImageListDataset,
  splitImageIds,
} from "./features.ts";
export * from "./cue_cache.ts";
export { type BatchResult, type ExtractionTask, runExtraction } from "./extract.ts";
