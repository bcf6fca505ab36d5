import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import {
  anchorGeometry,
  anchorSpectrum,
  anchorStatistics,
  blockGeometryMedian,
  cosineSimilarityMatrix,
  selectAnchorRows,
  tsne,
} from "../../lib/text/analysis.ts";
import { Rng } from "../../lib/util/rng.ts";

Deno.test("analysis: cosine matrix and statistics on a hand-made set", () => {
  // a = (1,0,0), b = (1,1,0)/√2 scaled ×3, c = (0,0,-2)
  const v = new Float32Array([1, 0, 0, 3, 3, 0, 0, 0, -2]);
  const sim = cosineSimilarityMatrix(v, 3, 3);
  const r = Math.SQRT1_2;
  const want = [1, r, 0, r, 1, 0, 0, 0, 1];
  want.forEach((w, i) => assertAlmostEquals(sim[i], w, 1e-6));
  const s = anchorStatistics(v, 3, 3);
  assertAlmostEquals(s.meanOffDiagonal, (2 * r) / 6, 1e-6);
  assertAlmostEquals(s.maxOffDiagonal, r, 1e-6);
  assertEquals(s.maxPair, [0, 1]);
  assertAlmostEquals(s.minOffDiagonal, 0, 1e-7);
  assertEquals(Array.from(s.nearestIndex), [1, 0, 0]);
  assertAlmostEquals(s.nearestCosine[2], 0, 1e-7);
  assertAlmostEquals(s.meanNearestCosine, (2 * r) / 3, 1e-6);
  assertEquals(Array.from(selectAnchorRows(v, 3, [2, 0])), [0, 0, -2, 1, 0, 0]);
});

Deno.test("analysis: anchor spectrum matches numpy and the simplex/one-factor extremes", () => {
  // numpy: rows normalised, centred, svd → s/s0 = [1, 0.53702174, 0.33623124], PR 1.79209209
  const v = new Float32Array([1, 0, 0, 3, 3, 0, 0, 0, -2, 1, 2, 3]);
  const s = anchorSpectrum(v, 4, 3);
  [1, 0.53702174, 0.33623124, 0].forEach((w, i) => assertAlmostEquals(s.relative[i], w, 1e-6));
  assertAlmostEquals(s.effectiveRank, 1.7920920928, 1e-6);
  // orthonormal anchors centre to a regular simplex: C − 1 equal directions
  const eye = new Float32Array(25).map((_, i) => (i % 6 === 0 ? 1 : 0));
  const o = anchorSpectrum(eye, 5, 5);
  assertAlmostEquals(o.effectiveRank, 4, 1e-9);
  assertEquals(o.rank90, 4);
  // two alternating directions (scaled rows): one class-specific direction only
  const two = anchorSpectrum(new Float32Array([2, 0, 0, 1, 5, 0, 0, 3]), 4, 2);
  assertAlmostEquals(two.effectiveRank, 1, 1e-9);
  assertEquals(two.rank90, 1);
});

Deno.test("analysis: geometry per block, median over blocks", () => {
  // 11 anchors in 10-d: two blocks of 5 orthonormal rows (the 11th is dropped) → 0 / 0 / 4
  const v = new Float32Array(110).map((_, i) => (i < 100 && i % 11 === 0 ? 1 : 0));
  v[100] = 1; // the trailing anchor, equal to the first: would change a block it joined
  const m = blockGeometryMedian(v, 11, 10, 5);
  assertEquals(m.blocks, 2);
  assertAlmostEquals(m.meanCosine, 0, 1e-12);
  assertAlmostEquals(m.nearestCosine, 0, 1e-12);
  assertAlmostEquals(m.effectiveRank, 4, 1e-9);
  const g = anchorGeometry(new Float32Array([1, 0, 0, 3, 3, 0, 0, 0, -2, 1, 2, 3]), 4, 3);
  assertAlmostEquals(g.effectiveRank, 1.7920920928, 1e-6);
  let threw = false;
  try {
    blockGeometryMedian(v, 11, 10, 12);
  } catch {
    threw = true;
  }
  assert(threw, "a block larger than the set is an error");
});

/** `k` Gaussian clusters of `per` points in `dim` dims, centres 10σ apart. */
function clusters(k: number, per: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(k * per * dim);
  const label: number[] = [];
  for (let c = 0; c < k; c++) {
    const centre = Array.from({ length: dim }, () => 10 * rng.normal());
    for (let p = 0; p < per; p++) {
      const i = c * per + p;
      label.push(c);
      for (let d = 0; d < dim; d++) x[i * dim + d] = centre[d] + rng.normal();
    }
  }
  return { x, label, n: k * per };
}

Deno.test("analysis: t-SNE keeps well-separated clusters apart", () => {
  const { x, label, n } = clusters(4, 25, 12, 1);
  const { embedding: y, kl } = tsne(x, n, 12, { perplexity: 10, iterations: 400, seed: 3 });
  assert(Number.isFinite(kl) && kl >= 0, `KL ${kl}`);
  // every point's nearest 2-D neighbour is in its own cluster
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    let best = Infinity, at = -1;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2;
      if (d < best) [best, at] = [d, j];
    }
    if (label[at] !== label[i]) wrong++;
  }
  assertEquals(wrong, 0, "nearest neighbours from another cluster");
  // clusters are separated: smallest between-cluster distance > largest within-cluster radius
  const centre = (c: number) => {
    let a = 0, b = 0;
    for (let i = 0; i < n; i++) {
      if (label[i] === c) [a, b] = [a + y[2 * i] / 25, b + y[2 * i + 1] / 25];
    }
    return [a, b];
  };
  const centres = [0, 1, 2, 3].map(centre);
  let radius = 0;
  for (let i = 0; i < n; i++) {
    const [a, b] = centres[label[i]];
    radius = Math.max(radius, Math.hypot(y[2 * i] - a, y[2 * i + 1] - b));
  }
  let gap = Infinity;
  for (let c = 0; c < 4; c++) {
    for (let e = 0; e < c; e++) {
      gap = Math.min(gap, Math.hypot(centres[c][0] - centres[e][0], centres[c][1] - centres[e][1]));
    }
  }
  assert(gap > 2 * radius, `cluster gap ${gap} vs radius ${radius}`);
});

Deno.test("analysis: t-SNE is deterministic for a seed", () => {
  const { x, n } = clusters(3, 10, 5, 2);
  const opts = { perplexity: 5, iterations: 120, init: "random" as const };
  const a = tsne(x, n, 5, { ...opts, seed: 7 }).embedding;
  const b = tsne(x, n, 5, { ...opts, seed: 7 }).embedding;
  const c = tsne(x, n, 5, { ...opts, seed: 8 }).embedding;
  assertEquals(Array.from(a), Array.from(b));
  assert(a.some((v, i) => v !== c[i]), "another seed gives another layout");
  const p1 = tsne(x, n, 5, { ...opts, init: "pca", seed: 1 }).embedding;
  const p2 = tsne(x, n, 5, { ...opts, init: "pca", seed: 1 }).embedding;
  assertEquals(Array.from(p1), Array.from(p2));
  let threw = false;
  try {
    tsne(x, n, 5, { perplexity: 30 });
  } catch {
    threw = true;
  }
  assert(threw, "perplexity ≥ count is refused");
});
