/**
 * Test helper: an independent float64 forward pass of a Keras MobileNet-style chain (Conv2D /
 * DepthwiseConv2D with TF 'same' or 'valid' padding, BatchNormalization, ReLU6 activations)
 * for one image, straight from a Layers model's configs and weights. Slow (plain loops), exact
 * enough to judge which float32 path is closer to the truth.
 */
import type * as tf from "@tensorflow/tfjs";

/** Features `[h, w, c]` of layer `upto` for one raw 0..255 RGB image `[size, size, 3]`. */
export function float64Forward(
  model: tf.LayersModel,
  image: Float64Array,
  size: number,
  upto: string,
): { data: Float64Array; h: number; w: number; c: number } {
  let h = size, w = size, c = 3;
  let x = image.map((v) => v / 127.5 - 1);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as {
      kernelSize: number[];
      strides: number[];
      padding: string;
      useBias: boolean;
      epsilon: number;
      activation: string;
    };
    const weights = layer.getWeights();
    const ws = weights.map((t) => Float64Array.from(t.dataSync()));
    if (cls === "Conv2D" || cls === "DepthwiseConv2D") {
      const k = cfg.kernelSize[0], s = cfg.strides[0];
      const same = cfg.padding === "same";
      const oh = same ? Math.ceil(h / s) : Math.ceil((h - k + 1) / s);
      const ow = same ? Math.ceil(w / s) : Math.ceil((w - k + 1) / s);
      const padT = same ? Math.floor(Math.max((oh - 1) * s + k - h, 0) / 2) : 0;
      const padL = same ? Math.floor(Math.max((ow - 1) * s + k - w, 0) / 2) : 0;
      const K = ws[0];
      const depthwise = cls === "DepthwiseConv2D";
      const oc: number = depthwise ? c : weights[0].shape[3] as number;
      const out = new Float64Array(oh * ow * oc);
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const o = (i * ow + j) * oc;
          for (let di = 0; di < k; di++) {
            const y = i * s - padT + di;
            if (y < 0 || y >= h) continue;
            for (let dj = 0; dj < k; dj++) {
              const xx = j * s - padL + dj;
              if (xx < 0 || xx >= w) continue;
              const at = (y * w + xx) * c;
              for (let ci = 0; ci < c; ci++) {
                if (depthwise) out[o + ci] += x[at + ci] * K[(di * k + dj) * c + ci];
                else {
                  const v = x[at + ci], kb = ((di * k + dj) * c + ci) * oc;
                  for (let co = 0; co < oc; co++) out[o + co] += v * K[kb + co];
                }
              }
            }
          }
          if (cfg.useBias) { for (let co = 0; co < oc; co++) out[o + co] += ws[1][co]; }
        }
      }
      [x, h, w, c] = [out, oh, ow, oc];
    } else if (cls === "BatchNormalization") {
      const [g, b, m, v] = ws;
      for (let q = 0; q < x.length; q++) {
        const ch = q % c;
        x[q] = ((x[q] - m[ch]) * g[ch]) / Math.sqrt(v[ch] + cfg.epsilon) + b[ch];
      }
    } else if (cls === "Activation" && cfg.activation === "relu6") {
      for (let q = 0; q < x.length; q++) x[q] = Math.min(Math.max(x[q], 0), 6);
    } else if (cls !== "InputLayer") {
      throw new Error(`float64Forward: layer class ${cls} not supported`);
    }
    if (layer.name === upto) break;
  }
  return { data: x, h, w, c };
}
