/**
 * TeD-Loc's three losses. Sampled patches come as weight masks `[B, N]` (1 where a patch
 * was sampled, 0 elsewhere), so a loss is a masked mean over the batch.
 *
 * - L_KD: binary cross-entropy of g's logits, FG patches → 1, BG patches → 0, averaged
 *   over all sampled patches of the batch.
 * - P_CL: for FG patches, softmax cross-entropy of the patch logits `<ẑ_p, t_k>/τ` against
 *   the image class (mean over FG patches). For BG patches (our choice, the paper is
 *   silent): the complementary cross-entropy `-log(1 - p_y)`, p_y = the softmax probability
 *   of the true class — it pushes BG patches away from the true anchor without pulling
 *   them toward any other class, and it stays bounded in gradient (unlike pushing the raw
 *   similarity down forever). Weighted by `pclBg`, mean over BG patches.
 * - I_CL: softmax cross-entropy of the image scores s_k against the class.
 *
 * @module
 */
import { DEFAULT_RUN_CONFIG, type LossSection } from "../config/schema.ts";
import * as tf from "@tensorflow/tfjs";
import type { TedLocModel, TedLocOutput } from "./tedloc.ts";

/** λ of each loss (the run config's `loss` section, documented there). */
export type LossWeights = LossSection;

/** Default weights: 1 each (the paper gives none). */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = { ...DEFAULT_RUN_CONFIG.loss };

/**
 * Rows `index` of a `[M, d]` matrix. tfjs's gather gradient needs UnsortedSegmentSum, which
 * the wasm backend lacks; with unique indices the gradient is a plain scatter.
 */
const gatherUniqueRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, index, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([index]);
  const shape = x.shape;
  return {
    value: tf.gather(x, index),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.scatterND(tf.expandDims(saved[0], 1), dy, shape),
      tf.zerosLike(saved[0]),
    ],
  };
});

function safeDen(x: tf.Tensor): tf.Tensor {
  return tf.maximum(x, 1e-12);
}

/** Numerically stable BCE with logits: `max(x,0) − x·y + log(1 + e^{−|x|})`. */
function bceWithLogits(logits: tf.Tensor, target: number): tf.Tensor {
  return tf.add(
    tf.sub(tf.relu(logits), tf.mul(logits, target)),
    tf.log1p(tf.exp(tf.neg(tf.abs(logits)))),
  );
}

/**
 * L_KD = (Σ fg·BCE(l, 1) + Σ bg·BCE(l, 0)) / (Σ fg + Σ bg).
 *
 * @example
 * ```ts
 * const l = kdLoss(out.mapLogits, fgMask, bgMask); // scalar
 * ```
 */
export function kdLoss(
  mapLogits: tf.Tensor2D,
  fgMask: tf.Tensor2D,
  bgMask: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const pos = tf.sum(tf.mul(bceWithLogits(mapLogits, 1), fgMask));
    const neg = tf.sum(tf.mul(bceWithLogits(mapLogits, 0), bgMask));
    return tf.div(tf.add(pos, neg), safeDen(tf.add(tf.sum(fgMask), tf.sum(bgMask)))) as tf.Scalar;
  });
}

/**
 * P_CL on patch logits `[B, N, C]`: mean FG cross-entropy to the label plus
 * `bgWeight` × mean BG complementary cross-entropy `-log(1 − p_y)`.
 */
export function patchContrastiveLoss(
  patchLogits: tf.Tensor3D,
  labels: tf.Tensor1D,
  fgMask: tf.Tensor2D,
  bgMask: tf.Tensor2D,
  bgWeight: number,
): tf.Scalar {
  return tf.tidy(() => {
    const C = patchLogits.shape[2];
    const onehot = tf.expandDims(tf.oneHot(tf.cast(labels, "int32"), C), 1); // [B,1,C]
    const logZ = tf.logSumExp(patchLogits, -1); // [B,N]
    const trueLogit = tf.sum(tf.mul(patchLogits, onehot), -1); // [B,N]
    const ce = tf.sub(logZ, trueLogit);
    const fg = tf.div(tf.sum(tf.mul(ce, fgMask)), safeDen(tf.sum(fgMask)));
    if (bgWeight === 0) return fg as tf.Scalar;
    // log(1 − p_y) = logsumexp over k ≠ y − logsumexp over all k
    const masked = tf.where(
      tf.cast(tf.broadcastTo(onehot, patchLogits.shape), "bool"),
      tf.fill(patchLogits.shape, -1e9),
      patchLogits,
    );
    const comp = tf.sub(logZ, tf.logSumExp(masked, -1));
    const bg = tf.div(tf.sum(tf.mul(comp, bgMask)), safeDen(tf.sum(bgMask)));
    return tf.add(fg, tf.mul(bg, bgWeight)) as tf.Scalar;
  });
}

/** I_CL: mean softmax cross-entropy of class logits `[B, C]` against labels. */
export function imageContrastiveLoss(scores: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const C = scores.shape[1];
    const onehot = tf.oneHot(tf.cast(labels, "int32"), C);
    return tf.mean(
      tf.sub(tf.logSumExp(scores, -1), tf.sum(tf.mul(scores, onehot), -1)),
    ) as tf.Scalar;
  });
}

/**
 * The sampled patches as a list (the fast path for P_CL: only these patches are scored
 * against the anchors, instead of all B·N). Must describe the same patches as the masks.
 */
export interface SampledPatches {
  /** Flat indices `b·N + p` into the batch's patches `[K]` (int32). */
  index: tf.Tensor1D;
  /** Class label of each sampled patch's image `[K]` (int32). */
  labels: tf.Tensor1D;
  /** 1 for FG, 0 for BG `[K]`. */
  isFg: tf.Tensor1D;
}

/** A training batch's supervision. */
export interface LossTargets {
  /** Class labels `[B]` (int32). */
  labels: tf.Tensor1D;
  /** Sampled FG patches `[B, N]` (weights, usually 0/1). */
  fgMask: tf.Tensor2D;
  /** Sampled BG patches `[B, N]`. */
  bgMask: tf.Tensor2D;
  /** Optional list form of the same samples (P_CL then gathers them: same value, faster). */
  sampled?: SampledPatches;
}

/**
 * Flat sample lists from 0/1 masks `[B·N]` (host arrays), for {@link SampledPatches}.
 */
export function sampledPatchLists(
  fg: Float32Array,
  bg: Float32Array,
  labels: ArrayLike<number>,
  numPatches: number,
): { index: Int32Array; labels: Int32Array; isFg: Float32Array } {
  const idx: number[] = [], lab: number[] = [], isFg: number[] = [];
  for (let i = 0; i < fg.length; i++) {
    if (fg[i] === 0 && bg[i] === 0) continue;
    if (fg[i] !== 0 && bg[i] !== 0) throw new Error(`patch ${i} is sampled as both FG and BG`);
    idx.push(i);
    lab.push(labels[Math.floor(i / numPatches)]);
    isFg.push(fg[i] !== 0 ? 1 : 0);
  }
  return {
    index: Int32Array.from(idx),
    labels: Int32Array.from(lab),
    isFg: Float32Array.from(isFg),
  };
}

/** The weighted total and each term (scalars). */
export interface TedLocLosses {
  total: tf.Scalar;
  kd: tf.Scalar;
  pcl: tf.Scalar;
  icl: tf.Scalar;
}

/**
 * All three losses of one forward pass, weighted. Terms with weight 0 are still reported
 * but cost nothing in the gradient of `total`.
 */
export function tedLocLosses(
  model: TedLocModel,
  out: TedLocOutput,
  targets: LossTargets,
  w: LossWeights,
): TedLocLosses {
  const kd = kdLoss(out.mapLogits, targets.fgMask, targets.bgMask);
  let pcl: tf.Scalar;
  if (w.pcl === 0) pcl = tf.scalar(0);
  else if (targets.sampled) {
    // Score only the K sampled patches: a [1, K, C] problem with per-patch labels.
    const { index, labels, isFg } = targets.sampled;
    const [B, N, d] = out.z.shape;
    const zs = gatherUniqueRows(tf.reshape(out.z, [B * N, d]), index) as tf.Tensor2D;
    const K = index.shape[0];
    const logits = tf.reshape(model.anchorLogits(zs), [K, 1, -1]) as tf.Tensor3D;
    const fgM = tf.reshape(isFg, [K, 1]) as tf.Tensor2D;
    pcl = patchContrastiveLoss(logits, labels, fgM, tf.sub(1, fgM) as tf.Tensor2D, w.pclBg);
  } else {
    pcl = patchContrastiveLoss(
      model.anchorLogits(out.z) as tf.Tensor3D,
      targets.labels,
      targets.fgMask,
      targets.bgMask,
      w.pclBg,
    );
  }
  const icl = imageContrastiveLoss(out.scores, targets.labels);
  const total = tf.addN([tf.mul(kd, w.kd), tf.mul(pcl, w.pcl), tf.mul(icl, w.icl)]) as tf.Scalar;
  return { total, kd, pcl, icl };
}
