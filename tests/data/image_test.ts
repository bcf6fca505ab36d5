import sharp from "sharp";
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { resizePil } from "../../lib/data/resize.ts";
import {
  applyImageView,
  decodeImage,
  drawImageView,
  type ImageViewParams,
  loadImageView,
  transformBoxes,
} from "../../lib/data/image.ts";
import {
  ImageDecoderPool,
  iterateBatches,
  loadImageBatch,
  normalizeImagenet,
} from "../../lib/data/loader.ts";
import type { WsolDataset } from "../../lib/data/dataset.ts";
import type { Box } from "../../lib/data/metadata.ts";
import { InputError } from "../../lib/io/errors.ts";
import { Rng } from "../../lib/util/rng.ts";
import { projectPath } from "../../lib/util/paths.ts";

const F = projectPath("tests/fixtures/data/images");
const TMP = Deno.makeTempDirSync({ prefix: "tedloc-img-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

async function rawPixels(path: string): Promise<Uint8Array> {
  const b = await sharp(path, { ignoreIcc: true }).removeAlpha().raw().toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "lengths");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function crop(src: Uint8Array, side: number, x: number, y: number, s: number): Uint8Array {
  const out = new Uint8Array(s * s * 3);
  for (let r = 0; r < s; r++) {
    out.set(src.subarray(((r + y) * side + x) * 3, ((r + y) * side + x + s) * 3), r * s * 3);
  }
  return out;
}

function mirror(src: Uint8Array, side: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) {
        out[(y * side + x) * 3 + c] = src[(y * side + side - 1 - x) * 3 + c];
      }
    }
  }
  return out;
}

Deno.test("resizePil is bit-identical to torchvision Resize((224,224)) and ((256,256)) of PIL", async () => {
  const src = await decodeImage(`${F}/src.png`);
  assertEquals([src.width, src.height], [300, 200]);
  for (const s of [224, 256]) {
    const ref = await rawPixels(`${F}/resize${s}_torchvision.png`);
    assertEquals(maxDiff(resizePil(src.data, 300, 200, s, s), ref), 0, `size ${s}`);
  }
  // upscaling and identity also follow PIL's rules (identity = copy; 1-px image = constant)
  assertEquals(resizePil(src.data, 300, 200, 300, 200), src.data);
  const one = resizePil(new Uint8Array([10, 20, 30]), 1, 1, 4, 3);
  assertEquals(Array.from(one.subarray(0, 6)), [10, 20, 30, 10, 20, 30]);
  // sharp's own linear kernel is NOT PIL: the reason resizePil exists
  const vips = await sharp(`${F}/src.png`).resize(224, 224, { fit: "fill", kernel: "linear" })
    .raw().toBuffer();
  assert(maxDiff(vips, await rawPixels(`${F}/resize224_torchvision.png`)) > 50);
});

Deno.test("decodeImage: gray → RGB, CMYK like PIL, alpha dropped, no EXIF rotation, 16-bit; bad files name the file", async () => {
  const g = await decodeImage(`${F}/gray.png`);
  assertEquals([g.width, g.height, g.data.length], [150, 100, 150 * 100 * 3]);
  const gray = await sharp(`${F}/gray.png`).toColourspace("b-w").raw().toBuffer();
  assertEquals(gray.length, 150 * 100);
  for (let i = 0; i < gray.length; i += 97) {
    assertEquals([g.data[3 * i], g.data[3 * i + 1], g.data[3 * i + 2]], [
      gray[i],
      gray[i],
      gray[i],
    ]);
  }
  const cmyk = await decodeImage(`${F}/cmyk.jpg`);
  assertEquals(maxDiff(cmyk.data, await rawPixels(`${F}/cmyk_pil_rgb.png`)), 0, "CMYK as PIL");
  // RGBA: alpha dropped, colour kept (PIL's convert("RGB") does not composite)
  const rgba = new Uint8Array([200, 100, 50, 0, 1, 2, 3, 255]);
  await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(`${TMP}/a.png`);
  assertEquals(Array.from((await decodeImage(`${TMP}/a.png`)).data), [200, 100, 50, 1, 2, 3]);
  // the grayscale path of loadImageView equals expanding first
  const v = drawImageView("test");
  assertEquals(await loadImageView(`${F}/gray.png`, v), applyImageView(g, v));

  // EXIF orientation is not applied (PIL does not apply it either): stored size and pixels
  const src = await decodeImage(`${F}/src.png`);
  await sharp(src.data, { raw: { width: 300, height: 200, channels: 3 } }).withMetadata({
    orientation: 6,
  }).png().toFile(`${TMP}/rot.png`);
  const rot = await decodeImage(`${TMP}/rot.png`);
  assertEquals([rot.width, rot.height], [300, 200]);
  assertEquals(maxDiff(rot.data, src.data), 0);
  // 16-bit PNG: reduced to 8 bits (PIL keeps the high byte; ±1 is allowed)
  await sharp(src.data, { raw: { width: 300, height: 200, channels: 3 } }).toColourspace("rgb16")
    .png().toFile(`${TMP}/deep.png`);
  assert(maxDiff((await decodeImage(`${TMP}/deep.png`)).data, src.data) <= 1, "16-bit PNG");

  const good = await Deno.readFile(`${F}/cmyk.jpg`);
  await Deno.writeFile(`${TMP}/trunc.jpg`, good.subarray(0, good.length >> 1));
  await Deno.writeTextFile(`${TMP}/text.png`, "hello");
  for (
    const [name, part] of [["nope.jpg", "not found"], ["trunc.jpg", "cannot decode"], [
      "text.png",
      "cannot decode",
    ]]
  ) {
    const err = await assertRejects(() => decodeImage(`${TMP}/${name}`), part);
    assert(err instanceof InputError, String(err));
    assertEquals(err.file, `${TMP}/${name}`);
  }
});

Deno.test("views: test = torchvision resize, flip = mirror, train = crop of the 256 resize (+ flip)", async () => {
  const src = await decodeImage(`${F}/src.png`);
  const r224 = await rawPixels(`${F}/resize224_torchvision.png`);
  const r256 = await rawPixels(`${F}/resize256_torchvision.png`);
  assertEquals(maxDiff(applyImageView(src, drawImageView("test")), r224), 0);
  assertEquals(maxDiff(applyImageView(src, drawImageView("flip")), mirror(r224, 224)), 0);
  const v: ImageViewParams = { transform: "train", cropX: 32, cropY: 5, flip: false };
  assertEquals(maxDiff(applyImageView(src, v), crop(r256, 256, 32, 5, 224)), 0);
  assertEquals(
    maxDiff(applyImageView(src, { ...v, flip: true }), mirror(crop(r256, 256, 32, 5, 224), 224)),
    0,
  );
  // train draws: crops cover 0..32, flips about half, same seed same draws
  const rng = new Rng(3);
  const draws = Array.from({ length: 400 }, () => drawImageView("train", rng));
  const xs = draws.map((d) => d.cropX);
  assertEquals([Math.min(...xs), Math.max(...xs)], [0, 32]);
  const flips = draws.filter((d) => d.flip).length;
  assert(flips > 150 && flips < 250, `flips ${flips}`);
  const again = new Rng(3);
  assertEquals(Array.from({ length: 400 }, () => drawImageView("train", again)), draws);
  let err = await assertRejects(() => drawImageView("train"), "needs an rng");
  assert(!(err instanceof InputError));
  err = await assertRejects(() => drawImageView("rotate" as "test"), "unknown transform");
});

/** Bright rectangle [x0..x1]×[y0..y1] (inclusive) on black, then its extent after a view. */
function extent(px: Uint8Array, side: number): Box {
  let x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (px[(y * side + x) * 3] >= 128) {
        x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
      }
    }
  }
  return [x0, y0, x1, y1];
}

Deno.test("transformBoxes moves boxes with the pixels in every view (within a pixel)", () => {
  const W = 333, H = 250;
  const box: Box = [60, 40, 250, 199];
  const data = new Uint8Array(W * H * 3);
  for (let y = box[1]; y <= box[3]; y++) {
    for (let x = box[0]; x <= box[2]; x++) data.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
  }
  const img = { data, width: W, height: H };
  const rng = new Rng(11);
  const views: ImageViewParams[] = [
    drawImageView("test"),
    drawImageView("flip"),
    { transform: "train", cropX: 0, cropY: 32, flip: false },
    { transform: "train", cropX: 32, cropY: 0, flip: true },
    drawImageView("train", rng),
    drawImageView("train", rng),
  ];
  for (const v of views) {
    const [got] = transformBoxes([box], [W, H], v);
    const seen = extent(applyImageView(img, v), 224);
    for (let k = 0; k < 4; k++) {
      assert(Math.abs(got[k] - seen[k]) <= 1.01, `${JSON.stringify(v)}: ${got} vs pixels ${seen}`);
    }
  }
  // exact values for the simple views
  assertEquals(
    transformBoxes([[0, 0, 332, 249]], [333, 250], drawImageView("test"))[0].map((v) =>
      Math.round(v * 100) / 100
    ),
    [0, 0, 223.33, 223.1],
  );
  const f = transformBoxes([[10, 20, 100, 120]], [224, 224], drawImageView("flip"))[0];
  assertEquals(f, [123, 20, 213, 120]);
  const t = transformBoxes([[10, 20, 100, 120]], [256, 256], {
    transform: "train",
    cropX: 20,
    cropY: 30,
    flip: false,
  })[0];
  assertEquals(t, [0, 0, 80, 90]);
});

Deno.test("normalizeImagenet: (x/255 − mean)/std per channel", () => {
  const x = tf.tensor4d([0, 255, 127.5, 255, 0, 0], [1, 1, 2, 3]);
  const y = normalizeImagenet(x).dataSync();
  assertAlmostEquals(y[0], -0.485 / 0.229, 1e-5);
  assertAlmostEquals(y[1], (1 - 0.456) / 0.224, 1e-5);
  assertAlmostEquals(y[2], (0.5 - 0.406) / 0.225, 1e-5);
  assertAlmostEquals(y[3], (1 - 0.485) / 0.229, 1e-5);
  tf.dispose(x);
});

/** A 10-image dataset of copies of the fixture images (train split), sizes known. */
async function fixtureDataset(): Promise<WsolDataset> {
  const ids: string[] = [];
  const labels = new Map<string, number>();
  const sizes = new Map<string, [number, number]>();
  const boxes = new Map<string, Box[]>();
  for (let i = 0; i < 10; i++) {
    const name = i % 3 === 0 ? "gray.png" : i % 3 === 1 ? "src.png" : "cmyk.jpg";
    const id = `img${i}_${name}`;
    await Deno.copyFile(`${F}/${name}`, `${TMP}/${id}`);
    ids.push(id);
    labels.set(id, i % 4);
    sizes.set(id, name === "gray.png" ? [150, 100] : [300, 200]);
    boxes.set(id, [[10, 10, 99, 79]]);
  }
  const meta = {
    imageIds: ids,
    classLabels: labels,
    imageSizes: sizes,
    boxes,
    masks: new Map(),
    ignoreMasks: new Map(),
  };
  return {
    name: "fixture",
    root: TMP,
    imageRoot: TMP,
    classNames: ["a", "b", "c", "d"],
    splits: { train: meta },
  };
}

Deno.test("loadImageBatch: [B,224,224,3] float32 0..255 equal to the views, boxes in the 224 frame", async () => {
  const ds = await fixtureDataset();
  const ids = ds.splits.train.imageIds.slice(0, 3);
  const { images, boxes } = await loadImageBatch(ds, ids, { transform: "flip" });
  assertEquals(images.shape, [3, 224, 224, 3]);
  assertEquals(images.dtype, "float32");
  const data = await images.data();
  const first = await loadImageView(`${TMP}/${ids[1]}`, drawImageView("flip"));
  assertEquals(maxDiff(data.subarray(224 * 224 * 3, 2 * 224 * 224 * 3), first), 0);
  assertEquals(boxes[1], transformBoxes([[10, 10, 99, 79]], [300, 200], drawImageView("flip")));
  images.dispose();
  await assertRejects(
    () => loadImageBatch(ds, ["nope.png"], { transform: "test" }),
    `${TMP}/nope.png`,
    "not found",
  );
});

Deno.test("iterateBatches: seeded order and augmentation, full coverage, workers = main thread, errors name the file", async () => {
  const ds = await fixtureDataset();
  const run = async (opts: Parameters<typeof iterateBatches>[2]) => {
    const out: { ids: string[]; labels: number[]; views: ImageViewParams[]; sum: number }[] = [];
    for await (const b of iterateBatches(ds, "train", opts)) {
      out.push({
        ids: b.ids,
        labels: Array.from(b.labels),
        views: b.views,
        sum: b.images.sum().dataSync()[0],
      });
      assertEquals(b.images.shape, [b.ids.length, 224, 224, 3]);
      assertEquals(b.boxes.length, b.ids.length);
      b.images.dispose();
    }
    return out;
  };
  // one worker pool for the whole test: under `deno test` each new worker is type-checked
  // (~3 s), under `deno run` it starts in ~80 ms
  const pool = new ImageDecoderPool(1);
  try {
    const base = { batchSize: 4, transform: "train" as const, shuffle: true, seed: 5 };
    const a = await run({ ...base, pool, prefetch: 2 });
    const b = await run({ ...base, workers: 0, prefetch: 0 });
    assertEquals(a, b, "same seed → same batches, whatever the workers/prefetch");
    assertEquals(a.map((x) => x.ids.length), [4, 4, 2]);
    assertEquals(a.flatMap((x) => x.ids).sort(), [...ds.splits.train.imageIds].sort());
    assertEquals(a[0].labels, a[0].ids.map((id) => ds.splits.train.classLabels.get(id)));
    const c = await run({ ...base, seed: 6, workers: 0 });
    assert(
      JSON.stringify(c.map((x) => x.ids)) !== JSON.stringify(a.map((x) => x.ids)),
      "seed changes order",
    );
    const plain = await run({ batchSize: 4, transform: "test", dropLast: true, workers: 0 });
    const ids = ds.splits.train.imageIds;
    assertEquals(plain.map((x) => x.ids), [ids.slice(0, 4), ids.slice(4, 8)]);
    // breaking out early leaves a given pool usable
    for await (const batch of iterateBatches(ds, "train", { ...base, pool })) {
      batch.images.dispose();
      break;
    }
    // a missing image surfaces as an InputError naming it, from a worker too
    ids.push("gone.jpg");
    ds.splits.train.classLabels.set("gone.jpg", 0);
    for (const opts of [{ pool }, { workers: 0 }]) {
      const err = await assertRejects(
        () => run({ batchSize: 4, transform: "test", ...opts }),
        `${TMP}/gone.jpg`,
        "not found",
      );
      assert(err instanceof InputError, String(err));
    }
    await assertRejects(
      () => run({ batchSize: 4, transform: "test", ids: ["x.png"], workers: 0 }),
      "not in split",
    );
    // close rejects pending work and later loads
    const p = pool.load(`${F}/src.png`, drawImageView("test"));
    pool.close();
    await assertRejects(() => p, "closed");
    await assertRejects(() => pool.load(`${F}/src.png`, drawImageView("test")), "closed");
  } finally {
    pool.close();
  }
});
