/**
 * Child of wasm_threads_test.ts: starts wasm with `$TEDLOC_WASM_THREADS`, prints the XNNPACK
 * thread count and a conv's output checksum as JSON, and must exit by itself.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { initBackend, readFloat32 } from "../../lib/backend/mod.ts";

await initBackend("wasm");
const x = tf.randomUniform([4, 56, 56, 32], -1, 1, "float32", 3) as tf.Tensor4D;
const w = tf.randomUniform([3, 3, 32, 64], -1, 1, "float32", 4) as tf.Tensor4D;
const y = await readFloat32(tf.relu6(tf.conv2d(x, w, 1, "same")), { dispose: true });
let sum = 0;
for (let i = 0; i < y.length; i++) sum += y[i] * ((i % 7) + 1);
console.log(JSON.stringify({ threads: getThreadsCount(), sum, first: Array.from(y.slice(0, 8)) }));
