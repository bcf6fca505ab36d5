/**
 * WSOL metrics exactly as clovaai/wsolevaluation computes them (MaxBoxAcc, MaxBoxAccV2,
 * Top-1/Top-5 Loc, PxAP), with one-sweep box extraction over all CAM thresholds, plus
 * score-map resizing identical to OpenCV's bicubic resize. Pure functions on typed arrays.
 * @module
 */
export * from "./scoremap.ts";
export * from "./contours.ts";
export * from "./sweep.ts";
export * from "./box.ts";
export * from "./mask.ts";
