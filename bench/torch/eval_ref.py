"""Box evaluation of score maps with the project's Python reference of wsolevaluation's
BoxEvaluator (tests/fixtures/metrics/make_metrics_fixtures.py: per τ, OpenCV threshold +
findContours, largest- and multi-contour boxes, MaxBoxAcc / MaxBoxAccV2), the workload the
Deno side wrote (`grids.npy` [n, 14, 14] float32, `gt.npy` [n, 4] int32 in the 224 frame).
"""
import os
import sys
from multiprocessing import get_context

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "fixtures", "metrics"))
import make_metrics_fixtures as ref  # noqa: E402


def normalize_scoremap(cam):
    """wsolevaluation's normalize_scoremap (float32 in, float32 out)."""
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam = cam - cam.min()
    return cam / cam.max()


def load_workload(folder):
    """224×224 maps (bicubic as cv2, negatives cut, min-max) and GT boxes, as the Deno side."""
    grids = np.load(os.path.join(folder, "grids.npy"))
    gt = np.load(os.path.join(folder, "gt.npy"))
    maps = [normalize_scoremap(np.maximum(cv2.resize(g, (224, 224),
                                                     interpolation=cv2.INTER_CUBIC), 0))
            for g in grids]
    return maps, [[list(map(int, b))] for b in gt]


def _part(args):
    maps, gts, interval = args
    cv2.setNumThreads(1)
    return ref.evaluate_boxes(maps, gts, interval=interval)


def _merge(parts, ious=(30, 50, 70)):
    n = sum(p["count"] for p in parts)
    best = {}
    for mode in ("largest", "multi"):
        best[mode] = {}
        for ci, c in enumerate(parts[0][mode]):
            acc = sum(np.asarray(p[mode][ci]["accuracy"]) * p["count"] for p in parts) / n
            best[mode][c["iou"]] = float(acc.max())
    return {"count": n, "maxBoxAcc": best["largest"][50],
            "maxBoxAccV2": float(np.mean([best["multi"][d] for d in ious]))}


def evaluate(maps, gts, procs=1, interval=0.01, pool=None):
    """MaxBoxAcc / MaxBoxAccV2 of all maps, split over `procs` worker processes."""
    if procs <= 1:
        return _merge([_part((maps, gts, interval))])
    cut = [round(i * len(maps) / procs) for i in range(procs + 1)]
    jobs = [(maps[a:b], gts[a:b], interval) for a, b in zip(cut, cut[1:])]
    return _merge(pool.map(_part, jobs))


def make_pool(procs):
    """A fork pool started before timing (its start-up is not part of an evaluation)."""
    return get_context("fork").Pool(procs) if procs > 1 else None
