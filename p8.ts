import * as tf from "@tensorflow/tfjs";
import { initBackend, readTensors } from "./lib/backend/mod.ts";
await initBackend("webgpu");
const shapes: [number[], number[]][] = [[[6272, 128], [128, 256]], [[128, 6272], [6272, 256]], [[6272, 1], [1, 128]]];
for (const type of [-1, 0, 1, 2, 3]) {
  tf.env().set("WEBGPU_MATMUL_PROGRAM_TYPE", type);
  const row: string[] = [];
  for (const [sa, sb] of shapes) {
    const a = tf.randomNormal(sa), b = tf.randomNormal(sb);
    try {
      await readTensors([tf.matMul(a, b)], { dispose: true });
      const t0 = performance.now();
      await readTensors([tf.matMul(a, b)], { dispose: true });
      row.push(`${sa}x${sb}: ${(performance.now() - t0).toFixed(0)}ms`);
    } catch (e) { row.push(`${sa}x${sb}: err ${(e as Error).message.slice(0, 40)}`); }
    tf.dispose([a, b]);
  }
  console.log(type, row.join(" | "));
}
