/**
 * A Vision Transformer encoder in tfjs with timm's parameter names, loading DeiT / DINO /
 * timm ViT weights from `.safetensors` (PyTorch layouts). It returns the patch tokens after
 * the final LayerNorm and the last block's CLS→patch attention (mean over heads), the cue
 * DiPS-style methods use.
 *
 * Names (timm `VisionTransformer`): `patch_embed.proj.{weight,bias}`, `cls_token`,
 * `pos_embed`, `blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.{weight,bias}`,
 * `norm.{weight,bias}`. Classifier heads (`head.*`, `head_dist.*`) are ignored; anything else
 * unexpected is an error. Layouts: Linear weights `[out, in]` are transposed once at load to
 * `[in, out]`; the patch conv `[D, 3, p, p]` (OIHW) becomes HWIO, flattened to `[p·p·3, D]`.
 *
 * Blocks are pre-norm (`x + attn(norm1(x))`, `x + mlp(norm2(x))`), LayerNorm ε = 1e-6,
 * exact (erf) GELU, as timm, DeiT and DINO define them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename } from "node:path";
import { InputError } from "../io/errors.ts";
import {
  readSafetensors,
  type SafeTensor,
  type SafeTensorsFile,
  toFloat32,
} from "../io/safetensors.ts";
import { dense, matMul } from "../backend/matmul.ts";
import type { PatchEncoder } from "./encoder.ts";

/** The shape of a ViT, as inferred from its weights. */
export interface VitConfig {
  /** Token dimension D. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads. */
  numHeads: number;
  /** Patch side p. */
  patchSize: number;
  /** MLP hidden width. */
  mlpHidden: number;
  /** Grid the stored `pos_embed` was trained for `[gh, gw]`. */
  posGrid: [number, number];
  /** Whether `pos_embed` has a CLS position (timm default) or patches only. */
  clsPos: boolean;
  /** Whether the qkv projection has a bias. */
  qkvBias: boolean;
}

/** ImageNet mean/std (DeiT, DINO, most timm ViTs). */
export const DEFAULT_VIT_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet mean/std (DeiT, DINO, most timm ViTs). */
export const DEFAULT_VIT_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Options of {@link VitEncoder.load}. */
export interface VitEncoderOptions {
  /** Square input side (default 224); the patch grid is inputSize / patchSize. */
  inputSize?: number;
  /** Heads (default: `num_heads` in the file's metadata, else embedDim / 64). */
  numHeads?: number;
  /** Per-channel mean of 0..1 RGB (default: metadata `mean` JSON, else ImageNet's). */
  mean?: [number, number, number];
  /** Per-channel std of 0..1 RGB (default: metadata `std` JSON, else ImageNet's). */
  std?: [number, number, number];
  /** LayerNorm epsilon (default 1e-6). */
  eps?: number;
  /** A key prefix to strip first (e.g. `module.` or `backbone.`). */
  stripPrefix?: string;
  /** Key prefixes to ignore (default `head.`, `head_dist.`). */
  ignorePrefixes?: string[];
  /** Name used in the id (default: the file name without extension). */
  name?: string;
}

/** The serialisable recipe of a {@link VitEncoder}. */
export interface VitEncoderSpec extends VitEncoderOptions {
  kind: "vit";
  /** The `.safetensors` file. */
  path: string;
}

interface BlockWeights {
  norm1: [tf.Tensor1D, tf.Tensor1D];
  qkv: [tf.Tensor2D, tf.Tensor1D | undefined];
  proj: [tf.Tensor2D, tf.Tensor1D];
  norm2: [tf.Tensor1D, tf.Tensor1D];
  fc1: [tf.Tensor2D, tf.Tensor1D];
  fc2: [tf.Tensor2D, tf.Tensor1D];
}

function shapeStr(s: number[]): string {
  return `[${s.join(", ")}]`;
}

/**
 * Infer the ViT's shape from its tensors (embed dim and patch size from the patch conv, depth
 * from the block indices, MLP width from fc1, heads from `opts.numHeads`, metadata
 * `num_heads`, or D/64).
 */
export function inferVitConfig(
  tensors: Map<string, { shape: number[] }>,
  metadata: Record<string, string> = {},
  opts: { numHeads?: number; source?: string } = {},
): VitConfig {
  const file = opts.source;
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) {
      const near = [...tensors.keys()].find((k) => k.endsWith("." + name));
      const hint = near
        ? ` (found '${near}': pass stripPrefix '${near.slice(0, near.length - name.length)}')`
        : "";
      throw new InputError(`not a timm-style ViT: missing '${name}'${hint}`, { file });
    }
    return t.shape;
  };
  const pe = get("patch_embed.proj.weight");
  if (pe.length !== 4 || pe[1] !== 3 || pe[2] !== pe[3]) {
    throw new InputError(
      `patch_embed.proj.weight has shape ${shapeStr(pe)}, expected [D, 3, p, p]`,
      { file },
    );
  }
  const [embedDim, , patchSize] = pe;
  let depth = 0;
  for (const name of tensors.keys()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (depth === 0) throw new InputError("not a timm-style ViT: no 'blocks.N.*' tensors", { file });
  const fc1 = tensors.get("blocks.0.mlp.fc1.weight")?.shape;
  const mlpHidden = fc1 && fc1.length === 2 ? fc1[0] : 4 * embedDim;
  let numHeads = opts.numHeads;
  if (numHeads === undefined && metadata.num_heads !== undefined) {
    numHeads = Number(metadata.num_heads);
  }
  if (numHeads === undefined) {
    if (embedDim % 64 !== 0) {
      throw new InputError(
        `cannot infer the number of heads: embed dim ${embedDim} is not a multiple of 64 and the file has no 'num_heads' metadata (pass numHeads)`,
        { file },
      );
    }
    numHeads = embedDim / 64;
  }
  if (!Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads !== 0) {
    throw new InputError(`num_heads ${numHeads} does not divide embed dim ${embedDim}`, { file });
  }
  const pos = get("pos_embed");
  if (pos.length !== 3 || pos[0] !== 1 || pos[2] !== embedDim) {
    throw new InputError(`pos_embed has shape ${shapeStr(pos)}, expected [1, L, ${embedDim}]`, {
      file,
    });
  }
  const L = pos[1];
  let clsPos: boolean;
  let g: number;
  if (Number.isInteger(Math.sqrt(L - 1)) && L > 1) {
    clsPos = true;
    g = Math.sqrt(L - 1);
  } else if (Number.isInteger(Math.sqrt(L))) {
    clsPos = false;
    g = Math.sqrt(L);
  } else {
    throw new InputError(`pos_embed length ${L} is neither g² + 1 nor g²`, { file });
  }
  return {
    embedDim,
    depth,
    numHeads,
    patchSize,
    mlpHidden,
    posGrid: [g, g],
    clsPos,
    qkvBias: tensors.has("blocks.0.attn.qkv.bias"),
  };
}

/** Expected tensor names and shapes of a config. */
function expectedShapes(c: VitConfig): Map<string, number[]> {
  const D = c.embedDim, H = c.mlpHidden, p = c.patchSize;
  const L = c.posGrid[0] * c.posGrid[1] + (c.clsPos ? 1 : 0);
  const m = new Map<string, number[]>([
    ["patch_embed.proj.weight", [D, 3, p, p]],
    ["patch_embed.proj.bias", [D]],
    ["cls_token", [1, 1, D]],
    ["pos_embed", [1, L, D]],
    ["norm.weight", [D]],
    ["norm.bias", [D]],
  ]);
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    m.set(b + "norm1.weight", [D]);
    m.set(b + "norm1.bias", [D]);
    m.set(b + "attn.qkv.weight", [3 * D, D]);
    if (c.qkvBias) m.set(b + "attn.qkv.bias", [3 * D]);
    m.set(b + "attn.proj.weight", [D, D]);
    m.set(b + "attn.proj.bias", [D]);
    m.set(b + "norm2.weight", [D]);
    m.set(b + "norm2.bias", [D]);
    m.set(b + "mlp.fc1.weight", [H, D]);
    m.set(b + "mlp.fc1.bias", [H]);
    m.set(b + "mlp.fc2.weight", [D, H]);
    m.set(b + "mlp.fc2.bias", [D]);
  }
  return m;
}

/** Cubic convolution weights (A = −0.75, as PyTorch's bicubic). */
function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/**
 * Resize a `[gh·gw, D]` grid of vectors to `[th·tw, D]` by bicubic interpolation, exactly as
 * `torch.nn.functional.interpolate(mode="bicubic", align_corners=False)` (timm's
 * `resample_abs_pos_embed`): half-pixel centres, A = −0.75, borders replicated.
 */
export function resizePosGridBicubic(
  grid: Float32Array,
  [gh, gw]: [number, number],
  [th, tw]: [number, number],
  dim: number,
): Float32Array {
  const out = new Float32Array(th * tw * dim);
  const taps = (outSize: number, inSize: number) =>
    Array.from({ length: outSize }, (_, o) => {
      const real = (o + 0.5) * (inSize / outSize) - 0.5;
      const base = Math.floor(real);
      const w = cubicWeights(real - base);
      const idx = [-1, 0, 1, 2].map((d) => Math.min(Math.max(base + d, 0), inSize - 1));
      return { idx, w };
    });
  const ys = taps(th, gh), xs = taps(tw, gw);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const o = (y * tw + x) * dim;
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const w = ys[y].w[a] * xs[x].w[b];
          const i = (ys[y].idx[a] * gw + xs[x].idx[b]) * dim;
          for (let d = 0; d < dim; d++) out[o + d] += w * grid[i + d];
        }
      }
    }
  }
  return out;
}

/** PyTorch Linear weight `[out, in]` → `[in, out]` tensor. */
function linearWeight(t: SafeTensor): tf.Tensor2D {
  const [o, i] = t.shape;
  const src = toFloat32(t);
  const dst = new Float32Array(o * i);
  for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) dst[c * o + r] = src[r * i + c];
  return tf.tensor2d(dst, [i, o]);
}

function vec(t: SafeTensor): tf.Tensor1D {
  return tf.tensor1d(toFloat32(t));
}

function parseTriple(s: string | undefined, what: string): [number, number, number] | undefined {
  if (s === undefined) return undefined;
  const v = JSON.parse(s);
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number")) {
    throw new InputError(`metadata '${what}' must be a JSON array of 3 numbers, got ${s}`);
  }
  return v as [number, number, number];
}

/**
 * A ViT as a {@link PatchEncoder} (tokens: the patch tokens after the final norm) with
 * {@link VitEncoder.clsAttention}.
 *
 * @example
 * ```ts
 * await initBackend();
 * const vit = await VitEncoder.load("weights/dino_vits16.safetensors");
 * const { tokens, attention } = vit.forward(images);   // [B,196,384], [B,196]
 * ```
 */
export class VitEncoder implements PatchEncoder {
  readonly id: string;
  readonly inputSize: number;
  readonly grid: [number, number];
  readonly dim: number;
  readonly stride: number;
  readonly cellOffset: number;
  /** The inferred configuration. */
  readonly config: VitConfig;
  /** Recipe to rebuild this encoder elsewhere (set when loaded from a file). */
  readonly spec?: VitEncoderSpec;
  /** Short digest of the weights (for cache keys). */
  readonly fingerprint: string;
  private readonly eps: number;
  private readonly mean: tf.Tensor1D;
  private readonly std: tf.Tensor1D;
  private readonly patchW: tf.Tensor2D;
  private readonly patchB: tf.Tensor1D;
  private readonly cls: tf.Tensor3D;
  private readonly clsPos: tf.Tensor3D | null;
  private readonly patchPos: tf.Tensor3D;
  private readonly blocks: BlockWeights[];
  private readonly norm: [tf.Tensor1D, tf.Tensor1D];
  private readonly params: number;

  private constructor(
    file: SafeTensorsFile,
    opts: VitEncoderOptions & { source?: string; spec?: VitEncoderSpec; fingerprint: string },
  ) {
    const source = opts.source;
    // Strip a prefix, drop ignored keys.
    const strip = opts.stripPrefix ?? "";
    const ignore = opts.ignorePrefixes ?? ["head.", "head_dist."];
    const tensors = new Map<string, SafeTensor>();
    for (const [k, v] of file.tensors) {
      const name = strip && k.startsWith(strip) ? k.slice(strip.length) : k;
      if (ignore.some((p) => name.startsWith(p))) continue;
      tensors.set(name, v);
    }
    const config = inferVitConfig(tensors, file.metadata, { numHeads: opts.numHeads, source });
    const expected = expectedShapes(config);
    const missing = [...expected.keys()].filter((k) => !tensors.has(k));
    const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
    const wrong = [...expected.entries()]
      .filter(([k, s]) => tensors.has(k) && shapeStr(tensors.get(k)!.shape) !== shapeStr(s))
      .map(([k, s]) => `${k} ${shapeStr(tensors.get(k)!.shape)} (expected ${shapeStr(s)})`);
    if (missing.length + unexpected.length + wrong.length > 0) {
      const parts = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(", ")}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(", ")}`);
      if (wrong.length) parts.push(`wrong shapes: ${wrong.join(", ")}`);
      throw new InputError(
        `weights do not match a timm ViT (D=${config.embedDim}, depth=${config.depth}, patch=${config.patchSize}); ${
          parts.join("; ")
        }`,
        { file: source },
      );
    }
    const inputSize = opts.inputSize ?? 224;
    const p = config.patchSize;
    if (inputSize % p !== 0) {
      throw new InputError(`input size ${inputSize} is not a multiple of the patch size ${p}`);
    }
    const g = inputSize / p;
    const D = config.embedDim;
    const t = (name: string) => tensors.get(name)!;
    this.config = config;
    this.inputSize = inputSize;
    this.grid = [g, g];
    this.dim = D;
    this.stride = p;
    this.cellOffset = p / 2;
    this.eps = opts.eps ?? 1e-6;
    this.spec = opts.spec;
    this.fingerprint = opts.fingerprint;
    const name = opts.name ?? (source ? basename(source).replace(/\.safetensors$/, "") : "vit");
    this.id = `${name}@tokens`;
    const mean = opts.mean ?? parseTriple(file.metadata.mean, "mean") ?? DEFAULT_VIT_MEAN;
    const std = opts.std ?? parseTriple(file.metadata.std, "std") ?? DEFAULT_VIT_STD;
    this.mean = tf.tensor1d(mean);
    this.std = tf.tensor1d(std);

    // Patch conv OIHW [D,3,p,p] → [p·p·3, D] with row index (i·p + j)·3 + c.
    const pw = toFloat32(t("patch_embed.proj.weight"));
    const flat = new Float32Array(p * p * 3 * D);
    for (let o = 0; o < D; o++) {
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < p; i++) {
          for (let j = 0; j < p; j++) {
            flat[((i * p + j) * 3 + c) * D + o] = pw[((o * 3 + c) * p + i) * p + j];
          }
        }
      }
    }
    this.patchW = tf.tensor2d(flat, [p * p * 3, D]);
    this.patchB = vec(t("patch_embed.proj.bias"));
    this.cls = tf.tensor3d(toFloat32(t("cls_token")), [1, 1, D]);
    const pos = toFloat32(t("pos_embed"));
    const n0 = config.posGrid[0] * config.posGrid[1];
    const start = config.clsPos ? D : 0;
    let patchPos: Float32Array = pos.slice(start, start + n0 * D);
    if (config.posGrid[0] !== g || config.posGrid[1] !== g) {
      patchPos = resizePosGridBicubic(patchPos, config.posGrid, [g, g], D);
    }
    this.patchPos = tf.tensor3d(patchPos, [1, g * g, D]);
    this.clsPos = config.clsPos ? tf.tensor3d(pos.slice(0, D), [1, 1, D]) : null;
    this.blocks = [];
    for (let i = 0; i < config.depth; i++) {
      const b = `blocks.${i}.`;
      this.blocks.push({
        norm1: [vec(t(b + "norm1.weight")), vec(t(b + "norm1.bias"))],
        qkv: [
          linearWeight(t(b + "attn.qkv.weight")),
          config.qkvBias ? vec(t(b + "attn.qkv.bias")) : undefined,
        ],
        proj: [linearWeight(t(b + "attn.proj.weight")), vec(t(b + "attn.proj.bias"))],
        norm2: [vec(t(b + "norm2.weight")), vec(t(b + "norm2.bias"))],
        fc1: [linearWeight(t(b + "mlp.fc1.weight")), vec(t(b + "mlp.fc1.bias"))],
        fc2: [linearWeight(t(b + "mlp.fc2.weight")), vec(t(b + "mlp.fc2.bias"))],
      });
    }
    this.norm = [vec(t("norm.weight")), vec(t("norm.bias"))];
    this.params = [...expected.values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  }

  /** Load a `.safetensors` file with timm ViT names. */
  static async load(path: string, opts: VitEncoderOptions = {}): Promise<VitEncoder> {
    const file = await readSafetensors(path);
    const bytes = await Deno.readFile(path);
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const fingerprint = [...hash.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return new VitEncoder(file, {
      ...opts,
      source: path,
      spec: { kind: "vit", path, ...opts },
      fingerprint,
    });
  }

  /** Build from an already-parsed file (no spec: cannot be rebuilt in a worker). */
  static fromSafetensors(
    file: SafeTensorsFile,
    opts: VitEncoderOptions & { source?: string } = {},
  ): VitEncoder {
    return new VitEncoder(file, { ...opts, fingerprint: "in-memory" });
  }

  private layerNorm(x: tf.Tensor, [w, b]: [tf.Tensor1D, tf.Tensor1D]): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), w), b);
  }

  /**
   * Patch tokens after the final norm `[B, N, D]` and the last block's CLS→patch attention
   * averaged over heads `[B, N]`, from raw 0..255 images `[B, S, S, 3]`.
   */
  forward(images: tf.Tensor4D): { tokens: tf.Tensor3D; attention: tf.Tensor2D } {
    const [B, S, S2, C] = images.shape;
    if (S !== this.inputSize || S2 !== this.inputSize || C !== 3) {
      throw new InputError(
        `${this.id} expects images [B, ${this.inputSize}, ${this.inputSize}, 3], got [${images.shape}]`,
      );
    }
    const p = this.config.patchSize, g = this.grid[0], D = this.dim, N = g * g;
    const H = this.config.numHeads, dh = D / H;
    return tf.tidy(() => {
      const x = tf.div(tf.sub(tf.div(images, 255), this.mean), this.std);
      const patches = x.reshape([B, g, p, g, p, 3]).transpose([0, 1, 3, 2, 4, 5])
        .reshape([B, N, p * p * 3]);
      let h = tf.add(dense(patches, this.patchW, this.patchB), this.patchPos);
      const cls = this.clsPos ? tf.add(this.cls, this.clsPos) : this.cls;
      h = tf.concat([tf.tile(cls, [B, 1, 1]), h], 1); // [B, T, D]
      const T = N + 1;
      let lastAttn: tf.Tensor | null = null;
      for (const blk of this.blocks) {
        const a = this.layerNorm(h, blk.norm1);
        const qkv = dense(a, blk.qkv[0], blk.qkv[1]).reshape([B, T, 3, H, dh])
          .transpose([2, 0, 3, 1, 4]); // [3, B, H, T, dh]
        const [q, k, v] = tf.unstack(qkv, 0);
        const scores = matMul(tf.mul(q, 1 / Math.sqrt(dh)), k, false, true); // [B, H, T, T]
        const attn = tf.softmax(scores);
        lastAttn = attn;
        const ctx = matMul(attn, v).transpose([0, 2, 1, 3]).reshape([B, T, D]);
        h = tf.add(h, dense(ctx, blk.proj[0], blk.proj[1]));
        const m = this.layerNorm(h, blk.norm2);
        const f = dense(m, blk.fc1[0], blk.fc1[1]);
        const gelu = tf.mul(tf.mul(f, 0.5), tf.add(1, tf.erf(tf.mul(f, Math.SQRT1_2))));
        h = tf.add(h, dense(gelu, blk.fc2[0], blk.fc2[1]));
      }
      const out = this.layerNorm(h, this.norm);
      const tokens = out.slice([0, 1, 0], [B, N, D]) as tf.Tensor3D;
      const attention = tf.mean(lastAttn!.slice([0, 0, 0, 1], [B, H, 1, N]), 1)
        .reshape([B, N]) as tf.Tensor2D;
      return { tokens, attention };
    });
  }

  encode(images: tf.Tensor4D): tf.Tensor3D {
    const { tokens, attention } = this.forward(images);
    attention.dispose();
    return tokens;
  }

  clsAttention(images: tf.Tensor4D): tf.Tensor2D {
    const { tokens, attention } = this.forward(images);
    tokens.dispose();
    return attention;
  }

  parameterCount(): number {
    return this.params;
  }

  dispose(): void {
    const all: tf.Tensor[] = [
      this.mean,
      this.std,
      this.patchW,
      this.patchB,
      this.cls,
      this.patchPos,
      ...this.norm,
    ];
    if (this.clsPos) all.push(this.clsPos);
    for (const b of this.blocks) {
      for (const pair of Object.values(b)) for (const t of pair) if (t) all.push(t);
    }
    tf.dispose(all);
  }
}
