/**
 * Small shared utilities: seeded RNG, progress bar, CLI parsing, project paths, Ctrl-C
 * handling, run-folder locks and output checks.
 * @module
 */
export * from "./rng.ts";
export * from "./progress.ts";
export * from "./cli.ts";
export * from "./paths.ts";
export * from "./interrupt.ts";
export * from "./lock.ts";
export * from "./output.ts";
