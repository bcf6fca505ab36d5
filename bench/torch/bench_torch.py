"""PyTorch side of bench/side_by_side.ts: MobileNet v1 0.75 → conv_pw_11 (BatchNorm folded)
img/s (the faster of NCHW and channels_last, both reported), the TeD-Loc train step (B 32, 196 tokens, 384 → 256 → 128, 50 classes, three losses,
Adam) step/s, and box evaluation of the workload's 224² maps (maps/s) with the Python
reference of wsolevaluation, at `--threads T` (torch.set_num_threads(T); the evaluator is
single-threaded Python + OpenCV, so there T is a number of worker processes). Warm-up runs are
excluded; each figure is the median over `--iters` repeats. Prints one JSON line.

    python bench/torch/bench_torch.py --threads 1 --iters 5 --steps 60 \
        --model ../shared/data/mobilenet/mobilenet_v1_0.75_224 --workload /tmp/w
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mobilenet_torch import FoldedMobileNet  # noqa: E402
from tedloc_torch import TrainBench  # noqa: E402


def bench_encoder(folder, iters, batch=16):
    """img/s per repeat in both memory layouts, interleaved: NCHW (PyTorch's default) and
    channels_last (oneDNN's faster path for these convolutions; ours is NHWC too)."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 3, 224, 224, generator=g) * 2 - 1
    runs = {}
    for layout, fmt in (("nchw", torch.contiguous_format), ("channelsLast", torch.channels_last)):
        runs[layout] = (FoldedMobileNet(folder).eval().to(memory_format=fmt),
                        x.contiguous(memory_format=fmt), [])
    with torch.inference_mode():
        for model, xi, _ in runs.values():
            model(xi)  # warm-up
        for _ in range(iters):
            for model, xi, rates in runs.values():
                t0 = time.perf_counter()
                model(xi)
                rates.append(batch / (time.perf_counter() - t0))
    return {k: v[2] for k, v in runs.items()}


def bench_train(steps, warmup, chunk=10):
    b = TrainBench()
    for _ in range(warmup):
        b.step()
    rates = []
    for _ in range(max(1, steps // chunk)):
        t0 = time.perf_counter()
        for _ in range(chunk):
            b.step()
        rates.append(chunk / (time.perf_counter() - t0))
    return rates


def bench_eval(folder, iters, procs, interval):
    import eval_ref
    maps, gts = eval_ref.load_workload(folder)
    pool = eval_ref.make_pool(procs)
    try:
        eval_ref.evaluate(maps[:8], gts[:8], procs, interval, pool)  # warm-up (imports, pool)
        rates, res = [], None
        for _ in range(iters):
            t0 = time.perf_counter()
            res = eval_ref.evaluate(maps, gts, procs, interval, pool)
            rates.append(len(maps) / (time.perf_counter() - t0))
    finally:
        if pool:
            pool.close()
    return rates, res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--eval-iters", type=int, default=None)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--what", default="encoder,train,eval")
    p.add_argument("--model", default=None)
    p.add_argument("--workload", default=None)
    p.add_argument("--interval", type=float, default=0.01)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = {"side": "torch", "threads": a.threads, "torch": torch.__version__,
           "numThreads": torch.get_num_threads()}
    what = a.what.split(",")
    med = statistics.median
    if "encoder" in what:
        if a.model and os.path.isdir(a.model):
            r = bench_encoder(a.model, a.iters)
            best = max(r, key=lambda k: med(r[k]))
            out["encoderImgPerS"], out["encoderLayout"], out["encoderRuns"] = med(r[best]), best, r
            out["encoderNchwImgPerS"] = med(r["nchw"])
            out["encoderChannelsLastImgPerS"] = med(r["channelsLast"])
        else:
            out["encoderSkipped"] = f"no MobileNet 0.75 folder ({a.model})"
    if "train" in what:
        r = bench_train(a.steps, a.warmup)
        out["trainStepPerS"], out["trainRuns"] = med(r), r
    if "eval" in what:
        if a.workload:
            r, res = bench_eval(a.workload, a.eval_iters or a.iters, a.threads, a.interval)
            out["evalMapsPerS"], out["evalRuns"] = med(r), r
            out["evalMaxBoxAccV2"], out["evalMaxBoxAcc"] = res["maxBoxAccV2"], res["maxBoxAcc"]
        else:
            out["evalSkipped"] = "no --workload"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
