import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { Rng } from "../../lib/util/rng.ts";
import type { AnchorSpace } from "../../lib/model/anchor_space.ts";
import {
  resolveTedLocConfig,
  tedLocFlops,
  TedLocModel,
  tedLocParamShapes,
} from "../../lib/model/tedloc.ts";
import {
  addBias,
  gelu,
  layerNormRows,
  type Mat,
  matmul,
  normalize,
  reshape,
  sigmoid,
  softmaxRow,
} from "./reference.ts";

function anchorSpace(C: number, d: number, seed = 3): AnchorSpace {
  const rng = new Rng(seed);
  const v = new Float32Array(C * d);
  for (let k = 0; k < C; k++) {
    const row = normalize(Array.from({ length: d }, () => rng.normal()));
    v.set(row, k * d);
  }
  return {
    classNames: Array.from({ length: C }, (_, k) => `c${k}`),
    vectors: v,
    count: C,
    dim: d,
    rawDim: d,
    ortho: "none",
    source: "test",
  };
}

async function randomWeights(model: TedLocModel, seed: number) {
  const rng = new Rng(seed);
  const w = await model.getWeights();
  for (const k of Object.keys(w)) w[k].data = w[k].data.map(() => rng.uniform(-0.8, 0.8));
  model.setWeights(w);
  return w;
}

function tokensOf(B: number, N: number, din: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(B * N * din).map(() => rng.normal());
}

/** The head's forward pass in plain JS from the weight arrays. */
function reference(
  kind: "mlp" | "transformer",
  w: Awaited<ReturnType<TedLocModel["getWeights"]>>,
  x: Mat,
  an: AnchorSpace,
  tau: number,
  heads = 2,
) {
  const W = (n: string) => reshape(w[n].data, w[n].shape[0], w[n].shape[1]);
  const b = (n: string) => w[n].data;
  let z: Mat;
  if (kind === "mlp") {
    const xn = layerNormRows(x, new Array(x[0].length).fill(1), new Array(x[0].length).fill(0));
    const h = addBias(matmul(xn, W("decoder.fc1.weight")), b("decoder.fc1.bias")).map((r) =>
      r.map(gelu)
    );
    z = addBias(matmul(h, W("decoder.fc2.weight")), b("decoder.fc2.bias"));
  } else {
    const x0 = addBias(matmul(x, W("decoder.proj.weight")), b("decoder.proj.bias"));
    const d = x0[0].length, hd = d / heads, N = x0.length;
    const n1 = layerNormRows(x0, b("decoder.block.norm1.weight"), b("decoder.block.norm1.bias"));
    const qkv = addBias(
      matmul(n1, W("decoder.block.attn.qkv.weight")),
      b("decoder.block.attn.qkv.bias"),
    );
    const o: Mat = Array.from({ length: N }, () => new Array(d).fill(0));
    for (let h = 0; h < heads; h++) {
      const q = qkv.map((r) => r.slice(h * hd, (h + 1) * hd));
      const k = qkv.map((r) => r.slice(d + h * hd, d + (h + 1) * hd));
      const v = qkv.map((r) => r.slice(2 * d + h * hd, 2 * d + (h + 1) * hd));
      for (let i = 0; i < N; i++) {
        const att = softmaxRow(
          k.map((kr) => kr.reduce((s, kv, t) => s + kv * q[i][t], 0) / Math.sqrt(hd)),
        );
        for (let t = 0; t < hd; t++) o[i][h * hd + t] = att.reduce((s, a, j) => s + a * v[j][t], 0);
      }
    }
    const x1 = addBias(
      matmul(o, W("decoder.block.attn.proj.weight")),
      b("decoder.block.attn.proj.bias"),
    ).map((r, i) => r.map((v, j) => v + x0[i][j]));
    const n2 = layerNormRows(x1, b("decoder.block.norm2.weight"), b("decoder.block.norm2.bias"));
    const m = addBias(
      matmul(
        addBias(matmul(n2, W("decoder.block.mlp.fc1.weight")), b("decoder.block.mlp.fc1.bias")).map(
          (r) => r.map(gelu),
        ),
        W("decoder.block.mlp.fc2.weight"),
      ),
      b("decoder.block.mlp.fc2.bias"),
    );
    z = x1.map((r, i) => r.map((v, j) => v + m[i][j]));
  }
  const M = addBias(matmul(z, W("g.weight")), b("g.bias")).map((r) => sigmoid(r[0]));
  const sumM = M.reduce((s, v) => s + v, 0);
  const c = z[0].map((_, j) => z.reduce((s, r, p) => s + M[p] * r[j], 0) / (sumM + 1e-6));
  const cn = normalize(c);
  const scores = Array.from(
    { length: an.count },
    (_, k) => cn.reduce((s, v, j) => s + v * an.vectors[k * an.dim + j], 0) / tau,
  );
  return { z, M, c, scores };
}

Deno.test("TeD-Loc forward equals a plain-JS reference (mlp and transformer decoders)", async () => {
  await initBackend("cpu");
  const N = 5, din = 6, C = 3, d = 4;
  const an = anchorSpace(C, d);
  for (const kind of ["mlp", "transformer"] as const) {
    const cfg = resolveTedLocConfig(din, d, C, {
      decoder: { kind, hidden: 7, heads: 2 },
      temperature: 0.5,
    });
    const model = new TedLocModel(cfg, an);
    const w = await randomWeights(model, 11);
    const flat = tokensOf(2, N, din, 5);
    const out = tf.tidy(() => {
      const o = model.forward(tf.tensor3d(flat, [2, N, din]));
      return [o.z, o.map, o.pooled, o.scores].map((t) => t.dataSync());
    });
    for (let bi = 0; bi < 2; bi++) {
      const ref = reference(kind, w, reshape(flat.subarray(bi * N * din), N, din), an, 0.5);
      assertArrayClose(
        out[0].subarray(bi * N * d, (bi + 1) * N * d),
        ref.z.flat(),
        2e-4,
        `${kind} z`,
      );
      assertArrayClose(out[1].subarray(bi * N, (bi + 1) * N), ref.M, 2e-5, `${kind} M`);
      assertArrayClose(out[2].subarray(bi * d, (bi + 1) * d), ref.c, 2e-4, `${kind} c`);
      assertArrayClose(out[3].subarray(bi * C, (bi + 1) * C), ref.scores, 5e-4, `${kind} scores`);
    }
    model.dispose();
  }
});

Deno.test("TeD-Loc: predictable parameter names, counts, shapes of every variant; config errors", async () => {
  await initBackend("cpu");
  const an = anchorSpace(3, 4);
  const mlp = resolveTedLocConfig(6, 4, 3, { decoder: { hidden: 8, residual: true } });
  assertEquals(tedLocParamShapes(mlp).map(([n]) => n), [
    "decoder.fc1.weight",
    "decoder.fc1.bias",
    "decoder.fc2.weight",
    "decoder.fc2.bias",
    "decoder.skip.weight",
    "g.weight",
    "g.bias",
  ]);
  const m = new TedLocModel(mlp, an);
  assertEquals(m.parameterCount(), 6 * 8 + 8 + 8 * 4 + 4 + 6 * 4 + 4 + 1);
  m.dispose();
  for (
    const opts of [
      { decoder: { kind: "linear" as const } },
      {
        decoder: { kind: "mlp" as const, layerNorm: false, activation: "relu" as const },
        classifier: { kind: "mlp" as const, hidden: 3 },
      },
      { decoder: { kind: "transformer" as const, heads: 4, hidden: 8 }, cosine: false },
    ]
  ) {
    const model = new TedLocModel(resolveTedLocConfig(6, 4, 3, opts), an);
    const [mp, sc] = tf.tidy(() => {
      const o = model.forward(tf.tensor3d(tokensOf(2, 5, 6, 1), [2, 5, 6]));
      return [o.map.dataSync(), o.scores.shape];
    });
    assert(
      mp.length === 10 && mp.every((v) => v > 0 && v < 1),
      `map in (0,1) for ${JSON.stringify(opts)}`,
    );
    assertEquals(sc, [2, 3]);
    model.dispose();
  }
  await assertRejects(
    () => resolveTedLocConfig(6, 5, 3, { decoder: { kind: "transformer", heads: 2 } }),
    "not divisible",
  );
  await assertRejects(() => resolveTedLocConfig(6, 4, 3, { temperature: 0 }), "temperature");
  await assertRejects(() => new TedLocModel(resolveTedLocConfig(6, 4, 5), an), "anchors are 3×4");
});

Deno.test("TeD-Loc pooling: a uniform map pools the mean; a one-hot map picks its patch", async () => {
  await initBackend("cpu");
  const model = new TedLocModel(resolveTedLocConfig(2, 2, 2, { poolEps: 0 }), anchorSpace(2, 2));
  const z = tf.tensor3d([1, 2, 3, 4, 5, 9], [1, 3, 2]);
  assertArrayClose(
    tf.tidy(() => model.pool(z, tf.tensor2d([[0.5, 0.5, 0.5]])).dataSync()),
    [3, 5],
    1e-6,
  );
  assertArrayClose(tf.tidy(() => model.pool(z, tf.tensor2d([[0, 1, 0]])).dataSync()), [3, 4], 1e-6);
  model.dispose();
  z.dispose();
});

Deno.test("tedLocFlops matches a hand count", () => {
  // N=4, din=3, hidden=5, d=2, C=3, mlp decoder, linear g:
  // fc1 2·4·3·5=120, fc2 2·4·5·2=80, g 2·4·2=16, pool 2·4·2=16, scores 2·3·2=12 → 244
  assertEquals(tedLocFlops(resolveTedLocConfig(3, 2, 3, { decoder: { hidden: 5 } }), 4), 244);
  // transformer, N=2, din=3, d=2, hidden=4, C=1, mlp g hidden 3:
  // proj 24, qkv 2·2·2·6=48, attn 2·2·2·2·2=32, proj 16, mlp 2·2·2·4·2=64, g 2·2·2·3+2·2·3=36, pool 8, scores 4 → 232
  assertEquals(
    tedLocFlops(
      resolveTedLocConfig(3, 2, 1, {
        decoder: { kind: "transformer", hidden: 4, heads: 1 },
        classifier: { kind: "mlp", hidden: 3 },
      }),
      2,
    ),
    232,
  );
});
