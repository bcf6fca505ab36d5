/**
 * Multi-scale inference on images equals multi-scale evaluation: with the vendored MobileNet
 * at 224 and 448 px and a random TeD-Loc head, `localizeImageScales` on image files gives the
 * score maps `evaluateHead` saves for the same images with the same `extraScales`.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { DEFAULT_MOBILENET_DIR, TfjsCnnEncoder } from "../../lib/model/mobilenet.ts";
import { randomTedLoc } from "./random_tedloc.ts";
import { tedLocHead } from "../../lib/model/baselines.ts";
import { emptyMetadata } from "../../lib/data/metadata.ts";
import { extractFeatures } from "../../lib/train/features.ts";
import { loadViewFiles } from "../../lib/train/view_images.ts";
import { evaluateHead, localizeImageScales } from "../../lib/eval/mod.ts";
import { writeNoiseJpeg } from "../tasks/run_task.ts";

const mobilenet = await Deno.stat(join(DEFAULT_MOBILENET_DIR, "model.json")).then(
  () => true,
  () => false,
);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test({
  name:
    "localizeImageScales: image files at 224 + 448 px give evaluateHead's saved maps with extraScales; class scores native",
  ignore: !mobilenet,
  fn: async () => {
    await initBackend("wasm");
    const dir = await Deno.makeTempDir();
    const enc = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
    const enc448 = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, { inputSize: 448 });
    const model = randomTedLoc(enc.dim);
    const head = tedLocHead(model);
    try {
      const ids = ["a.jpg", "b.jpg", "c.jpg"];
      const sizes: [number, number][] = [[300, 100], [120, 90], [64, 200]];
      for (const [i, id] of ids.entries()) {
        await writeNoiseJpeg(join(dir, id), ...sizes[i]);
      }
      const dataset = { name: "t", imageRoot: dir, splits: { test: { imageIds: ids } } };
      const ex = { cacheDir: null, storage: "f32" as const, progress: false as const };
      const f224 = await extractFeatures(enc, dataset, "test", ex);
      const f448 = await extractFeatures(enc448, dataset, "test", ex);
      const meta = emptyMetadata();
      ids.forEach((id, i) => {
        meta.imageIds.push(id);
        meta.classLabels.set(id, i);
        meta.imageSizes.set(id, sizes[i]);
        meta.boxes.set(id, [[10, 10, 100, 80]]);
      });
      const maps = join(dir, "maps"), native = join(dir, "native");
      await evaluateHead(head, f224, meta, {
        scoremapDir: maps,
        extraScales: [{ features: f448, inputSize: 448 }],
        progress: false,
      });
      await evaluateHead(head, f224, meta, { scoremapDir: native, progress: false });
      const paths = ids.map((id) => join(dir, id));
      const x224 = await loadViewFiles(paths, "test", 224);
      const x448 = await loadViewFiles(paths, "test", 448);
      const fused = await localizeImageScales(head, { encoder: enc, images: x224 }, [
        { encoder: enc448, images: x448 },
      ]);
      const alone = await localizeImageScales(head, { encoder: enc, images: x224 }, []);
      await assertRejects(
        () =>
          localizeImageScales(head, { encoder: enc, images: x224 }, [{
            encoder: enc448,
            images: x224,
          }]),
        "needs images [3, 448, 448, 3]",
      );
      x224.dispose();
      x448.dispose();
      for (const [i, id] of ids.entries()) {
        const saved = (await readNpy(join(maps, `${id}.npy`))).data as Float32Array;
        const savedNative = (await readNpy(join(native, `${id}.npy`))).data as Float32Array;
        const d = maxAbsDiff(fused[i].map, saved);
        assert(d < 1e-6, `${id}: fused map differs from evaluateHead's by ${d}`);
        const dn = maxAbsDiff(alone[i].map, savedNative);
        assert(dn < 1e-6, `${id}: native map differs from evaluateHead's by ${dn}`);
        // the 448-px map really counts: the fused map is not the native one
        const gap = maxAbsDiff(fused[i].map, savedNative);
        assert(gap > 0.02, `${id}: fused map equals the native one (gap ${gap})`);
        assertEquals(fused[i].scores, alone[i].scores, "class scores stay native");
        assertEquals(fused[i].gridMap, alone[i].gridMap);
      }
    } finally {
      head.dispose();
      enc.dispose();
      enc448.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
