/**
 * tfjs backend selection and the transpose-free matrix products used by all model code.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./matmul.ts";
