import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { errorLine, runTask, writeNoiseJpeg } from "./run_task.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { DEFAULT_MOBILENET_DIR, TfjsCnnEncoder } from "../../lib/model/mobilenet.ts";
import { resolveTedLocConfig, TedLocModel } from "../../lib/model/tedloc.ts";
import sharp from "sharp";
import {
  setBoxThreshold,
  setExtraInputSizes,
  writeCheckpoint,
} from "../../lib/train/checkpoint.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { emptyMetadata } from "../../lib/data/metadata.ts";
import { tedLocHead } from "../../lib/model/baselines.ts";
import { extractFeatures } from "../../lib/train/features.ts";
import { evaluateHead } from "../../lib/eval/evaluate.ts";
import { randomTedLoc } from "../eval/random_tedloc.ts";

async function fourImages(dir: string, badThird = false): Promise<string[]> {
  const paths = [0, 1, 2, 3].map((i) => join(dir, `img${i}.jpg`));
  for (const [i, p] of paths.entries()) await writeNoiseJpeg(p, 120, 90, badThird && i === 2);
  return paths;
}

Deno.test("localize task: flags out of range are one line naming the flag, before any work", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const imgs = await fourImages(dir);
    const out = join(dir, "out");
    for (
      const [flag, value, want] of [
        ["--topk", "0", "--topk must be an integer ≥ 1, got '0'"],
        ["--threshold", "2", "--threshold must be a number ≥ 0 and ≤ 1, got '2'"],
        ["--threshold=-0.1", "", "--threshold must be a number ≥ 0 and ≤ 1"],
        ["--topk", "x", "--topk must be a number, got 'x'"],
        ["--sizes", "10", "--sizes must be comma-separated integer input sides 32..1024"],
        ["--sizes", "224,x", "--sizes must be comma-separated integer input sides 32..1024"],
        ["--sizes", "224,448.5", "--sizes must be comma-separated integer input sides"],
        ["--sizes", "224,224", "--sizes lists a side twice, got '224,224'"],
        ["--sizes", "224,256,288,320,352,384", "--sizes lists more than 5 sides"],
      ]
    ) {
      const r = await runTask("localize.ts", [
        ...imgs,
        "--checkpoint",
        "none",
        "--out",
        out,
        flag,
        value,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assert(errorLine(r).includes(want), r.stderr);
    }
    assert(!(await Deno.stat(out).catch(() => null)), "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("localize task: --out a file, or a bad 3rd image of 4: one line, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const imgs = await fourImages(dir, true);
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "hi");
    let r = await runTask("localize.ts", [imgs[0], "--checkpoint", "none", "--out", file]);
    assertEquals(r.code, 1, r.stderr);
    assert(errorLine(r).startsWith(`error: ${file}: cannot write: `), r.stderr);
    const out = join(dir, "out");
    r = await runTask("localize.ts", [...imgs, "--checkpoint", "none", "--out", out]);
    assertEquals(r.code, 1, r.stderr);
    const line = errorLine(r);
    assert(line.includes(imgs[2]) && line.includes("premature end of JPEG image"), line);
    assert(!(await Deno.stat(out).catch(() => null)), "no overlays, no localize.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const mobilenet = await Deno.stat(join(DEFAULT_MOBILENET_DIR, "model.json")).then(
  () => true,
  () => false,
);

Deno.test({
  name:
    "localize task: a 1×1 and an 800×40 image get warnings; outputs appear together; --topk above the classes is refused",
  ignore: !mobilenet,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await initBackend("wasm");
      const enc = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
      const C = 3, D = 8;
      const vectors = new Float32Array(C * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
      const model = new TedLocModel(resolveTedLocConfig(enc.dim, D, C), {
        classNames: ["a", "b", "c"],
        vectors,
        count: C,
        dim: D,
        rawDim: D,
        ortho: "none",
        source: "t",
      });
      const ckpt = join(dir, "m.safetensors");
      await writeCheckpoint(ckpt, model, {
        trainConfig: null,
        modelConfig: model.config,
        epoch: 0,
        step: 0,
        optimizerStep: 0,
        rngState: 0,
        history: [],
        encoderId: enc.id,
        grid: enc.grid,
        stride: enc.stride,
        cellOffset: enc.cellOffset,
        encoderSpec: enc.spec,
      });
      model.dispose();
      enc.dispose();
      const tiny = join(dir, "tiny.jpg"), wide = join(dir, "wide.jpg"), ok = join(dir, "ok.jpg");
      await writeNoiseJpeg(tiny, 1, 1);
      await writeNoiseJpeg(wide, 800, 40);
      await writeNoiseJpeg(ok, 120, 90);
      const out = join(dir, "out");
      let r = await runTask("localize.ts", [ok, "--checkpoint", ckpt, "--out", out, "--topk", "4"]);
      assertEquals(r.code, 2, r.stderr);
      assert(errorLine(r).includes("--topk must be ≤ 3"), r.stderr);
      r = await runTask("localize.ts", [
        tiny,
        wide,
        ok,
        "--checkpoint",
        ckpt,
        "--out",
        out,
        "--topk",
        "2",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assert(r.stderr.includes(`warning: ${tiny}: 1×1 image is tiny`), r.stderr);
      assert(
        r.stderr.includes(`warning: ${wide}: 800×40 image has an extreme aspect ratio`),
        r.stderr,
      );
      const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      assertEquals(names, ["localize.json", "ok.png", "tiny.png", "wide.png"]);
      const report = JSON.parse(await Deno.readTextFile(join(out, "localize.json")));
      assertEquals(report.map((e: { warning?: string }) => e.warning !== undefined), [
        true,
        true,
        false,
      ]);
      assertEquals(report[2].topk.length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "localize task: the checkpoint's selected τ by default (--threshold overrides); box in the image's pixels; overlay at its size",
  ignore: !mobilenet,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await initBackend("wasm");
      const enc = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
      const C = 2, D = 4;
      const vectors = new Float32Array(C * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
      const model = new TedLocModel(resolveTedLocConfig(enc.dim, D, C), {
        classNames: ["a", "b"],
        vectors,
        count: C,
        dim: D,
        rawDim: D,
        ortho: "none",
        source: "t",
      });
      const ckpt = join(dir, "last.safetensors");
      await writeCheckpoint(ckpt, model, {
        trainConfig: null,
        modelConfig: model.config,
        epoch: 0,
        step: 0,
        optimizerStep: 0,
        rngState: 0,
        history: [],
        encoderId: enc.id,
        grid: enc.grid,
        stride: enc.stride,
        cellOffset: enc.cellOffset,
        encoderSpec: enc.spec,
      });
      model.dispose();
      enc.dispose();
      const img = join(dir, "wide.jpg");
      await writeNoiseJpeg(img, 300, 100);
      const out = join(dir, "out");
      // no stored τ: 0.5, said so
      let r = await runTask("localize.ts", [
        img,
        "--checkpoint",
        ckpt,
        "--out",
        out,
        "--topk",
        "1",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assert(
        r.stdout.includes("τ = 0.5 (0.5: the checkpoint stores no selected threshold"),
        r.stdout,
      );
      await setBoxThreshold(ckpt, 0.37, "best τ on 5 held-out images");
      r = await runTask("localize.ts", [img, "--checkpoint", ckpt, "--out", out, "--topk", "1"]);
      assertEquals(r.code, 0, r.stderr);
      const report = JSON.parse(await Deno.readTextFile(join(out, "localize.json")));
      assertEquals(report[0].threshold, 0.37);
      assert(report[0].thresholdSource.includes("best τ on 5 held-out images"), report[0]);
      const box = report[0].box as number[];
      assert(r.stdout.includes(`box [${box.join(", ")}] (pixels of the 300×100 image)`), r.stdout);
      assert(box[2] <= 299 && box[3] <= 99, `box ${box}`);
      const meta = await sharp(await Deno.readFile(join(out, "wide.png"))).metadata();
      assertEquals([meta.width, meta.height], [300, 100]);
      r = await runTask("localize.ts", [
        img,
        "--checkpoint",
        ckpt,
        "--out",
        out,
        "--threshold",
        "0.8",
        "--topk",
        "1",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(
        JSON.parse(await Deno.readTextFile(join(out, "localize.json")))[0].threshold,
        0.8,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "localize task: the checkpoint's extra input sizes by default (--sizes overrides); its maps are evaluateHead's with extraScales",
  ignore: !mobilenet,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await initBackend("wasm");
      const enc = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR);
      const enc448 = await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, { inputSize: 448 });
      const model = randomTedLoc(enc.dim);
      const ckpt = join(dir, "last.safetensors");
      await writeCheckpoint(ckpt, model, {
        trainConfig: null,
        modelConfig: model.config,
        epoch: 0,
        step: 0,
        optimizerStep: 0,
        rngState: 0,
        history: [],
        encoderId: enc.id,
        grid: enc.grid,
        stride: enc.stride,
        cellOffset: enc.cellOffset,
        encoderSpec: enc.spec,
      });
      // the maps the run's evaluation saves, native and with the 448-px scale
      const id = "bird.jpg";
      await writeNoiseJpeg(join(dir, id), 300, 100);
      const dataset = { name: "t", imageRoot: dir, splits: { test: { imageIds: [id] } } };
      const ex = { cacheDir: null, storage: "f32" as const, progress: false as const };
      const f224 = await extractFeatures(enc, dataset, "test", ex);
      const f448 = await extractFeatures(enc448, dataset, "test", ex);
      const meta = emptyMetadata();
      meta.imageIds.push(id);
      meta.classLabels.set(id, 0);
      meta.imageSizes.set(id, [300, 100]);
      meta.boxes.set(id, [[10, 10, 100, 80]]);
      const head = tedLocHead(model);
      const evaluated = async (extraScales: { features: typeof f448; inputSize: number }[]) => {
        const d = join(dir, `maps${extraScales.length}`);
        await evaluateHead(head, f224, meta, { scoremapDir: d, extraScales, progress: false });
        return (await readNpy(join(d, `${id}.npy`))).data as Float32Array;
      };
      const multi = await evaluated([{ features: f448, inputSize: 448 }]);
      const native = await evaluated([]);
      head.dispose();
      enc.dispose();
      enc448.dispose();
      const out = join(dir, "out");
      const run = (...flags: string[]) =>
        runTask("localize.ts", [join(dir, id), "--checkpoint", ckpt, "--out", out, ...flags]);
      const taskMap = async () => (await readNpy(join(out, "bird.npy"))).data as Float32Array;
      const gap = (a: Float32Array, b: Float32Array) =>
        a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      assert(gap(multi, native) > 0.02, "the 448-px scale changes the evaluated map");
      // no stored sizes (a checkpoint from before, or outside a run folder): native, said so
      let r = await run("--scoremaps", "--topk", "1");
      assertEquals(r.code, 0, r.stderr);
      assert(
        r.stdout.includes("input sizes: 224 px (native only: the checkpoint stores no extra"),
        r.stdout,
      );
      assert(gap(await taskMap(), native) < 1e-5, "native map as evaluated");
      // the run's eval.extraInputSizes stored: used, as evaluated
      await setExtraInputSizes(ckpt, [448]);
      r = await run("--scoremaps", "--topk", "1");
      assertEquals(r.code, 0, r.stderr);
      assert(
        r.stdout.includes(
          "input sizes: 224 + 448 px, maps fused as evaluated (checkpoint: the run's " +
            "eval.extraInputSizes)",
        ),
        r.stdout,
      );
      const g = gap(await taskMap(), multi);
      assert(g < 1e-5, `the task's map differs from evaluateHead's by ${g}`);
      const report = JSON.parse(await Deno.readTextFile(join(out, "localize.json")));
      assertEquals(report[0].inputSizes, [224, 448]);
      assertEquals(report[0].scoremap, join(out, "bird.npy"));
      // --sizes 224: native only
      r = await run("--scoremaps", "--topk", "1", "--sizes", "224");
      assertEquals(r.code, 0, r.stderr);
      assert(r.stdout.includes("input sizes: 224 px (--sizes)"), r.stdout);
      assert(gap(await taskMap(), native) < 1e-5, "--sizes 224 gives the native map");
      // without the native side: one line
      r = await run("--sizes", "448", "--topk", "1");
      assertEquals(r.code, 2, r.stderr);
      assert(
        errorLine(r).includes("--sizes must include the encoder's native input side 224"),
        r.stderr,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
