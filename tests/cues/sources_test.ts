import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { writeNpy } from "../../lib/io/npy.ts";
import { InputError } from "../../lib/io/errors.ts";
import { CamHead } from "../../lib/model/baselines.ts";
import type { FeatureSet, PatchEncoder } from "../../lib/model/encoder.ts";
import {
  attentionCueSource,
  camCueSource,
  centerPriorCueSource,
  combineCueSets,
  combinedCueSource,
  fileCueSource,
  headCueSource,
  normalizeCueMap,
  pcaCueSource,
  resampleCueMap,
  staticCueSource,
} from "../../lib/cues/sources.ts";

Deno.test("resampleCueMap: identity, area mean when shrinking, bilinear (half-pixel) when enlarging", () => {
  const m = Float32Array.from({ length: 16 }, (_, i) => i);
  assertArrayClose(resampleCueMap(m, 4, 4, 4, 4), m, 0);
  // 2×2 block means of the 4×4 ramp
  assertArrayClose(resampleCueMap(m, 4, 4, 2, 2), [2.5, 4.5, 10.5, 12.5], 1e-6);
  // 1×2 → 1×4: centres at -0.25, 0.25, 0.75, 1.25 source px → clamp, lerp
  assertArrayClose(resampleCueMap([0, 4], 1, 2, 1, 4), [0, 1, 3, 4], 1e-6);
  // 3 → 2 area: [0,1.5) and [1.5,3)
  assertArrayClose(resampleCueMap([0, 3, 6], 1, 3, 1, 2), [1, 5], 1e-6);
});

Deno.test("normalizeCueMap: min-max to [0,1]; constant or NaN maps become zeros", () => {
  assertArrayClose(normalizeCueMap(new Float32Array([2, 4, 3])), [0, 1, 0.5], 1e-7);
  assertArrayClose(normalizeCueMap(new Float32Array([5, 5])), [0, 0], 0);
  assertArrayClose(normalizeCueMap(new Float32Array([1, NaN])), [0, 0], 0);
});

Deno.test("fileCueSource: <dir>/<imageId>.npy of any grid, resampled and normalised; bad files named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeNpy(
      join(dir, "cls_a/img1.jpg.npy"),
      Float32Array.from({ length: 16 }, (_, i) => i),
      [4, 4],
    );
    await writeNpy(join(dir, "img2.jpg.npy"), new Float64Array([1, 0, 0, 3]), [1, 2, 2]);
    const src = fileCueSource(dir);
    const set = await src.produce({ ids: ["cls_a/img1.jpg", "img2.jpg"], grid: [2, 2] });
    assertEquals(set.grid, [2, 2]);
    assertArrayClose(set.maps, [0, 0.2, 0.8, 1, 1 / 3, 0, 0, 1], 1e-6);
    const e = await assertRejects(
      () => src.produce({ ids: ["missing.jpg"], grid: [2, 2] }),
      "missing.jpg.npy",
      "cue map for 'missing.jpg'",
    );
    assert(e instanceof InputError);
    await writeNpy(join(dir, "bad.npy"), new Float32Array(8), [2, 2, 2]);
    await assertRejects(() => src.produce({ ids: ["bad"], grid: [2, 2] }), "bad.npy", "2-D");
    await writeNpy(join(dir, "nan.npy"), new Float32Array([0, NaN, 1, 1]), [2, 2]);
    await assertRejects(() => src.produce({ ids: ["nan"], grid: [2, 2] }), "nan.npy", "non-finite");
    await Deno.writeTextFile(join(dir, "junk.npy"), "not numpy");
    await assertRejects(
      () => src.produce({ ids: ["junk"], grid: [2, 2] }),
      "junk.npy",
      "not a valid .npy",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("combineCueSets: product / mean / min aligned by id, renormalised", async () => {
  const a = {
    source: "a",
    ids: ["x", "y"],
    grid: [1, 3] as [number, number],
    maps: new Float32Array([0, 0.5, 1, 1, 0, 0.5]),
  };
  const b = {
    source: "b",
    ids: ["y", "x"],
    grid: [1, 3] as [number, number],
    maps: new Float32Array([1, 1, 0, 0, 1, 1]),
  };
  const p = combineCueSets([a, b], "product");
  assertEquals(p.ids, ["x", "y"]);
  assertArrayClose(p.maps, [0, 0.5, 1, 1, 0, 0], 1e-7);
  // mean: x = [0, .75, 1]; y = [1, .5, .25] → min-max [1, 1/3, 0]
  assertArrayClose(combineCueSets([a, b], "mean").maps, [0, 0.75, 1, 1, 1 / 3, 0], 1e-6);
  assertArrayClose(combineCueSets([a, b], "min").maps, [0, 0.5, 1, 1, 0, 0], 1e-7);
  assertEquals(p.source, "product(a,b)");
  const viaSources = await combinedCueSource([staticCueSource(a), staticCueSource(b)], "mean")
    .produce({ ids: ["y"], grid: [1, 3] });
  assertArrayClose(viaSources.maps, [1, 1 / 3, 0], 1e-6);
  await assertRejects(
    () => staticCueSource(a).produce({ ids: ["z"], grid: [1, 3] }),
    "no map for image 'z'",
  );
});

Deno.test("camCueSource: normalised CAM of each image's true class from the plain view", async () => {
  await initBackend("cpu");
  const cam = new CamHead(2, 2);
  cam.setWeights({
    "cam.weight": { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) },
    "cam.bias": { shape: [2], data: new Float32Array(2) },
  });
  // 2 images, N=3 tokens of dim 2; view 0 = "flip" (ignored), view 1 = "test"
  const test = [[1, 0], [0, 2], [3, 1], /* img b */ [0, 1], [2, 0], [1, 1]].flat();
  const features: FeatureSet = {
    encoderId: "t",
    ids: ["a", "b"],
    grid: [1, 3],
    dim: 2,
    stride: 16,
    cellOffset: 8,
    views: ["flip", "test"],
    tokens: new Float32Array([...new Array(12).fill(9), ...test]),
  };
  const set = await camCueSource(cam).produce({
    ids: ["b", "a"],
    grid: [1, 3],
    labels: [1, 0],
    features,
  });
  // b with class 1: second coordinate [1,0,1] → [1,0,1]; a with class 0: first coordinate [1,0,3] → [1/3,0,1]
  assertArrayClose(set.maps, [1, 0, 1, 1 / 3, 0, 1], 1e-6);
  cam.dispose();
});

Deno.test("attentionCueSource: CLS attention resampled to the grid; encoders without it are refused", async () => {
  await initBackend("cpu");
  const fake = {
    id: "fake-vit",
    inputSize: 4,
    grid: [2, 2],
    dim: 1,
    stride: 2,
    cellOffset: 1,
    encode: (x: tf.Tensor4D) => tf.zeros([x.shape[0], 4, 1]) as tf.Tensor3D,
    clsAttention: (x: tf.Tensor4D) =>
      tf.tile(tf.tensor2d([[0.1, 0.2, 0.3, 0.6]]), [x.shape[0], 1]) as tf.Tensor2D,
    parameterCount: () => 0,
    dispose: () => {},
  } as PatchEncoder;
  const load = (ids: string[]) => Promise.resolve(tf.zeros([ids.length, 4, 4, 3]) as tf.Tensor4D);
  const set = await attentionCueSource(fake, load, { batchSize: 1 }).produce({
    ids: ["a", "b"],
    grid: [2, 2],
  });
  assertArrayClose(set.maps, [0, 0.2, 0.4, 1, 0, 0.2, 0.4, 1], 1e-6);
  assertEquals(set.source, "attention:fake-vit");
  const cnn = { ...fake, id: "cnn", clsAttention: undefined };
  await assertRejects(
    () => attentionCueSource(cnn, load).produce({ ids: ["a"], grid: [2, 2] }),
    "no CLS attention",
  );
});

Deno.test("pcaCueSource: the shared dominant direction marks the object; sign oriented to the centre", async () => {
  await initBackend("cpu");
  // 6 images, 3×3 grid, dim 3: object cells carry −4·e0 (negative on purpose: sign must flip)
  const ids = ["a", "b", "c", "d", "e", "f"], N = 9, d = 3;
  const objects = [[4], [4, 1], [4, 5], [4, 3], [4, 7], [0, 4]];
  const tokens = new Float32Array(ids.length * N * d);
  let s = 1;
  const noise = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
  ids.forEach((_, i) => {
    for (let p = 0; p < N; p++) {
      for (let j = 0; j < d; j++) tokens[(i * N + p) * d + j] = noise();
      if (objects[i].includes(p)) tokens[(i * N + p) * d] -= 4;
    }
  });
  const features: FeatureSet = {
    encoderId: "t",
    ids,
    grid: [3, 3],
    dim: d,
    stride: 1,
    cellOffset: 0.5,
    views: ["test"],
    tokens,
  };
  const set = await pcaCueSource().produce({ ids: ["b", "f"], grid: [3, 3], features });
  assertEquals(set.source, "pca");
  for (const [i, obj] of [[0, [4, 1]], [1, [0, 4]]] as [number, number[]][]) {
    const m = set.maps.subarray(i * N, (i + 1) * N);
    for (let p = 0; p < N; p++) {
      if (obj.includes(p)) assert(m[p] > 0.9, `object cell ${p} of image ${i}: ${m[p]}`);
      else assert(m[p] < 0.1, `background cell ${p} of image ${i}: ${m[p]}`);
    }
  }
});

Deno.test("centerPriorCueSource: Gaussian at the true cell centres, same map for every image", async () => {
  // 2×2 grid, stride 112, offset 55.5 (centres 55.5, 167.5): all four cells equidistant from the centre → constant → zeros;
  // 3×3 grid, stride 64, offset 48: centre cell at (112,112) is the max, corners the min
  const flat = await centerPriorCueSource({ geometry: { stride: 112, cellOffset: 55.5 } }).produce({
    ids: ["a"],
    grid: [2, 2],
  });
  assertArrayClose(flat.maps, [0, 0, 0, 0], 0);
  const s = await centerPriorCueSource({ sigma: 50, geometry: { stride: 64, cellOffset: 48 } })
    .produce({ ids: ["a", "b"], grid: [3, 3] });
  const g = (dx: number, dy: number) => Math.exp(-(dx * dx + dy * dy) / (2 * 2500));
  const raw = [0, 1, 2].flatMap((y) =>
    [0, 1, 2].map((x) => g(x * 64 + 48 - 111.5, y * 64 + 48 - 111.5))
  );
  const lo = Math.min(...raw), hi = Math.max(...raw);
  const want = raw.map((v) => (v - lo) / (hi - lo));
  assertArrayClose(s.maps, [...want, ...want], 1e-6);
  assert(s.maps[4] === 1, "centre cell is the maximum");
});

Deno.test("headCueSource: a trained head's maps (plain view), normalised, as cues", async () => {
  await initBackend("cpu");
  const cam = new CamHead(1, 2);
  cam.setWeights({
    "cam.weight": { shape: [1, 2], data: new Float32Array([1, -1]) },
    "cam.bias": { shape: [2], data: new Float32Array(2) },
  });
  // predicted class 0 (positive mean) for image a, class 1 for image b: map = ±token
  const features: FeatureSet = {
    encoderId: "t",
    ids: ["a", "b"],
    grid: [1, 3],
    dim: 1,
    stride: 16,
    cellOffset: 8,
    views: ["test"],
    tokens: new Float32Array([1, 2, 4, -1, -3, 0]),
  };
  const set = await headCueSource(cam).produce({ ids: ["a", "b"], grid: [1, 3], features });
  assertEquals(set.source, "head:cam");
  assertArrayClose(set.maps, [0, 1 / 3, 1, 1 / 3, 1, 0], 1e-6);
  cam.dispose();
});
