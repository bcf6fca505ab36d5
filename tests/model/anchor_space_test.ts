import { assert, assertAlmostEquals, assertArrayClose, assertEquals } from "../assert.ts";
import { buildAnchorSpace, fixedProjection } from "../../lib/model/anchor_space.ts";

function gram(v: Float32Array, n: number, d: number): number[] {
  const g: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += v[i * d + t] * v[j * d + t];
      g.push(s);
    }
  }
  return g;
}
const eye = (n: number) => Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));

Deno.test("fixedProjection: identity for equal dims, orthonormal columns/rows otherwise, seeded", () => {
  assertArrayClose(fixedProjection(3, 3, 5), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const P = fixedProjection(6, 3, 1); // [6,3]: columns orthonormal
  const cols = new Float32Array(18);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 3; j++) cols[j * 6 + i] = P[i * 3 + j];
  assertArrayClose(gram(cols, 3, 6), eye(3), 1e-6);
  const Q = fixedProjection(3, 6, 1); // [3,6]: rows orthonormal
  assertArrayClose(gram(Q, 3, 6), eye(3), 1e-6);
  assertArrayClose(fixedProjection(6, 3, 1), P, 0);
  assert(fixedProjection(6, 3, 2).some((v, i) => v !== P[i]), "another seed gives another matrix");
});

Deno.test("buildAnchorSpace: more classes than dimensions are lifted to d + C (model dim follows)", () => {
  const raw = {
    classNames: ["a", "b", "c"],
    count: 3,
    dim: 2,
    template: "",
    source: "t",
    vectors: new Float32Array([1, 0, 0.8, 0.6, 0, 1]),
  };
  const q = buildAnchorSpace(raw, { ortho: "qr", projSeed: 0 });
  assertEquals(q.dim, 5);
  assertArrayClose(gram(q.vectors, 3, 5), eye(3), 1e-6);
  const n = buildAnchorSpace(raw, { ortho: "none", projSeed: 0 });
  assertEquals(n.dim, 2);
});

Deno.test("buildAnchorSpace: projection keeps unit rows; qr anchors orthonormal in d", () => {
  const raw = {
    classNames: ["a", "b", "c"],
    count: 3,
    dim: 5,
    template: "",
    source: "t",
    vectors: new Float32Array([1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1]),
  };
  const sp = buildAnchorSpace(raw, { ortho: "none", projDim: 4, projSeed: 0 });
  assert(sp.dim === 4 && sp.rawDim === 5 && sp.count === 3);
  const g = gram(sp.vectors, 3, 4);
  for (let i = 0; i < 3; i++) assertAlmostEquals(g[i * 4], 1, 1e-6);
  const q = buildAnchorSpace(raw, { ortho: "qr", projDim: 4, projSeed: 0 });
  assertArrayClose(gram(q.vectors, 3, 4), eye(3), 1e-6);
  assert(buildAnchorSpace(raw, { ortho: "none", projSeed: 0 }).dim === 5, "no projDim keeps D");
});
