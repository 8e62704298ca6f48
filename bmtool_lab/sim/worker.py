"""One persistent NEURON worker process per dashboard, with "latest wins" requests.

The kernel never imports NEURON. A job is a top-level function ``fn(ctx, **kwargs)`` that runs
in the worker and returns something picklable (float32 arrays, numbers, dicts). Modules that
define jobs must import ``neuron`` only inside functions, because the kernel imports them to
name the job. The worker keeps state between jobs in ``ctx.cache`` / ``ctx.model(...)``: build
the model once, then apply parameter changes and re-run.

Usage::

    from bmtool_lab.sim.worker import InteractiveWorker, SimError

    def run_step(ctx, cell_type, amp_nA, tstop_ms=500.0):      # runs in the worker
        from bmtool_lab.sim import cells, protocol
        cell = ctx.model(cell_type, lambda: cells.build_cell(cell_type))
        clamp = protocol.iclamp(cell.seg("soma"), amp_nA, delay_ms=50, dur_ms=400)
        rec = protocol.Recorder().record_v("soma", cell.seg("soma"))
        settings = protocol.SimSettings(tstop=tstop_ms, cvode=True)
        return protocol.simulate(settings, rec, ctx=ctx, chunk_ms=50).as_dict()

    with InteractiveWorker(name="profiler", on_partial=lambda p: print(p["t_ms"])) as w:
        fut = w.submit(run_step, cell_type=ct, amp_nA=0.2)   # returns at once
        fut = w.submit(run_step, cell_type=ct, amp_nA=0.3)   # replaces the waiting one
        try:
            trace = fut.result()
        except SimError as err:                               # hoc / crash / timeout / ...
            show(err.kind, err.message, err.detail)

Rules: one job in flight; a newer ``submit`` replaces the waiting one (its future is
cancelled). ``cancel()`` asks the running job to stop (``ctx.cancelled()``) and kills the
worker if it has not stopped after ``grace_s``. A job past its timeout, a hoc error, or a worker
that dies produce a :class:`SimError` in the future and the worker is replaced on the next
submit (the model in ``ctx.cache`` is rebuilt there). Partial results (``ctx.publish``) reach
the callbacks from a background thread; only the running job's partials are delivered.
"""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from ._process import WorkerProcess, dumps_job
from .context import WorkerContext
from .errors import JobCancelled, SimError, job_name, summarize_kwargs

__all__ = ["InteractiveWorker", "WorkerContext", "SimError", "JobCancelled"]

PartialCallback = Callable[[Any], None]


@dataclass
class _Job:
    id: int
    name: str
    params: str
    payload: bytes
    future: Future
    timeout_s: float | None
    on_partial: PartialCallback | None
    deadline: float | None = None  # monotonic time after which it times out
    stop_reason: str | None = None  # "cancelled" / "timeout" once asked to stop
    kill_at: float | None = None  # monotonic time of the hard kill after a stop request
    submitted: float = field(default_factory=time.monotonic)


class InteractiveWorker:
    """A persistent worker process for one dashboard (see the module docstring).

    Parameters: ``name`` (for messages and the process title); ``timeout_s`` (default job
    timeout in seconds, None = no limit); ``grace_s`` (seconds a cancelled or timed-out job gets
    to stop by itself before the worker is killed); ``on_partial`` (callback for every partial
    result); ``cancel_running`` (a newer submit also asks the running job to stop: right for
    long progressive runs a slider has made stale); ``start`` (start the process now, so the
    first run does not pay the start-up cost).
    """

    def __init__(self, name: str = "interactive", *, timeout_s: float | None = None, grace_s: float = 1.0,
                 on_partial: PartialCallback | None = None, cancel_running: bool = False, start: bool = True):
        self.name = name
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.cancel_running = cancel_running
        self._callbacks: list[PartialCallback] = [on_partial] if on_partial else []
        self._ids = itertools.count(1)
        self._cv = threading.Condition()
        self._proc: WorkerProcess | None = None
        self._running: _Job | None = None
        self._waiting: _Job | None = None
        self._closed = False
        self.restarts = 0  # worker processes replaced after a crash, hoc error or timeout
        self._monitor = threading.Thread(target=self._monitor_loop, name=f"bmtool_lab-{name}-monitor", daemon=True)
        self._monitor.start()
        if start:
            with self._cv:
                self._ensure_process()

    # --- public API -----------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, **kwargs: Any) -> Future:
        """Run ``fn(ctx, **kwargs)`` in the worker; "latest wins" (see the module docstring).

        Returns a Future whose result is the job's return value, or whose exception is a
        :class:`SimError`. Uses the worker's default timeout; see :meth:`submit_job` for a
        per-job timeout or partial-result callback.
        """
        return self.submit_job(fn, kwargs)

    def submit_job(self, fn: Callable[..., Any], kwargs: dict[str, Any] | None = None, *,
                   timeout_s: float | None = None, on_partial: PartialCallback | None = None) -> Future:
        """:meth:`submit` with explicit options: ``timeout_s`` (seconds of run time, default the
        worker's) and ``on_partial`` (called with this job's partial results only)."""
        kwargs = dict(kwargs or {})
        name, params = job_name(fn), summarize_kwargs(kwargs)
        future: Future = Future()
        try:
            payload = dumps_job(fn, kwargs)
        except Exception as exc:
            future.set_running_or_notify_cancel()
            future.set_exception(SimError("python", f"the job or its arguments cannot be pickled: {exc!r}",
                                          job=name, params=params))
            return future
        job = _Job(next(self._ids), name, params, payload, future,
                   self.timeout_s if timeout_s is None else timeout_s, on_partial)
        replaced = None
        with self._cv:
            if self._closed:
                raise RuntimeError(f"InteractiveWorker {self.name!r} is closed")
            if self._running is None:
                self._dispatch(job)
            else:
                replaced, self._waiting = self._waiting, job
                if self.cancel_running:
                    self._request_stop(self._running, "cancelled")
            self._cv.notify_all()
        if replaced is not None:
            replaced.future.cancel()
        return future

    def call(self, fn: Callable[..., Any], /, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run a job and wait for its result (raises SimError). ``timeout`` is the job's time
        limit in seconds (the worker is killed and replaced past it)."""
        return self.submit_job(fn, kwargs, timeout_s=timeout).result()

    def cancel(self) -> bool:
        """Cancel the waiting job and ask the running one to stop (killed after ``grace_s``).

        Returns True if there was anything to cancel. The running job's future gets
        SimError(kind="cancelled").
        """
        with self._cv:
            waiting, self._waiting = self._waiting, None
            running = self._running
            if running is not None:
                self._request_stop(running, "cancelled")
            self._cv.notify_all()
        if waiting is not None:
            waiting.future.cancel()
        return waiting is not None or running is not None

    def add_partial_callback(self, callback: PartialCallback) -> None:
        """Call ``callback(partial)`` (from a background thread) for every partial result."""
        self._callbacks.append(callback)

    def remove_partial_callback(self, callback: PartialCallback) -> None:
        self._callbacks.remove(callback)

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        return self._running is not None or self._waiting is not None

    @property
    def pid(self) -> int | None:
        """The current worker process id (None before start or after a crash)."""
        proc = self._proc
        return proc.pid if proc is not None else None

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Start the process if needed and wait until NEURON is imported in it.

        Returns the start-up time in seconds (process start to "ready")."""
        with self._cv:
            self._ensure_process()
            end = time.monotonic() + timeout
            while self._proc is not None and self._proc.ready_s is None:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"worker {self.name!r} did not start within {timeout} s")
                self._cv.wait(left)
            if self._proc is None:
                raise SimError("crash", f"worker {self.name!r} died while starting")
            return self._proc.ready_s or 0.0

    def close(self) -> None:
        """Stop the worker process; pending and running futures end cancelled."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            proc, self._proc = self._proc, None
            running, waiting = self._running, self._waiting
            self._running = self._waiting = None
            self._cv.notify_all()
        if waiting is not None:
            waiting.future.cancel()
        if running is not None and not running.future.done():
            running.future.set_exception(JobCancelled(message="the worker was closed", job=running.name,
                                                      params=running.params))
        if proc is not None:
            proc.stop()
        self._monitor.join(timeout=5)

    def __enter__(self) -> InteractiveWorker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() is the real API
        try:
            if not self._closed and self._proc is not None:
                self._proc.kill()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("busy" if self.busy else "idle")
        return f"InteractiveWorker({self.name!r}, pid={self.pid}, {state})"

    # --- internals (called with self._cv held) --------------------------------------------
    def _ensure_process(self) -> WorkerProcess:
        if self._proc is None or not self._proc.usable():
            if self._proc is not None:
                self._proc.stop(timeout=0.5)
                self.restarts += 1
            self._proc = WorkerProcess("interactive", name=f"bmtool_lab-{self.name}")
            self._cv.notify_all()
        return self._proc

    def _dispatch(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return  # the caller cancelled it while it waited
        proc = self._ensure_process()
        self._running = job
        # the clock starts once the worker is up: a replacement's start-up is not the job's
        job.deadline = time.monotonic() + job.timeout_s if job.timeout_s and proc.ready_s is not None else None
        try:
            proc.send_job(job.id, job.payload, stream=True)
        except (OSError, ValueError):  # died between the check and the send: the monitor reports it
            pass

    def _request_stop(self, job: _Job, reason: str) -> None:
        if job.stop_reason is None:
            job.stop_reason = reason
            job.kill_at = time.monotonic() + self.grace_s
            if self._proc is not None:
                self._proc.request_cancel(job.id)

    def _finish(self, job: _Job, ok: bool, value: Any) -> list[Callable[[], None]]:
        """Settle the running job and start the waiting one; returns future updates to run
        outside the lock."""
        self._running = None
        if self._waiting is not None and not self._closed:
            nxt, self._waiting = self._waiting, None
            self._dispatch(nxt)
            # a cancelled-by-user waiting job is skipped: try the next (there is none: one slot)
        if job.stop_reason == "timeout" and not ok and getattr(value, "kind", "") == "cancelled":
            ok, value = False, self._timeout_error(job, killed=False)
        elif job.stop_reason == "cancelled" and ok:
            ok, value = False, JobCancelled(message="the run was cancelled (it finished before noticing)",
                                            job=job.name, params=job.params)
        if ok:
            return [lambda: job.future.set_result(value)]
        return [lambda: job.future.set_exception(value)]

    def _timeout_error(self, job: _Job, killed: bool) -> SimError:
        how = "the worker was killed and will be replaced" if killed else "the job stopped when asked"
        return SimError("timeout", f"the run took longer than its {job.timeout_s:g} s limit; {how}",
                        "", job.name, job.params)

    # --- monitor thread -------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        while True:
            with self._cv:
                while not self._closed and self._proc is None:
                    self._cv.wait()
                if self._closed:
                    return
                proc, running = self._proc, self._running
                timeout = 0.5
                now = time.monotonic()
                if running is not None:
                    for t in (running.deadline if running.stop_reason is None else None, running.kill_at):
                        if t is not None:
                            timeout = min(timeout, max(0.0, t - now))
            ready = wait([proc.conn, proc.sentinel], timeout)
            actions: list[Callable[[], None]] = []
            if proc.conn in ready:
                try:
                    msg = proc.conn.recv()
                except (EOFError, OSError):
                    actions = self._on_death(proc)
                else:
                    actions = self._on_message(proc, msg)
            elif proc.sentinel in ready:
                actions = self._on_death(proc)
            else:
                actions = self._on_tick(proc)
            for act in actions:
                try:
                    act()
                except Exception as exc:  # a user callback must not kill the monitor
                    warnings.warn(f"bmtool_lab worker {self.name!r}: callback failed: {exc!r}", stacklevel=1)

    def _on_message(self, proc: WorkerProcess, msg: tuple) -> list[Callable[[], None]]:
        kind = msg[0]
        with self._cv:
            if proc is not self._proc:
                return []
            if kind == "ready":
                proc.note_ready()
                if self._running is not None and self._running.timeout_s and self._running.deadline is None:
                    self._running.deadline = time.monotonic() + self._running.timeout_s
                self._cv.notify_all()
                return []
            job = self._running
            if job is None or msg[1] != job.id:
                return []  # a late message of a job already settled
            if kind == "partial":
                if job.stop_reason is not None:
                    return []
                callbacks = [job.on_partial] if job.on_partial else []
                callbacks += self._callbacks
                return [lambda cb=cb: cb(msg[2]) for cb in callbacks]
            if kind == "done":
                _, _, ok, value, retiring = msg
                if retiring:
                    proc.retiring = True  # replaced on the next dispatch
                return self._finish(job, ok, value)
        return []

    def _on_death(self, proc: WorkerProcess) -> list[Callable[[], None]]:
        # Messages sent just before dying (a "done" of a hoc error) are still in the pipe.
        actions: list[Callable[[], None]] = []
        try:
            while proc.conn.poll():
                actions += self._on_message(proc, proc.conn.recv())
        except (EOFError, OSError):
            pass
        with self._cv:
            if proc is not self._proc:
                return actions
            self._proc = None
            self.restarts += 1
            job = self._running
            if job is None:
                proc.stop(timeout=0)
                return actions
            if job.stop_reason == "timeout":
                err = self._timeout_error(job, killed=True)
                err.detail = proc.stderr_tail()
            elif job.stop_reason == "cancelled":
                err = JobCancelled(message="the run was cancelled (the worker was stopped and will be replaced)",
                                   job=job.name, params=job.params)
            else:
                err = proc.death_error(job.name, job.params)
            proc.stop(timeout=0)
            actions += self._finish(job, False, err)
            return actions

    def _on_tick(self, proc: WorkerProcess) -> list[Callable[[], None]]:
        with self._cv:
            job = self._running
            if job is None or proc is not self._proc:
                return []
            now = time.monotonic()
            if job.stop_reason is None and job.deadline is not None and now >= job.deadline:
                self._request_stop(job, "timeout")
            elif job.kill_at is not None and now >= job.kill_at:
                proc.kill()  # the sentinel fires next and _on_death settles the job
        return []
