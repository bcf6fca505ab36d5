/**
 * Anchors files: the frozen class embeddings TeD-Loc distils into (CLIP text embeddings of
 * "Image of a {class}.", or a stand-in such as class attribute vectors). Whatever the
 * source, the file format is the same, so orthogonalization and everything downstream
 * work unchanged.
 *
 * Format: `.safetensors` with one tensor `anchors` (F32, `[C, D]`, rows L2-normalised, NOT
 * orthogonalized) and `__metadata__`: `format = "tedloc-anchors/1"`, `class_names` (JSON
 * array), `template`, `source`, `normalized = "true"`, plus any extra string fields.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.ts";

/** The format tag written into every anchors file. */
export const ANCHORS_FORMAT = "tedloc-anchors/1";

/** Class anchors: one D-dimensional unit vector per class. */
export interface Anchors {
  /** Class names, index = class label. */
  classNames: string[];
  /** `count × dim` row-major, each row L2-normalised. */
  vectors: Float32Array;
  /** Number of classes C. */
  count: number;
  /** Embedding dimension D. */
  dim: number;
  /** Prompt template used (e.g. `Image of a {}.`), or "" when not text-based. */
  template: string;
  /** Where the vectors come from, e.g. `clip:ViT-B/32` or `attributes:CUB-200-2011`. */
  source: string;
  /** Extra metadata fields stored in the file. */
  extra?: Record<string, string>;
}

/**
 * L2-normalise each row of a `count × dim` matrix (in place) and return it. A zero row
 * is an error: it has no direction to serve as an anchor.
 */
export function normalizeRows(vectors: Float32Array, count: number, dim: number): Float32Array {
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[i * dim + j] ** 2;
    if (!(s > 0)) throw new Error(`normalizeRows: row ${i} is zero or not finite`);
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) vectors[i * dim + j] *= inv;
  }
  return vectors;
}

/**
 * Write an anchors file atomically (rows are re-normalised on a copy).
 *
 * @example
 * ```ts
 * await writeAnchors("anchors.safetensors", { classNames: ["cat", "dog"], vectors, count: 2,
 *   dim: 512, template: "Image of a {}.", source: "clip:ViT-B/32" });
 * ```
 */
export async function writeAnchors(path: string, a: Anchors): Promise<void> {
  if (a.classNames.length !== a.count) {
    throw new Error(`writeAnchors: ${a.classNames.length} class names for ${a.count} vectors`);
  }
  if (a.vectors.length !== a.count * a.dim) {
    throw new Error(`writeAnchors: ${a.vectors.length} values, expected ${a.count}×${a.dim}`);
  }
  const vectors = normalizeRows(Float32Array.from(a.vectors), a.count, a.dim);
  await writeSafetensors(path, { anchors: { shape: [a.count, a.dim], data: vectors } }, {
    ...(a.extra ?? {}),
    format: ANCHORS_FORMAT,
    class_names: JSON.stringify(a.classNames),
    template: a.template,
    source: a.source,
    normalized: "true",
  });
}

/**
 * Read an anchors file, checking its format tag, shapes and class names.
 *
 * @example
 * ```ts
 * const anchors = await readAnchors("data/generated/default/anchors.safetensors");
 * console.log(anchors.count, anchors.dim, anchors.classNames[0]);
 * ```
 */
export async function readAnchors(path: string): Promise<Anchors> {
  const st = await readSafetensors(path);
  const md = st.metadata;
  if (md.format !== ANCHORS_FORMAT) {
    throw new InputError(
      `not an anchors file: format is '${md.format ?? "(none)"}', expected '${ANCHORS_FORMAT}'`,
      { file: path },
    );
  }
  const t = st.tensors.get("anchors");
  if (!t || t.shape.length !== 2) {
    throw new InputError("anchors file lacks a 2-D tensor 'anchors'", { file: path });
  }
  let classNames: unknown;
  try {
    classNames = JSON.parse(md.class_names ?? "");
  } catch {
    classNames = null;
  }
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === "string")) {
    throw new InputError("metadata 'class_names' is not a JSON array of strings", { file: path });
  }
  const [count, dim] = t.shape;
  if (classNames.length !== count) {
    throw new InputError(`${classNames.length} class names for ${count} anchor rows`, {
      file: path,
    });
  }
  const { format: _f, class_names: _c, template, source, normalized: _n, ...extra } = md;
  return {
    classNames: classNames as string[],
    vectors: toFloat32(t),
    count,
    dim,
    template: template ?? "",
    source: source ?? "",
    extra,
  };
}
