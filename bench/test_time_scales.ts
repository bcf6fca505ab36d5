/**
 * Held-out comparison of test-time input sizes (`eval.extraInputSizes`) for a finished run
 * that held images out (`dataset.valFraction` > 0): the run's own model, its held-out images
 * only (never the test split), one row per candidate set of extra sizes. How the choice in
 * docs/tedloc_head.md ("Issue 19 levers") was measured.
 *
 *   deno run -A bench/test_time_scales.ts --config configs/cub50/loss-kd-pcl-icl.json \
 *     --set dataset.valFraction=0.2 --candidates "320;448;320,448;576"
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/backend.ts";
import { resolveRunConfig } from "../lib/config/resolve.ts";
import { loadRunInputs } from "../lib/run/inputs.ts";
import { preparedRunInputs } from "../lib/run/pipeline.ts";
import { defaultCacheDir, loadRunModels, runLocation } from "../lib/run/run.ts";
import { extraScaleFeatures } from "../lib/run/scales.ts";
import { tedLocHead } from "../lib/model/baselines.ts";
import { evaluateHead } from "../lib/eval/evaluate.ts";
import type { BoxMetrics } from "../lib/metrics/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string", default: "configs/cub50/loss-kd-pcl-icl.json" },
    set: { type: "string", multiple: true, default: [] },
    candidates: { type: "string", default: "448" },
  },
});
await initBackend("wasm");
const cfg = await resolveRunConfig({ file: values.config, set: values.set });
cfg.eval.extraInputSizes = [];
const inputs = await loadRunInputs(cfg);
const cacheDir = defaultCacheDir();
const p = await preparedRunInputs(cfg, inputs, { cacheDir, progress: false });
if (p.valIds.length === 0) throw new Error("the config holds no images out (dataset.valFraction)");
const { dir } = await runLocation(cfg, inputs);
const { model, cam } = await loadRunModels(dir);
const head = tedLocHead(model);
const row = (name: string, m: BoxMetrics) =>
  console.log(
    `| ${name} | ${
      [m.maxBoxAcc, m.maxBoxAccV2, m.top1Loc ?? NaN, m.top1Cls ?? NaN]
        .map((v) => v.toFixed(1)).join(" | ")
    } | ${m.multi.map((c) => c.max.toFixed(1)).join(" / ")} |`,
  );
console.log(`run ${dir}, ${p.valIds.length} held-out images`);
console.log("| extra sizes | MaxBoxAcc | V2 | Top-1 Loc | Top-1 cls | V2 at IoU 30/50/70 |");
console.log("| --- | ---: | ---: | ---: | ---: | --- |");
const on = { ids: p.valIds, progress: false as const, camCurveInterval: cfg.eval.camCurveInterval };
row("none", (await evaluateHead(head, p.val, p.valMeta, on)).metrics);
for (const cand of values.candidates.split(";")) {
  const sizes = cand.split(",").map(Number);
  const { scales } = await extraScaleFeatures(
    inputs,
    sizes,
    { split: "train", views: ["test"], ids: p.valIds },
    { cacheDir: `${cacheDir}/features`, workers: 2, progress: false },
  );
  row(cand, (await evaluateHead(head, p.val, p.valMeta, { ...on, extraScales: scales })).metrics);
}
model.dispose();
cam.dispose();
p.cam.dispose();
