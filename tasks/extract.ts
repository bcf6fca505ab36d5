/**
 * `deno task extract`: the frozen-feature cache of a config (every split and view its run
 * reads), whole or one shard at a time so a batch scheduler spreads it over machines:
 *
 *   deno task extract --config C --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
 *   deno task extract --config C --merge      # checks the shards, joins them
 *
 * (`train` merges complete shards by itself too.) The cache folder is
 * `$TEDLOC_CACHE_DIR/features` (shared by the machines, e.g. on a network file system).
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { intFlag, parseCli, runCli } from "../lib/util/cli.ts";
import { resolveRunConfig } from "../lib/config/resolve.ts";
import { experimentConfigFile } from "../lib/run/experiment.ts";
import { disposeRunInputs, loadRunInputs } from "../lib/run/inputs.ts";
import { defaultCacheDir } from "../lib/run/run.ts";
import { defaultExtractionWorkers } from "../lib/run/pipeline.ts";
import {
  extractFeatures,
  extractFeatureShard,
  mergeFeatureShardSet,
} from "../lib/train/features.ts";
import { parseShard } from "../lib/train/feature_files.ts";
import type { FeatureView } from "../lib/train/view_images.ts";
import { join } from "node:path";
import { InputError } from "../lib/io/errors.ts";

const SPEC = {
  usage: "deno task extract [--config F.json] [--set k=v …] [--shard i/N | --merge] [--workers N]",
  description: "Extract (or merge the shards of) the frozen-token cache a config's run reads.",
  options: {
    config: { type: "string" as const, help: "run config (default: configs/default/main.json)" },
    set: { type: "string" as const, multiple: true, help: "override one key (repeatable)" },
    profile: { type: "string" as const, help: "embedded-default size: ci, quick, full" },
    shard: { type: "string" as const, help: "extract shard i of N (0-based), e.g. 3/16" },
    merge: { type: "boolean" as const, help: "check that the shards cover each split once; join" },
    workers: { type: "string" as const, help: "extraction workers (default: one per core)" },
  },
};

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  const shard = typeof a.values.shard === "string" ? parseShard(a.values.shard) : null;
  const merge = !!a.values.merge;
  if (shard && merge) throw new InputError("--shard and --merge exclude each other");
  const workers = intFlag(a, "workers", { min: 1 }) ?? defaultExtractionWorkers();
  const cfg = await resolveRunConfig({
    file: (a.values.config as string | undefined) ?? experimentConfigFile("default", "main"),
    profile: (a.values.profile as string | undefined) ?? Deno.env.get("TEDLOC_PROFILE"),
    set: a.values.set as string[] | undefined,
  });
  await initBackend();
  try {
    const { dataset, encoder } = await loadRunInputs(cfg);
    const cacheDir = join(defaultCacheDir(), "features");
    // the splits and views runPipeline reads
    const todo: [string, FeatureView[]][] = [["train", ["test", "flip"]]];
    todo.push([cfg.eval.split, cfg.eval.flipTta ? ["test", "flip"] : ["test"]]);
    if (dataset.splits.val) todo.push(["val", ["test"]]);
    for (const [split, views] of todo) {
      const opts = { views, cacheDir, workers };
      if (shard) {
        const r = await extractFeatureShard(encoder, dataset, split, shard, opts);
        console.log(
          `${split} [${views}]: shard ${shard.index}/${shard.count} = images ${r.start}..${
            r.end - 1
          }`,
        );
      } else if (merge) {
        await mergeFeatureShardSet(encoder, dataset, split, opts);
        console.log(`${split} [${views}]: shards verified (key, each image once) and merged`);
      } else {
        const f = await extractFeatures(encoder, dataset, split, opts);
        console.log(`${split} [${views}]: ${f.ids.length} images cached`);
      }
    }
    console.log(`cache: ${cacheDir}`);
  } finally {
    await disposeRunInputs();
  }
}

if (import.meta.main) await runCli(() => main(Deno.args));
