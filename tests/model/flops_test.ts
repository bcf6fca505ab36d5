/**
 * Analytic FLOPs (lib/model/flops.ts) against hand computations and published values:
 * MobileNet v1 (Howard et al. 2017, Table 6/7: 569 M mult-adds at 1.0/224, 41 M at 0.25/224),
 * ViT-B/16 and DeiT-S (17.6 G and 4.6 G MACs as timm/fvcore list them).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { camHeadFlops, layersModelCost, vanillaHeadFlops, vitCost } from "../../lib/model/flops.ts";
import { CamHead, VanillaSimilarityHead } from "../../lib/model/baselines.ts";
import { DEFAULT_MOBILENET_DIR } from "../../lib/model/mobilenet.ts";
import { loadLayersModelFromDir } from "../../lib/io/tfjs_model.ts";
import { initBackend } from "../../lib/backend/backend.ts";

await initBackend("cpu");

/** MobileNet v1 with width multiplier `alpha` (Keras layout, classifier as a 1×1 conv). */
function mobileNetV1(alpha: number): tf.Sequential {
  const m = tf.sequential();
  const c = (n: number) => Math.round(n * alpha);
  m.add(tf.layers.conv2d({
    inputShape: [224, 224, 3],
    filters: c(32),
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
  }));
  const blocks: [number, number][] = [
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
    [256, 1],
    [512, 2],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [1024, 2],
    [1024, 1],
  ];
  for (const [f, s] of blocks) {
    m.add(
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: s, padding: "same", useBias: false }),
    );
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.reLU({ maxValue: 6 }));
    m.add(tf.layers.conv2d({ filters: c(f), kernelSize: 1, padding: "same", useBias: false }));
  }
  m.add(tf.layers.globalAveragePooling2d({}));
  m.add(tf.layers.reshape({ targetShape: [1, 1, c(1024)] }));
  m.add(tf.layers.conv2d({ filters: 1000, kernelSize: 1, name: "conv_preds" }));
  return m;
}

Deno.test("flops: hand-computed conv, depthwise and dense layers", () => {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [8, 8, 3],
      filters: 4,
      kernelSize: 3,
      padding: "same",
      name: "c1",
    }),
  );
  m.add(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", name: "dw" }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ units: 10, name: "fc" }));
  const cost = layersModelCost(m);
  assertEquals(cost.layers.map((l) => [l.layer, l.macs]), [
    ["c1", 8 * 8 * 4 * 9 * 3],
    ["dw", 4 * 4 * 4 * 9],
    ["fc", 64 * 10],
  ]);
  assertEquals(cost.flops, 2 * (6912 + 576 + 640));
  assertEquals(layersModelCost(m, "dw").macs, 6912 + 576);
  let msg = "";
  try {
    layersModelCost(m, "nope");
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("nope") && msg.includes("c1"), msg);
  m.dispose();
});

Deno.test("flops: MobileNet v1 1.0/224 ≈ 569 M mult-adds, 0.25 ≈ 41 M (published)", () => {
  const full = mobileNetV1(1);
  assertAlmostEquals(layersModelCost(full).macs / 1e6, 569, 569 * 0.01);
  full.dispose();
  const quarter = mobileNetV1(0.25);
  assertAlmostEquals(layersModelCost(quarter).macs / 1e6, 41, 41 * 0.03);
  quarter.dispose();
});

Deno.test("flops: the vendored MobileNet v1 0.25 model, whole and up to conv_pw_11_relu", async () => {
  const net = await loadLayersModelFromDir(DEFAULT_MOBILENET_DIR);
  try {
    const whole = layersModelCost(net);
    assertAlmostEquals(whole.macs / 1e6, 41, 41 * 0.03);
    const tap = layersModelCost(net, "conv_pw_11_relu");
    const mine = mobileNetV1(0.25);
    // same architecture up to the 11th depthwise/pointwise pair (conv_pw_11)
    const names = mine.layers.map((l) => l.name);
    const ref = layersModelCost(mine, names[1 + 10 * 4 + 3]);
    mine.dispose();
    assertEquals(tap.macs, ref.macs);
    assert(tap.macs < whole.macs, "a prefix costs less than the whole network");
    assertEquals(tap.layers[tap.layers.length - 1].outputShape, [14, 14, 128]);
  } finally {
    net.dispose();
  }
});

Deno.test("flops: ViT-B/16 ≈ 17.6 G and DeiT-S/16 ≈ 4.6 G MACs at 224 (timm)", () => {
  const base = { depth: 12, patchSize: 16 };
  const b16 = vitCost({ ...base, embedDim: 768, mlpHidden: 3072 });
  assertAlmostEquals(b16.macs / 1e9, 17.58, 0.05);
  assertEquals(b16.layers.length, 13);
  const s16 = vitCost({ ...base, embedDim: 384, mlpHidden: 1536 });
  assertAlmostEquals(s16.macs / 1e9, 4.6, 0.05);
  // hand count of one tiny block: T = 4 + 1 tokens, D = 2, H = 4, patch 2 on a 4×4 input
  const tiny = vitCost({ depth: 1, patchSize: 2, embedDim: 2, mlpHidden: 4 }, { inputSize: 4 });
  assertEquals(tiny.macs, 4 * 2 * 2 * 3 * 2 + (5 * 2 * 6 + 2 * 25 * 2 + 5 * 2 * 2 + 2 * 5 * 2 * 4));
  assertEquals(tiny.flops, 2 * tiny.macs);
});

Deno.test("flops: CAM and vanilla head counts equal the heads' own flops()", () => {
  const cam = new CamHead(128, 50, 0);
  assertEquals(camHeadFlops(128, 50, 196), cam.flops(196));
  cam.dispose();
  const space = { vectors: new Float32Array(50 * 64).fill(0.125), count: 50, dim: 64 };
  const van = new VanillaSimilarityHead(128, space as never, 0);
  assertEquals(vanillaHeadFlops(128, 64, 50, 196), van.flops(196));
  van.dispose();
});

Deno.test("flops: a bad patch size is an input error", async () => {
  await assertRejects(
    () =>
      Promise.resolve().then(() =>
        vitCost({ depth: 1, patchSize: 16, embedDim: 8, mlpHidden: 8 }, { inputSize: 100 })
      ),
  );
});
