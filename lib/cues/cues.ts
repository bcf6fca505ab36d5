/**
 * Pseudo-label cues: one map per training image over the patch grid, telling which
 * patches are likely foreground. Produced by pluggable sources (CAM, attention, files).
 *
 * @module
 */

/** Cue maps of a list of images. */
export interface CueSet {
  /** Which source made them (e.g. `cam:imagenet-top5`, `files:runs/cues`). */
  source: string;
  /** Image ids, in map order. */
  ids: string[];
  /** Grid `[gh, gw]` of each map. */
  grid: [number, number];
  /** `[ids.length][gh*gw]`, each map in [0, 1]. */
  maps: Float32Array;
}
