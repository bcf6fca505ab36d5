/**
 * CLIP's text transformer in tfjs, loaded from `.safetensors` under either naming scheme:
 *
 * - OpenAI / open_clip: `token_embedding.weight`, `positional_embedding`,
 *   `transformer.resblocks.N.{ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj,
 *   ln_2, mlp.c_fc, mlp.c_proj}`, `ln_final`, `text_projection` (`[width, embed]`, used as
 *   `x · P`). A whole CLIP checkpoint works too: `visual.*`, `logit_scale` and other
 *   non-text entries are ignored.
 * - Hugging Face CLIPTextModel(WithProjection) / CLIPModel: `text_model.embeddings.*`,
 *   `text_model.encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2,
 *   layer_norm2}`, `text_model.final_layer_norm`, `text_projection.weight` (`[embed, width]`,
 *   a Linear without bias). Without `text_projection` (plain CLIPTextModel) the output is
 *   the pooled, final-normalised EOT token (`embedDim = width`).
 *
 * Config comes from the shapes: width and vocabulary from the token embedding, context from
 * the positional embedding, layers from the block indices, MLP width from `c_fc`/`fc1`.
 * Heads: the `heads` option, else `__metadata__` `heads`/`num_attention_heads`/`text_heads`,
 * else width / 64 (CLIP's rule). Activation: the option, else metadata `hidden_act`
 * (`quick_gelu`/`gelu`) or `quick_gelu` ("true"/"false"), else QuickGELU (OpenAI's models).
 *
 * Forward: token + positional embedding, pre-LN residual blocks (causal self-attention,
 * MLP), `ln_final`, the token at the argmax of the ids (`<|endoftext|>` has the largest id),
 * times the projection. Every product goes through `matMul`/`dense` of lib/backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dense, matMul } from "../backend/matmul.ts";
import { InputError } from "../io/errors.ts";
import {
  readSafetensors,
  type SafeTensor,
  type SafeTensorsFile,
  toFloat32,
} from "../io/safetensors.ts";

/** MLP non-linearity: OpenAI's `x·σ(1.702x)` or the exact (erf) GELU. */
export type ClipActivation = "quick_gelu" | "gelu";

/** The text transformer's shape, read from a checkpoint. */
export interface ClipTextConfig {
  /** Which names the file used. */
  naming: "openai" | "huggingface";
  vocabSize: number;
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  /** Output dimension (projection width, or `width` without a projection). */
  embedDim: number;
  /** Whether a text projection is applied. */
  hasProjection: boolean;
  activation: ClipActivation;
}

/** Options of {@link loadClipTextEncoder}. */
export interface ClipTextLoadOptions {
  /** Attention heads (overrides metadata and the width/64 rule). */
  heads?: number;
  /** MLP activation (overrides metadata). */
  activation?: ClipActivation;
}

/** Options of {@link ClipTextEncoder.encodeTokens}. */
export interface ClipEncodeOptions {
  /**
   * Run only the first `max(EOT position) + 1` positions (default true). Exact: with the
   * causal mask no position sees a later one, so tokens after the EOT cannot change it.
   */
  trim?: boolean;
}

interface LayerWeights {
  ln1g: tf.Tensor1D;
  ln1b: tf.Tensor1D;
  wqkv: tf.Tensor2D; // [width, 3·width]
  bqkv: tf.Tensor1D;
  wo: tf.Tensor2D; // [width, width]
  bo: tf.Tensor1D;
  ln2g: tf.Tensor1D;
  ln2b: tf.Tensor1D;
  wfc: tf.Tensor2D; // [width, mlp]
  bfc: tf.Tensor1D;
  wproj: tf.Tensor2D; // [mlp, width]
  bproj: tf.Tensor1D;
}

const IGNORED = [
  /^visual\./,
  /^vision_model\./,
  /^visual_projection\./,
  /^logit_scale$/,
  /^logit_bias$/,
  /^input_resolution$/,
  /^context_length$/,
  /^vocab_size$/,
  /^attn_mask$/,
  /(^|\.)embeddings\.position_ids$/,
];

function metaNumber(md: Record<string, string>, keys: string[]): number | undefined {
  for (const k of keys) {
    if (md[k] !== undefined && md[k] !== "") {
      const n = Number(md[k]);
      if (Number.isInteger(n) && n > 0) return n;
    }
  }
  return undefined;
}

function metaActivation(md: Record<string, string>): ClipActivation | undefined {
  const act = md.hidden_act ?? md.activation;
  if (act === "quick_gelu" || act === "gelu") return act;
  if (md.quick_gelu === "true") return "quick_gelu";
  if (md.quick_gelu === "false") return "gelu";
  return undefined;
}

/** Expected tensor (name → shape) of one naming scheme; the loader compares the file to it. */
interface Layout {
  naming: ClipTextConfig["naming"];
  expected: Map<string, number[]>;
  /** name in the file of each role. */
  tok: string;
  pos: string;
  lnf: [string, string];
  proj?: string;
  layer(i: number): {
    ln1: [string, string];
    qkv: { w: string[]; b: string[] };
    out: [string, string];
    ln2: [string, string];
    fc: [string, string];
    proj: [string, string];
  };
}

function listLayers(names: string[], re: RegExp): number {
  let n = 0;
  for (const k of names) {
    const m = re.exec(k);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

function layout(
  st: SafeTensorsFile,
  file: string,
): { lay: Layout; base: Omit<ClipTextConfig, "heads" | "activation"> } {
  const names = [...st.tensors.keys()];
  const shape = (n: string) => st.tensors.get(n)?.shape;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const hfKey = names.find((k) => k.endsWith("embeddings.token_embedding.weight"));
  const oaKey = names.find((k) =>
    k.endsWith("token_embedding.weight") && !k.endsWith("embeddings.token_embedding.weight")
  );
  const need = (n: string) => {
    const s = shape(n);
    if (!s) {
      throw new InputError(`not a CLIP text model: '${n}' is missing`, { file });
    }
    return s;
  };
  if (hfKey) {
    const p = hfKey.slice(0, -"embeddings.token_embedding.weight".length); // "text_model."
    const root = p.endsWith("text_model.") ? p.slice(0, -"text_model.".length) : p;
    const [vocab, width] = need(hfKey);
    const ctx = need(`${p}embeddings.position_embedding.weight`)[0];
    const layers = listLayers(names, new RegExp(`^${esc(p)}encoder\\.layers\\.(\\d+)\\.`));
    const mlp = shape(`${p}encoder.layers.0.mlp.fc1.weight`)?.[0] ?? 4 * width;
    const projName = `${root}text_projection.weight`;
    const projShape = shape(projName);
    const embed = projShape ? projShape[0] : width;
    const expected = new Map<string, number[]>([
      [hfKey, [vocab, width]],
      [`${p}embeddings.position_embedding.weight`, [ctx, width]],
      [`${p}final_layer_norm.weight`, [width]],
      [`${p}final_layer_norm.bias`, [width]],
    ]);
    if (projShape) expected.set(projName, [embed, width]);
    const L = (i: number) => `${p}encoder.layers.${i}.`;
    for (let i = 0; i < layers; i++) {
      for (const n of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
        expected.set(`${L(i)}self_attn.${n}.weight`, [width, width]);
        expected.set(`${L(i)}self_attn.${n}.bias`, [width]);
      }
      for (const n of ["layer_norm1", "layer_norm2"]) {
        expected.set(`${L(i)}${n}.weight`, [width]);
        expected.set(`${L(i)}${n}.bias`, [width]);
      }
      expected.set(`${L(i)}mlp.fc1.weight`, [mlp, width]);
      expected.set(`${L(i)}mlp.fc1.bias`, [mlp]);
      expected.set(`${L(i)}mlp.fc2.weight`, [width, mlp]);
      expected.set(`${L(i)}mlp.fc2.bias`, [width]);
    }
    const pair = (s: string): [string, string] => [`${s}.weight`, `${s}.bias`];
    return {
      lay: {
        naming: "huggingface",
        expected,
        tok: hfKey,
        pos: `${p}embeddings.position_embedding.weight`,
        lnf: pair(`${p}final_layer_norm`),
        proj: projShape ? projName : undefined,
        layer: (i) => ({
          ln1: pair(`${L(i)}layer_norm1`),
          qkv: {
            w: ["q", "k", "v"].map((x) => `${L(i)}self_attn.${x}_proj.weight`),
            b: ["q", "k", "v"].map((x) => `${L(i)}self_attn.${x}_proj.bias`),
          },
          out: pair(`${L(i)}self_attn.out_proj`),
          ln2: pair(`${L(i)}layer_norm2`),
          fc: pair(`${L(i)}mlp.fc1`),
          proj: pair(`${L(i)}mlp.fc2`),
        }),
      },
      base: {
        naming: "huggingface",
        vocabSize: vocab,
        contextLength: ctx,
        width,
        layers,
        mlpWidth: mlp,
        embedDim: embed,
        hasProjection: !!projShape,
      },
    };
  }
  if (oaKey) {
    const p = oaKey.slice(0, -"token_embedding.weight".length);
    const [vocab, width] = need(oaKey);
    const ctx = need(`${p}positional_embedding`)[0];
    const layers = listLayers(names, new RegExp(`^${esc(p)}transformer\\.resblocks\\.(\\d+)\\.`));
    const mlp = shape(`${p}transformer.resblocks.0.mlp.c_fc.weight`)?.[0] ?? 4 * width;
    // a missing projection is reported with the other missing names by checkNames
    const embed = shape(`${p}text_projection`)?.[1] ?? width;
    const expected = new Map<string, number[]>([
      [oaKey, [vocab, width]],
      [`${p}positional_embedding`, [ctx, width]],
      [`${p}ln_final.weight`, [width]],
      [`${p}ln_final.bias`, [width]],
      [`${p}text_projection`, [width, embed]],
    ]);
    const R = (i: number) => `${p}transformer.resblocks.${i}.`;
    const pair = (s: string): [string, string] => [`${s}.weight`, `${s}.bias`];
    for (let i = 0; i < layers; i++) {
      expected.set(`${R(i)}attn.in_proj_weight`, [3 * width, width]);
      expected.set(`${R(i)}attn.in_proj_bias`, [3 * width]);
      expected.set(`${R(i)}attn.out_proj.weight`, [width, width]);
      expected.set(`${R(i)}attn.out_proj.bias`, [width]);
      for (const n of ["ln_1", "ln_2"]) {
        expected.set(`${R(i)}${n}.weight`, [width]);
        expected.set(`${R(i)}${n}.bias`, [width]);
      }
      expected.set(`${R(i)}mlp.c_fc.weight`, [mlp, width]);
      expected.set(`${R(i)}mlp.c_fc.bias`, [mlp]);
      expected.set(`${R(i)}mlp.c_proj.weight`, [width, mlp]);
      expected.set(`${R(i)}mlp.c_proj.bias`, [width]);
    }
    return {
      lay: {
        naming: "openai",
        expected,
        tok: oaKey,
        pos: `${p}positional_embedding`,
        lnf: pair(`${p}ln_final`),
        proj: `${p}text_projection`,
        layer: (i) => ({
          ln1: pair(`${R(i)}ln_1`),
          qkv: { w: [`${R(i)}attn.in_proj_weight`], b: [`${R(i)}attn.in_proj_bias`] },
          out: pair(`${R(i)}attn.out_proj`),
          ln2: pair(`${R(i)}ln_2`),
          fc: pair(`${R(i)}mlp.c_fc`),
          proj: pair(`${R(i)}mlp.c_proj`),
        }),
      },
      base: {
        naming: "openai",
        vocabSize: vocab,
        contextLength: ctx,
        width,
        layers,
        mlpWidth: mlp,
        embedDim: embed,
        hasProjection: true,
      },
    };
  }
  throw new InputError(
    "not a CLIP text model: no 'token_embedding.weight' (OpenAI/open_clip) or " +
      "'text_model.embeddings.token_embedding.weight' (Hugging Face) tensor",
    { file },
  );
}

function checkNames(st: SafeTensorsFile, lay: Layout, file: string, layers: number): void {
  const problems: string[] = [];
  if (layers === 0) problems.push("no transformer blocks found");
  const missing: string[] = [];
  const badShape: string[] = [];
  for (const [name, want] of lay.expected) {
    const t = st.tensors.get(name);
    if (!t) missing.push(name);
    else if (t.shape.join(",") !== want.join(",")) {
      badShape.push(`${name} [${t.shape}] (expected [${want}])`);
    }
  }
  const unexpected = [...st.tensors.keys()].filter((n) =>
    !lay.expected.has(n) && !IGNORED.some((re) => re.test(n))
  );
  const list = (what: string, xs: string[]) => {
    if (xs.length === 0) return;
    const shown = xs.slice(0, 12).join(", ");
    problems.push(`${what} (${xs.length}): ${shown}${xs.length > 12 ? ", …" : ""}`);
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("wrong shape", badShape);
  if (problems.length > 0) {
    throw new InputError(
      `CLIP text weights (${lay.naming} names) do not match: ${problems.join("; ")}`,
      { file },
    );
  }
}

/**
 * A CLIP text encoder: token ids `[B, context]` → embeddings `[B, embedDim]` (not
 * normalised). Build it with {@link loadClipTextEncoder}; call {@link dispose} when done.
 *
 * @example
 * ```ts
 * const enc = await loadClipTextEncoder("clip_vit_b32.safetensors");
 * const tok = await loadClipTokenizer("bpe_simple_vocab_16e6.txt.gz");
 * const emb = enc.encodeTokens(tok.tokenize(["Image of a cat."]), 1); // [1, 512]
 * ```
 */
export class ClipTextEncoder {
  /** Shapes and choices read from the checkpoint. */
  readonly config: ClipTextConfig;
  private readonly tokenEmbedding: tf.Tensor2D;
  private readonly positional: tf.Tensor2D;
  private readonly blocks: LayerWeights[];
  private readonly lnfg: tf.Tensor1D;
  private readonly lnfb: tf.Tensor1D;
  private readonly projection: tf.Tensor2D | null;

  /** Build from a parsed safetensors file (see the module doc for names and config rules). */
  constructor(st: SafeTensorsFile, file = "<safetensors>", opts: ClipTextLoadOptions = {}) {
    const { lay, base } = layout(st, file);
    checkNames(st, lay, file, base.layers);
    const heads = opts.heads ??
      metaNumber(st.metadata, ["heads", "num_attention_heads", "text_heads"]) ??
      Math.max(1, Math.round(base.width / 64));
    if (base.width % heads !== 0) {
      throw new InputError(`width ${base.width} is not divisible by ${heads} heads`, { file });
    }
    const activation = opts.activation ?? metaActivation(st.metadata) ?? "quick_gelu";
    this.config = { ...base, heads, activation };
    const get = (n: string): SafeTensor => st.tensors.get(n)!;
    const vec = (n: string) => tf.tensor1d(toFloat32(get(n)));
    const mat = (n: string) => {
      const t = get(n);
      return tf.tensor2d(toFloat32(t), t.shape as [number, number]);
    };
    // torch Linear stores [out, in]; dense wants [in, out]
    const linearT = (n: string) => tf.tidy(() => mat(n).transpose() as tf.Tensor2D);
    this.tokenEmbedding = mat(lay.tok);
    this.positional = mat(lay.pos);
    this.lnfg = vec(lay.lnf[0]);
    this.lnfb = vec(lay.lnf[1]);
    this.projection = lay.proj
      ? (lay.naming === "openai" ? mat(lay.proj) : linearT(lay.proj))
      : null;
    this.blocks = [];
    for (let i = 0; i < base.layers; i++) {
      const n = lay.layer(i);
      const wqkv = tf.tidy(() =>
        n.qkv.w.length === 1
          ? linearT(n.qkv.w[0])
          : tf.concat(n.qkv.w.map((w) => linearT(w)), 1) as tf.Tensor2D
      );
      const bqkv = tf.tidy(() =>
        n.qkv.b.length === 1 ? vec(n.qkv.b[0]) : tf.concat(n.qkv.b.map((b) => vec(b)))
      );
      this.blocks.push({
        ln1g: vec(n.ln1[0]),
        ln1b: vec(n.ln1[1]),
        wqkv,
        bqkv,
        wo: linearT(n.out[0]),
        bo: vec(n.out[1]),
        ln2g: vec(n.ln2[0]),
        ln2b: vec(n.ln2[1]),
        wfc: linearT(n.fc[0]),
        bfc: vec(n.fc[1]),
        wproj: linearT(n.proj[0]),
        bproj: vec(n.proj[1]),
      });
    }
  }

  /** Number of stored parameters. */
  parameterCount(): number {
    const c = this.config;
    const perLayer = 4 * c.width * c.width + 4 * c.width + 4 * c.width +
      2 * c.width * c.mlpWidth + c.mlpWidth + c.width;
    return (c.vocabSize + c.contextLength) * c.width + c.layers * perLayer + 2 * c.width +
      (c.hasProjection ? c.width * c.embedDim : 0);
  }

  /**
   * Embeddings of `batch` rows of token ids (row-major `batch × contextLength`, zero-padded
   * as {@link ClipTokenizer.tokenize} writes them): a `[batch, embedDim]` tensor.
   */
  encodeTokens(tokens: Int32Array, batch: number, opts: ClipEncodeOptions = {}): tf.Tensor2D {
    const c = this.config;
    const ctx = c.contextLength;
    if (tokens.length !== batch * ctx) {
      throw new Error(
        `encodeTokens: ${tokens.length} ids for ${batch} rows of context ${ctx}`,
      );
    }
    const eot = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      let best = -Infinity;
      for (let j = 0; j < ctx; j++) {
        const id = tokens[b * ctx + j];
        if (id < 0 || id >= c.vocabSize) {
          throw new Error(`encodeTokens: token id ${id} outside the vocabulary of ${c.vocabSize}`);
        }
        if (id > best) [best, eot[b]] = [id, j];
      }
    }
    const T = opts.trim === false ? ctx : Math.max(...eot) + 1;
    const ids = new Int32Array(batch * T);
    for (let b = 0; b < batch; b++) ids.set(tokens.subarray(b * ctx, b * ctx + T), b * T);
    return tf.tidy(() => {
      let x = tf.add(
        tf.gather(this.tokenEmbedding, tf.tensor2d(ids, [batch, T], "int32")),
        this.positional.slice([0, 0], [T, c.width]),
      ) as tf.Tensor3D;
      // causal mask: position i attends to j ≤ i
      const maskValues = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskValues[i * T + j] = -1e9;
      const mask = tf.tensor2d(maskValues, [T, T]);
      for (const w of this.blocks) x = this.block(x, w, mask, batch, T);
      const flat = x.reshape([batch * T, c.width]);
      const rows = tf.tensor1d(Int32Array.from(eot, (e, b) => b * T + e), "int32");
      const pooled = layerNorm(tf.gather(flat, rows), this.lnfg, this.lnfb);
      return (this.projection ? matMul(pooled, this.projection) : pooled) as tf.Tensor2D;
    });
  }

  private block(
    x: tf.Tensor3D,
    w: LayerWeights,
    mask: tf.Tensor2D,
    B: number,
    T: number,
  ): tf.Tensor3D {
    const { width: d, heads: H } = this.config;
    const hd = d / H;
    const h = layerNorm(x, w.ln1g, w.ln1b);
    const qkv = dense(h, w.wqkv, w.bqkv); // [B, T, 3d]
    const heads = (k: number) =>
      qkv.slice([0, 0, k * d], [B, T, d]).reshape([B, T, H, hd]).transpose([0, 2, 1, 3])
        .reshape([B * H, T, hd]);
    const q = tf.mul(heads(0), 1 / Math.sqrt(hd));
    const scores = tf.add(matMul(q, heads(1), false, true), mask);
    const att = matMul(tf.softmax(scores), heads(2)) // [B·H, T, hd]
      .reshape([B, H, T, hd]).transpose([0, 2, 1, 3]).reshape([B, T, d]);
    const x1 = tf.add(x, dense(att, w.wo, w.bo));
    const m = this.activate(dense(layerNorm(x1, w.ln2g, w.ln2b), w.wfc, w.bfc));
    return tf.add(x1, dense(m, w.wproj, w.bproj)) as tf.Tensor3D;
  }

  private activate(x: tf.Tensor): tf.Tensor {
    if (this.config.activation === "quick_gelu") return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }

  /** Free the weights. */
  dispose(): void {
    const all: tf.Tensor[] = [
      this.tokenEmbedding,
      this.positional,
      this.lnfg,
      this.lnfb,
      ...(this.projection ? [this.projection] : []),
    ];
    for (const b of this.blocks) all.push(...Object.values(b));
    tf.dispose(all);
  }
}

function layerNorm(x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  });
}

/**
 * Load a CLIP text encoder from a `.safetensors` file (F32, F16 or BF16; OpenAI/open_clip
 * or Hugging Face names). Unknown or missing names, or wrong shapes, raise an
 * `InputError` that lists them.
 *
 * @example
 * ```ts
 * const enc = await loadClipTextEncoder("open_clip_vit_b32.safetensors");
 * console.log(enc.config); // { naming: "openai", width: 512, layers: 12, heads: 8, … }
 * ```
 */
export async function loadClipTextEncoder(
  path: string,
  opts: ClipTextLoadOptions = {},
): Promise<ClipTextEncoder> {
  return new ClipTextEncoder(await readSafetensors(path), path, opts);
}
