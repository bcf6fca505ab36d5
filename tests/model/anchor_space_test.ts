import { assert, assertAlmostEquals, assertArrayClose, assertRejects } from "../assert.ts";
import {
  buildAnchorSpace,
  fixedProjection,
  orthogonalizeAnchorRows,
} from "../../lib/model/anchor_space.ts";

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

Deno.test("orthogonalize qr: orthonormal rows, Gram–Schmidt order (row k in span of rows ≤ k)", () => {
  const a = new Float32Array([1, 1, 0, 1, 0, 1, 0, 1, 1]);
  const { vectors } = orthogonalizeAnchorRows(a, 3, 3, "qr");
  assertArrayClose(gram(vectors, 3, 3), eye(3), 1e-6);
  assertArrayClose(vectors.subarray(0, 3), [Math.SQRT1_2, Math.SQRT1_2, 0], 1e-6);
  // second row: (1,0,1) minus its projection on row 1 → (1/2,-1/2,1)/|..|
  const s = Math.sqrt(1.5);
  assertArrayClose(vectors.subarray(3, 6), [0.5 / s, -0.5 / s, 1 / s], 1e-6);
});

Deno.test("orthogonalize symmetric: orthonormal and symmetric in the inputs (Löwdin)", () => {
  const th = 0.5; // two unit vectors at 0.5 rad
  const a = new Float32Array([1, 0, 0, Math.cos(th), Math.sin(th), 0]);
  const { vectors } = orthogonalizeAnchorRows(a, 2, 3, "symmetric");
  assertArrayClose(gram(vectors, 2, 3), eye(2), 1e-6);
  // each moves by the same angle (π/2 − θ)/2 away from the other
  const c0 = vectors[0] * 1, c1 = vectors[3] * Math.cos(th) + vectors[4] * Math.sin(th);
  assertAlmostEquals(c0, c1, 1e-6);
  assertAlmostEquals(Math.acos(c0), (Math.PI / 2 - th) / 2, 1e-5);
  const none = orthogonalizeAnchorRows(a, 2, 3, "none");
  assertArrayClose(none.vectors, a, 0);
});

Deno.test("orthogonalize: more anchors than dims or dependent rows give clear errors", async () => {
  await assertRejects(
    () => orthogonalizeAnchorRows(new Float32Array(6).fill(1), 3, 2, "qr"),
    "3 anchors in 2 dimensions",
  );
  await assertRejects(
    () => orthogonalizeAnchorRows(new Float32Array([1, 0, 2, 0]), 2, 2, "qr"),
    "linearly dependent",
  );
  await assertRejects(
    () => orthogonalizeAnchorRows(new Float32Array([1, 0, 2, 0]), 2, 2, "symmetric"),
    "linearly dependent",
  );
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
