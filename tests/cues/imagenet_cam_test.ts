import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { imagenetCamCues, resampleGridMap } from "../../lib/cues/imagenet_cam.ts";
import { DEFAULT_MOBILENET_DIR, TfjsCnnClassifier } from "../../lib/model/mobilenet.ts";
import { extractCamCues } from "../../lib/train/cue_cache.ts";
import { loadViewBatch } from "../../lib/train/view_images.ts";

Deno.test("resampleGridMap: bilinear at true cell centres (7×7 stride 32 → 14×14 stride 16)", () => {
  const from = { grid: [7, 7] as [number, number], stride: 32, cellOffset: 31.5 };
  const to = { grid: [14, 14] as [number, number], stride: 16, cellOffset: 15.5 };
  // A map equal to each cell's x centre (in pixels) + 1000 × its y centre: linear, so bilinear
  // resampling must reproduce the target cells' own centres, clamped to the source's range.
  const src = new Float32Array(49);
  for (let i = 0; i < 7; i++) {
    for (let j = 0; j < 7; j++) src[i * 7 + j] = (32 * j + 31.5) + 1000 * (32 * i + 31.5);
  }
  const out = resampleGridMap(src, from, to);
  const clamp = (v: number) => Math.min(Math.max(v, 31.5), 32 * 6 + 31.5);
  const want = new Float32Array(196);
  for (let i = 0; i < 14; i++) {
    for (let j = 0; j < 14; j++) {
      want[i * 14 + j] = clamp(16 * j + 15.5) + 1000 * clamp(16 * i + 15.5);
    }
  }
  assertArrayClose(out, want, 1e-2);
  // Target cell 2 (centre 47.5 px) lies half-way between source cells 0 and 1 (31.5, 63.5).
  assertArrayClose([out[2]], [47.5 + 1000 * 31.5], 1e-2);
  assertArrayClose(resampleGridMap(src, from, from), src, 0);
  let threw = false;
  try {
    resampleGridMap(new Float32Array(5), from, to);
  } catch {
    threw = true;
  }
  assert(threw, "size mismatch throws");
});

async function images(dir: string, n: number) {
  await Deno.mkdir(join(dir, "im"), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `x${i}.png`;
    // A dark frame with one bright off-centre square: something for the CAM to find.
    const w = 120 + 10 * i, h = 100;
    const px = new Uint8Array(w * h * 3).fill(20);
    for (let y = 20; y < 60; y++) {
      for (let x = 10 + 8 * i; x < 50 + 8 * i; x++) {
        px.fill(230 - 30 * (x % 2), (y * w + x) * 3, (y * w + x) * 3 + 3);
      }
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(
      join(dir, "im", id),
    );
    ids.push(id);
  }
  return { name: "s", imageRoot: join(dir, "im"), splits: { train: { imageIds: ids } } };
}

Deno.test("ImageNet-CAM cues: per-batch maps equal the cached set; workers agree; reruns hit the cache", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const clf = await TfjsCnnClassifier.load(DEFAULT_MOBILENET_DIR);
  try {
    assertEquals([clf.geometry.size, clf.geometry.stride, clf.geometry.offset, clf.labels.length], [
      [7, 7],
      [32, 32],
      [31.5, 31.5],
      1000,
    ]);
    const ds = await images(dir, 4);
    const target = { grid: [14, 14] as [number, number], stride: 16, cellOffset: 15.5 };
    const cacheDir = join(dir, "cues");
    const cues = await extractCamCues(clf, ds, "train", {
      topK: 3,
      target,
      cacheDir,
      batchSize: 2,
      progress: false,
    });
    assertEquals([cues.source, cues.grid, cues.topK, cues.maps.length, cues.topClasses.length], [
      "cam:mobilenet_v1_0.25_224@conv_pw_13_relu:top3",
      [14, 14],
      3,
      4 * 196,
      12,
    ]);
    const x = await loadViewBatch(ds.imageRoot, ds.splits.train.imageIds, "test");
    const direct = await imagenetCamCues(clf, x, { topK: 3, target });
    assertArrayClose(cues.maps, direct.maps, 1e-6);
    assertEquals(Array.from(cues.topClasses), direct.topClasses.flat());
    const probs = clf.classify(x);
    const p = probs.arraySync() as number[][];
    for (let i = 0; i < 4; i++) {
      const best = p[i].indexOf(Math.max(...p[i]));
      assertEquals(cues.topClasses[i * 3], best, "top-1 is the argmax");
      assert(cues.topProbs[i * 3] >= cues.topProbs[i * 3 + 1], "sorted");
      const m = cues.maps.subarray(i * 196, (i + 1) * 196);
      assertEquals([Math.min(...m), Math.max(...m)], [0, 1]);
    }
    tf.dispose([x, probs]);
    const t0 = performance.now();
    const again = await extractCamCues(clf, ds, "train", {
      topK: 3,
      target,
      cacheDir,
      progress: false,
    });
    assert(performance.now() - t0 < 2000, "cache hit is fast");
    assertEquals(again.maps, cues.maps);
    assertEquals(again.topProbs, cues.topProbs);
    const parallel = await extractCamCues(clf, ds, "train", {
      topK: 3,
      target,
      cacheDir: null,
      workers: 2,
      batchSize: 1,
      progress: false,
    });
    assertArrayClose(parallel.maps, cues.maps, 1e-6);
    // Flip-view cues come from the mirrored image, on its own grid.
    const flip = await extractCamCues(clf, ds, "train", {
      topK: 3,
      target,
      cacheDir: null,
      view: "flip",
      progress: false,
    });
    assert(flip.maps.some((v, i) => v !== cues.maps[i]));
    await assertRejects(
      () => extractCamCues(clf, ds, "train", { topK: 0, cacheDir: null }),
      "topK must be",
    );
  } finally {
    clf.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
