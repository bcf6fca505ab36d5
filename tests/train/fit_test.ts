import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { Rng } from "../../lib/util/rng.ts";
import {
  DivergenceError,
  fit,
  type FitBatch,
  type FitData,
  type FitHead,
  type FitOptions,
  type FitSnapshot,
} from "../../lib/train/fit.ts";
import { DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE } from "../../lib/train/optim.ts";
import {
  makeSyntheticTokens,
  readCheckpoint,
  trainCamHead,
  trainTedLoc,
} from "../../lib/train/mod.ts";
import { readNamed } from "../../lib/model/units.ts";

const data = makeSyntheticTokens({
  numClasses: 3,
  imagesPerClass: 6,
  grid: [4, 4],
  dim: 8,
  anchorDim: 6,
  prefix: "fit",
});
const fitData: FitData = {
  features: data.features,
  labels: data.labels,
  rows: data.features.ids.map((_, i) => i),
};

/** A linear GAP classifier whose loss turns NaN from global step `nanFrom` on (1-based). */
function toyHead(nanFrom = Infinity, seen: FitBatch[] = []): FitHead<number> {
  const w = tf.variable(tf.zeros([8, 3]), true, `toy/${crypto.randomUUID()}`);
  const params = new Map([["w", w]]);
  let calls = 0;
  return {
    params,
    termNames: ["half"],
    prepare: (batch, rng) => {
      seen.push(batch);
      return rng.next();
    },
    loss(x, y) {
      calls++;
      const logits = tf.matMul(tf.mean(x, 1), w) as tf.Tensor2D;
      const ce = tf.mean(
        tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(logits, tf.oneHot(y, 3)), -1)),
      );
      const total = (calls >= nanFrom ? tf.mul(ce, NaN) : ce) as tf.Scalar;
      return { total, terms: [tf.mul(ce, 0.5) as tf.Scalar], scores: logits };
    },
    getWeights: () => readNamed(params),
    setWeights: (ws) => w.assign(tf.tensor(ws.w.data, w.shape)),
  };
}

const base: FitOptions = {
  epochs: 3,
  batchSize: 5, // 18 images → 4 steps per epoch
  seed: 1,
  randomViews: true,
  optimizer: { ...DEFAULT_OPTIMIZER, lr: 0.05 },
  schedule: DEFAULT_SCHEDULE,
  progress: false,
};

Deno.test("fit: divergence names epoch and step and keeps the last good checkpoint", async () => {
  await initBackend("wasm");
  for (const logEvery of [1, 20]) {
    const saved: FitSnapshot[] = [];
    const head = toyHead(6); // step 6 = epoch 2, step 2
    const e = await assertRejects(
      () =>
        fit(head, fitData, {
          ...base,
          logEvery,
          checkpoint: {
            where: "/ck/last.safetensors",
            load: () => Promise.resolve(null),
            save: (s) => Promise.resolve(void saved.push(s)),
          },
        }),
      "training diverged at epoch 2 step 2: loss NaN",
      "last good checkpoint (epoch 1) is kept in /ck/last.safetensors",
    );
    assert(e instanceof DivergenceError && e.epoch === 2 && e.stepInEpoch === 2);
    assertEquals(saved.map((s) => s.epoch), [1], "no checkpoint after the divergence");
    head.params.get("w")!.dispose();
  }
});

Deno.test("fit: bad epochs, batch size or an empty training set are input errors", async () => {
  await initBackend("wasm");
  const head = toyHead();
  await assertRejects(
    () => fit(head, fitData, { ...base, batchSize: 0 }),
    "batchSize must be a positive integer, got 0",
  );
  await assertRejects(
    () => fit(head, fitData, { ...base, epochs: 1.5 }),
    "epochs must be a positive integer",
  );
  await assertRejects(() => fit(head, { ...fitData, rows: [] }, base), "no training images");
  head.params.get("w")!.dispose();
});

Deno.test("fit: views drawn per image before the head's own draws; flips flagged; abort keeps finished epochs", async () => {
  await initBackend("wasm");
  const seen: FitBatch[] = [];
  const head = toyHead(Infinity, seen);
  const ctl = new AbortController();
  const r = await fit(head, fitData, {
    ...base,
    onStep: (s) => s === 6 && ctl.abort(),
    signal: ctl.signal,
  });
  assertEquals(r.epochsDone, 1);
  assertEquals(r.history.length, 1);
  assertEquals(Object.keys(r.history[0]), ["epoch", "loss", "half", "trainAcc", "lr", "seconds"]);
  assert(
    Math.abs(r.history[0].half - r.history[0].loss / 2) < 1e-6,
    "terms are averaged like the loss",
  );
  // replay the RNG: shuffle, then per step one int per image (view) and one next() (prepare)
  const rng = new Rng(1);
  const order = rng.shuffle(fitData.rows.map((_, i) => i));
  for (let b = 0; b < 4; b++) {
    const items = order.slice(b * 5, (b + 1) * 5);
    assertEquals(seen[b].items, items);
    const views = items.map(() => rng.int(2));
    rng.next();
    assertEquals(seen[b].views, views);
    assertEquals(seen[b].flipped, views.map((v) => data.features.views[v] === "flip"));
    assertEquals([...seen[b].labels], items.map((k) => data.labels[k]));
  }
  head.params.get("w")!.dispose();
});

Deno.test("fit: no synchronous reads; losses read once per epoch, not per step (TeD-Loc and CAM)", async () => {
  await initBackend("wasm");
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const saved = { dataSync: proto.dataSync, arraySync: proto.arraySync, data: proto.data };
  let reads = 0;
  proto.dataSync = () => {
    throw new Error("dataSync called");
  };
  proto.arraySync = () => {
    throw new Error("arraySync called");
  };
  proto.data = function (this: tf.Tensor) {
    reads++;
    return (saved.data as () => Promise<unknown>).call(this);
  };
  try {
    const inputs = {
      features: data.features,
      labels: data.labels,
      cues: data.objectnessCues,
      anchors: data.anchors,
    };
    const r = await trainTedLoc(inputs, {
      epochs: 3,
      batchSize: 5,
      model: { decoder: { hidden: 12 } },
    }, {
      progress: false,
    });
    assertEquals(reads, 3, "one batched read per epoch (4 steps each)");
    const dir = await Deno.makeTempDir();
    try {
      reads = 0;
      const r2 = await trainTedLoc(inputs, {
        epochs: 2,
        batchSize: 5,
        model: { decoder: { hidden: 12 } },
      }, {
        progress: false,
        outDir: dir,
      });
      r2.model.dispose();
      // per epoch: the metrics, plus one read per weight and optimizer slot for the checkpoint
      const perCheckpoint = r.model.params.size * 3;
      assertEquals(reads, 2 * (1 + perCheckpoint));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    r.model.dispose();
    reads = 0;
    const { cam } = await trainCamHead(data.features, data.labels, {
      epochs: 2,
      progress: false,
      batchSize: 5,
    });
    assertEquals(reads, 2);
    cam.dispose();
  } finally {
    Object.assign(proto, saved);
  }
});

Deno.test("trainTedLoc: a run that diverges after resuming names epoch/step and leaves the last good checkpoint on disk", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const inputs = {
      features: data.features,
      labels: data.labels,
      cues: data.objectnessCues,
      anchors: data.anchors,
    };
    const cfg = { epochs: 3, batchSize: 5, model: { decoder: { hidden: 12 } } };
    const first = await trainTedLoc(inputs, cfg, {
      progress: false,
      outDir: dir,
      stopAfterEpochs: 1,
    });
    first.model.dispose();
    // same encoder id and config, but every token is NaN: the first step of epoch 2 diverges
    const bad = {
      ...data.features,
      tokens: new Float32Array(data.features.tokens.length).fill(NaN),
    };
    const path = join(dir, "last.safetensors");
    await assertRejects(
      () =>
        trainTedLoc({ ...inputs, features: bad }, cfg, {
          progress: false,
          outDir: dir,
          resume: true,
        }),
      "training diverged at epoch 2 step 1: loss NaN",
      `last good checkpoint (epoch 1) is kept in ${path}`,
    );
    assertEquals((await readCheckpoint(path)).info.epoch, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
