/**
 * The selected box threshold and the evaluated extra input sizes: stored in a run folder's
 * checkpoint (content hash kept valid), read back by `readCheckpoint`; τ chosen on held-out
 * data or the test-free 0.5.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { InputError } from "../../lib/io/errors.ts";
import { parseSafetensors } from "../../lib/io/safetensors.ts";
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";
import {
  BOX_THRESHOLD_KEY,
  EXTRA_INPUT_SIZES_KEY,
  readCheckpoint,
  setBoxThreshold,
  setCheckpointMetadata,
  setExtraInputSizes,
  writeCheckpoint,
} from "../../lib/train/checkpoint.ts";
import {
  DEFAULT_BOX_THRESHOLD,
  selectedBoxThreshold,
  writeRunBoxThreshold,
  writeRunExtraInputSizes,
} from "../../lib/run/run.ts";
import { BoxEvaluator } from "../../lib/metrics/box.ts";
import type { WsolMetadata } from "../../lib/data/metadata.ts";

async function savedCheckpoint(dir: string): Promise<string> {
  const C = 2, D = 4;
  const vectors = new Float32Array(C * D);
  vectors[0] = 1;
  vectors[D + 1] = 1;
  const model = new TedLocModel(resolveTedLocConfig(8, D, C, { decoder: { hidden: 6 } }), {
    classNames: ["a", "b"],
    vectors,
    count: C,
    dim: D,
    rawDim: D,
    ortho: "none",
    source: "t",
  });
  const path = join(dir, "last.safetensors");
  await writeCheckpoint(path, model, {
    trainConfig: null,
    modelConfig: model.config,
    epoch: 1,
    step: 1,
    optimizerStep: 1,
    rngState: 0,
    history: [],
    encoderId: "enc",
    grid: [2, 2],
    stride: 16,
    cellOffset: 8,
  });
  model.dispose();
  return path;
}

Deno.test("box threshold: stored in the checkpoint, hash still valid, read back", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const path = await savedCheckpoint(dir);
    assertEquals((await readCheckpoint(path)).info.boxThreshold, undefined);
    const before = parseSafetensors(await Deno.readFile(path), path);
    await setBoxThreshold(path, 0.62, "best τ on 10 held-out images");
    const ck = await readCheckpoint(path); // the content hash was recomputed: loads checked
    assertEquals(ck.info.boxThreshold, { tau: 0.62, source: "best τ on 10 held-out images" });
    const after = parseSafetensors(await Deno.readFile(path), path);
    for (const [n, t] of before.tensors) {
      assertEquals(after.tensors.get(n)!.data, t.data, `tensor ${n} kept`);
    }
    // a value outside [0, 1] written by hand is refused at load
    await setCheckpointMetadata(path, { [BOX_THRESHOLD_KEY]: "1.5" });
    const e = await assertRejects(() => readCheckpoint(path), "outside [0, 1]");
    assert(e instanceof InputError, String(e));
    await assertRejects(() => setBoxThreshold(path, -0.1, "x"), "must be in [0, 1]");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function metricsOn(count: number, boxAt: number) {
  const ids = Array.from({ length: count }, (_, i) => `v${i}`);
  const metadata: WsolMetadata = {
    imageIds: ids,
    classLabels: new Map(ids.map((id) => [id, 0])),
    imageSizes: new Map(ids.map((id) => [id, [224, 224] as [number, number]])),
    boxes: new Map(ids.map((id) => [id, [[50, 50, 150, 150]]])),
    masks: new Map(),
    ignoreMasks: new Map(),
  } as WsolMetadata;
  const ev = new BoxEvaluator({ metadata, camCurveInterval: 0.01 });
  // A ramp map: only τ near `boxAt` boxes the object well.
  const map = new Float32Array(224 * 224);
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      const inside = x >= 50 && x <= 150 && y >= 50 && y <= 150;
      map[y * 224 + x] = inside ? 1 : boxAt * 0.99 * (1 - Math.hypot(x - 100, y - 100) / 400);
    }
  }
  for (const id of ids) ev.accumulate(map, id);
  return ev.compute();
}

Deno.test("box threshold: best MaxBoxAcc τ on held-out images, else the test-free 0.5", async () => {
  const m = metricsOn(3, 0.7);
  const t = selectedBoxThreshold({ tedloc: m });
  const curve = m.largest.find((c) => c.iou === 50)!;
  assertEquals(t.tau, curve.bestTau);
  assert(t.tau > 0.55 && t.tau !== DEFAULT_BOX_THRESHOLD, `τ ${t.tau}`); // above the background ramp
  assert(t.source.includes("3 held-out images"), t.source);
  const none = selectedBoxThreshold({});
  assertEquals(none.tau, 0.5);
  assert(none.source.includes("test-free"), none.source);
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const path = await savedCheckpoint(dir);
    await writeRunBoxThreshold(dir, { validation: { tedloc: m } });
    assertEquals((await readCheckpoint(path)).info.boxThreshold?.tau, t.tau);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extra input sizes: a run's eval.extraInputSizes stored in its checkpoint (none when empty), read back, checked", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const path = await savedCheckpoint(dir);
    const runConfig = (sizes: number[]) => ({ runConfig: { eval: { extraInputSizes: sizes } } });
    // an empty list (native size only) writes nothing: the file is byte for byte the same
    const bytes = await Deno.readFile(path);
    await writeRunExtraInputSizes(dir, runConfig([]));
    assertEquals(await Deno.readFile(path), bytes);
    assertEquals((await readCheckpoint(path)).info.extraInputSizes, undefined);
    await writeRunExtraInputSizes(dir, runConfig([448, 336]));
    const ck = await readCheckpoint(path); // hash recomputed: loads checked
    assertEquals(ck.info.extraInputSizes, [448, 336]);
    assertEquals(
      parseSafetensors(await Deno.readFile(path), path).metadata[EXTRA_INPUT_SIZES_KEY],
      "[448,336]",
    );
    await assertRejects(() => setExtraInputSizes(path, [448.5]), "integers 32..1024");
    for (const bad of ["[16]", '"448"', "[448, 2000]", "nope"]) {
      await setCheckpointMetadata(path, { [EXTRA_INPUT_SIZES_KEY]: bad });
      const e = await assertRejects(() => readCheckpoint(path), EXTRA_INPUT_SIZES_KEY);
      assert(e instanceof InputError, String(e));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
