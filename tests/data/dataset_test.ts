import sharp from "sharp";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { parseImageHeader, readImageSize } from "../../lib/data/image_size.ts";
import {
  holdOutPerClass,
  loadDataset,
  readClassNames,
  writeClassNames,
  writeDatasetDescriptor,
} from "../../lib/data/dataset.ts";
import { writeMetadata } from "../../lib/data/metadata.ts";
import { InputError } from "../../lib/io/errors.ts";

const TMP = Deno.makeTempDirSync({ prefix: "tedloc-ds-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
const tmpDir = () => Deno.makeTempDirSync({ dir: TMP });

Deno.test("readImageSize: JPEG (baseline, progressive, gray, big EXIF) and PNG (8/16 bit) agree with sharp", async () => {
  const dir = tmpDir();
  const base = () =>
    sharp({ create: { width: 123, height: 45, channels: 3, background: "#336699" } });
  const files: [string, Promise<unknown>][] = [
    ["a.jpg", base().jpeg().toFile(`${dir}/a.jpg`)],
    ["p.jpg", base().jpeg({ progressive: true }).toFile(`${dir}/p.jpg`)],
    ["g.jpg", base().grayscale().jpeg().toFile(`${dir}/g.jpg`)],
    // ~20 KB of EXIF before the frame header: the reader must read past its first 4 KiB
    [
      "e.jpg",
      base().withExif({ IFD0: { ImageDescription: "x".repeat(20000) } }).jpeg().toFile(
        `${dir}/e.jpg`,
      ),
    ],
    ["c.png", base().png().toFile(`${dir}/c.png`)],
    ["w.png", base().toColourspace("rgb16").png().toFile(`${dir}/w.png`)],
    ["k.jpg", base().toColourspace("cmyk").jpeg().toFile(`${dir}/k.jpg`)],
  ];
  await Promise.all(files.map(([, p]) => p));
  for (const [name] of files) {
    const h = await readImageSize(`${dir}/${name}`);
    const m = await sharp(`${dir}/${name}`).metadata();
    assertEquals([h.width, h.height], [m.width, m.height], name);
    assertEquals([h.width, h.height], [123, 45], name);
    assertEquals(h.format, name.endsWith(".png") ? "png" : "jpeg");
  }
  assert((await Deno.stat(`${dir}/e.jpg`)).size > 20000);
});

Deno.test("readImageSize: missing, empty, truncated and foreign files raise InputError naming the file", async () => {
  const dir = tmpDir();
  await sharp({ create: { width: 9, height: 9, channels: 3, background: "#000" } }).jpeg()
    .toFile(`${dir}/ok.jpg`);
  const bytes = await Deno.readFile(`${dir}/ok.jpg`);
  await Deno.writeFile(`${dir}/trunc.jpg`, bytes.subarray(0, 30));
  await Deno.writeFile(`${dir}/empty.jpg`, new Uint8Array());
  await Deno.writeTextFile(`${dir}/text.jpg`, "GIF89a, not what you think");
  const cases: [string, string][] = [
    ["nope.jpg", "image not found"],
    ["trunc.jpg", "truncated"],
    ["empty.jpg", "empty image file"],
    ["text.jpg", "not a JPEG or PNG"],
  ];
  for (const [name, part] of cases) {
    const err = await assertRejects(() => readImageSize(`${dir}/${name}`), part);
    assert(err instanceof InputError);
    assertEquals(err.file, `${dir}/${name}`);
  }
  // JPEG scan data before a frame header is corrupt, not "more"
  await assertRejects(
    () => parseImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 4, 0, 0])),
    "corrupt JPEG",
  );
  assertEquals(parseImageHeader(bytes.subarray(0, 6)), "more");
});

Deno.test("classes.txt: read/write, duplicates and blanks refused with line", async () => {
  const dir = tmpDir();
  await writeClassNames(`${dir}/c.txt`, ["red-crested bird", "blue bird"]);
  assertEquals(await readClassNames(`${dir}/c.txt`), ["red-crested bird", "blue bird"]);
  await Deno.writeTextFile(`${dir}/d.txt`, "a\nb\na\n");
  let err = await assertRejects(() => readClassNames(`${dir}/d.txt`), "repeats line 1");
  assertEquals((err as InputError).line, 3);
  await Deno.writeTextFile(`${dir}/e.txt`, "a\n\nb\n");
  err = await assertRejects(() => readClassNames(`${dir}/e.txt`), "empty class name");
  assertEquals((err as InputError).line, 2);
  await assertRejects(() => writeClassNames(`${dir}/f.txt`, ["a", "a"]), "duplicate");
});

async function tinyDataset(): Promise<string> {
  const root = tmpDir();
  await Deno.mkdir(`${root}/images`);
  await writeClassNames(`${root}/classes.txt`, ["a", "b"]);
  const meta = (ids: string[]) => ({
    imageIds: ids,
    classLabels: new Map(ids.map((id, i) => [id, i % 2])),
    imageSizes: new Map(ids.map((id) => [id, [10, 10] as [number, number]])),
    boxes: new Map(ids.map((id) => [id, [[1, 1, 5, 5] as [number, number, number, number]]])),
    masks: new Map<string, string[]>(),
    ignoreMasks: new Map<string, string>(),
  });
  await writeMetadata(`${root}/metadata/train`, meta(["t0.png", "t1.png"]));
  await writeMetadata(`${root}/metadata/test`, meta(["s0.png"]));
  const m = meta(["s0.png"]);
  await writeMetadata(`${root}/metadata_masks/test`, {
    ...m,
    imageSizes: new Map(),
    boxes: new Map(),
    masks: new Map([["s0.png", ["s0_mask.png"]]]),
    ignoreMasks: new Map([["s0.png", ""]]),
  });
  await writeDatasetDescriptor(root, {
    name: "tiny",
    imageRoot: "images",
    classes: "classes.txt",
    splits: { train: "metadata/train", test: "metadata/test" },
    anchors: "anchors.safetensors",
    maskRoot: "masks",
    maskSplits: { test: "metadata_masks/test" },
    generator: { seed: 1 },
  });
  return root;
}

Deno.test("loadDataset: descriptor paths resolved, splits, masks, extra info", async () => {
  const root = await tinyDataset();
  const ds = await loadDataset(root);
  assertEquals(ds.name, "tiny");
  assertEquals(ds.imageRoot, `${root}/images`);
  assertEquals(ds.anchorsPath, `${root}/anchors.safetensors`);
  assertEquals(ds.maskRoot, `${root}/masks`);
  assertEquals(ds.splits.train.imageIds, ["t0.png", "t1.png"]);
  assertEquals(ds.splits.test.boxes.get("s0.png"), [[1, 1, 5, 5]]);
  assertEquals(ds.maskSplits?.test.masks.get("s0.png"), ["s0_mask.png"]);
  assertEquals(ds.info, { generator: { seed: 1 } });
});

Deno.test("loadDataset: bad descriptors and labels without a class are InputErrors naming the file", async () => {
  const root = await tinyDataset();
  const good = JSON.parse(await Deno.readTextFile(`${root}/dataset.json`));
  const cases: [unknown, string][] = [
    [{ ...good, name: 3 }, "'name'"],
    [{ ...good, splits: {} }, "'splits'"],
    [{ ...good, splits: { train: 5 } }, "'splits.train'"],
    [{ ...good, imageRoot: "nowhere" }, "is not a folder"],
    [{ ...good, maskRoot: undefined }, "together"],
    [[1, 2], "must hold an object"],
  ];
  for (const [d, part] of cases) {
    await Deno.writeTextFile(`${root}/dataset.json`, JSON.stringify(d));
    const err = await assertRejects(() => loadDataset(root), part, `${root}/dataset.json`);
    assert(err instanceof InputError);
  }
  await Deno.writeTextFile(`${root}/dataset.json`, "{ nope");
  await assertRejects(() => loadDataset(root), "invalid JSON");
  await assertRejects(() => loadDataset(tmpDir()), "no dataset.json");
  await Deno.writeTextFile(`${root}/dataset.json`, JSON.stringify(good));
  await Deno.writeTextFile(`${root}/classes.txt`, "a\n");
  await assertRejects(
    () => loadDataset(root),
    `${root}/metadata/train/class_labels.txt`,
    "label 1 of 't1.png' has no class",
  );
});

Deno.test("holdOutPerClass: stratified, seeded, disjoint, keeps order and every class in both", () => {
  const ids = Array.from({ length: 30 }, (_, i) => `x${i}.png`);
  const m = {
    imageIds: ids,
    classLabels: new Map(ids.map((id, i) => [id, i % 3])),
    imageSizes: new Map(ids.map((id) => [id, [10, 10] as [number, number]])),
    boxes: new Map(ids.map((id) => [id, [[1, 1, 2, 2] as [number, number, number, number]]])),
    masks: new Map<string, string[]>(),
    ignoreMasks: new Map<string, string>(),
  };
  const { rest, heldOut } = holdOutPerClass(m, 4, 7);
  assertEquals(heldOut.imageIds.length, 12);
  assertEquals(rest.imageIds.length, 18);
  for (const c of [0, 1, 2]) {
    assertEquals(heldOut.imageIds.filter((id) => heldOut.classLabels.get(id) === c).length, 4);
  }
  assertEquals([...rest.imageIds, ...heldOut.imageIds].sort(), [...ids].sort());
  const order = (xs: string[]) => xs.map((id) => ids.indexOf(id));
  assertEquals(order(heldOut.imageIds), [...order(heldOut.imageIds)].sort((a, b) => a - b));
  assertEquals(heldOut.boxes.size, 12);
  assertEquals(holdOutPerClass(m, 4, 7).heldOut.imageIds, heldOut.imageIds, "seeded");
  assert(holdOutPerClass(m, 4, 8).heldOut.imageIds.join() !== heldOut.imageIds.join());
  // a class never loses its last image
  assertEquals(holdOutPerClass(m, 50, 1).rest.imageIds.length, 3);
});
