/**
 * Training and inference on cached frozen tokens: optimizers, checkpoints, the TeD-Loc
 * trainer, the CAM baseline trainer, synthetic token sets.
 * @module
 */
export * from "./optim.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./cam.ts";
export * from "./synthetic.ts";
