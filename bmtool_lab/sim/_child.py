"""Worker process main loop (``python -m bmtool_lab.sim._child FD LOG CANCEL KIND``).

Started by :class:`bmtool_lab.sim._process.WorkerProcess` in a neutral working directory with
fd 1/2 going to LOG. Imports NEURON at once (a warm worker), says "ready", then runs jobs one
at a time. After a hoc error it exits by itself (NEURON's interpreter may be left half-changed)
and its owner starts a fresh one.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from ._process import CancelFlag, read_tail
from .context import WorkerContext, flush_c_stdio, neuron_h, run_job
from .errors import SimError


def main(argv: list[str]) -> None:
    fd, log_path, cancel_path, kind = int(argv[0]), argv[1], argv[2], argv[3]
    conn = Connection(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    cancel = CancelFlag(cancel_path, create=False)
    t0 = time.perf_counter()
    startup_error: SimError | None = None
    try:
        neuron_h()
        import numpy  # noqa: F401 - warm: every protocol returns numpy arrays
    except Exception as exc:  # NEURON missing or broken: said on the first job
        startup_error = SimError("crash", f"NEURON could not start in the worker: {exc!r}")
    conn.send(("ready", os.getpid(), time.perf_counter() - t0))

    current: dict[str, Any] = {"job": 0, "stream": False}

    def send_partial(obj: Any) -> None:
        if current["stream"]:
            conn.send(("partial", current["job"], obj))

    ctx = WorkerContext(kind, send_partial=send_partial,
                        cancel_requested=lambda: cancel.value in (current["job"], -1))

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the kernel is gone
            break
        if msg[0] == "stop":
            break
        _, job_id, payload, stream = msg
        current["job"], current["stream"] = job_id, stream
        ctx._send_partial = send_partial if stream else None  # pool jobs: publish_due() is False
        flush_c_stdio()
        os.ftruncate(1, 0)  # keep only this job's output for its error message
        try:
            fn, kwargs = pickle.loads(payload)
        except Exception as exc:
            ok, value = False, SimError("python", f"the job could not be unpickled in the worker: {exc!r}")
        else:
            if startup_error is not None:
                ok, value = False, startup_error
            else:
                ok, value = run_job(ctx, fn, kwargs, lambda: read_tail(log_path))
        retiring = (not ok) and isinstance(value, SimError) and value.kind == "hoc"
        current["stream"] = False
        try:
            conn.send(("done", job_id, ok, value, retiring))
        except Exception as exc:  # an unpicklable result
            err = SimError("python", f"the job's result could not be sent back (not picklable): {exc!r}",
                           job=ctx.job)
            conn.send(("done", job_id, False, err, retiring))
        if retiring:
            break
        if not ok:
            # A failed or cancelled job's traceback holds its frames, and with them NEURON objects
            # (the step's IClamp...), in reference cycles that the cyclic GC would free at some
            # random moment of a later job: between a checkpoint's count of point processes and
            # its SaveState.restore() that aborts NEURON (savstate.cpp "nprs_ <= prl->size()").
            # Free them now, before the next job.
            value = None
            gc.collect()
    flush_c_stdio()
    os._exit(0)  # skip NEURON's exit handlers: there is nothing to save


if __name__ == "__main__":
    main(sys.argv[1:])
