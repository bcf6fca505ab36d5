/**
 * File formats and safe writes: `.npy`, `.safetensors`, atomic files, input errors.
 * @module
 */
export * from "./errors.ts";
export * from "./atomic.ts";
export * from "./npy.ts";
export * from "./safetensors.ts";
export * from "./tfjs_model.ts";
