import * as tf from "@tensorflow/tfjs";
import { initBackend, readFloat32 } from "./lib/backend/mod.ts";
import { defaultEncoder } from "./lib/model/mobilenet.ts";
await initBackend(Deno.args[0] as "wasm");
const enc = await defaultEncoder();
for (const B of [8, 32]) {
  const x = tf.randomUniform([B, 224, 224, 3], 0, 255, "float32", 1) as tf.Tensor4D;
  await readFloat32(enc.encode(x), { dispose: true });
  const t0 = performance.now();
  for (let i = 0; i < 2; i++) await readFloat32(enc.encode(x), { dispose: true });
  console.log(Deno.args[0], Deno.env.get("DENO_WEBGPU_BACKEND") ?? "", `B=${B}`, ((2 * B) / ((performance.now() - t0) / 1000)).toFixed(1), "img/s");
  x.dispose();
}
