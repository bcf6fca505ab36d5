/**
 * Frozen tfjs Layers CNNs (MobileNet v1 as published for TensorFlow.js) behind
 * {@link PatchEncoder}, and the same networks as ImageNet classifiers whose class activation
 * maps serve as class-agnostic localization cues.
 *
 * Two execution modes give the same numbers (tested to 1e-4 on the real files):
 * - `folded` (default): BatchNorm folded into each conv once at load time, one fused
 *   conv + bias + ReLU6 kernel per layer ({@link compileLayersChain});
 * - `layers`: tfjs's own `LayersModel.predict` on a sub-model up to the tap layer.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../io/errors.ts";
import { layersSubModel, loadLayersModelFromDir, unknownLayerError } from "../io/tfjs_model.ts";
import { matMul } from "../backend/matmul.ts";
import type { PatchEncoder } from "./encoder.ts";
import { readTensors } from "../backend/read.ts";
import { type CnnChain, compileLayersChain, type FeatureGeometry } from "./tfjs_cnn.ts";

/** Folder of the MobileNet v1 0.25 model vendored with the project (Apache-2.0, see NOTICE). */
export const DEFAULT_MOBILENET_DIR: string = fileURLToPath(
  new URL("../../data/models/mobilenet_v1_0.25_224", import.meta.url),
);

/** The tap giving a 14×14 grid at stride 16 (the grid of a ViT-B/16). */
export const MOBILENET_STRIDE16_LAYER = "conv_pw_11_relu";
/** The last feature layer (7×7 at stride 32), input of the classifier. */
export const MOBILENET_STRIDE32_LAYER = "conv_pw_13_relu";

/** Input scaling `x · scale + offset` applied to raw 0..255 RGB. */
export interface PixelScaling {
  scale: number;
  offset: number;
}

/** MobileNet's own preprocessing: x / 127.5 − 1 (inputs in [−1, 1]). */
export const MOBILENET_SCALING: PixelScaling = { scale: 1 / 127.5, offset: -1 };

/** How a tfjs CNN runs: folded op chain (fast) or tfjs's LayersModel.predict (reference). */
export type CnnMode = "folded" | "layers";

/** Options of {@link TfjsCnnEncoder.load}. */
export interface TfjsCnnEncoderOptions {
  /** Layer whose output gives the tokens (default `conv_pw_11_relu`). */
  layer?: string;
  /** Execution mode (default `folded`). */
  mode?: CnnMode;
  /** Input scaling (default MobileNet's x/127.5 − 1). */
  scaling?: PixelScaling;
  /** Name used in the id (default: the folder's name). */
  name?: string;
  /**
   * Square input side to run at instead of the model's own (folded mode only: the network is
   * fully convolutional, so the grid grows with the input); the id then ends in `@<side>px`.
   */
  inputSize?: number;
}

/** The serialisable recipe of a {@link TfjsCnnEncoder} (what a worker needs to rebuild it). */
export interface TfjsCnnEncoderSpec extends TfjsCnnEncoderOptions {
  kind: "tfjs-cnn";
  /** Model folder (`model.json` + shards). */
  dir: string;
}

function square(g: FeatureGeometry, what: string): { stride: number; offset: number } {
  if (g.stride[0] !== g.stride[1] || g.offset[0] !== g.offset[1]) {
    throw new InputError(`${what}: stride/offset differ between axes (${g.stride}, ${g.offset})`);
  }
  return { stride: g.stride[0], offset: g.offset[0] };
}

async function weightsDigest(dir: string): Promise<string> {
  // Identify the weights by model.json (names, shapes, shard list) and the shard sizes/bytes.
  const json = await Deno.readFile(join(dir, "model.json"));
  const spec = JSON.parse(new TextDecoder().decode(json)) as {
    weightsManifest?: { paths: string[] }[];
  };
  const parts: Uint8Array[] = [json];
  for (const g of spec.weightsManifest ?? []) {
    for (const p of g.paths) parts.push(await Deno.readFile(join(dir, p)));
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...hash.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A frozen tfjs Layers CNN as a {@link PatchEncoder}: tokens are the cells of one layer's
 * feature map, row-major. The geometry (stride, cell offset) is derived from the layer
 * configs: MobileNet v1's `conv_pw_11_relu` is 14×14 at stride 16 with cells centred at
 * `16 i + 15.5`; `conv_pw_13_relu` is 7×7 at stride 32, `32 i + 31.5`.
 *
 * @example
 * ```ts
 * await initBackend("wasm");
 * const enc = await TfjsCnnEncoder.load("../shared/data/mobilenet/mobilenet_v1_0.75_224");
 * const tokens = enc.encode(images);          // [B, 196, 384]
 * enc.dispose();
 * ```
 */
export class TfjsCnnEncoder implements PatchEncoder {
  readonly id: string;
  readonly inputSize: number;
  readonly grid: [number, number];
  readonly dim: number;
  readonly stride: number;
  readonly cellOffset: number;
  /** The layer the tokens come from. */
  readonly layer: string;
  /** Execution mode. */
  readonly mode: CnnMode;
  /** Recipe to rebuild this encoder elsewhere (e.g. in a worker). */
  readonly spec: TfjsCnnEncoderSpec;
  /** Short digest of model.json and the weight shards (for cache keys). */
  readonly fingerprint: string;
  private readonly scaling: PixelScaling;
  private readonly chain: CnnChain | null;
  private readonly subModel: tf.LayersModel | null;
  private readonly fullModel: tf.LayersModel | null;
  private readonly params: number;

  private constructor(init: {
    id: string;
    layer: string;
    mode: CnnMode;
    spec: TfjsCnnEncoderSpec;
    fingerprint: string;
    inputSize: number;
    geometry: FeatureGeometry;
    scaling: PixelScaling;
    chain: CnnChain | null;
    subModel: tf.LayersModel | null;
    fullModel: tf.LayersModel | null;
    params: number;
  }) {
    const { stride, offset } = square(init.geometry, init.layer);
    this.id = init.id;
    this.layer = init.layer;
    this.mode = init.mode;
    this.spec = init.spec;
    this.fingerprint = init.fingerprint;
    this.inputSize = init.inputSize;
    this.grid = [init.geometry.size[0], init.geometry.size[1]];
    this.dim = init.geometry.channels;
    this.stride = stride;
    this.cellOffset = offset;
    this.scaling = init.scaling;
    this.chain = init.chain;
    this.subModel = init.subModel;
    this.fullModel = init.fullModel;
    this.params = init.params;
  }

  /** Load the model in `dir` and tap `opts.layer` (default `conv_pw_11_relu`). */
  static async load(dir: string, opts: TfjsCnnEncoderOptions = {}): Promise<TfjsCnnEncoder> {
    const layer = opts.layer ?? MOBILENET_STRIDE16_LAYER;
    const mode = opts.mode ?? "folded";
    const scaling = opts.scaling ?? MOBILENET_SCALING;
    const name = opts.name ?? basename(dir.replace(/\/+$/, ""));
    const model = await loadLayersModelFromDir(dir);
    let ok = false;
    try {
      const names = model.layers.map((l) => l.name);
      if (!names.includes(layer)) throw unknownLayerError(layer, names, name);
      const ownSize = Number(model.inputs[0].shape[1]);
      const inputSize = opts.inputSize ?? ownSize;
      const resized = inputSize !== ownSize;
      if (resized && mode !== "folded") {
        throw new InputError(
          `${name}: input size ${inputSize} needs mode 'folded' (got '${mode}')`,
        );
      }
      // The folded chain knows the geometry in both modes.
      const chain = await compileLayersChain(model, layer, {
        fold: mode === "folded",
        keep: [layer],
        inputSize: [inputSize, inputSize],
      });
      const geometry = chain.geometry(layer);
      if (geometry === null) {
        chain.dispose();
        throw new InputError(`layer '${layer}' of ${name} has no spatial grid (pooled)`);
      }
      const params = chain.parameterCount(layer);
      let subModel: tf.LayersModel | null = null;
      if (mode === "layers") {
        chain.dispose();
        subModel = layersSubModel(model, layer);
      }
      const encoder = new TfjsCnnEncoder({
        id: `${name}@${layer}${resized ? `@${inputSize}px` : ""}`,
        layer,
        mode,
        spec: {
          kind: "tfjs-cnn",
          dir,
          layer,
          mode,
          scaling,
          name,
          ...(resized ? { inputSize } : {}),
        },
        fingerprint: await weightsDigest(dir),
        inputSize,
        geometry,
        scaling,
        chain: mode === "folded" ? chain : null,
        subModel,
        fullModel: mode === "layers" ? model : null,
        params,
      });
      ok = true;
      return encoder;
    } finally {
      // The layers-mode sub-model shares the loaded weights: keep them unless loading failed.
      if (mode === "folded" || !ok) model.dispose();
    }
  }

  /** The preprocessed input `[B, S, S, 3]` for this network. */
  preprocess(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.add(tf.mul(images, this.scaling.scale), this.scaling.offset));
  }

  /** Feature map `[B, gh, gw, dim]` of raw 0..255 images. */
  featureMap(images: tf.Tensor4D): tf.Tensor4D {
    const s = images.shape;
    if (s[1] !== this.inputSize || s[2] !== this.inputSize || s[3] !== 3) {
      throw new InputError(
        `${this.id} expects images [B, ${this.inputSize}, ${this.inputSize}, 3], got [${s}]`,
      );
    }
    return tf.tidy(() => {
      const x = this.preprocess(images);
      if (this.chain) return this.chain.run(x, [this.layer])[0] as tf.Tensor4D;
      return this.subModel!.predict(x) as tf.Tensor4D;
    });
  }

  encode(images: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const f = this.featureMap(images);
      return f.reshape([f.shape[0], f.shape[1] * f.shape[2], f.shape[3]]) as tf.Tensor3D;
    });
  }

  parameterCount(): number {
    return this.params;
  }

  dispose(): void {
    this.chain?.dispose();
    // The sub-model shares its weights with the full model: dispose the full one only.
    this.fullModel?.dispose();
  }
}

/**
 * The MobileNet v1 0.25 encoder vendored with the project, tapped at `conv_pw_11_relu`
 * (14×14 tokens of dimension 128, stride 16, cell offset 15.5): the embedded default.
 *
 * @example
 * ```ts
 * await initBackend();
 * const enc = await defaultEncoder();
 * ```
 */
export async function defaultEncoder(
  opts: Omit<TfjsCnnEncoderOptions, "name"> = {},
): Promise<TfjsCnnEncoder> {
  return await TfjsCnnEncoder.load(DEFAULT_MOBILENET_DIR, {
    ...opts,
    name: "mobilenet_v1_0.25_224",
  });
}

/** Options of {@link TfjsCnnClassifier.load}. */
export interface TfjsCnnClassifierOptions {
  /** The last spatial feature layer, input of global pooling (default `conv_pw_13_relu`). */
  featureLayer?: string;
  /** Execution mode (default `folded`; `layers`: tfjs's own LayersModel.predict). */
  mode?: CnnMode;
  /** Input scaling (default MobileNet's). */
  scaling?: PixelScaling;
  /** Name used in ids (default: the folder's name). */
  name?: string;
}

/** The serialisable recipe of a {@link TfjsCnnClassifier}. */
export interface TfjsCnnClassifierSpec extends TfjsCnnClassifierOptions {
  kind: "tfjs-cnn-classifier";
  dir: string;
}

/** Top classes and class activation maps of a batch. */
export interface CamResult {
  /** `[B][k]` class indices, most probable first. */
  topClasses: number[][];
  /** `[B][k]` their softmax probabilities. */
  topProbs: number[][];
  /** `[B, h*w]` raw maps Σ_k p_k · CAM_k, row-major on the feature grid. */
  maps: Float32Array;
  /** Geometry of the feature grid the maps live on. */
  geometry: FeatureGeometry;
}

/**
 * A tfjs CNN classifier ending in global average pooling → linear classifier (a 1×1 conv or
 * a dense layer) → softmax, as MobileNet v1 does. Because the classifier is linear after the
 * pooling, class activation maps are exact: CAM_k = Σ_c W[c, k] · f_c on the feature grid.
 *
 * @example
 * ```ts
 * const clf = await TfjsCnnClassifier.load("../shared/data/mobilenet/mobilenet_v1_0.25_224");
 * const { topClasses } = await clf.cam(images, 5);
 * clf.labels[topClasses[0][0]];   // "goldfinch, Carduelis carduelis"
 * ```
 */
export class TfjsCnnClassifier {
  /** Class labels from the folder's metadata.json (`labels`), or class indices as strings. */
  readonly labels: string[];
  readonly featureLayer: string;
  readonly id: string;
  readonly inputSize: number;
  readonly spec: TfjsCnnClassifierSpec;
  readonly fingerprint: string;
  /** Geometry of the feature grid. */
  readonly geometry: FeatureGeometry;
  private readonly chain: CnnChain | null;
  /** Layers mode: features and probabilities from tfjs's own predict. */
  private readonly twoOutputs: tf.LayersModel | null;
  private readonly fullModel: tf.LayersModel | null;
  private readonly weightsT: tf.Tensor2D; // [K, C]
  private readonly scaling: PixelScaling;
  private readonly outputLayer: string;

  private constructor(init: {
    labels: string[];
    featureLayer: string;
    outputLayer: string;
    id: string;
    inputSize: number;
    spec: TfjsCnnClassifierSpec;
    fingerprint: string;
    geometry: FeatureGeometry;
    chain: CnnChain | null;
    twoOutputs: tf.LayersModel | null;
    fullModel: tf.LayersModel | null;
    weightsT: tf.Tensor2D;
    scaling: PixelScaling;
  }) {
    this.labels = init.labels;
    this.featureLayer = init.featureLayer;
    this.outputLayer = init.outputLayer;
    this.id = init.id;
    this.inputSize = init.inputSize;
    this.spec = init.spec;
    this.fingerprint = init.fingerprint;
    this.geometry = init.geometry;
    this.chain = init.chain;
    this.twoOutputs = init.twoOutputs;
    this.fullModel = init.fullModel;
    this.weightsT = init.weightsT;
    this.scaling = init.scaling;
  }

  /** Load the classifier in `dir`. */
  static async load(dir: string, opts: TfjsCnnClassifierOptions = {}): Promise<TfjsCnnClassifier> {
    const featureLayer = opts.featureLayer ?? MOBILENET_STRIDE32_LAYER;
    const scaling = opts.scaling ?? MOBILENET_SCALING;
    const name = opts.name ?? basename(dir.replace(/\/+$/, ""));
    const mode = opts.mode ?? "folded";
    const model = await loadLayersModelFromDir(dir);
    let keepModel = false;
    try {
      const names = model.layers.map((l) => l.name);
      if (!names.includes(featureLayer)) throw unknownLayerError(featureLayer, names, name);
      const { weightsT, outputLayer } = linearHead(model, featureLayer, name);
      const chain = await compileLayersChain(model, outputLayer, {
        fold: mode === "folded",
        keep: [featureLayer],
      });
      const geometry = chain.geometry(featureLayer);
      if (geometry === null) {
        chain.dispose();
        weightsT.dispose();
        throw new InputError(`layer '${featureLayer}' has no spatial grid`);
      }
      let labels: string[] = [];
      try {
        const meta = JSON.parse(await Deno.readTextFile(join(dir, "metadata.json")));
        if (Array.isArray(meta.labels)) labels = meta.labels.map(String);
      } catch {
        // labels are optional
      }
      const classes = weightsT.shape[0];
      if (labels.length !== classes) labels = Array.from({ length: classes }, (_, i) => String(i));
      let twoOutputs: tf.LayersModel | null = null;
      if (mode === "layers") {
        chain.dispose();
        twoOutputs = tf.model({
          inputs: model.inputs,
          outputs: [
            model.getLayer(featureLayer).output,
            model.getLayer(outputLayer).output,
          ] as tf.SymbolicTensor[],
        });
      }
      const classifier = new TfjsCnnClassifier({
        labels,
        featureLayer,
        outputLayer,
        id: `${name}@${featureLayer}`,
        inputSize: Number(model.inputs[0].shape[1]),
        spec: { kind: "tfjs-cnn-classifier", dir, featureLayer, mode, scaling, name },
        fingerprint: await weightsDigest(dir),
        geometry,
        chain: mode === "folded" ? chain : null,
        twoOutputs,
        fullModel: mode === "layers" ? model : null,
        weightsT,
        scaling,
      });
      keepModel = mode === "layers";
      return classifier;
    } finally {
      // Layers mode predicts with the loaded model's own layers: keep them.
      if (!keepModel) model.dispose();
    }
  }

  /** Feature map `[B, h, w, C]` and class probabilities `[B, K]` of raw 0..255 images. */
  forward(images: tf.Tensor4D): { features: tf.Tensor4D; probs: tf.Tensor2D } {
    const s = images.shape;
    if (s[1] !== this.inputSize || s[2] !== this.inputSize || s[3] !== 3) {
      throw new InputError(
        `${this.id} expects images [B, ${this.inputSize}, ${this.inputSize}, 3], got [${s}]`,
      );
    }
    const [features, out] = tf.tidy(() => {
      const x = tf.add(tf.mul(images, this.scaling.scale), this.scaling.offset) as tf.Tensor4D;
      if (this.chain) return this.chain.run(x, [this.featureLayer, this.outputLayer]);
      return this.twoOutputs!.predict(x) as tf.Tensor[];
    });
    const probs = tf.tidy(() => out.reshape([s[0], -1]) as tf.Tensor2D);
    out.dispose();
    return { features: features as tf.Tensor4D, probs };
  }

  /** Class probabilities `[B, K]`. */
  classify(images: tf.Tensor4D): tf.Tensor2D {
    const { features, probs } = this.forward(images);
    features.dispose();
    return probs;
  }

  /**
   * Top-`k` classes and the map Σ_k p_k · CAM_k over them (class-agnostic: it follows what
   * the network sees, whatever its class). Raw values, on the feature grid. One asynchronous
   * read of maps, classes and probabilities together (works on every backend).
   */
  async cam(images: tf.Tensor4D, k = 5): Promise<CamResult> {
    const { features, probs } = this.forward(images);
    const B = images.shape[0];
    const [h, w, C] = [features.shape[1], features.shape[2], features.shape[3]];
    const { maps, idx, val } = tf.tidy(() => {
      const top = tf.topk(probs, k);
      const rows = tf.gather(this.weightsT, top.indices.reshape([-1])).reshape([B, k, C]);
      const v = tf.sum(tf.mul(rows, top.values.expandDims(2)), 1); // [B, C]
      const m = matMul(features.reshape([B, h * w, C]), v.expandDims(2)).reshape([B, h * w]);
      return { maps: m, idx: top.indices, val: top.values };
    });
    features.dispose();
    probs.dispose();
    const [mapData, idxF, valF] = await readTensors([maps, idx, val], { dispose: true });
    const rows = (v: Float32Array) =>
      Array.from({ length: B }, (_, b) => Array.from(v.subarray(b * k, (b + 1) * k)));
    return { topClasses: rows(idxF), topProbs: rows(valF), maps: mapData, geometry: this.geometry };
  }

  /** Free the weights. */
  dispose(): void {
    this.chain?.dispose();
    this.fullModel?.dispose();
    this.weightsT.dispose();
  }
}

/** Find GAP → (Reshape|Dropout|Flatten)* → linear (1×1 conv or Dense) after `featureLayer`. */
function linearHead(
  model: tf.LayersModel,
  featureLayer: string,
  name: string,
): { weightsT: tf.Tensor2D; outputLayer: string } {
  const consumers = (layerName: string) =>
    model.layers.filter((l) =>
      (l.inboundNodes[0]?.inboundLayers ?? []).some((p) => p.name === layerName)
    );
  const fail = (why: string) =>
    new InputError(
      `${name}: class activation maps need '${featureLayer}' → global average pooling → linear classifier; ${why}`,
    );
  let cur = featureLayer;
  let sawPool = false;
  for (;;) {
    const next = consumers(cur);
    if (next.length !== 1) throw fail(`'${cur}' feeds ${next.length} layers`);
    const layer = next[0];
    const cls = layer.getClassName();
    if (cls === "GlobalAveragePooling2D") sawPool = true;
    else if (cls === "Reshape" || cls === "Dropout" || cls === "Flatten") {
      // shape plumbing
    } else if ((cls === "Conv2D" || cls === "Dense") && sawPool) {
      const kernel = layer.getWeights()[0];
      if (cls === "Conv2D" && (kernel.shape[0] !== 1 || kernel.shape[1] !== 1)) {
        throw fail(`'${layer.name}' is not a 1×1 convolution`);
      }
      const act = layer.getConfig().activation;
      if (act !== "linear" && act !== "softmax") {
        throw fail(`'${layer.name}' has activation ${act}`);
      }
      const K = kernel.shape[kernel.shape.length - 1];
      const weightsT = tf.tidy(() => kernel.reshape([-1, K]).transpose() as tf.Tensor2D);
      // The chain runs to the model's end (softmax); find that end.
      let end = layer.name;
      for (;;) {
        const after = consumers(end);
        if (after.length !== 1) break;
        end = after[0].name;
      }
      return { weightsT, outputLayer: end };
    } else throw fail(`found ${cls} '${layer.name}'`);
    cur = layer.name;
  }
}
