import sharp from "sharp";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { cubRootFromEnv, ensurePreparedCub, prepareCub } from "../../lib/data/cub.ts";
import {
  assertDatasetImagesDecode,
  findBadDatasetImages,
  loadDataset,
} from "../../lib/data/dataset.ts";
import { readMetadata } from "../../lib/data/metadata.ts";
import { InputError } from "../../lib/io/errors.ts";
import { projectPath, sharedDataPath } from "../../lib/util/paths.ts";

const TMP = Deno.makeTempDirSync({ prefix: "tedloc-cub-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
const tmpDir = () => Deno.makeTempDirSync({ dir: TMP });

/** A tiny CUB-layout folder: 2 classes, 4 images (ids 1..4), real JPEG/PNG files. */
async function miniCub(edit: Record<string, string> = {}): Promise<string> {
  const root = tmpDir();
  await Deno.mkdir(`${root}/images/001.Red_Bird`, { recursive: true });
  await Deno.mkdir(`${root}/images/002.Blue_Bird`, { recursive: true });
  const img = (w: number, h: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: "#884422" } });
  await img(40, 30).jpeg().toFile(`${root}/images/001.Red_Bird/a.jpg`);
  await img(20, 50).png().toFile(`${root}/images/001.Red_Bird/b.png`);
  await img(33, 33).jpeg().toFile(`${root}/images/002.Blue_Bird/c.jpg`);
  await img(64, 48).jpeg().toFile(`${root}/images/002.Blue_Bird/d.jpg`);
  const files: Record<string, string> = {
    "classes.txt": "1 001.Red_Bird\n2 002.Blue_Bird\n",
    "images.txt":
      "1 001.Red_Bird/a.jpg\n2 001.Red_Bird/b.png\n3 002.Blue_Bird/c.jpg\n4 002.Blue_Bird/d.jpg\n",
    "image_class_labels.txt": "1 1\n2 1\n3 2\n4 2\n",
    "train_test_split.txt": "1 1\n2 0\n3 1\n4 0\n",
    "bounding_boxes.txt": "1 2.0 3.0 30.0 20.5\n2 0.0 0.0 20.0 50.0\n3 1.5 2.9 10.0 12.0\n" +
      "4 10.0 20.0 60.0 10.0\n",
    ...edit,
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${root}/${name}`, text);
  }
  return root;
}

Deno.test("prepareCub: mini CUB → metadata, classes.txt, dataset.json (rules of the published files)", async () => {
  const root = await miniCub();
  const out = tmpDir();
  const r = await prepareCub(root, out);
  assertEquals(r.counts, { train: 2, test: 2 });
  assertEquals(r.classNames, ["Red_Bird", "Blue_Bird"]);
  assertEquals(await Deno.readTextFile(`${out}/classes.txt`), "Red_Bird\nBlue_Bird\n");
  const test = (await readMetadata(`${out}/metadata/test`)).metadata;
  assertEquals(test.imageIds, ["001.Red_Bird/b.png", "002.Blue_Bird/d.jpg"]);
  assertEquals([...test.classLabels.values()], [0, 1]);
  assertEquals([...test.imageSizes.values()], [[20, 50], [64, 48]]);
  // b: 0+20 = 20 → 19 and 0+50 → 49 (clipped to W−1, H−1); d: 10+60 = 70 → 63
  assertEquals([...test.boxes.values()], [[[0, 0, 19, 49]], [[10, 20, 63, 30]]]);
  const train = (await readMetadata(`${out}/metadata/train`)).metadata;
  // a: int(2)=2, int(3)=3, int(32)=32, int(23.5)=23; c: int(1.5)=1, int(2.9)=2, int(11.5)=11
  assertEquals([...train.boxes.values()], [[[2, 3, 32, 23]], [[1, 2, 11, 14]]]);
  const ds = await loadDataset(out);
  assertEquals(ds.name, "CUB");
  assertEquals(ds.imageRoot, `${root}/images`);
  assertEquals(Object.keys(ds.splits), ["train", "test"]);
  assertEquals(ds.classNames, ["Red_Bird", "Blue_Bird"]);
  // relative image root resolves to the same folder
  const out2 = `${out}/nested/cub`;
  await prepareCub(root, out2, { imageRoot: "relative", name: "mini" });
  const desc = JSON.parse(await Deno.readTextFile(`${out2}/dataset.json`));
  assert(!desc.imageRoot.startsWith("/"), desc.imageRoot);
  assertEquals((await loadDataset(out2)).imageRoot, `${root}/images`);
});

Deno.test("prepareCub: bad input names file and line; skip mode reports the count", async () => {
  const cases: [Record<string, string>, string, number, string][] = [
    // a line in images.txt without a class
    [{ "image_class_labels.txt": "1 1\n3 2\n4 2\n" }, "images.txt", 2, "has no class"],
    [
      { "image_class_labels.txt": "1 1\n2 3\n3 2\n4 2\n" },
      "image_class_labels.txt",
      2,
      "class id '3'",
    ],
    [{ "image_class_labels.txt": "1 1\n2 1\n3 2\n4 2\n9 1\n" }, "image_class_labels.txt", 5, "'9'"],
    [
      { "image_class_labels.txt": "1 1\n2 1\n3 2\n4 2\n2 1\n" },
      "image_class_labels.txt",
      5,
      "second class",
    ],
    [
      { "train_test_split.txt": "1 1\n2 0\n3 2\n4 0\n" },
      "train_test_split.txt",
      3,
      "'2' is not 0 or 1",
    ],
    [{ "train_test_split.txt": "1 1\n2 0\n4 0\n" }, "images.txt", 3, "train/test flag"],
    [
      { "bounding_boxes.txt": "1 2 3 30 20\n2 0 0 20 50\n4 10 20 60 10\n" },
      "images.txt",
      3,
      "no box",
    ],
    [
      { "bounding_boxes.txt": "1 2 3 30 20\n2 0 0 20 x\n3 1 2 10 12\n4 10 20 60 10\n" },
      "bounding_boxes.txt",
      2,
      "not numeric",
    ],
    [
      { "bounding_boxes.txt": "1 2 3 30 20\n2 0 0 20 50 7\n3 1 2 10 12\n4 10 20 60 10\n" },
      "bounding_boxes.txt",
      2,
      "<x> <y> <width> <height>",
    ],
    // a box outside the image (starts right of the 40-px-wide image a.jpg)
    [
      { "bounding_boxes.txt": "1 40 3 5 5\n2 0 0 20 50\n3 1 2 10 12\n4 10 20 60 10\n" },
      "bounding_boxes.txt",
      1,
      "outside the 40x30 image",
    ],
    [
      { "bounding_boxes.txt": "1 -1 3 5 5\n2 0 0 20 50\n3 1 2 10 12\n4 10 20 60 10\n" },
      "bounding_boxes.txt",
      1,
      "outside",
    ],
    [
      { "bounding_boxes.txt": "1 1 3 0 5\n2 0 0 20 50\n3 1 2 10 12\n4 10 20 60 10\n" },
      "bounding_boxes.txt",
      1,
      "outside",
    ],
    // a missing image file
    [
      {
        "images.txt":
          "1 001.Red_Bird/a.jpg\n2 001.Red_Bird/nope.jpg\n3 002.Blue_Bird/c.jpg\n4 002.Blue_Bird/d.jpg\n",
      },
      "images.txt",
      2,
      "nope.jpg: image not found",
    ],
    [
      {
        "images.txt":
          "1 001.Red_Bird/a.jpg\n1 001.Red_Bird/b.png\n3 002.Blue_Bird/c.jpg\n4 002.Blue_Bird/d.jpg\n",
      },
      "images.txt",
      2,
      "repeats line 1",
    ],
    [
      { "images.txt": "1 001.Red_Bird/a.jpg\n2\n" },
      "images.txt",
      2,
      "expected '<image id> <path>'",
    ],
    [{ "classes.txt": "1 001.Red_Bird\n3 002.Blue_Bird\n" }, "classes.txt", 2, "out of sequence"],
  ];
  for (const [edit, file, line, part] of cases) {
    const root = await miniCub(edit);
    const err = await assertRejects(() => prepareCub(root, tmpDir()), part);
    assert(err instanceof InputError, String(err));
    assertEquals([err.file, err.line], [`${root}/${file}`, line], err.message);
  }
  // a corrupt image (not a JPEG) names the image file
  const root = await miniCub();
  await Deno.writeTextFile(`${root}/images/002.Blue_Bird/c.jpg`, "not an image");
  await assertRejects(() => prepareCub(root, tmpDir()), "images.txt:3", "c.jpg", "signature");

  // skip mode: three bad images out, the rest written, bad lines reported
  const bad = await miniCub({
    "image_class_labels.txt": "1 1\n3 2\n4 2\n",
    "bounding_boxes.txt": "1 2 3 30 20\n2 0 0 20 50\n3 1 2 10 12\n4 70 20 60 10\n",
  });
  await Deno.remove(`${bad}/images/002.Blue_Bird/c.jpg`);
  const out = tmpDir();
  const r = await prepareCub(bad, out, { onBadLine: "skip" });
  assertEquals(r.counts, { train: 1, test: 0 });
  assertEquals(r.skipped.length, 3);
  assertEquals(
    r.skipped.map((s) => `${s.file.slice(bad.length + 1)}:${s.line}`).sort(),
    ["bounding_boxes.txt:4", "images.txt:2", "images.txt:3"],
  );
  const ds = await loadDataset(out);
  assertEquals(Object.keys(ds.splits), ["train"]);
  assertEquals(ds.splits.train.imageIds, ["001.Red_Bird/a.jpg"]);
  assertEquals(ds.info?.skippedImages, 3);
});

/** Seeded pixel noise (a busy image: its JPEG has a long scan to cut). */
function noise(w: number, h: number): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  let x = 12345;
  for (let i = 0; i < px.length; i++) px[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return px;
}

Deno.test("prepareCub: a truncated JPEG is found by the decode check (libvips' reason), --skip-bad skips it with a count", async () => {
  const root = await miniCub();
  // a real photo when CUB is here (a flat test image may survive a cut), else the generated one
  const cub = cubRootFromEnv();
  const src = cub ? `${cub}/images/011.Rusty_Blackbird/Rusty_Blackbird_0102_6590.jpg` : null;
  const full = src && (await Deno.stat(src).catch(() => null))
    ? await Deno.readFile(src)
    : await sharp(noise(64, 48), { raw: { width: 64, height: 48, channels: 3 } }).jpeg()
      .toBuffer();
  const bad = `${root}/images/002.Blue_Bird/d.jpg`;
  await Deno.writeFile(bad, full.subarray(0, Math.floor(full.length / 2)));
  const e = await assertRejects(
    () => prepareCub(root, tmpDir()),
    `${root}/images.txt:4: `,
    bad,
    "premature end of JPEG image",
  );
  assert(e instanceof InputError && !e.message.includes("\n"));
  const r = await prepareCub(root, tmpDir(), { onBadLine: "skip" });
  assertEquals(r.counts, { train: 2, test: 1 });
  assertEquals(r.undecodable.length, 1);
  assert(r.undecodable[0].reason.includes("premature end of JPEG image"));
  // headers only: the truncated file passes (as before the check existed)
  const h = await prepareCub(root, tmpDir(), { checkDecode: false });
  assertEquals(h.counts, { train: 2, test: 2 });
  // …and loading finds it before any training
  const ds = await loadDataset(h.out);
  const found = await findBadDatasetImages(ds);
  assertEquals(found.map((b) => [b.split, b.id]), [["test", "002.Blue_Bird/d.jpg"]]);
  await assertRejects(() => assertDatasetImagesDecode(ds), bad, "premature end of JPEG image");
  await assertRejects(() => loadDataset(h.out, { checkImages: true }), bad, "premature end");
});

Deno.test("prepare-cub task: one error line with file:line, exit 1; --help exits 0", async () => {
  const root = await miniCub({ "image_class_labels.txt": "1 1\n3 2\n4 2\n" });
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", projectPath("tasks/prepare_cub.ts"), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  let o = await run(["--root", root, "--out", tmpDir()]);
  const err = new TextDecoder().decode(o.stderr).trim();
  assertEquals(o.code, 1, err);
  assertEquals(err.split("\n").length, 1, err);
  assert(err.startsWith(`error: ${root}/images.txt:2: `), err);
  o = await run(["--root", root, "--out", tmpDir(), "--skip-bad"]);
  assertEquals(o.code, 0);
  assert(new TextDecoder().decode(o.stdout).includes("1 bad lines skipped"));
  o = await run(["--out", "x"]);
  assertEquals(o.code, 2);
  o = await run(["--help"]);
  assertEquals(o.code, 0);
});

Deno.test("ensurePreparedCub prepares once per root; cubRootFromEnv honours TEDLOC_CUB_ROOT", async () => {
  const root = await miniCub();
  const out = tmpDir();
  const a = await ensurePreparedCub(root, out);
  const stamp = (await Deno.stat(`${out}/dataset.json`)).mtime;
  const b = await ensurePreparedCub(root, out);
  assertEquals((await Deno.stat(`${out}/dataset.json`)).mtime, stamp, "reused");
  assertEquals(b.splits.test.imageIds, a.splits.test.imageIds);
  const other = await miniCub();
  const c = await ensurePreparedCub(other, out);
  assertEquals(c.imageRoot, `${other}/images`, "another root re-prepares");
  const saved = Deno.env.get("TEDLOC_CUB_ROOT");
  try {
    Deno.env.set("TEDLOC_CUB_ROOT", root);
    assertEquals(cubRootFromEnv(), root);
  } finally {
    if (saved === undefined) Deno.env.delete("TEDLOC_CUB_ROOT");
    else Deno.env.set("TEDLOC_CUB_ROOT", saved);
  }
});

const CUB = sharedDataPath("cub50", "CUB_200_2011");

Deno.test("prepareCub on the real CUB-50 reproduces wsolevaluation's published metadata", async (t) => {
  if (CUB === null) {
    await t.step({
      name: "skipped: real CUB-50 not found (set TEDLOC_SHARED_DATA or ../shared/data)",
      ignore: true,
      fn: () => {},
    });
    return;
  }
  const out = tmpDir();
  const r = await prepareCub(CUB, out);
  assertEquals(r.counts, { train: 1500, test: 1389 });
  assertEquals(r.classNames.length, 50);
  assertEquals(r.classNames[0], "Black_footed_Albatross");
  const sample = projectPath("tests/fixtures/data/wsol_cub_sample");
  for (const split of ["test", "train"]) {
    const ours = new Set((await Deno.readTextFile(`${out}/metadata/${split}/localization.txt`))
      .split("\n"));
    for (const name of ["localization", "image_sizes", "class_labels", "image_ids"]) {
      let text: string;
      try {
        text = await Deno.readTextFile(`${sample}/${split}/${name}.txt`);
      } catch {
        continue; // the sample holds only some files for train
      }
      const mine = name === "localization"
        ? ours
        : new Set((await Deno.readTextFile(`${out}/metadata/${split}/${name}.txt`)).split("\n"));
      const lines = text.trim().split("\n");
      const missing = lines.filter((l) => !mine.has(l));
      assertEquals(missing, [], `${split}/${name}.txt: published lines not reproduced`);
      assert(lines.length >= 30);
    }
  }
  // published order = images.txt order within each split
  const ids = (await Deno.readTextFile(`${sample}/test/image_ids.txt`)).trim().split("\n");
  const ds = await loadDataset(out);
  const pos = ids.map((id) => ds.splits.test.imageIds.indexOf(id));
  assert(pos.every((p, i) => p >= 0 && (i === 0 || p > pos[i - 1])), "order differs");
  assertEquals(ds.splits.test.imageIds.slice(0, 88), ids.slice(0, 88));
});
