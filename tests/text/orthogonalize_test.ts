import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import { householderQR, symmetricEigen } from "../../lib/text/linalg.ts";
import { orthogonalizeAnchors } from "../../lib/text/orthogonalize.ts";
import { readSafetensors, toFloat32 } from "../../lib/io/safetensors.ts";
import { Rng } from "../../lib/util/rng.ts";
import { sharedDataPath } from "../../lib/util/paths.ts";

/** C anchors of dimension D sharing a common direction (cosines ~0.5–0.9, like CLIP's). */
function correlated(C: number, D: number, seed: number, shared = 1.5): Float32Array {
  const rng = new Rng(seed);
  const common = Array.from({ length: D }, () => rng.normal());
  const x = new Float32Array(C * D);
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < D; j++) x[i * D + j] = shared * common[j] + rng.normal();
  }
  return x;
}

function unitRows(x: ArrayLike<number>, C: number, D: number): Float64Array {
  const y = Float64Array.from(x as ArrayLike<number>);
  for (let i = 0; i < C; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += y[i * D + j] ** 2;
    for (let j = 0; j < D; j++) y[i * D + j] /= Math.sqrt(s);
  }
  return y;
}

function dot(
  a: ArrayLike<number>,
  i: number,
  da: number,
  b: ArrayLike<number>,
  j: number,
  db: number,
  n: number,
) {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[i * da + k] * b[j * db + k];
  return s;
}

/** max |QQᵀ − I| over the rows of a C × d matrix. */
function orthError(q: ArrayLike<number>, C: number, d: number): number {
  let worst = 0;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j <= i; j++) {
      worst = Math.max(worst, Math.abs(dot(q, i, d, q, j, d, d) - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

/** ‖Q − [T, 0]‖_F² for Q rows of dim ≥ D (extra columns compared with 0). */
function distance2(q: ArrayLike<number>, dq: number, t: ArrayLike<number>, C: number, D: number) {
  let s = 0;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < dq; j++) s += (q[i * dq + j] - (j < D ? t[i * D + j] : 0)) ** 2;
  }
  return s;
}

Deno.test("linalg: symmetric eigendecomposition (random, repeated eigenvalues, 1×1)", () => {
  const rng = new Rng(3);
  for (const n of [1, 2, 7, 40]) {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      if (k > 0) assert(values[k] >= values[k - 1], "ascending");
      for (let i = 0; i < n; i++) {
        const av = dot(a, i, n, vectors, k, n, n);
        assertAlmostEquals(av, values[k] * vectors[k * n + i], 1e-10, `A v = λ v (n ${n})`);
      }
    }
    assert(orthError(vectors, n, n) < 1e-12, "orthonormal eigenvectors");
  }
  // a projection matrix: eigenvalues 0 (×3) and 1 (×2)
  const p = new Float64Array(25);
  const u = [[1, 1, 0, 0, 1], [0, 1, -1, 1, 0]].map((r) => unitRows(r, 1, 5));
  const v2 = u[1].map((x, i) => x - dot(u[0], 0, 5, u[1], 0, 5, 5) * u[0][i]);
  const w = unitRows(v2, 1, 5);
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) p[i * 5 + j] = u[0][i] * u[0][j] + w[i] * w[j];
  }
  const { values } = symmetricEigen(p, 5);
  Array.from(values).forEach((x, i) => assertAlmostEquals(x, i < 3 ? 0 : 1, 1e-12));
});

Deno.test("linalg: Householder QR reconstructs A with diag(R) ≥ 0", () => {
  const rng = new Rng(5);
  const m = 9, n = 6;
  const a = Float64Array.from({ length: m * n }, () => rng.normal());
  const { q, rDiag } = householderQR(a, m, n);
  assert(orthError(q, n, m) < 1e-12, "QᵀQ = I");
  for (let j = 0; j < n; j++) {
    assert(rDiag[j] > 0, "positive diagonal");
    assertAlmostEquals(dot(q, j, m, a, j, m, m), rDiag[j], 1e-12, "R_jj = q_jᵀ a_j");
    for (let i = j + 1; i < n; i++) assertAlmostEquals(dot(q, i, m, a, j, m, m), 0, 1e-12);
  }
});

Deno.test("orthogonalize: C ≤ D — orthonormal, span kept, QR = Gram–Schmidt order", () => {
  const C = 12, D = 20;
  const x = correlated(C, D, 1);
  const t = unitRows(x, C, D);
  const none = orthogonalizeAnchors(x, C, D, "none");
  assertEquals([none.dim, none.lifted], [D, false]);
  assert(orthError(none.vectors, C, D) > 0.3, "raw anchors are far from orthogonal");
  for (const method of ["qr", "symmetric"] as const) {
    const r = orthogonalizeAnchors(x, C, D, method);
    assertEquals([r.dim, r.lifted], [D, false], method);
    assert(orthError(r.vectors, C, D) < 1e-5, `${method}: QQᵀ = I`);
    // span preservation: each raw anchor is a combination of the orthonormal ones
    for (let k = 0; k < C; k++) {
      let residual = 0;
      const proj = new Float64Array(D);
      for (let j = 0; j < C; j++) {
        const c = dot(r.vectors, j, D, t, k, D, D);
        for (let i = 0; i < D; i++) proj[i] += c * r.vectors[j * D + i];
      }
      for (let i = 0; i < D; i++) residual = Math.max(residual, Math.abs(proj[i] - t[k * D + i]));
      assert(residual < 1e-5, `${method}: anchor ${k} in the span (${residual})`);
    }
  }
  const qr = orthogonalizeAnchors(x, C, D, "qr").vectors;
  for (let k = 0; k < C; k++) {
    assert(dot(qr, k, D, t, k, D, D) > 0, "positive cosine with its raw anchor");
    // q_j ⊥ t_k for j > k: t_k lies in span(q_0..q_k)
    for (let j = k + 1; j < C; j++) assertAlmostEquals(dot(qr, j, D, t, k, D, D), 0, 1e-5);
  }
  for (let i = 0; i < D; i++) assertAlmostEquals(qr[i], t[i], 1e-6, "first anchor unchanged");
});

Deno.test("orthogonalize: symmetric is the closest orthonormal set (vs QR and rotations of it)", () => {
  const rng = new Rng(11);
  for (const [C, D, seed] of [[8, 8, 2], [10, 30, 3], [25, 40, 4]]) {
    const x = correlated(C, D, seed);
    const t = unitRows(x, C, D);
    const sym = orthogonalizeAnchors(x, C, D, "symmetric").vectors;
    const best = distance2(sym, D, t, C, D);
    const qr = orthogonalizeAnchors(x, C, D, "qr").vectors;
    assert(best < distance2(qr, D, t, C, D), `symmetric beats QR (C ${C}, D ${D})`);
    for (const angle of [1, 0.05, 0.002]) {
      for (let trial = 0; trial < 5; trial++) {
        // R = orthonormalised (I + angle·G): a rotation of the set within its span
        const g = new Float32Array(C * C);
        for (let i = 0; i < C * C; i++) g[i] = (i % (C + 1) === 0 ? 1 : 0) + angle * rng.normal();
        const rot = orthogonalizeAnchors(g, C, C, "symmetric").vectors;
        const rotated = new Float64Array(C * D);
        for (let i = 0; i < C; i++) {
          for (let j = 0; j < C; j++) {
            for (let k = 0; k < D; k++) rotated[i * D + k] += rot[i * C + j] * sym[j * D + k];
          }
        }
        assert(orthError(rotated, C, D) < 1e-5, "rotated set is orthonormal");
        const d2 = distance2(rotated, D, t, C, D);
        assert(d2 >= best - 1e-9, `rotation (angle ${angle}) is not closer: ${d2} < ${best}`);
      }
    }
  }
});

Deno.test("orthogonalize: C > D and duplicates are lifted to D + C dimensions", () => {
  const C = 30, D = 8;
  const x = correlated(C, D, 7);
  for (const method of ["qr", "symmetric"] as const) {
    const r = orthogonalizeAnchors(x, C, D, method);
    assertEquals([r.dim, r.lifted], [D + C, true], method);
    assert(orthError(r.vectors, C, r.dim) < 1e-5, `${method}: ${C} orthonormal anchors`);
    const t = unitRows(x, C, D);
    for (let k = 0; k < C; k++) assert(dot(r.vectors, k, r.dim, t, k, D, D) > 0, "positive cosine");
  }
  // C ≤ D with two identical anchors: rank-deficient → lifted instead of an arbitrary direction
  const y = correlated(5, 10, 8);
  y.set(y.subarray(0, 10), 30);
  for (const method of ["qr", "symmetric"] as const) {
    const r = orthogonalizeAnchors(y, 5, 10, method);
    assertEquals([r.dim, r.lifted], [15, true], method);
    assert(orthError(r.vectors, 5, 15) < 1e-5);
    // the duplicates get different anchors, symmetric treats them alike
    if (method === "symmetric") {
      const t = unitRows(y, 5, 10);
      assertAlmostEquals(
        dot(r.vectors, 0, 15, t, 0, 10, 10),
        dot(r.vectors, 3, 15, t, 3, 10, 10),
        1e-9,
      );
    }
  }
  const forced = orthogonalizeAnchors(correlated(4, 6, 9), 4, 6, "qr", { forceLift: true });
  assertEquals([forced.dim, forced.lifted], [10, true]);
});

Deno.test("orthogonalize: the lift equals orthogonalizing [T; εI] written out (both paths)", () => {
  // C > D takes the D×D-eigen path for symmetric; the explicit lift has C ≤ D + C and
  // takes the C×C path: they must agree (row scaling by √(1+ε²) changes neither result).
  const C = 24, D = 10, eps = 0.1;
  const x = correlated(C, D, 12);
  const t = unitRows(x, C, D);
  const explicit = new Float64Array(C * (D + C));
  for (let i = 0; i < C; i++) {
    explicit.set(t.subarray(i * D, i * D + D), i * (D + C));
    explicit[i * (D + C) + D + i] = eps;
  }
  for (const method of ["qr", "symmetric"] as const) {
    const lifted = orthogonalizeAnchors(x, C, D, method, { liftScale: eps });
    const direct = orthogonalizeAnchors(explicit, C, D + C, method);
    assertEquals([lifted.dim, lifted.lifted, direct.lifted], [D + C, true, false]);
    let worst = 0;
    for (let i = 0; i < lifted.vectors.length; i++) {
      worst = Math.max(worst, Math.abs(lifted.vectors[i] - direct.vectors[i]));
    }
    assert(worst < 1e-6, `${method}: lifted vs explicit differ by ${worst}`);
  }
});

Deno.test("orthogonalize: bad input", () => {
  const bad = (f: () => unknown, part: string) => {
    try {
      f();
    } catch (e) {
      assert((e as Error).message.includes(part), `${(e as Error).message} lacks ${part}`);
      return;
    }
    throw new Error(`no error (${part})`);
  };
  bad(() => orthogonalizeAnchors(new Float32Array(6), 2, 3, "qr"), "anchor 0 is zero");
  bad(() => orthogonalizeAnchors(new Float32Array(5), 2, 3, "qr"), "expected 2×3");
  bad(() => orthogonalizeAnchors(new Float32Array(6), 2, 3, "gs" as "qr"), "unknown method");
});

const clipPath = sharedDataPath("clip", "imagenet1k_clip_vitb32_text.safetensors");
Deno.test({
  name: clipPath
    ? "orthogonalize: real CLIP ImageNet anchors (C = 1000 > D = 512) → 1000 orthonormal anchors"
    : "orthogonalize: real CLIP ImageNet anchors (skipped: ../shared/data/clip/imagenet1k_clip_vitb32_text.safetensors absent)",
  ignore: clipPath === null,
  fn: async () => {
    const st = await readSafetensors(clipPath!);
    const x = toFloat32(st.tensors.get("text_features")!);
    for (const method of ["qr", "symmetric"] as const) {
      const r = orthogonalizeAnchors(x, 1000, 512, method);
      assertEquals([r.dim, r.lifted], [1512, true]);
      // check a strided subset of pairs (the full 1000² check costs seconds)
      let worst = 0;
      for (let i = 0; i < 1000; i += 37) {
        for (let j = 0; j < 1000; j++) {
          worst = Math.max(
            worst,
            Math.abs(dot(r.vectors, i, 1512, r.vectors, j, 1512, 1512) - (i === j ? 1 : 0)),
          );
        }
      }
      assert(worst < 1e-5, `${method}: ‖QQᵀ − I‖ ${worst}`);
      // the identical rows (crane 134/517) now have distinct anchors
      assert(dot(r.vectors, 134, 1512, r.vectors, 517, 1512, 1512) < 1e-5);
    }
  },
});
