/**
 * The frozen-encoder hot path: the vendored MobileNet v1 0.25 to conv_pw_11 on a batch of 8,
 * tfjs's LayersModel.predict vs the BatchNorm-folded fused op chain (wasm, one thread).
 * Run: deno bench -A bench/encoder_bench.ts
 * (Real-image, end-to-end and 2-worker figures: deno run -A bench/extract_speed.ts)
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, readFloat32 } from "../lib/backend/mod.ts";
import { defaultEncoder } from "../lib/model/mod.ts";

await initBackend("wasm");
const images = tf.randomUniform([8, 224, 224, 3], 0, 255, "float32", 1) as tf.Tensor4D;
const folded = await defaultEncoder();
const layers = await defaultEncoder({ mode: "layers" });

Deno.bench(
  "MobileNet 0.25 → conv_pw_11, LayersModel.predict, batch 8",
  { group: "encode" },
  async () => {
    await readFloat32(layers.encode(images), { dispose: true });
  },
);
Deno.bench(
  "MobileNet 0.25 → conv_pw_11, folded chain, batch 8",
  { group: "encode", baseline: true },
  async () => {
    await readFloat32(folded.encode(images), { dispose: true });
  },
);
