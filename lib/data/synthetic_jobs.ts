/**
 * The synthetic dataset's images on disk: one job per image (split, class, index), rendered
 * and written on this thread or in a pool of workers (see lib/data/synthetic.ts).
 *
 * @module
 */
import sharp from "sharp";
import { join } from "node:path";
import { throwIfInterrupted } from "../util/interrupt.ts";
import type { Progress } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import type { Box } from "./metadata.ts";
import { hashInts, type SyntheticClass, type SyntheticConfig } from "./synthetic_classes.ts";
import { renderBirdSample } from "./synthetic_render.ts";

// ---------------------------------------------------------------------------------------
// the dataset on disk

/** Splits generated, in order. */
export const SYNTHETIC_SPLITS = ["train", "val", "test"] as const;

/** One image to generate. */
export interface SyntheticJob {
  split: (typeof SYNTHETIC_SPLITS)[number];
  label: number;
  index: number;
  /** Image id (path relative to `images/`, also the mask's path relative to `masks/`). */
  id: string;
  /** Whether to write the mask (val/test). */
  withMask: boolean;
}

/** What a written image contributes to the metadata. */
export interface SyntheticResult {
  id: string;
  width: number;
  height: number;
  box: Box;
}

/** The jobs of a config, in metadata order (split, class, index). */
export function syntheticJobs(config: SyntheticConfig): SyntheticJob[] {
  const jobs: SyntheticJob[] = [];
  const classes = config.families * config.perFamily;
  for (const split of SYNTHETIC_SPLITS) {
    for (let label = 0; label < classes; label++) {
      for (let index = 0; index < config.perClass[split]; index++) {
        const id = `${split}/c${String(label).padStart(2, "0")}/${
          String(index).padStart(4, "0")
        }.png`;
        jobs.push({ split, label, index, id, withMask: split !== "train" });
      }
    }
  }
  return jobs;
}

/**
 * Render and write one job's image (and mask) under `dir` (the dataset folder being built).
 * The image depends only on (seed, split, label, index), never on job order.
 */
export async function writeSyntheticJob(
  dir: string,
  job: SyntheticJob,
  cls: SyntheticClass,
  config: SyntheticConfig,
  seed: number,
): Promise<SyntheticResult> {
  const rng = new Rng(hashInts(seed, SYNTHETIC_SPLITS.indexOf(job.split), job.label, job.index));
  const span = config.maxSide - config.minSide + 1;
  const width = config.minSide + rng.int(span), height = config.minSide + rng.int(span);
  const s = renderBirdSample(cls, rng, width, height);
  const imagePath = join(dir, "images", job.id);
  await Deno.mkdir(join(imagePath, ".."), { recursive: true });
  await sharp(s.rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6 }).toFile(imagePath);
  if (job.withMask) {
    const maskPath = join(dir, "masks", job.id);
    await Deno.mkdir(join(maskPath, ".."), { recursive: true });
    // toColourspace("b-w"): without it sharp writes a one-channel input as an RGB PNG
    const gray = (bytes: Uint8Array) =>
      sharp(bytes, { raw: { width, height, channels: 1 } }).toColourspace("b-w").png();
    await gray(s.mask).toFile(maskPath);
    await gray(new Uint8Array(width * height)).toFile(maskPath.replace(/\.png$/, "_ignore.png"));
  }
  return { id: job.id, width, height, box: s.box };
}

/**
 * Render and write `jobs` under `dir`: on this thread (three lanes, so PNG encoding overlaps
 * rendering) when `workers` is 0, else in a pool of workers fed small chunks. Results come
 * back in job order. Ctrl-C (lib/util/interrupt.ts) stops it between images (on this thread,
 * nothing is still writing when it rejects; workers are terminated).
 */
export async function runJobs(
  dir: string,
  jobs: SyntheticJob[],
  classes: SyntheticClass[],
  config: SyntheticConfig,
  seed: number,
  workers: number,
  bar: Progress | null,
): Promise<SyntheticResult[]> {
  const results: SyntheticResult[] = new Array(jobs.length);
  if (workers <= 0) {
    // a few in flight so PNG encoding (sharp's threads) overlaps rendering (this thread)
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        throwIfInterrupted(); // Ctrl-C also without a progress bar
        const k = next++;
        results[k] = await writeSyntheticJob(dir, jobs[k], classes[jobs[k].label], config, seed);
        bar?.tick();
      }
    };
    // wait for every lane to settle before failing, so no write lands in a folder the
    // caller is already removing
    const settled = await Promise.allSettled([lane(), lane(), lane()]);
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return results;
  }
  const pool = Array.from(
    { length: workers },
    () => new Worker(new URL("./synthetic_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    let next = 0;
    await Promise.all(pool.map((w) =>
      new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next >= jobs.length) return resolve();
          // small chunks keep the workers balanced
          const from = next;
          next = Math.min(jobs.length, next + 8);
          w.postMessage({ dir, from, jobs: jobs.slice(from, next), classes, config, seed });
        };
        w.onmessage = (
          e: MessageEvent<{ from: number; results?: SyntheticResult[]; error?: string }>,
        ) => {
          if (e.data.error) return reject(new Error(e.data.error));
          e.data.results!.forEach((r, i) => (results[e.data.from + i] = r));
          try {
            bar?.tick(e.data.results!.length);
            throwIfInterrupted(); // Ctrl-C: no further chunk is sent
          } catch (err) {
            return reject(err);
          }
          send();
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`synthetic worker failed: ${e.message}`));
        };
        send();
      })
    ));
  } finally {
    pool.forEach((w) => w.terminate());
  }
  return results;
}
