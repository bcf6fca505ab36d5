import * as tf from "@tensorflow/tfjs";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { compileLayersChain } from "../../lib/model/tfjs_cnn.ts";

type Stage =
  | { conv: "conv" | "dw"; k: number; s: number; pad: "same" | "valid" }
  | { zeroPad: [[number, number], [number, number]] };

/** A linear CNN with all-positive kernels, so a cell's gradient is non-zero on its whole field. */
function linearNet(size: number, stages: Stage[]): tf.Sequential {
  const m = tf.sequential();
  stages.forEach((st, i) => {
    const first = i === 0 ? { inputShape: [size, size, 2] } : {};
    if ("zeroPad" in st) {
      m.add(tf.layers.zeroPadding2d({ ...first, padding: st.zeroPad, name: `pad${i}` }));
    } else if (st.conv === "conv") {
      m.add(tf.layers.conv2d({
        ...first,
        filters: 2,
        kernelSize: st.k,
        strides: st.s,
        padding: st.pad,
        kernelInitializer: "ones",
        name: `conv${i}`,
      }));
    } else {
      m.add(tf.layers.depthwiseConv2d({
        ...first,
        kernelSize: st.k,
        strides: st.s,
        padding: st.pad,
        depthwiseInitializer: "ones",
        name: `dw${i}`,
      }));
    }
  });
  return m;
}

/** Centre (in input pixels, pixel k spanning [k, k+1)) of the receptive field of output cell (i, i). */
function fieldCentre(m: tf.LayersModel, size: number, i: number): [number, number] {
  return tf.tidy(() => {
    const g = tf.grad((x: tf.Tensor) => {
      const y = m.apply(x) as tf.Tensor4D;
      return y.slice([0, i, i, 0], [1, 1, 1, -1]).sum();
    })(tf.ones([1, size, size, 2]));
    const mag = g.abs().sum([0, 3]).arraySync() as number[][];
    const rows = mag.map((r) => r.some((v) => v > 0));
    const cols = mag[0].map((_, c) => mag.some((r) => r[c] > 0));
    const span = (v: boolean[]) => [v.indexOf(true), v.lastIndexOf(true)];
    const [r0, r1] = span(rows), [c0, c1] = span(cols);
    return [(r0 + r1 + 1) / 2, (c0 + c1 + 1) / 2];
  });
}

Deno.test("CNN geometry: cell centres match the receptive fields tfjs really computes", async () => {
  await initBackend("cpu");
  const cases: { name: string; size: number; stages: Stage[]; stride: number; offset: number }[] = [
    {
      // MobileNet v1's pattern: 'same' stride-2 3×3 layers on even inputs pad bottom/right only.
      name: "same s2 ×3 (even input)",
      size: 64,
      stages: [
        { conv: "conv", k: 3, s: 2, pad: "same" },
        { conv: "dw", k: 3, s: 1, pad: "same" },
        { conv: "dw", k: 3, s: 2, pad: "same" },
        { conv: "conv", k: 1, s: 1, pad: "same" },
        { conv: "dw", k: 3, s: 2, pad: "same" },
      ],
      stride: 8,
      offset: 7.5,
    },
    {
      name: "same s2 (odd input pads both sides)",
      size: 33,
      stages: [{ conv: "conv", k: 3, s: 2, pad: "same" }],
      stride: 2,
      offset: 0.5,
    },
    {
      // Keras ≥ 2.2 MobileNet: explicit ((0,1),(0,1)) padding + 'valid' equals TF 'same'.
      name: "zero-pad (0,1) + valid s2",
      size: 32,
      stages: [{ zeroPad: [[0, 1], [0, 1]] }, { conv: "conv", k: 3, s: 2, pad: "valid" }],
      stride: 2,
      offset: 1.5,
    },
    {
      name: "symmetric zero-pad + valid s2 + 5×5 same",
      size: 32,
      stages: [
        { zeroPad: [[1, 1], [1, 1]] },
        { conv: "conv", k: 3, s: 2, pad: "valid" },
        { conv: "conv", k: 5, s: 1, pad: "same" },
      ],
      stride: 2,
      offset: 0.5,
    },
  ];
  for (const c of cases) {
    const net = linearNet(c.size, c.stages);
    const chain = await compileLayersChain(net);
    const geo = chain.geometry(chain.last)!;
    assertEquals([geo.stride[0], geo.offset[0]], [c.stride, c.offset], c.name);
    assertEquals(geo.size[0], net.outputs[0].shape[1] as number, `${c.name}: size`);
    const i = Math.floor(geo.size[0] / 2);
    const [cy, cx] = fieldCentre(net, c.size, i);
    assertEquals(
      [cy, cx],
      [i * geo.stride[0] + geo.offset[0], i * geo.stride[1] + geo.offset[1]],
      c.name,
    );
    chain.dispose();
    net.dispose();
  }
});

Deno.test("CNN chain: folded BatchNorm + fused ReLU6 equals the Layers model", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend);
    const m = tf.sequential();
    m.add(tf.layers.conv2d({
      inputShape: [16, 16, 3],
      filters: 6,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      useBias: false,
      name: "c1",
    }));
    m.add(tf.layers.batchNormalization({ name: "c1_bn", epsilon: 1e-3 }));
    m.add(tf.layers.activation({ activation: "relu6", name: "c1_relu" }));
    m.add(
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: false, name: "d2" }),
    );
    m.add(tf.layers.batchNormalization({ name: "d2_bn" }));
    m.add(tf.layers.reLU({ maxValue: 6, name: "d2_relu" }));
    m.add(tf.layers.conv2d({ filters: 5, kernelSize: 1, useBias: true, name: "p3" }));
    m.add(tf.layers.batchNormalization({ name: "p3_bn" }));
    m.add(tf.layers.activation({ activation: "relu", name: "p3_relu" }));
    m.add(tf.layers.globalAveragePooling2d({ name: "gap" }));
    m.add(tf.layers.dense({ units: 4, activation: "softmax", name: "fc" }));
    for (const name of ["c1_bn", "d2_bn", "p3_bn"]) {
      const l = m.getLayer(name);
      l.setWeights(
        l.getWeights().map((w, i) =>
          i === 3
            ? tf.randomUniform(w.shape, 0.2, 2, "float32", i + name.length)
            : tf.randomNormal(w.shape, i === 0 ? 1 : 0, 0.5, "float32", i + 10 * name.length)
        ),
      );
    }
    const folded = await compileLayersChain(m, undefined, { keep: ["p3_relu"] });
    const plain = await compileLayersChain(m, undefined, { fold: false });
    assert(folded.stepCount < plain.stepCount, "folding fuses layers");
    assertEquals(folded.outputs.includes("c1_bn"), false);
    const x = tf.randomUniform([3, 16, 16, 3], -1, 1, "float32", 3) as tf.Tensor4D;
    const ref = m.predict(x) as tf.Tensor;
    const refMid = tf.model({ inputs: m.inputs, outputs: m.getLayer("p3_relu").output })
      .predict(x) as tf.Tensor;
    const [mid, out] = folded.run(x, ["p3_relu", "fc"]);
    const [plainOut] = plain.run(x);
    assertArrayClose(out.dataSync(), ref.dataSync(), 1e-5, `${backend} folded probs`);
    assertArrayClose(mid.dataSync(), refMid.dataSync(), 1e-5, `${backend} folded features`);
    assertArrayClose(plainOut.dataSync(), ref.dataSync(), 1e-5, `${backend} unfolded`);
    // PyTorch-style count: kernels, biases, BN γ and β (not the moving statistics).
    const expected = 3 * 3 * 3 * 6 + 2 * 6 + 3 * 3 * 6 + 2 * 6 + 6 * 5 + 5 + 2 * 5 + 5 * 4 + 4;
    assertEquals(folded.parameterCount(), expected);
    assertEquals(plain.parameterCount(), expected);
    assertEquals(folded.geometry("fc"), null);
    await assertRejects(() => folded.run(x, ["c1_bn"]), "not an output", "c1_relu");
    await assertRejects(() => folded.geometry("nope"), "layer 'nope' is not in");
    tf.dispose([x, ref, refMid, mid, out, plainOut]);
    folded.dispose();
    plain.dispose();
    m.dispose();
  }
});
