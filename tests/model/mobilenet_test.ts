import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import sharp from "sharp";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { sharedDataPath } from "../../lib/util/paths.ts";
import {
  DEFAULT_MOBILENET_DIR,
  defaultEncoder,
  TfjsCnnClassifier,
  TfjsCnnEncoder,
} from "../../lib/model/mobilenet.ts";
import { imagenetCamCues } from "../../lib/cues/imagenet_cam.ts";
import { loadViewBatch } from "../../lib/train/view_images.ts";
import { loadLayersModelFromDir } from "../../lib/io/tfjs_model.ts";
import { float64Forward } from "./f64_reference.ts";

const MOBILENET = sharedDataPath("mobilenet");
const CUB = sharedDataPath("cub50", "CUB_200_2011");
const GOLDFINCH = "047.American_Goldfinch/American_Goldfinch_0001_32306.jpg";

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function meanAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbsDiff64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

// Float32 noise bounds for features in 0..6, 12 and 14 layers deep. Measured on these two
// images: |folded − layers| max 1.1e-4 / 2.4e-4 (pw_11 / pw_13), mean ≤ 5.4e-6; against an
// independent float64 forward, folded is 1.0e-4 and Layers 3.7e-5 off at pw_11 (0.25): both
// are float32 rounding, amplified through the network, not a difference in the model.
const MAX_TOL: Record<string, number> = { conv_pw_11_relu: 2e-4, conv_pw_13_relu: 4e-4 };
const MEAN_TOL = 1e-5;

/** Parameters (kernels, BN γ/β) of the layers up to `layer`, read from model.json alone. */
async function manifestParams(dir: string, layer: string): Promise<number> {
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  const order: string[] = json.modelTopology.model_config.config.layers.map((l: { name: string }) =>
    l.name
  );
  const upto = new Set(order.slice(0, order.indexOf(layer) + 1));
  let n = 0;
  for (const g of json.weightsManifest) {
    for (const w of g.weights) {
      if (/moving_(mean|variance)$/.test(w.name)) continue;
      if (upto.has(w.name.split("/")[0])) n += w.shape.reduce((a: number, b: number) => a * b, 1);
    }
  }
  return n;
}

Deno.test("default encoder and classifier (vendored MobileNet v1 0.25): geometry, parameters, no leak", async () => {
  await initBackend("wasm");
  const n0 = tf.memory().numTensors;
  const enc = await defaultEncoder();
  assertEquals(enc.id, "mobilenet_v1_0.25_224@conv_pw_11_relu");
  assertEquals([enc.grid, enc.dim, enc.stride, enc.cellOffset, enc.inputSize], [
    [14, 14],
    128,
    16,
    15.5,
    224,
  ]);
  assertEquals(
    enc.parameterCount(),
    await manifestParams(DEFAULT_MOBILENET_DIR, "conv_pw_11_relu"),
  );
  const x = tf.fill([2, 224, 224, 3], 127.5) as tf.Tensor4D;
  const y = enc.encode(x);
  assertEquals(y.shape, [2, 196, 128]);
  const v = y.dataSync();
  assert(v.every((t) => t >= 0 && t <= 6), "relu6 range");
  tf.dispose([x, y]);
  const wrong = tf.zeros([1, 200, 200, 3]) as tf.Tensor4D;
  await assertRejects(() => enc.encode(wrong), "expects images [B, 224, 224, 3]");
  wrong.dispose();
  enc.dispose();
  assertEquals(tf.memory().numTensors, n0);
  const err = await assertRejects(
    () => TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, { layer: "conv_pw_14_relu" }),
    "layer 'conv_pw_14_relu' is not in mobilenet_v1_0.25_224",
    "conv_pw_11_relu",
    "conv_pw_13_relu",
  );
  assertEquals(err.name, "InputError");
  assertEquals(tf.memory().numTensors, n0, "no leak on a failed load");
  for (const mode of ["folded", "layers"] as const) {
    const clf = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR, { mode });
    const x1 = tf.fill([1, 224, 224, 3], 90) as tf.Tensor4D;
    const cam = await clf.cam(x1, 2);
    assertEquals([cam.maps.length, cam.topClasses[0].length], [49, 2]);
    x1.dispose();
    clf.dispose();
    assertEquals(tf.memory().numTensors, n0, `classifier (${mode}) leaks no tensors`);
  }
});

Deno.test("TfjsCnnEncoder at another input size: a finer grid over the same image, its own id and recipe", async () => {
  await initBackend("wasm");
  const n0 = tf.memory().numTensors;
  const base = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
  const big = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, { inputSize: 448 });
  assertEquals(big.id, "mobilenet_v1_0.25_224@conv_pw_11_relu@448px");
  assertEquals([big.grid, big.dim, big.stride, big.cellOffset, big.inputSize], [
    [28, 28],
    128,
    16,
    15.5,
    448,
  ]);
  assertEquals((big.spec as { inputSize?: number }).inputSize, 448);
  assertEquals((base.spec as { inputSize?: number }).inputSize, undefined, "own size: old recipe");
  // a flat image: cells whose receptive field (~160 px radius) misses the zero padding are equal
  const a = tf.tidy(() => base.encode(tf.fill([1, 224, 224, 3], 100) as tf.Tensor4D));
  const b = tf.tidy(() => big.encode(tf.fill([1, 448, 448, 3], 100) as tf.Tensor4D));
  assertEquals([a.shape, b.shape], [[1, 196, 128], [1, 784, 128]]);
  const bv = b.arraySync()[0];
  bv[13 * 28 + 13].forEach((v, k) => assertAlmostEquals(bv[14 * 28 + 14][k], v, 1e-5));
  assert(bv[0].some((v, k) => Math.abs(v - bv[14 * 28 + 14][k]) > 1e-3), "the corner sees padding");
  tf.dispose([a, b]);
  await assertRejects(
    () => TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, { inputSize: 448, mode: "layers" }),
    "needs mode 'folded'",
  );
  base.dispose();
  big.dispose();
  assertEquals(tf.memory().numTensors, n0);
});

Deno.test("MobileNet v1 0.25/0.75 (real files): folded graph equals Layers predict; goldfinch; CAM on the bird", async (t) => {
  if (MOBILENET === null || CUB === null) {
    await t.step({
      name: "skipped: ../shared/data/mobilenet or cub50 absent (set TEDLOC_SHARED_DATA)",
      ignore: true,
      fn: () => {},
    });
    return;
  }
  await initBackend("wasm");
  const root = join(CUB, "images");
  const ids = [GOLDFINCH, "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg"];
  const images = await loadViewBatch(root, ids, "test");
  // GT box of the goldfinch (bounding_boxes.txt, x y w h) in the 224 frame.
  const sizes = (await Deno.readTextFile(join(CUB, "images.txt"))).split("\n");
  const imageNo = sizes.find((l) => l.endsWith(GOLDFINCH))!.split(" ")[0];
  const bbLine = (await Deno.readTextFile(join(CUB, "bounding_boxes.txt"))).split("\n")
    .find((l) => l.startsWith(imageNo + " "))!;
  const [bx, by, bw, bh] = bbLine.split(" ").slice(1).map(Number);
  const meta = await sharp(join(root, GOLDFINCH)).metadata();
  const sx = 224 / meta.width!, sy = 224 / meta.height!;
  const box = [bx * sx, by * sy, (bx + bw) * sx, (by + bh) * sy];
  const inBox = (x: number, y: number) => x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];

  for (const width of ["0.25", "0.75"]) {
    await t.step(`MobileNet v1 ${width}`, async () => {
      const dir = join(MOBILENET!, `mobilenet_v1_${width}_224`);
      const channels = width === "0.25" ? 128 : 384;
      for (
        const [layer, grid, stride, offset, dim] of [
          ["conv_pw_11_relu", 14, 16, 15.5, channels],
          ["conv_pw_13_relu", 7, 32, 31.5, 2 * channels],
        ] as const
      ) {
        const folded = await TfjsCnnEncoder.load(dir, { layer });
        const layers = await TfjsCnnEncoder.load(dir, { layer, mode: "layers" });
        assertEquals([folded.grid, folded.stride, folded.cellOffset, folded.dim], [
          [grid, grid],
          stride,
          offset,
          dim,
        ]);
        assertEquals(folded.parameterCount(), await manifestParams(dir, layer));
        assertEquals(layers.parameterCount(), folded.parameterCount());
        const a = folded.encode(images), b = layers.encode(images);
        const d = maxAbsDiff(a, b), mean = meanAbsDiff(a, b);
        let note = "";
        if (layer === "conv_pw_11_relu") {
          // An independent float64 forward of the second image judges both float32 paths.
          const net = await loadLayersModelFromDir(dir);
          const ref = float64Forward(
            net,
            Float64Array.from(images.slice([1], [1]).dataSync()),
            224,
            layer,
          );
          net.dispose();
          const [a1, b1] = [a.slice([1], [1]).dataSync(), b.slice([1], [1]).dataSync()];
          const [ea, eb] = [maxAbsDiff64(a1, ref.data), maxAbsDiff64(b1, ref.data)];
          note = `; vs float64: folded ${ea.toExponential(2)}, layers ${eb.toExponential(2)}`;
          assert(ea <= MAX_TOL[layer] && eb <= MAX_TOL[layer], `float64 reference: ${note}`);
        }
        console.log(
          `  ${width} ${layer}: |folded − layers| max ${d.toExponential(2)} mean ${
            mean.toExponential(2)
          }${note}`,
        );
        assert(d <= MAX_TOL[layer], `${width} ${layer}: folded vs layers differ by ${d}`);
        assert(mean <= MEAN_TOL, `${width} ${layer}: mean difference ${mean}`);
        tf.dispose([a, b]);
        folded.dispose();
        layers.dispose();
      }
      const clf = await TfjsCnnClassifier.load(dir);
      const clfLayers = await TfjsCnnClassifier.load(dir, { mode: "layers" });
      const pa = clf.classify(images), pb = clfLayers.classify(images);
      assert(maxAbsDiff(pa, pb) <= 1e-5, "class probabilities agree");
      tf.dispose([pa, pb]);
      clfLayers.dispose();
      const cues = await imagenetCamCues(clf, images, {
        topK: 5,
        target: { grid: [14, 14], stride: 16, cellOffset: 15.5 },
      });
      assertEquals(cues.topClasses[0][0], 11, "goldfinch is ImageNet class 11");
      assert(clf.labels[11].startsWith("goldfinch"), clf.labels[11]);
      const m = cues.maps.subarray(0, 196);
      assert(Math.min(...m) === 0 && Math.max(...m) === 1, "min-max normalised");
      let sw = 0, cx = 0, cy = 0, inside = 0, nIn = 0, outside = 0, nOut = 0, peak = 0;
      for (let i = 0; i < 14; i++) {
        for (let j = 0; j < 14; j++) {
          const v = m[i * 14 + j], x = 16 * j + 15.5, y = 16 * i + 15.5;
          sw += v;
          cx += v * x;
          cy += v * y;
          if (inBox(x, y)) [inside, nIn] = [inside + v, nIn + 1];
          else [outside, nOut] = [outside + v, nOut + 1];
          if (v > m[peak]) peak = i * 14 + j;
        }
      }
      const px = 16 * (peak % 14) + 15.5, py = 16 * Math.floor(peak / 14) + 15.5;
      console.log(
        `  ${width}: top-1 ${cues.topClasses[0][0]} p=${
          cues.topProbs[0][0].toFixed(3)
        }; CAM centroid (${(cx / sw).toFixed(1)}, ${
          (cy / sw).toFixed(1)
        }), peak (${px}, ${py}), box [${box.map((v) => v.toFixed(1))}]; ` +
          `mean in/out ${(inside / nIn).toFixed(2)}/${(outside / nOut).toFixed(2)}`,
      );
      assert(inBox(cx / sw, cy / sw), "CAM centroid inside the GT box");
      assert(inside / nIn > 1.5 * (outside / nOut), "CAM higher on the bird than off it");
      if (width === "0.75") assert(inBox(px, py), "0.75: CAM peak inside the GT box");
      clf.dispose();
    });
  }
  images.dispose();
});
