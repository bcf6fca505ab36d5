"""Equality of the PyTorch MobileNet (bench/torch/mobilenet_torch.py) and ours: reads
`inputs.npy` (uint8 [n, 224, 224, 3], our pipeline's test view of real images) and
`pw11.npy` (our conv_pw_11_relu activations, float32 [n, 14, 14, 384]) written by
`deno run -A bench/side_by_side_ours.ts --mode dump --out DIR`, runs the same pixels
through PyTorch (1 thread; NCHW and channels_last, the worse of the two counts) and prints one
JSON line: max |Δ|, the activations' max, and
the worst relative error.

    python bench/torch/check_pw11.py DIR ../shared/data/mobilenet/mobilenet_v1_0.75_224
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mobilenet_torch import FoldedMobileNet, preprocess  # noqa: E402


def main():
    folder, model_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    x = np.load(os.path.join(folder, "inputs.npy"))
    ours = np.load(os.path.join(folder, "pw11.npy"))
    with torch.inference_mode():
        y = FoldedMobileNet(model_dir)(preprocess(x)).permute(0, 2, 3, 1).numpy()
        cl = torch.channels_last
        y_cl = FoldedMobileNet(model_dir).to(memory_format=cl)(
            preprocess(x).contiguous(memory_format=cl)).permute(0, 2, 3, 1).numpy()
    if y.shape != ours.shape:
        raise SystemExit(f"check_pw11: shapes differ: torch {y.shape}, ours {ours.shape}")
    d = np.maximum(np.abs(y.astype(np.float64) - ours), np.abs(y_cl.astype(np.float64) - ours))
    print(json.dumps({"images": int(x.shape[0]), "maxAbsDiff": float(d.max()),
                      "meanAbsDiff": float(d.mean()), "maxActivation": float(np.abs(ours).max()),
                      "maxRelToMax": float(d.max() / np.abs(ours).max())}))


if __name__ == "__main__":
    main()
