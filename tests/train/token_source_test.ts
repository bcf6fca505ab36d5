import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";

/** `fn` throws, with every part in the message. */
function assertThrows(fn: () => unknown, ...parts: string[]): void {
  let msg: string | null = null;
  try {
    fn();
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg !== null, "expected an error");
  for (const p of parts) assert(msg.includes(p), `error "${msg}" lacks "${p}"`);
}
import { initBackend } from "../../lib/backend/mod.ts";
import { defaultEncoder } from "../../lib/model/mobilenet.ts";
import type { FeatureSet, PatchEncoder } from "../../lib/model/encoder.ts";
import {
  diskTokenSource,
  memoryTokenSource,
  readFeatureTokens,
  sourcedFeatureSet,
  type TokenSource,
} from "../../lib/model/token_source.ts";
import {
  extractFeatures,
  extractFeatureShard,
  type ImageListDataset,
  mergeFeatureShardSet,
} from "../../lib/train/features.ts";
import { FeatureFileWriter, parseShard, shardRange } from "../../lib/train/feature_files.ts";
import { makeSyntheticTokens, readCheckpoint, trainTedLoc } from "../../lib/train/mod.ts";

/** `n` small synthetic PNGs of different sizes. */
async function makeDataset(dir: string, n: number): Promise<ImageListDataset> {
  const ids: string[] = [];
  await Deno.mkdir(join(dir, "imgs"), { recursive: true });
  for (let i = 0; i < n; i++) {
    const w = 60 + 9 * i, h = 50 + 7 * i;
    const px = new Uint8Array(w * h * 3).map((_, k) => (k * 7 + i * 31) % 251);
    const id = `img${i}.png`;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(
      join(dir, "imgs", id),
    );
    ids.push(id);
  }
  return { name: "synthetic", imageRoot: join(dir, "imgs"), splits: { train: { imageIds: ids } } };
}

function counting(enc: PatchEncoder): PatchEncoder & { calls: number } {
  const wrapped = Object.create(enc) as PatchEncoder & { calls: number };
  wrapped.calls = 0;
  wrapped.encode = (x: tf.Tensor4D) => {
    wrapped.calls++;
    return enc.encode(x);
  };
  return wrapped;
}

/** `f`'s tokens written to cache files and read back through a disk source. */
async function onDisk(f: FeatureSet, dir: string): Promise<FeatureSet> {
  const per = f.grid[0] * f.grid[1] * f.dim, n = f.ids.length;
  const files = [];
  for (let v = 0; v < f.views.length; v++) {
    const w = new FeatureFileWriter(join(dir, `v${v}`), n, per, "f32");
    w.write(0, f.tokens.subarray(v * n * per, (v + 1) * n * per));
    // deno-lint-ignore no-explicit-any
    await w.finish({} as any);
    files.push(join(dir, `v${v}.bin`));
  }
  const { tokens: _, ...meta } = f;
  return sourcedFeatureSet(meta, diskTokenSource(files, n, per, "f32"));
}

Deno.test("token sources: disk reads equal memory rows; f16 rounding; shards parse", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const per = 6, n = 5;
    const tokens = Float32Array.from({ length: 2 * n * per }, (_, i) => Math.sin(i) * 3.3);
    const mem = memoryTokenSource(tokens, n, per);
    const w = [0, 1].map((v) => new FeatureFileWriter(join(dir, `e${v}`), n, per, "f16"));
    // written out of order, in two batches, like workers deliver them
    for (const v of [1, 0]) {
      w[v].write(3, tokens.subarray(v * n * per + 3 * per, (v + 1) * n * per));
      w[v].write(0, tokens.subarray(v * n * per, v * n * per + 3 * per));
      // deno-lint-ignore no-explicit-any
      await w[v].finish({} as any);
    }
    const disk = diskTokenSource([0, 1].map((v) => join(dir, `e${v}.bin`)), n, per, "f16");
    const rows = [4, 0, 2, 2];
    for (const v of [0, 1]) {
      const want = new Float32Array(new Float16Array(await mem.read(v, rows)));
      assertEquals([...await disk.read(v, rows)], [...want]);
    }
    assertEquals(disk.readAll!().length, tokens.length);
    assertThrows(() => disk.readSync!(0, [5]), "row 5 outside 0..4");
    assertEquals(parseShard("2/4"), { index: 2, count: 4 });
    assertThrows(() => parseShard("4/4"), "0 ≤ i < N");
    assertThrows(() => parseShard("x"), "use i/N");
    // ranges tile 0..n exactly once
    const covered = [0, 1, 2].flatMap((i) => {
      const [a, b] = shardRange(7, i, 3);
      return Array.from({ length: b - a }, (_, k) => a + k);
    });
    assertEquals(covered, [0, 1, 2, 3, 4, 5, 6]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fit reads tokens per batch: disk-backed training is bit-identical, never reads a split", async () => {
  await initBackend("wasm");
  const data = makeSyntheticTokens({
    numClasses: 3,
    imagesPerClass: 6,
    grid: [4, 4],
    dim: 8,
    anchorDim: 6,
    prefix: "tokensrc",
  });
  const dir = await Deno.makeTempDir();
  try {
    const disk = await onDisk(data.features, dir);
    // a source that refuses whole-split reads and records batch sizes
    const inner = (disk as FeatureSet & { source: TokenSource }).source;
    const sizes: number[] = [];
    const guarded: TokenSource = {
      kind: "disk",
      read: (v, rows) => {
        sizes.push(rows.length);
        return inner.read(v, rows);
      },
    };
    const { tokens: _, ...meta } = data.features;
    const lazy = sourcedFeatureSet(meta, guarded);
    assertThrows(() => lazy.tokens, "encoder in the loop");
    const cfg = { epochs: 2, batchSize: 5, model: { decoder: { hidden: 12 } } };
    const weights = [];
    for (const [i, features] of [data.features, lazy].entries()) {
      const out = join(dir, `run${i}`);
      const r = await trainTedLoc(
        { features, labels: data.labels, cues: data.objectnessCues, anchors: data.anchors },
        cfg,
        { progress: false, outDir: out },
      );
      r.model.dispose();
      weights.push((await readCheckpoint(join(out, "last.safetensors"))).weights);
    }
    for (const k of Object.keys(weights[0])) {
      assertEquals([...weights[1][k].data], [...weights[0][k].data], `weight ${k}`);
    }
    assert(sizes.length > 0 && Math.max(...sizes) <= 5, `batch reads ${sizes}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("features: --shard i/N files merge into the same cache; bad shards are named", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const enc = await defaultEncoder();
  try {
    const ds = await makeDataset(dir, 7);
    const opts = {
      views: ["test", "flip"] as ("test" | "flip")[],
      batchSize: 2,
      progress: false as const,
    };
    const whole = await extractFeatures(enc, ds, "train", { ...opts, cacheDir: join(dir, "a") });
    const cacheDir = join(dir, "b");
    const shards = [];
    for (const index of [2, 0]) {
      shards.push(
        await extractFeatureShard(enc, ds, "train", { index, count: 3 }, { ...opts, cacheDir }),
      );
    }
    assertEquals(shards.map((s) => [s.start, s.end]), [[4, 7], [0, 2]]);
    await assertRejects(
      () => mergeFeatureShardSet(enc, ds, "train", { ...opts, cacheDir }),
      "not every shard is present",
    );
    // a shard made from other images (another key) is refused by name
    const other = await makeDataset(join(dir, "other"), 7);
    await extractFeatureShard(enc, other, "train", { index: 1, count: 3 }, {
      ...opts,
      cacheDir: join(dir, "c"),
    });
    const name = /^(.*)\.(test|flip)\.([0-9a-f]{16})\.shard-(\d)-of-3\.(bin|json)$/;
    const keys = new Map<string, string>(); // view → this split's key
    for (const e of Deno.readDirSync(cacheDir)) {
      const m = name.exec(e.name);
      if (m) keys.set(m[2], m[3]);
    }
    for (const e of Deno.readDirSync(join(dir, "c"))) {
      const m = name.exec(e.name)!;
      await Deno.copyFile(
        join(dir, "c", e.name),
        join(cacheDir, `${m[1]}.${m[2]}.${keys.get(m[2])}.shard-1-of-3.${m[5]}`),
      );
    }
    await assertRejects(
      () => mergeFeatureShardSet(enc, ds, "train", { ...opts, cacheDir }),
      "another key",
    );
    // the right shard 1/3: the next extraction merges without running the encoder
    for (const e of [...Deno.readDirSync(cacheDir)]) {
      if (e.name.includes("shard-1-of-3")) await Deno.remove(join(cacheDir, e.name));
    }
    await extractFeatureShard(enc, ds, "train", { index: 1, count: 3 }, { ...opts, cacheDir });
    const counted = counting(enc);
    const merged = await extractFeatures(counted, ds, "train", { ...opts, cacheDir });
    assertEquals(counted.calls, 0, "merged from the shards");
    for (const v of [0, 1]) {
      const rows = [0, 1, 2, 3, 4, 5, 6];
      assertEquals(
        [...await readFeatureTokens(merged, v, rows)],
        [...await readFeatureTokens(whole, v, rows)],
      );
    }
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("features: encoder in the loop gives the cached tokens, and no cache files", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const enc = await defaultEncoder();
  try {
    const ds = await makeDataset(dir, 4);
    const opts = { views: ["test", "flip"] as ("test" | "flip")[], progress: false as const };
    const cached = await extractFeatures(enc, ds, "train", { ...opts, cacheDir: join(dir, "a") });
    const counted = counting(enc);
    const live = await extractFeatures(counted, ds, "train", {
      ...opts,
      cacheDir: join(dir, "b"),
      encoderInLoop: true,
    });
    assertEquals(counted.calls, 0, "nothing extracted up front");
    let worst = 0;
    for (const v of [0, 1]) {
      const rows = [3, 0, 2];
      const a = await readFeatureTokens(live, v, rows),
        b = await readFeatureTokens(cached, v, rows);
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assertArrayClose(a, b, 4e-3); // batch composition may move a value across an f16 step
    }
    assertEquals(counted.calls, 2);
    console.log(`  encoder in the loop vs cache: max |Δ| ${worst.toExponential(2)}`);
    assertThrows(() => live.tokens, "--encoder-in-loop");
    await assertRejects(() => Deno.stat(join(dir, "b")), "No such file");
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
