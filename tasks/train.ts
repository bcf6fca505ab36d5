/**
 * `deno task train`: one run of a config — frozen features (cached), cues, TeD-Loc and the
 * CAM baseline, then the test table (TeD-Loc, CAM, vanilla similarity, centre prior). The
 * config is a JSON file (default: the README's main config on the embedded default) plus
 * `--set key.path=value` overrides; the shortcut flags are `--set`s too. Everything is
 * validated before any slow work; the resolved config is saved in the run folder.
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { intFlag, parseCli, runCli } from "../lib/util/cli.ts";
import { interruptSignal, setResumeHint } from "../lib/util/interrupt.ts";
import { checkOutputDir } from "../lib/util/output.ts";
import { projectPath } from "../lib/util/paths.ts";
import { type ConfigLayer, resolveRunConfig, setLayer } from "../lib/config/resolve.ts";
import { experimentConfigFile } from "../lib/run/experiment.ts";
import { runConfig } from "../lib/run/run.ts";
import { disposeRunInputs } from "../lib/run/inputs.ts";

/** Shortcut flags: each is `--set <path>=<value>`. */
const SHORTCUTS: Record<string, { path: string; help: string }> = {
  anchors: { path: "anchors.file", help: "anchors file (default: the dataset's)" },
  encoder: {
    path: "encoder.model",
    help:
      "tfjs Layers model folder or a timm-named ViT .safetensors (default: the dataset's MobileNet)",
  },
  layer: { path: "encoder.layer", help: "encoder layer giving the tokens" },
  cues: { path: "cues.recipe", help: "cue recipe, e.g. inet5*cam*prior, cam+prior, files:DIR" },
  epochs: { path: "train.epochs", help: "epochs" },
  lr: { path: "optimizer.lr", help: "peak learning rate" },
  ortho: {
    path: "anchors.ortho",
    help: "anchors: none (as they come), centre (centred only), qr, symmetric",
  },
  "proj-dim": { path: "anchors.projDim", help: "anchor projection dimension" },
  "fg-fraction": { path: "sampler.fgFraction", help: "FG candidates: top fraction of the cue" },
  "bg-fraction": { path: "sampler.bgFraction", help: "BG candidates: bottom fraction of the cue" },
  seed: { path: "train.seed", help: "training seed" },
  "val-fraction": {
    path: "dataset.valFraction",
    help: "held-out part of train when the dataset has no val split",
  },
  rounds: { path: "train.rounds", help: "training rounds (>1: self-training)" },
};

const SPEC = {
  usage: "deno task train [--config F.json] [--set key.path=value …] [--out DIR] [flags]",
  description:
    "Run one config: train TeD-Loc (decoder + patch classifier) on cached frozen tokens " +
    "and evaluate it beside the CAM baseline, vanilla patch–text similarity and the centre prior. " +
    "Default config: configs/default/main.json (the README's table on the embedded default). " +
    "A finished run is read back; an interrupted one resumes when run again. Runs go to " +
    "runs/<data>/<run key>/ unless --out is given.",
  options: {
    config: { type: "string" as const, help: "run config (JSON; see configs/)" },
    set: {
      type: "string" as const,
      multiple: true,
      help: "override one key, e.g. --set train.epochs=5 (repeatable)",
    },
    profile: { type: "string" as const, help: "embedded-default size: ci, quick, full" },
    dataset: {
      type: "string" as const,
      help:
        "a prepared dataset folder (holds dataset.json): --set dataset.kind=folder dataset.path=DIR",
    },
    ...Object.fromEntries(
      Object.entries(SHORTCUTS).map(([k, s]) => [
        k,
        { type: "string" as const, help: `${s.help} (= --set ${s.path})` },
      ]),
    ),
    out: { type: "string" as const, help: "run folder (default runs/<data>/<run key>/)" },
    workers: {
      type: "string" as const,
      help: "feature extraction workers (default: one per core)",
    },
    force: { type: "boolean" as const, help: "run again even when finished" },
    "encoder-in-loop": {
      type: "boolean" as const,
      help: "run the frozen encoder on each batch instead of caching its tokens (data larger " +
        "than the disk; also chosen when the cache estimate exceeds the free space)",
    },
  },
};

/** The flags' overrides, each named by its flag in errors. */
function flagOverrides(values: Record<string, unknown>): { layer: ConfigLayer; where: string }[] {
  const out: { layer: ConfigLayer; where: string }[] = [];
  if (typeof values.dataset === "string") {
    out.push({ layer: { dataset: { kind: "folder", path: values.dataset } }, where: "--dataset" });
  }
  for (const [flag, s] of Object.entries(SHORTCUTS)) {
    const v = values[flag];
    if (typeof v === "string") out.push({ layer: setLayer(`${s.path}=${v}`), where: `--${flag}` });
  }
  return out;
}

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  const workers = intFlag(a, "workers", { min: 1 });
  const cfg = await resolveRunConfig({
    file: (a.values.config as string | undefined) ?? experimentConfigFile("default", "main"),
    profile: (a.values.profile as string | undefined) ?? Deno.env.get("TEDLOC_PROFILE"),
    overrides: flagOverrides(a.values),
    set: a.values.set as string[] | undefined,
  });
  const out = a.values.out as string | undefined;
  await checkOutputDir(out ?? projectPath("runs")); // before any slow work
  await initBackend();
  setResumeHint("run the same command again: training resumes from its last finished epoch");
  try {
    const { record, dir } = await runConfig(cfg, {
      runDir: out,
      workers,
      encoderInLoop: !!a.values["encoder-in-loop"],
      signal: interruptSignal(),
      force: !!a.values.force,
    });
    console.log(
      `\n${record.description}\ncues ${record.config.cues}, ` +
        `${record.config.fitIds} train / ${record.config.valIds} val images`,
    );
    console.log("method        MaxBoxAcc  V2    Top-1Loc  Top-1Cls  params(M)  ms/img");
    const f = (v: number | undefined, w: number) =>
      (v === undefined ? "–" : v.toFixed(1)).padStart(w);
    for (const row of record.rows) {
      const m = row.metrics;
      console.log(
        `${row.method.padEnd(13)} ${f(m.maxBoxAcc, 8)} ${f(m.maxBoxAccV2, 5)} ${f(m.top1Loc, 9)} ${
          f(m.top1Cls, 9)
        } ${(row.params.total / 1e6).toFixed(3).padStart(10)} ${
          row.msPerImage.toFixed(1).padStart(7)
        }`,
      );
    }
    console.log(`run folder: ${dir} (config.json, results.json, last.safetensors, scoremaps/)`);
  } finally {
    await disposeRunInputs();
  }
}

if (import.meta.main) await runCli(() => main(Deno.args));
