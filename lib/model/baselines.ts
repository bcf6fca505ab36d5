/**
 * Heads compared with TeD-Loc on the same frozen tokens, behind one prediction interface:
 *
 * - {@link CamHead}: global average pooling + linear classifier, trained with softmax
 *   cross-entropy (Zhou et al. 2016). Its map for class k is the per-patch score
 *   `x_p · W[:, k] + b_k` (CAM). Evaluation uses the map of the ground-truth class
 *   (wsolevaluation's protocol); inference without a label, the predicted class's.
 * - {@link VanillaSimilarityHead}: the paper's Table 4 "vanilla" row, `<z_p, t_y>` with no
 *   trained decoder. Tokens go through the same fixed seeded projection that maps raw
 *   anchors to the anchor space (identity when the dims agree) and are compared with the
 *   anchors by cosine. With a CLIP image encoder this is CLIP's own patch–text similarity;
 *   with a CNN (or any encoder whose tokens do not live in the anchor space) it is a
 *   no-training reference: the projection is random, so the map and the class carry no
 *   learnt relation to the anchors — expect near-chance numbers, as the paper's vanilla
 *   CLIP row already shows.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "../backend/matmul.ts";
import { Rng } from "../util/rng.ts";
import { type AnchorSpace, fixedProjection } from "./anchor_space.ts";
import { tedLocFlops, type TedLocModel } from "./tedloc.ts";
import { camHeadFlops, vanillaHeadFlops } from "./flops.ts";
import { initialParam, Linear, type NamedWeights, readNamed } from "./units.ts";

/** What a localization head predicts for a batch of token maps. */
export interface HeadPrediction {
  /** Class scores `[B, C]` (logits). */
  scores: tf.Tensor2D;
  /** Localization map per image on the token grid `[B, N]` (any range; normalised later). */
  maps: tf.Tensor2D;
}

/** Any head that turns frozen tokens into class scores and a map. */
export interface LocalizationHead {
  /** Short name for tables, e.g. `tedloc`, `cam`, `vanilla`. */
  readonly name: string;
  readonly numClasses: number;
  /**
   * Tokens `[B, N, d_in]` → scores and maps. Call inside `tf.tidy`. With `classes` (one per
   * image), class-specific heads return the map of that class — wsolevaluation's protocol
   * evaluates the map of the ground-truth class — and class-agnostic heads ignore it.
   * Without it, the map of the predicted class.
   */
  predict(tokens: tf.Tensor3D, classes?: ArrayLike<number>): HeadPrediction;
  /** Parameters the head adds at inference (trained and fixed, excluding the encoder). */
  parameterCount(): number;
  /** Analytic FLOPs per image of the head (2 per multiply–accumulate). */
  flops(numPatches: number): number;
  dispose(): void;
}

/**
 * The TeD-Loc model seen as a {@link LocalizationHead}: the map is M (class-agnostic).
 * Parameters: D + g + the frozen anchors (C·d numbers used at inference).
 */
export function tedLocHead(model: TedLocModel): LocalizationHead {
  return {
    name: "tedloc",
    numClasses: model.config.numClasses,
    predict(tokens) {
      const o = model.forward(tokens);
      return { scores: o.scores, maps: o.map };
    },
    parameterCount: () => model.parameterCount() + model.anchors.count * model.anchors.dim,
    flops: (n) => tedLocFlops(model.config, n),
    dispose: () => model.dispose(),
  };
}

/** One-hot `[B, C]` of the given classes, else of each row's maximum of `scores`. */
function classOneHot(scores: tf.Tensor2D, classes?: ArrayLike<number>): tf.Tensor2D {
  const C = scores.shape[1];
  if (classes === undefined) return tf.oneHot(tf.argMax(scores, 1), C) as tf.Tensor2D;
  if (classes.length !== scores.shape[0]) {
    throw new Error(`predict: ${classes.length} classes for ${scores.shape[0]} images`);
  }
  return tf.oneHot(tf.tensor1d(Int32Array.from(classes), "int32"), C) as tf.Tensor2D;
}

/**
 * CAM baseline: `scores = mean_p(x_p) · W + b`, map(k) = `x_p · W[:, k] + b_k`.
 * Weights `cam.weight [d_in, C]`, `cam.bias [C]`.
 *
 * @example
 * ```ts
 * const cam = new CamHead(128, 50, 0);
 * const maps = tf.tidy(() => cam.classMaps(tokens, labels)); // true-class CAMs [B, N]
 * ```
 */
export class CamHead implements LocalizationHead {
  readonly name = "cam";
  readonly inDim: number;
  readonly numClasses: number;
  readonly params: Map<string, tf.Variable>;

  /** The linear classifier `cam.weight [d_in, C]`, `cam.bias [C]`. */
  readonly fc: Linear;

  constructor(inDim: number, numClasses: number, seed = 0) {
    this.inDim = inDim;
    this.numClasses = numClasses;
    this.fc = new Linear("cam", inDim, numClasses);
    const rng = new Rng(seed);
    this.params = new Map(this.fc.params.map((spec) => {
      const value = tf.tensor(initialParam(spec, rng), spec.shape);
      const v = tf.variable(value, true, `${spec.name}/${crypto.randomUUID()}`);
      value.dispose();
      return [spec.name, v];
    }));
  }

  /** Per-patch class scores `[B, N, C]`. */
  patchScores(tokens: tf.Tensor3D): tf.Tensor3D {
    return this.fc.apply(tokens, (n) => this.params.get(n)!) as tf.Tensor3D;
  }

  /** Image logits `[B, C]` (GAP then linear; equals the mean of the patch scores). */
  logits(tokens: tf.Tensor3D): tf.Tensor2D {
    return this.fc.apply(tf.mean(tokens, 1), (n) => this.params.get(n)!) as tf.Tensor2D;
  }

  /** CAM of the given class of each image `[B, N]`. */
  classMaps(tokens: tf.Tensor3D, classes: tf.Tensor1D | number[]): tf.Tensor2D {
    const onehot = tf.oneHot(
      tf.cast(Array.isArray(classes) ? tf.tensor1d(classes, "int32") : classes, "int32"),
      this.numClasses,
    );
    return tf.sum(tf.mul(this.patchScores(tokens), tf.expandDims(onehot, 1)), -1) as tf.Tensor2D;
  }

  predict(tokens: tf.Tensor3D, classes?: ArrayLike<number>): HeadPrediction {
    const patch = this.patchScores(tokens);
    const scores = tf.mean(patch, 1) as tf.Tensor2D;
    const onehot = classOneHot(scores, classes);
    const maps = tf.sum(tf.mul(patch, tf.expandDims(onehot, 1)), -1) as tf.Tensor2D;
    return { scores, maps };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  parameterCount(): number {
    return this.fc.paramCount();
  }

  /** GAP (N·d_in adds) + classifier (2·d_in·C) + the CAM of one class (2·N·d_in). */
  flops(numPatches: number): number {
    return camHeadFlops(this.inDim, this.numClasses, numPatches);
  }

  /** Copy of the weights as plain arrays, read asynchronously. */
  async getWeights(): Promise<NamedWeights> {
    return await readNamed(this.params);
  }

  /** Load weights by name (sizes must match). */
  setWeights(weights: NamedWeights, source = "CAM weights"): void {
    for (const [n, v] of this.params) {
      const w = weights[n];
      if (!w || w.data.length !== v.size) {
        throw new Error(`${source}: '${n}' missing or of the wrong size`);
      }
      tf.tidy(() => v.assign(tf.tensor(w.data, v.shape)));
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/**
 * Vanilla patch–text similarity (no training): `z_p = x_p · P` (fixed seeded projection,
 * identity when d_in = d), class = argmax_k cos(mean_p z_p, t_k), map = cos(z_p, t_ŷ).
 */
export class VanillaSimilarityHead implements LocalizationHead {
  readonly name = "vanilla";
  readonly numClasses: number;
  readonly inDim: number;
  readonly dim: number;
  private readonly proj: tf.Tensor2D;
  private readonly anchorsT: tf.Tensor2D;

  constructor(inDim: number, anchors: AnchorSpace, projSeed = 0) {
    this.inDim = inDim;
    this.dim = anchors.dim;
    this.numClasses = anchors.count;
    this.proj = tf.keep(
      tf.tensor2d(fixedProjection(inDim, anchors.dim, projSeed), [inDim, anchors.dim]),
    );
    const C = anchors.count, d = anchors.dim;
    const t = new Float32Array(d * C);
    for (let k = 0; k < C; k++) {
      for (let j = 0; j < d; j++) t[j * C + k] = anchors.vectors[k * d + j];
    }
    this.anchorsT = tf.keep(tf.tensor2d(t, [d, C]));
  }

  predict(tokens: tf.Tensor3D, classes?: ArrayLike<number>): HeadPrediction {
    const norm = (x: tf.Tensor) =>
      tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12)));
    const z = matMul(tokens, this.proj);
    const patch = matMul(norm(z), this.anchorsT) as tf.Tensor3D; // [B,N,C] cosines
    const scores = matMul(norm(tf.mean(z, 1)), this.anchorsT) as tf.Tensor2D;
    const onehot = classOneHot(scores, classes);
    const maps = tf.sum(tf.mul(patch, tf.expandDims(onehot, 1)), -1) as tf.Tensor2D;
    return { scores, maps };
  }

  /** The fixed projection and the anchors (numbers used at inference; none trained). */
  parameterCount(): number {
    return (this.inDim === this.dim ? 0 : this.inDim * this.dim) + this.numClasses * this.dim;
  }

  /** Projection (2·N·d_in·d, none when identity) + patch cosines (2·N·d·C) + pooled scores. */
  flops(numPatches: number): number {
    return vanillaHeadFlops(this.inDim, this.dim, this.numClasses, numPatches);
  }

  dispose(): void {
    this.proj.dispose();
    this.anchorsT.dispose();
  }
}
