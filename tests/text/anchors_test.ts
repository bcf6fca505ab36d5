import { assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import { readAnchors, writeAnchors } from "../../lib/text/anchors.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";

Deno.test("anchors: write → read keeps names, template, source; rows unit length", async () => {
  const dir = await Deno.makeTempDir();
  const vectors = new Float32Array([3, 4, 0, 0, 0, 2]);
  await writeAnchors(`${dir}/a.safetensors`, {
    classNames: ["red bird", "blue bird"],
    vectors,
    count: 2,
    dim: 3,
    template: "Image of a {}.",
    source: "test",
    extra: { note: "x" },
  });
  const a = await readAnchors(`${dir}/a.safetensors`);
  assertEquals(a.classNames, ["red bird", "blue bird"]);
  assertEquals([a.count, a.dim, a.template, a.source], [2, 3, "Image of a {}.", "test"]);
  assertEquals(a.extra, { note: "x" });
  assertAlmostEquals(a.vectors[0], 0.6, 1e-7);
  assertAlmostEquals(a.vectors[5], 1, 1e-7);
  assertEquals(vectors[0], 3, "input not modified");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("anchors: wrong format, names/rows mismatch and zero rows are refused", async () => {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/w.safetensors`, { w: { shape: [1], data: new Float32Array(1) } });
  await assertRejects(
    () => readAnchors(`${dir}/w.safetensors`),
    "w.safetensors",
    "not an anchors file",
  );
  await writeSafetensors(`${dir}/m.safetensors`, {
    anchors: { shape: [2, 2], data: new Float32Array(4) },
  }, {
    format: "tedloc-anchors/1",
    class_names: '["a"]',
  });
  await assertRejects(() => readAnchors(`${dir}/m.safetensors`), "1 class names for 2 anchor rows");
  await assertRejects(
    () =>
      writeAnchors(`${dir}/z.safetensors`, {
        classNames: ["a"],
        vectors: new Float32Array(2),
        count: 1,
        dim: 2,
        template: "",
        source: "",
      }),
    "row 0 is zero",
  );
  await Deno.remove(dir, { recursive: true });
});
