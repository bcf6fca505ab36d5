import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertArrayClose, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import {
  imageContrastiveLoss,
  kdLoss,
  patchContrastiveLoss,
  sampledPatchLists,
  tedLocLosses,
} from "../../lib/model/losses.ts";
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";

const val = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

Deno.test("L_KD: BCE on sampled FG (→1) and BG (→0) patches, averaged over sampled patches", async () => {
  await initBackend("cpu");
  // image 0: fg at logit 0, bg at logit -1 ; image 1: fg at 2 and 30 (saturated), bg at 3
  const logits = tf.tensor2d([[0, 5, -1], [2, 30, 3]]);
  const fg = tf.tensor2d([[1, 0, 0], [1, 1, 0]]);
  const bg = tf.tensor2d([[0, 0, 1], [0, 0, 1]]);
  const hand = (Math.log(2) + Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.exp(-2)) +
    Math.log(1 + Math.exp(-30)) +
    Math.log(1 + Math.exp(3))) / 5;
  assertAlmostEquals(val(kdLoss(logits, fg, bg)), hand, 1e-6);
  // no sampled patches → 0, not NaN
  assertAlmostEquals(val(kdLoss(logits, tf.zeros([2, 3]), tf.zeros([2, 3]))), 0, 0);
});

Deno.test("P_CL: FG softmax CE to the label + weighted BG complementary CE -log(1 - p_y)", async () => {
  await initBackend("cpu");
  // B=1, N=3, C=3, label 2
  const L = [[1, 0, 2], [0.5, 0.5, -1], [3, -2, 1]];
  const logits = tf.tensor3d([L], [1, 3, 3]);
  const y = tf.tensor1d([2], "int32");
  const fg = tf.tensor2d([[1, 0, 1]]), bg = tf.tensor2d([[0, 1, 0]]);
  const p = (r: number[], k: number) => Math.exp(r[k]) / r.reduce((s, v) => s + Math.exp(v), 0);
  const fgHand = (-Math.log(p(L[0], 2)) - Math.log(p(L[2], 2))) / 2;
  const bgHand = -Math.log(1 - p(L[1], 2));
  assertAlmostEquals(val(patchContrastiveLoss(logits, y, fg, bg, 0)), fgHand, 1e-5);
  assertAlmostEquals(
    val(patchContrastiveLoss(logits, y, fg, bg, 0.5)),
    fgHand + 0.5 * bgHand,
    1e-5,
  );
});

Deno.test("I_CL: mean softmax CE of the image scores", async () => {
  await initBackend("cpu");
  const s = [[2, 1, 0], [0, 0, 4]];
  const lse = (r: number[]) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
  const hand = ((lse(s[0]) - 1) + (lse(s[1]) - 4)) / 2; // labels 1 and 2
  assertAlmostEquals(
    val(imageContrastiveLoss(tf.tensor2d(s), tf.tensor1d([1, 2], "int32"))),
    hand,
    1e-6,
  );
});

Deno.test("tedLocLosses: total is the λ-weighted sum of the three terms", async () => {
  await initBackend("cpu");
  const an = {
    classNames: ["a", "b"],
    vectors: new Float32Array([1, 0, 0, 1]),
    count: 2,
    dim: 2,
    rawDim: 2,
    ortho: "none" as const,
    source: "t",
  };
  const model = new TedLocModel(resolveTedLocConfig(3, 2, 2), an);
  const [total, kd, pcl, icl] = tf.tidy(() => {
    const out = model.forward(tf.tensor3d([1, 2, 3, -1, 0, 2, 0.5, 0.5, -2, 1, 1, 1], [2, 2, 3]));
    const t = {
      labels: tf.tensor1d([0, 1], "int32"),
      fgMask: tf.tensor2d([[1, 0], [0, 1]]),
      bgMask: tf.tensor2d([[0, 1], [1, 0]]),
    };
    const l = tedLocLosses(model, out, t, { kd: 0.5, pcl: 2, icl: 3, pclBg: 1 });
    return [l.total, l.kd, l.pcl, l.icl].map((x) => x.dataSync()[0]);
  });
  assertAlmostEquals(total, 0.5 * kd + 2 * pcl + 3 * icl, 1e-5);
  model.dispose();
});

Deno.test("tedLocLosses: the gathered-samples path of P_CL equals the mask path (values and gradients)", async () => {
  await initBackend("cpu");
  const an = {
    classNames: ["a", "b", "c"],
    vectors: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    count: 3,
    dim: 3,
    rawDim: 3,
    ortho: "none" as const,
    source: "t",
  };
  const model = new TedLocModel(resolveTedLocConfig(4, 3, 3, { decoder: { hidden: 5 } }), an);
  const fg = new Float32Array([1, 0, 0, 0, 0, 1, 1, 0]),
    bg = new Float32Array([0, 0, 1, 0, 1, 0, 0, 0]);
  const labels = [2, 0];
  const lists = sampledPatchLists(fg, bg, labels, 4);
  assertEquals(Array.from(lists.index), [0, 2, 4, 5, 6]);
  assertEquals(Array.from(lists.labels), [2, 2, 0, 0, 0]);
  const x = tf.tensor3d(new Float32Array(32).map((_, i) => Math.cos(i * 1.3)), [2, 4, 4]);
  const t = {
    labels: tf.tensor1d(labels, "int32"),
    fgMask: tf.tensor2d(fg, [2, 4]),
    bgMask: tf.tensor2d(bg, [2, 4]),
  };
  const sampled = {
    index: tf.tensor1d(lists.index, "int32"),
    labels: tf.tensor1d(lists.labels, "int32"),
    isFg: tf.tensor1d(lists.isFg),
  };
  const w = { kd: 1, pcl: 1, icl: 0, pclBg: 0.7 };
  const run = (withList: boolean) => {
    const { value, grads } = tf.variableGrads(
      () => tedLocLosses(model, model.forward(x), withList ? { ...t, sampled } : t, w).pcl,
      model.trainableVariables(),
    );
    const out = [
      value.dataSync()[0],
      ...Object.values(grads).flatMap((g) => Array.from(g.dataSync())),
    ];
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  assertArrayClose(run(true), run(false), 1e-5);
  model.dispose();
});
