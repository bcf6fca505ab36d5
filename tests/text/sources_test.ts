import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertArrayClose,
  assertEquals,
  assertRejects,
} from "../assert.ts";
import { initBackend } from "../../lib/backend/backend.ts";
import { InputError } from "../../lib/io/errors.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { loadClipTextEncoder } from "../../lib/text/clip_text.ts";
import {
  attributeAnchors,
  checkAnchorClasses,
  cleanClassName,
  clipTextAnchors,
  embeddingAnchors,
  fillPromptTemplate,
  parseAttributeMatrix,
  parseClassList,
} from "../../lib/text/sources.ts";
import { ClipTokenizer } from "../../lib/text/tokenizer.ts";
import { tinyModelTokenizer } from "./helpers.ts";

const FIX = new URL("../fixtures/text/", import.meta.url).pathname;

function thrown(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("no InputError thrown");
}

Deno.test("sources: class names cleaned for prompts", () => {
  assertEquals(cleanClassName("001.Black_footed_Albatross"), "Black footed Albatross");
  assertEquals(cleanClassName("  great_white__shark "), "great white shark");
  assertEquals(cleanClassName("Chuck_will_Widow"), "Chuck will Widow");
  assertEquals(fillPromptTemplate("Image of a {}.", "cat"), "Image of a cat.");
  checkAnchorClasses(["Black footed Albatross", "cat"], ["001.Black_footed_Albatross", "Cat"]);
  const off = thrown(() => checkAnchorClasses(["a", "b"], ["a", "c"], "x.safetensors"));
  assertEquals(
    off.message,
    "x.safetensors: anchor classes differ from the dataset's (1): label 1: 'b' vs 'c'",
  );
  assert(
    thrown(() => checkAnchorClasses(["a"], ["a", "b"])).message.includes(
      "1 anchors for a dataset of 2",
    ),
  );
  assert(thrown(() => fillPromptTemplate("no slot", "cat")).message.includes("no '{}'"));
});

Deno.test("sources: class lists — names, 'id name', NNN. prefixes, blanks", () => {
  const a = parseClassList("cat\n\ndog_house\n", "a.txt");
  assertEquals([a.names, a.ids, a.lines], [["cat", "dog house"], [null, null], [1, 3]]);
  const b = parseClassList("1 001.Black_footed_Albatross\r\n7 007.Parakeet_Auklet\n", "b.txt");
  assertEquals([b.names, b.ids], [["Black footed Albatross", "Parakeet Auklet"], [1, 7]]);
  const c = parseClassList("004.Groove_billed_Ani\nplain\n", "c.txt");
  assertEquals([c.names, c.ids], [["Groove billed Ani", "plain"], [4, null]]);
  // not every line is 'id name': numbers stay part of the names
  const d = parseClassList("3 toed sloth\nokapi\n", "d.txt");
  assertEquals([d.names, d.ids], [["3 toed sloth", "okapi"], [null, null]]);
});

Deno.test("sources: empty and duplicated class lists are refused with file:line", () => {
  assertEquals(
    thrown(() => parseClassList("\n \n", "e.txt")).message,
    "e.txt: no class names in the file",
  );
  const dup = thrown(() => parseClassList("cat\ndog\nCat\n", "d.txt"));
  assertEquals([dup.file, dup.line], ["d.txt", 3]);
  assert(dup.message.includes("duplicated class name 'Cat' (first on line 1"));
  const cub = thrown(() => parseClassList("1 001.Red_Bird\n2 002.Red_Bird\n", "cub.txt"));
  assertEquals(cub.line, 2);
  const renamed = parseClassList("crane\nbird\ncrane\ncrane\n", "r.txt", {
    renameDuplicates: true,
  });
  assertEquals(renamed.names, ["crane", "bird", "crane (2)", "crane (3)"]);
});

Deno.test("sources: attribute matrix parse errors name the line", () => {
  const m = parseAttributeMatrix("1 2 3\n\n4 5 6\n", "m.txt");
  assertEquals([m.rows, m.cols, Array.from(m.values)], [2, 3, [1, 2, 3, 4, 5, 6]]);
  const ragged = thrown(() => parseAttributeMatrix("1 2 3\n4 5\n", "m.txt"));
  assertEquals([ragged.line, ragged.reason], [2, "2 values, the first row has 3"]);
  const nan = thrown(() => parseAttributeMatrix("1 2 3\n4 x 6\n", "m.txt"));
  assertEquals([nan.line, nan.reason], [2, "value 2 ('x') is not a number"]);
  assert(thrown(() => parseAttributeMatrix("\n", "m.txt")).message.includes("no rows"));
});

Deno.test("sources: attribute anchors pick rows by id, by name via the id list, or by order", () => {
  const m = parseAttributeMatrix("10 0 0\n0 10 0\n0 0 10\n10 10 10\n", "att.txt");
  const mean = [5, 5, 5];
  const byId = attributeAnchors(m, parseClassList("3 003.C\n1 001.A\n", "cls.txt"));
  assertEquals([byId.rows, byId.rowSource, byId.transform, byId.dim], [
    [3, 1],
    "ids",
    "centred",
    3,
  ]);
  const expect = (row: number[]) => {
    const c = row.map((v, j) => v - mean[j]);
    const n = Math.hypot(...c);
    return c.map((v) => v / n);
  };
  assertArrayClose(byId.vectors, [...expect([0, 0, 10]), ...expect([10, 0, 0])], 1e-6);
  const raw = attributeAnchors(m, parseClassList("3 003.C\n", "cls.txt"), { transform: "raw" });
  assertArrayClose(raw.vectors, [0, 0, 1], 1e-7);
  const idList = parseClassList("1 001.A\n2 002.B\n3 003.C\n4 004.D_E\n", "ids.txt");
  const byName = attributeAnchors(m, parseClassList("D_E\nB\n", "names.txt"), { idList });
  assertEquals([byName.rows, byName.rowSource], [[4, 2], "names"]);
  const byOrder = attributeAnchors(m, parseClassList("x\ny\n", "names.txt"));
  assertEquals([byOrder.rows, byOrder.rowSource], [[1, 2], "order"]);
  // errors: a row that does not exist, a name missing from the id list (both with line)
  const far = thrown(() => attributeAnchors(m, parseClassList("1 A\n9 Z\n", "cls.txt")));
  assertEquals([far.file, far.line], ["cls.txt", 2]);
  assert(far.message.includes("needs attribute row 9, att.txt has 4 rows"));
  const miss = thrown(() => attributeAnchors(m, parseClassList("B\nQ\n", "n.txt"), { idList }));
  assertEquals([miss.line, miss.reason], [2, "class 'Q' is not in the id list ids.txt"]);
  // too many classes for the rows (by order)
  assertEquals(
    thrown(() => attributeAnchors(m, parseClassList("a\nb\nc\nd\ne\n", "n.txt"))).line,
    5,
  );
  // a class equal to the mean has no direction
  const flat = parseAttributeMatrix("1 1\n1 1\n", "flat.txt");
  assert(
    thrown(() => attributeAnchors(flat, parseClassList("a\n", "n.txt"))).message.includes("zero"),
  );
});

Deno.test("sources: embedding anchors — all rows, a named subset, and mismatches", async () => {
  const dir = await Deno.makeTempDir();
  const data = new Float32Array([3, 4, 0, 0, 0, 2, 1, 0, 0]);
  await writeSafetensors(`${dir}/e.safetensors`, {
    feats: { shape: [3, 3], data },
    other: { shape: [2], data: new Float32Array(2) },
  });
  const names = parseClassList("red_bird\nblue bird\ncat\n", `${dir}/names.txt`);
  const all = await embeddingAnchors(`${dir}/e.safetensors`, names);
  assertEquals([all.count, all.dim, all.tensor, all.classNames], [3, 3, "feats", names.names]);
  assertArrayClose(all.vectors.subarray(0, 3), [0.6, 0.8, 0], 1e-7);
  const sub = await embeddingAnchors(`${dir}/e.safetensors`, names, {
    classes: parseClassList("Cat\nred bird\n", "cls.txt"),
  });
  assertEquals(sub.classNames, ["Cat", "red bird"]);
  assertArrayClose(sub.vectors, [1, 0, 0, 0.6, 0.8, 0], 1e-7);
  await assertRejects(
    () =>
      embeddingAnchors(`${dir}/e.safetensors`, names, {
        classes: parseClassList("dog\n", "c.txt"),
      }),
    "c.txt:1: class 'dog' is not among the names",
  );
  await assertRejects(
    () => embeddingAnchors(`${dir}/e.safetensors`, parseClassList("a\nb\n", "n2.txt")),
    "n2.txt: 2 names for the 3 rows of 'feats'",
  );
  await assertRejects(
    () => embeddingAnchors(`${dir}/e.safetensors`, names, { tensor: "nope" }),
    "no tensor 'nope' (has: feats, other)",
  );
  await assertRejects(
    () => embeddingAnchors(`${dir}/missing.safetensors`, names),
    "file not found",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("sources: CLIP anchors = normalised encoder output, independent of batching", async () => {
  await initBackend("cpu");
  const enc = await loadClipTextEncoder(`${FIX}clip_a_openai.safetensors`);
  const tok = tinyModelTokenizer();
  const names = ["cab", "bad", "dab"];
  const ids = tok.tokenize(names.map((n) => `${n}.`), { contextLength: 16 });
  const direct = enc.encodeTokens(ids, 3);
  const want = tf.tidy(() => tf.div(direct, tf.norm(direct, 2, 1, true))).dataSync();
  direct.dispose();
  let calls = 0;
  const v1 = await clipTextAnchors(enc, tok, names, "{}.", {
    batchSize: 2,
    onBatch: () => calls++,
  });
  const v3 = await clipTextAnchors(enc, tok, names, "{}.", { batchSize: 3 });
  assertEquals(calls, 2);
  assertArrayClose(v1, want, 1e-6);
  assertArrayClose(v3, want, 1e-6);
  assertAlmostEquals(Math.hypot(...v1.subarray(0, 24)), 1, 1e-6);
  // the real CLIP tokenizer (49,408 ids) does not fit this model's 50-token embedding
  const big = ClipTokenizer.fromMerges("#v\n");
  await assertRejects(() => clipTextAnchors(enc, big, names), "the text model's embedding only 50");
  enc.dispose();
});
