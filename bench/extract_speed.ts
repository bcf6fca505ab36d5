/**
 * Feature-extraction throughput on real CUB images (needs ../shared/data): MobileNet v1
 * 0.25 and 0.75 to conv_pw_11, Layers predict vs the folded op chain, 1 vs 2 workers.
 * Decoding and resizing are included (end-to-end images/s), no cache.
 *
 *   deno run -A bench/extract_speed.ts [--images 192] [--batch 16] [--widths 0.25,0.75]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { sharedDataPath } from "../lib/util/mod.ts";
import { type CnnMode, extractFeatures, TfjsCnnEncoder } from "../lib/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    images: { type: "string", default: "192" },
    batch: { type: "string", default: "16" },
    widths: { type: "string", default: "0.25,0.75" },
    modes: { type: "string", default: "layers,folded" },
    workers: { type: "string", default: "1,2" },
  },
});
const cub = sharedDataPath("cub50", "CUB_200_2011");
const mobilenet = sharedDataPath("mobilenet");
if (cub === null || mobilenet === null) {
  console.log("skipped: ../shared/data (CUB-50, MobileNet) not present");
  Deno.exit(0);
}
const n = Number(values.images);
const lines = (await Deno.readTextFile(join(cub, "images.txt"))).trim().split("\n");
// Every k-th image, to mix classes.
const step = Math.max(1, Math.floor(lines.length / n));
const ids = lines.filter((_, i) => i % step === 0).slice(0, n).map((l) => l.split(" ")[1]);
const dataset = {
  name: "cub50",
  imageRoot: join(cub, "images"),
  splits: { all: { imageIds: ids } },
};
console.log(
  `backend ${await initBackend("wasm")}; ${ids.length} CUB images, batch ${values.batch}`,
);
console.log("| model | mode | workers | ms/img | img/s |");
console.log("|---|---|---|---|---|");
for (const w of values.widths.split(",")) {
  for (const mode of values.modes.split(",") as CnnMode[]) {
    const enc = await TfjsCnnEncoder.load(join(mobilenet, `mobilenet_v1_${w}_224`), {
      layer: "conv_pw_11_relu",
      mode,
    });
    for (const workers of values.workers.split(",").map(Number)) {
      const t0 = performance.now();
      await extractFeatures(enc, dataset, "all", {
        cacheDir: null,
        workers,
        batchSize: Number(values.batch),
        progress: false,
      });
      const s = (performance.now() - t0) / 1000;
      console.log(
        `| ${w} → conv_pw_11 | ${mode} | ${workers} | ${(1000 * s / ids.length).toFixed(1)} | ${
          (ids.length / s).toFixed(1)
        } |`,
      );
    }
    enc.dispose();
  }
}
