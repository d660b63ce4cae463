#!/usr/bin/env python3
"""Executes a Jupyter notebook on Deno's kernel and records every output.

Why not `jupyter nbconvert --execute` (nbclient)? Deno 2.9.6's kernel publishes a cell's
`status: idle` on IOPub independently of the cell's outputs, so the idle message often arrives
*before* the cell's last `stream` or `execute_result` messages (measured: in 3 of 15 quick
cells). nbclient (0.7.2 in Debian 12) stops listening to a cell at its idle message and drops
whatever comes later as belonging to a finished cell, so outputs go missing at random, mostly
from short synchronous cells. (IJavascript had the same race: n-riesco/ijavascript#62.)

This runner talks to the kernel with jupyter_client directly and files every IOPub message
under the cell whose request it answers (its parent msg_id), whenever it arrives: it moves to
the next cell after both the cell's execute_reply and its idle status, and after the last cell
it waits until the kernel has been quiet for a moment. Usage:

    notebook_run.py NOTEBOOK --out EXECUTED.ipynb [--html EXPORT.html] [--deno /usr/bin/deno]
                    [--timeout SECONDS] [--allow-errors]

Exit status: 0 when every cell ran without error, 1 when a cell failed (the executed notebook,
with the error, is still written), 2 on bad arguments or a missing dependency.
"""
import argparse
import json
import os
import queue
import sys
import tempfile
import time

try:
    import nbformat
    from jupyter_client.manager import KernelManager
except ImportError as e:  # pragma: no cover - reported to the caller
    print(
        f"error: {e.name} is missing; install Jupyter (Debian: apt-get install jupyter-nbconvert "
        "python3-nbclient jupyter-client)",
        file=sys.stderr,
    )
    sys.exit(2)

QUIET_SECONDS = 0.5  # silence that ends the collection of late outputs after the last cell
QUIET_LIMIT = 10.0  # longest wait for that silence


def log(text):
    print(text, file=sys.stderr, flush=True)


def kernel_dir(deno):
    """A private kernelspec `deno` running this `deno` binary; returns the JUPYTER_PATH entry."""
    root = tempfile.mkdtemp(prefix="slidewin-kernel-")
    spec_dir = os.path.join(root, "kernels", "deno")
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(
            {
                "argv": [deno, "jupyter", "--kernel", "--conn", "{connection_file}"],
                "display_name": "Deno",
                "language": "typescript",
            },
            f,
        )
    return root


class Run:
    """One kernel, the notebook, and where each request's outputs go."""

    def __init__(self, nb, kc):
        self.nb = nb
        self.kc = kc
        self.cell_of = {}  # msg_id -> cell
        self.idle = set()  # msg_ids whose idle status arrived
        self.displays = {}  # display_id -> [output, ...]
        self.clear_pending = {}  # msg_id -> True when clear_output(wait=True) is pending
        self.last_message = time.monotonic()

    def add_output(self, msg_id, cell, out):
        if self.clear_pending.pop(msg_id, False):
            cell.outputs = []
        outs = cell.outputs
        if (
            out.output_type == "stream"
            and outs
            and outs[-1].output_type == "stream"
            and outs[-1].name == out.name
        ):
            outs[-1].text += out.text
            return
        outs.append(out)

    def handle(self, msg):
        self.last_message = time.monotonic()
        msg_id = msg["parent_header"].get("msg_id")
        cell = self.cell_of.get(msg_id)
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "status":
            if content.get("execution_state") == "idle":
                self.idle.add(msg_id)
            return
        if kind == "update_display_data":
            display_id = content.get("transient", {}).get("display_id")
            for out in self.displays.get(display_id, []):
                out.data = content["data"]
                out.metadata = content.get("metadata", {})
            return
        if cell is None:
            return
        if "execution_count" in content and content["execution_count"] is not None:
            cell.execution_count = content["execution_count"]
        if kind == "clear_output":
            if content.get("wait"):
                self.clear_pending[msg_id] = True
            else:
                cell.outputs = []
            return
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return
        out = nbformat.v4.output_from_msg(msg)
        self.add_output(msg_id, cell, out)
        display_id = content.get("transient", {}).get("display_id")
        if display_id and kind in ("display_data", "execute_result"):
            self.displays.setdefault(display_id, []).append(out)

    def pump(self, timeout):
        """Handles IOPub messages for up to `timeout` seconds; True when one arrived."""
        try:
            msg = self.kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return False
        self.handle(msg)
        while True:
            try:
                self.handle(self.kc.get_iopub_msg(timeout=0))
            except queue.Empty:
                return True

    def execute(self, cell, timeout, km):
        """Runs one cell; returns (status, seconds) with status "ok", "error" or a reason."""
        cell.outputs = []
        cell.execution_count = None
        start = time.monotonic()
        msg_id = self.kc.execute(cell.source, store_history=True, allow_stdin=False)
        self.cell_of[msg_id] = cell
        reply = None
        while reply is None or msg_id not in self.idle:
            self.pump(0.05)
            if reply is None:
                try:
                    r = self.kc.get_shell_msg(timeout=0)
                    if r["parent_header"].get("msg_id") == msg_id:
                        reply = r
                except queue.Empty:
                    pass
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                return f"timed out after {timeout} s", elapsed
            if not km.is_alive():
                return "the kernel died", elapsed
        status = reply["content"].get("status", "error")
        failed = status != "ok" or any(o.output_type == "error" for o in cell.outputs)
        return ("error" if failed else "ok"), time.monotonic() - start

    def drain(self):
        """Collects late outputs until the kernel has been quiet for QUIET_SECONDS."""
        end = time.monotonic() + QUIET_LIMIT
        while time.monotonic() < end:
            self.pump(0.05)
            if time.monotonic() - self.last_message >= QUIET_SECONDS:
                return


def first_line(cell):
    return cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""


def error_text(cell):
    for out in cell.outputs:
        if out.output_type == "error":
            return "\n".join(out.get("traceback") or [f"{out.ename}: {out.evalue}"])
    return ""


def main():
    ap = argparse.ArgumentParser(description="Execute a notebook on Deno's Jupyter kernel.")
    ap.add_argument("notebook")
    ap.add_argument("--out", required=True, help="executed notebook to write")
    ap.add_argument("--html", help="HTML export to write (nbconvert)")
    ap.add_argument("--deno", help="deno binary for a private kernelspec (default: installed 'deno' kernel)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    ap.add_argument("--allow-errors", action="store_true")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    if args.deno:
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [kernel_dir(args.deno)] + [p for p in [os.environ.get("JUPYTER_PATH")] if p]
        )
    kernel = nb.metadata.get("kernelspec", {}).get("name", "deno")
    cwd = os.path.dirname(os.path.abspath(args.notebook))
    km = KernelManager(kernel_name=kernel)
    try:
        km.start_kernel(cwd=cwd)
    except Exception as e:  # noqa: BLE001 - one line for the caller
        log(f"error: could not start the '{kernel}' kernel: {e}; run `deno jupyter --install`")
        return 2
    kc = km.client()
    kc.start_channels()
    failed = None
    total = time.monotonic()
    try:
        kc.wait_for_ready(timeout=60)
        info = kc.kernel_info(reply=True, timeout=30)["content"]
        if "language_info" in info:
            nb.metadata["language_info"] = info["language_info"]
        run = Run(nb, kc)
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        for c in nb.cells:
            if c.cell_type == "code" and not c.source.strip():
                c.outputs, c.execution_count = [], None
        for i, cell in enumerate(code, 1):
            status, seconds = run.execute(cell, args.timeout, km)
            log(f"cell {i}/{len(code)} {status:5} {seconds:6.1f} s  {first_line(cell)}")
            if status != "ok":
                failed = failed or (i, first_line(cell), status)
                if status == "error":
                    run.drain()
                    log(error_text(cell))
                if not args.allow_errors or status != "error":
                    break
        run.drain()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    total = time.monotonic() - total

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    nbformat.write(nb, tmp)
    os.replace(tmp, args.out)
    log(f"wrote {args.out} ({total:.1f} s)")
    if args.html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(args.html + ".tmp", "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(args.html + ".tmp", args.html)
        log(f"wrote {args.html}")
    if failed:
        log(f"error: cell {failed[0]} ({failed[1]}) failed: {failed[2]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
