"""The PyTorch TeD-Loc step (bench/torch/tedloc_torch.py) against ours on the same inputs:
reads what `deno run -A bench/side_by_side_ours.ts --mode stepdump --out DIR` wrote (tokens,
labels, FG/BG patch indices, anchors, weights before, our losses, gradients and weights after
one Adam step), redoes the step in float32 PyTorch (1 thread) and prints one JSON line: the
largest relative loss difference, the largest gradient difference over the largest gradient,
and the largest difference of the updated weights.

    python bench/torch/check_step.py DIR
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tedloc_torch import TedLocTorch, tedloc_losses  # noqa: E402

NAMES = {"decoder.fc1.weight": "w1", "decoder.fc1.bias": "b1", "decoder.fc2.weight": "w2",
         "decoder.fc2.bias": "b2", "g.weight": "wg", "g.bias": "bg"}


def main():
    folder = sys.argv[1]
    ld = lambda n: np.load(os.path.join(folder, n))  # noqa: E731
    torch.set_num_threads(1)
    tokens = torch.from_numpy(ld("tokens.npy"))
    labels = torch.from_numpy(ld("labels.npy")).long()
    fg, bg = torch.from_numpy(ld("fg.npy")).long(), torch.from_numpy(ld("bg.npy")).long()
    anchors = torch.from_numpy(ld("anchors.npy"))
    model = TedLocTorch(tokens.shape[2], 256, anchors.shape[1], anchors)
    with torch.no_grad():
        for n, attr in NAMES.items():
            getattr(model, attr).copy_(torch.from_numpy(ld(f"w0.{n}.npy")))
    ours = json.load(open(os.path.join(folder, "losses.json")))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    z, ml, s = model(tokens)
    total, kd, pcl, icl = tedloc_losses(model, z, ml, s, labels, fg, bg)
    opt.zero_grad()
    total.backward()
    mine = {"total": total.item(), "kd": kd.item(), "pcl": pcl.item(), "icl": icl.item()}
    loss_rel = max(abs(mine[k] - ours[k]) / abs(ours[k]) for k in mine)
    grad_rel, w_abs = 0.0, 0.0
    for n, attr in NAMES.items():
        g = getattr(model, attr).grad.numpy()
        og = ld(f"grad.{n}.npy")
        grad_rel = max(grad_rel, float(np.abs(g - og).max() / max(np.abs(og).max(), 1e-30)))
    opt.step()
    for n, attr in NAMES.items():
        w_abs = max(w_abs, float(np.abs(getattr(model, attr).detach().numpy()
                                        - ld(f"w1.{n}.npy")).max()))
    print(json.dumps({"losses": mine, "oursLosses": ours, "maxLossRelDiff": loss_rel,
                      "maxGradDiffOverMaxGrad": grad_rel, "maxWeightDiffAfterAdam": w_abs}))


if __name__ == "__main__":
    main()
