/**
 * Text anchors: anchors files, CLIP's BPE tokenizer and text transformer, anchor sources
 * (CLIP prompts, CUB attributes, imported embeddings), orthogonalization, and the analysis
 * helpers (cosine statistics, t-SNE).
 * @module
 */
export * from "./anchors.ts";
export * from "./tokenizer.ts";
export * from "./clip_text.ts";
export * from "./linalg.ts";
export * from "./orthogonalize.ts";
export * from "./analysis.ts";
export * from "./sources.ts";
