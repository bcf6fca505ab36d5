/**
 * Image pipeline throughput on real CUB images: decode + test view (PIL-exact resize to
 * 224×224), per image, on the main thread and through worker pools; and whether prefetch
 * hides decoding behind a synchronous consumer (as tfjs wasm compute is).
 *
 * Run: `deno run -A bench/image_pipeline_bench.ts [N]` (prints images/s; needs CUB-50 in
 * ../shared/data or $TEDLOC_SHARED_DATA), or `deno bench -A bench/image_pipeline_bench.ts`.
 */
import sharp from "sharp";
import { drawImageView, loadImageView } from "../lib/data/image.ts";
import { ImageDecoderPool, iterateBatches } from "../lib/data/loader.ts";
import { prepareCub } from "../lib/data/cub.ts";
import { loadDataset } from "../lib/data/dataset.ts";
import { sharedDataPath } from "../lib/util/paths.ts";

const CUB = sharedDataPath("cub50", "CUB_200_2011");

async function cubPaths(n: number): Promise<string[]> {
  if (CUB === null) return [];
  const lines = (await Deno.readTextFile(`${CUB}/images.txt`)).trim().split("\n");
  const step = Math.max(1, Math.floor(lines.length / n));
  return lines.filter((_, i) => i % step === 0).slice(0, n).map((l) =>
    `${CUB}/images/${l.split(" ")[1]}`
  );
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a stand-in for synchronous tfjs compute */ }
}

async function main(n: number): Promise<void> {
  const paths = await cubPaths(n);
  if (paths.length === 0) {
    console.log("skipped: CUB-50 not found (set TEDLOC_SHARED_DATA)");
    return;
  }
  const view = drawImageView("test");
  const rate = (label: string, count: number, ms: number) =>
    console.log(`${label.padEnd(58)} ${(count / (ms / 1000)).toFixed(1).padStart(7)} img/s`);

  for (const p of paths.slice(0, 8)) await loadImageView(p, view); // warm-up (JIT, sharp init)
  let t0 = performance.now();
  for (const p of paths) await loadImageView(p, view);
  rate("main thread, one at a time", paths.length, performance.now() - t0);

  t0 = performance.now();
  await Promise.all(paths.map((p) => loadImageView(p, view)));
  rate("main thread, all at once (sharp pool + JS resize)", paths.length, performance.now() - t0);

  t0 = performance.now();
  await Promise.all(
    paths.map((p) =>
      sharp(p, { ignoreIcc: true }).resize(224, 224, { fit: "fill" }).raw().toBuffer()
    ),
  );
  rate("(reference: sharp's own resize, not PIL-exact)", paths.length, performance.now() - t0);

  for (const size of [1, 2]) {
    const pool = new ImageDecoderPool(size);
    await Promise.all(paths.slice(0, 4).map((p) => pool.load(p, view)));
    t0 = performance.now();
    await Promise.all(paths.map((p) => pool.load(p, view)));
    rate(`worker pool of ${size}`, paths.length, performance.now() - t0);
    pool.close();
  }

  // batches with a synchronous consumer: does prefetch overlap decoding with compute?
  const out = await Deno.makeTempDir();
  await prepareCub(CUB!, out);
  const ds = await loadDataset(out);
  const ids = ds.splits.test.imageIds.slice(0, paths.length);
  // per batch of 32: 20 ms/img is MobileNet v1 0.25 → conv_pw_11 on tfjs wasm (platform.md)
  const computeMs = Number(Deno.env.get("BENCH_COMPUTE_MS") ?? 640);
  for (
    const [label, workers, prefetch] of [["no prefetch, main thread", 0, 0], [
      "prefetch 2, 1 worker",
      1,
      2,
    ]] as const
  ) {
    t0 = performance.now();
    let decodeWait = 0;
    let tWait = performance.now();
    for await (
      const b of iterateBatches(ds, "test", {
        batchSize: 32,
        transform: "test",
        ids,
        workers,
        prefetch,
      })
    ) {
      decodeWait += performance.now() - tWait;
      busyWait(computeMs);
      b.images.dispose();
      tWait = performance.now();
    }
    const total = performance.now() - t0;
    rate(
      `batches of 32 + ${computeMs} ms compute each, ${label} (waited ${
        (decodeWait / 1000).toFixed(1)
      } s)`,
      ids.length,
      total,
    );
  }
  await Deno.remove(out, { recursive: true });
}

if (import.meta.main) {
  await main(Number(Deno.args[0] ?? 256));
} else if (CUB !== null) {
  const paths = await cubPaths(64);
  const view = drawImageView("test");
  Deno.bench("decode + test view, 64 CUB images, main thread", { group: "decode" }, async () => {
    await Promise.all(paths.map((p) => loadImageView(p, view)));
  });
}
