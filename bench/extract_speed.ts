/**
 * Encoder throughput on real CUB images (needs ../shared/data, else prints "skipped").
 *
 * 1. Model only: MobileNet v1 0.25 / 0.75 → conv_pw_11 on pre-decoded 224² images, tfjs
 *    `LayersModel.predict` vs the folded op chain, one thread (wasm). Wall and CPU ms/img
 *    (CPU time is robust to other processes sharing the cores; wall is what you wait).
 * 2. End to end: `extractFeatures` (decode + resize + model, no cache) with 1 and 2 workers.
 *
 * Each figure is the best of `--repeats` runs (least disturbed by other load).
 *
 *   deno run -A bench/extract_speed.ts [--images 256] [--batch 16] [--repeats 3]
 */
import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { sharedDataPath } from "../lib/util/mod.ts";
import { type CnnMode, extractFeatures, loadViewBatch, TfjsCnnEncoder } from "../lib/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    images: { type: "string", default: "256" },
    batch: { type: "string", default: "16" },
    repeats: { type: "string", default: "3" },
    widths: { type: "string", default: "0.25,0.75" },
    parts: { type: "string", default: "model,e2e" },
  },
});
const cub = sharedDataPath("cub50", "CUB_200_2011");
const mobilenet = sharedDataPath("mobilenet");
if (cub === null || mobilenet === null) {
  console.log("skipped: ../shared/data (CUB-50, MobileNet) not present (set TEDLOC_SHARED_DATA)");
  Deno.exit(0);
}
const n = Number(values.images), batch = Number(values.batch), repeats = Number(values.repeats);
const lines = (await Deno.readTextFile(join(cub, "images.txt"))).trim().split("\n");
const step = Math.max(1, Math.floor(lines.length / n)); // every k-th image: all classes
const ids = lines.filter((_, i) => i % step === 0).slice(0, n).map((l) => l.split(" ")[1]);
const root = join(cub, "images");
const dataset = { name: "cub50", imageRoot: root, splits: { all: { imageIds: ids } } };
const load = () => (Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
console.log(
  `backend ${await initBackend(
    "wasm",
  )}; ${ids.length} CUB images; batch ${batch}; best of ${repeats}; load avg ${load()}`,
);

function cpuMs(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
}

if (values.parts.includes("model")) {
  const images = await loadViewBatch(root, ids.slice(0, batch), "test");
  console.log("\n| model → conv_pw_11 | mode | wall ms/img | CPU ms/img | img/s |");
  console.log("|---|---|---|---|---|");
  for (const w of values.widths.split(",")) {
    for (const mode of ["layers", "folded"] as CnnMode[]) {
      const enc = await TfjsCnnEncoder.load(join(mobilenet, `mobilenet_v1_${w}_224`), { mode });
      enc.encode(images).dispose(); // warm-up (kernel set-up)
      let bestWall = Infinity, bestCpu = Infinity;
      const rounds = Math.max(1, Math.round(n / batch));
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now(), c0 = cpuMs();
        for (let i = 0; i < rounds; i++) {
          const y = enc.encode(images);
          await y.data();
          y.dispose();
        }
        bestWall = Math.min(bestWall, (performance.now() - t0) / (rounds * batch));
        bestCpu = Math.min(bestCpu, (cpuMs() - c0) / (rounds * batch));
      }
      console.log(
        `| ${w} | ${mode} | ${bestWall.toFixed(1)} | ${bestCpu.toFixed(1)} | ${
          (1000 / bestWall).toFixed(0)
        } |`,
      );
      enc.dispose();
    }
  }
  images.dispose();
}

if (values.parts.includes("e2e")) {
  console.log(
    "\n| end to end (decode + folded model) | workers | wall ms/img | img/s | CPU ms/img | cores busy |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const w of values.widths.split(",")) {
    const enc = await TfjsCnnEncoder.load(join(mobilenet, `mobilenet_v1_${w}_224`));
    for (const workers of [1, 2]) {
      let best = Infinity, cpuAtBest = 0;
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now(), c0 = cpuMs();
        await extractFeatures(enc, dataset, "all", {
          cacheDir: null,
          workers,
          batchSize: batch,
          progress: false,
        });
        const wall = (performance.now() - t0) / ids.length;
        if (wall < best) [best, cpuAtBest] = [wall, (cpuMs() - c0) / ids.length];
      }
      // CPU time counts every thread of the process (workers, sharp's decoders).
      console.log(
        `| ${w} | ${workers} | ${best.toFixed(1)} | ${(1000 / best).toFixed(0)} | ${
          cpuAtBest.toFixed(1)
        } | ${(cpuAtBest / best).toFixed(2)} |`,
      );
    }
    enc.dispose();
  }
}
console.log(`\nload avg at the end ${load()}`);
