/**
 * `deno task localize IMAGE… --checkpoint F [--out DIR]`: class and localization of images
 * with a trained TeD-Loc checkpoint. Writes `<out>/<name>.png` (heat map overlay, predicted
 * box red) and `<out>/localize.json` (top-k classes, boxes), and prints one line per image.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { InputError } from "../lib/io/errors.ts";
import { writeFileAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { numberFlag, parseCli, requireFlag, runCli } from "../lib/util/cli.ts";
import { applyImageView, decodeImage, drawImageView } from "../lib/data/image.ts";
import { type EncoderSpec, loadEncoder } from "../lib/model/load_encoder.ts";
import { TfjsCnnEncoder } from "../lib/model/mobilenet.ts";
import type { PatchEncoder } from "../lib/model/encoder.ts";
import { tedLocHead } from "../lib/model/baselines.ts";
import { loadTedLocCheckpoint } from "../lib/train/checkpoint.ts";
import { localizeImages } from "../lib/train/localize.ts";
import { heatmapOverlayPng } from "../lib/viz/overlay.ts";

const SPEC = {
  usage: "deno task localize IMAGE… --checkpoint FILE [--out DIR]",
  description:
    "Predict the class and the localization map of each image with a TeD-Loc checkpoint (made by `deno task train`). " +
    "The encoder is rebuilt from the recipe stored in the checkpoint, or loaded from --encoder.",
  options: {
    checkpoint: { type: "string" as const, help: "TeD-Loc checkpoint (.safetensors)" },
    out: {
      type: "string" as const,
      help: "output folder for overlays and localize.json",
      default: "runs/localize",
    },
    encoder: {
      type: "string" as const,
      help: "tfjs encoder folder (when the checkpoint has no encoder recipe)",
    },
    layer: {
      type: "string" as const,
      help: "encoder layer with --encoder",
      default: "conv_pw_11_relu",
    },
    topk: { type: "string" as const, help: "classes to list", default: "5" },
    threshold: {
      type: "string" as const,
      help: "box threshold as a fraction of the map maximum",
      default: "0.5",
    },
  },
  positionals: true,
};

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (!a) return;
  if (a.positionals.length === 0) throw new InputError("no images given (see --help)");
  await initBackend();
  const ckpt = requireFlag(a, "checkpoint");
  const { model, info } = await loadTedLocCheckpoint(ckpt);
  let encoder: PatchEncoder;
  if (typeof a.values.encoder === "string") {
    encoder = await TfjsCnnEncoder.load(a.values.encoder, { layer: a.values.layer as string });
  } else if (info.encoderSpec) {
    encoder = await loadEncoder(info.encoderSpec as EncoderSpec);
  } else {
    throw new InputError("checkpoint has no encoder recipe: pass --encoder DIR", { file: ckpt });
  }
  if (encoder.id !== info.encoderId) {
    throw new InputError(
      `encoder '${encoder.id}' differs from the checkpoint's '${info.encoderId}'`,
      { file: ckpt },
    );
  }
  const out = a.values.out as string;
  const tau = numberFlag(a, "threshold")!, topk = numberFlag(a, "topk")!;
  const head = tedLocHead(model);
  const report: unknown[] = [];
  const used = new Set<string>();
  for (const path of a.positionals) {
    const img = await decodeImage(path);
    const rgb = applyImageView(img, drawImageView("test"));
    const x = tf.tensor4d(Float32Array.from(rgb), [1, 224, 224, 3]);
    const [r] = localizeImages(head, encoder, x, {
      topk,
      boxThreshold: tau,
      classNames: model.anchors.classNames,
    });
    x.dispose();
    let name = basename(path).replace(/\.[^.]+$/, "");
    while (used.has(name)) name += "_";
    used.add(name);
    const png = await heatmapOverlayPng(rgb, r.map, { predBoxes: [r.boxes[0]] });
    await writeFileAtomic(join(out, `${name}.png`), png);
    const sx = img.width / 224, sy = img.height / 224;
    const b = r.boxes[0];
    report.push({
      image: path,
      overlay: join(out, `${name}.png`),
      topk: r.topk,
      box224: b,
      box: [b[0] * sx, b[1] * sy, (b[2] + 1) * sx - 1, (b[3] + 1) * sy - 1].map((v) =>
        Math.round(v * 10) / 10
      ),
      threshold: tau,
    });
    console.log(
      `${path}: ${r.topk[0].name} (p ${r.topk[0].prob.toFixed(3)}) box [${b.join(", ")}] → ${
        join(out, `${name}.png`)
      }`,
    );
  }
  await writeTextAtomic(join(out, "localize.json"), JSON.stringify(report, null, 2) + "\n");
  head.dispose();
  encoder.dispose();
}

if (import.meta.main) await runCli(() => main(Deno.args));
