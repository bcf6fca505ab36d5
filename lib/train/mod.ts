/**
 * Training-side plumbing and the training/inference loop: the frozen feature cache and cached
 * cue maps, optimizers, checkpoints, the TeD-Loc trainer, the CAM baseline trainer,
 * inference/evaluation, synthetic token sets.
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
export * from "./optim.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./fit.ts";
export * from "./cam.ts";
export * from "./synthetic.ts";
export * from "./localize.ts";
export * from "./pipeline.ts";
export * from "./experiment.ts";
export * from "./run.ts";
export * from "./inputs.ts";
export * from "./stages.ts";
export * from "./cue_recipe.ts";
export * from "./run_config.ts";
export { defaultParallelRuns, runConfigs, type RunConfigsOptions, type RunJob } from "./worker.ts";
