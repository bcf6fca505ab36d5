/**
 * TeD-Loc head: frozen tokens → decoder D → patch embeddings in anchor space → patch
 * classifier g → map M → localization-guided pooling → class scores against frozen anchors.
 *
 * ```
 * z_E [B,N,d_in] ─► D ─► z_p [B,N,d] ─► g ─► M [B,N] in [0,1]
 * c   = Σ_p M_p z_p / (Σ_p M_p + ε)
 * s_k = <ĉ, t_k> / τ          (ĉ = c/‖c‖ when `cosine`, else c)
 * ```
 *
 * Choices where the paper is silent (all in the config below):
 * - Scores are cosine similarities over a temperature by default (`cosine: true`): anchors
 *   are unit vectors (CLIP style), so the logit range is fixed at ±1/τ and does not drift
 *   with the embedding norm. Patch logits for P_CL use the same rule on each z_p.
 * - Weights are stored `[in, out]` (the layout `x · W` uses, tfjs/Keras), named like
 *   PyTorch modules (`decoder.fc1.weight`, `g.weight`, …), so checkpoints are plain
 *   safetensors. Initialisation: uniform ±1/√fan_in (PyTorch's Linear default), biases 0,
 *   LayerNorm 1/0, drawn from a seeded {@link Rng} so a seed fixes the model everywhere.
 * - The transformer decoder is one pre-norm ViT block (timm names `norm1`, `attn.qkv`,
 *   `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`) after a linear `proj` d_in → d; no
 *   positional embedding (tokens from a CNN or a ViT already carry their position).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dense, matMul } from "../backend/matmul.ts";
import { Rng } from "../util/rng.ts";
import type { AnchorSpace } from "./anchor_space.ts";

// ---------------------------------------------------------------------------- config

/** Activation of the hidden layers. */
export type Activation = "gelu" | "relu";

/** The trainable decoder D. */
export interface DecoderConfig {
  /** `linear` (one layer), `mlp` (2 layers), `transformer` (proj + one ViT block). */
  kind: "linear" | "mlp" | "transformer";
  /** Hidden width of the MLP (the block's MLP uses `hidden` too). */
  hidden: number;
  activation: Activation;
  /** `mlp`: LayerNorm (no affine: fc1 absorbs it exactly) on the input tokens. */
  layerNorm: boolean;
  /** `mlp`: add a linear skip path x·W_skip (identity when d_in = d). */
  residual: boolean;
  /** `transformer`: attention heads (d must be divisible by it). */
  heads: number;
}

/** The patch classifier g. */
export interface PatchClassifierConfig {
  /** `linear`: M = σ(z·w + b); `mlp`: one hidden layer. */
  kind: "linear" | "mlp";
  hidden: number;
  activation: Activation;
}

/** Everything that fixes the head's architecture and its arithmetic. */
export interface TedLocConfig {
  /** Token dimension d_in of the frozen encoder. */
  inDim: number;
  /** Anchor-space dimension d (= the anchors' dimension after projection/orthogonalization). */
  embedDim: number;
  /** Number of classes C (= anchors). */
  numClasses: number;
  decoder: DecoderConfig;
  classifier: PatchClassifierConfig;
  /** Temperature τ of the class and patch logits. */
  temperature: number;
  /** Normalise c and z_p before the dot product with the anchors. */
  cosine: boolean;
  /** ε of the pooling denominator. */
  poolEps: number;
  /** Seed of the weight initialisation. */
  initSeed: number;
}

/** Architecture settings a caller may override; dims come from the data and anchors. */
export type TedLocOptions =
  & Partial<Omit<TedLocConfig, "inDim" | "embedDim" | "numClasses" | "decoder" | "classifier">>
  & {
    decoder?: Partial<DecoderConfig>;
    classifier?: Partial<PatchClassifierConfig>;
  };

/** Default architecture (2-layer GELU MLP with input LayerNorm, linear g, cosine, τ = 0.07). */
export const DEFAULT_TEDLOC = {
  decoder: {
    kind: "mlp",
    hidden: 256,
    activation: "gelu",
    layerNorm: true,
    residual: false,
    heads: 4,
  } as DecoderConfig,
  classifier: { kind: "linear", hidden: 64, activation: "relu" } as PatchClassifierConfig,
  temperature: 0.07,
  cosine: true,
  poolEps: 1e-6,
  initSeed: 0,
};

/**
 * A complete config from the data's dimensions and optional overrides.
 *
 * @example
 * ```ts
 * const cfg = resolveTedLocConfig(128, 312, 50, { decoder: { hidden: 512 } });
 * ```
 */
export function resolveTedLocConfig(
  inDim: number,
  embedDim: number,
  numClasses: number,
  options: TedLocOptions = {},
): TedLocConfig {
  const { decoder, classifier, ...rest } = options;
  const cfg: TedLocConfig = {
    inDim,
    embedDim,
    numClasses,
    decoder: { ...DEFAULT_TEDLOC.decoder, ...(decoder ?? {}) },
    classifier: { ...DEFAULT_TEDLOC.classifier, ...(classifier ?? {}) },
    temperature: rest.temperature ?? DEFAULT_TEDLOC.temperature,
    cosine: rest.cosine ?? DEFAULT_TEDLOC.cosine,
    poolEps: rest.poolEps ?? DEFAULT_TEDLOC.poolEps,
    initSeed: rest.initSeed ?? DEFAULT_TEDLOC.initSeed,
  };
  validateTedLocConfig(cfg);
  return cfg;
}

/** Throw a clear error for an impossible config. */
export function validateTedLocConfig(c: TedLocConfig): void {
  const pos = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`TeD-Loc config: ${name} must be a positive integer, got ${v}`);
    }
  };
  pos(c.inDim, "inDim");
  pos(c.embedDim, "embedDim");
  pos(c.numClasses, "numClasses");
  pos(c.decoder.hidden, "decoder.hidden");
  pos(c.classifier.hidden, "classifier.hidden");
  if (!["linear", "mlp", "transformer"].includes(c.decoder.kind)) {
    throw new Error(
      `TeD-Loc config: decoder.kind '${c.decoder.kind}' is not linear, mlp or transformer`,
    );
  }
  if (!["linear", "mlp"].includes(c.classifier.kind)) {
    throw new Error(`TeD-Loc config: classifier.kind '${c.classifier.kind}' is not linear or mlp`);
  }
  for (const a of [c.decoder.activation, c.classifier.activation]) {
    if (a !== "gelu" && a !== "relu") {
      throw new Error(`TeD-Loc config: activation '${a}' is not gelu or relu`);
    }
  }
  if (c.decoder.kind === "transformer") {
    pos(c.decoder.heads, "decoder.heads");
    if (c.embedDim % c.decoder.heads !== 0) {
      throw new Error(
        `TeD-Loc config: embedDim ${c.embedDim} is not divisible by decoder.heads ${c.decoder.heads}`,
      );
    }
  }
  if (!(c.temperature > 0)) {
    throw new Error(`TeD-Loc config: temperature must be > 0, got ${c.temperature}`);
  }
}

// ---------------------------------------------------------------------------- params

/** Shape of every parameter, by name, in a stable order. */
export function tedLocParamShapes(c: TedLocConfig): [string, number[]][] {
  const { inDim: din, embedDim: d } = c;
  const h = c.decoder.hidden;
  const s: [string, number[]][] = [];
  const lin = (name: string, i: number, o: number, bias = true) => {
    s.push([`${name}.weight`, [i, o]]);
    if (bias) s.push([`${name}.bias`, [o]]);
  };
  const norm = (name: string, n: number) => {
    s.push([`${name}.weight`, [n]]);
    s.push([`${name}.bias`, [n]]);
  };
  switch (c.decoder.kind) {
    case "linear":
      lin("decoder.fc", din, d);
      break;
    case "mlp":
      lin("decoder.fc1", din, h);
      lin("decoder.fc2", h, d);
      if (c.decoder.residual && din !== d) lin("decoder.skip", din, d, false);
      break;
    case "transformer":
      lin("decoder.proj", din, d);
      norm("decoder.block.norm1", d);
      lin("decoder.block.attn.qkv", d, 3 * d);
      lin("decoder.block.attn.proj", d, d);
      norm("decoder.block.norm2", d);
      lin("decoder.block.mlp.fc1", d, h);
      lin("decoder.block.mlp.fc2", h, d);
      break;
  }
  if (c.classifier.kind === "linear") lin("g", d, 1);
  else {
    lin("g.fc1", d, c.classifier.hidden);
    lin("g.fc2", c.classifier.hidden, 1);
  }
  return s;
}

function initialValue(name: string, shape: number[], rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const isNorm = /(^|\.)norm\d?\./.test(name);
  if (name.endsWith(".bias")) return out;
  if (isNorm) return out.fill(1);
  const bound = 1 / Math.sqrt(shape[0]);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
  return out;
}

// ---------------------------------------------------------------------------- ops

function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  // exact (erf) GELU, as in PyTorch's nn.GELU() default
  return a === "relu"
    ? tf.relu(x)
    : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * `x · w + b` for an input that is a constant (the frozen tokens): the gradient w.r.t. `x`
 * is never needed, so it is not computed (the backend's matMul gradient always computes
 * both sides, a full extra product of the token matrix per step).
 */
const denseConstInput = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const inDim = w.shape[0];
  const flat = tf.reshape(x, [-1, inDim]);
  save([flat]);
  const y = tf.add(tf.matMul(flat, w), b);
  return {
    value: tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const dyFlat = tf.reshape(dy, [-1, w.shape[1]]);
      return [tf.zerosLike(x), tf.matMul(tf.transpose(saved[0]), dyFlat), tf.sum(dyFlat, 0)];
    },
  };
});

function layerNormPlain(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
}

function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
}

function l2normalize(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12)));
}

/** What one forward pass returns (all inside the caller's tidy). */
export interface TedLocOutput {
  /** Patch embeddings z_p `[B, N, d]`. */
  z: tf.Tensor3D;
  /** Pre-sigmoid outputs of g `[B, N]`. */
  mapLogits: tf.Tensor2D;
  /** M = σ(mapLogits) `[B, N]`. */
  map: tf.Tensor2D;
  /** Pooled embedding c `[B, d]`. */
  pooled: tf.Tensor2D;
  /** Class logits s `[B, C]` (already divided by τ). */
  scores: tf.Tensor2D;
}

// ---------------------------------------------------------------------------- model

/**
 * The TeD-Loc head with its frozen anchors.
 *
 * @example
 * ```ts
 * const space = buildAnchorSpace(rawAnchors, { ortho: "qr", projSeed: 0 });
 * const model = new TedLocModel(resolveTedLocConfig(features.dim, space.dim, space.count), space);
 * const out = tf.tidy(() => { const o = model.forward(tokens); return o.map; });
 * ```
 */
export class TedLocModel {
  readonly config: TedLocConfig;
  readonly anchors: AnchorSpace;
  /** Trainable parameters by name (insertion order = {@link tedLocParamShapes}). */
  readonly params: Map<string, tf.Variable>;
  /** Frozen anchors transposed, `[d, C]` (so logits are a plain `x · Tᵀ`). */
  private readonly anchorsT: tf.Tensor2D;

  constructor(config: TedLocConfig, anchors: AnchorSpace) {
    validateTedLocConfig(config);
    if (anchors.dim !== config.embedDim || anchors.count !== config.numClasses) {
      throw new Error(
        `TeD-Loc: anchors are ${anchors.count}×${anchors.dim}, config expects ${config.numClasses}×${config.embedDim}`,
      );
    }
    this.config = config;
    this.anchors = anchors;
    const rng = new Rng(config.initSeed);
    this.params = new Map();
    for (const [name, shape] of tedLocParamShapes(config)) {
      this.params.set(
        name,
        tf.variable(
          tf.tensor(initialValue(name, shape, rng), shape),
          true,
          `tedloc/${name}/${crypto.randomUUID()}`,
        ),
      );
    }
    const C = anchors.count, d = anchors.dim;
    const t = new Float32Array(d * C);
    for (let k = 0; k < C; k++) {
      for (let j = 0; j < d; j++) t[j * C + k] = anchors.vectors[k * d + j];
    }
    this.anchorsT = tf.keep(tf.tensor2d(t, [d, C]));
  }

  private p(name: string): tf.Tensor {
    const v = this.params.get(name);
    if (!v) throw new Error(`TeD-Loc: no parameter '${name}'`);
    return v;
  }

  private lin(x: tf.Tensor, name: string, bias = true): tf.Tensor {
    return dense(x, this.p(`${name}.weight`), bias ? this.p(`${name}.bias`) : undefined);
  }

  /** A layer applied to the frozen tokens (or a parameter-free function of them). */
  private linConst(x: tf.Tensor, name: string): tf.Tensor {
    return denseConstInput(x, this.p(`${name}.weight`), this.p(`${name}.bias`)) as tf.Tensor;
  }

  /** Decoder D: tokens `[B, N, d_in]` → z_p `[B, N, d]`. */
  decode(tokens: tf.Tensor3D): tf.Tensor3D {
    const c = this.config.decoder;
    const x = tokens;
    if (c.kind === "linear") return this.linConst(x, "decoder.fc") as tf.Tensor3D;
    if (c.kind === "mlp") {
      const xin = c.layerNorm ? layerNormPlain(x) : x;
      let y = this.lin(activate(this.linConst(xin, "decoder.fc1"), c.activation), "decoder.fc2");
      if (c.residual) {
        y = tf.add(
          y,
          this.config.inDim === this.config.embedDim ? x : this.lin(x, "decoder.skip", false),
        );
      }
      return y as tf.Tensor3D;
    }
    // transformer: proj, then one pre-norm block
    const [B, N] = tokens.shape;
    const d = this.config.embedDim, H = c.heads, hd = d / H;
    const x0 = this.linConst(x, "decoder.proj");
    const n1 = layerNorm(
      x0,
      this.p("decoder.block.norm1.weight"),
      this.p("decoder.block.norm1.bias"),
    );
    const qkv = this.lin(n1, "decoder.block.attn.qkv").reshape([B, N, 3, H, hd]).transpose([
      2,
      0,
      3,
      1,
      4,
    ]); // [3,B,H,N,hd]
    const [q, k, v] = tf.unstack(qkv, 0).map((t) => t.reshape([B * H, N, hd]));
    const att = tf.softmax(tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(hd)), -1);
    const o = matMul(att, v).reshape([B, H, N, hd]).transpose([0, 2, 1, 3]).reshape([B, N, d]);
    const x1 = tf.add(x0, this.lin(o, "decoder.block.attn.proj"));
    const n2 = layerNorm(
      x1,
      this.p("decoder.block.norm2.weight"),
      this.p("decoder.block.norm2.bias"),
    );
    const m = this.lin(
      activate(this.lin(n2, "decoder.block.mlp.fc1"), c.activation),
      "decoder.block.mlp.fc2",
    );
    return tf.add(x1, m) as tf.Tensor3D;
  }

  /** Patch classifier g: z_p `[B, N, d]` → logits `[B, N]`. */
  classifyPatches(z: tf.Tensor3D): tf.Tensor2D {
    const c = this.config.classifier;
    const out = c.kind === "linear"
      ? this.lin(z, "g")
      : this.lin(activate(this.lin(z, "g.fc1"), c.activation), "g.fc2");
    return tf.squeeze(out, [2]) as tf.Tensor2D;
  }

  /** Similarity logits `<x̂, t_k>/τ` of embeddings `[..., d]` → `[..., C]`. */
  anchorLogits(x: tf.Tensor): tf.Tensor {
    const xn = this.config.cosine ? l2normalize(x) : x;
    return tf.mul(matMul(xn, this.anchorsT), 1 / this.config.temperature);
  }

  /** Localization-guided pooling c = Σ M z / (Σ M + ε). */
  pool(z: tf.Tensor3D, map: tf.Tensor2D): tf.Tensor2D {
    const num = tf.sum(tf.mul(z, tf.expandDims(map, 2)), 1);
    const den = tf.add(tf.sum(map, 1, true), this.config.poolEps);
    return tf.div(num, den) as tf.Tensor2D;
  }

  /** Full forward pass. Call inside `tf.tidy` (or dispose the outputs). */
  forward(tokens: tf.Tensor3D): TedLocOutput {
    if (tokens.rank !== 3 || tokens.shape[2] !== this.config.inDim) {
      throw new Error(
        `TeD-Loc: tokens must be [B, N, ${this.config.inDim}], got [${tokens.shape}]`,
      );
    }
    const z = this.decode(tokens);
    const mapLogits = this.classifyPatches(z);
    const map = tf.sigmoid(mapLogits) as tf.Tensor2D;
    const pooled = this.pool(z, map);
    const scores = this.anchorLogits(pooled) as tf.Tensor2D;
    return { z, mapLogits, map, pooled, scores };
  }

  /** Trainable variables, in parameter order. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Number of trainable parameters (D and g). */
  parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Copy of all weights as plain arrays (for checkpoints). */
  getWeights(): Record<string, { shape: number[]; data: Float32Array }> {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, v] of this.params) {
      out[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
    }
    return out;
  }

  /** Load weights by name; every parameter must be present with its exact shape. */
  setWeights(
    weights: Record<string, { shape: number[]; data: Float32Array }>,
    source = "weights",
  ): void {
    for (const [name, v] of this.params) {
      const w = weights[name];
      if (!w) throw new Error(`${source}: missing parameter '${name}'`);
      if (w.shape.length !== v.shape.length || w.shape.some((s, i) => s !== v.shape[i])) {
        throw new Error(
          `${source}: parameter '${name}' has shape [${w.shape}], model expects [${v.shape}]`,
        );
      }
      v.assign(tf.tensor(w.data, v.shape));
    }
  }

  /** Free weights and anchors. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.anchorsT.dispose();
  }
}

// ---------------------------------------------------------------------------- cost

/**
 * Analytic FLOPs of one image through the head: each multiply–accumulate of a matrix
 * product counts 2; element-wise work (norms, activations, sigmoid, softmax) is not counted.
 * Terms: decoder, g, pooling (2·N·d), class scores (2·C·d).
 */
export function tedLocFlops(c: TedLocConfig, numPatches: number): number {
  const N = numPatches, din = c.inDim, d = c.embedDim, h = c.decoder.hidden, C = c.numClasses;
  let f = 0;
  switch (c.decoder.kind) {
    case "linear":
      f += 2 * N * din * d;
      break;
    case "mlp":
      f += 2 * N * din * h + 2 * N * h * d;
      if (c.decoder.residual && din !== d) f += 2 * N * din * d;
      break;
    case "transformer":
      f += 2 * N * din * d; // proj
      f += 2 * N * d * 3 * d; // qkv
      f += 2 * N * N * d * 2; // q·kᵀ and att·v over all heads
      f += 2 * N * d * d; // attn.proj
      f += 2 * N * d * h * 2; // mlp
      break;
  }
  f += c.classifier.kind === "linear"
    ? 2 * N * d
    : 2 * N * d * c.classifier.hidden + 2 * N * c.classifier.hidden;
  f += 2 * N * d; // pooling
  f += 2 * C * d; // scores
  return f;
}
