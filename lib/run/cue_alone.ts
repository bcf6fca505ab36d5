/**
 * The cue-alone row: the pseudo-label cue's own map (the config's `cues.recipe`, built for
 * the evaluation split exactly as for training: the CAM term on the image's ground-truth
 * class, as wsolevaluation scores CAM) scored on the test split with the same box metrics as
 * the model. It shows what distillation adds over its own supervision. An evaluation beside
 * the run, not part of it: no config field, no run key changes; it reads the run's cached
 * features, CAM baseline and cue caches (computing them when missing).
 *
 * @module
 */
import { classLabelsOf } from "../data/metadata.ts";
import { InputError } from "../io/errors.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { RunConfig } from "../config/schema.ts";
import type { BoxMetrics } from "../metrics/box.ts";
import { evaluateCueSet } from "../eval/evaluate.ts";
import { loadRunInputs } from "./inputs.ts";
import { preparedRunInputs } from "./pipeline.ts";
import { buildCues, parseCueRecipe } from "./cue_recipe.ts";
import { defaultCacheDir } from "./run.ts";

/** What {@link evaluateCueAlone} returns. */
export interface CueAloneResult {
  /** The cue recipe scored. */
  recipe: string;
  /** The split it was scored on (`eval.split`, the test split). */
  split: string;
  /** Box metrics of the cue maps on that split (MaxBoxAcc, MaxBoxAccV2; no classes). */
  metrics: BoxMetrics;
  /** The same cue on the run's held-out train images (null when none are held out). */
  heldOut: BoxMetrics | null;
}

/**
 * Score the config's pseudo-label cue on its evaluation split (MaxBoxAcc, MaxBoxAccV2).
 *
 * @example
 * ```ts
 * const cfg = await resolveRunConfig({ file: "configs/cub50/main.json" });
 * const { metrics } = await evaluateCueAlone(cfg);
 * console.log(metrics.maxBoxAcc, metrics.maxBoxAccV2);
 * ```
 */
export async function evaluateCueAlone(
  cfg: RunConfig,
  opts: { cacheDir?: string; workers?: number; progress?: ProgressOptions | false } = {},
): Promise<CueAloneResult> {
  const recipe = parseCueRecipe(cfg.cues.recipe); // a bad recipe fails before any loading
  const inputs = await loadRunInputs(cfg);
  const split = cfg.eval.split;
  const meta = inputs.dataset.splits[split];
  if (!meta) throw new InputError(`dataset ${inputs.dataset.name} has no '${split}' split`);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const p = await preparedRunInputs(cfg, inputs, { ...opts, cacheDir });
  try {
    const labels = classLabelsOf(meta, p.test.ids);
    const cues = await buildCues(recipe, {
      dataset: inputs.dataset,
      encoder: inputs.encoder,
      classifier: inputs.classifier,
      cam: p.cam,
      split,
      workers: opts.workers,
      cacheDir,
      progress: opts.progress,
    }, { ids: p.test.ids, grid: p.test.grid, labels, features: p.test });
    const metrics = evaluateCueSet(cues, meta, p.test, {
      camCurveInterval: cfg.eval.camCurveInterval,
    });
    return { recipe: cfg.cues.recipe, split, metrics, heldOut: p.cueValidation };
  } finally {
    p.cam.dispose();
  }
}
