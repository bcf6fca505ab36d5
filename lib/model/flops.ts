/**
 * Analytic compute cost from model configs (no timing, no weights needed): multiply–
 * accumulates (MACs) per image of a tfjs Layers CNN up to a chosen layer, of a ViT from its
 * {@link VitConfig}, and of the localization heads compared in the paper's Table 3.
 *
 * Convention: `macs` counts each multiply–accumulate of a convolution, dense layer or matrix
 * product once (what "mult-adds" means in the MobileNet paper and what fvcore/timm report as
 * "FLOPs"); `flops = 2 · macs`, the convention of {@link tedLocFlops} and the heads'
 * `flops()`. Biases, BatchNorm, activations, softmax and normalisation are not counted (they
 * are < 1 % of these networks).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { unknownLayerError } from "../io/tfjs_model.ts";
import type { VitConfig } from "./vit.ts";
import { Block, Linear } from "./units.ts";

/** The cost of one layer. */
export interface LayerCost {
  layer: string;
  className: string;
  /** Multiply–accumulates per image. */
  macs: number;
  /** Output shape without the batch axis. */
  outputShape: number[];
}

/** The cost of a network (or a part of one) per image. */
export interface ModelCost {
  /** Layers that cost something, in order. */
  layers: LayerCost[];
  /** Multiply–accumulates per image. */
  macs: number;
  /** 2 · macs. */
  flops: number;
}

interface CostLayer {
  name: string;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  outputShape: tf.Shape | tf.Shape[];
  inboundNodes: { inboundLayers: CostLayer[] }[];
}

function kernelArea(v: unknown): number {
  if (Array.isArray(v)) return Number(v[0]) * Number(v[v.length > 1 ? 1 : 0]);
  if (typeof v === "number") return v * v;
  throw new InputError(`layer has no usable kernelSize (${JSON.stringify(v)})`);
}

function singleShape(s: tf.Shape | tf.Shape[]): number[] {
  const shape = (Array.isArray(s[0]) ? s[0] : s) as tf.Shape;
  return shape.slice(1).map((d) => Number(d));
}

function product(xs: number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

/**
 * MACs per image of a tfjs Layers model from its input up to and including layer `upTo`
 * (default: the last layer), read from the layers' configs and static shapes: Conv2D
 * `H'·W'·C_out·k_h·k_w·C_in / groups`, DepthwiseConv2D `H'·W'·C·m·k_h·k_w`, Dense `in·out`
 * (per position when applied to a map). Other layers (BatchNorm, activations, pooling,
 * padding, reshape, dropout) count zero.
 *
 * @example
 * ```ts
 * const net = await loadLayersModelFromDir(DEFAULT_MOBILENET_DIR);
 * layersModelCost(net, "conv_pw_11_relu").macs; // MobileNet v1 0.25 up to the 14×14 tap
 * layersModelCost(net).macs;                    // ≈ 41 M for the whole network (paper: 41 M)
 * ```
 */
export function layersModelCost(model: tf.LayersModel, upTo?: string): ModelCost {
  const layers = model.layers as unknown as CostLayer[];
  const names = layers.map((l) => l.name);
  const last = upTo ?? names[names.length - 1];
  const end = names.indexOf(last);
  if (end < 0) throw unknownLayerError(last, names, model.name);
  const out: LayerCost[] = [];
  for (const layer of layers.slice(0, end + 1)) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const outShape = singleShape(layer.outputShape);
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    const inShape = inbound.length > 0 ? singleShape(inbound[0].outputShape) : [];
    const inChannels = inShape[inShape.length - 1];
    const positions = product(outShape.slice(0, -1));
    let macs = 0;
    if (cls === "Conv2D") {
      const groups = Number(cfg.groups ?? 1);
      macs = positions * outShape[outShape.length - 1] * kernelArea(cfg.kernelSize) *
        inChannels / groups;
    } else if (cls === "DepthwiseConv2D") {
      macs = positions * outShape[outShape.length - 1] * kernelArea(cfg.kernelSize);
    } else if (cls === "Dense") {
      macs = positions * inChannels * Number(cfg.units);
    } else if (cls === "SeparableConv2D") {
      const depthMult = Number(cfg.depthMultiplier ?? 1);
      macs = positions * inChannels * depthMult * kernelArea(cfg.kernelSize) +
        positions * inChannels * depthMult * outShape[outShape.length - 1];
    }
    if (!Number.isFinite(macs)) {
      throw new InputError(`cannot count MACs of layer '${layer.name}' (${cls}): unknown shape`);
    }
    if (macs > 0) out.push({ layer: layer.name, className: cls, macs, outputShape: outShape });
  }
  const macs = out.reduce((s, l) => s + l.macs, 0);
  return { layers: out, macs, flops: 2 * macs };
}

/**
 * MACs per image of a ViT encoder (timm layout: patch embedding, `depth` pre-norm blocks of
 * attention + MLP, with a CLS token), up to its last block. Attention counts q·kᵀ and
 * attention·v (`2·T²·D` over all heads), T = patches + 1.
 *
 * @example
 * ```ts
 * vitCost({ embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, mlpHidden: 3072,
 *   posGrid: [14, 14], clsPos: true, qkvBias: true }).macs; // ≈ 17.6 G (ViT-B/16)
 * ```
 */
export function vitCost(
  config: Pick<VitConfig, "embedDim" | "depth" | "patchSize" | "mlpHidden">,
  opts: { inputSize?: number; clsToken?: boolean } = {},
): ModelCost {
  const S = opts.inputSize ?? 224;
  const { embedDim: D, depth, patchSize: p, mlpHidden: H } = config;
  if (S % p !== 0) throw new InputError(`input ${S} is not a multiple of the patch size ${p}`);
  const N = (S / p) ** 2;
  const T = N + (opts.clsToken === false ? 0 : 1);
  // the patch embedding is a linear map of each p×p×3 patch; units count FLOPs = 2·MACs
  const embed = new Linear("patch_embed", p * p * 3, D);
  const layers: LayerCost[] = [
    {
      layer: "patch_embed",
      className: "PatchEmbed",
      macs: embed.flops(N) / 2,
      outputShape: [N, D],
    },
  ];
  for (let b = 0; b < depth; b++) {
    // heads do not change the count (the Block unit's FLOPs: qkv, q·kᵀ, attention·v, proj, mlp)
    const macs = new Block(`blocks.${b}`, D, H, 1, "gelu").flops(T) / 2;
    layers.push({ layer: `blocks.${b}`, className: "Block", macs, outputShape: [T, D] });
  }
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  return { layers, macs, flops: 2 * macs };
}

/**
 * FLOPs per image of the CAM head on `numPatches` tokens of dimension `inDim` (the same count
 * as `CamHead.flops`): global average pooling, the linear classifier, and the CAM of one
 * class.
 */
export function camHeadFlops(inDim: number, numClasses: number, numPatches: number): number {
  const gap = numPatches * inDim; // one add per token value
  const classifier = new Linear("cam", inDim, numClasses).flops(1);
  const oneClassMap = new Linear("cam_k", inDim, 1).flops(numPatches); // x_p · W[:, k]
  return gap + classifier + oneClassMap;
}

/**
 * FLOPs per image of the vanilla `<z_p, t_y>` head (as `VanillaSimilarityHead.flops`): the
 * fixed projection (none when `inDim = dim`), patch–anchor cosines, pooled class scores.
 */
export function vanillaHeadFlops(
  inDim: number,
  dim: number,
  numClasses: number,
  numPatches: number,
): number {
  const proj = inDim === dim ? 0 : new Linear("proj", inDim, dim).flops(numPatches);
  const cosines = new Linear("anchors", dim, numClasses);
  const mean = numPatches * dim; // pooling: one add per value
  return proj + cosines.flops(numPatches) + mean + cosines.flops(1);
}
