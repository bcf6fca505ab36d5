"""MobileNet v1 (tfjs Layers export) up to a tap layer, in PyTorch, BatchNorm folded.

Reads the same files as lib/model/mobilenet.ts (`model.json` + weight shards) and folds each
BatchNorm into the conv before it in float64, exactly as lib/model/tfjs_cnn.ts does
(scale = γ/√(var+ε), shift = β − mean·scale; weights rounded to float32 once). Padding is
TensorFlow's 'same' (the smaller half first: a stride-2 3×3 conv on an even size pads
0 before, 1 after), so the output equals the tfjs chain's up to float rounding.

Bench only: the product never runs PyTorch.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F


def read_tfjs_weights(folder):
    """{name: float32 ndarray} from a tfjs Layers folder's weightsManifest."""
    with open(os.path.join(folder, "model.json")) as f:
        spec = json.load(f)
    out = {}
    for group in spec["weightsManifest"]:
        buf = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            if w.get("dtype", "float32") != "float32" or "quantization" in w:
                raise ValueError(f"{folder}: weight {w['name']} is not plain float32")
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            out[w["name"]] = np.frombuffer(buf, "<f4", n, at).reshape(w["shape"])
            at += 4 * n
    return spec, out


def _layers(spec):
    cfg = spec["modelTopology"]["model_config"]["config"]
    return cfg["layers"] if isinstance(cfg, dict) else cfg


def _same_pad(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


class FoldedMobileNet(torch.nn.Module):
    """conv → (folded BN) → ReLU6 chain of a tfjs MobileNet v1 up to `layer` (NCHW)."""

    def __init__(self, folder, layer="conv_pw_11_relu", size=224):
        super().__init__()
        spec, w = read_tfjs_weights(folder)
        layers = _layers(spec)
        names = [l["config"]["name"] for l in layers]
        if layer not in names:
            raise ValueError(f"{folder}: no layer '{layer}'")
        self.ops = []  # (weight, bias, stride, pads, groups)
        self._params = torch.nn.ParameterList()
        h = size
        for i, l in enumerate(layers[: names.index(layer) + 1]):
            cls, c = l["class_name"], l["config"]
            if cls in ("InputLayer",):
                continue
            if cls == "BatchNormalization" or cls in ("Activation", "ReLU"):
                continue  # folded into / fused after the conv before it (checked there)
            if cls not in ("Conv2D", "DepthwiseConv2D"):
                raise ValueError(f"layer {c['name']}: {cls} not supported by this bench")
            name = c["name"]
            depthwise = cls == "DepthwiseConv2D"
            k = np.asarray(w[f"{name}/depthwise_kernel" if depthwise else f"{name}/kernel"],
                           np.float64)
            bn, act = layers[i + 1], layers[i + 2]
            if bn["class_name"] != "BatchNormalization" or act["config"].get(
                    "activation", act["class_name"]) not in ("relu6", "ReLU"):
                raise ValueError(f"layer {name}: expected BatchNorm + ReLU6 after it")
            b = bn["config"]["name"]
            eps = float(bn["config"].get("epsilon", 1e-3))
            scale = w[f"{b}/gamma"].astype(np.float64) / np.sqrt(
                w[f"{b}/moving_variance"].astype(np.float64) + eps)
            shift = w[f"{b}/beta"].astype(np.float64) - w[f"{b}/moving_mean"] * scale
            kh, kw, cin, cm = k.shape
            folded = (k.reshape(kh, kw, cin * cm) * scale).astype(np.float32) if depthwise \
                else (k * scale).astype(np.float32)
            if depthwise:  # [kh,kw,in·mult] → [in·mult, 1, kh, kw]
                wt = torch.from_numpy(folded.transpose(2, 0, 1)[:, None].copy())
                groups = cin
            else:  # [kh,kw,in,out] → [out,in,kh,kw]
                wt = torch.from_numpy(folded.transpose(3, 2, 0, 1).copy())
                groups = 1
            stride = int(c["strides"][0])
            if c["padding"] != "same":
                raise ValueError(f"layer {name}: padding {c['padding']} not supported")
            h, before, after = _same_pad(h, kh, stride)
            bias = torch.from_numpy(shift.astype(np.float32))
            pw, pb = torch.nn.Parameter(wt, False), torch.nn.Parameter(bias, False)
            self._params.extend([pw, pb])
            self.ops.append((pw, pb, stride, (before, after), groups))
        self.out_size = h

    def forward(self, x):
        """x: NCHW in [-1, 1] → NCHW tap activations."""
        for wt, b, s, (p0, p1), g in self.ops:
            if p0 == p1:
                x = F.conv2d(x, wt, b, s, p0, 1, g)
            else:
                x = F.conv2d(F.pad(x, (p0, p1, p0, p1)), wt, b, s, 0, 1, g)
            x = F.relu6(x)
        return x


def preprocess(u8_nhwc):
    """uint8/float NHWC RGB 0..255 → NCHW float32 in [-1, 1] (x/127.5 − 1, as ours)."""
    x = torch.as_tensor(np.asarray(u8_nhwc, np.float32))
    return (x * (1 / 127.5) - 1).permute(0, 3, 1, 2).contiguous()
