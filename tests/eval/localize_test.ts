import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { centerGaussianMap } from "../../lib/metrics/mod.ts";
import type { LocalizationHead } from "../../lib/model/baselines.ts";
import type { FeatureSet } from "../../lib/model/encoder.ts";
import {
  evaluateFixedMap,
  evaluateHead,
  frameGeometry,
  localizeTokens,
} from "../../lib/eval/mod.ts";
import { makeSyntheticTokens } from "../../lib/train/synthetic.ts";

/** Tokens [mask, one-hot class…] per patch, and a head reading them back: a perfect oracle. */
function oracle(): {
  features: FeatureSet;
  head: LocalizationHead;
  syn: ReturnType<typeof makeSyntheticTokens>;
} {
  const syn = makeSyntheticTokens({ numClasses: 3, imagesPerClass: 3, grid: [7, 7], prefix: "t" });
  const N = 49, C = 3, d = 1 + C, n = syn.features.ids.length;
  const tokens = new Float32Array(n * N * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < N; p++) {
      tokens[(i * N + p) * d] = syn.objectMasks[i * N + p];
      tokens[(i * N + p) * d + 1 + syn.labels[i]] = 1;
    }
  }
  const features = { ...syn.features, dim: d, views: ["test"], tokens };
  const head: LocalizationHead = {
    name: "oracle",
    numClasses: C,
    predict: (x) => ({
      maps: tf.squeeze(tf.slice(x, [0, 0, 0], [-1, -1, 1]), [2]) as tf.Tensor2D,
      scores: tf.mean(tf.slice(x, [0, 0, 1], [-1, -1, C]), 1) as tf.Tensor2D,
    }),
    parameterCount: () => 0,
    flops: () => 0,
    dispose: () => {},
  };
  return { features, head, syn };
}

Deno.test("evaluateHead: an oracle head scores 100 %, score maps written as <dir>/<id>.npy (224×224)", async () => {
  await initBackend("cpu");
  const { features, head, syn } = oracle();
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "maps");
    const r = await evaluateHead(head, features, syn.metadata, {
      scoremapDir: out,
      progress: false,
    });
    assertEquals(r.count, 9);
    assertAlmostEquals(r.metrics.maxBoxAcc, 100, 1e-9);
    assertAlmostEquals(r.metrics.top1Cls!, 100, 1e-9);
    assertAlmostEquals(r.metrics.top1Loc!, 100, 1e-9);
    const npy = await readNpy(join(out, `${features.ids[4]}.npy`));
    assertEquals(npy.shape, [224, 224]);
    const v = npy.data as Float32Array;
    assert(Math.min(...v) === 0 && Math.max(...v) === 1, "normalised map");
    // the prior is image-independent: its numbers do not depend on any head
    const prior = evaluateFixedMap(centerGaussianMap(), syn.metadata);
    assert(prior.maxBoxAcc < 100 && prior.top1Cls === undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluateHead: class-specific heads are scored on the ground-truth class's map (wsolevaluation), or the predicted one when asked", async () => {
  await initBackend("cpu");
  const { features, syn } = oracle();
  // a head that always predicts class 0 and whose class-k map is the object mask only for the
  // image's true class (elsewhere a corner blob)
  const C = 3, N = 49;
  const head: LocalizationHead = {
    name: "classmaps",
    numClasses: C,
    predict: (x, classes) => {
      const B = x.shape[0];
      const fg = tf.squeeze(tf.slice(x, [0, 0, 0], [-1, -1, 1]), [2]);
      const truth = tf.argMax(tf.mean(tf.slice(x, [0, 0, 1], [-1, -1, C]), 1), 1);
      const asked = classes === undefined
        ? tf.zeros([B], "int32")
        : tf.tensor1d(Int32Array.from(classes), "int32");
      const corner = tf.tile(tf.oneHot([0], N), [B, 1]);
      const right = tf.expandDims(tf.equal(asked, truth), 1);
      return {
        maps: tf.where(tf.tile(right, [1, N]), fg, corner) as tf.Tensor2D,
        scores: tf.oneHot(tf.zeros([B], "int32"), C).asType("float32") as tf.Tensor2D,
      };
    },
    parameterCount: () => 0,
    flops: () => 0,
    dispose: () => {},
  };
  const gt = await evaluateHead(head, features, syn.metadata, { progress: false });
  const pred = await evaluateHead(head, features, syn.metadata, {
    progress: false,
    mapClass: "predicted",
  });
  assertAlmostEquals(gt.metrics.maxBoxAcc, 100, 1e-9);
  // predicted class 0 is right for 3 of 9 images: only their maps are right
  assertAlmostEquals(pred.metrics.maxBoxAcc, 100 / 3, 1e-6);
  // classification (and so Top-1 Loc's class test) does not depend on which map is scored
  assertAlmostEquals(gt.metrics.top1Cls!, 100 / 3, 1e-6);
  assertAlmostEquals(pred.metrics.top1Cls!, 100 / 3, 1e-6);
});

Deno.test("evaluateHead: flip TTA averages the mirrored flip-view map (a mirrored input changes nothing); needs the flip view", async () => {
  await initBackend("cpu");
  const { features, head, syn } = oracle();
  const [gh, gw] = features.grid, N = gh * gw, d = features.dim, n = features.ids.length;
  const flip = new Float32Array(features.tokens.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        const src = (i * N + y * gw + x) * d, dst = (i * N + y * gw + (gw - 1 - x)) * d;
        flip.set(features.tokens.subarray(src, src + d), dst);
      }
    }
  }
  const both = {
    ...features,
    views: ["test", "flip"],
    tokens: new Float32Array([...features.tokens, ...flip]),
  };
  const plain = await evaluateHead(head, features, syn.metadata, { progress: false });
  const tta = await evaluateHead(head, both, syn.metadata, { progress: false, flipTta: true });
  assertEquals(tta.metrics.maxBoxAcc, plain.metrics.maxBoxAcc);
  assertEquals(tta.metrics.maxBoxAccV2, plain.metrics.maxBoxAccV2);
  assertEquals(tta.metrics.top1Cls, plain.metrics.top1Cls);
  // an unmirrored "flip" view (the same tokens) puts a mirrored ghost beside each object
  const ghost = {
    ...features,
    views: ["test", "flip"],
    tokens: new Float32Array([...features.tokens, ...features.tokens]),
  };
  const bad = await evaluateHead(head, ghost, syn.metadata, { progress: false, flipTta: true });
  assert(bad.metrics.maxBoxAccV2 < plain.metrics.maxBoxAccV2, "a wrong flip view must hurt");
  await assertRejects(
    () => evaluateHead(head, features, syn.metadata, { progress: false, flipTta: true }),
    "needs the features' 'flip' view",
  );
});

/** The oracle's tokens as an encoder with twice the input side would give them: each cell 2×2. */
function twiceFiner(f: FeatureSet, mirror = false): FeatureSet {
  const [gh, gw] = f.grid, d = f.dim, n = f.ids.length, W = 2 * gw, N2 = 4 * gh * gw;
  const tokens = new Float32Array(n * N2 * d);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 2 * gh; y++) {
      for (let x = 0; x < W; x++) {
        const sx = mirror ? gw - 1 - (x >> 1) : x >> 1;
        const src = (i * gh * gw + (y >> 1) * gw + sx) * d;
        tokens.set(f.tokens.subarray(src, src + d), (i * N2 + y * W + x) * d);
      }
    }
  }
  // in the doubled input the cells are f.stride apart, centred at f.stride/2 (an even split)
  return { ...f, grid: [2 * gh, W], stride: f.stride, cellOffset: f.stride / 2, tokens };
}

Deno.test("evaluateHead: extra scales average each size's map in the 224 frame; class scores stay native", async () => {
  await initBackend("cpu");
  assertEquals(frameGeometry({ grid: [28, 28], stride: 16, cellOffset: 15.5 }, 448), {
    grid: [28, 28],
    stride: 8,
    cellOffset: 7.75,
    size: 224,
  });
  const same = frameGeometry({ grid: [14, 14], stride: 16, cellOffset: 15.5 }, 224);
  assertEquals([same.stride, same.cellOffset], [16, 15.5]);
  const { features, head, syn } = oracle();
  const plain = await evaluateHead(head, features, syn.metadata, { progress: false });
  const finer = twiceFiner(features);
  const two = await evaluateHead(head, features, syn.metadata, {
    progress: false,
    extraScales: [{ features: finer, inputSize: 448 }],
  });
  assertAlmostEquals(two.metrics.maxBoxAcc, 100, 1e-9);
  assertEquals(two.metrics.top1Cls, plain.metrics.top1Cls);
  // the extra map is really used: a mirrored one puts a ghost beside each object
  const ghost = await evaluateHead(head, features, syn.metadata, {
    progress: false,
    extraScales: [{ features: twiceFiner(features, true), inputSize: 448 }],
  });
  assert(ghost.metrics.maxBoxAccV2 < two.metrics.maxBoxAccV2, "a wrong extra scale must hurt");
  await assertRejects(
    () =>
      evaluateHead(
        head,
        {
          ...features,
          views: ["test", "flip"],
          tokens: new Float32Array(2 * features.tokens.length),
        },
        syn.metadata,
        {
          progress: false,
          flipTta: true,
          extraScales: [{ features: finer, inputSize: 448 }],
        },
      ),
    "'flip' view of the 448px tokens",
  );
});

Deno.test("localizeTokens: top-k classes with probabilities, largest box near the GT box", async () => {
  await initBackend("cpu");
  const { features, head, syn } = oracle();
  const N = 49, d = features.dim;
  const res = await localizeTokens(head, features.tokens.subarray(0, 2 * N * d), 2, features, {
    topk: 2,
    classNames: ["a", "b", "c"],
  });
  assertEquals(res.length, 2);
  for (let i = 0; i < 2; i++) {
    const r = res[i];
    assertEquals(r.topk.length, 2);
    assertEquals(r.topk[0].label, syn.labels[i]);
    assertEquals(r.topk[0].name, ["a", "b", "c"][syn.labels[i]]);
    assert(r.topk[0].prob > r.topk[1].prob);
    assertEquals(r.map.length, 224 * 224);
    const gt = syn.metadata.boxes.get(features.ids[i])![0];
    for (let k = 0; k < 4; k++) {
      assert(Math.abs(r.boxes[0][k] - gt[k]) <= 24, `box ${r.boxes[0]} vs GT ${gt}`);
    }
  }
});
