/**
 * The embedded default dataset: synthetic "birds" that pose the real WSOL problem, generated
 * deterministically from a seed (no download, no real data needed).
 *
 * Each class is a bird-like creature assembled from parts. The body, tail, legs and beak are
 * shared by all classes (their colours and shapes vary per image, never per class); only
 * three small parts carry the class: the head colour, the crest shape and the wing pattern.
 * Classes come in families of near-duplicates that differ in one attribute, and are named by
 * their attributes ("red-headed spiky-crested striped-winged bird"), like CUB's species within
 * a genus. Objects vary in size (box area 5–60 % of the image, median ≈ 20 %), position
 * (sometimes cut by the frame), aspect, rotation and facing; backgrounds are textured clutter with distractors, some in the head colours or the
 * wing patterns, a perch behind and sometimes a twig in front (occluding the bird). Images
 * are 180–320 px per side (profile dependent), so the resize path is exercised.
 *
 * Ground truth is exact: the rasterizer tracks object coverage per pixel; the mask is
 * `coverage ≥ ½` and the box is the mask's inclusive extent (wsolevaluation's convention).
 *
 * The anchors file stands in for CLIP text embeddings: each class's one-hot attribute vector
 * goes through a fixed seeded Gaussian projection to D = 128, plus a component shared by all
 * classes and a class-specific random part, so classes that share attributes have similar
 * anchors, like CLIP's clusters of similar classes: the situation the orthogonalization
 * ablation is about. The mix is calibrated to real CLIP ViT-B/32 name embeddings of related
 * ImageNet classes (the 41 blocks of 24 consecutive classes: median mean cosine 0.73, nearest
 * neighbour 0.82, effective rank of the centred anchors 16.7 of 23); the quick profile's anchors
 * have 0.73 / 0.80 / 16.7 (see {@link STANDIN_ANCHOR_SHAPE}).
 *
 * Layout written (all paths relative to the dataset folder):
 * `dataset.json`, `classes.txt`, `attributes.json`, `anchors.safetensors`, `config.json`,
 * `images/<split>/c<k>/<i>.png`, `masks/<split>/c<k>/<i>.png` (+ `<i>_ignore.png`, all zero),
 * `metadata/{train,val,test}/` (boxes) and `metadata_masks/{val,test}/` (mask layout).
 *
 * The code is split by concern: classes and anchors (synthetic_classes.ts), rendering
 * (synthetic_render.ts), images on disk (synthetic_jobs.ts); this file assembles the dataset.
 *
 * @module
 */
import sharp, { type OverlayOptions } from "sharp";
import { join } from "node:path";
import { writeDirAtomic, writeTextAtomic } from "../io/atomic.ts";
import { writeAnchors } from "../text/anchors.ts";
import { Progress } from "../util/progress.ts";
import { projectPath } from "../util/paths.ts";
import { emptyMetadata, writeMetadata, type WsolMetadata } from "./metadata.ts";
import {
  loadDataset,
  writeClassNames,
  writeDatasetDescriptor,
  type WsolDataset,
} from "./dataset.ts";
import {
  BIRD_ATTRIBUTES,
  birdAttributeAnchors,
  birdAttributeVector,
  type DatasetProfile,
  designBirdClasses,
  STANDIN_ANCHOR_SHAPE,
  SYNTHETIC_PROFILES,
  SYNTHETIC_VERSION,
} from "./synthetic_classes.ts";
import { runJobs, syntheticJobs } from "./synthetic_jobs.ts";

// the parts, re-exported by name so lib/data/mod.ts exports exactly what it did before the split
export {
  BIRD_ATTRIBUTES,
  birdAttributeAnchors,
  birdAttributeVector,
  birdClassName,
  CLIP_RELATED_CLASSES_GEOMETRY,
  type DatasetProfile,
  designBirdClasses,
  STANDIN_ANCHOR_SHAPE,
  SYNTHETIC_PROFILES,
  SYNTHETIC_VERSION,
  type SyntheticClass,
  type SyntheticConfig,
} from "./synthetic_classes.ts";
export { renderBirdSample, type RenderedBirdSample } from "./synthetic_render.ts";
export {
  SYNTHETIC_SPLITS,
  type SyntheticJob,
  syntheticJobs,
  type SyntheticResult,
  writeSyntheticJob,
} from "./synthetic_jobs.ts";

/** Options of {@link generateDefaultDataset}. */
export interface GenerateDefaultDatasetOptions {
  profile?: DatasetProfile;
  seed?: number;
  /**
   * Worker count (default: one per core, at most 4, for 1,000 images or more; below that 0,
   * which renders on the main thread).
   */
  workers?: number;
  /** Show a progress bar (default false). */
  progress?: boolean;
  /** Dataset name (default `default-<profile>`). */
  name?: string;
}

/** The config hash recorded in dataset.json (changes when profile, seed or version change). */
export async function syntheticConfigHash(profile: DatasetProfile, seed: number): Promise<string> {
  const text = JSON.stringify({
    version: SYNTHETIC_VERSION,
    profile,
    config: SYNTHETIC_PROFILES[profile],
    seed,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, 16);
}

function checkProfile(profile: string): DatasetProfile {
  if (!(profile in SYNTHETIC_PROFILES)) {
    throw new Error(`unknown profile '${profile}' (use ci, quick or full)`);
  }
  return profile as DatasetProfile;
}

/**
 * Generate the embedded default dataset into `out` (replaced atomically when it exists).
 *
 * @example
 * ```ts
 * const ds = await generateDefaultDataset("data/generated/default-ci", { profile: "ci" });
 * ```
 */
export async function generateDefaultDataset(
  out: string,
  opts: GenerateDefaultDatasetOptions = {},
): Promise<WsolDataset> {
  const profile = checkProfile(opts.profile ?? "quick");
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const config = SYNTHETIC_PROFILES[profile];
  const classes = designBirdClasses(config, seed);
  const jobs = syntheticJobs(config);
  const hash = await syntheticConfigHash(profile, seed);
  // small datasets render faster on this thread than workers start (under `deno test` each
  // worker is type-checked first, ~3 s)
  const workers = opts.workers ??
    (jobs.length < 1000 ? 0 : Math.max(0, Math.min(4, navigator.hardwareConcurrency ?? 2)));
  await writeDirAtomic(out, async (dir) => {
    const bar = opts.progress
      ? new Progress("default dataset", jobs.length, { unit: "img" })
      : null;
    const results = await runJobs(dir, jobs, classes, config, seed, workers, bar);
    bar?.done();
    const boxSplits: Record<string, WsolMetadata> = {};
    const maskSplits: Record<string, WsolMetadata> = {};
    jobs.forEach((job, k) => {
      const r = results[k];
      const m = (boxSplits[job.split] ??= emptyMetadata());
      m.imageIds.push(job.id);
      m.classLabels.set(job.id, job.label);
      m.imageSizes.set(job.id, [r.width, r.height]);
      m.boxes.set(job.id, [r.box]);
      if (job.withMask) {
        const mm = (maskSplits[job.split] ??= emptyMetadata());
        mm.imageIds.push(job.id);
        mm.classLabels.set(job.id, job.label);
        mm.masks.set(job.id, [job.id]);
        mm.ignoreMasks.set(job.id, job.id.replace(/\.png$/, "_ignore.png"));
      }
    });
    for (const [split, m] of Object.entries(boxSplits)) {
      await writeMetadata(join(dir, "metadata", split), m);
    }
    for (const [split, m] of Object.entries(maskSplits)) {
      await writeMetadata(join(dir, "metadata_masks", split), m);
    }
    await writeClassNames(join(dir, "classes.txt"), classes.map((c) => c.name));
    const attributeNames = Object.entries(BIRD_ATTRIBUTES).flatMap(([k, vs]) =>
      vs.map((v) => `${k}:${v}`)
    );
    await writeTextAtomic(
      join(dir, "attributes.json"),
      JSON.stringify(
        {
          attributes: BIRD_ATTRIBUTES,
          vectorLayout: attributeNames,
          classes: classes.map((c) => ({ ...c, vector: birdAttributeVector(c) })),
        },
        null,
        1,
      ) + "\n",
    );
    await writeAnchors(join(dir, "anchors.safetensors"), {
      classNames: classes.map((c) => c.name),
      vectors: birdAttributeAnchors(classes, config.anchorDim, seed),
      count: classes.length,
      dim: config.anchorDim,
      template: "",
      source: "attributes:synthetic-default (stand-in for CLIP text embeddings)",
      extra: {
        construction:
          `normalize(${STANDIN_ANCHOR_SHAPE.beta}*g + onehot(head,crest,wing)·R/sqrt(3D) + ` +
          `${STANDIN_ANCHOR_SHAPE.sigma}*noise/sqrt(D)), R ~ N(0,1) seeded; calibrated to CLIP ViT-B/32 names`,
        seed: String(seed),
      },
    });
    await writeDatasetDescriptor(dir, {
      name: opts.name ?? `default-${profile}`,
      imageRoot: "images",
      classes: "classes.txt",
      splits: Object.fromEntries(Object.keys(boxSplits).map((s) => [s, `metadata/${s}`])),
      anchors: "anchors.safetensors",
      maskRoot: "masks",
      maskSplits: Object.fromEntries(
        Object.keys(maskSplits).map((s) => [s, `metadata_masks/${s}`]),
      ),
      attributes: "attributes.json",
      generator: {
        kind: "tedloc-synthetic-birds",
        version: SYNTHETIC_VERSION,
        profile,
        seed,
        hash,
        config,
      },
    });
  });
  return await loadDataset(out);
}

/** Options of {@link ensureDefaultDataset}. */
export interface EnsureDefaultDatasetOptions {
  profile?: DatasetProfile;
  seed?: number;
  /** Parent folder (default `<project>/data/generated`). */
  dir?: string;
  workers?: number;
  progress?: boolean;
}

/** The folder name of a profile/seed: `default-<profile>` (seed 0) or `default-<profile>-s<seed>`. */
export function defaultDatasetName(profile: DatasetProfile, seed = 0): string {
  return seed === 0 ? `default-${profile}` : `default-${profile}-s${seed}`;
}

/**
 * The embedded default dataset, generated into `data/generated/<name>/` when missing or
 * when its config hash (profile, seed, generator version) changed; otherwise just loaded.
 * The profile defaults to `$TEDLOC_PROFILE`, then `quick`.
 *
 * @example
 * ```ts
 * const ds = await ensureDefaultDataset({ profile: "ci" });
 * console.log(ds.classNames.length, ds.splits.train.imageIds.length); // 8 128
 * ```
 */
export async function ensureDefaultDataset(
  opts: EnsureDefaultDatasetOptions = {},
): Promise<WsolDataset> {
  const profile = checkProfile(
    opts.profile ?? (Deno.env.get("TEDLOC_PROFILE") as DatasetProfile | undefined) ?? "quick",
  );
  const seed = opts.seed ?? 0;
  const name = defaultDatasetName(profile, seed);
  const out = join(opts.dir ?? projectPath("data", "generated"), name);
  const hash = await syntheticConfigHash(profile, seed);
  try {
    const d = JSON.parse(await Deno.readTextFile(join(out, "dataset.json")));
    if (d?.generator?.hash === hash) return await loadDataset(out);
  } catch {
    // missing or unreadable: generate
  }
  return await generateDefaultDataset(out, {
    profile,
    seed,
    name,
    workers: opts.workers,
    progress: opts.progress,
  });
}

/**
 * Write a small sample of a dataset for docs: `count` test images from different families
 * (their PNGs and masks), `overview.jpg` (each image with its GT box in green beside its
 * mask) and `sample.json` (ids, class names, boxes).
 *
 * @example
 * ```ts
 * await writeDatasetSample(await ensureDefaultDataset(), "data/sample", 4);
 * ```
 */
export async function writeDatasetSample(
  dataset: WsolDataset,
  out: string,
  count = 4,
): Promise<void> {
  const test = dataset.splits.test;
  const masks = dataset.maskSplits?.test;
  if (!test || !masks || !dataset.maskRoot) throw new Error("writeDatasetSample: no test masks");
  // one image per label, labels spread over the families (every perFamily-th class)
  const labels = dataset.classNames.map((_, k) => k);
  const step = Math.max(1, Math.floor(labels.length / count));
  const chosen = labels.filter((k) => k % step === 0).slice(0, count).map((k) =>
    test.imageIds.find((id) => test.classLabels.get(id) === k)!
  );
  const tile = 220;
  const tiles: OverlayOptions[] = [];
  const entries = [];
  await Deno.mkdir(out, { recursive: true });
  for (const [i, id] of chosen.entries()) {
    const name = `sample${i}`;
    await Deno.copyFile(join(dataset.imageRoot, id), join(out, `${name}.png`));
    await Deno.copyFile(
      join(dataset.maskRoot, masks.masks.get(id)![0]),
      join(out, `${name}_mask.png`),
    );
    const { data, info } = await sharp(join(dataset.imageRoot, id)).removeAlpha().raw()
      .toBuffer({ resolveWithObject: true });
    const [x0, y0, x1, y1] = test.boxes.get(id)![0];
    const px = (x: number, y: number) => data.set([0, 255, 0], (y * info.width + x) * 3);
    for (let x = x0; x <= x1; x++) px(x, y0), px(x, y1);
    for (let y = y0; y <= y1; y++) px(x0, y), px(x1, y);
    const fit = { width: tile, height: tile, fit: "contain" as const, background: "#ffffff" };
    tiles.push({
      input: await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .resize(fit).png().toBuffer(),
      left: (2 * i) * tile,
      top: 0,
    });
    tiles.push({
      input: await sharp(join(dataset.maskRoot, masks.masks.get(id)![0])).resize(fit).png()
        .toBuffer(),
      left: (2 * i + 1) * tile,
      top: 0,
    });
    entries.push({
      file: `${name}.png`,
      mask: `${name}_mask.png`,
      id,
      label: test.classLabels.get(id),
      className: dataset.classNames[test.classLabels.get(id)!],
      size: test.imageSizes.get(id),
      box: test.boxes.get(id)![0],
    });
  }
  await sharp({
    create: { width: 2 * chosen.length * tile, height: tile, channels: 3, background: "#ffffff" },
  }).composite(tiles).jpeg({ quality: 85 }).toFile(join(out, "overview.jpg"));
  await writeTextAtomic(
    join(out, "sample.json"),
    JSON.stringify(
      { dataset: dataset.name, generator: dataset.info?.generator, images: entries },
      null,
      2,
    ) +
      "\n",
  );
}
