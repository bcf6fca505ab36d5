/**
 * tfjs backend selection, asynchronous tensor reads that work on every backend (webgpu
 * included), and the transpose-free matrix products used by all model code.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./matmul.ts";
export * from "./read.ts";
export { cacheWebgpuTensorsOnCpu, canReadWebgpuSync } from "./webgpu.ts";
