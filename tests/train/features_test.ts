import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { defaultEncoder, TfjsCnnEncoder } from "../../lib/model/mobilenet.ts";
import { VitEncoder } from "../../lib/model/vit.ts";
import type { PatchEncoder } from "../../lib/model/encoder.ts";
import { type EncoderSpec, loadEncoder } from "../../lib/model/load_encoder.ts";
import { extractFeatures, type ImageListDataset } from "../../lib/train/features.ts";
import { loadViewBatch } from "../../lib/train/view_images.ts";
import { extractAttentionCues } from "../../lib/train/cue_cache.ts";

/** A few synthetic JPEG/PNG images of different sizes (a bright disc on noise). */
async function makeDataset(dir: string, n: number): Promise<ImageListDataset> {
  const ids: string[] = [];
  await Deno.mkdir(join(dir, "imgs", "a"), { recursive: true });
  for (let i = 0; i < n; i++) {
    const w = 90 + 17 * i, h = 70 + 11 * i;
    const px = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inDisc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (0.25 * h) ** 2;
        for (let c = 0; c < 3; c++) {
          px[(y * w + x) * 3 + c] = inDisc ? 200 + 20 * c : ((x * 7 + y * 13 + c * 31 + i) % 97);
        }
      }
    }
    const id = `a/img${i}.${i % 2 ? "png" : "jpg"}`;
    const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
    await (i % 2 ? img.png() : img.jpeg()).toFile(join(dir, "imgs", id));
    ids.push(id);
  }
  return { name: "synthetic", imageRoot: join(dir, "imgs"), splits: { train: { imageIds: ids } } };
}

/** Counts encode() calls, to see whether extraction ran. */
function counting(enc: PatchEncoder): PatchEncoder & { calls: number } {
  const wrapped = Object.create(enc) as PatchEncoder & { calls: number };
  wrapped.calls = 0;
  wrapped.encode = (x: tf.Tensor4D) => {
    wrapped.calls++;
    return enc.encode(x);
  };
  return wrapped;
}

Deno.test("features: tokens equal the encoder's, cached reruns skip extraction, keys track images", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const enc = await defaultEncoder();
  try {
    const ds = await makeDataset(dir, 5);
    const cacheDir = join(dir, "cache");
    const counted = counting(enc);
    const opts = {
      views: ["test", "flip"] as ("test" | "flip")[],
      cacheDir,
      batchSize: 2,
      progress: false as const,
    };
    const fs = await extractFeatures(counted, ds, "train", opts);
    assertEquals(
      [fs.encoderId, fs.grid, fs.dim, fs.stride, fs.cellOffset, fs.views, fs.ids.length],
      [
        "mobilenet_v1_0.25_224@conv_pw_11_relu",
        [14, 14],
        128,
        16,
        15.5,
        ["test", "flip"],
        5,
      ],
    );
    assertEquals(fs.tokens.length, 2 * 5 * 196 * 128);
    assertEquals(counted.calls, 6, "3 batches × 2 views");
    // Reference: the encoder on the same views, rounded to float16 as stored.
    const ids = ds.splits.train.imageIds;
    for (const [v, view] of (["test", "flip"] as const).entries()) {
      const x = await loadViewBatch(ds.imageRoot, ids, view);
      const ref = enc.encode(x);
      const want = new Float32Array(new Float16Array(ref.dataSync()));
      assertArrayClose(fs.tokens.subarray(v * want.length, (v + 1) * want.length), want, 0, view);
      tf.dispose([x, ref]);
    }
    const files = [...Deno.readDirSync(cacheDir)].map((e) => e.name).sort();
    assertEquals(files.length, 4, files.join(", "));
    const bin = files.find((f) => f.endsWith(".bin"))!;
    assertEquals(Deno.statSync(join(cacheDir, bin)).size, 5 * 196 * 128 * 2, "float16 storage");

    // A rerun reads the cache: no encoder call, identical tokens.
    counted.calls = 0;
    const again = await extractFeatures(counted, ds, "train", opts);
    assertEquals(counted.calls, 0);
    assertEquals(again.tokens, fs.tokens);

    // Change one image: both views are recomputed (new keys).
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#3a7" } }).jpeg()
      .toFile(join(ds.imageRoot, ids[0]));
    counted.calls = 0;
    const changed = await extractFeatures(counted, ds, "train", opts);
    assertEquals(counted.calls, 6);
    const per = 196 * 128;
    assert(changed.tokens.subarray(0, per).some((t, i) => t !== fs.tokens[i]), "image 0 changed");
    assertEquals(changed.tokens.subarray(per, 5 * per), fs.tokens.subarray(per, 5 * per));

    // A damaged cache entry is recomputed, not trusted.
    const newest = [...Deno.readDirSync(cacheDir)].map((e) => join(cacheDir, e.name))
      .filter((p) => p.endsWith(".bin"))
      .sort((a, b) => Deno.statSync(b).mtime!.getTime() - Deno.statSync(a).mtime!.getTime());
    for (const p of newest.slice(0, 2)) await Deno.truncate(p, 100);
    counted.calls = 0;
    const repaired = await extractFeatures(counted, ds, "train", opts);
    assertEquals(counted.calls, 6);
    assertEquals(repaired.tokens, changed.tokens);

    // f32 storage keeps the encoder's values exactly; only one view asked.
    const exact = await extractFeatures(enc, ds, "train", {
      cacheDir,
      storage: "f32",
      progress: false,
    });
    const x = await loadViewBatch(ds.imageRoot, ids, "test");
    const ref = enc.encode(x);
    assertArrayClose(exact.tokens, ref.dataSync(), 0);
    tf.dispose([x, ref]);
    let worst = 0;
    for (let i = 0; i < per * 5; i++) {
      worst = Math.max(worst, Math.abs(exact.tokens[i] - changed.tokens[i]));
    }
    console.log(`  float16 storage: max |Δ| ${worst.toExponential(2)} on relu6 features`);
    assert(worst <= 6 * 2 ** -11, "float16 rounding bound");
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("features: two workers give the same tokens as one thread", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const enc = await defaultEncoder();
  try {
    const ds = await makeDataset(dir, 5);
    const one = await extractFeatures(enc, ds, "train", {
      views: ["test", "flip"],
      cacheDir: null,
      batchSize: 2,
      progress: false,
    });
    const two = await extractFeatures(enc, ds, "train", {
      views: ["test", "flip"],
      cacheDir: null,
      workers: 2,
      batchSize: 2,
      progress: false,
    });
    assertEquals(two.tokens, one.tokens);
    // Bad input inside a worker comes back as the same InputError.
    await Deno.writeTextFile(join(ds.imageRoot, "a/bad.jpg"), "not an image");
    const bad = { ...ds, splits: { train: { imageIds: ["a/img0.jpg", "a/bad.jpg"] } } };
    const err = await assertRejects(
      () =>
        extractFeatures(enc, bad, "train", {
          cacheDir: null,
          workers: 2,
          batchSize: 1,
          progress: false,
        }),
      "bad.jpg",
      "cannot read image",
    );
    assertEquals(err.name, "InputError");
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("features: bad input names the problem", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const enc = await defaultEncoder();
  try {
    const ds = await makeDataset(dir, 2);
    await assertRejects(
      () => extractFeatures(enc, ds, "test", { cacheDir: null, progress: false }),
      "no split 'test'",
      "splits: train",
    );
    await assertRejects(
      () =>
        extractFeatures(enc, ds, "train", {
          views: ["crop" as "test"],
          cacheDir: null,
          progress: false,
        }),
      "unknown view 'crop'",
    );
    const missing = { ...ds, splits: { train: { imageIds: ["a/none.jpg"] } } };
    await assertRejects(
      () => extractFeatures(enc, missing, "train", { cacheDir: join(dir, "c"), progress: false }),
      "none.jpg",
      "image not found",
    );
    await Deno.writeTextFile(join(ds.imageRoot, "a/bad.jpg"), "not an image");
    const bad = { ...ds, splits: { train: { imageIds: ["a/img0.jpg", "a/bad.jpg"] } } };
    const err = await assertRejects(
      () => extractFeatures(enc, bad, "train", { cacheDir: null, batchSize: 1, progress: false }),
      "bad.jpg",
      "cannot read image",
    );
    assertEquals(err.name, "InputError");
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attention cues (ViT) and in-memory encoders: cached, normalised, one thread", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir();
  const vit = await VitEncoder.load(
    new URL("../fixtures/vit/tiny_vit.safetensors", import.meta.url).pathname,
    { inputSize: 32 },
  );
  try {
    const ds = await makeDataset(dir, 3);
    const cues = await extractAttentionCues(vit, ds, "train", {
      cacheDir: join(dir, "cues"),
      batchSize: 2,
      progress: false,
    });
    assertEquals([cues.grid, cues.maps.length, cues.source], [
      [4, 4],
      3 * 16,
      "attention:tiny_vit@tokens",
    ]);
    for (let i = 0; i < 3; i++) {
      const m = cues.maps.subarray(i * 16, (i + 1) * 16);
      assertEquals([Math.min(...m), Math.max(...m)], [0, 1]);
    }
    const x = await loadViewBatch(ds.imageRoot, ds.splits.train.imageIds, "test", 32);
    const a = vit.clsAttention(x);
    const raw = a.dataSync();
    const lo = Math.min(...raw.subarray(0, 16)), hi = Math.max(...raw.subarray(0, 16));
    assertArrayClose(
      cues.maps.subarray(0, 16),
      Array.from(raw.subarray(0, 16), (v) => (v - lo) / (hi - lo)),
      1e-6,
    );
    tf.dispose([x, a]);
    const again = await extractAttentionCues(vit, ds, "train", {
      cacheDir: join(dir, "cues"),
      progress: false,
    });
    assertEquals(again.maps, cues.maps);
    // An encoder without a spec cannot go to workers: falls back to this thread.
    const { tensors, metadata } = await (await import("../../lib/io/safetensors.ts"))
      .readSafetensors(
        new URL("../fixtures/vit/tiny_vit.safetensors", import.meta.url).pathname,
      );
    const inMemory = VitEncoder.fromSafetensors({ tensors, metadata }, { inputSize: 32 });
    const fs = await extractFeatures(inMemory, ds, "train", {
      cacheDir: null,
      workers: 2, // no spec: must fall back to this thread (no worker is started)
      batchSize: 1,
      progress: false,
    });
    assertEquals(fs.tokens.length, 3 * 16 * 32);
    inMemory.dispose();
  } finally {
    vit.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encoder specs rebuild the same encoder (what workers load)", async () => {
  await initBackend("wasm");
  const dir = new URL("../../data/models/mobilenet_v1_0.25_224", import.meta.url).pathname;
  const enc = await TfjsCnnEncoder.load(dir, { layer: "conv_pw_13_relu", mode: "layers" });
  const copy = await loadEncoder(JSON.parse(JSON.stringify(enc.spec)) as EncoderSpec);
  assert(copy instanceof TfjsCnnEncoder);
  assertEquals([copy.id, copy.mode, copy.layer, copy.fingerprint], [
    enc.id,
    "layers",
    enc.layer,
    enc.fingerprint,
  ]);
  const x = tf.randomUniform([1, 224, 224, 3], 0, 255, "float32", 1) as tf.Tensor4D;
  const [a, b] = [enc.encode(x), copy.encode(x)];
  assertArrayClose(a.dataSync(), b.dataSync(), 0);
  tf.dispose([x, a, b]);
  enc.dispose();
  copy.dispose();
  const vitPath = new URL("../fixtures/vit/tiny_vit.safetensors", import.meta.url).pathname;
  const vit = await VitEncoder.load(vitPath, { inputSize: 32 });
  const vit2 = await loadEncoder(vit.spec!);
  assertEquals([vit2.id, vit2.grid, vit2.fingerprint], [vit.id, vit.grid, vit.fingerprint]);
  vit.dispose();
  vit2.dispose();
  await assertRejects(
    () => loadEncoder({ kind: "nope" } as unknown as EncoderSpec),
    "unknown encoder kind 'nope'",
  );
});
