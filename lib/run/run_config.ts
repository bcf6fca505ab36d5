/**
 * The run config as the trainers take it: {@link trainConfigInput} for TeD-Loc and
 * {@link camTrainInput} for the CAM baseline (complete, so no trainer default applies).
 *
 * @module
 */
import type { RunConfig } from "../config/schema.ts";
import type { TrainConfigInput } from "../train/trainer.ts";
import type { CamTrainInput } from "../train/cam.ts";

/** TeD-Loc's training config of a run (the init seed follows `train.seed`, as before). */
export function trainConfigInput(cfg: RunConfig): TrainConfigInput {
  const t = cfg.train;
  return {
    model: structuredClone(cfg.model),
    anchors: {
      ortho: cfg.anchors.ortho,
      projDim: cfg.anchors.projDim,
      projSeed: cfg.anchors.projSeed,
    },
    loss: { ...cfg.loss },
    sampler: { ...cfg.sampler },
    optimizer: { ...cfg.optimizer },
    schedule: { ...cfg.schedule },
    epochs: t.epochs,
    batchSize: t.batchSize,
    seed: t.seed,
    randomViews: t.randomViews,
  };
}

/** The CAM baseline's training config of a run. */
export function camTrainInput(cfg: RunConfig): CamTrainInput {
  const c = cfg.cam;
  return {
    epochs: c.epochs,
    batchSize: c.batchSize,
    seed: c.seed,
    randomViews: c.randomViews,
    optimizer: { ...c.optimizer },
    schedule: { ...c.schedule },
  };
}
