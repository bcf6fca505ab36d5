import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { CamHead, tedLocHead, VanillaSimilarityHead } from "../../lib/model/baselines.ts";
import { resolveTedLocConfig, tedLocFlops, TedLocModel } from "../../lib/model/tedloc.ts";

Deno.test("CAM head: scores = GAP·W + b, map = per-patch score of the predicted class, true-class maps", async () => {
  await initBackend("cpu");
  const cam = new CamHead(2, 3);
  const W = [1, 0, -1, 0, 1, 2]; // [2,3]
  cam.setWeights({
    "cam.weight": { shape: [2, 3], data: new Float32Array(W) },
    "cam.bias": { shape: [3], data: new Float32Array([0, 0.5, 0]) },
  });
  const x = [[1, 0], [0, 1], [2, 2]]; // N=3 patches
  const patch = x.map((
    [a, b],
  ) => [a * W[0] + b * W[3], a * W[1] + b * W[4] + 0.5, a * W[2] + b * W[5]]);
  const mean = [0, 1, 2].map((k) => (patch[0][k] + patch[1][k] + patch[2][k]) / 3);
  const pred = mean.indexOf(Math.max(...mean));
  const other = pred === 0 ? 1 : 0;
  const [scores, maps, trueMaps, givenMaps] = tf.tidy(() => {
    const t = tf.tensor3d(x.flat(), [1, 3, 2]);
    const p = cam.predict(t);
    return [
      p.scores.dataSync(),
      p.maps.dataSync(),
      cam.classMaps(t, [0]).dataSync(),
      cam.predict(t, [other]).maps.dataSync(),
    ];
  });
  assertArrayClose(scores, mean, 1e-6);
  assertArrayClose(maps, patch.map((r) => r[pred]), 1e-6);
  assertArrayClose(trueMaps, patch.map((r) => r[0]), 1e-6);
  // the wsolevaluation protocol: the map of the given (ground-truth) class, not the predicted
  assertArrayClose(givenMaps, patch.map((r) => r[other]), 1e-6);
  assertEquals(cam.parameterCount(), 2 * 3 + 3);
  // GAP 3·2=6, classifier 2·2·3=12, one CAM 2·3·2=12
  assertEquals(cam.flops(3), 30);
  cam.dispose();
});

Deno.test("vanilla similarity: identity projection, map peaks where a token equals the predicted anchor", async () => {
  await initBackend("cpu");
  const an = {
    classNames: ["a", "b"],
    vectors: new Float32Array([1, 0, 0, 0, 1, 0]),
    count: 2,
    dim: 3,
    rawDim: 3,
    ortho: "none" as const,
    source: "t",
  };
  const head = new VanillaSimilarityHead(3, an);
  const [scores, map] = tf.tidy(() => {
    const p = head.predict(tf.tensor3d([0, 0.2, 1, 0, 3, 0, 0.1, 0.1, 0], [1, 3, 3]));
    return [p.scores.dataSync(), p.maps.dataSync()];
  });
  assert(scores[1] > scores[0], "class b predicted");
  assertArrayClose(map, [0.2 / Math.hypot(0.2, 1), 1, Math.SQRT1_2], 1e-6);
  assertEquals(head.parameterCount(), 6); // anchors only: identity projection
  const projected = new VanillaSimilarityHead(5, an, 1);
  assertEquals(projected.parameterCount(), 5 * 3 + 6);
  // N=3: projection 2·3·5·3=90, patch cosines 2·3·3·2=36, mean pool 3·3=9, pooled scores 2·3·2=12
  assertEquals(projected.flops(3), 147);
  assertEquals(head.flops(3), 36 + 9 + 12);
  head.dispose();
  projected.dispose();
});

Deno.test("tedLocHead: the model as a LocalizationHead (map = M, params include anchors)", async () => {
  await initBackend("cpu");
  const an = {
    classNames: ["a", "b"],
    vectors: new Float32Array([1, 0, 0, 1]),
    count: 2,
    dim: 2,
    rawDim: 2,
    ortho: "none" as const,
    source: "t",
  };
  const model = new TedLocModel(resolveTedLocConfig(3, 2, 2), an);
  const head = tedLocHead(model);
  const x = tf.tensor3d(new Float32Array(12).map((_, i) => Math.sin(i)), [2, 2, 3]);
  const [m1, m2] = tf.tidy(
    () => [head.predict(x).maps.dataSync(), model.forward(x).map.dataSync()],
  );
  assertArrayClose(m1, m2, 0);
  assertEquals(head.parameterCount(), model.parameterCount() + 4);
  assertEquals(head.flops(2), tedLocFlops(model.config, 2));
  x.dispose();
  head.dispose();
});
