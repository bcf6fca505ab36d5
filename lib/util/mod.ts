/**
 * Small shared utilities: seeded RNG, progress bar, CLI parsing, project paths.
 * @module
 */
export * from "./rng.ts";
export * from "./progress.ts";
export * from "./cli.ts";
export * from "./paths.ts";
