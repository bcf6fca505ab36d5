/**
 * `deno task train`: the TeD-Loc experiment on a dataset (default: the embedded synthetic
 * dataset) — frozen features (cached), cues, TeD-Loc and the CAM baseline, then the test
 * table (TeD-Loc, CAM, vanilla similarity, centre prior). Config from a JSON file and/or flags.
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { InputError } from "../lib/io/errors.ts";
import { numberFlag, parseCli, runCli, UsageError } from "../lib/util/cli.ts";
import { projectPath } from "../lib/util/paths.ts";
import { loadDataset } from "../lib/data/dataset.ts";
import { ensureDefaultDataset } from "../lib/data/synthetic.ts";
import { readAnchors } from "../lib/text/anchors.ts";
import {
  DEFAULT_MOBILENET_DIR,
  TfjsCnnClassifier,
  TfjsCnnEncoder,
} from "../lib/model/mobilenet.ts";
import { resolveTrainConfig, type TrainConfigInput } from "../lib/train/trainer.ts";
import { runTedLocPipeline } from "../lib/train/pipeline.ts";

const SPEC = {
  usage: "deno task train [--dataset DIR] [--config FILE.json] [--out DIR] [flags]",
  description:
    "Train TeD-Loc (decoder + patch classifier) on cached frozen tokens and evaluate it beside the CAM baseline, " +
    "vanilla patch–text similarity and the centre prior. Without --dataset the embedded default dataset is used " +
    "(profile from TEDLOC_PROFILE). Flags override the JSON config (a TrainConfig: model, anchors, loss, sampler, " +
    "optimizer, schedule, epochs, batchSize, seed).",
  options: {
    dataset: {
      type: "string" as const,
      help: "dataset folder (holds dataset.json; e.g. from prepare-cub)",
    },
    anchors: { type: "string" as const, help: "anchors file (default: the dataset's)" },
    encoder: {
      type: "string" as const,
      help: "tfjs Layers model folder (default: vendored MobileNet v1 0.25)",
    },
    layer: {
      type: "string" as const,
      help: "encoder layer giving the tokens",
      default: "conv_pw_11_relu",
    },
    cues: {
      type: "string" as const,
      help: "cue recipe, e.g. inet5*cam*prior, cam+prior, files:DIR",
      default: "inet5*cam*prior",
    },
    config: { type: "string" as const, help: "JSON file with a (partial) TrainConfig" },
    epochs: { type: "string" as const, help: "epochs" },
    lr: { type: "string" as const, help: "peak learning rate" },
    ortho: { type: "string" as const, help: "anchor orthogonalization: none, qr, symmetric" },
    "proj-dim": {
      type: "string" as const,
      help: "anchor projection dimension (default: the anchors' own)",
    },
    "fg-fraction": { type: "string" as const, help: "FG candidates: top fraction of the cue" },
    "bg-fraction": { type: "string" as const, help: "BG candidates: bottom fraction of the cue" },
    seed: { type: "string" as const, help: "seed" },
    "val-fraction": {
      type: "string" as const,
      help: "held-out part of train when the dataset has no val split",
      default: "0.2",
    },
    out: {
      type: "string" as const,
      help: "run folder (checkpoint, metrics.jsonl, results.json, scoremaps/)",
    },
    rounds: {
      type: "string" as const,
      help: "training rounds (>1: self-training on the previous model's maps)",
      default: "1",
    },
    resume: { type: "boolean" as const, help: "resume TeD-Loc training from the run folder" },
    workers: { type: "string" as const, help: "feature extraction workers", default: "2" },
  },
};

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  await initBackend();
  let cfg: TrainConfigInput = {};
  if (typeof a.values.config === "string") {
    try {
      cfg = JSON.parse(await Deno.readTextFile(a.values.config));
    } catch (err) {
      throw new InputError(`cannot read config: ${(err as Error).message}`, {
        file: a.values.config,
      });
    }
  }
  const n = (k: string) => numberFlag(a, k);
  if (n("epochs") !== undefined) cfg.epochs = n("epochs");
  if (n("seed") !== undefined) cfg.seed = n("seed");
  if (n("lr") !== undefined) cfg.optimizer = { ...cfg.optimizer, lr: n("lr") };
  if (a.values.ortho !== undefined) {
    const o = a.values.ortho as string;
    if (!["none", "qr", "symmetric"].includes(o)) {
      throw new UsageError(`--ortho must be none, qr or symmetric, got '${o}'`);
    }
    cfg.anchors = { ...cfg.anchors, ortho: o as "none" | "qr" | "symmetric" };
  }
  if (n("proj-dim") !== undefined) cfg.anchors = { ...cfg.anchors, projDim: n("proj-dim") };
  if (n("fg-fraction") !== undefined) {
    cfg.sampler = { ...cfg.sampler, fgFraction: n("fg-fraction") };
  }
  if (n("bg-fraction") !== undefined) {
    cfg.sampler = { ...cfg.sampler, bgFraction: n("bg-fraction") };
  }
  try {
    resolveTrainConfig(cfg); // fail on a bad config before any slow work
  } catch (err) {
    throw new InputError(`bad training config: ${(err as Error).message}`);
  }
  const dataset = typeof a.values.dataset === "string"
    ? await loadDataset(a.values.dataset)
    : await ensureDefaultDataset();
  const anchorsPath = (a.values.anchors as string | undefined) ?? dataset.anchorsPath;
  if (!anchorsPath) {
    throw new InputError(`dataset '${dataset.name}' ships no anchors: pass --anchors FILE`);
  }
  const anchors = await readAnchors(anchorsPath);
  if (anchors.count !== dataset.classNames.length) {
    throw new InputError(`${anchors.count} anchors for ${dataset.classNames.length} classes`, {
      file: anchorsPath,
    });
  }
  const encDir = (a.values.encoder as string | undefined) ?? DEFAULT_MOBILENET_DIR;
  const encoder = await TfjsCnnEncoder.load(encDir, { layer: a.values.layer as string });
  const recipe = a.values.cues as string;
  const classifier = /inet\d/.test(recipe) ? await TfjsCnnClassifier.load(encDir) : undefined;
  const out = (a.values.out as string | undefined) ?? projectPath("runs", `tedloc-${dataset.name}`);
  const stop = new AbortController();
  const onInterrupt = () => {
    console.error(
      "\ninterrupt: stopping after this step (the last epoch's checkpoint is kept; --resume continues)",
    );
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const r = await runTedLocPipeline({
    dataset,
    encoder,
    classifier,
    anchors,
    cues: recipe,
    train: cfg,
    outDir: out,
    resume: a.values.resume === true,
    valFraction: n("val-fraction"),
    workers: n("workers"),
    rounds: n("rounds"),
    signal: stop.signal,
  }).finally(() => Deno.removeSignalListener("SIGINT", onInterrupt));
  console.log(
    `\n${dataset.name}: cues ${r.config.cues}, ${r.config.fitIds} train / ${r.config.valIds} val images`,
  );
  console.log("method        MaxBoxAcc  V2    Top-1Loc  Top-1Cls  params(M)  ms/img");
  const f = (v: number | undefined, w: number) =>
    (v === undefined ? "–" : v.toFixed(1)).padStart(w);
  for (const row of r.rows) {
    const m = row.metrics;
    console.log(
      `${row.method.padEnd(13)} ${m.maxBoxAcc.toFixed(1).padStart(8)} ${
        m.maxBoxAccV2.toFixed(1).padStart(5)
      } ${f(m.top1Loc, 9)} ${f(m.top1Cls, 9)} ${(row.params.total / 1e6).toFixed(3).padStart(10)} ${
        row.msPerImage.toFixed(1).padStart(7)
      }`,
    );
  }
  console.log(`results: ${out}/results.json, checkpoint: ${out}/last.safetensors`);
  r.model.dispose();
  r.cam.dispose();
  encoder.dispose();
  classifier?.dispose?.();
}

if (import.meta.main) await runCli(() => main(Deno.args));
