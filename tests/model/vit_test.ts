import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { inferVitConfig, resizePosGridBicubic, VitEncoder } from "../../lib/model/vit.ts";

const FIX = new URL("../fixtures/vit/", import.meta.url).pathname;

async function npyTensor4(name: string): Promise<tf.Tensor4D> {
  const a = await readNpy(FIX + name);
  return tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
}

async function agreement(size: number) {
  const vit = await VitEncoder.load(FIX + "tiny_vit.safetensors", { inputSize: size });
  const images = await npyTensor4(`images${size}.npy`);
  const { tokens, attention } = vit.forward(images);
  const refTokens = await readNpy(FIX + `tokens${size}.npy`);
  const refAttn = await readNpy(FIX + `attn${size}.npy`);
  assertEquals(tokens.shape, refTokens.shape);
  assertEquals(attention.shape, refAttn.shape);
  const t = tokens.dataSync(), a = attention.dataSync();
  const rt = refTokens.data as Float32Array, ra = refAttn.data as Float32Array;
  assertArrayClose(t, rt, 1e-4, `tokens @${size}`);
  assertArrayClose(a, ra, 1e-4, `attention @${size}`);
  let dt = 0, da = 0;
  for (let i = 0; i < t.length; i++) dt = Math.max(dt, Math.abs(t[i] - rt[i]));
  for (let i = 0; i < a.length; i++) da = Math.max(da, Math.abs(a[i] - ra[i]));
  tf.dispose([images, tokens, attention]);
  vit.dispose();
  return { dt, da };
}

Deno.test("ViT: tokens and CLS attention equal the PyTorch reference (tiny timm-style ViT)", async () => {
  await initBackend("wasm");
  const n0 = tf.memory().numTensors;
  const r = await agreement(32);
  console.log(`  max |Δ| tokens ${r.dt.toExponential(2)}, attention ${r.da.toExponential(2)}`);
  assertEquals(tf.memory().numTensors, n0, "no tensor leak");
});

Deno.test("ViT: pos_embed bicubic-interpolated to a larger grid equals the PyTorch reference", async () => {
  await initBackend("wasm");
  const r = await agreement(40);
  console.log(`  max |Δ| tokens ${r.dt.toExponential(2)}, attention ${r.da.toExponential(2)}`);
});

Deno.test("ViT: config inferred from shapes and metadata; geometry and parameter count", async () => {
  await initBackend("wasm");
  const file = await readSafetensors(FIX + "tiny_vit.safetensors");
  const c = inferVitConfig(file.tensors, file.metadata);
  assertEquals(c, {
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    patchSize: 8,
    mlpHidden: 64,
    posGrid: [4, 4],
    clsPos: true,
    qkvBias: true,
  });
  // Without metadata, heads default to D/64, which 32 does not allow.
  await assertRejects(() => inferVitConfig(file.tensors, {}), "num_heads", "not a multiple of 64");
  assertEquals(inferVitConfig(file.tensors, {}, { numHeads: 4 }).numHeads, 4);
  const vit = VitEncoder.fromSafetensors(file, { inputSize: 32 });
  assertEquals([vit.grid, vit.dim, vit.stride, vit.cellOffset], [[4, 4], 32, 8, 4]);
  let total = 0;
  for (const t of file.tensors.values()) total += t.shape.reduce((a, b) => a * b, 1);
  assertEquals(vit.parameterCount(), total);
  vit.dispose();
});

Deno.test("ViT: unexpected, missing and mis-shaped keys are listed", async () => {
  await initBackend("wasm");
  const file = await readSafetensors(FIX + "tiny_vit.safetensors");
  const bad = new Map(file.tensors);
  bad.delete("blocks.1.mlp.fc2.bias");
  bad.set("blocks.0.ls1.gamma", { dtype: "F32", shape: [32], data: new Float32Array(32) });
  bad.set("blocks.0.norm2.weight", { dtype: "F32", shape: [31], data: new Float32Array(31) });
  await assertRejects(
    () => VitEncoder.fromSafetensors({ tensors: bad, metadata: file.metadata }, { inputSize: 32 }),
    "missing keys: blocks.1.mlp.fc2.bias",
    "unexpected keys: blocks.0.ls1.gamma",
    "blocks.0.norm2.weight [31] (expected [32])",
  );
  // A classifier head is ignored; a prefix can be stripped.
  const withHead = new Map<string, { dtype: "F32"; shape: number[]; data: Float32Array }>();
  for (const [k, v] of file.tensors) {
    withHead.set("module." + k, { dtype: "F32", shape: v.shape, data: v.data as Float32Array });
  }
  withHead.set("module.head.weight", {
    dtype: "F32",
    shape: [10, 32],
    data: new Float32Array(320),
  });
  const tmp = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await writeSafetensors(tmp, Object.fromEntries(withHead), file.metadata);
    const vit = await VitEncoder.load(tmp, { inputSize: 32, stripPrefix: "module." });
    assert(vit.spec?.path === tmp);
    vit.dispose();
    await assertRejects(
      () => VitEncoder.load(tmp, { inputSize: 32 }),
      "missing 'patch_embed.proj.weight'",
      "stripPrefix 'module.'",
    );
  } finally {
    await Deno.remove(tmp);
  }
  await assertRejects(
    () => VitEncoder.fromSafetensors(file, { inputSize: 30 }),
    "multiple of the patch",
  );
});

Deno.test("ViT: bicubic pos-grid resize keeps constants and is the identity at equal size", () => {
  const g = new Float32Array(3 * 3 * 2).map((_, i) => (i % 2 === 0 ? 1.5 : Math.sin(i)));
  const same = resizePosGridBicubic(g, [3, 3], [3, 3], 2);
  assertArrayClose(same, g, 1e-6);
  const up = resizePosGridBicubic(g, [3, 3], [5, 5], 2);
  for (let i = 0; i < 25; i++) assertArrayClose([up[2 * i]], [1.5], 1e-6);
});
