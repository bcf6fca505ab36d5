/**
 * `deno task experiment`: the paper's experiments as named, cached runs — the main results
 * (TeD-Loc, CAM, vanilla similarity, centre prior) and the loss and orthogonalization
 * ablations — on the embedded default or CUB-50, 2 runs at a time. The notebooks read the
 * same runs (runs/<dataset>/<variant>/results.json).
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { intFlag, parseCli, runCli, UsageError } from "../lib/util/cli.ts";
import { setResumeHint } from "../lib/util/interrupt.ts";
import { checkOutputDir, checkOutputFile } from "../lib/util/output.ts";
import { projectPath } from "../lib/util/paths.ts";
import type { DatasetProfile } from "../lib/config/schema.ts";
import { tableMarkdown } from "../lib/viz/table.ts";
import { measuredTable1Rows, TABLE1_COLUMNS } from "../lib/report/tables.ts";
import {
  ALL_VARIANTS,
  disposeExperiment,
  type ExperimentDataset,
  type ExperimentRecord,
  type ExperimentVariant,
  EXTRA_VARIANTS,
  loadExperiment,
  LOSS_ABLATION,
  ORTHO_ABLATION,
  runExperiments,
  type SeedStat,
  seedSummary,
} from "../lib/run/experiment.ts";
import { defaultParallelRuns } from "../lib/run/worker.ts";

const GROUPS: Record<string, ExperimentVariant[]> = {
  main: ["main"],
  loss: LOSS_ABLATION,
  ortho: ORTHO_ABLATION,
  all: ALL_VARIANTS,
};

const SPEC = {
  usage:
    "deno task experiment [--dataset default|cub50] [--variant V|main|loss|ortho|all …] [--set k=v …]",
  description:
    "Run the named experiment variants — the configs configs/<dataset>/<variant>.json — (missing " +
    "runs only; equal configs once; --parallel at a time in child processes) and print their test " +
    `tables. Variants: ${ALL_VARIANTS.join(", ")}; groups: main, loss, ortho, all (default all); ` +
    `named only (CUB-50): ${EXTRA_VARIANTS.join(", ")}.`,
  options: {
    dataset: {
      type: "string" as const,
      help: "default (embedded) or cub50 (needs TEDLOC_CUB_ROOT or TEDLOC_SHARED_DATA)",
      default: "default",
    },
    profile: { type: "string" as const, help: "embedded-default size: ci, quick, full" },
    variant: {
      type: "string" as const,
      multiple: true,
      help: "variant or group (repeatable; default all)",
    },
    set: {
      type: "string" as const,
      multiple: true,
      help: "override one key of every variant's config, e.g. --set train.epochs=5",
    },
    parallel: {
      type: "string" as const,
      help:
        `runs at once (default: one per core within free memory; here ${defaultParallelRuns()})`,
    },
    seeds: {
      type: "string" as const,
      help: "training seeds, e.g. 0,1,2 (default 0); several seeds print TeD-Loc's mean ± sd",
      default: "0",
    },
    force: { type: "boolean" as const, help: "run again even when finished" },
    "encoder-in-loop": {
      type: "boolean" as const,
      help:
        "run the frozen encoder inside training instead of caching its tokens (data larger than the disk)",
    },
    json: { type: "string" as const, help: "also write the records to this JSON file" },
    "runs-dir": { type: "string" as const, help: "parent of the run folders (default runs/)" },
    "cub-root": { type: "string" as const, help: "CUB_200_2011 folder" },
    mobilenet: { type: "string" as const, help: "MobileNet tfjs folder (overrides encoder.model)" },
  },
};

async function main(args: string[]): Promise<void> {
  const cli = parseCli(args, SPEC);
  if (cli === null) return;
  const kind = cli.values.dataset as string;
  if (kind !== "default" && kind !== "cub50") {
    throw new UsageError(`--dataset must be default or cub50, got '${kind}'`);
  }
  const requested = (cli.values.variant as string[] | undefined) ?? ["all"];
  const variants: ExperimentVariant[] = [];
  for (const v of requested.flatMap((x) => x.split(","))) {
    const known = [...ALL_VARIANTS, ...EXTRA_VARIANTS];
    const group = GROUPS[v] ?? (known.includes(v as ExperimentVariant) ? [v] : null);
    if (!group) {
      throw new UsageError(
        `unknown variant '${v}': use ${known.join(", ")} or main, loss, ortho, all`,
      );
    }
    for (const g of group as ExperimentVariant[]) if (!variants.includes(g)) variants.push(g);
  }
  const seeds = parseSeeds(cli.values.seeds as string);
  const parallel = intFlag(cli, "parallel", { min: 1 });
  await checkOutputDir((cli.values["runs-dir"] as string | undefined) ?? projectPath("runs"));
  if (cli.values.json) await checkOutputFile(cli.values.json as string);
  setResumeHint("run the same command again: finished runs are kept, the others resume");
  const t0 = performance.now();
  const load = (seed: number) =>
    loadExperiment(kind as ExperimentDataset, {
      profile: cli.values.profile as DatasetProfile | undefined,
      runsDir: cli.values["runs-dir"] as string | undefined,
      cubRoot: cli.values["cub-root"] as string | undefined,
      mobilenetDir: cli.values.mobilenet as string | undefined,
      set: cli.values.set as string[] | undefined,
      seed,
    });
  await initBackend();
  // every config is resolved (and so validated) before any slow work
  const contexts = [];
  for (const seed of seeds) contexts.push(await load(seed));
  console.error(`runs at once: ${parallel ?? defaultParallelRuns()}`);
  const bySeed = new Map<number, Map<ExperimentVariant, ExperimentRecord>>();
  for (const ctx of contexts) {
    console.error(`${ctx.description}${seeds.length > 1 ? `, seed ${ctx.seed}` : ""}`);
    const recs = await runExperiments(ctx, variants, {
      parallel,
      force: !!cli.values.force,
      encoderInLoop: !!cli.values["encoder-in-loop"],
    });
    bySeed.set(ctx.seed, recs);
    if (seeds.length === 1) {
      const backbone = ctx.encoder.id.split("@")[0];
      const rows = variants.flatMap((v) =>
        measuredTable1Rows(recs.get(v)!.rows, ctx.dataset.name, backbone)
          .map((r) => ({ variant: v, run: recs.get(v)!.runKey.slice(0, 8), ...r }))
      );
      console.log(tableMarkdown(rows, [
        { key: "variant", label: "variant" },
        { key: "run", label: "run" },
        ...TABLE1_COLUMNS,
      ]));
    }
  }
  await disposeExperiment();
  if (seeds.length > 1) {
    // TeD-Loc rows over seeds: mean ± sd (min–max)
    const cell = (x: SeedStat | undefined) =>
      x
        ? `${x.mean.toFixed(1)} ± ${x.sd.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`
        : "–";
    const rows = variants.map((v) => {
      const s = seedSummary(seeds.map((k) => bySeed.get(k)!.get(v)!));
      return {
        variant: v,
        maxBoxAcc: cell(s.maxBoxAcc),
        maxBoxAccV2: cell(s.maxBoxAccV2),
        top1Loc: cell(s.top1Loc),
        top1Cls: cell(s.top1Cls),
      };
    });
    console.log(`TeD-Loc over seeds ${seeds.join(", ")}: mean ± sd (min–max)\n`);
    console.log(tableMarkdown(rows, [
      { key: "variant", label: "variant" },
      { key: "maxBoxAcc", label: "MaxBoxAcc" },
      { key: "maxBoxAccV2", label: "MaxBoxAccV2" },
      { key: "top1Loc", label: "Top-1 Loc" },
      { key: "top1Cls", label: "Top-1 cls" },
    ]));
  }
  console.log(`\n${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
  if (cli.values.json) {
    const json = seeds.length === 1
      ? Object.fromEntries(bySeed.get(seeds[0])!)
      : Object.fromEntries([...bySeed].map(([k, recs]) => [`seed${k}`, Object.fromEntries(recs)]));
    await Deno.writeTextFile(cli.values.json as string, JSON.stringify(json, null, 2) + "\n");
  }
}

/** `--seeds 0,1,2` or `--seeds 3` (one seed) → distinct non-negative integers, in order. */
function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(",")) {
    const n = Number(part.trim());
    if (part.trim() === "" || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`--seeds takes non-negative integers like 0,1,2, got '${text}'`);
    }
    if (!seeds.includes(n)) seeds.push(n);
  }
  return seeds;
}

if (import.meta.main) await runCli(() => main(Deno.args));
