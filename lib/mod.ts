/**
 * tedloc — TeD-Loc (Text Distillation for Weakly Supervised Object Localization) on Deno.
 *
 * The public face of the library: notebooks and tasks import from here only.
 * Data flows one way: config → data → model (encoder, head, cues) → train → eval (metrics) →
 * run (stages, records) → report/viz.
 *
 * @module
 */
export * from "./backend/mod.ts";
export * from "./io/mod.ts";
export * from "./config/mod.ts";
export * from "./util/mod.ts";
export * from "./data/mod.ts";
export * from "./text/mod.ts";
export * from "./model/mod.ts";
export * from "./cues/mod.ts";
export * from "./metrics/mod.ts";
export * from "./train/mod.ts";
export * from "./eval/mod.ts";
export * from "./run/mod.ts";
export * from "./notebook/mod.ts";
export * from "./viz/mod.ts";
export * from "./report/mod.ts";
