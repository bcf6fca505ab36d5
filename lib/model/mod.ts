/**
 * Models: the encoder interface, the TeD-Loc head, its losses, the anchor space and the
 * baselines (CAM, vanilla patch–text similarity).
 * @module
 */
export * from "./encoder.ts";
export * from "./anchor_space.ts";
export * from "./tedloc.ts";
export * from "./losses.ts";
export * from "./baselines.ts";
