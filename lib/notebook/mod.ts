/**
 * Notebooks: the headless runner (executes `.ipynb` files with the Deno kernel through nbclient,
 * keeping outputs the kernel publishes after a cell's idle message) and the helpers notebook
 * cells share (parameters, experiments with a live progress line, a method's row).
 *
 * @module
 */
export * from "./runner.ts";
export * from "./source.ts";
export * from "./helpers.ts";
