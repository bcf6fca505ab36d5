/**
 * Small network units (linear, LayerNorm, MLP, attention, pre-norm block) that each own
 * their parameters — names (= checkpoint keys), shapes, initialisation — their forward
 * arithmetic and their cost (FLOPs and parameter count). A model is a composition of
 * units, so a parameter is declared once and its shape, its use and its cost cannot drift
 * apart.
 *
 * Units hold no tensors: `params` describes what to create and `apply(x, p)` reads the
 * values through a lookup, so the same unit serves shape listings, FLOP counts (no tfjs
 * backend needed) and the forward pass of a model that owns the variables.
 *
 * Conventions: weights `[in, out]` (the layout `x · W` uses), PyTorch-style names
 * (`fc1.weight`, `norm1.bias`); FLOPs count 2 per multiply–accumulate of a matrix product
 * and nothing for biases, norms, activations or softmax.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dense, matMul } from "../backend/matmul.ts";
import type { Rng } from "../util/rng.ts";

/** Activation of hidden layers. */
export type Activation = "gelu" | "relu";

/** How a parameter starts: uniform ±1/√fan_in (fan_in = shape[0]), zeros or ones. */
export type ParamInit = "fanIn" | "zeros" | "ones";

/** One parameter a unit owns. */
export interface ParamSpec {
  /** Full name, the checkpoint key (e.g. `decoder.fc1.weight`). */
  name: string;
  /** Shape (`[in, out]` for weights). */
  shape: number[];
  /** How it is initialised. */
  init: ParamInit;
}

/** Looks a parameter's current value up by its full name. */
export type ParamLookup = (name: string) => tf.Tensor;

/** Named weight arrays (checkpoint layout). */
export type NamedWeights = Record<string, { shape: number[]; data: Float32Array }>;

/**
 * Values of named tensors as host arrays, all reads issued at once (`await t.data()`: no
 * synchronous readback, which tfjs-webgpu cannot do under Deno).
 *
 * @example
 * ```ts
 * const w = await readNamed(model.params); // { "g.weight": { shape, data }, … }
 * ```
 */
export async function readNamed(tensors: Map<string, tf.Tensor>): Promise<NamedWeights> {
  const entries = [...tensors];
  const data = await Promise.all(entries.map(([, t]) => t.data<"float32">()));
  const out: NamedWeights = {};
  entries.forEach(([n, t], i) => out[n] = { shape: [...t.shape], data: data[i] as Float32Array });
  return out;
}

/** What every unit offers: its parameters and its cost. */
export abstract class Unit {
  /** Parameters in a stable order (the order a model creates and initialises them in). */
  abstract readonly params: readonly ParamSpec[];

  /** FLOPs of one image whose `rows` token rows go through the unit. */
  abstract flops(rows: number): number;

  /** Number of scalar parameters. */
  paramCount(): number {
    return this.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  }
}

/**
 * Initial value of a parameter, drawn from `rng` for `fanIn` (PyTorch's Linear default).
 *
 * @example
 * ```ts
 * const w = initialParam({ name: "fc.weight", shape: [4, 2], init: "fanIn" }, new Rng(0));
 * ```
 */
export function initialParam(spec: ParamSpec, rng: Rng): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (spec.init === "zeros") return out;
  if (spec.init === "ones") return out.fill(1);
  const bound = 1 / Math.sqrt(spec.shape[0]);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
  return out;
}

/** The activation function (exact erf GELU, as PyTorch's nn.GELU() default). */
export function activate(x: tf.Tensor, a: Activation): tf.Tensor {
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

/** LayerNorm over the last axis without affine parameters. */
export function layerNormPlain(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
}

/** Options of a {@link Linear} unit. */
export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** The input is a constant (frozen tokens): skip its gradient (needs a bias). */
  constInput?: boolean;
}

/**
 * `y = x · W + b` on the last axis: `<name>.weight [in, out]`, `<name>.bias [out]`.
 *
 * @example
 * ```ts
 * const fc = new Linear("fc", 128, 64);
 * fc.flops(196); // 2·196·128·64
 * ```
 */
export class Linear extends Unit {
  readonly params: readonly ParamSpec[];
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
  private readonly bias: boolean;
  private readonly constInput: boolean;

  constructor(name: string, inDim: number, outDim: number, opts: LinearOptions = {}) {
    super();
    this.name = name;
    this.inDim = inDim;
    this.outDim = outDim;
    this.bias = opts.bias ?? true;
    this.constInput = opts.constInput ?? false;
    if (this.constInput && !this.bias) throw new Error(`Linear ${name}: constInput needs a bias`);
    const w: ParamSpec = { name: `${name}.weight`, shape: [inDim, outDim], init: "fanIn" };
    this.params = this.bias ? [w, { name: `${name}.bias`, shape: [outDim], init: "zeros" }] : [w];
  }

  /** `x [..., in]` → `[..., out]`. */
  apply(x: tf.Tensor, p: ParamLookup): tf.Tensor {
    const w = p(`${this.name}.weight`);
    if (this.constInput) return denseConstInput(x, w, p(`${this.name}.bias`)) as tf.Tensor;
    return dense(x, w, this.bias ? p(`${this.name}.bias`) : undefined);
  }

  /** FLOPs of `rows` token rows. */
  flops(rows: number): number {
    return 2 * rows * this.inDim * this.outDim;
  }
}

/** LayerNorm with affine parameters `<name>.weight` (ones) and `<name>.bias` (zeros). */
export class LayerNorm extends Unit {
  readonly params: readonly ParamSpec[];
  readonly name: string;

  constructor(name: string, dim: number, readonly eps = 1e-5) {
    super();
    this.name = name;
    this.params = [
      { name: `${name}.weight`, shape: [dim], init: "ones" },
      { name: `${name}.bias`, shape: [dim], init: "zeros" },
    ];
  }

  /** Normalise the last axis, then scale and shift. */
  apply(x: tf.Tensor, p: ParamLookup): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const xn = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(xn, p(`${this.name}.weight`)), p(`${this.name}.bias`));
  }

  /** Element-wise: counted as 0 by convention. */
  flops(_rows: number): number {
    return 0;
  }
}

/**
 * Two linear layers with an activation between: `<name>.fc1`, `<name>.fc2`.
 *
 * @example
 * ```ts
 * const mlp = new Mlp("g", 64, 16, 1, "relu"); // g.fc1 [64,16], g.fc2 [16,1]
 * ```
 */
export class Mlp extends Unit {
  readonly params: readonly ParamSpec[];
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    name: string,
    inDim: number,
    hidden: number,
    outDim: number,
    readonly activation: Activation,
    opts: { constInput?: boolean } = {},
  ) {
    super();
    this.fc1 = new Linear(`${name}.fc1`, inDim, hidden, { constInput: opts.constInput });
    this.fc2 = new Linear(`${name}.fc2`, hidden, outDim);
    this.params = [...this.fc1.params, ...this.fc2.params];
  }

  /** `x [..., in]` → `[..., out]`. */
  apply(x: tf.Tensor, p: ParamLookup): tf.Tensor {
    return this.fc2.apply(activate(this.fc1.apply(x, p), this.activation), p);
  }

  /** FLOPs of `rows` token rows. */
  flops(rows: number): number {
    return this.fc1.flops(rows) + this.fc2.flops(rows);
  }
}

/**
 * Multi-head self-attention (timm names `<name>.qkv`, `<name>.proj`), no masking.
 * FLOPs: qkv, q·kᵀ and attention·v over all heads (2·2·N²·d), proj.
 */
export class Attention extends Unit {
  readonly params: readonly ParamSpec[];
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(name: string, readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) {
      throw new Error(`Attention ${name}: dim ${dim} is not divisible by ${heads} heads`);
    }
    this.qkv = new Linear(`${name}.qkv`, dim, 3 * dim);
    this.proj = new Linear(`${name}.proj`, dim, dim);
    this.params = [...this.qkv.params, ...this.proj.params];
  }

  /** `x [B, N, d]` → `[B, N, d]`. */
  apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D {
    const [B, N] = x.shape;
    const d = this.dim, H = this.heads, hd = d / H;
    const qkv = this.qkv.apply(x, p).reshape([B, N, 3, H, hd]).transpose([2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv, 0).map((t) => t.reshape([B * H, N, hd]));
    const att = tf.softmax(tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(hd)), -1);
    const o = matMul(att, v).reshape([B, H, N, hd]).transpose([0, 2, 1, 3]).reshape([B, N, d]);
    return this.proj.apply(o, p) as tf.Tensor3D;
  }

  /** FLOPs of `rows` token rows. */
  flops(rows: number): number {
    return this.qkv.flops(rows) + 2 * 2 * rows * rows * this.dim + this.proj.flops(rows);
  }
}

/**
 * A pre-norm transformer block (ViT/timm layout): `x + attn(norm1(x))`, then
 * `+ mlp(norm2(·))`. Names `<name>.norm1`, `<name>.attn.*`, `<name>.norm2`, `<name>.mlp.*`.
 *
 * @example
 * ```ts
 * new Block("blocks.0", 768, 3072, 12, "gelu").flops(197) / 2; // MACs of one ViT-B block
 * ```
 */
export class Block extends Unit {
  readonly params: readonly ParamSpec[];
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(name: string, dim: number, hidden: number, heads: number, activation: Activation) {
    super();
    this.norm1 = new LayerNorm(`${name}.norm1`, dim);
    this.attn = new Attention(`${name}.attn`, dim, heads);
    this.norm2 = new LayerNorm(`${name}.norm2`, dim);
    this.mlp = new Mlp(`${name}.mlp`, dim, hidden, dim, activation);
    this.params = [
      ...this.norm1.params,
      ...this.attn.params,
      ...this.norm2.params,
      ...this.mlp.params,
    ];
  }

  /** `x [B, N, d]` → `[B, N, d]`. */
  apply(x: tf.Tensor3D, p: ParamLookup): tf.Tensor3D {
    const x1 = tf.add(x, this.attn.apply(this.norm1.apply(x, p) as tf.Tensor3D, p));
    return tf.add(x1, this.mlp.apply(this.norm2.apply(x1, p), p)) as tf.Tensor3D;
  }

  /** FLOPs of `rows` token rows. */
  flops(rows: number): number {
    return this.attn.flops(rows) + this.mlp.flops(rows);
  }
}
