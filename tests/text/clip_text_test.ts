import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/backend.ts";
import {
  ClipTextEncoder,
  type ClipTextLoadOptions,
  loadClipTextEncoder,
} from "../../lib/text/clip_text.ts";
import {
  readSafetensors,
  type SafeTensorInput,
  toFloat32,
  writeSafetensors,
} from "../../lib/io/safetensors.ts";

const FIX = new URL("../fixtures/text/", import.meta.url).pathname;
const expected = await readSafetensors(`${FIX}clip_expected.safetensors`);
const exp = (name: string) => toFloat32(expected.tensors.get(name)!);
const ids = (name: string) => expected.tensors.get(name)!.data as Int32Array;

async function embed(file: string, tokens: Int32Array, opts: ClipTextLoadOptions = {}) {
  const enc = await loadClipTextEncoder(`${FIX}${file}`, opts);
  const batch = tokens.length / enc.config.contextLength;
  const out = enc.encodeTokens(tokens, batch);
  const full = enc.encodeTokens(tokens, batch, { trim: false });
  const values = { trimmed: out.dataSync().slice(), full: full.dataSync().slice() };
  tf.dispose([out, full]);
  const config = enc.config;
  enc.dispose();
  return { ...values, config };
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`clip text (${backend}): OpenAI names, F32, 4 heads from metadata = torch reference`, async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const r = await embed("clip_a_openai.safetensors", ids("a_tokens"));
    assertEquals(r.config, {
      naming: "openai",
      vocabSize: 50,
      contextLength: 16,
      width: 32,
      layers: 2,
      heads: 4,
      mlpWidth: 128,
      embedDim: 24,
      hasProjection: true,
      activation: "quick_gelu",
    });
    assertArrayClose(r.trimmed, exp("a_embeddings"), 2e-5);
    assertArrayClose(r.full, exp("a_embeddings"), 2e-5, "untrimmed context");
    assertEquals(tf.memory().numTensors, before, "no tensors leaked");
  });
}

Deno.test("clip text: Hugging Face names (F32 and F16) = torch reference", async () => {
  await initBackend("cpu");
  const r = await embed("clip_a_hf.safetensors", ids("a_tokens"));
  assertEquals([r.config.naming, r.config.heads, r.config.embedDim], ["huggingface", 4, 24]);
  assertArrayClose(r.trimmed, exp("a_embeddings"), 2e-5);
  const h = await embed("clip_a_hf_f16.safetensors", ids("a_tokens"));
  assertArrayClose(h.trimmed, exp("a_f16_embeddings"), 2e-5, "F16 weights");
  // and F16 really differs from F32 at this tolerance, so the test above can tell them apart
  let worst = 0;
  const f32 = exp("a_embeddings"), f16 = exp("a_f16_embeddings");
  for (let i = 0; i < f32.length; i++) worst = Math.max(worst, Math.abs(f32[i] - f16[i]));
  assert(worst > 1e-4, `f16 rounding visible (${worst})`);
});

Deno.test("clip text: GELU, no projection, heads = width/64 (HF CLIPTextModel)", async () => {
  await initBackend("cpu");
  const r = await embed("clip_b_hf.safetensors", ids("b_tokens"));
  assertEquals(
    [r.config.activation, r.config.heads, r.config.hasProjection, r.config.embedDim],
    ["gelu", 1, false, 64],
  );
  assertArrayClose(r.trimmed, exp("b_embeddings"), 2e-5);
  // the wrong activation is visible: QuickGELU gives different numbers
  const q = await embed("clip_b_hf.safetensors", ids("b_tokens"), { activation: "quick_gelu" });
  let worst = 0;
  const e = exp("b_embeddings");
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(q.trimmed[i] - e[i]));
  assert(worst > 1e-3, `activation matters (${worst})`);
  // and so does the head count
  const a2 = await embed("clip_a_openai.safetensors", ids("a_tokens"), { heads: 2 });
  let diff = 0;
  const ea = exp("a_embeddings");
  for (let i = 0; i < ea.length; i++) diff = Math.max(diff, Math.abs(a2.trimmed[i] - ea[i]));
  assert(diff > 1e-3, `head count matters (${diff})`);
});

Deno.test("clip text: missing, unexpected and mis-shaped names are listed", async () => {
  await initBackend("cpu");
  const st = await readSafetensors(`${FIX}clip_a_openai.safetensors`);
  const dir = await Deno.makeTempDir();
  const write = async (mutate: (t: Record<string, SafeTensorInput>) => void) => {
    const t: Record<string, SafeTensorInput> = {};
    for (const [k, v] of st.tensors) t[k] = { shape: v.shape, data: v.data, dtype: v.dtype };
    mutate(t);
    await writeSafetensors(`${dir}/m.safetensors`, t);
    return `${dir}/m.safetensors`;
  };
  let f = await write((t) => {
    delete t["transformer.resblocks.1.mlp.c_proj.bias"];
    delete t["ln_final.weight"];
    delete t["text_projection"];
    t["transformer.resblocks.0.extra"] = { shape: [1], data: new Float32Array(1) };
  });
  const err = await assertRejects(
    () => loadClipTextEncoder(f),
    "missing (3)",
    "transformer.resblocks.1.mlp.c_proj.bias",
    "ln_final.weight",
    "text_projection",
    "unexpected (1): transformer.resblocks.0.extra",
  );
  assert(err.message.startsWith(f), "file named");
  f = await write((t) => {
    t["transformer.resblocks.0.attn.in_proj_bias"] = { shape: [95], data: new Float32Array(95) };
  });
  await assertRejects(
    () => loadClipTextEncoder(f),
    "wrong shape (1): transformer.resblocks.0.attn.in_proj_bias [95] (expected [96])",
  );
  f = await write((t) => {
    t["visual.conv1.weight"] = { shape: [2], data: new Float32Array(2) };
    t["logit_scale"] = { shape: [], data: new Float32Array(1) };
  });
  const whole = await loadClipTextEncoder(f); // a whole CLIP checkpoint: image tower ignored
  whole.dispose();
  await writeSafetensors(`${dir}/x.safetensors`, { w: { shape: [1], data: new Float32Array(1) } });
  await assertRejects(() => loadClipTextEncoder(`${dir}/x.safetensors`), "not a CLIP text model");
  await assertRejects(
    () => loadClipTextEncoder(`${FIX}clip_a_openai.safetensors`, { heads: 5 }),
    "not divisible by 5 heads",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("clip text: token ids outside the vocabulary are refused", async () => {
  await initBackend("cpu");
  const st = await readSafetensors(`${FIX}clip_a_openai.safetensors`);
  const enc = new ClipTextEncoder(st, "a");
  const bad = new Int32Array(16);
  bad[0] = 48;
  bad[1] = 50;
  await assertRejects(() => enc.encodeTokens(bad, 1), "outside the vocabulary of 50");
  enc.dispose();
});
