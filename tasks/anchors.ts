/**
 * `deno task anchors`: write an anchors file (lib/text/anchors.ts format) from one of
 * three sources — a CLIP text model (`--weights`), class attribute vectors
 * (`--attributes`), or precomputed embeddings (`--embeddings`).
 *
 * @module
 */
import { basename } from "node:path";
import { type BackendChoice, initBackend } from "../lib/backend/backend.ts";
import { readSafetensors } from "../lib/io/safetensors.ts";
import { type Anchors, writeAnchors } from "../lib/text/anchors.ts";
import { anchorStatistics } from "../lib/text/analysis.ts";
import { type ClipActivation, ClipTextEncoder } from "../lib/text/clip_text.ts";
import {
  anchorSourceTag,
  attributeAnchors,
  clipTextAnchors,
  DEFAULT_PROMPT_TEMPLATE,
  embeddingAnchors,
  findCubIdList,
  readAttributeMatrix,
  readClassList,
} from "../lib/text/sources.ts";
import { loadClipTokenizer } from "../lib/text/tokenizer.ts";
import {
  type CliArgs,
  intFlag,
  parseCli,
  requireFlag,
  runCli,
  UsageError,
} from "../lib/util/cli.ts";
import { sharedDataPath } from "../lib/util/paths.ts";
import { checkOutputFile } from "../lib/util/output.ts";
import { Progress } from "../lib/util/progress.ts";

const s = "string" as const, b = "boolean" as const;
const SPEC = {
  usage: "deno task anchors (--weights F [--vocab F] | --attributes F | --embeddings F) " +
    "[--classes F] --out F",
  description:
    "Class anchors → an anchors .safetensors (rows L2-normalised, not orthogonalized). " +
    "CLIP: the template filled with each class name (underscores → spaces, CUB's 'NNN.' " +
    "dropped) through a CLIP text model (OpenAI/open_clip or Hugging Face names, F32/F16). " +
    "Attributes: rows of CUB's class_attribute_labels_continuous.txt picked by class id " +
    "(from 'id name' lines, a 'NNN.' prefix, or CUB's classes.txt beside attributes/), " +
    "minus the mean of all rows, L2-normalised. Embeddings: rows of a tensor named by --names.",
  options: {
    weights: { type: s, help: "CLIP text weights (.safetensors)" },
    vocab: {
      type: s,
      help: "CLIP bpe_simple_vocab_16e6.txt[.gz] or HF vocab.json (merges.txt beside it) " +
        "(default: the shared data copy when present)",
    },
    attributes: { type: s, help: "class attribute matrix (one row per class id)" },
    embeddings: { type: s, help: "precomputed embeddings (.safetensors)" },
    tensor: { type: s, help: "tensor name in --embeddings (default: the only 2-D one)" },
    names: { type: s, help: "row names of --embeddings, one a line" },
    classes: {
      type: s,
      help: "class list: 'name' or 'id name' lines (required for --weights/--attributes)",
    },
    template: { type: s, help: `prompt template (CLIP; default '${DEFAULT_PROMPT_TEMPLATE}')` },
    out: { type: s, help: "output anchors file (.safetensors)" },
    "batch-size": { type: s, help: "prompts per forward pass", default: "32" },
    heads: { type: s, help: "attention heads (default: metadata, else width/64)" },
    activation: { type: s, help: "quick_gelu | gelu (default: metadata, else quick_gelu)" },
    backend: { type: s, help: "tfjs backend: wasm | webgpu | cpu | auto" },
    "attribute-transform": {
      type: s,
      help: "centred (minus the mean of all rows) | raw",
      default: "centred",
    },
    "id-list": {
      type: s,
      help: "CUB-style 'id name' class list to find attribute rows of names without ids " +
        "(default: classes.txt beside the attributes folder)",
    },
    "rename-duplicates": { type: b, help: "rename repeated names 'x (2)' instead of failing" },
    quiet: { type: b, help: "no progress bar" },
  },
};

function exactlyOne(a: CliArgs): "weights" | "attributes" | "embeddings" {
  const given = (["weights", "attributes", "embeddings"] as const).filter((k) =>
    a.values[k] !== undefined
  );
  if (given.length !== 1) {
    throw new UsageError(
      `give exactly one of --weights, --attributes, --embeddings (got ${given.length})`,
    );
  }
  return given[0];
}

/** The task's body (exported for tests). Returns the written anchors. */
export async function anchorsMain(args: string[]): Promise<Anchors | null> {
  const a = parseCli(args, SPEC);
  if (a === null) return null;
  const mode = exactlyOne(a);
  const out = requireFlag(a, "out");
  await checkOutputFile(out); // a folder or read-only --out fails now, not after the CLIP pass
  const rename = !!a.values["rename-duplicates"];
  const classesPath = a.values.classes as string | undefined;
  const quiet = !!a.values.quiet;
  let anchors: Anchors;
  if (mode === "weights") {
    if (!classesPath) throw new UsageError("--weights needs --classes");
    const weights = a.values.weights as string;
    const vocab = (a.values.vocab as string | undefined) ??
      sharedDataPath("clip", "bpe_simple_vocab_16e6.txt.gz");
    if (!vocab) throw new UsageError("--vocab is required (no shared CLIP vocabulary found)");
    const template = (a.values.template as string | undefined) ?? DEFAULT_PROMPT_TEMPLATE;
    const activation = a.values.activation as string | undefined;
    if (activation !== undefined && activation !== "quick_gelu" && activation !== "gelu") {
      throw new UsageError(`--activation must be quick_gelu or gelu, got '${activation}'`);
    }
    const heads = intFlag(a, "heads", { min: 1 });
    const batchSize = intFlag(a, "batch-size", { min: 1 })!;
    if (!template.includes("{}")) {
      throw new UsageError(`--template '${template}' has no '{}' for the class name`);
    }
    const classes = await readClassList(classesPath, { renameDuplicates: rename });
    const tokenizer = await loadClipTokenizer(vocab);
    const st = await readSafetensors(weights); // bad files fail before the backend starts
    await initBackend(a.values.backend as BackendChoice | undefined);
    const encoder = new ClipTextEncoder(st, weights, {
      heads,
      activation: activation as ClipActivation | undefined,
    });
    const bar = new Progress("anchors", classes.names.length, { unit: "class", silent: quiet });
    let done = 0;
    const vectors = await clipTextAnchors(encoder, tokenizer, classes.names, template, {
      batchSize,
      onBatch: (n) => {
        bar.tick(n - done);
        done = n;
      },
    });
    bar.done();
    const c = encoder.config;
    encoder.dispose();
    anchors = {
      classNames: classes.names,
      vectors,
      count: classes.names.length,
      dim: c.embedDim,
      template,
      source: anchorSourceTag("clip", weights),
      extra: {
        clip_naming: c.naming,
        clip_width: String(c.width),
        clip_layers: String(c.layers),
        clip_heads: String(c.heads),
        clip_activation: c.activation,
        clip_projection: String(c.hasProjection),
        vocab: basename(vocab),
      },
    };
  } else if (mode === "attributes") {
    if (!classesPath) throw new UsageError("--attributes needs --classes");
    const file = a.values.attributes as string;
    const transform = a.values["attribute-transform"] as string;
    if (transform !== "centred" && transform !== "raw") {
      throw new UsageError(`--attribute-transform must be centred or raw, got '${transform}'`);
    }
    const classes = await readClassList(classesPath, { renameDuplicates: rename });
    const matrix = await readAttributeMatrix(file);
    const idListPath = a.values["id-list"] as string | undefined;
    const idList = idListPath
      ? await readClassList(idListPath, { renameDuplicates: true })
      : await findCubIdList(file);
    const r = attributeAnchors(matrix, classes, { transform, idList: idList ?? undefined });
    anchors = {
      classNames: classes.names,
      vectors: r.vectors,
      count: r.count,
      dim: r.dim,
      template: "",
      source: anchorSourceTag("attributes", file),
      extra: {
        attribute_transform: r.transform === "centred"
          ? `centred (minus the mean of all ${matrix.rows} rows), L2-normalised`
          : "raw, L2-normalised",
        attribute_rows: JSON.stringify(r.rows),
        attribute_row_source: r.rowSource,
      },
    };
  } else {
    const file = a.values.embeddings as string;
    const namesPath = a.values.names as string | undefined;
    if (!namesPath) throw new UsageError("--embeddings needs --names (one name per row)");
    const names = await readClassList(namesPath, { renameDuplicates: rename });
    const classes = classesPath
      ? await readClassList(classesPath, { renameDuplicates: rename })
      : undefined;
    const r = await embeddingAnchors(file, names, {
      tensor: a.values.tensor as string | undefined,
      classes,
    });
    anchors = {
      classNames: r.classNames,
      vectors: r.vectors,
      count: r.count,
      dim: r.dim,
      template: (a.values.template as string | undefined) ?? "",
      source: anchorSourceTag("embeddings", file, `#${r.tensor}`),
    };
  }
  await writeAnchors(out, anchors);
  if (anchors.count >= 2) {
    const st = anchorStatistics(anchors.vectors, anchors.count, anchors.dim);
    console.log(
      `anchors: ${anchors.count} × ${anchors.dim} from ${anchors.source} → ${out} ` +
        `(cosine between classes: mean ${st.meanOffDiagonal.toFixed(3)}, max ` +
        `${st.maxOffDiagonal.toFixed(3)} '${anchors.classNames[st.maxPair[0]]}'/` +
        `'${anchors.classNames[st.maxPair[1]]}')`,
    );
  } else console.log(`anchors: ${anchors.count} × ${anchors.dim} → ${out}`);
  return anchors;
}

if (import.meta.main) await runCli(async () => void await anchorsMain(Deno.args));
