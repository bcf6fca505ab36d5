/**
 * `deno task make-dataset [--profile ci|quick|full] [--seed N] [--out DIR]`: generate the
 * embedded default dataset (synthetic birds with exact boxes and masks, attribute anchors).
 *
 * @module
 */
import { intFlag, parseCli, runCli, UsageError } from "../lib/util/cli.ts";
import { checkOutputDir } from "../lib/util/output.ts";
import {
  type DatasetProfile,
  defaultDatasetName,
  generateDefaultDataset,
  SYNTHETIC_PROFILES,
  writeDatasetSample,
} from "../lib/data/synthetic.ts";
import { projectPath } from "../lib/util/paths.ts";

const SPEC = {
  usage:
    "deno task make-dataset [--profile ci|quick|full] [--seed N] [--out DIR] [--workers N] [--sample DIR]",
  description: "Generate the embedded default WSOL dataset (synthetic birds whose classes differ " +
    "only in head colour, crest shape and wing pattern; exact boxes and masks; attribute " +
    "anchors standing in for CLIP). Deterministic from the seed. Default output: " +
    "data/generated/default-<profile>[-s<seed>].",
  options: {
    profile: { type: "string" as const, help: "ci | quick | full", default: "quick" },
    seed: { type: "string" as const, help: "integer seed", default: "0" },
    out: { type: "string" as const, help: "output folder (replaced)" },
    workers: { type: "string" as const, help: "render workers (default: one per core, ≤ 4)" },
    sample: {
      type: "string" as const,
      help: "also write a 4-image sample (PNGs, masks, overview.jpg) into this folder",
    },
  },
};

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (a === null) return;
  const profile = a.values.profile as string;
  if (!(profile in SYNTHETIC_PROFILES)) {
    throw new UsageError(`--profile must be ci, quick or full, got '${profile}'`);
  }
  const seed = intFlag(a, "seed", { min: -(2 ** 31), max: 2 ** 31 - 1 })!; // Rng takes 32 bits
  const workers = intFlag(a, "workers", { min: 0, max: 64 });
  const name = defaultDatasetName(profile as DatasetProfile, seed);
  const out = (a.values.out as string | undefined) ?? projectPath("data", "generated", name);
  const sample = a.values.sample as string | undefined;
  // the folder is replaced through a temporary sibling: its parent must be writable too
  await checkOutputDir(out, { atomic: true });
  if (sample) await checkOutputDir(sample);
  const t0 = performance.now();
  const ds = await generateDefaultDataset(out, {
    profile: profile as DatasetProfile,
    seed,
    workers,
    progress: true,
    name,
  });
  const counts = Object.entries(ds.splits).map(([k, m]) => `${k} ${m.imageIds.length}`).join(", ");
  if (sample) await writeDatasetSample(ds, sample, 4);
  console.log(
    `make-dataset: ${ds.classNames.length} classes, ${counts} → ${out} ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}

if (import.meta.main) await runCli(() => main(Deno.args));
