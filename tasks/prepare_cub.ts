/**
 * `deno task prepare-cub --root DIR --out DIR`: convert a CUB-200-2011 folder (original layout)
 * into a dataset folder (wsolevaluation metadata + classes.txt + dataset.json; images stay
 * where they are).
 *
 * @module
 */
import { parseCli, requireFlag, runCli, UsageError } from "../lib/util/cli.ts";
import { checkOutputDir } from "../lib/util/output.ts";
import { prepareCub } from "../lib/data/cub.ts";

const SPEC = {
  usage: "deno task prepare-cub --root DIR --out DIR [--skip-bad] [--relative] [--no-decode-check]",
  description: "Read CUB-200-2011's images.txt, image_class_labels.txt, train_test_split.txt, " +
    "bounding_boxes.txt and classes.txt under --root and write metadata/{train,test}/, " +
    "classes.txt and dataset.json under --out (the layout of clovaai/wsolevaluation's " +
    "metadata/CUB). Every image is decoded once (at 1/8 scale) so corrupt or truncated files are " +
    "found now, with libvips' reason. Bad input stops with file:line unless --skip-bad is given.",
  options: {
    root: { type: "string" as const, help: "CUB_200_2011 folder (holds images.txt, images/)" },
    out: { type: "string" as const, help: "output dataset folder" },
    "skip-bad": {
      type: "boolean" as const,
      help: "leave bad images out and report them instead of stopping",
    },
    relative: {
      type: "boolean" as const,
      help: "write imageRoot relative to --out (default: absolute)",
    },
    name: { type: "string" as const, help: "dataset name", default: "CUB" },
    "no-decode-check": {
      type: "boolean" as const,
      help: "read image headers only (fast; corrupt images then fail later, in training)",
    },
  },
};

async function main(args: string[]): Promise<void> {
  const a = parseCli(args, SPEC);
  if (a === null) return;
  const root = requireFlag(a, "root");
  const out = requireFlag(a, "out");
  if (a.values.name === "") throw new UsageError("--name must not be empty");
  await checkOutputDir(out); // a read-only or wrong --out fails now, not after the images
  const t0 = performance.now();
  const r = await prepareCub(root, out, {
    onBadLine: a.values["skip-bad"] ? "skip" : "error",
    imageRoot: a.values.relative ? "relative" : "absolute",
    name: a.values.name as string,
    progress: true,
    checkDecode: !a.values["no-decode-check"],
  });
  for (const s of r.skipped) console.error(`skipped: ${s.file}:${s.line}: ${s.reason}`);
  const counts = Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(
    `prepare-cub: ${r.classNames.length} classes, ${counts}` +
      (r.skipped.length > 0 ? `, ${r.skipped.length} bad lines skipped` : "") +
      (r.undecodable.length > 0 ? ` (${r.undecodable.length} images that do not decode)` : "") +
      ` → ${r.out}/dataset.json (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}

if (import.meta.main) await runCli(() => main(Deno.args));
