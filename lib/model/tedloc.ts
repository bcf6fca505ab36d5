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
import { DEFAULT_RUN_CONFIG } from "../config/schema.ts";
import * as tf from "@tensorflow/tfjs";
import { matMul } from "../backend/matmul.ts";
import { Rng } from "../util/rng.ts";
import type { AnchorSpace } from "./anchor_space.ts";
import {
  type Activation,
  Block,
  initialParam,
  layerNormPlain,
  Linear,
  Mlp,
  type NamedWeights,
  type ParamLookup,
  type ParamSpec,
  readNamed,
  Unit,
} from "./units.ts";

export type { Activation, NamedWeights } from "./units.ts";

// ---------------------------------------------------------------------------- config

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
  ...DEFAULT_RUN_CONFIG.model,
  decoder: { ...DEFAULT_RUN_CONFIG.model.decoder } as DecoderConfig,
  classifier: { ...DEFAULT_RUN_CONFIG.model.classifier } as PatchClassifierConfig,
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

// ---------------------------------------------------------------------------- units

/** A unit from tokens `[B, N, ·]` to tokens `[B, N, ·]`. */
export abstract class TokenUnit extends Unit {
  abstract apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D;
}

/** D = one linear layer `decoder.fc` on the frozen tokens. */
class LinearDecoder extends TokenUnit {
  readonly fc: Linear;
  readonly params: readonly ParamSpec[];
  constructor(c: TedLocConfig) {
    super();
    this.fc = new Linear("decoder.fc", c.inDim, c.embedDim, { constInput: true });
    this.params = this.fc.params;
  }
  apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D {
    return this.fc.apply(x, p) as tf.Tensor3D;
  }
  flops(rows: number): number {
    return this.fc.flops(rows);
  }
}

/**
 * D = MLP `decoder.fc1`/`decoder.fc2` on (optionally plain-LayerNormed) tokens, plus an
 * optional skip path (identity when d_in = d, else `decoder.skip` without bias).
 */
class MlpDecoder extends TokenUnit {
  readonly mlp: Mlp;
  readonly skip: Linear | null;
  readonly params: readonly ParamSpec[];
  constructor(private readonly c: TedLocConfig) {
    super();
    const { inDim, embedDim, decoder } = c;
    this.mlp = new Mlp("decoder", inDim, decoder.hidden, embedDim, decoder.activation, {
      constInput: true,
    });
    this.skip = decoder.residual && inDim !== embedDim
      ? new Linear("decoder.skip", inDim, embedDim, { bias: false })
      : null;
    this.params = [...this.mlp.params, ...(this.skip?.params ?? [])];
  }
  apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D {
    const y = this.mlp.apply(this.c.decoder.layerNorm ? layerNormPlain(x) : x, p);
    if (!this.c.decoder.residual) return y as tf.Tensor3D;
    return tf.add(y, this.skip ? this.skip.apply(x, p) : x) as tf.Tensor3D;
  }
  flops(rows: number): number {
    return this.mlp.flops(rows) + (this.skip?.flops(rows) ?? 0);
  }
}

/** D = `decoder.proj` d_in → d, then one pre-norm block `decoder.block`. */
class TransformerDecoder extends TokenUnit {
  readonly proj: Linear;
  readonly block: Block;
  readonly params: readonly ParamSpec[];
  constructor(c: TedLocConfig) {
    super();
    const d = c.embedDim, dc = c.decoder;
    this.proj = new Linear("decoder.proj", c.inDim, d, { constInput: true });
    this.block = new Block("decoder.block", d, dc.hidden, dc.heads, dc.activation);
    this.params = [...this.proj.params, ...this.block.params];
  }
  apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D {
    return this.block.apply(this.proj.apply(x, p) as tf.Tensor3D, p);
  }
  flops(rows: number): number {
    return this.proj.flops(rows) + this.block.flops(rows);
  }
}

/** The decoder D of a config: tokens `[B, N, d_in]` → z_p `[B, N, d]`. */
export function buildDecoder(c: TedLocConfig): TokenUnit {
  switch (c.decoder.kind) {
    case "linear":
      return new LinearDecoder(c);
    case "mlp":
      return new MlpDecoder(c);
    case "transformer":
      return new TransformerDecoder(c);
  }
}

/** The patch classifier g: z_p `[B, N, d]` → pre-sigmoid logits `[B, N]` (`g` or `g.fc1/2`). */
export class PatchClassifier extends Unit {
  readonly net: Linear | Mlp;
  readonly params: readonly ParamSpec[];
  constructor(c: TedLocConfig) {
    super();
    const g = c.classifier;
    this.net = g.kind === "linear"
      ? new Linear("g", c.embedDim, 1)
      : new Mlp("g", c.embedDim, g.hidden, 1, g.activation);
    this.params = this.net.params;
  }
  apply(z: tf.Tensor3D, p: ParamLookup): tf.Tensor2D {
    return tf.squeeze(this.net.apply(z, p), [2]) as tf.Tensor2D;
  }
  flops(rows: number): number {
    return this.net.flops(rows);
  }
}

/** Shape of every parameter, by name, in a stable order (D's, then g's). */
export function tedLocParamShapes(c: TedLocConfig): [string, number[]][] {
  return [...buildDecoder(c).params, ...new PatchClassifier(c).params].map((s) => [
    s.name,
    [...s.shape],
  ]);
}

// ---------------------------------------------------------------------------- ops

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
  /** Decoder D (a unit owning its parameters and FLOPs). */
  readonly D: TokenUnit;
  /** Patch classifier g. */
  readonly g: PatchClassifier;
  /** Trainable parameters by name (insertion order = {@link tedLocParamShapes}). */
  readonly params: Map<string, tf.Variable>;
  /** Frozen anchors transposed, `[d, C]` (so logits are a plain `x · Tᵀ`). */
  private readonly anchorsT: tf.Tensor2D;
  private readonly lookup: ParamLookup;

  constructor(config: TedLocConfig, anchors: AnchorSpace) {
    validateTedLocConfig(config);
    if (anchors.dim !== config.embedDim || anchors.count !== config.numClasses) {
      throw new Error(
        `TeD-Loc: anchors are ${anchors.count}×${anchors.dim}, config expects ${config.numClasses}×${config.embedDim}`,
      );
    }
    this.config = config;
    this.anchors = anchors;
    this.D = buildDecoder(config);
    this.g = new PatchClassifier(config);
    // one seeded stream over D's then g's parameters: a seed fixes the model everywhere
    const rng = new Rng(config.initSeed);
    this.params = new Map();
    for (const spec of [...this.D.params, ...this.g.params]) {
      const value = tf.tensor(initialParam(spec, rng), spec.shape);
      this.params.set(
        spec.name,
        tf.variable(value, true, `tedloc/${spec.name}/${crypto.randomUUID()}`),
      );
      value.dispose();
    }
    this.lookup = (name) => {
      const v = this.params.get(name);
      if (!v) throw new Error(`TeD-Loc: no parameter '${name}'`);
      return v;
    };
    const C = anchors.count, d = anchors.dim;
    const t = new Float32Array(d * C);
    for (let k = 0; k < C; k++) {
      for (let j = 0; j < d; j++) t[j * C + k] = anchors.vectors[k * d + j];
    }
    this.anchorsT = tf.keep(tf.tensor2d(t, [d, C]));
  }

  /** Decoder D: tokens z_E `[B, N, d_in]` → z_p `[B, N, d]`. */
  decode(tokens: tf.Tensor3D): tf.Tensor3D {
    return this.D.apply(tokens, this.lookup);
  }

  /** Patch classifier g: z_p `[B, N, d]` → logits `[B, N]`. */
  classifyPatches(z: tf.Tensor3D): tf.Tensor2D {
    return this.g.apply(z, this.lookup);
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
    const z = this.decode(tokens); // z_p = D(z_E)
    const mapLogits = this.classifyPatches(z); // g(z_p)
    const M = tf.sigmoid(mapLogits) as tf.Tensor2D; // M = σ(g(z_p))
    const c = this.pool(z, M); // c = Σ M z_p / (Σ M + ε)
    const s = this.anchorLogits(c) as tf.Tensor2D; // s_k = <ĉ, t_k> / τ
    return { z, mapLogits, map: M, pooled: c, scores: s };
  }

  /** Trainable variables, in parameter order. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Number of trainable parameters (D and g). */
  parameterCount(): number {
    return this.D.paramCount() + this.g.paramCount();
  }

  /** Copy of all weights as plain arrays (for checkpoints), read asynchronously. */
  async getWeights(): Promise<NamedWeights> {
    return await readNamed(this.params);
  }

  /** Load weights by name; every parameter must be present with its exact shape. */
  setWeights(weights: NamedWeights, source = "weights"): void {
    for (const [name, v] of this.params) {
      const w = weights[name];
      if (!w) throw new Error(`${source}: missing parameter '${name}'`);
      if (w.shape.length !== v.shape.length || w.shape.some((s, i) => s !== v.shape[i])) {
        throw new Error(
          `${source}: parameter '${name}' has shape [${w.shape}], model expects [${v.shape}]`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(w.data, v.shape)));
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
 * Terms: D and g (their units' counts), pooling (2·N·d), class scores (2·C·d).
 */
export function tedLocFlops(c: TedLocConfig, numPatches: number): number {
  const N = numPatches, d = c.embedDim;
  return buildDecoder(c).flops(N) + new PatchClassifier(c).flops(N) + 2 * N * d +
    2 * c.numClasses * d;
}
