#!/usr/bin/python3
"""Execute one Jupyter notebook headlessly with the Deno kernel, losing no output.

Deno's Jupyter kernel can publish a cell's last outputs on IOPub *after* its
``status: idle`` message. nbclient stops reading a cell's messages at idle and drops
anything later (plain ``jupyter nbconvert --execute`` loses 5-35 % of outputs). The
``GraceNotebookClient`` below keeps reading the cell's IOPub messages until ``grace``
seconds pass with none for that cell; an output that comes later still (while a later
cell runs) is attached to the cell that produced it instead of being dropped.

The kernel is started from a private kernelspec that points at the Deno binary given on
the command line, so a stale user-level ``deno`` kernelspec cannot break a run. The kernel
inherits this process's environment (TEDLOC_PROFILE etc.) and runs in the notebook's folder.

Protocol with the Deno side (lib/notebook/runner.ts): one JSON object per line on stdout,
``{"event": "start" | "cell" | "late" | "done" | "error", ...}``. Exit status 0 on success,
1 when a cell failed, 2 for anything else (bad arguments, unreadable notebook, kernel died).

Run with Debian's /usr/bin/python3 (nbclient 0.7, jupyter_client 7).
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from queue import Empty

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete, CellExecutionError, DeadKernelError
except ImportError as missing:
    emit("error", kind="setup", message=(
        f"{sys.executable} lacks Jupyter ({missing}): run 'bash scripts/setup.sh' or "
        "'apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel'"))
    sys.exit(2)


class GraceNotebookClient(NotebookClient):
    """NotebookClient that keeps reading a cell's IOPub messages after its idle status.

    Hook: ``_async_poll_output_msg`` (nbclient 0.5-0.7) is the task that reads IOPub for
    one cell; the stock version returns at the first ``status: idle``. Ours then drains
    until ``grace`` seconds pass without a message of that cell.
    """

    def __init__(self, nb, grace=0.05, final_grace=0.5, **kw):
        super().__init__(nb, **kw)
        self.grace = grace
        # The last cell has no later cell whose reads could still rescue a straggler.
        self.final_grace = max(grace, final_grace)
        runnable = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
        self._last_index = runnable[-1] if runnable else -1
        # parent msg_id -> (cell, cell_index) of every cell executed so far
        self._cells_by_msg = {}
        self.late_after_idle = 0   # outputs caught by the grace period
        self.late_rescued = 0      # outputs that came while a later cell ran
        self.max_late_delay = 0.0  # seconds between a cell's idle and its last late output

    def _process_quietly(self, msg, cell, cell_index):
        try:
            self.process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            pass

    def _route_other(self, msg):
        """A message for another (earlier) cell: attach it there instead of dropping it."""
        parent = msg["parent_header"].get("msg_id")
        if parent in self._cells_by_msg and msg["msg_type"] != "status":
            cell, cell_index = self._cells_by_msg[parent]
            self._process_quietly(msg, cell, cell_index)
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                self.late_rescued += 1
                emit("late", cell=cell_index, msg_type=msg["msg_type"])

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        self._cells_by_msg[parent_msg_id] = (cell, cell_index)
        while True:
            msg = await self.kc.iopub_channel.get_msg(timeout=None)
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                self._route_other(msg)
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                break
        await self.drain_iopub(parent_msg_id, cell, cell_index)

    async def drain_iopub(self, parent_msg_id, cell, cell_index):
        """Read IOPub until `grace` seconds pass without a message for this cell.

        Measured on the 40-cell test notebook: late outputs come within ~1.2 ms of idle.
        """
        grace = self.final_grace if cell_index == self._last_index else self.grace
        idle_at = time.monotonic()
        deadline = idle_at + grace
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=remaining)
            except Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                self._route_other(msg)
                continue
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                self.late_after_idle += 1
                self.max_late_delay = max(self.max_late_delay, time.monotonic() - idle_at)
            self._process_quietly(msg, cell, cell_index)
            deadline = time.monotonic() + grace


def private_kernelspec(deno):
    """A JUPYTER_PATH folder holding a 'deno' kernelspec that runs `deno`."""
    root = tempfile.mkdtemp(prefix="tedloc-kernel-")
    kdir = os.path.join(root, "kernels", "deno")
    os.makedirs(kdir)
    spec = {
        "argv": [deno, "jupyter", "--kernel", "--conn", "{connection_file}"],
        "display_name": "Deno",
        "language": "typescript",
        "env": {"NO_COLOR": "1"},
    }
    with open(os.path.join(kdir, "kernel.json"), "w") as f:
        json.dump(spec, f)
    return root


def first_line(source):
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def error_of(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = [ANSI.sub("", line) for line in out.get("traceback", [])]
            return out.get("ename", ""), ANSI.sub("", out.get("evalue", "")), tb
    return "", "", []


def relativize_outputs(nb, project_root, shared_root):
    """Remove this machine's paths from every text output: committed notebooks show
    project-relative paths (lib's print/display do this too; tracebacks, console.log and
    the kernel's own results do not)."""
    def fix(text):
        if shared_root:
            text = text.replace(shared_root.rstrip("/") + "/", "<shared data>/")
        root = project_root.rstrip("/")
        return text.replace(root + "/", "").replace(root, ".")

    def fix_value(v):
        if isinstance(v, str):
            return fix(v)
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return [fix(x) for x in v]
        return v

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = fix_value(out["text"])
            if "evalue" in out:
                out["evalue"] = fix(out["evalue"])
            if "traceback" in out:
                out["traceback"] = [fix(line) for line in out["traceback"]]
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/") or mime == "image/svg+xml":
                    out["data"][mime] = fix_value(value)


def write_atomic(nb, path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp-", dir=folder)
    try:
        # mkstemp makes the file private (0600); a notebook is an ordinary file (0644 - umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--out", help="where to write the executed notebook (default: in place)")
    ap.add_argument("--deno", required=True, help="the deno binary the kernel runs")
    ap.add_argument("--grace", type=float, default=0.05,
                    help="seconds of silence to wait for after a cell's idle (default 0.05)")
    ap.add_argument("--timeout-per-cell", type=float, default=1800)
    ap.add_argument("--startup-timeout", type=float, default=120)
    ap.add_argument("--project-root", help="absolute paths under it become relative in outputs")
    ap.add_argument("--shared-root", help="absolute paths under it become '<shared data>/…'")
    args = ap.parse_args()

    try:
        nb = nbformat.read(args.notebook, as_version=4)
    except FileNotFoundError:
        emit("error", kind="missing", message=f"notebook not found: {args.notebook}")
        return 2
    except Exception as e:  # noqa: BLE001 - any parse failure is bad input
        emit("error", kind="unreadable", message=f"cannot read notebook {args.notebook}: {e}")
        return 2

    spec_root = private_kernelspec(args.deno)
    try:
        return execute(nb, args, spec_root)
    finally:
        shutil.rmtree(spec_root, ignore_errors=True)


def execute(nb, args, spec_root):
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [spec_root] + [p for p in [os.environ.get("JUPYTER_PATH")] if p]
    )
    nb.metadata["kernelspec"] = {"name": "deno", "display_name": "Deno", "language": "typescript"}
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
    emit("start", cells=len(nb.cells), code_cells=code_cells)

    client = GraceNotebookClient(
        nb,
        grace=args.grace,
        timeout=int(args.timeout_per_cell),
        startup_timeout=int(args.startup_timeout),
        kernel_name="deno",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
        record_timing=False,
    )
    started = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.monotonic()

    def on_done(cell, cell_index, execute_reply):
        emit("cell", index=cell_index, seconds=round(time.monotonic() - started[cell_index], 3))

    client.on_cell_execute = on_start
    client.on_cell_executed = on_done

    t0 = time.monotonic()
    failed = None
    try:
        client.execute()
    except CellExecutionError:
        failed = "cell"
    except DeadKernelError as e:
        failed = "dead"
        dead_message = str(e)
    except Exception as e:  # noqa: BLE001 - timeouts, kernel start failures
        failed = "other"
        dead_message = f"{type(e).__name__}: {ANSI.sub('', str(e))}".strip()

    if failed == "cell":
        index = max(started) if started else -1
        cell = nb.cells[index]
        ename, evalue, tb = error_of(cell)
        emit("error", kind="cell", cell=index, first_line=first_line(cell.source),
             ename=ename, evalue=evalue, traceback=tb)
        return 1
    if failed is not None:
        index = max(started) if started else -1
        emit("error", kind=failed, cell=index,
             first_line=first_line(nb.cells[index].source) if index >= 0 else "",
             message=dead_message)
        return 2

    if args.project_root:
        relativize_outputs(nb, args.project_root, args.shared_root)
    write_atomic(nb, args.out or args.notebook)
    emit("done", seconds=round(time.monotonic() - t0, 3), late_after_idle=client.late_after_idle,
         late_rescued=client.late_rescued, max_late_delay=round(client.max_late_delay, 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
