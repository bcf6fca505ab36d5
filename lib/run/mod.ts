/**
 * Runs: a resolved config → its inputs → stages (features, CAM, cues, one fit per round,
 * evaluation) → the run record in `runs/<data>/<run key>/`; several at once in worker
 * processes; the paper's experiments as named configs.
 *
 * @module
 */
export * from "./pipeline.ts";
export * from "./run.ts";
export * from "./inputs.ts";
export * from "./stages.ts";
export * from "./cue_recipe.ts";
export * from "./run_config.ts";
export * from "./experiment.ts";
export * from "./cue_alone.ts";
export * from "./curves.ts";
export * from "./scales.ts";
export { defaultParallelRuns, runConfigs, type RunConfigsOptions, type RunJob } from "./worker.ts";
