/**
 * Loading TensorFlow.js models (Layers and graph `model.json` + binary weight shards) from a
 * folder on disk. tfjs's own `file://` handler exists only in tfjs-node, so this module
 * provides an `IOHandler` that reads model.json and every shard itself, checking each shard
 * against what the manifest's weight specs need before tfjs sees the bytes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "./errors.ts";

/** One entry of a model.json `weightsManifest`. */
interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
  complex64: 8,
};

/** Bytes one weight occupies in its shard (quantized weights are stored in their quantized type). */
function weightBytes(w: tf.io.WeightsManifestEntry, file: string): number {
  const count = w.shape.reduce((a, b) => a * b, 1);
  const stored = w.quantization?.dtype ?? w.dtype;
  const per = DTYPE_BYTES[stored];
  if (per === undefined) {
    throw new InputError(`weight '${w.name}' has unsupported stored dtype '${stored}'`, { file });
  }
  return count * per;
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * An `IOHandler` reading a tfjs model folder (`model.json` + weight shards) from disk.
 * `load()` checks that every shard named by the manifest exists and that each manifest
 * group's shards hold exactly the bytes its weight specs need; errors name the shard and
 * the expected and actual sizes. Returns the topology, the weight specs (groups
 * concatenated in manifest order) and one ArrayBuffer of all shards in the same order.
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel(fileModelHandler("data/models/mobilenet_v1_0.25_224"));
 * ```
 */
export function fileModelHandler(dir: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = join(dir, "model.json");
      let json: {
        modelTopology?: tf.io.ModelJSON["modelTopology"];
        weightsManifest?: ManifestGroup[];
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        signature?: unknown;
        userDefinedMetadata?: Record<string, unknown>;
        modelInitializer?: unknown;
        trainingConfig?: tf.io.TrainingConfig;
      };
      try {
        json = JSON.parse(await Deno.readTextFile(jsonPath));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          throw new InputError("model.json not found", { file: jsonPath });
        }
        if (err instanceof SyntaxError) {
          throw new InputError(`model.json is not JSON (${err.message})`, { file: jsonPath });
        }
        throw err;
      }
      if (json.modelTopology === undefined) {
        throw new InputError("model.json has no modelTopology", { file: jsonPath });
      }
      const manifest = json.weightsManifest ?? [];
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const shardPaths: string[] = [];
      let total = 0;
      for (const group of manifest) {
        const need = group.weights.reduce((s, w) => s + weightBytes(w, jsonPath), 0);
        const sizes: number[] = [];
        for (const rel of group.paths) {
          const path = join(dir, rel);
          const size = await fileSize(path);
          if (size === null) {
            throw new InputError(
              `weight shard '${rel}' named in model.json is missing (its group needs ${need} bytes)`,
              { file: path },
            );
          }
          sizes.push(size);
          shardPaths.push(path);
        }
        const have = sizes.reduce((a, b) => a + b, 0);
        if (have !== need) {
          const names = group.paths.map((p, i) => `'${p}' (${sizes[i]} bytes)`).join(", ");
          const what = group.paths.length === 1
            ? `weight shard ${names}`
            : `weight shards ${names} together`;
          throw new InputError(
            `${what} hold ${have} bytes, but the weights [${
              group.weights.map((w) => w.name).join(", ")
            }] need ${need} bytes`,
            { file: join(dir, group.paths[group.paths.length - 1] ?? "") },
          );
        }
        weightSpecs.push(...group.weights);
        total += need;
      }
      const data = new Uint8Array(total);
      let at = 0;
      for (const path of shardPaths) {
        const bytes = await Deno.readFile(path);
        data.set(bytes, at);
        at += bytes.length;
      }
      if (at !== total) {
        throw new InputError(`weight shards changed while reading (${at} of ${total} bytes)`, {
          file: dir,
        });
      }
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: data.buffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      };
      if (json.signature !== undefined) artifacts.signature = json.signature as object;
      if (json.userDefinedMetadata !== undefined) {
        artifacts.userDefinedMetadata = json.userDefinedMetadata as Record<string, object>;
      }
      if (json.modelInitializer !== undefined) {
        artifacts.modelInitializer = json.modelInitializer as object;
      }
      if (json.trainingConfig !== undefined) artifacts.trainingConfig = json.trainingConfig;
      return artifacts;
    },
  };
}

/**
 * Load a tfjs Layers model (`model.json` + shards) from a folder.
 *
 * @example
 * ```ts
 * const net = await loadLayersModelFromDir("../shared/data/mobilenet/mobilenet_v1_0.25_224");
 * const probs = net.predict(tf.zeros([1, 224, 224, 3])) as tf.Tensor;
 * ```
 */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  return await tf.loadLayersModel(fileModelHandler(dir));
}

/**
 * Load a tfjs graph model (converter output, `format: "graph-model"`) from a folder.
 *
 * @example
 * ```ts
 * const g = await loadGraphModelFromDir("models/my_graph_model");
 * const y = g.predict(x) as tf.Tensor;
 * ```
 */
export async function loadGraphModelFromDir(dir: string): Promise<tf.GraphModel> {
  return await tf.loadGraphModel(fileModelHandler(dir));
}

/**
 * A sub-model of `model` from its inputs to the output of the layer called `layerName`.
 * An unknown name raises an error listing the model's layers (activation layers, whose
 * names end in `_relu`, first: those are the usual feature taps).
 *
 * @example
 * ```ts
 * const trunk = layersSubModel(net, "conv_pw_11_relu");   // [B,224,224,3] → [B,14,14,C]
 * ```
 */
export function layersSubModel(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const names = model.layers.map((l) => l.name);
  if (!names.includes(layerName)) throw unknownLayerError(layerName, names, model.name);
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layerName).output });
}

/** The error for a layer name a model lacks; lists the available layers. */
export function unknownLayerError(layerName: string, names: string[], modelName = "model"): Error {
  const relu = names.filter((n) => /_relu$/.test(n));
  const others = names.filter((n) => !/_relu$/.test(n));
  const list = relu.length > 0
    ? `feature taps (*_relu): ${relu.join(", ")}; other layers: ${others.join(", ")}`
    : `layers: ${names.join(", ")}`;
  return new InputError(`layer '${layerName}' is not in ${modelName}; available ${list}`);
}
