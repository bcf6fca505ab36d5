import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { main } from "../../tasks/evaluate.ts";
import { writeMetadata, type WsolMetadata } from "../../lib/data/metadata.ts";
import { writeNpy } from "../../lib/io/npy.ts";
import { BoxEvaluator } from "../../lib/metrics/box.ts";
import { combineGtMasks, MaskEvaluator } from "../../lib/metrics/mask.ts";
import { centerGaussianMap } from "../../lib/metrics/scoremap.ts";
import { projectPath } from "../../lib/util/paths.ts";
import sharp from "sharp";

const N = 224 * 224;
const IDS = ["001.A/a_1.jpg", "001.A/a_2.jpg", "002.B/b_1.jpg"];

function boxMetadata(): WsolMetadata {
  return {
    imageIds: IDS,
    classLabels: new Map([[IDS[0], 0], [IDS[1], 0], [IDS[2], 1]]),
    imageSizes: new Map<string, [number, number]>([[IDS[0], [500, 375]], [IDS[1], [300, 300]], [
      IDS[2],
      [224, 400],
    ]]),
    boxes: new Map([[IDS[0], [[100, 60, 400, 300]]], [IDS[1], [[10, 10, 120, 200], [
      150,
      100,
      290,
      290,
    ]]], [IDS[2], [[50, 100, 180, 300]]]]),
    masks: new Map(),
    ignoreMasks: new Map(),
  } as WsolMetadata;
}

function maps(): Float32Array[] {
  const g = centerGaussianMap();
  const shifted = new Float32Array(N);
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) shifted[y * 224 + x] = g[y * 224 + ((x + 60) % 224)];
  }
  const blocky = new Float32Array(N).map((_, i) => ((i % 224) > 40 && i > 224 * 90 ? 0.8 : 0.1));
  return [g, shifted, blocky];
}

/** A metadata folder and a score-map folder in a fresh temp dir. */
async function setup(): Promise<{ dir: string; meta: string; maps: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-eval-" });
  const meta = `${dir}/metadata`, sm = `${dir}/scoremaps`;
  await writeMetadata(meta, boxMetadata());
  const ms = maps();
  for (let i = 0; i < IDS.length; i++) await writeNpy(`${sm}/${IDS[i]}.npy`, ms[i], [224, 224]);
  return { dir, meta, maps: sm };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("evaluate task: runs as a subprocess, prints the table, writes JSON", async () => {
  const { dir, meta, maps: sm } = await setup();
  const out = `${dir}/out/metrics.json`;
  const evaluate = (json: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        projectPath("tasks/evaluate.ts"),
        "--metadata",
        meta,
        "--scoremaps",
        sm,
        "--json",
        json,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  const r = await evaluate(out);
  const stdout = new TextDecoder().decode(r.stdout);
  assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
  assert(stdout.includes("MaxBoxAcc (IoU 50, largest contour)"), stdout);
  assert(stdout.includes("MaxBoxAccV2"), stdout);
  const json = JSON.parse(await Deno.readTextFile(out));
  const ev = new BoxEvaluator({ metadata: boxMetadata() });
  maps().forEach((m, i) => ev.accumulate(m, IDS[i]));
  const want = ev.compute();
  assertEquals(json.count, 3);
  assertAlmostEquals(json.boxes.maxBoxAcc, want.maxBoxAcc, 1e-12);
  assertAlmostEquals(json.boxes.maxBoxAccV2, want.maxBoxAccV2, 1e-12);
  assertEquals(json.boxes.multi[0].accuracy, want.multi[0].accuracy);
  assert(stdout.includes(want.maxBoxAcc.toFixed(2)), "table shows MaxBoxAcc");
  // bad input in a subprocess: one line naming the file, exit 1, no JSON
  const bad = new Float32Array(N).fill(0.5);
  bad[3] = NaN;
  await writeNpy(`${sm}/${IDS[1]}.npy`, bad, [224, 224]);
  const out2 = `${dir}/out/other.json`;
  const r2 = await evaluate(out2);
  const err = new TextDecoder().decode(r2.stderr).trim().split("\n").filter((l) =>
    l.startsWith("error")
  );
  assertEquals(r2.code, 1);
  assertEquals(err.length, 1, new TextDecoder().decode(r2.stderr));
  assert(err[0].includes(`${IDS[1]}.npy`) && err[0].includes("NaN"), err[0]);
  assert(!(await exists(out2)), "no JSON written on error");
  await Deno.remove(dir, { recursive: true });
});

/** Each bad input, with the check that catches it; the JSON output must not appear. */
const BAD_MAPS: [
  string,
  () => { data: Float32Array | Int32Array | Float64Array; shape: number[] },
  string[],
][] = [
  ["NaN", () => ({ data: new Float32Array(N).fill(NaN, 5, 6), shape: [224, 224] }), ["NaN"]],
  ["Inf", () => ({ data: new Float64Array(N).fill(Infinity, 9, 10), shape: [224, 224] }), [
    "Infinity",
    "outside [0, 1]",
  ]],
  ["out of range", () => ({ data: new Float32Array(N).fill(1.5, 0, 1), shape: [224, 224] }), [
    "1.5",
    "outside [0, 1]",
  ]],
  ["negative", () => ({ data: new Float32Array(N).fill(-0.25, 7, 8), shape: [224, 224] }), [
    "-0.25",
  ]],
  ["wrong size", () => ({ data: new Float32Array(224 * 223), shape: [224, 223] }), [
    "shape is (224,223)",
  ]],
  ["3-D", () => ({ data: new Float32Array(N), shape: [1, 224, 224] }), ["shape is (1,224,224)"]],
  ["wrong dtype", () => ({ data: new Int32Array(N), shape: [224, 224] }), ["dtype is '<i4'"]],
];

for (const [name, make, parts] of BAD_MAPS) {
  Deno.test(`evaluate task: rejects a score map with ${name}`, async () => {
    const { dir, meta, maps: sm } = await setup();
    const { data, shape } = make();
    await writeNpy(`${sm}/${IDS[2]}.npy`, data, shape);
    const out = `${dir}/m.json`;
    await assertRejects(
      () => main(["--metadata", meta, "--scoremaps", sm, "--json", out]),
      `${IDS[2]}.npy`,
      ...parts,
    );
    assert(!(await exists(out)), "nothing written");
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("evaluate task: missing map and malformed metadata name file (and line)", async () => {
  const { dir, meta, maps: sm } = await setup();
  await Deno.remove(`${sm}/${IDS[1]}.npy`);
  const out = `${dir}/m.json`;
  await assertRejects(
    () => main(["--metadata", meta, "--scoremaps", sm, "--json", out]),
    `${IDS[1]}.npy`,
    "no score map",
  );
  await writeNpy(`${sm}/${IDS[1]}.npy`, new Float32Array(N), [224, 224]);
  const loc = `${meta}/localization.txt`;
  const lines = (await Deno.readTextFile(loc)).split("\n");
  lines[1] = lines[1].split(",").slice(0, 4).join(","); // 4 fields instead of 5
  await Deno.writeTextFile(loc, lines.join("\n"));
  await assertRejects(
    () => main(["--metadata", meta, "--scoremaps", sm, "--json", out]),
    "localization.txt:2:",
    "expected 'path,x0,y0,x1,y1'",
  );
  await assertRejects(() => main(["--metadata", meta]), "--scoremaps");
  await assertRejects(
    () => main(["--metadata", meta, "--scoremaps", sm, "--iou", "30,x"]),
    "--iou",
  );
  assert(!(await exists(out)), "nothing written");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("evaluate task: accepts GT boxes one pixel past the image (as wsolevaluation's CUB)", async () => {
  const { dir, meta, maps: sm } = await setup();
  const loc = `${meta}/localization.txt`;
  const text = await Deno.readTextFile(loc);
  // image 0 is 500×375: x1 = int(x + w) = 501 occurs in the real CUB metadata
  await Deno.writeTextFile(
    loc,
    text.replace(`${IDS[0]},100,60,400,300`, `${IDS[0]},100,60,501,300`),
  );
  // deno-lint-ignore no-explicit-any
  const got = await main(["--metadata", meta, "--scoremaps", sm]) as any;
  const m = boxMetadata();
  m.boxes.set(IDS[0], [[100, 60, 501, 300]]);
  const ev = new BoxEvaluator({ metadata: m });
  maps().forEach((map, i) => ev.accumulate(map, IDS[i]));
  assertAlmostEquals(got.boxes.maxBoxAccV2, ev.compute().maxBoxAccV2, 1e-12);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("evaluate task: PxAP from PNG masks with --mask-root", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-eval-mask-" });
  const meta = `${dir}/metadata`, sm = `${dir}/scoremaps`, root = `${dir}/masks`;
  await Deno.mkdir(root, { recursive: true });
  const ids = ["x/1.jpg", "x/2.jpg"];
  const sizes: [number, number][] = [[300, 200], [150, 180]]; // mask w, h
  const instance: Float32Array[] = [], ignore: Float32Array[] = [];
  const png = async (name: string, w: number, h: number, f: (x: number, y: number) => number) => {
    const px = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = f(x, y);
    await sharp(px, { raw: { width: w, height: h, channels: 1 } }).png().toFile(`${root}/${name}`);
    // the same mask at 224 (nearest), as the task should produce
    const { resizeNearest } = await import("../../lib/metrics/scoremap.ts");
    return resizeNearest(px, h, w, 224, 224);
  };
  for (let i = 0; i < 2; i++) {
    const [w, h] = sizes[i];
    instance.push(await png(`${i}_m.png`, w, h, (x, y) => (x > w / 3 && y > h / 4 ? 255 : 0)));
    ignore.push(await png(`${i}_ig.png`, w, h, (x) => (x < w / 2 ? 255 : 0)));
    await writeNpy(`${sm}/${ids[i]}.npy`, maps()[i], [224, 224]);
  }
  await writeMetadata(meta, {
    imageIds: ids,
    classLabels: new Map(ids.map((id) => [id, 0])),
    imageSizes: new Map(),
    boxes: new Map(),
    masks: new Map(ids.map((id, i) => [id, [`${i}_m.png`]])),
    ignoreMasks: new Map(ids.map((id, i) => [id, `${i}_ig.png`])),
  });
  await assertRejects(() => main(["--metadata", meta, "--scoremaps", sm]), "--mask-root");
  // deno-lint-ignore no-explicit-any
  const got = await main(["--metadata", meta, "--scoremaps", sm, "--mask-root", root]) as any;
  const ev = new MaskEvaluator();
  ids.forEach((id, i) => ev.accumulate(maps()[i], id, combineGtMasks([instance[i]], ignore[i])));
  assertAlmostEquals(got.masks.pxap, ev.compute().pxap, 1e-12);
  assert(got.masks.pxap > 0 && got.masks.pxap < 100);
  await Deno.remove(dir, { recursive: true });
});
