import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { InputError } from "../../lib/io/errors.ts";
import { encodeSafetensors, parseSafetensors } from "../../lib/io/safetensors.ts";
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";
import type { AnchorSpace } from "../../lib/model/anchor_space.ts";
import {
  CHECKPOINT_HASH_KEY,
  loadTedLocCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from "../../lib/train/checkpoint.ts";

const C = 3, D = 6;

function smallModel(): TedLocModel {
  const vectors = new Float32Array(C * D);
  for (let c = 0; c < C; c++) vectors[c * D + c] = 1;
  const anchors: AnchorSpace = {
    classNames: ["a", "b", "c"],
    vectors,
    count: C,
    dim: D,
    rawDim: D,
    ortho: "none",
    source: "test",
  };
  return new TedLocModel(resolveTedLocConfig(8, D, C, { decoder: { hidden: 12 } }), anchors);
}

async function saved(dir: string): Promise<string> {
  const model = smallModel();
  const path = join(dir, "last.safetensors");
  await writeCheckpoint(path, model, {
    trainConfig: { epochs: 1 },
    modelConfig: model.config,
    epoch: 1,
    step: 4,
    optimizerStep: 4,
    rngState: 7,
    history: [],
    encoderId: "enc",
    grid: [4, 4],
    stride: 16,
    cellOffset: 8,
  }, { "m.w": { shape: [2], data: new Float32Array([1, 2]) } });
  model.dispose();
  return path;
}

Deno.test("checkpoint: flipped bytes in weights or metadata are a one-line error naming the file", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const path = await saved(dir);
    const good = await Deno.readFile(path);
    const st = parseSafetensors(good, path);
    assert(/^[0-9a-f]{64}$/.test(st.metadata[CHECKPOINT_HASH_KEY]), "hash stored at save");
    (await loadTedLocCheckpoint(path)).model.dispose(); // intact: loads

    // flip the last 64 bytes (tensor data)
    const bad = good.slice();
    for (let i = bad.length - 64; i < bad.length; i++) bad[i] ^= 0xff;
    const flipped = join(dir, "flipped.safetensors");
    await Deno.writeFile(flipped, bad);
    const e = await assertRejects(
      () => loadTedLocCheckpoint(flipped),
      "flipped.safetensors",
      "damaged",
      "content_sha256",
    );
    assert(e instanceof InputError && !e.message.includes("\n"), "one line, an InputError");

    // a changed metadata value (same length, so the header still parses)
    const text = new TextDecoder().decode(good);
    const i = text.indexOf('"rng_state":"7"');
    assert(i > 0);
    const meta = good.slice();
    meta[i + '"rng_state":"'.length] = "8".charCodeAt(0);
    await Deno.writeFile(flipped, meta);
    await assertRejects(() => readCheckpoint(flipped), "damaged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: an old checkpoint without content_sha256 still loads (unchecked)", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    const path = await saved(dir);
    const st = parseSafetensors(await Deno.readFile(path), path);
    const md = { ...st.metadata };
    delete md[CHECKPOINT_HASH_KEY];
    const tensors = Object.fromEntries(
      [...st.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data, dtype: t.dtype }]),
    );
    const old = join(dir, "old.safetensors");
    await Deno.writeFile(old, encodeSafetensors(tensors, md));
    const ck = await readCheckpoint(old);
    assertEquals(ck.info.step, 4);
    assertEquals(ck.optimizerState["m.w"].data, new Float32Array([1, 2]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
