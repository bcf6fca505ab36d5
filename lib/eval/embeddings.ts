/**
 * What orthogonalization does to the images: the pooled image embeddings c of a trained
 * TeD-Loc model on cached tokens (unit length, the space its class scores are cosines in),
 * and how well they separate the classes (nearest-neighbour class agreement).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { classLabelsOf, type WsolMetadata } from "../data/metadata.ts";
import type { FeatureSet } from "../model/encoder.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import { featureRows, plainViewIndex } from "../cues/sources.ts";
import { readFeatureTokens } from "../model/token_source.ts";

/** Image embeddings of a split: `vectors` is `count × dim`, rows unit length. */
export interface ImageEmbeddings {
  ids: string[];
  labels: Int32Array;
  vectors: Float32Array;
  count: number;
  dim: number;
}

/**
 * The L2-normalised pooled embeddings c of `ids` (default: every image of the metadata),
 * with their class labels; one read per batch.
 *
 * @example
 * ```ts
 * const e = await imageEmbeddings(model, testFeatures, dataset.splits.test);
 * const t = tsne(e.vectors, e.count, e.dim);
 * ```
 */
export async function imageEmbeddings(
  model: TedLocModel,
  features: FeatureSet,
  metadata: WsolMetadata,
  opts: { ids?: string[]; batchSize?: number } = {},
): Promise<ImageEmbeddings> {
  const ids = opts.ids ?? metadata.imageIds;
  const rows = featureRows(features, ids);
  const view = plainViewIndex(features);
  const N = features.grid[0] * features.grid[1], bs = opts.batchSize ?? 64;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let s = 0; s < rows.length; s += bs) {
    const part = rows.slice(s, s + bs);
    const tokens = await readFeatureTokens(features, view, part);
    const c = tf.tidy(() => {
      const x = tf.tensor3d(tokens, [part.length, N, features.dim]);
      const pooled = model.forward(x).pooled;
      return tf.div(pooled, tf.add(tf.norm(pooled, 2, 1, true), 1e-12)) as tf.Tensor2D;
    });
    dim = c.shape[1];
    parts.push((await c.data()) as Float32Array);
    c.dispose();
  }
  const vectors = new Float32Array(ids.length * dim);
  let at = 0;
  for (const p of parts) {
    vectors.set(p, at);
    at += p.length;
  }
  const labels = classLabelsOf(metadata, ids);
  return { ids: [...ids], labels, vectors, count: ids.length, dim };
}

/**
 * Fraction of images whose nearest other image (cosine) has the same class: 1 when the
 * classes form tight separate clusters, about 1/C when the embedding ignores them.
 */
export function nearestNeighbourAgreement(e: ImageEmbeddings): number {
  if (e.count < 2) throw new InputError("nearestNeighbourAgreement: needs at least 2 images");
  let same = 0;
  for (let i = 0; i < e.count; i++) {
    let best = -Infinity, bestJ = -1;
    for (let j = 0; j < e.count; j++) {
      if (j === i) continue;
      let dot = 0;
      for (let k = 0; k < e.dim; k++) dot += e.vectors[i * e.dim + k] * e.vectors[j * e.dim + k];
      if (dot > best) [best, bestJ] = [dot, j];
    }
    if (e.labels[bestJ] === e.labels[i]) same++;
  }
  return same / e.count;
}
