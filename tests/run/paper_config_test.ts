import sharp from "sharp";
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { prepareCub } from "../../lib/data/cub.ts";
import { resolveRunConfig } from "../../lib/config/resolve.ts";
import { runConfig } from "../../lib/run/run.ts";
import { disposeRunInputs } from "../../lib/run/inputs.ts";
import { readAnchors } from "../../lib/text/anchors.ts";
import { projectPath } from "../../lib/util/paths.ts";
import { anchorsMain } from "../../tasks/anchors.ts";
import { tinyModelVocab } from "../text/helpers.ts";

const FIX = (area: string, f: string) => projectPath("tests", "fixtures", area, f);

/** A CUB_200_2011-layout folder: `classes` classes × 4 images (2 train, 2 test), noise + a box. */
async function cubFolder(root: string, classes: number): Promise<void> {
  const lines: Record<string, string[]> = {
    "classes.txt": [],
    "images.txt": [],
    "image_class_labels.txt": [],
    "train_test_split.txt": [],
    "bounding_boxes.txt": [],
  };
  let id = 0;
  for (let c = 1; c <= classes; c++) {
    // names spelt in the tiny CLIP vocabulary's letters (a–d)
    const cls = `${String(c).padStart(3, "0")}.${["Bad_Cab", "Dab", "Cab_Aba", "Add"][c - 1]}`;
    lines["classes.txt"].push(`${c} ${cls}`);
    await Deno.mkdir(join(root, "images", cls), { recursive: true });
    for (let k = 0; k < 4; k++) {
      id++;
      const w = 48 + 8 * k, h = 40 + 6 * c;
      const px = new Uint8Array(w * h * 3).map((_, i) => (i * 13 + id * 71) % 251);
      const file = `${cls}/img_${k}.jpg`;
      await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg().toFile(
        join(root, "images", file),
      );
      lines["images.txt"].push(`${id} ${file}`);
      lines["image_class_labels.txt"].push(`${id} ${c}`);
      lines["train_test_split.txt"].push(`${id} ${k < 2 ? 1 : 0}`);
      lines["bounding_boxes.txt"].push(`${id} 4.0 5.0 ${w / 2}.0 ${h / 2}.0`);
    }
  }
  for (const [f, l] of Object.entries(lines)) {
    await Deno.writeTextFile(join(root, f), l.join("\n") + "\n");
  }
}

Deno.test("configs/paper: timm-named ViT + CLIP text anchors + a CUB-200-layout folder, end to end (tiny random weights)", async () => {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "tedloc-paper-" });
  try {
    // what a user brings, in the same formats: CUB_200_2011/, a ViT .safetensors, CLIP text weights + BPE
    await cubFolder(join(dir, "CUB_200_2011"), 4);
    await prepareCub(join(dir, "CUB_200_2011"), join(dir, "CUB200"));
    const anchors = join(dir, "anchors.safetensors");
    // the tiny CLIP's own vocabulary (a real CLIP brings its vocab.json + merges.txt or bpe .gz)
    await Deno.writeTextFile(join(dir, "vocab.json"), JSON.stringify(tinyModelVocab()));
    await Deno.writeTextFile(join(dir, "merges.txt"), "#version: 0.2\n");
    const log = console.log;
    console.log = () => {};
    try {
      await anchorsMain([
        "--weights",
        FIX("text", "clip_a_hf.safetensors"),
        "--vocab",
        join(dir, "vocab.json"),
        "--classes",
        join(dir, "CUB200", "classes.txt"),
        "--template",
        "{}.",
        "--quiet",
        "--out",
        anchors,
      ]);
    } finally {
      console.log = log;
    }
    assertEquals((await readAnchors(anchors)).classNames, ["Bad Cab", "Dab", "Cab Aba", "Add"]);
    const cfg = await resolveRunConfig({
      file: projectPath("configs", "paper", "cub200_vit_clip.json"),
      set: [
        `dataset.path=${join(dir, "CUB200")}`,
        `encoder.model=${FIX("vit", "tiny_vit.safetensors")}`,
        `anchors.file=${anchors}`,
        "train.epochs=2",
      ],
    });
    assertEquals([cfg.train.rounds, cfg.eval.flipTta, cfg.cues.recipe], [2, true, "cam*prior"]);
    const { record } = await runConfig(cfg, {
      runDir: join(dir, "run"),
      cacheDir: join(dir, "cache"),
      workers: 1,
      progress: false,
    });
    assert(record.description.includes("tiny_vit"), record.description);
    assert(record.description.includes("28×28×32"), record.description); // patch 8 at 224
    assertEquals(
      record.rows.map((r) => r.method),
      ["tedloc", "tedloc+flip", "cam", "vanilla", "cam+flip", "center-prior"],
    );
    for (const r of record.rows) {
      assertEquals(r.metrics.count, 8, r.method);
      assert(Number.isFinite(r.metrics.maxBoxAccV2), `${r.method}: ${r.metrics.maxBoxAccV2}`);
    }
  } finally {
    await disposeRunInputs();
    await Deno.remove(dir, { recursive: true });
  }
});
