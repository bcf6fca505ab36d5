import sharp from "sharp";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import {
  BIRD_ATTRIBUTES,
  birdAttributeAnchors,
  birdAttributeVector,
  CLIP_RELATED_CLASSES_GEOMETRY,
  designBirdClasses,
  ensureDefaultDataset,
  generateDefaultDataset,
  renderBirdSample,
  SYNTHETIC_PROFILES,
  syntheticJobs,
  writeSyntheticJob,
} from "../../lib/data/synthetic.ts";
import { maskExtent } from "../../lib/data/raster.ts";
import { loadDataset, type WsolDataset } from "../../lib/data/dataset.ts";
import { loadImageBatch } from "../../lib/data/loader.ts";
import { readAnchors } from "../../lib/text/anchors.ts";
import { Rng } from "../../lib/util/rng.ts";
import { projectPath, sharedDataPath } from "../../lib/util/paths.ts";
import { anchorSpectrum, anchorStatistics, blockGeometryMedian } from "../../lib/text/analysis.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";

const TMP = Deno.makeTempDirSync({ prefix: "tedloc-syn-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

/** sha-256 of every file under `dir`, keyed by relative path. */
async function fileHashes(dir: string, rel = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(join(dir, rel))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await fileHashes(dir, p)) out.set(k, v); }
    else {
      const bytes = await Deno.readFile(join(dir, p));
      const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      out.set(p, Array.from(d, (b) => b.toString(16).padStart(2, "0")).join(""));
    }
  }
  return out;
}

// one ci generation shared by the tests below (generation itself is timed in its own test)
let ciDataset: WsolDataset | null = null;
let ciSeconds = 0;
async function ci(): Promise<WsolDataset> {
  if (!ciDataset) {
    const t0 = performance.now();
    ciDataset = await generateDefaultDataset(join(TMP, "ci-a"), { profile: "ci", workers: 0 });
    ciSeconds = (performance.now() - t0) / 1000;
  }
  return ciDataset;
}

Deno.test("synthetic: the ci profile generates fast, in the dataset layout", async () => {
  const ds = await ci();
  const cfg = SYNTHETIC_PROFILES.ci;
  // generous bound for a loaded 2-core CI machine; ~2 s when the machine is idle
  assert(ciSeconds < 20, `ci generation took ${ciSeconds.toFixed(1)} s`);
  console.log(`ci profile generated in ${ciSeconds.toFixed(1)} s`);
  const classes = cfg.families * cfg.perFamily;
  assertEquals(ds.classNames.length, classes);
  assertEquals(Object.keys(ds.splits), ["train", "val", "test"]);
  assertEquals(ds.splits.train.imageIds.length, classes * cfg.perClass.train);
  assertEquals(ds.splits.test.imageIds.length, classes * cfg.perClass.test);
  assertEquals(Object.keys(ds.maskSplits ?? {}), ["val", "test"]);
  assertEquals(ds.maskSplits!.test.imageIds, ds.splits.test.imageIds);
  assertEquals(ds.anchorsPath, join(TMP, "ci-a", "anchors.safetensors"));
  // every class has images in every split, labels agree with the folder names
  for (const m of Object.values(ds.splits)) {
    for (const id of m.imageIds) {
      assertEquals(Number(id.split("/")[1].slice(1)), m.classLabels.get(id), id);
    }
  }
  // the images load through the pipeline
  const { images, boxes } = await loadImageBatch(ds, ds.splits.test.imageIds.slice(0, 2), {
    transform: "test",
  });
  assertEquals(images.shape, [2, 224, 224, 3]);
  assertEquals(boxes[0].length, 1);
  images.dispose();
});

Deno.test("synthetic: boxes equal the masks' extents; sizes agree; objects vary in size and place", async () => {
  const ds = await ci();
  const test = ds.splits.test, masks = ds.maskSplits!.test;
  const cfg = SYNTHETIC_PROFILES.ci;
  const areas: number[] = [], centres: number[] = [], widths = new Set<number>();
  for (const id of test.imageIds) {
    const [w, h] = test.imageSizes.get(id)!;
    widths.add(w);
    assert(w >= cfg.minSide && w <= cfg.maxSide && h >= cfg.minSide && h <= cfg.maxSide);
    const maskFile = join(ds.maskRoot!, masks.masks.get(id)![0]);
    const meta = await sharp(maskFile).metadata();
    assertEquals([meta.width, meta.height, meta.channels], [w, h, 1], id);
    const mask = await sharp(maskFile).extractChannel(0).raw().toBuffer({
      resolveWithObject: true,
    });
    const img = await sharp(join(ds.imageRoot, id)).metadata();
    assertEquals([img.width, img.height, img.channels], [w, h, 3], id);
    const box = test.boxes.get(id)!;
    assertEquals(box, [maskExtent(new Uint8Array(mask.data), w, h)], id);
    const values = new Set(mask.data);
    assert([...values].every((v) => v === 0 || v === 255), "binary mask");
    const ignore = await sharp(join(ds.maskRoot!, masks.ignoreMasks.get(id)!)).extractChannel(0)
      .raw().toBuffer();
    assert(ignore.every((v) => v === 0) && ignore.length === w * h, "empty ignore mask");
    const [x0, y0, x1, y1] = box[0];
    areas.push(((x1 - x0 + 1) * (y1 - y0 + 1)) / (w * h));
    centres.push((x0 + x1) / 2 / w);
  }
  const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
  assert(spread(areas) > 0.3, `box areas barely vary: ${spread(areas)}`);
  assert(spread(centres) > 0.4, `box centres barely vary: ${spread(centres)}`);
  assert(widths.size > 20, "image sizes vary");
});

Deno.test("synthetic: same seed → identical bytes; another seed → different images and classes", async () => {
  const a = await ci();
  const b = await generateDefaultDataset(join(TMP, "ci-b"), { profile: "ci", workers: 0 });
  const ha = await fileHashes(a.root), hb = await fileHashes(b.root);
  assertEquals(ha, hb);
  assert(ha.size > 400, `${ha.size} files`);
  // seed 1: its first jobs differ from seed 0's files; its class set differs
  const cfg = SYNTHETIC_PROFILES.ci;
  const classes0 = designBirdClasses(cfg, 0), classes1 = designBirdClasses(cfg, 1);
  assert(JSON.stringify(classes0) !== JSON.stringify(classes1), "classes depend on the seed");
  const dir = join(TMP, "seed1");
  for (const job of syntheticJobs(cfg).slice(0, 3)) {
    await writeSyntheticJob(dir, job, classes0[job.label], cfg, 1);
    const one = await Deno.readFile(join(dir, "images", job.id));
    const zero = await Deno.readFile(join(a.root, "images", job.id));
    assert(one.length !== zero.length || one.some((v, i) => v !== zero[i]), job.id);
  }
  // and the rendering is a pure function of its rng
  const r1 = renderBirdSample(classes0[0], new Rng(9), 200, 180);
  const r2 = renderBirdSample(classes0[0], new Rng(9), 200, 180);
  assertEquals(r1.rgb, r2.rgb);
  assertEquals(r1.box, r2.box);
});

Deno.test("synthetic: classes have the intended attribute structure; anchors follow it", async () => {
  for (const [profile, cfg] of Object.entries(SYNTHETIC_PROFILES)) {
    const classes = designBirdClasses(cfg, 0);
    assertEquals(classes.length, cfg.families * cfg.perFamily, profile);
    assertEquals(new Set(classes.map((c) => c.name)).size, classes.length, "unique names");
    for (const c of classes) {
      // the name spells the attributes
      assert(c.name.startsWith(`${c.head}-headed `) && c.name.includes(`${c.wing}-winged`), c.name);
      assert(c.name.includes(c.crest === "crestless" ? "crestless" : `${c.crest}-crested`));
      // every class has a near-duplicate in its family: one attribute apart
      const mates = classes.filter((o) => o.family === c.family && o !== c);
      assert(mates.length === cfg.perFamily - 1);
      const diff = (o: typeof c) =>
        ["head", "crest", "wing"].filter((k) => o[k as "head"] !== c[k as "head"]).length;
      assert(mates.some((o) => diff(o) === 1), `${c.name} has no one-attribute neighbour`);
      assertEquals(birdAttributeVector(c).length, 14);
      assertEquals(birdAttributeVector(c).reduce((s, v) => s + v, 0), 3);
    }
  }
  const ds = await ci();
  const attrs = JSON.parse(await Deno.readTextFile(join(ds.root, "attributes.json")));
  assertEquals(attrs.attributes, JSON.parse(JSON.stringify(BIRD_ATTRIBUTES)));
  assertEquals(attrs.classes.map((c: { name: string }) => c.name), ds.classNames);
  const anchors = await readAnchors(ds.anchorsPath!);
  assertEquals(anchors.classNames, ds.classNames);
  assertEquals([anchors.count, anchors.dim], [ds.classNames.length, 128]);
  // mean cosine rises with the number of shared attributes
  const byShared: number[][] = [[], [], []];
  for (let i = 0; i < anchors.count; i++) {
    for (let j = i + 1; j < anchors.count; j++) {
      let dot = 0;
      for (let k = 0; k < anchors.dim; k++) {
        dot += anchors.vectors[i * anchors.dim + k] * anchors.vectors[j * anchors.dim + k];
      }
      const [ci, cj] = [attrs.classes[i], attrs.classes[j]];
      const shared = ["head", "crest", "wing"].filter((k) => ci[k] === cj[k]).length;
      byShared[shared].push(dot);
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const means = byShared.filter((g) => g.length > 0).map(mean);
  assert(means.length >= 2);
  for (let k = 1; k < means.length; k++) assert(means[k] > means[k - 1] + 0.02, `${means}`);
});

Deno.test("synthetic: the stand-in anchors have real CLIP's geometry for related classes", () => {
  // quick profile (24 classes = the calibration's block size): crowding, nearest neighbour and
  // effective rank each within a small margin of the CLIP medians; the first stand-in (β 0.8,
  // σ 0.25) was far off (0.45 / 0.76 / 6.9) and must stay distinguishable from it
  const classes = designBirdClasses(SYNTHETIC_PROFILES.quick, 0);
  const g = CLIP_RELATED_CLASSES_GEOMETRY;
  assertEquals(classes.length, g.blockSize);
  const check = (shape?: { beta: number; sigma: number }) => {
    const v = birdAttributeAnchors(classes, 128, 0, shape);
    const s = anchorStatistics(v, classes.length, 128);
    const sp = anchorSpectrum(v, classes.length, 128);
    return Math.abs(s.meanOffDiagonal - g.meanCosine) < 0.02 &&
      Math.abs(s.meanNearestCosine - g.nearestCosine) < 0.025 &&
      Math.abs(sp.effectiveRank - g.effectiveRank) < 1;
  };
  assert(check(), "shipped stand-in off CLIP's geometry");
  assert(!check({ beta: 0.8, sigma: 0.25 }), "the check cannot tell stand-ins apart");
});

const clipNames = sharedDataPath("clip", "imagenet1k_clip_vitb32_text.safetensors");
Deno.test({
  name: "synthetic: the calibration target is what real CLIP ViT-B/32 name embeddings give",
  ignore: clipNames === null,
  fn: async () => {
    // ../shared/data/clip absent → skipped (the constants are then taken on trust)
    const t = (await readSafetensors(clipNames!)).tensors.get("text_features")!;
    const g = CLIP_RELATED_CLASSES_GEOMETRY;
    const m = blockGeometryMedian(t.data as Float32Array, t.shape[0], t.shape[1], g.blockSize);
    assertEquals(m.blocks, 41);
    assertAlmostEquals(m.meanCosine, g.meanCosine, 1e-4);
    assertAlmostEquals(m.nearestCosine, g.nearestCosine, 1e-4);
    assertAlmostEquals(m.effectiveRank, g.effectiveRank, 1e-3);
  },
});

Deno.test("ensureDefaultDataset: generates once, reuses, regenerates when the config hash changes", async () => {
  const dir = join(TMP, "ensure");
  const first = await ensureDefaultDataset({ profile: "ci", dir, workers: 0 });
  assertEquals(first.root, join(dir, "default-ci"));
  const stamp = (await Deno.stat(join(first.root, "dataset.json"))).mtime;
  const again = await ensureDefaultDataset({ profile: "ci", dir, workers: 0 });
  assertEquals((await Deno.stat(join(again.root, "dataset.json"))).mtime, stamp, "reused");
  assertEquals(again.splits.test.imageIds, first.splits.test.imageIds);
  // a stale hash (e.g. an older generator version) triggers regeneration
  const d = JSON.parse(await Deno.readTextFile(join(first.root, "dataset.json")));
  d.generator.hash = "stale";
  await Deno.writeTextFile(join(first.root, "dataset.json"), JSON.stringify(d));
  await ensureDefaultDataset({ profile: "ci", dir, workers: 0 });
  const after = JSON.parse(await Deno.readTextFile(join(first.root, "dataset.json")));
  assert(after.generator.hash !== "stale");
  assertEquals((await loadDataset(first.root)).classNames, first.classNames);
  await assertRejects(
    () => ensureDefaultDataset({ profile: "huge" as "ci", dir }),
    "unknown profile",
  );
});

Deno.test("make-dataset task: bad flags exit 2 with one line", async () => {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", projectPath("tasks/make_dataset.ts"), "--profile", "huge"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(o.code, 2);
  assert(new TextDecoder().decode(o.stderr).includes("--profile must be ci, quick or full"));
});
