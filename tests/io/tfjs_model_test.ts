import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import {
  fileModelHandler,
  layersSubModel,
  loadGraphModelFromDir,
  loadLayersModelFromDir,
} from "../../lib/io/tfjs_model.ts";

/** A tiny conv net with BatchNorm and ReLU6, like one MobileNet stage. */
function tinyNet(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({
    inputShape: [8, 8, 3],
    filters: 4,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
    name: "conv1",
  }));
  m.add(tf.layers.batchNormalization({ name: "conv1_bn" }));
  m.add(tf.layers.activation({ activation: "relu6", name: "conv1_relu" }));
  m.add(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: false, name: "dw" }));
  m.add(tf.layers.activation({ activation: "relu6", name: "dw_relu" }));
  return m;
}

/**
 * Save a Layers model as model.json + one shard per weight (`groupN-shard1of1`), the layout
 * the published tfjs files use.
 */
async function saveToDir(model: tf.LayersModel, dir: string): Promise<string[]> {
  const shards: string[] = [];
  await model.save({
    save: async (a: tf.io.ModelArtifacts) => {
      const data = new Uint8Array(a.weightData as ArrayBuffer);
      const manifest = [];
      let at = 0;
      for (const [i, spec] of a.weightSpecs!.entries()) {
        const bytes = spec.shape.reduce((x, y) => x * y, 1) * 4;
        const name = `group${i + 1}-shard1of1`;
        await Deno.writeFile(join(dir, name), data.subarray(at, at + bytes));
        at += bytes;
        shards.push(name);
        manifest.push({ paths: [name], weights: [spec] });
      }
      await Deno.writeTextFile(
        join(dir, "model.json"),
        JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: manifest }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    },
  });
  return shards;
}

async function withSavedNet(
  fn: (dir: string, net: tf.Sequential, shards: string[]) => Promise<void>,
): Promise<void> {
  await initBackend("cpu");
  const net = tinyNet();
  // Non-trivial BatchNorm statistics.
  const bn = net.getLayer("conv1_bn");
  bn.setWeights(bn.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, "float32", i)));
  const dir = await Deno.makeTempDir();
  try {
    const shards = await saveToDir(net, dir);
    await fn(dir, net, shards);
  } finally {
    net.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tfjs model from disk: loads and predicts as the saved model", async () => {
  await withSavedNet(async (dir, net) => {
    const loaded = await loadLayersModelFromDir(dir);
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, "float32", 7);
    const a = net.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
    assertEquals(b.shape, [2, 4, 4, 4]);
    assertArrayClose(b.dataSync(), a.dataSync(), 1e-6);
    const sub = layersSubModel(loaded, "conv1_relu");
    assertEquals((sub.predict(x) as tf.Tensor).shape, [2, 4, 4, 4]);
    tf.dispose([x, a, b]);
    loaded.dispose();
  });
});

Deno.test("tfjs model from disk: missing shard → error naming the shard", async () => {
  await withSavedNet(async (dir, _net, shards) => {
    await Deno.remove(join(dir, shards[1]));
    const err = await assertRejects(
      () => loadLayersModelFromDir(dir),
      `weight shard '${shards[1]}'`,
      "missing",
      "needs 16 bytes",
    );
    assertEquals(err.name, "InputError");
  });
});

Deno.test("tfjs model from disk: short or long shard → error with expected and actual sizes", async () => {
  await withSavedNet(async (dir, _net, shards) => {
    const path = join(dir, shards[0]);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 4));
    await assertRejects(
      () => loadLayersModelFromDir(dir),
      `'${shards[0]}' (${bytes.length - 4} bytes)`,
      `need ${bytes.length} bytes`,
      "conv1/kernel",
    );
    await Deno.writeFile(path, new Uint8Array(bytes.length + 8));
    await assertRejects(() => loadLayersModelFromDir(dir), `(${bytes.length + 8} bytes)`);
  });
});

Deno.test("tfjs model from disk: unknown layer lists the available ones; no model.json", async () => {
  await withSavedNet(async (dir) => {
    const loaded = await loadLayersModelFromDir(dir);
    const err = await assertRejects(
      () => layersSubModel(loaded, "conv_pw_11_relu"),
      "layer 'conv_pw_11_relu' is not in",
      "conv1_relu, dw_relu",
      "conv1_bn",
    );
    assertEquals(err.name, "InputError");
    loaded.dispose();
  });
  const empty = await Deno.makeTempDir();
  try {
    await assertRejects(() => fileModelHandler(empty).load!(), "model.json not found");
    await Deno.writeTextFile(join(empty, "model.json"), "{ not json");
    await assertRejects(() => fileModelHandler(empty).load!(), "model.json is not JSON");
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("tfjs graph model from disk: a hand-written MatMul graph loads and runs", async () => {
  await initBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const shape = (dims: number[]) => ({ dim: dims.map((d) => ({ size: String(d) })) });
    const topology = {
      node: [
        {
          name: "x",
          op: "Placeholder",
          attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: shape([-1, 2]) } },
        },
        {
          name: "w",
          op: "Const",
          attr: {
            dtype: { type: "DT_FLOAT" },
            value: { tensor: { dtype: "DT_FLOAT", tensorShape: shape([2, 1]) } },
          },
        },
        {
          name: "y",
          op: "MatMul",
          input: ["x", "w"],
          attr: { T: { type: "DT_FLOAT" }, transpose_a: { b: false }, transpose_b: { b: false } },
        },
      ],
      versions: { producer: 1 },
    };
    await Deno.writeTextFile(
      join(dir, "model.json"),
      JSON.stringify({
        format: "graph-model",
        modelTopology: topology,
        weightsManifest: [{
          paths: ["group1-shard1of1.bin"],
          weights: [{ name: "w", shape: [2, 1], dtype: "float32" }],
        }],
      }),
    );
    await Deno.writeFile(
      join(dir, "group1-shard1of1.bin"),
      new Uint8Array(new Float32Array([2, -3]).buffer),
    );
    const g = await loadGraphModelFromDir(dir);
    const y = g.predict(tf.tensor2d([[1, 1], [4, 2]])) as tf.Tensor;
    assertArrayClose(y.dataSync(), [-1, 2]);
    g.dispose();
    // A quantized uint8 weight needs 1 byte per value: a 2-value shard of 8 bytes is wrong.
    const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
    json.weightsManifest[0].weights[0].quantization = { dtype: "uint8", scale: 1, min: 0 };
    await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(json));
    await assertRejects(() => loadGraphModelFromDir(dir), "hold 8 bytes", "need 2 bytes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
