import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { encodeNpy, parseNpy, readNpy, writeNpy } from "../../lib/io/npy.ts";

const FIX = new URL("../fixtures/io/", import.meta.url).pathname;

Deno.test("npy: reads files written by NumPy", async () => {
  const f = await readNpy(FIX + "f32_2x3.npy");
  assertEquals(f.shape, [2, 3]);
  assertEquals(Array.from(f.data as Float32Array), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const d = await readNpy(FIX + "f64_vec.npy");
  assertEquals(Array.from(d.data as Float64Array), [1.5, -2.25, 1e-300]);
  const i = await readNpy(FIX + "i4_3d.npy");
  assertEquals(i.shape, [2, 3, 4]);
  assertEquals((i.data as Int32Array)[23], 18);
  assertEquals(Array.from((await readNpy(FIX + "u1_mask.npy")).data as Uint8Array), [
    1,
    0,
    0,
    1,
    0,
    0,
    1,
    0,
    0,
    1,
  ]);
  const b = await readNpy(FIX + "bool_mask.npy");
  assertEquals(b.dtype, "|b1");
  assertEquals(Array.from(b.data as Uint8Array), [1, 0, 1, 0, 1]);
  const s = await readNpy(FIX + "scalar_f4.npy");
  assertEquals(s.shape, []);
  assertEquals((s.data as Float32Array)[0], 3.5);
});

Deno.test("npy: our encoding is byte-identical to NumPy's for the same array", async () => {
  const ours = encodeNpy(new Float32Array([0, 0.25, 0.5, 0.75, 1, 1.25]), [2, 3]);
  assertEquals(ours, await Deno.readFile(FIX + "f32_2x3.npy"));
  const vec = encodeNpy(new Float64Array([1.5, -2.25, 1e-300]), [3]);
  assertEquals(vec, await Deno.readFile(FIX + "f64_vec.npy"));
});

Deno.test("npy: round trip through a file, header aligned to 64 bytes", async () => {
  const dir = await Deno.makeTempDir();
  const data = new Float32Array(224 * 224).map((_, i) => Math.sin(i));
  await writeNpy(`${dir}/m.npy`, data, [224, 224]);
  const bytes = await Deno.readFile(`${dir}/m.npy`);
  assert((bytes.length - data.byteLength) % 64 === 0);
  const back = parseNpy(bytes);
  assertEquals(back.shape, [224, 224]);
  assertArrayClose(back.data as Float32Array, data, 0);
  assertEquals([...Deno.readDirSync(dir)].length, 1, "no temp file left behind");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("npy: bad files fail naming the file and the problem", async () => {
  await assertRejects(() => readNpy("/nonexistent/x.npy"), "/nonexistent/x.npy", "not found");
  await assertRejects(
    () => parseNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), "bad.npy"),
    "bad.npy",
    "bad magic",
  );
  const good = await Deno.readFile(FIX + "f32_2x3.npy");
  await assertRejects(
    () => parseNpy(good.subarray(0, good.length - 4), "short.npy"),
    "short.npy",
    "expected 24 data bytes",
  );
  const edit = (from: string, to: string) => {
    const text = Array.from(good, (b) => String.fromCharCode(b)).join("").replace(from, to);
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  };
  await assertRejects(
    () => parseNpy(edit("'fortran_order': False", "'fortran_order': True "), "f.npy"),
    "Fortran",
  );
  await assertRejects(() => parseNpy(edit("<f4", "<c8"), "c.npy"), "unsupported dtype '<c8'");
});
