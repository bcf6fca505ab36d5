import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../assert.ts";
import { initBackend, readFloat32, readTensors } from "../../lib/backend/mod.ts";

Deno.test("readTensors: float32, int32 and bool tensors back in order, as float32, one read", async () => {
  await initBackend("cpu");
  const a = tf.tensor2d([[1.5, -2], [3, 4.25]]);
  const b = tf.tensor1d([7, -3, 16777215], "int32");
  const c = tf.tensor1d([true, false, true], "bool");
  const before = tf.memory().numTensors;
  const engine = tf.engine() as unknown as { read(id: object): Promise<unknown> };
  const read = engine.read;
  let reads = 0;
  engine.read = (id) => (reads++, read.call(engine, id));
  const [x, y, z] = await readTensors([a, b, c]).finally(() => (engine.read = read));
  assertEquals(reads, 1, "one device→host read for three tensors");
  assertEquals([...x], [1.5, -2, 3, 4.25]);
  assertEquals([...y], [7, -3, 16777215]);
  assertEquals([...z], [1, 0, 1]);
  assert(x instanceof Float32Array && y instanceof Float32Array, "float32 copies");
  assertEquals(tf.memory().numTensors, before, "inputs kept, nothing leaked");
  assertEquals(await readTensors([]), []);
  tf.dispose([a, b, c]);
});

Deno.test("readTensors/readFloat32: dispose frees the inputs; the result is the caller's copy", async () => {
  await initBackend("cpu");
  const before = tf.memory().numTensors;
  const a = tf.fill([3], 2), b = tf.zeros([2, 2]);
  const [x] = await readTensors([a, b], { dispose: true });
  assertEquals(tf.memory().numTensors, before);
  assertEquals(a.isDisposed && b.isDisposed, true);
  x[0] = 9; // a copy: writing it touches no tensor
  const t = tf.ones([4]);
  const v = await readFloat32(t);
  v[0] = 5;
  assertEquals([...(await t.data())], [1, 1, 1, 1]);
  t.dispose();
  assertEquals([...(await readFloat32(tf.ones([2]), { dispose: true }))], [1, 1]);
  assertEquals(tf.memory().numTensors, before);
});
