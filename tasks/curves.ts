/**
 * `deno task curves`: per-epoch Top-1 cls, MaxBoxAcc and MaxBoxAccV2 of TeD-Loc (round 1) and
 * of the CAM baseline on held-out images (lib/run/curves.ts), and whether each head's
 * classification and localization peaks fall on the same epoch. Default config: the
 * dataset's base (configs/<dataset>/base.json) with 20 % of train held out when the dataset
 * has no val split. Cached in runs/<data>/curves/<key>/curves.json.
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { floatFlag, intFlag, parseCli, runCli, UsageError } from "../lib/util/cli.ts";
import { checkOutputDir } from "../lib/util/output.ts";
import { projectPath } from "../lib/util/paths.ts";
import { join } from "node:path";
import type { DatasetProfile } from "../lib/config/schema.ts";
import { disposeRunInputs } from "../lib/run/inputs.ts";
import { computeCurves, type CurveMethod, curvesConfig, peakAgreement } from "../lib/run/curves.ts";
import { tableMarkdown } from "../lib/viz/table.ts";

const SPEC = {
  usage:
    "deno task curves [--dataset default|cub50] [--config F.json] [--method tedloc|cam …] [--set k=v …]",
  description:
    "Train TeD-Loc (round 1) and the CAM baseline as a run of the config does, scoring each on " +
    "the held-out images after every epoch (the dataset's val split, else --val-fraction of " +
    "train; never the test split), and print the curves and their best epochs. Cached by " +
    "content key in <runs-dir>/<data>/curves/<key>/curves.json.",
  options: {
    dataset: {
      type: "string" as const,
      help: "default or cub50: its configs/<dataset>/base.json (unless --config)",
      default: "default",
    },
    config: { type: "string" as const, help: "run config (JSON) instead of the dataset's base" },
    profile: { type: "string" as const, help: "embedded-default size: ci, quick (default), full" },
    "val-fraction": {
      type: "string" as const,
      help: "held-out part of train when the dataset has no val split (default 0.2)",
      default: "0.2",
    },
    method: {
      type: "string" as const,
      multiple: true,
      help: "tedloc and/or cam (default both)",
    },
    "every-tedloc": { type: "string" as const, help: "score TeD-Loc every N epochs (default 1)" },
    "every-cam": { type: "string" as const, help: "score CAM every N epochs (default 1)" },
    set: {
      type: "string" as const,
      multiple: true,
      help: "override one key of the config, e.g. --set encoder.layer=conv_pw_13_relu",
    },
    force: { type: "boolean" as const, help: "compute again even when cached" },
    "runs-dir": { type: "string" as const, help: "parent of runs/<data>/curves (default runs/)" },
  },
};

async function main(args: string[]): Promise<void> {
  const cli = parseCli(args, SPEC);
  if (cli === null) return;
  const kind = cli.values.dataset as string;
  if (kind !== "default" && kind !== "cub50") {
    throw new UsageError(`--dataset must be default or cub50, got '${kind}'`);
  }
  const methods = ((cli.values.method as string[] | undefined) ?? ["tedloc", "cam"])
    .flatMap((m) => m.split(","));
  for (const m of methods) {
    if (m !== "tedloc" && m !== "cam") {
      throw new UsageError(`--method must be tedloc or cam, got '${m}'`);
    }
  }
  const valFraction = floatFlag(cli, "val-fraction", { min: 0, max: 0.9 })!;
  const everyT = intFlag(cli, "every-tedloc", { min: 1 });
  const everyC = intFlag(cli, "every-cam", { min: 1 });
  const runsDir = (cli.values["runs-dir"] as string | undefined) ?? projectPath("runs");
  await checkOutputDir(runsDir);
  const profile = (cli.values.profile as DatasetProfile | undefined) ??
    (Deno.env.get("TEDLOC_PROFILE") as DatasetProfile | undefined) ?? "quick";
  const cfg = await curvesConfig(kind, profile, {
    valFraction,
    file: cli.values.config as string | undefined,
    set: cli.values.set as string[] | undefined,
  });
  await initBackend();
  const { record, dir } = await computeCurves(cfg, {
    methods: methods as CurveMethod[],
    evalEvery: { tedloc: everyT, cam: everyC },
    runsDir,
    force: !!cli.values.force,
  });
  await disposeRunInputs();
  console.log(
    `${record.description}\nheld out: ${record.valIds} images (${record.heldOut}), ` +
      `trained on ${record.fitIds}\n`,
  );
  for (const [m, c] of Object.entries(record.curves)) {
    console.log(`${m} (${c.epochs} epochs):\n`);
    console.log(tableMarkdown(
      c.points.map((p) => ({
        epoch: p.epoch,
        loss: p.loss.toFixed(3),
        top1Cls: p.top1Cls.toFixed(1),
        maxBoxAcc: p.maxBoxAcc.toFixed(1),
        maxBoxAccV2: p.maxBoxAccV2.toFixed(1),
      })),
      [
        { key: "epoch", label: "epoch" },
        { key: "loss", label: "loss" },
        { key: "top1Cls", label: "Top-1 cls" },
        { key: "maxBoxAcc", label: "MaxBoxAcc" },
        { key: "maxBoxAccV2", label: "MaxBoxAccV2" },
      ],
    ));
    const a = peakAgreement(c);
    console.log(
      `best epoch: Top-1 cls ${a.cls}, MaxBoxAccV2 ${a.loc}, MaxBoxAcc ${c.best.maxBoxAcc}: ` +
        (a.coincide ? "the peaks coincide" : `${Math.abs(a.gap)} epoch(s) apart`) + "\n",
    );
  }
  console.log(`curves: ${join(dir, "curves.json")}`);
}

if (import.meta.main) await runCli(() => main(Deno.args));
