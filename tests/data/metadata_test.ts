import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  type Box,
  readMetadata,
  writeMetadata,
  type WsolMetadata,
} from "../../lib/data/metadata.ts";
import { InputError } from "../../lib/io/errors.ts";

const TMP = Deno.makeTempDirSync({ prefix: "tedloc-meta-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

/** Write a metadata folder from raw file texts (missing keys: file absent). */
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: TMP });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

const GOOD = {
  "image_ids.txt": "a/1.jpg\na/2.jpg\nb/3.jpg\n",
  "class_labels.txt": "a/1.jpg,0\na/2.jpg,0\nb/3.jpg,1\n",
  "image_sizes.txt": "a/1.jpg,100,80\na/2.jpg,50,60\nb/3.jpg,30,30\n",
  "localization.txt":
    "a/1.jpg,1,2,50,60\na/2.jpg,0,0,50,60\nb/3.jpg,3,4,10,12\nb/3.jpg,15,15,29,29\n",
};

function boxMetadata(): WsolMetadata {
  return {
    imageIds: ["x/one.png", "x/two.png", "y/three.png"],
    classLabels: new Map([["x/one.png", 2], ["x/two.png", 0], ["y/three.png", 7]]),
    imageSizes: new Map<string, [number, number]>([
      ["x/one.png", [200, 100]],
      ["x/two.png", [64, 48]],
      ["y/three.png", [320, 180]],
    ]),
    boxes: new Map<string, Box[]>([
      ["x/one.png", [[0, 0, 199, 99]]],
      ["x/two.png", [[1.5, 2.25, 30, 40], [10, 10, 20, 20], [0, 0, 64, 48]]],
      ["y/three.png", [[100, 20, 150, 90]]],
    ]),
    masks: new Map(),
    ignoreMasks: new Map(),
  };
}

/** Expect `readMetadata(dir)` to fail with an InputError at `file:line` whose text has `part`. */
async function expectBad(
  dir: string,
  file: string,
  line: number | undefined,
  part: string,
): Promise<InputError> {
  const err = await assertRejects(() => readMetadata(dir), part);
  assert(err instanceof InputError, `not an InputError: ${err}`);
  assertEquals(err.file, `${dir}/${file}`, err.message);
  assertEquals(err.line, line, err.message);
  assert(err.message.startsWith(`${dir}/${file}${line === undefined ? "" : ":" + line}: `));
  return err;
}

Deno.test("metadata: write → read round trip keeps ids, order, labels, sizes, several boxes", async () => {
  const dir = await Deno.makeTempDir({ dir: TMP });
  const m = boxMetadata();
  await writeMetadata(dir, m);
  const { metadata, skipped, skippedImages } = await readMetadata(dir);
  assertEquals(metadata, m);
  assertEquals([skipped, skippedImages], [[], []]);
  assertEquals(
    await Deno.readTextFile(`${dir}/localization.txt`),
    "x/one.png,0,0,199,99\nx/two.png,1.5,2.25,30,40\nx/two.png,10,10,20,20\n" +
      "x/two.png,0,0,64,48\ny/three.png,100,20,150,90\n",
  );
});

Deno.test("metadata: reading a hand-written folder, CRLF and blank lines tolerated", async () => {
  const dir = await folder({
    ...GOOD,
    "image_ids.txt": "a/1.jpg\r\na/2.jpg\r\n\r\nb/3.jpg\r\n\n",
    "class_labels.txt": "a/1.jpg,0\n\na/2.jpg, 0\nb/3.jpg,1",
  });
  const { metadata } = await readMetadata(dir);
  assertEquals(metadata.imageIds, ["a/1.jpg", "a/2.jpg", "b/3.jpg"]);
  assertEquals([...metadata.classLabels.values()], [0, 0, 1]);
  assertEquals(metadata.boxes.get("b/3.jpg"), [[3, 4, 10, 12], [15, 15, 29, 29]]);
  assertEquals(metadata.imageSizes.get("a/1.jpg"), [100, 80]);
});

Deno.test("metadata: mask layout (several masks, ignore path on the first line only)", async () => {
  const dir = await Deno.makeTempDir({ dir: TMP });
  const m: WsolMetadata = {
    imageIds: ["p/a.jpg", "p/b.jpg"],
    classLabels: new Map([["p/a.jpg", 1], ["p/b.jpg", 0]]),
    imageSizes: new Map(),
    boxes: new Map(),
    masks: new Map([["p/a.jpg", ["m/a_0.png", "m/a_1.png"]], ["p/b.jpg", ["m/b.png"]]]),
    ignoreMasks: new Map([["p/a.jpg", "m/a_ignore.png"], ["p/b.jpg", ""]]),
  };
  await writeMetadata(dir, m);
  assertEquals(
    await Deno.readTextFile(`${dir}/localization.txt`),
    "p/a.jpg,m/a_0.png,m/a_ignore.png\np/a.jpg,m/a_1.png,\np/b.jpg,m/b.png,\n",
  );
  const { metadata } = await readMetadata(dir);
  assertEquals(metadata, m);
  // an ignore path on a later line is refused with its line
  await Deno.writeTextFile(
    `${dir}/localization.txt`,
    "p/a.jpg,m/a_0.png,\np/a.jpg,m/a_1.png,m/x.png\np/b.jpg,m/b.png,\n",
  );
  await expectBad(dir, "localization.txt", 2, "ignore mask may only be given");
  await Deno.writeTextFile(`${dir}/localization.txt`, "p/a.jpg,m/a_0.png,\np/b.jpg,m/b.png\n");
  await expectBad(dir, "localization.txt", 2, "expected 'path,mask,ignore'");
});

Deno.test("metadata: an id in one file but not another names file and line", async () => {
  // label for an unknown id
  let dir = await folder({ ...GOOD, "class_labels.txt": GOOD["class_labels.txt"] + "c/9.jpg,3\n" });
  await expectBad(dir, "class_labels.txt", 4, "'c/9.jpg' is not in image_ids.txt");
  // box for an unknown id
  dir = await folder({ ...GOOD, "localization.txt": "zz.jpg,1,1,2,2\n" });
  await expectBad(dir, "localization.txt", 1, "'zz.jpg' is not in image_ids.txt");
  // size for an unknown id
  dir = await folder({ ...GOOD, "image_sizes.txt": "a/1.jpg,100,80\nq.jpg,5,5\n" });
  await expectBad(dir, "image_sizes.txt", 2, "'q.jpg' is not in image_ids.txt");
  // an id without a label: the id's line in image_ids.txt, and the file it is missing from
  dir = await folder({ ...GOOD, "class_labels.txt": "a/1.jpg,0\nb/3.jpg,1\n" });
  const e = await expectBad(dir, "image_ids.txt", 2, "'a/2.jpg' has no entry in");
  assert(e.message.includes("class_labels.txt"));
  // an id without a size, and without a box
  dir = await folder({ ...GOOD, "image_sizes.txt": "a/1.jpg,100,80\na/2.jpg,50,60\n" });
  await expectBad(dir, "image_ids.txt", 3, "image_sizes.txt");
  dir = await folder({ ...GOOD, "localization.txt": "a/1.jpg,1,2,50,60\nb/3.jpg,3,4,10,12\n" });
  await expectBad(dir, "image_ids.txt", 2, "localization.txt");
});

Deno.test("metadata: malformed lines and non-numeric fields name file and line", async () => {
  const cases: [Record<string, string>, string, number, string][] = [
    [
      { "class_labels.txt": "a/1.jpg,0\na/2.jpg\nb/3.jpg,1\n" },
      "class_labels.txt",
      2,
      "path,label",
    ],
    [{ "class_labels.txt": "a/1.jpg,0\na/2.jpg,x\nb/3.jpg,1\n" }, "class_labels.txt", 2, "'x'"],
    [{ "class_labels.txt": "a/1.jpg,0\na/2.jpg,1.5\nb/3.jpg,1\n" }, "class_labels.txt", 2, "1.5"],
    [{ "class_labels.txt": "a/1.jpg,0\na/2.jpg,-1\nb/3.jpg,1\n" }, "class_labels.txt", 2, "-1"],
    [
      { "class_labels.txt": "a/1.jpg,0\na/2.jpg,0\nb/3.jpg,1\na/1.jpg,0\n" },
      "class_labels.txt",
      4,
      "second label",
    ],
    [{ "image_sizes.txt": "a/1.jpg,100\n" }, "image_sizes.txt", 1, "path,w,h"],
    [{ "image_sizes.txt": "a/1.jpg,100,80\na/2.jpg,0,60\n" }, "image_sizes.txt", 2, "positive"],
    [{ "image_sizes.txt": "a/1.jpg,100,8o\n" }, "image_sizes.txt", 1, "positive integers"],
    [
      { "image_sizes.txt": "a/1.jpg,100,80\na/1.jpg,100,80\n" },
      "image_sizes.txt",
      2,
      "second size",
    ],
    [{ "localization.txt": "a/1.jpg,1,2,50\n" }, "localization.txt", 1, "path,x0,y0,x1,y1"],
    [
      { "localization.txt": "a/1.jpg,1,2,50,60\na/2.jpg,0,y,5,5\n" },
      "localization.txt",
      2,
      "numeric",
    ],
    [{ "localization.txt": "a/1.jpg,1,2,50,NaN\n" }, "localization.txt", 1, "numeric"],
    [{ "localization.txt": "a/1.jpg,1,2,,60\n" }, "localization.txt", 1, "numeric"],
    [{ "localization.txt": "a/1.jpg,51,2,50,60\n" }, "localization.txt", 1, "x0 > x1"],
    [{ "image_ids.txt": "a/1.jpg\na,2.jpg\n" }, "image_ids.txt", 2, "contains a comma"],
  ];
  for (const [files, file, line, part] of cases) {
    await expectBad(await folder({ ...GOOD, ...files }), file, line, part);
  }
});

Deno.test("metadata: boxes outside the image and duplicate ids are refused", async () => {
  let dir = await folder({
    ...GOOD,
    "localization.txt": "a/1.jpg,1,2,50,60\na/2.jpg,0,0,51,60\nb/3.jpg,3,4,10,12\n",
  });
  const e = await expectBad(dir, "localization.txt", 2, "outside the 50x60 image");
  assert(e.message.includes("[0,0,51,60]"));
  dir = await folder({ ...GOOD, "localization.txt": "a/1.jpg,-1,2,50,60\n" });
  await expectBad(dir, "localization.txt", 1, "outside");
  // the check can be switched off explicitly
  dir = await folder({
    ...GOOD,
    "localization.txt": "a/1.jpg,1,2,50,60\na/2.jpg,0,0,51,61\nb/3.jpg,3,4,10,12\n",
  });
  const { metadata } = await readMetadata(dir, { checkBoxesInside: false });
  assertEquals(metadata.boxes.get("a/2.jpg"), [[0, 0, 51, 61]]);
  dir = await folder({ ...GOOD, "image_ids.txt": "a/1.jpg\na/2.jpg\nb/3.jpg\na/2.jpg\n" });
  await expectBad(dir, "image_ids.txt", 4, "duplicate image id 'a/2.jpg'");
});

Deno.test("metadata: missing files and empty id lists", async () => {
  let dir = await folder({ "class_labels.txt": "" });
  await expectBad(dir, "image_ids.txt", undefined, "file not found");
  dir = await folder({ "image_ids.txt": "a.jpg\n" });
  await expectBad(dir, "class_labels.txt", undefined, "file not found");
  dir = await folder({ ...GOOD, "image_ids.txt": "\n\n" });
  await expectBad(dir, "image_ids.txt", undefined, "no image ids");
  // boxes need sizes (to check them), unless told otherwise
  const { "image_sizes.txt": _, ...noSizes } = GOOD;
  dir = await folder(noSizes);
  await expectBad(dir, "image_sizes.txt", undefined, "file not found");
  const { metadata } = await readMetadata(dir, { requireSizes: false });
  assertEquals(metadata.imageSizes.size, 0);
  assertEquals(metadata.boxes.size, 3);
  // labels only (e.g. a train split without localization) is fine
  dir = await folder({ "image_ids.txt": "a.jpg\n", "class_labels.txt": "a.jpg,4\n" });
  const r = await readMetadata(dir);
  assertEquals([r.metadata.boxes.size, r.metadata.classLabels.get("a.jpg")], [0, 4]);
});

Deno.test("metadata: skip mode drops bad images, reports every bad line and the count", async () => {
  const dir = await folder({
    "image_ids.txt": "a/1.jpg\na/2.jpg\nb/3.jpg\nb/4.jpg\nb/5.jpg\nb/4.jpg\nb/6.jpg\n",
    "class_labels.txt":
      "a/1.jpg,0\na/2.jpg,x\nb/3.jpg,1\nb/4.jpg,1\nb/5.jpg,1\nzz.jpg,1\nb/6.jpg,1\n",
    "image_sizes.txt": "a/1.jpg,100,80\na/2.jpg,50,60\nb/3.jpg,30,30\nb/4.jpg,30,30\n" +
      "b/6.jpg,30,30\n",
    "localization.txt": "a/1.jpg,1,2,50,60\na/2.jpg,0,0,50,60\nb/3.jpg,3,4,10,12\n" +
      "b/3.jpg,0,0,31,5\nb/4.jpg,1,1,2,2\nb/5.jpg,1,1,2,2\nb/6.jpg,1,1,2,2\n",
  });
  const { metadata, skipped, skippedImages } = await readMetadata(dir, { onBadLine: "skip" });
  // a/2: bad label; b/3: box outside; b/4: duplicate id; b/5: no size
  assertEquals(skippedImages, ["a/2.jpg", "b/3.jpg", "b/4.jpg", "b/5.jpg"]);
  assertEquals(metadata.imageIds, ["a/1.jpg", "b/6.jpg"]);
  assertEquals([...metadata.classLabels.keys()], ["a/1.jpg", "b/6.jpg"]);
  assertEquals([...metadata.boxes.keys()], ["a/1.jpg", "b/6.jpg"]);
  assertEquals([...metadata.imageSizes.keys()].sort(), ["a/1.jpg", "b/6.jpg"]);
  const where = skipped.map((s) => `${s.file.slice(dir.length + 1)}:${s.line}:${s.imageId}`);
  assertEquals(where.sort(), [
    "class_labels.txt:2:a/2.jpg",
    "class_labels.txt:6:zz.jpg",
    "image_ids.txt:5:b/5.jpg",
    "image_ids.txt:6:b/4.jpg",
    "localization.txt:4:b/3.jpg",
  ]);
  assert(skipped.every((s) => s.reason.length > 0));
  // the same folder in the default mode stops at the first bad line
  await expectBad(dir, "image_ids.txt", 6, "duplicate");
});

Deno.test("metadata: writeMetadata refuses what could not be read back", async () => {
  const dir = await Deno.makeTempDir({ dir: TMP });
  const bad: [(m: WsolMetadata) => void, string][] = [
    [(m) => m.classLabels.delete("x/two.png"), "no class label"],
    [(m) => m.imageIds.push("x/one.png"), "duplicate"],
    [(m) => m.imageIds[0] = "x,1.png", "comma"],
    [(m) => m.imageSizes.delete("y/three.png"), "no image size"],
    [(m) => m.boxes.delete("y/three.png"), "no box"],
    [(m) => m.boxes.set("y/three.png", [[0, 0, NaN, 1]]), "bad box"],
    [(m) => m.classLabels.set("x/one.png", 1.5), "label"],
    [(m) => m.masks.set("x/one.png", ["a.png"]), "both boxes and masks"],
  ];
  for (const [edit, part] of bad) {
    const m = boxMetadata();
    edit(m);
    await assertRejects(() => writeMetadata(dir, m), part, dir);
  }
});
