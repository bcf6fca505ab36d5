/**
 * Text anchors: anchors files (and, as they land, tokenizer, CLIP text encoder,
 * orthogonalization).
 * @module
 */
export * from "./anchors.ts";
