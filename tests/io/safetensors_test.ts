import { assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import {
  encodeSafetensors,
  f16ToNumber,
  numberToF16,
  parseSafetensors,
  readSafetensors,
  toFloat32,
  writeSafetensors,
} from "../../lib/io/safetensors.ts";

const FIX = new URL("../fixtures/io/", import.meta.url).pathname;

Deno.test("safetensors: reads a file written from the spec by NumPy (F32, F16, I64, metadata)", async () => {
  const st = await readSafetensors(FIX + "mixed.safetensors");
  assertEquals(st.metadata, { format: "pt", note: "fixture" });
  const a = st.tensors.get("a.f32")!;
  assertEquals(a.shape, [2, 2]);
  assertArrayClose(toFloat32(a), [1, -2, 0.5, Math.fround(1e-3)], 0);
  const b = st.tensors.get("b.f16")!;
  assertEquals(b.dtype, "F16");
  // float16 values as NumPy rounded them
  assertArrayClose(toFloat32(b), [1, -0.5, 65504, 5.960464477539063e-8, 0.0999755859375], 0);
  assertEquals(Array.from(st.tensors.get("c.i64")!.data as BigInt64Array), [1n, -2n, 3n]);
});

Deno.test("safetensors: BF16 decodes", async () => {
  const st = await readSafetensors(FIX + "bf16.safetensors");
  assertArrayClose(toFloat32(st.tensors.get("w")!), [1, -3.5, 0.15625], 0);
});

Deno.test("safetensors: write → read round trip keeps names, shapes, values, metadata", async () => {
  const dir = await Deno.makeTempDir();
  const w = new Float32Array(12).map((_, i) => i / 7);
  const half = Uint16Array.from([1, -2, 0.333], numberToF16);
  await writeSafetensors(`${dir}/x.safetensors`, {
    "blocks.0.w": { shape: [3, 4], data: w },
    "h": { shape: [3], data: half, dtype: "F16" },
    "ids": { shape: [2], data: new Int32Array([7, -1]) },
  }, { classes: JSON.stringify(["a", "b"]) });
  const st = await readSafetensors(`${dir}/x.safetensors`);
  assertArrayClose(toFloat32(st.tensors.get("blocks.0.w")!), w, 0);
  assertArrayClose(toFloat32(st.tensors.get("h")!), [1, -2, 0.333], 2e-4);
  assertEquals(Array.from(st.tensors.get("ids")!.data as Int32Array), [7, -1]);
  assertEquals(JSON.parse(st.metadata.classes), ["a", "b"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("safetensors: f16 conversions round-trip every finite half value", () => {
  for (let h = 0; h < 0x10000; h++) {
    const e = (h >> 10) & 0x1f;
    if (e === 31) continue;
    const back = numberToF16(f16ToNumber(h));
    if (back !== h && !(h === 0x8000 && back === 0x8000)) {
      throw new Error(`0x${h.toString(16)} → 0x${back.toString(16)}`);
    }
  }
  assertEquals(numberToF16(65520), 0x7c00); // rounds to infinity
  assertEquals(numberToF16(1 + 2 ** -11), 0x3c00); // tie to even
});

Deno.test("safetensors: truncated or inconsistent files fail with the file named", async () => {
  const bytes = encodeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
  await assertRejects(
    () => parseSafetensors(bytes.subarray(0, bytes.length - 1), "w.safetensors"),
    "w.safetensors",
    "ends at byte",
  );
  await assertRejects(
    () => parseSafetensors(new Uint8Array(4), "tiny.safetensors"),
    "tiny.safetensors",
  );
  const lying = new TextDecoder().decode(bytes).replace('"shape":[4]', '"shape":[5]');
  await assertRejects(
    () => parseSafetensors(new TextEncoder().encode(lying), "l.safetensors"),
    "needs 20 bytes",
  );
  await assertRejects(
    () => readSafetensors("/no/such.safetensors"),
    "/no/such.safetensors",
    "not found",
  );
});
