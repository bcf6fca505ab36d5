import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import {
  assert,
  assertAlmostEquals,
  assertArrayClose,
  assertEquals,
  assertRejects,
} from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { InputError } from "../../lib/io/errors.ts";
import { resolveTedLocConfig } from "../../lib/model/tedloc.ts";
import {
  configDiff,
  learningRate,
  loadTedLocCheckpoint,
  makeSyntheticTokens,
  Optimizer,
  readCheckpoint,
  trainCamHead,
  trainTedLoc,
} from "../../lib/train/mod.ts";

const data = makeSyntheticTokens({
  numClasses: 3,
  imagesPerClass: 6,
  grid: [4, 4],
  dim: 8,
  anchorDim: 6,
  prefix: "train",
});
const inputs = {
  features: data.features,
  labels: data.labels,
  cues: data.objectnessCues,
  anchors: data.anchors,
};
const small = {
  epochs: 4,
  batchSize: 5,
  model: { decoder: { hidden: 12 } },
  optimizer: { lr: 3e-3 },
};

Deno.test("trainer: no tensor leak — numTensors constant across steps", async () => {
  await initBackend("wasm");
  const counts: number[] = [];
  const r = await trainTedLoc(inputs, { ...small, epochs: 2 }, {
    progress: false,
    onStep: () => counts.push(tf.memory().numTensors),
  });
  assertEquals(counts.length, 2 * 4);
  assert(counts.every((c) => c === counts[0]), `tensor counts vary across steps: ${counts}`);
  const before = tf.memory().numTensors;
  r.model.dispose();
  assert(tf.memory().numTensors < before, "disposing the model frees its tensors");
});

Deno.test("trainer: 4 epochs == 2 epochs + interruption + resume 2 (bit for bit), metrics.jsonl, RNG state", async () => {
  await initBackend("wasm");
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    const full = await trainTedLoc(inputs, small, { outDir: a, progress: false });
    const first = await trainTedLoc(inputs, small, {
      outDir: b,
      progress: false,
      stopAfterEpochs: 2,
    });
    assertEquals(first.epochsDone, 2);
    first.model.dispose();
    const ck = await readCheckpoint(join(b, "last.safetensors"));
    assertEquals(ck.info.epoch, 2);
    assert(
      ck.info.rngState !== 0 && Object.keys(ck.optimizerState).some((k) => k.startsWith("m.")),
      "rng + adam state saved",
    );
    const resumed = await trainTedLoc(inputs, small, { outDir: b, resume: true, progress: false });
    assertEquals(resumed.resumedFrom, 2);
    assertEquals(resumed.epochsDone, 4);
    const wa = await full.model.getWeights(), wb = await resumed.model.getWeights();
    for (const k of Object.keys(wa)) assertArrayClose(wb[k].data, wa[k].data, 0, k);
    const strip = (h: Record<string, number>[]) => h.map(({ seconds: _s, ...r }) => r);
    assertEquals(strip(resumed.history), strip(full.history));
    const lines = (await Deno.readTextFile(join(b, "metrics.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(lines.map((l) => l.epoch), [1, 2, 3, 4]);
    assert(
      lines.every((l) =>
        Number.isFinite(l.loss) && "kd" in l && "pcl" in l && "icl" in l && "lr" in l
      ),
    );
    full.model.dispose();
    resumed.model.dispose();
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("trainer: resuming with another config, or loading a checkpoint into another model config, names the mismatch", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const r = await trainTedLoc(inputs, { ...small, epochs: 1 }, {
      outDir: dir,
      progress: false,
      encoderSpec: { kind: "tfjs-cnn", dir: "/m" },
    });
    const e = await assertRejects(
      () =>
        trainTedLoc(inputs, { ...small, epochs: 1, model: { decoder: { hidden: 16 } } }, {
          outDir: dir,
          resume: true,
          progress: false,
        }),
      "cannot resume",
      "model.decoder.hidden: 12 ≠ 16",
    );
    assert(e instanceof InputError);
    const path = join(dir, "last.safetensors");
    const other = resolveTedLocConfig(8, 6, 3, { decoder: { hidden: 12, kind: "linear" } });
    await assertRejects(
      () => loadTedLocCheckpoint(path, other),
      "another model config",
      'decoder.kind: "mlp" ≠ "linear"',
    );
    // loading with the right config gives the same predictions
    const { model, info } = await loadTedLocCheckpoint(path, r.modelConfig);
    assertEquals(info.encoderId, data.features.encoderId);
    assertEquals(info.encoderSpec, { kind: "tfjs-cnn", dir: "/m" });
    const x = tf.tensor3d(data.features.tokens.subarray(0, 2 * 16 * 8), [2, 16, 8]);
    const [p, q] = tf.tidy(
      () => [r.model.forward(x).scores.dataSync(), model.forward(x).scores.dataSync()],
    );
    assertArrayClose(p, q, 0);
    x.dispose();
    model.dispose();
    r.model.dispose();
    await Deno.writeTextFile(join(dir, "bad.safetensors"), "xx");
    await assertRejects(
      () => loadTedLocCheckpoint(join(dir, "bad.safetensors")),
      "bad.safetensors",
      "not a valid",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: losses fall and the classes are learnt on synthetic tokens; CAM baseline trains", async () => {
  await initBackend("wasm");
  const r = await trainTedLoc(inputs, { ...small, epochs: 25, optimizer: { lr: 5e-3 } }, {
    progress: false,
  });
  const h = r.history;
  assert(h[h.length - 1].loss < 0.7 * h[0].loss, `loss ${h[0].loss} → ${h[h.length - 1].loss}`);
  assert(h[h.length - 1].trainAcc > 0.8, `train accuracy ${h[h.length - 1].trainAcc}`);
  r.model.dispose();
  const { cam, history } = await trainCamHead(data.features, data.labels, {
    epochs: 15,
    optimizer: { lr: 2e-2 },
    progress: false,
  });
  assert(history[history.length - 1].loss < history[0].loss, "CAM loss falls");
  cam.dispose();
});

Deno.test("Adam and SGD updates equal a hand computation; schedules", async () => {
  await initBackend("cpu");
  const p = tf.variable(tf.tensor1d([1, -2]));
  const adam = new Optimizer(new Map([["w", p]]), {
    kind: "adam",
    lr: 0.1,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    momentum: 0,
  });
  const g = tf.tensor1d([0.5, -4]);
  adam.apply(new Map([["w", g]]), 0.1); // step 1: m̂ = g, v̂ = g² → update = sign(g)·lr
  assertArrayClose(p.dataSync(), [0.9, -1.9], 1e-6);
  adam.apply(new Map([["w", g]]), 0.1); // same gradient: again ≈ lr·sign
  assertArrayClose(p.dataSync(), [0.8, -1.8], 1e-6);
  const q = tf.variable(tf.tensor1d([1]));
  const sgd = new Optimizer(new Map([["w", q]]), {
    kind: "sgd",
    lr: 0.1,
    momentum: 0.5,
    weightDecay: 0,
    beta1: 0,
    beta2: 0,
    eps: 0,
  });
  const g2 = tf.tensor1d([2]);
  sgd.apply(new Map([["w", g2]]), 0.1); // buf 2 → 0.8
  sgd.apply(new Map([["w", g2]]), 0.1); // buf 3 → 0.5
  assertArrayClose(q.dataSync(), [0.5], 1e-6);
  tf.dispose([p, q, g, g2]);
  adam.dispose();
  sgd.dispose();
  const opt = {
    kind: "adam" as const,
    lr: 1,
    beta1: 0,
    beta2: 0,
    eps: 0,
    weightDecay: 0,
    momentum: 0,
  };
  const cos = {
    kind: "cosine" as const,
    warmupEpochs: 1,
    stepEpochs: 1,
    gamma: 0.1,
    minLrRatio: 0,
  };
  assertAlmostEquals(learningRate(opt, cos, 0, 30, 10), 0.1, 1e-12); // warm-up 1/10
  assertAlmostEquals(learningRate(opt, cos, 10, 30, 10), 1, 1e-12);
  assertAlmostEquals(learningRate(opt, cos, 20, 30, 10), 0.5, 1e-12);
  assertAlmostEquals(
    learningRate(opt, { ...cos, kind: "step", warmupEpochs: 0 }, 25, 30, 10),
    0.01,
    1e-12,
  );
  assertEquals(configDiff({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] }, d: true }), [
    "b.c: [1,2] ≠ [1,3]",
    "d: (absent) ≠ true",
  ]);
});
