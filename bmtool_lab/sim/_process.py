"""One worker process, kernel side: start it, talk to it, watch it, stop it.

Shared by :class:`~bmtool_lab.sim.worker.InteractiveWorker` and
:class:`~bmtool_lab.sim.executor.LocalPool`. Workers are fresh interpreters started with
``subprocess`` (``python -m bmtool_lab.sim._child``), not multiprocessing's spawn/forkserver:
those re-import the kernel's ``__main__`` (a script without an ``if __name__`` guard would
start workers recursively), and a subprocess lets us set what matters directly:

- the working directory: a private empty folder, so ``import neuron`` never auto-loads a
  ``./x86_64`` (``''`` in the kernel's ``sys.path`` becomes the kernel's folder in PYTHONPATH,
  so modules next to the notebook still import);
- fd 1 and fd 2: a per-worker log file (NEURON prints hoc errors with C stdio), whose tail goes
  into the SimError of a job that fails or a worker that dies;
- one thread per BLAS/OpenMP library (one worker per core already uses every core).

The kernel talks over a socketpair wrapped in ``multiprocessing.connection.Connection``;
cancellation requests go through an 8-byte shared file (the job id to stop), read by
``ctx.cancelled()`` without any message round trip.

Messages, kernel -> child: ("job", job_id, payload, stream) | ("stop",);
child -> kernel: ("ready", pid, seconds) | ("partial", job_id, obj) | ("done", job_id, ok, value, retiring).
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any

from .context import neutral_dir
from .errors import SimError

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def dumps_job(fn: Any, kwargs: dict) -> bytes:
    """Pickle a job; with cloudpickle when installed, so functions defined in a notebook work."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - dask brings cloudpickle
        return pickle.dumps((fn, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps((fn, kwargs), protocol=pickle.HIGHEST_PROTOCOL)


def read_tail(path: str, limit: int = 6000) -> str:
    """The last ``limit`` characters of a log file ('' when it is gone)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# --- kernel side ------------------------------------------------------------------------------
class CancelFlag:
    """8 bytes shared through a file mapping: the id of the job asked to stop (-1: any)."""

    def __init__(self, path: str, create: bool):
        if create:
            with open(path, "wb") as f:
                f.write(b"\0" * 8)
        self._file = open(path, "r+b")
        self._map = mmap.mmap(self._file.fileno(), 8)

    @property
    def value(self) -> int:
        return struct.unpack("q", self._map[:8])[0]

    @value.setter
    def value(self, job_id: int) -> None:
        self._map[:8] = struct.pack("q", job_id)

    def close(self) -> None:
        try:
            self._map.close()
            self._file.close()
        except (OSError, ValueError):
            pass


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    cwd = os.getcwd()
    paths = [cwd if p in ("", ".") else p for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    for var in _THREAD_VARS:  # one worker per core: threaded BLAS would oversubscribe the cores
        env.setdefault(var, "1")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NEURON_MODULE_OPTIONS", None)
    return env


class WorkerProcess:
    """A started worker process and the pipe to it (kernel side). Not thread-safe by itself."""

    def __init__(self, kind: str, name: str = "bmtool_lab-worker"):
        self.name = name
        fd, self.log_path = tempfile.mkstemp(prefix="bmtool_lab-worker-", suffix=".log")
        os.close(fd)
        self.cancel_path = self.log_path[: -len(".log")] + ".cancel"
        self.cancel_flag = CancelFlag(self.cancel_path, create=True)
        parent_sock, child_sock = socket.socketpair()
        self.conn = Connection(parent_sock.detach())
        child_fd = child_sock.fileno()
        self.started = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bmtool_lab.sim._child", str(child_fd), self.log_path, self.cancel_path, kind],
                cwd=neutral_dir(), env=_child_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(child_fd,), start_new_session=True,  # Ctrl-C in a terminal kernel must not reach workers
            )
        child_sock.close()
        try:
            self._pidfd: int | None = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: the socket's EOF tells us instead
            self._pidfd = None
        self.ready_s: float | None = None  # seconds from start to "ready"
        self.retiring = False
        self.job: Any = None  # owner's record of the job in flight

    @property
    def sentinel(self) -> Any:
        """Something ``multiprocessing.connection.wait`` can wait on that fires when the process ends."""
        return self._pidfd if self._pidfd is not None else self.conn

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def alive(self) -> bool:
        return self.process.poll() is None

    def usable(self) -> bool:
        return not self.retiring and self.alive()

    def send_job(self, job_id: int, payload: bytes, stream: bool) -> None:
        self.conn.send(("job", job_id, payload, stream))

    def request_cancel(self, job_id: int) -> None:
        self.cancel_flag.value = job_id

    def note_ready(self) -> None:
        if self.ready_s is None:
            self.ready_s = time.perf_counter() - self.started

    def stderr_tail(self, limit: int = 6000) -> str:
        return read_tail(self.log_path, limit)

    def join(self, timeout: float) -> None:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.join(5)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the child to exit, kill it if it does not within ``timeout`` s, remove its files."""
        if self.process.poll() is None:
            try:
                self.conn.send(("stop",))
            except (OSError, ValueError):
                pass
            self.join(timeout)
            self.kill()
        for closer in (self.conn.close, self.cancel_flag.close):
            try:
                closer()
            except OSError:
                pass
        if self._pidfd is not None:
            try:
                os.close(self._pidfd)
            except OSError:
                pass
            self._pidfd = None
        for path in (self.log_path, self.cancel_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    def death_error(self, job: str = "", params: str = "") -> SimError:
        """A SimError("crash") saying how the process ended, with the tail of its stderr."""
        self.join(2)
        code = self.process.poll()
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            how = f"the worker process died from {sig}"
            if sig == "SIGSEGV":
                how += " (segmentation fault: often a mod file's VERBATIM code or a bad pointer)"
            elif sig == "SIGKILL":
                how += " (killed: out of memory, or stopped from outside)"
            elif sig == "SIGABRT":
                how += " (aborted: NEURON or a mod file called abort())"
        else:
            how = f"the worker process exited unexpectedly (exit code {code})"
        tail = self.stderr_tail()
        detail = f"--- worker stderr (last lines) ---\n{tail.rstrip()}" if tail.strip() else "(the worker printed nothing)"
        return SimError("crash", how, detail, job, params)
