/**
 * A frozen tfjs Layers CNN compiled into a plain chain of `tf.` ops. Each BatchNormalization
 * that follows a linear convolution is folded into that convolution's weights and bias once,
 * and the following ReLU/ReLU6 becomes the fused activation, so one conv layer costs one
 * fused wasm kernel instead of three ops. The chain also knows the exact feature-map geometry
 * of every layer (TF 'same' padding pads only bottom/right when the total padding is odd,
 * which moves cell centres down-right; see {@link FeatureGeometry}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { unknownLayerError } from "../io/tfjs_model.ts";
import { readTensors } from "../backend/read.ts";

/**
 * Where the cells of a feature map sit on the input image: cell `i` along an axis is centred
 * at `i * stride + offset` input pixels (pixel k spans [k, k+1)).
 */
export interface FeatureGeometry {
  /** Feature map `[height, width]`. */
  size: [number, number];
  /** Channels. */
  channels: number;
  /** Input pixels per cell `[y, x]`. */
  stride: [number, number];
  /** Centre of cell 0 in input pixels `[y, x]`. */
  offset: [number, number];
}

type Padding = "same" | "valid" | [[number, number], [number, number]];
type FusableActivation = "linear" | "relu" | "relu6";

/** One step of a compiled chain. */
type CnnOp =
  | {
    kind: "conv" | "depthwise";
    filter: tf.Tensor4D;
    bias?: tf.Tensor1D;
    strides: [number, number];
    dilations: [number, number];
    pad: "same" | "valid";
    activation: FusableActivation;
  }
  | { kind: "batchnorm"; scale: tf.Tensor1D; shift: tf.Tensor1D }
  | { kind: "activation"; fn: string }
  | { kind: "zeropad"; pad: [[number, number], [number, number]] }
  | { kind: "gap"; keepDims: boolean }
  | { kind: "reshape"; shape: number[] }
  | { kind: "flatten" }
  | { kind: "dense"; kernel: tf.Tensor2D; bias?: tf.Tensor1D; activation: string }
  | { kind: "identity" };

/** A compiled op with the names of the Layers layers it stands for (last one = its output). */
interface ChainStep {
  op: CnnOp;
  layers: string[];
}

/** Options of {@link compileLayersChain}. */
export interface CompileOptions {
  /** Fold BatchNorm into the preceding conv and fuse the activation (default true). */
  fold?: boolean;
  /** Input `[height, width]` for geometry (default: the model's input shape). */
  inputSize?: [number, number];
  /** Layers that must stay outputs of the chain (fusion never swallows them). */
  keep?: string[];
}

interface LayerLike {
  name: string;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  weights: { name: string; originalName?: string; read(): tf.Tensor }[];
  inboundNodes: { inboundLayers: LayerLike[] }[];
}

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[v.length > 1 ? 1 : 0])];
  if (typeof v === "number") return [v, v];
  return [fallback, fallback];
}

/** The original (not uniquified: a second load renames `conv1/kernel` to `conv1/kernel_1`) name. */
function weightName(v: { name: string; originalName?: string }): string {
  return v.originalName ?? v.name;
}

function findWeight(layer: LayerLike, suffix: string): LayerLike["weights"][number] | undefined {
  return layer.weights.find((v) => {
    const n = weightName(v);
    return n.endsWith("/" + suffix) || n === suffix;
  });
}

function weightBySuffix(layer: LayerLike, suffix: string): tf.Tensor | undefined {
  const w = findWeight(layer, suffix);
  return w ? tf.clone(w.read()) : undefined;
}

/** Host copies of the weights that folding computes with, keyed by the weight variable. */
type HostWeights = Map<object, Float32Array>;

/**
 * Read, in one asynchronous transfer, the weights the compiler needs on the CPU: every
 * BatchNormalization's, and with `fold` every conv's (folding multiplies them in float64).
 * Asynchronous because webgpu has no synchronous readback under Deno (docs/webgpu.md).
 */
async function readHostWeights(layers: LayerLike[], fold: boolean): Promise<HostWeights> {
  const vars = layers.filter((l) => {
    const cls = l.getClassName();
    return cls === "BatchNormalization" ||
      (fold && (cls === "Conv2D" || cls === "DepthwiseConv2D"));
  }).flatMap((l) => l.weights);
  const values = await readTensors(vars.map((v) => v.read()));
  return new Map(vars.map((v, i) => [v, values[i]]));
}

function hostWeight(host: HostWeights, layer: LayerLike, suffix: string): Float32Array | undefined {
  const w = findWeight(layer, suffix);
  if (!w) return undefined;
  const v = host.get(w);
  if (!v) throw new Error(`internal: weight '${weightName(w)}' was not read to the host`);
  return v;
}

function activationName(cfg: tf.serialization.ConfigDict): string {
  const a = cfg.activation;
  return typeof a === "string" ? a : "linear";
}

/** TF 'same'/'valid' output size and leading padding along one axis. */
function padAlong(
  inSize: number,
  k: number,
  s: number,
  d: number,
  pad: "same" | "valid",
): { out: number; before: number } {
  const kEff = (k - 1) * d + 1;
  if (pad === "valid") return { out: Math.ceil((inSize - kEff + 1) / s), before: 0 };
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + kEff - inSize, 0);
  // TF puts the smaller half first: odd totals pad one more at the bottom/right.
  return { out, before: Math.floor(total / 2) };
}

/**
 * A frozen CNN as a chain of tf ops, compiled from a Layers model, with its geometry.
 * Build it with {@link compileLayersChain}.
 */
export class CnnChain {
  private readonly steps: ChainStep[];
  private readonly geometries: Map<string, FeatureGeometry | null>;
  private readonly paramCounts: Map<string, number>;
  /** Names of the layers whose outputs {@link CnnChain.run} can return. */
  readonly outputs: string[];
  /** The last layer of the chain. */
  readonly last: string;

  constructor(
    steps: ChainStep[],
    geometries: Map<string, FeatureGeometry | null>,
    paramCounts: Map<string, number>,
  ) {
    this.steps = steps;
    this.geometries = geometries;
    this.paramCounts = paramCounts;
    this.outputs = steps.map((s) => s.layers[s.layers.length - 1]);
    this.last = this.outputs[this.outputs.length - 1];
  }

  /** Number of compiled steps (fewer than layers when folding fused them). */
  get stepCount(): number {
    return this.steps.length;
  }

  /** Geometry of a layer's output (`null` once the spatial axes are pooled away). */
  geometry(layer: string): FeatureGeometry | null {
    if (!this.geometries.has(layer)) throw unknownLayerError(layer, [...this.geometries.keys()]);
    const g = this.geometries.get(layer)!;
    return g === null || Number.isNaN(g.stride[0]) ? null : g;
  }

  /**
   * Parameters of the original model used up to and including `layer`, counted as PyTorch
   * does (kernels, biases, BatchNorm scale and shift; moving statistics are not parameters).
   */
  parameterCount(layer: string = this.last): number {
    const n = this.paramCounts.get(layer);
    if (n === undefined) throw unknownLayerError(layer, [...this.paramCounts.keys()]);
    return n;
  }

  /**
   * Run the chain on a preprocessed batch and return the outputs of `taps` (in that order).
   * Stops after the last tap.
   */
  run(x: tf.Tensor4D, taps: string[] = [this.last]): tf.Tensor[] {
    const want = new Map<string, number>();
    taps.forEach((t, i) => {
      if (!this.outputs.includes(t)) {
        throw new InputError(
          `layer '${t}' is not an output of the compiled chain (fused into a step, or past its end); ` +
            `available: ${this.outputs.join(", ")}`,
        );
      }
      want.set(t, i);
    });
    const lastIndex = Math.max(...taps.map((t) => this.outputs.indexOf(t)));
    return tf.tidy(() => {
      const out: tf.Tensor[] = new Array(taps.length);
      let h: tf.Tensor = x;
      for (let i = 0; i <= lastIndex; i++) {
        h = applyOp(this.steps[i].op, h);
        const at = want.get(this.outputs[i]);
        if (at !== undefined) out[at] = h;
      }
      return out;
    });
  }

  /** Free all weights. */
  dispose(): void {
    for (const { op } of this.steps) {
      for (const v of Object.values(op)) if (v instanceof tf.Tensor) v.dispose();
    }
  }
}

function applyOp(op: CnnOp, h: tf.Tensor): tf.Tensor {
  switch (op.kind) {
    case "conv":
      return tf.fused.conv2d({
        x: h as tf.Tensor4D,
        filter: op.filter,
        strides: op.strides,
        pad: op.pad,
        dilations: op.dilations,
        bias: op.bias,
        activation: op.activation,
      });
    case "depthwise":
      return tf.fused.depthwiseConv2d({
        x: h as tf.Tensor4D,
        filter: op.filter,
        strides: op.strides,
        pad: op.pad,
        dilations: op.dilations,
        bias: op.bias,
        activation: op.activation,
      });
    case "batchnorm":
      return tf.add(tf.mul(h, op.scale), op.shift);
    case "activation":
      return applyActivation(op.fn, h);
    case "zeropad":
      return tf.pad(h, [[0, 0], op.pad[0], op.pad[1], [0, 0]]);
    case "gap":
      return tf.mean(h, [1, 2], op.keepDims);
    case "reshape":
      return tf.reshape(h, [h.shape[0], ...op.shape]);
    case "flatten":
      return tf.reshape(h, [h.shape[0], -1]);
    case "dense": {
      const y = tf.matMul(h as tf.Tensor2D, op.kernel);
      return applyActivation(op.activation, op.bias ? tf.add(y, op.bias) : y);
    }
    case "identity":
      return h;
  }
}

function applyActivation(fn: string, h: tf.Tensor): tf.Tensor {
  switch (fn) {
    case "linear":
      return h;
    case "relu":
      return tf.relu(h);
    case "relu6":
      return tf.relu6(h);
    case "sigmoid":
      return tf.sigmoid(h);
    case "softmax":
      return tf.softmax(h);
    case "tanh":
      return tf.tanh(h);
    default:
      throw new InputError(`unsupported activation '${fn}'`);
  }
}

/** The chain of layers from the model's input to `to`, in order (requires a plain chain). */
function layerChain(model: tf.LayersModel, to: string): LayerLike[] {
  const names = model.layers.map((l) => l.name);
  if (!names.includes(to)) throw unknownLayerError(to, names, model.name);
  const chain: LayerLike[] = [];
  let layer = model.getLayer(to) as unknown as LayerLike;
  for (;;) {
    chain.push(layer);
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length === 0) break;
    if (inbound.length > 1 || layer.inboundNodes.length > 1) {
      throw new InputError(
        `layer '${layer.name}' has several inputs: only plain chains can be compiled (use the Layers model instead)`,
      );
    }
    layer = inbound[0];
  }
  return chain.reverse();
}

/**
 * Compile a Layers model, from its input up to layer `to` (default: its last layer), into a
 * {@link CnnChain}. Supported layers: InputLayer, Conv2D, DepthwiseConv2D, BatchNormalization,
 * Activation, ReLU, ZeroPadding2D, Dropout, GlobalAveragePooling2D, Reshape, Flatten, Dense.
 * With `fold` (default), conv → BatchNorm → ReLU/ReLU6 triples become one fused conv (BatchNorm
 * in inference form: y = γ (x − μ) / √(σ² + ε) + β, folded into kernel and bias). Fusion
 * never swallows a layer named in `keep` (so it stays an output of the chain).
 *
 * @example
 * ```ts
 * const net = await loadLayersModelFromDir(dir);
 * const chain = await compileLayersChain(net, "conv_pw_11_relu");
 * const [f] = chain.run(tf.zeros([1, 224, 224, 3]));          // [1, 14, 14, C]
 * chain.geometry("conv_pw_11_relu");                           // stride 16, offset 15.5
 * ```
 */
export async function compileLayersChain(
  model: tf.LayersModel,
  to: string = model.layers[model.layers.length - 1].name,
  opts: CompileOptions = {},
): Promise<CnnChain> {
  const fold = opts.fold ?? true;
  const keep = new Set(opts.keep ?? []);
  const layers = layerChain(model, to);
  const host = await readHostWeights(layers, fold);
  const inShape = model.inputs[0].shape;
  const [ih, iw] = opts.inputSize ?? [Number(inShape[1]), Number(inShape[2])];
  if (!Number.isFinite(ih) || !Number.isFinite(iw)) {
    throw new InputError("the model's input size is not fixed: pass inputSize");
  }
  let geo: FeatureGeometry | null = {
    size: [ih, iw],
    channels: Number(inShape[3]),
    stride: [1, 1],
    offset: [0.5, 0.5],
  };
  const geometries = new Map<string, FeatureGeometry | null>();
  const paramCounts = new Map<string, number>();
  let params = 0;
  const steps: ChainStep[] = [];
  const spatial = (name: string): FeatureGeometry => {
    if (geo === null) throw new InputError(`layer '${name}' needs a spatial input`);
    return geo;
  };

  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    params += layer.weights
      .filter((w) => !/moving_(mean|variance)$/.test(weightName(w)))
      .reduce((s, w) => s + w.read().size, 0);
    const names = [layer.name];
    let op: CnnOp;
    switch (cls) {
      case "InputLayer":
      case "Dropout":
      case "SpatialDropout2D":
        op = { kind: "identity" };
        break;
      case "Conv2D":
      case "DepthwiseConv2D": {
        const g = spatial(layer.name);
        const kernelName = cls === "Conv2D" ? "kernel" : "depthwise_kernel";
        let filter = weightBySuffix(layer, kernelName) as tf.Tensor4D;
        let bias = cfg.useBias ? weightBySuffix(layer, "bias") as tf.Tensor1D : undefined;
        const strides = pair(cfg.strides, 1);
        const dilations = pair(cfg.dilationRate, 1);
        const pad = cfg.padding === "valid" ? "valid" : "same";
        if (cfg.padding !== "valid" && cfg.padding !== "same") {
          throw new InputError(`layer '${layer.name}': padding '${cfg.padding}' not supported`);
        }
        const ks = pair(cfg.kernelSize, 1);
        const ay = padAlong(g.size[0], ks[0], strides[0], dilations[0], pad);
        const ax = padAlong(g.size[1], ks[1], strides[1], dilations[1], pad);
        const outC = cls === "Conv2D" ? filter.shape[3] : filter.shape[2] * filter.shape[3];
        geo = {
          size: [ay.out, ax.out],
          channels: outC,
          stride: [g.stride[0] * strides[0], g.stride[1] * strides[1]],
          offset: [
            g.offset[0] + g.stride[0] * (-ay.before + ((ks[0] - 1) * dilations[0]) / 2),
            g.offset[1] + g.stride[1] * (-ax.before + ((ks[1] - 1) * dilations[1]) / 2),
          ],
        };
        let activation = activationName(cfg);
        // Fold a following BatchNorm (only into a linear conv), then fuse a ReLU/ReLU6.
        if (fold && activation === "linear" && !keep.has(layer.name)) {
          const next = layers[i + 1];
          if (next?.getClassName() === "BatchNormalization") {
            const bnCfg = next.getConfig();
            const axis = Array.isArray(bnCfg.axis) ? bnCfg.axis[0] : bnCfg.axis;
            if (axis === -1 || axis === 3) {
              // Fold in float64 so the folded weights carry one rounding each.
              const { scale, shift } = bnScaleShift64(next, Number(bnCfg.epsilon ?? 1e-3), host);
              const fData = hostWeight(host, layer, kernelName)!;
              const outC = scale.length;
              const foldedFilter = new Float32Array(fData.length);
              for (let j = 0; j < fData.length; j++) foldedFilter[j] = fData[j] * scale[j % outC];
              const bData = bias ? hostWeight(host, layer, "bias") : undefined;
              const foldedBias = new Float32Array(outC);
              for (let c = 0; c < outC; c++) {
                foldedBias[c] = (bData ? bData[c] : 0) * scale[c] + shift[c];
              }
              const folded = {
                f: tf.tensor4d(foldedFilter, filter.shape),
                b: tf.tensor1d(foldedBias),
              };
              filter.dispose();
              bias?.dispose();
              filter = folded.f;
              bias = folded.b;
              params += next.weights
                .filter((w) => !/moving_(mean|variance)$/.test(weightName(w)))
                .reduce((s, w) => s + w.read().size, 0);
              names.push(next.name);
              i++;
            }
          }
          const after = layers[i + 1];
          if (after && !keep.has(names[names.length - 1])) {
            const fused = fusableActivation(after);
            if (fused !== null) {
              activation = fused;
              names.push(after.name);
              i++;
            }
          }
        }
        if (activation !== "linear" && activation !== "relu" && activation !== "relu6") {
          steps.push({
            op: {
              kind: cls === "Conv2D" ? "conv" : "depthwise",
              filter,
              bias,
              strides,
              dilations,
              pad,
              activation: "linear",
            },
            layers: [layer.name + "#linear"],
          });
          op = { kind: "activation", fn: activation };
          break;
        }
        op = {
          kind: cls === "Conv2D" ? "conv" : "depthwise",
          filter,
          bias,
          strides,
          dilations,
          pad,
          activation: activation as FusableActivation,
        };
        break;
      }
      case "BatchNormalization": {
        const { scale, shift } = bnScaleShift(layer, Number(cfg.epsilon ?? 1e-3), host);
        op = { kind: "batchnorm", scale, shift };
        break;
      }
      case "Activation":
        op = { kind: "activation", fn: activationName(cfg) };
        break;
      case "ReLU": {
        const fused = fusableActivation(layer);
        if (fused === null) {
          throw new InputError(`layer '${layer.name}': ReLU with these options is not supported`);
        }
        op = { kind: "activation", fn: fused };
        break;
      }
      case "ZeroPadding2D": {
        const g = spatial(layer.name);
        const p = cfg.padding as number | [number, number] | [[number, number], [number, number]];
        const pad: [[number, number], [number, number]] = typeof p === "number"
          ? [[p, p], [p, p]]
          : Array.isArray(p[0])
          ? p as [[number, number], [number, number]]
          : [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]];
        geo = {
          size: [g.size[0] + pad[0][0] + pad[0][1], g.size[1] + pad[1][0] + pad[1][1]],
          channels: g.channels,
          stride: g.stride,
          offset: [g.offset[0] - g.stride[0] * pad[0][0], g.offset[1] - g.stride[1] * pad[1][0]],
        };
        op = { kind: "zeropad", pad };
        break;
      }
      case "GlobalAveragePooling2D":
        spatial(layer.name);
        op = { kind: "gap", keepDims: Boolean(cfg.keepDims) };
        geo = null;
        break;
      case "Reshape": {
        const shape = (cfg.targetShape as number[]).map(Number);
        op = { kind: "reshape", shape };
        // A rank-3 reshape (e.g. pooled [1, 1, C] before a 1×1 conv classifier) is spatial
        // again, but its cells no longer sit anywhere on the input: NaN geometry.
        geo = shape.length === 3
          ? {
            size: [shape[0], shape[1]],
            channels: shape[2],
            stride: [NaN, NaN],
            offset: [NaN, NaN],
          }
          : null;
        break;
      }
      case "Flatten":
        op = { kind: "flatten" };
        geo = null;
        break;
      case "Dense": {
        const kernel = weightBySuffix(layer, "kernel") as tf.Tensor2D;
        const bias = cfg.useBias ? weightBySuffix(layer, "bias") as tf.Tensor1D : undefined;
        op = { kind: "dense", kernel, bias, activation: activationName(cfg) };
        geo = null;
        break;
      }
      default:
        throw new InputError(
          `layer '${layer.name}' of class ${cls} cannot be compiled (use the Layers model instead)`,
        );
    }
    for (const n of names) geometries.set(n, geo === null ? null : { ...geo });
    for (const n of names) paramCounts.set(n, params);
    steps.push({ op, layers: names });
  }
  return new CnnChain(steps, geometries, paramCounts);
}

function fusableActivation(layer: LayerLike): FusableActivation | null {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  if (cls === "Activation") {
    const a = activationName(cfg);
    return a === "relu" || a === "relu6" || a === "linear" ? a : null;
  }
  if (cls === "ReLU") {
    const negSlope = Number(cfg.negativeSlope ?? 0);
    const threshold = Number(cfg.threshold ?? 0);
    if (negSlope !== 0 || threshold !== 0) return null;
    const max = cfg.maxValue;
    if (max === null || max === undefined) return "relu";
    return Number(max) === 6 ? "relu6" : null;
  }
  return null;
}

/** BatchNorm in inference form y = x · scale + shift, computed in float64. */
function bnScaleShift64(
  layer: LayerLike,
  epsilon: number,
  host: HostWeights,
): { scale: Float64Array; shift: Float64Array } {
  const read = (suffix: string) => hostWeight(host, layer, suffix);
  const mean = read("moving_mean"), variance = read("moving_variance");
  if (!mean || !variance) {
    throw new InputError(`BatchNormalization '${layer.name}' lacks its moving statistics`);
  }
  const gamma = read("gamma"), beta = read("beta");
  const scale = new Float64Array(mean.length), shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + epsilon);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

function bnScaleShift(
  layer: LayerLike,
  epsilon: number,
  host: HostWeights,
): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const { scale, shift } = bnScaleShift64(layer, epsilon, host);
  return {
    scale: tf.tensor1d(Float32Array.from(scale)),
    shift: tf.tensor1d(Float32Array.from(shift)),
  };
}
