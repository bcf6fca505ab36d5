/**
 * Headless notebook runner: executes `.ipynb` files with the Deno kernel through nbclient,
 * keeping outputs the kernel publishes after a cell's idle message.
 *
 * @module
 */
export * from "./runner.ts";
export * from "./source.ts";
