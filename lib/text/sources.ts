/**
 * Where anchors come from, all ending in the same anchors file (lib/text/anchors.ts):
 *
 * - CLIP text: a prompt per class (`Image of a {}.`) through {@link ClipTokenizer} and
 *   {@link ClipTextEncoder} ({@link clipTextAnchors}).
 * - Class attributes: CUB's `class_attribute_labels_continuous.txt` (200 rows × 312 values in
 *   0–100, one row per CUB class id) ({@link attributeAnchors}).
 * - Precomputed embeddings: a tensor in a `.safetensors` file with a names file for its rows
 *   ({@link embeddingAnchors}).
 *
 * Class lists ({@link readClassList}) accept one class a line, either `name` or `id name`
 * (CUB's `classes.txt`: `1 001.Black_footed_Albatross`); names are cleaned for prompts by
 * {@link cleanClassName} (CUB's `NNN.` prefix dropped, underscores → spaces).
 *
 * Attribute anchors, our choice: each class vector minus the mean vector of ALL rows of the
 * attribute file (so a class's anchor does not depend on which subset is picked), then
 * L2-normalised. Raw attribute vectors are all non-negative, so every pair of classes has a
 * large positive cosine that comes from the shared "average bird", not from the species;
 * centring removes it. `transform: "raw"` keeps the uncentred vectors (also L2-normalised).
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { InputError, readInputText } from "../io/errors.ts";
import { readSafetensors, toFloat32 } from "../io/safetensors.ts";
import type { ClipTextEncoder } from "./clip_text.ts";
import type { ClipTokenizer } from "./tokenizer.ts";

/** The paper's prompt template. */
export const DEFAULT_PROMPT_TEMPLATE = "Image of a {}.";

/**
 * A class name as it goes into a prompt: CUB's `NNN.` prefix dropped, underscores →
 * spaces, whitespace collapsed.
 *
 * @example
 * ```ts
 * cleanClassName("001.Black_footed_Albatross"); // "Black footed Albatross"
 * cleanClassName("great_white_shark");          // "great white shark"
 * ```
 */
export function cleanClassName(raw: string): string {
  return raw.trim().replace(/^\d+\./, "").replace(/_/g, " ").replace(/\s+/g, " ").trim();
}

/**
 * Check that anchors belong to a dataset's classes, label by label: same count and the same
 * names after {@link cleanClassName} (case-insensitive), so `Black_footed_Albatross` in a
 * dataset's classes.txt matches `Black footed Albatross` in an anchors file.
 *
 * @example
 * ```ts
 * checkAnchorClasses(anchors.classNames, dataset.classNames, anchorsPath);
 * ```
 */
export function checkAnchorClasses(
  anchorNames: readonly string[],
  datasetNames: readonly string[],
  anchorsFile?: string,
): void {
  if (anchorNames.length !== datasetNames.length) {
    throw new InputError(
      `${anchorNames.length} anchors for a dataset of ${datasetNames.length} classes`,
      { file: anchorsFile },
    );
  }
  const key = (n: string) => cleanClassName(n).toLowerCase();
  const bad: string[] = [];
  anchorNames.forEach((n, i) => {
    if (key(n) !== key(datasetNames[i])) bad.push(`label ${i}: '${n}' vs '${datasetNames[i]}'`);
  });
  if (bad.length > 0) {
    throw new InputError(
      `anchor classes differ from the dataset's (${bad.length}): ${bad.slice(0, 5).join("; ")}` +
        (bad.length > 5 ? "; …" : ""),
      { file: anchorsFile },
    );
  }
}

/** A class list read from a file. */
export interface ClassList {
  /** Cleaned names ({@link cleanClassName}), index = class label. */
  names: string[];
  /** Ids from `id name` lines (or a CUB `NNN.` prefix), else null. */
  ids: (number | null)[];
  /** 1-based line of each class in `file`. */
  lines: number[];
  file: string;
}

/** Options of {@link parseClassList}. */
export interface ClassListOptions {
  /** Rename repeated names `name (2)`, `name (3)`, … instead of failing. */
  renameDuplicates?: boolean;
}

/**
 * Parse a class list: one class a line (blank lines skipped). When every line reads
 * `<integer> <name>`, the integer is the class id; otherwise each whole line is a name
 * (a CUB `NNN.` prefix still gives the id). Empty lists and repeated names (after
 * cleaning, case-insensitive) are errors naming the lines.
 */
export function parseClassList(text: string, file: string, opts: ClassListOptions = {}): ClassList {
  const raw: { text: string; line: number }[] = [];
  text.split("\n").forEach((l, i) => {
    const t = l.replace(/\r$/, "").trim();
    if (t !== "") raw.push({ text: t, line: i + 1 });
  });
  if (raw.length === 0) throw new InputError("no class names in the file", { file });
  const withIds = raw.every((r) => /^\d+\s+\S/.test(r.text));
  const names: string[] = [];
  const ids: (number | null)[] = [];
  for (const r of raw) {
    let rest = r.text;
    let id: number | null = null;
    if (withIds) {
      const m = /^(\d+)\s+(.*)$/.exec(rest)!;
      id = Number(m[1]);
      rest = m[2];
    } else {
      const m = /^(\d+)\./.exec(rest);
      if (m) id = Number(m[1]);
    }
    const name = cleanClassName(rest);
    if (name === "") throw new InputError("empty class name", { file, line: r.line });
    names.push(name);
    ids.push(id);
  }
  const seen = new Map<string, number>();
  const counts = new Map<string, number>();
  names.forEach((n, i) => {
    const key = n.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    if (!opts.renameDuplicates) {
      throw new InputError(
        `duplicated class name '${n}' (first on line ${
          raw[first].line
        }; --rename-duplicates keeps both as 'name (2)')`,
        { file, line: raw[i].line },
      );
    }
    const k = (counts.get(key) ?? 1) + 1;
    counts.set(key, k);
    names[i] = `${n} (${k})`;
  });
  return { names, ids, lines: raw.map((r) => r.line), file };
}

/**
 * Read a class list file (see {@link parseClassList}).
 *
 * @example
 * ```ts
 * const cls = await readClassList("data/cub50/classes.txt");
 * cls.names[0]; // "Black footed Albatross"
 * ```
 */
export async function readClassList(path: string, opts: ClassListOptions = {}): Promise<ClassList> {
  return parseClassList(await readInputText(path), path, opts);
}

/** A prompt from a template: `{}` replaced by the class name. */
export function fillPromptTemplate(template: string, name: string): string {
  if (!template.includes("{}")) {
    throw new InputError(`template '${template}' has no '{}' for the class name`);
  }
  return template.replaceAll("{}", name);
}

/** Options of {@link clipTextAnchors}. */
export interface ClipAnchorOptions {
  /** Prompts per forward pass (default 32). */
  batchSize?: number;
  /** Called after each batch with the number of classes done. */
  onBatch?: (done: number, total: number) => void;
}

/**
 * CLIP text anchors: `template` filled with each class name, tokenized, encoded, each row
 * L2-normalised. Returns `count × embedDim`.
 *
 * @example
 * ```ts
 * const v = await clipTextAnchors(encoder, tokenizer, ["cat", "dog"], "Image of a {}.");
 * ```
 */
export async function clipTextAnchors(
  encoder: ClipTextEncoder,
  tokenizer: ClipTokenizer,
  classNames: string[],
  template = DEFAULT_PROMPT_TEMPLATE,
  opts: ClipAnchorOptions = {},
): Promise<Float32Array> {
  const c = encoder.config;
  if (tokenizer.vocabSize > c.vocabSize) {
    throw new InputError(
      `tokenizer has ${tokenizer.vocabSize} tokens, the text model's embedding only ${c.vocabSize}`,
      { file: tokenizer.source },
    );
  }
  const prompts = classNames.map((n) => fillPromptTemplate(template, n));
  const batchSize = opts.batchSize ?? 32;
  const out = new Float32Array(prompts.length * c.embedDim);
  for (let start = 0; start < prompts.length; start += batchSize) {
    const batch = prompts.slice(start, start + batchSize);
    const ids = tokenizer.tokenize(batch, { contextLength: c.contextLength });
    const emb = encoder.encodeTokens(ids, batch.length);
    const values = await emb.data();
    emb.dispose();
    out.set(values as Float32Array, start * c.embedDim);
    opts.onBatch?.(start + batch.length, prompts.length);
  }
  return normalizeOrFail(out, prompts.length, c.embedDim, classNames, "CLIP embedding");
}

function normalizeOrFail(
  v: Float32Array,
  count: number,
  dim: number,
  names: string[],
  what: string,
  file?: string,
): Float32Array {
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += v[i * dim + j] ** 2;
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new InputError(`${what} of class '${names[i]}' is zero or not finite`, { file });
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) v[i * dim + j] *= inv;
  }
  return v;
}

/** A numeric matrix read from a whitespace-separated text file. */
export interface AttributeMatrix {
  rows: number;
  cols: number;
  /** Row-major values. */
  values: Float64Array;
  file: string;
}

/**
 * Parse a whitespace-separated numeric matrix (one row a line, blank lines skipped). Rows
 * of different length or non-numbers are errors naming the line.
 */
export function parseAttributeMatrix(text: string, file: string): AttributeMatrix {
  const rows: number[][] = [];
  let cols = -1;
  text.split("\n").forEach((l, i) => {
    const t = l.trim();
    if (t === "") return;
    const parts = t.split(/\s+/);
    const nums = parts.map(Number);
    const bad = parts.findIndex((p, k) => p === "" || !Number.isFinite(nums[k]));
    if (bad >= 0) {
      throw new InputError(`value ${bad + 1} ('${parts[bad]}') is not a number`, {
        file,
        line: i + 1,
      });
    }
    if (cols < 0) cols = nums.length;
    else if (nums.length !== cols) {
      throw new InputError(`${nums.length} values, the first row has ${cols}`, {
        file,
        line: i + 1,
      });
    }
    rows.push(nums);
  });
  if (rows.length === 0) throw new InputError("no rows in the attribute file", { file });
  const values = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => values.set(r, i * cols));
  return { rows: rows.length, cols, values, file };
}

/** Read an attribute matrix (see {@link parseAttributeMatrix}). */
export async function readAttributeMatrix(path: string): Promise<AttributeMatrix> {
  return parseAttributeMatrix(await readInputText(path), path);
}

/** Options of {@link attributeAnchors}. */
export interface AttributeAnchorOptions {
  /** `centred` (default: minus the mean of all rows, then L2) or `raw` (L2 only). */
  transform?: "centred" | "raw";
  /**
   * The dataset's full class list with ids (CUB's own `classes.txt`), used to find the row
   * of classes given by name only. Default: none (then classes without ids take rows in
   * list order: class k → row k).
   */
  idList?: ClassList;
}

/** Anchors plus where their rows came from. */
export interface AttributeAnchors {
  vectors: Float32Array;
  count: number;
  dim: number;
  /** 1-based attribute rows used, per class. */
  rows: number[];
  /** How rows were chosen: `ids`, `names` (via the id list) or `order`. */
  rowSource: "ids" | "names" | "order";
  transform: "centred" | "raw";
}

/**
 * Attribute-vector anchors for `classes`. Row of a class: its id (1-based row), else its
 * name looked up in `opts.idList`, else its position in the list. A class whose row does
 * not exist, or a name missing from the id list, is an error naming the class list line.
 *
 * @example
 * ```ts
 * const m = await readAttributeMatrix(".../attributes/class_attribute_labels_continuous.txt");
 * const a = attributeAnchors(m, await readClassList(".../classes.txt"));  // 50 × 312 for CUB-50
 * ```
 */
export function attributeAnchors(
  matrix: AttributeMatrix,
  classes: ClassList,
  opts: AttributeAnchorOptions = {},
): AttributeAnchors {
  const transform = opts.transform ?? "centred";
  const C = classes.names.length, D = matrix.cols;
  let rowSource: AttributeAnchors["rowSource"];
  let rows: number[];
  if (classes.ids.every((id) => id !== null)) {
    rowSource = "ids";
    rows = classes.ids as number[];
  } else if (opts.idList) {
    rowSource = "names";
    const byName = new Map<string, number>();
    opts.idList.names.forEach((n, i) => {
      const id = opts.idList!.ids[i];
      if (id !== null) byName.set(n.toLowerCase(), id);
    });
    rows = classes.names.map((n, i) => {
      const id = classes.ids[i] ?? byName.get(n.toLowerCase());
      if (id === undefined) {
        throw new InputError(`class '${n}' is not in the id list ${opts.idList!.file}`, {
          file: classes.file,
          line: classes.lines[i],
        });
      }
      return id;
    });
  } else {
    rowSource = "order";
    rows = classes.names.map((_, i) => i + 1);
  }
  rows.forEach((r, i) => {
    if (!(r >= 1 && r <= matrix.rows)) {
      throw new InputError(
        `class '${
          classes.names[i]
        }' needs attribute row ${r}, ${matrix.file} has ${matrix.rows} rows`,
        { file: classes.file, line: classes.lines[i] },
      );
    }
  });
  const mean = new Float64Array(D);
  if (transform === "centred") {
    for (let r = 0; r < matrix.rows; r++) {
      for (let j = 0; j < D; j++) mean[j] += matrix.values[r * D + j] / matrix.rows;
    }
  }
  const v = new Float32Array(C * D);
  rows.forEach((r, i) => {
    for (let j = 0; j < D; j++) v[i * D + j] = matrix.values[(r - 1) * D + j] - mean[j];
  });
  normalizeOrFail(v, C, D, classes.names, "attribute vector", matrix.file);
  return { vectors: v, count: C, dim: D, rows, rowSource, transform };
}

/**
 * CUB's own class list beside an attribute file (`<root>/classes.txt` for
 * `<root>/attributes/…`), or null when absent.
 */
export async function findCubIdList(attributesPath: string): Promise<ClassList | null> {
  const path = join(dirname(dirname(attributesPath)), "classes.txt");
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const list = await readClassList(path, { renameDuplicates: true });
  return list.ids.every((id) => id !== null) ? list : null;
}

/** Options of {@link embeddingAnchors}. */
export interface EmbeddingAnchorOptions {
  /** Tensor name in the file (default: the only 2-D tensor). */
  tensor?: string;
  /** Keep only these classes (matched by cleaned name, case-insensitive), in this order. */
  classes?: ClassList;
}

/**
 * Anchors from precomputed embeddings: a `[rows, D]` tensor in a `.safetensors` file (any
 * float type) and `names` for its rows. Rows are L2-normalised.
 *
 * @example
 * ```ts
 * const names = await readClassList("imagenet1k_classnames.txt", { renameDuplicates: true });
 * const a = await embeddingAnchors("imagenet1k_clip_vitb32_text.safetensors", names,
 *   { tensor: "text_features" });  // 1000 × 512
 * ```
 */
export async function embeddingAnchors(
  path: string,
  names: ClassList,
  opts: EmbeddingAnchorOptions = {},
): Promise<
  { vectors: Float32Array; count: number; dim: number; classNames: string[]; tensor: string }
> {
  const st = await readSafetensors(path);
  let tensor = opts.tensor;
  if (tensor === undefined) {
    const twoD = [...st.tensors].filter(([, t]) => t.shape.length === 2).map(([n]) => n);
    if (twoD.length !== 1) {
      throw new InputError(
        `name the tensor to use (--tensor): 2-D tensors are ${twoD.join(", ")}`,
        {
          file: path,
        },
      );
    }
    tensor = twoD[0];
  }
  const t = st.tensors.get(tensor);
  if (!t) {
    throw new InputError(`no tensor '${tensor}' (has: ${[...st.tensors.keys()].join(", ")})`, {
      file: path,
    });
  }
  if (t.shape.length !== 2) {
    throw new InputError(`tensor '${tensor}' has shape [${t.shape}], expected [classes, dim]`, {
      file: path,
    });
  }
  const [rowsN, D] = t.shape;
  if (names.names.length !== rowsN) {
    throw new InputError(
      `${names.names.length} names for the ${rowsN} rows of '${tensor}' in ${path}`,
      { file: names.file },
    );
  }
  const all = toFloat32(t);
  let pick = names.names.map((_, i) => i);
  let classNames = names.names;
  if (opts.classes) {
    const byName = new Map<string, number>();
    names.names.forEach((n, i) => byName.set(n.toLowerCase(), i));
    pick = opts.classes.names.map((n, i) => {
      const r = byName.get(n.toLowerCase());
      if (r === undefined) {
        throw new InputError(`class '${n}' is not among the names in ${names.file}`, {
          file: opts.classes!.file,
          line: opts.classes!.lines[i],
        });
      }
      return r;
    });
    classNames = opts.classes.names;
  }
  const v = new Float32Array(pick.length * D);
  pick.forEach((r, i) => v.set(all.subarray(r * D, r * D + D), i * D));
  normalizeOrFail(v, pick.length, D, classNames, "embedding", path);
  return { vectors: v, count: pick.length, dim: D, classNames, tensor };
}

/** `clip:<file name>` style source tags. */
export function anchorSourceTag(
  kind: "clip" | "attributes" | "embeddings",
  path: string,
  extra = "",
) {
  return `${kind}:${basename(path)}${extra}`;
}

/**
 * Anchors centred on their own mean (the mean of the given rows, each row L2-normalised
 * first as stored), then L2-normalised again: the `centre` anchor choice for anchor sources
 * that have no wider population to centre on (CUB attributes centre on all 200 classes
 * instead, see {@link attributeAnchors}). Needs two or more distinct anchors.
 *
 * @example
 * ```ts
 * const c = centredAnchorVectors(a.vectors, a.count, a.dim, a.classNames);
 * ```
 */
export function centredAnchorVectors(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
  classNames: string[],
  file?: string,
): Float32Array {
  if (vectors.length !== count * dim) {
    throw new Error(`centredAnchorVectors: ${vectors.length} values, expected ${count}×${dim}`);
  }
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) mean[j] += vectors[i * dim + j] / count;
  }
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) out[i * dim + j] = vectors[i * dim + j] - mean[j];
  }
  return normalizeOrFail(out, count, dim, classNames, "centred anchor", file);
}
