#!/usr/bin/python3
"""Run a notebook the way a front end's "Run All Cells" does, and report where outputs land.

JupyterLab's Run All sends every cell's execute_request at once; the kernel queues them.
Each IOPub output carries the header of the request the kernel says produced it, and a
front end files it under that cell. This script does the same with jupyter_client (no
browser): it starts the Deno kernel from a private kernelspec, sends all cells at once,
reads IOPub until the last cell's idle (plus a grace period), and writes the outputs each
cell received, as JSON on stdout:

    {"cells": [[{"type": "stream", "text": "..."}, ...], ...], "seconds": 1.2}

Used by bench/notebook_race.ts (--run-all) and tests/notebook/race_test.ts.
Usage: run_all.py NOTEBOOK --deno DENO [--grace SECONDS]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from queue import Empty

from jupyter_client.manager import KernelManager


def private_kernelspec(deno):
    root = tempfile.mkdtemp(prefix="tedloc-runall-")
    kdir = os.path.join(root, "kernels", "deno")
    os.makedirs(kdir)
    with open(os.path.join(kdir, "kernel.json"), "w") as f:
        json.dump({"argv": [deno, "jupyter", "--kernel", "--conn", "{connection_file}"],
                   "display_name": "Deno", "language": "typescript",
                   "env": {"NO_COLOR": "1"}}, f)
    return root


def text_of(msg):
    c = msg["content"]
    if msg["msg_type"] == "stream":
        return c["text"]
    if msg["msg_type"] == "error":
        return f"{c.get('ename')}: {c.get('evalue')}"
    return c.get("data", {}).get("text/plain", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("--deno", required=True)
    ap.add_argument("--grace", type=float, default=1.0)
    args = ap.parse_args()
    with open(args.notebook) as f:
        nb = json.load(f)
    cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
             for c in nb["cells"] if c["cell_type"] == "code"]
    root = private_kernelspec(args.deno)
    os.environ["JUPYTER_PATH"] = root
    km = KernelManager(kernel_name="deno")
    km.start_kernel(cwd=os.path.dirname(os.path.abspath(args.notebook)))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        t0 = time.monotonic()
        ids = [kc.execute(code) for code in cells]  # all at once, as Run All does
        index = {mid: i for i, mid in enumerate(ids)}
        outputs = [[] for _ in cells]
        done_at = None
        while True:
            timeout = 600 if done_at is None else max(0.0, done_at + args.grace - time.monotonic())
            try:
                msg = kc.get_iopub_msg(timeout=timeout)
            except Empty:
                break
            i = index.get(msg["parent_header"].get("msg_id"))
            if i is None:
                continue
            t = msg["msg_type"]
            if t in ("stream", "display_data", "execute_result", "error"):
                outputs[i].append({"type": t, "text": text_of(msg)})
            elif t == "status" and msg["content"]["execution_state"] == "idle" and i == len(ids) - 1:
                done_at = time.monotonic()
        json.dump({"cells": outputs, "seconds": round(done_at - t0 if done_at else -1, 3)},
                  sys.stdout)
        sys.stdout.write("\n")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
