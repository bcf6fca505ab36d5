/**
 * A random (untrained) TeD-Loc model for inference tests.
 * @module
 */
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";

/** A random TeD-Loc model on `dim`-wide tokens with 3 classes (`a`, `b`, `c`). */
export function randomTedLoc(dim: number): TedLocModel {
  const C = 3, D = 8;
  const vectors = new Float32Array(C * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
  return new TedLocModel(resolveTedLocConfig(dim, D, C), {
    classNames: ["a", "b", "c"],
    vectors,
    count: C,
    dim: D,
    rawDim: D,
    ortho: "none",
    source: "t",
  });
}
