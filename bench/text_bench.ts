/**
 * Text anchors hot paths: orthogonalization and t-SNE at C = 1000 (the ILSVRC case, real
 * CLIP ViT-B/32 embeddings when ../shared/data is present, else correlated random ones),
 * the real-vocabulary tokenizer, and a CLIP ViT-B/32-shaped text transformer (random
 * weights, 63 M parameters) on wasm.
 * Run: deno bench -A bench/text_bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/backend.ts";
import { readSafetensors, type SafeTensor, toFloat32 } from "../lib/io/safetensors.ts";
import { tsne } from "../lib/text/analysis.ts";
import { ClipTextEncoder } from "../lib/text/clip_text.ts";
import { orthogonalizeAnchors } from "../lib/text/orthogonalize.ts";
import { ClipTokenizer } from "../lib/text/tokenizer.ts";
import { sharedDataPath } from "../lib/util/paths.ts";
import { Rng } from "../lib/util/rng.ts";

const C = 1000, D = 512;
const real = sharedDataPath("clip", "imagenet1k_clip_vitb32_text.safetensors");
let anchors: Float32Array;
if (real) {
  anchors = toFloat32((await readSafetensors(real)).tensors.get("text_features")!);
} else {
  const rng = new Rng(0);
  const common = Array.from({ length: D }, () => rng.normal());
  anchors = Float32Array.from({ length: C * D }, (_, i) => 1.5 * common[i % D] + rng.normal());
}
const data = real ? "real CLIP" : "synthetic";

for (const method of ["qr", "symmetric"] as const) {
  Deno.bench({
    name: `orthogonalize ${method}, C=${C} > D=${D} (${data})`,
    group: "orthogonalize",
    n: 3,
    warmup: 1,
    fn: () => void orthogonalizeAnchors(anchors, C, D, method),
  });
}

Deno.bench({
  name: `t-SNE exact, N=${C}, 1000 iterations (${data})`,
  n: 1,
  warmup: 0,
  fn: () => void tsne(anchors, C, D, { metric: "cosine", seed: 0 }),
});

const vocab = sharedDataPath("clip", "bpe_simple_vocab_16e6.txt.gz");
if (vocab) {
  const merges = await new Response(
    (await Deno.open(vocab)).readable.pipeThrough(new DecompressionStream("gzip")),
  ).text();
  const names = (await Deno.readTextFile(sharedDataPath("clip", "imagenet1k_classnames.txt")!))
    .trim().split("\n");
  // a fresh tokenizer each time: its BPE cache would make repeated prompts free
  Deno.bench({
    name: "build the real-vocabulary tokenizer (48,894 merges)",
    group: "tokenizer",
    baseline: true,
    n: 5,
    warmup: 1,
    fn: () => void ClipTokenizer.fromMerges(merges),
  });
  Deno.bench({
    name: "build it + tokenize 1000 ImageNet prompts (cold BPE cache)",
    group: "tokenizer",
    n: 5,
    warmup: 1,
    fn: () => void ClipTokenizer.fromMerges(merges).tokenize(names.map((n) => `Image of a ${n}.`)),
  });
}

/** A random text tower with ViT-B/32's shapes under OpenAI names (weights in memory). */
function vitB32Text(): ClipTextEncoder {
  const rng = new Rng(1);
  const tensors = new Map<string, SafeTensor>();
  const add = (name: string, shape: number[], std: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = std * (rng.next() - 0.5);
    tensors.set(name, { dtype: "F32", shape, data });
  };
  const w = 512;
  add("token_embedding.weight", [49408, w], 0.02);
  add("positional_embedding", [77, w], 0.01);
  for (let i = 0; i < 12; i++) {
    const p = `transformer.resblocks.${i}.`;
    add(p + "attn.in_proj_weight", [3 * w, w], 0.05);
    add(p + "attn.in_proj_bias", [3 * w], 0.01);
    add(p + "attn.out_proj.weight", [w, w], 0.05);
    add(p + "attn.out_proj.bias", [w], 0.01);
    for (const ln of ["ln_1", "ln_2"]) {
      add(p + ln + ".weight", [w], 0.1);
      add(p + ln + ".bias", [w], 0.1);
    }
    add(p + "mlp.c_fc.weight", [4 * w, w], 0.05);
    add(p + "mlp.c_fc.bias", [4 * w], 0.01);
    add(p + "mlp.c_proj.weight", [w, 4 * w], 0.03);
    add(p + "mlp.c_proj.bias", [w], 0.01);
  }
  add("ln_final.weight", [w], 0.1);
  add("ln_final.bias", [w], 0.1);
  add("text_projection", [w, 512], 0.05);
  return new ClipTextEncoder({ tensors, metadata: {} }, "vit-b32-random");
}

await initBackend("wasm");
const encoder = vitB32Text();
const batch = 32;
const ids = new Int32Array(batch * 77);
for (let b = 0; b < batch; b++) {
  ids[b * 77] = 49406;
  for (let j = 1; j < 12; j++) ids[b * 77 + j] = 1000 + b * 12 + j;
  ids[b * 77 + 12] = 49407;
}
for (const trim of [true, false]) {
  Deno.bench({
    name: `CLIP ViT-B/32 text tower, ${batch} prompts of 13 tokens, wasm, ${
      trim ? "trimmed to the EOT" : "full 77 context"
    }`,
    group: "text tower",
    baseline: !trim,
    n: 3,
    warmup: 1,
    fn: async () => {
      const out = encoder.encodeTokens(ids, batch, { trim });
      await out.data();
      tf.dispose(out);
    },
  });
}
