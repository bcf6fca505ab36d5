import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { anchorsMain } from "../../tasks/anchors.ts";
import { anchorStatsMain } from "../../tasks/anchor_stats.ts";
import { readAnchors } from "../../lib/text/anchors.ts";
import { loadClipTextEncoder } from "../../lib/text/clip_text.ts";
import { clipTextAnchors } from "../../lib/text/sources.ts";
import { initBackend } from "../../lib/backend/backend.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { UsageError } from "../../lib/util/cli.ts";
import { sharedDataPath } from "../../lib/util/paths.ts";
import { tinyModelTokenizer, tinyModelVocab } from "./helpers.ts";

const FIX = new URL("../fixtures/text/", import.meta.url).pathname;

/** Run a task body with console.log silenced; returns what it printed. */
async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const log = console.log;
  let printed = "";
  console.log = (...a: unknown[]) => void (printed += a.join(" ") + "\n");
  try {
    return { value: await f(), printed };
  } finally {
    console.log = log;
  }
}

Deno.test("task anchors --weights: tiny CLIP model + HF vocab → anchors file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/vocab.json`, JSON.stringify(tinyModelVocab()));
  await Deno.writeTextFile(`${dir}/merges.txt`, "#version: 0.2\n");
  await Deno.writeTextFile(`${dir}/classes.txt`, "1 001.Cab\n2 002.bad\n3 003.D_a_b\n");
  const out = `${dir}/a.safetensors`;
  await quietly(() =>
    anchorsMain([
      "--weights",
      `${FIX}clip_a_openai.safetensors`,
      "--vocab",
      `${dir}/vocab.json`,
      "--classes",
      `${dir}/classes.txt`,
      "--template",
      "{}.",
      "--batch-size",
      "2",
      "--backend",
      "cpu",
      "--quiet",
      "--out",
      out,
    ])
  );
  const a = await readAnchors(out);
  assertEquals([a.count, a.dim, a.template, a.source], [
    3,
    24,
    "{}.",
    "clip:clip_a_openai.safetensors",
  ]);
  assertEquals(a.classNames, ["Cab", "bad", "D a b"]);
  assertEquals(a.extra?.clip_heads, "4");
  assertEquals(a.extra?.clip_naming, "openai");
  await initBackend("cpu");
  const enc = await loadClipTextEncoder(`${FIX}clip_a_openai.safetensors`);
  const want = await clipTextAnchors(enc, tinyModelTokenizer(), ["Cab", "bad", "D a b"], "{}.");
  enc.dispose();
  assertArrayClose(a.vectors, want, 1e-6);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("task anchors --attributes and --embeddings write the same format", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/att.txt`, "10 0 0\n0 10 0\n0 0 10\n");
  await Deno.writeTextFile(`${dir}/classes.txt`, "3 003.C_c\n1 001.A\n");
  const { printed } = await quietly(() =>
    anchorsMain([
      "--attributes",
      `${dir}/att.txt`,
      "--classes",
      `${dir}/classes.txt`,
      "--out",
      `${dir}/att.safetensors`,
    ])
  );
  assert(printed.includes("anchors: 2 × 3 from attributes:att.txt"), printed);
  const att = await readAnchors(`${dir}/att.safetensors`);
  assertEquals([att.classNames, att.source, att.extra?.attribute_rows], [
    ["C c", "A"],
    "attributes:att.txt",
    "[3,1]",
  ]);
  await writeSafetensors(`${dir}/e.safetensors`, {
    feats: { shape: [2, 2], data: new Float32Array([1, 1, 0, 3]) },
  });
  await Deno.writeTextFile(`${dir}/names.txt`, "x\ny\n");
  await quietly(() =>
    anchorsMain([
      "--embeddings",
      `${dir}/e.safetensors`,
      "--names",
      `${dir}/names.txt`,
      "--template",
      "a photo of a {}",
      "--out",
      `${dir}/e_out.safetensors`,
    ])
  );
  const e = await readAnchors(`${dir}/e_out.safetensors`);
  assertEquals([e.source, e.template, e.dim], [
    "embeddings:e.safetensors#feats",
    "a photo of a {}",
    2,
  ]);
  assertArrayClose(e.vectors, [Math.SQRT1_2, Math.SQRT1_2, 0, 1], 1e-7);
  // stats task on it: raw cosine 0.707, orthogonalized 0
  const { value: rows } = await quietly(() =>
    anchorStatsMain(["--anchors", `${dir}/e_out.safetensors`])
  );
  assertEquals(rows!.map((r) => r.method), ["none", "qr", "symmetric"]);
  assert(Math.abs(rows![0].maxCos - Math.SQRT1_2) < 1e-6 && Math.abs(rows![1].maxCos) < 1e-6);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("task anchors: bad input gives clear errors", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/att.txt`, "1 2\n3 4\n");
  await Deno.writeTextFile(`${dir}/empty.txt`, "\n");
  await Deno.writeTextFile(`${dir}/dup.txt`, "a\nb\na\n");
  const out = ["--out", `${dir}/o.safetensors`];
  const usage = await assertRejects(
    () => anchorsMain(["--attributes", `${dir}/att.txt`, "--embeddings", "x", ...out]),
    "exactly one",
  );
  assert(usage instanceof UsageError);
  await assertRejects(
    () => anchorsMain(["--attributes", `${dir}/att.txt`, ...out]),
    "--attributes needs --classes",
  );
  await assertRejects(
    () => anchorsMain(["--attributes", `${dir}/att.txt`, "--classes", `${dir}/empty.txt`, ...out]),
    "empty.txt: no class names",
  );
  await assertRejects(
    () => anchorsMain(["--attributes", `${dir}/att.txt`, "--classes", `${dir}/dup.txt`, ...out]),
    "dup.txt:3: duplicated class name 'a'",
  );
  await assertRejects(
    () =>
      anchorsMain([
        "--attributes",
        `${dir}/none.txt`,
        "--classes",
        `${dir}/dup.txt`,
        "--rename-duplicates",
        ...out,
      ]),
    "none.txt: file not found",
  );
  await assertRejects(
    () =>
      anchorsMain([
        "--weights",
        `${dir}/no.safetensors`,
        "--vocab",
        `${FIX}tiny_bpe.txt.gz`,
        "--classes",
        `${dir}/att.txt`,
        ...out,
      ]),
    "no.safetensors: file not found",
  );
  await assertRejects(
    () =>
      anchorsMain([
        "--weights",
        `${FIX}clip_a_openai.safetensors`,
        "--vocab",
        `${FIX}tiny_bpe.txt.gz`,
        "--classes",
        `${dir}/dup.txt`,
        "--rename-duplicates",
        "--template",
        "no slot",
        "--quiet",
        ...out,
      ]),
    "no '{}'",
  );
  await assertRejects(
    () =>
      anchorsMain([
        "--attributes",
        `${dir}/att.txt`,
        "--classes",
        `${dir}/dup.txt`,
        "--attribute-transform",
        "zscore",
        ...out,
      ]),
    "--attribute-transform must be centred or raw",
  );
  await Deno.remove(dir, { recursive: true });
});

const attPath = sharedDataPath(
  "cub50",
  "CUB_200_2011",
  "attributes",
  "class_attribute_labels_continuous.txt",
);
const cubClasses = sharedDataPath("cub50", "CUB_200_2011", "classes.txt");
Deno.test({
  name: attPath && cubClasses
    ? "task anchors: real CUB-50 attribute anchors (CUB classes.txt and plain names agree)"
    : "task anchors: real CUB-50 attribute anchors (skipped: ../shared/data/cub50 absent)",
  ignore: attPath === null || cubClasses === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    await quietly(() =>
      anchorsMain([
        "--attributes",
        attPath!,
        "--classes",
        cubClasses!,
        "--out",
        `${dir}/a.safetensors`,
      ])
    );
    const a = await readAnchors(`${dir}/a.safetensors`);
    assertEquals([a.count, a.dim, a.classNames[0], a.classNames[49]], [
      50,
      312,
      "Black footed Albatross",
      "Eared Grebe",
    ]);
    assertEquals(
      a.extra?.attribute_rows,
      JSON.stringify(Array.from({ length: 50 }, (_, i) => i + 1)),
    );
    // prepare-cub's classes.txt holds plain names (label order): rows found via CUB's classes.txt
    const plain = (await Deno.readTextFile(cubClasses!)).trim().split("\n").map((l) =>
      l.split(" ")[1].slice(4)
    );
    await Deno.writeTextFile(`${dir}/names.txt`, [plain[4], plain[0]].join("\n") + "\n");
    await quietly(() =>
      anchorsMain([
        "--attributes",
        attPath!,
        "--classes",
        `${dir}/names.txt`,
        "--out",
        `${dir}/b.safetensors`,
      ])
    );
    const b = await readAnchors(`${dir}/b.safetensors`);
    assertEquals([b.extra?.attribute_rows, b.extra?.attribute_row_source], ["[5,1]", "names"]);
    assertArrayClose(b.vectors.subarray(0, 312), a.vectors.subarray(4 * 312, 5 * 312), 0);
    await Deno.remove(dir, { recursive: true });
  },
});

const in1k = sharedDataPath("clip", "imagenet1k_clip_vitb32_text.safetensors");
const in1kNames = sharedDataPath("clip", "imagenet1k_classnames.txt");
Deno.test({
  name: in1k && in1kNames
    ? "task anchors: real ImageNet CLIP embeddings import (duplicates refused, then renamed)"
    : "task anchors: real ImageNet CLIP embeddings import (skipped: ../shared/data/clip absent)",
  ignore: in1k === null || in1kNames === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const args = [
      "--embeddings",
      in1k!,
      "--tensor",
      "text_features",
      "--names",
      in1kNames!,
      "--out",
      `${dir}/a.safetensors`,
    ];
    await assertRejects(
      () => anchorsMain(args),
      "imagenet1k_classnames.txt:475: duplicated class name 'cardigan'",
    );
    await quietly(() => anchorsMain([...args, "--rename-duplicates"]));
    const a = await readAnchors(`${dir}/a.safetensors`);
    assertEquals([a.count, a.dim, a.classNames[11], a.classNames[517]], [
      1000,
      512,
      "goldfinch",
      "crane (2)",
    ]);
    await Deno.remove(dir, { recursive: true });
  },
});
