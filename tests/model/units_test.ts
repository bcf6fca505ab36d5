import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { Rng } from "../../lib/util/rng.ts";
import {
  Attention,
  Block,
  initialParam,
  LayerNorm,
  Linear,
  Mlp,
  type ParamLookup,
  readNamed,
} from "../../lib/model/units.ts";
import { buildDecoder, PatchClassifier, resolveTedLocConfig } from "../../lib/model/tedloc.ts";

const shapes = (u: { params: readonly { name: string; shape: number[] }[] }) =>
  u.params.map((p) => [p.name, p.shape]);

Deno.test("units: Linear owns weight [in,out] + bias; params and FLOPs by hand; x·W + b", async () => {
  await initBackend("cpu");
  const fc = new Linear("fc", 3, 5);
  assertEquals(shapes(fc), [["fc.weight", [3, 5]], ["fc.bias", [5]]]);
  assertEquals(fc.paramCount(), 3 * 5 + 5);
  assertEquals(fc.flops(4), 120); // 2 · 4 rows · 3 · 5
  const skip = new Linear("skip", 3, 2, { bias: false });
  assertEquals(shapes(skip), [["skip.weight", [3, 2]]]);
  assertEquals(skip.paramCount(), 6);
  assertEquals(skip.flops(1), 12);
  await assertRejects(
    () => new Linear("x", 2, 2, { bias: false, constInput: true }),
    "needs a bias",
  );
  // forward: [1,2,3] · W + b by hand; the const-input path gives the same value and weight gradient
  const W = tf.tensor2d([[1, 0], [0, 1], [1, 1]]), b = tf.tensor1d([0.5, -1]);
  const p: ParamLookup = (n) => (n.endsWith("weight") ? W : b);
  const x = tf.tensor3d([[[1, 2, 3]]]);
  const lin = new Linear("l", 3, 2), linC = new Linear("l", 3, 2, { constInput: true });
  assertArrayClose(await lin.apply(x, p).data(), [4.5, 4], 0);
  assertArrayClose(await linC.apply(x, p).data(), [4.5, 4], 0);
  const gradW = (u: Linear) =>
    tf.grad((w: tf.Tensor) => tf.sum(tf.square(u.apply(x, (n) => (n.endsWith("weight") ? w : b)))))(
      W,
    );
  assertArrayClose(await gradW(linC).data(), await gradW(lin).data(), 1e-6);
  tf.dispose([W, b, x]);
});

Deno.test("units: LayerNorm (ones/zeros, no FLOPs), Mlp, Attention and Block: params and FLOPs by hand", async () => {
  const ln = new LayerNorm("n", 4);
  assertEquals(ln.params.map((s) => s.init), ["ones", "zeros"]);
  assertEquals([ln.paramCount(), ln.flops(10)], [8, 0]);

  const mlp = new Mlp("g", 4, 3, 1, "relu");
  assertEquals(shapes(mlp).map(([n]) => n), [
    "g.fc1.weight",
    "g.fc1.bias",
    "g.fc2.weight",
    "g.fc2.bias",
  ]);
  assertEquals(mlp.paramCount(), 4 * 3 + 3 + 3 * 1 + 1);
  assertEquals(mlp.flops(5), 2 * 5 * (4 * 3 + 3 * 1));

  const att = new Attention("a", 4, 2);
  assertEquals(att.paramCount(), 4 * 12 + 12 + 4 * 4 + 4);
  // N = 3, d = 4: qkv 2·3·4·12 = 288, q·kᵀ and att·v 2·2·3·3·4 = 144, proj 2·3·4·4 = 96
  assertEquals(att.flops(3), 288 + 144 + 96);
  await assertRejects(() => new Attention("a", 5, 2), "not divisible by 2 heads");

  const block = new Block("blk", 4, 6, 2, "gelu");
  assertEquals(shapes(block).map(([n]) => n), [
    "blk.norm1.weight",
    "blk.norm1.bias",
    "blk.attn.qkv.weight",
    "blk.attn.qkv.bias",
    "blk.attn.proj.weight",
    "blk.attn.proj.bias",
    "blk.norm2.weight",
    "blk.norm2.bias",
    "blk.mlp.fc1.weight",
    "blk.mlp.fc1.bias",
    "blk.mlp.fc2.weight",
    "blk.mlp.fc2.bias",
  ]);
  assertEquals(block.paramCount(), 8 + 60 + 20 + 8 + 30 + 28);
  // attention 528 + mlp 2·3·4·6·2 = 288
  assertEquals(block.flops(3), 528 + 288);
});

Deno.test("units: TeD-Loc's D and g are units whose counts add up to the model's", () => {
  const mlp = resolveTedLocConfig(6, 4, 3, { decoder: { hidden: 8, residual: true } });
  const D = buildDecoder(mlp), g = new PatchClassifier(mlp);
  assertEquals(D.paramCount(), 6 * 8 + 8 + 8 * 4 + 4 + 6 * 4); // fc1, fc2, skip (no bias)
  assertEquals(D.flops(5), 2 * 5 * (6 * 8 + 8 * 4 + 6 * 4));
  assertEquals([g.paramCount(), g.flops(5)], [4 + 1, 2 * 5 * 4]);
  const tr = resolveTedLocConfig(6, 4, 3, {
    decoder: { kind: "transformer", hidden: 6, heads: 2 },
    classifier: { kind: "mlp", hidden: 3 },
  });
  assertEquals(buildDecoder(tr).paramCount(), 6 * 4 + 4 + 154);
  assertEquals(buildDecoder(tr).flops(3), 2 * 3 * 6 * 4 + 816);
  assertEquals(new PatchClassifier(tr).paramCount(), 4 * 3 + 3 + 3 + 1);
});

Deno.test("units: initialParam draws ±1/√fan_in from the seed, zeros and ones; readNamed reads all", async () => {
  await initBackend("cpu");
  const spec = { name: "w", shape: [16, 3], init: "fanIn" as const };
  const a = initialParam(spec, new Rng(4)), b = initialParam(spec, new Rng(4));
  assertArrayClose(a, b, 0);
  assert(a.every((v) => Math.abs(v) <= 0.25) && a.some((v) => Math.abs(v) > 0.1));
  assert(initialParam({ ...spec, init: "zeros" }, new Rng(4)).every((v) => v === 0));
  assert(initialParam({ ...spec, init: "ones" }, new Rng(4)).every((v) => v === 1));
  const t = tf.tensor2d(a, [16, 3]);
  const w = await readNamed(new Map([["w", t]]));
  assertEquals(w.w.shape, [16, 3]);
  assertArrayClose(w.w.data, a, 0);
  t.dispose();
});
