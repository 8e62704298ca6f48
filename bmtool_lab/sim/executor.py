"""Sweeps: one interface, a warm local process pool or a dask.distributed cluster.

A sweep maps one job function over many keyword sets (F–I steps, frequencies, optimizer
populations, "every connection"). Results come back in input order; a failed item is a
:class:`SimError` in its slot, never an exception that loses the others.

Usage::

    from bmtool_lab.sim.executor import get_executor, SimError

    def fi_step(ctx, cell_type, amp_nA):                       # runs in a worker
        ...
        return {"amp_nA": amp_nA, "rate_hz": n_spikes / 1.0}

    ex = get_executor(None)            # the shared local pool (one warm worker per core)
    # ex = get_executor(dask_client)   # or a dask.distributed Client (LocalCluster, HPC)
    rows = ex.map(fi_step, [{"cell_type": ct, "amp_nA": a} for a in amps],
                  on_result=lambda i, r: progress(i, r), timeout=60)
    failed = [r for r in rows if isinstance(r, SimError)]
    fut = ex.map_async(fi_step, kwargs_list)      # the same, without blocking the kernel

Workers load mechanisms on first use (``ctx.load_mechanisms`` in the job) and keep what the
job stores in ``ctx.cache`` between items, so a sweep over one cell builds it once per worker.
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from multiprocessing.connection import wait
from typing import Any

from ._process import WorkerProcess, dumps_job
from .context import WorkerContext, neuron_h, run_job
from .errors import JobCancelled, SimError, job_name, summarize_kwargs

__all__ = ["SweepExecutor", "Feed", "ListFeed", "LocalPool", "DaskExecutor", "get_executor", "default_pool", "SimError"]

ResultCallback = Callable[[int, Any], None]


class Feed:
    """Work handed to a sweep as workers become idle (:meth:`SweepExecutor.run_feed`), for
    searches whose next items depend on earlier results (the rheobase search of an F–I sweep).

    Items are numbered in the order :meth:`take` returns them. The local pool calls
    ``take(n_idle)`` whenever workers are idle (so the feed decides what runs next at that
    moment) and finishes when nothing runs and ``take`` returns nothing; other backends run
    rounds: ``take`` with a large ``n``, wait for the whole round, repeat.
    """

    def take(self, n: int) -> list[dict[str, Any]]:
        """At most ``n`` keyword sets to start now (none: nothing to start until a result comes)."""
        return []

    def put(self, i: int, result: Any) -> None:
        """Item ``i`` finished: its result, or a SimError (JobCancelled when it was cancelled)."""

    def obsolete(self) -> Iterable[int]:
        """Items in flight whose result is no longer needed: the local pool cancels them."""
        return ()

    def close(self) -> None:
        """No more items are taken (all done, or the sweep was stopped)."""


class ListFeed(Feed):
    """A fixed list (what :meth:`SweepExecutor.map` runs): results in input order; at close,
    items never started get JobCancelled."""

    def __init__(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]],
                 on_result: ResultCallback | None = None):
        self.kwargs_list = list(kwargs_list)
        self.results: list[Any] = [None] * len(self.kwargs_list)
        self._next = 0
        self._name = job_name(fn)
        self._on_result = on_result

    def take(self, n: int) -> list[dict[str, Any]]:
        out = self.kwargs_list[self._next:self._next + n]
        self._next += len(out)
        return out

    def put(self, i: int, result: Any) -> None:
        self.results[i] = result
        _notify(self._on_result, i, result)

    def close(self) -> None:
        for i in range(self._next, len(self.kwargs_list)):
            self.put(i, JobCancelled(job=self._name, params=summarize_kwargs(self.kwargs_list[i])))
        self._next = len(self.kwargs_list)


class SweepExecutor:
    """The interface of sweep backends: ``map`` (blocking) and ``map_async`` (a Future)."""

    n_workers: int = 1

    def map(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]], on_result: ResultCallback | None = None,
            timeout: float | None = None, stop: threading.Event | None = None) -> list[Any]:
        """Run ``fn(ctx, **kw)`` for every ``kw``; results (or SimErrors) in input order.

        ``on_result(i, result)`` is called as each item finishes (progress); ``timeout`` is
        each item's limit in seconds; setting ``stop`` cancels what has not finished (those
        slots get SimError(kind="cancelled")).
        """
        raise NotImplementedError

    def map_async(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]],
                  on_result: ResultCallback | None = None, timeout: float | None = None,
                  stop: threading.Event | None = None) -> Future:
        """:meth:`map` in a background thread: a Future of the result list."""
        future: Future = Future()

        def runner() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.map(fn, kwargs_list, on_result=on_result, timeout=timeout, stop=stop))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=runner, name="bmtool_lab-sweep", daemon=True).start()
        return future

    def run_feed(self, fn: Callable[..., Any], feed: Feed, timeout: float | None = None,
                 stop: threading.Event | None = None) -> None:
        """Run what ``feed`` hands out until it has nothing more (see :class:`Feed`). Here in
        rounds of :meth:`map`; the local pool takes items as each worker becomes idle."""
        start = 0
        try:
            while stop is None or not stop.is_set():
                items = feed.take(1 << 30)
                if not items:
                    break
                base, start = start, start + len(items)
                self.map(fn, items, on_result=lambda j, r, base=base: feed.put(base + j, r), timeout=timeout,
                         stop=stop)
        finally:
            feed.close()

    def close(self) -> None:
        """Release the backend's resources (a LocalPool stops its processes)."""

    def __enter__(self) -> SweepExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _notify(on_result: ResultCallback | None, i: int, value: Any) -> None:
    if on_result is not None:
        try:
            on_result(i, value)
        except Exception as exc:  # progress display bugs must not lose the sweep
            import warnings

            warnings.warn(f"bmtool_lab sweep: on_result callback failed: {exc!r}", stacklevel=2)


class LocalPool(SweepExecutor):
    """Warm persistent worker processes on this machine (default: one per core).

    Processes start on the first ``map`` (or :meth:`start`) and stay up, keeping NEURON, the
    loaded mechanisms and ``ctx.cache`` between sweeps. A worker that crashes, hits a hoc
    error or times out is replaced; its item gets a SimError. One ``map`` runs at a time per
    pool (others wait their turn).
    """

    def __init__(self, n_workers: int | None = None, grace_s: float = 1.0):
        self.n_workers = max(1, int(n_workers or os.cpu_count() or 1))
        self.grace_s = grace_s
        self._workers: list[WorkerProcess | None] = [None] * self.n_workers
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0
        self._job_ids = itertools.count(1)

    def start(self, wait_ready: bool = False, timeout: float = 60.0) -> LocalPool:
        """Start the worker processes now (optionally waiting until NEURON is loaded in each)."""
        with self._lock:
            workers = [self._worker(i) for i in range(self.n_workers)]
            if wait_ready:
                end = time.monotonic() + timeout
                for w in workers:
                    while w.ready_s is None and time.monotonic() < end:
                        if w.conn.poll(max(0.0, end - time.monotonic())):
                            msg = w.conn.recv()
                            if msg[0] == "ready":
                                w.note_ready()
        return self

    def _worker(self, i: int) -> WorkerProcess:
        if self._closed:
            raise RuntimeError("this LocalPool is closed")
        w = self._workers[i]
        if w is None or not w.usable():
            if w is not None:
                w.stop(timeout=0.5)
                self.restarts += 1
            w = self._workers[i] = WorkerProcess("pool", name=f"bmtool_lab-pool-{i}")
        return w

    def map(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]], on_result: ResultCallback | None = None,
            timeout: float | None = None, stop: threading.Event | None = None) -> list[Any]:
        feed = ListFeed(fn, kwargs_list, on_result)
        self.run_feed(fn, feed, timeout=timeout, stop=stop)
        return feed.results

    def run_feed(self, fn: Callable[..., Any], feed: Feed, timeout: float | None = None,
                 stop: threading.Event | None = None) -> None:
        """Items taken from ``feed`` whenever a worker is idle (see :class:`Feed`); in-flight items
        the feed calls obsolete are cancelled (their ``put`` gets a JobCancelled)."""
        name = job_name(fn)
        kwargs_of: dict[int, dict[str, Any]] = {}
        numbers = itertools.count()
        retry: deque[tuple[int, bytes]] = deque()  # sent to a worker that had died while idle

        def take(n: int) -> list[tuple[int, bytes]]:
            out = []
            for kw in (feed.take(n) if n > 0 else []):
                i = next(numbers)
                kwargs_of[i] = kw
                try:
                    out.append((i, dumps_job(fn, kw)))
                except Exception as exc:
                    feed.put(i, SimError("python", f"the job or its arguments cannot be pickled: {exc!r}",
                                         job=name, params=summarize_kwargs(kw)))
            return out

        with self._lock:
            # busy[w] = [item index, job id, deadline, kill_at, stop reason, timeout]
            busy: dict[int, list] = {}
            job_ids = self._job_ids  # pool-wide: a stale cancel flag must never match a new job's id
            stopping = False
            try:
                while True:
                    if not stopping and stop is not None and stop.is_set():
                        stopping = True
                        feed.close()
                        for i, _ in retry:
                            feed.put(i, JobCancelled(job=name, params=summarize_kwargs(kwargs_of[i])))
                        retry.clear()
                        for wi, slot in busy.items():
                            self._cancel(wi, slot)
                    if not stopping:
                        obsolete = set(feed.obsolete()) if busy else set()
                        for wi, slot in busy.items():
                            if slot[0] in obsolete:
                                self._cancel(wi, slot)
                        idle = [wi for wi in range(self.n_workers) if wi not in busy]
                        todo = deque(retry)
                        retry.clear()
                        todo.extend(take(len(idle) - len(todo)))
                        for wi in idle:
                            if not todo:
                                break
                            w = self._worker(wi)
                            i, payload = todo.popleft()
                            jid = next(job_ids)
                            try:
                                w.send_job(jid, payload, stream=False)
                            except (OSError, ValueError):  # it died while idle: replace it, retry the item
                                w.retiring = True
                                retry.append((i, payload))
                                continue
                            # the clock starts once the worker is up: a replacement's start-up is not the item's
                            deadline = time.monotonic() + timeout if timeout and w.ready_s is not None else None
                            busy[wi] = [i, jid, deadline, None, None, timeout]
                        retry.extend(todo)
                    if not busy and not retry:
                        break
                    self._wait_busy(busy, fn, kwargs_of, feed, stop)
            finally:
                if not stopping:
                    feed.close()

    def _cancel(self, wi: int, slot: list) -> None:
        if slot[4] is None:
            slot[3], slot[4] = time.monotonic() + self.grace_s, "cancelled"
            self._workers[wi].request_cancel(slot[1])  # type: ignore[union-attr]

    def _wait_busy(self, busy: dict[int, list], fn: Callable, kwargs_of: dict[int, dict], feed: Feed,
                   stop: threading.Event | None) -> None:
        """Wait for busy workers (or a deadline) and hand every settled item to ``feed.put``."""
        now = time.monotonic()
        wake = [t for slot in busy.values() for t in (slot[2] if slot[4] is None else None, slot[3])
                if t is not None]
        wait_s = max(0.0, min(wake) - now) if wake else None
        if stop is not None or not busy:
            wait_s = 0.1 if wait_s is None else min(wait_s, 0.1)
        handles = {}
        for wi in busy:
            w = self._workers[wi]
            assert w is not None
            handles[w.conn] = wi
            handles[w.sentinel] = wi
        if not handles:  # only items to resend to a replaced worker
            time.sleep(wait_s or 0.0)
            return
        ready = wait(list(handles), wait_s)
        for obj in ready:
            wi = handles[obj]
            if wi not in busy:
                continue
            w = self._workers[wi]
            assert w is not None
            slot = busy[wi]
            done = self._poll_worker(w, slot, fn, kwargs_of)
            if done is not None:
                del busy[wi]
                feed.put(slot[0], done)
        now = time.monotonic()
        for wi, slot in list(busy.items()):
            w = self._workers[wi]
            assert w is not None
            if slot[4] is None and slot[2] is not None and now >= slot[2]:
                slot[3], slot[4] = now + self.grace_s, "timeout"
                w.request_cancel(slot[1])
            elif slot[3] is not None and now >= slot[3]:
                w.kill()  # its sentinel fires on the next wait

    def _poll_worker(self, w: WorkerProcess, slot: list, fn: Callable, kwargs_of: dict[int, dict]) -> Any:
        """Read what a busy worker sent; the item's result/SimError when it is settled, else None."""
        i, jid, _, _, reason, timeout = slot
        kw = kwargs_of[i]
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.note_ready()
                    if timeout and slot[2] is None:
                        slot[2] = time.monotonic() + timeout
                elif msg[0] == "done" and msg[1] == jid:
                    _, _, ok, value, retiring = msg
                    w.retiring = retiring
                    if reason == "timeout" and not ok:  # (a result that came in the grace period is kept)
                        return self._timeout(fn, kw, killed=False)
                    if reason == "cancelled" and ok:
                        return JobCancelled(job=job_name(fn), params=summarize_kwargs(kw))
                    return value
        except (EOFError, OSError):
            w.join(2)  # the pipe closed: the process is ending
        if w.alive():
            return None
        # the worker died with this item in flight
        self.restarts += 1
        if reason == "timeout":
            err = self._timeout(fn, kw, killed=True)
            err.detail = w.stderr_tail()
        elif reason == "cancelled":
            err = JobCancelled(job=job_name(fn), params=summarize_kwargs(kw))
        else:
            err = w.death_error(job_name(fn), summarize_kwargs(kw))
        w.stop(timeout=0)
        self._workers[self._workers.index(w)] = None
        return err

    @staticmethod
    def _timeout(fn: Callable, kw: dict, killed: bool) -> SimError:
        how = "the worker was killed and replaced" if killed else "the job stopped when asked"
        return SimError("timeout", f"the item ran past its time limit; {how}", "", job_name(fn), summarize_kwargs(kw))

    def close(self) -> None:
        """Stop all worker processes."""
        with self._lock:
            self._closed = True
            for i, w in enumerate(self._workers):
                if w is not None:
                    w.stop()
                    self._workers[i] = None

    def __repr__(self) -> str:
        alive = sum(1 for w in self._workers if w is not None and w.usable())
        return f"LocalPool(n_workers={self.n_workers}, alive={alive})"


# --- Dask -------------------------------------------------------------------------------------
_DASK_CONTEXT: WorkerContext | None = None


def _dask_task(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Runs on a Dask worker: the job with a per-process WorkerContext; failures returned as
    SimError (not raised), so Dask neither retries them nor loses the other items."""
    global _DASK_CONTEXT

    if _DASK_CONTEXT is None:
        _DASK_CONTEXT = WorkerContext("dask")
    try:
        neuron_h()  # imported from a neutral folder: no ./x86_64 auto-loading on the worker
    except Exception as exc:
        return SimError("crash", f"NEURON could not start on the Dask worker: {exc!r}", job=job_name(fn),
                        params=summarize_kwargs(kwargs))
    ok, value = run_job(_DASK_CONTEXT, fn, kwargs, lambda: "")
    return value


class DaskExecutor(SweepExecutor):
    """Sweeps on a ``dask.distributed.Client`` (a laptop LocalCluster or an HPC cluster).

    Use worker processes with one thread each (NEURON is one process-wide simulator:
    ``LocalCluster(processes=True, threads_per_worker=1)``). Timeouts are approximate here: a
    Dask task cannot be interrupted, so items not done within ``timeout`` × (items per worker)
    get SimError(kind="timeout") and are cancelled. A worker that crashes is restarted by its
    nanny; the item gets SimError(kind="crash").
    """

    def __init__(self, client: Any):
        self.client = client

    @property
    def n_workers(self) -> int:  # type: ignore[override]
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:
            return 1

    def map(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]], on_result: ResultCallback | None = None,
            timeout: float | None = None, stop: threading.Event | None = None) -> list[Any]:
        from distributed import as_completed

        kwargs_list = list(kwargs_list)
        name = job_name(fn)
        futures = [self.client.submit(_dask_task, fn, kw, pure=False, retries=0) for kw in kwargs_list]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        budget = None
        if timeout:
            budget = time.monotonic() + timeout * math.ceil(len(futures) / self.n_workers) + 5.0
        remaining = set(index)
        ac = as_completed(futures)
        while remaining:
            if (stop is not None and stop.is_set()) or (budget is not None and time.monotonic() > budget):
                kind = "cancelled" if stop is not None and stop.is_set() else "timeout"
                for f in futures:
                    if f.key in remaining:
                        i = index[f.key]
                        f.cancel()
                        msg = "the run was cancelled" if kind == "cancelled" else "the item ran past its time limit"
                        results[i] = SimError(kind, msg, job=name, params=summarize_kwargs(kwargs_list[i]))
                        _notify(on_result, i, results[i])
                break
            try:
                batch = ac.next_batch(block=False) if ac.has_ready() else []
            except StopIteration:
                break
            if not batch:
                time.sleep(0.01)
                continue
            for f in batch:
                i = index[f.key]
                remaining.discard(f.key)
                try:
                    value = f.result()
                except Exception as exc:  # the worker died (KilledWorker) or the task could not run
                    value = SimError("crash", f"the Dask task failed: {type(exc).__name__}: {exc}",
                                     job=name, params=summarize_kwargs(kwargs_list[i]))
                results[i] = value
                _notify(on_result, i, value)
        return results

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r})"


# --- choosing one -----------------------------------------------------------------------------
_DEFAULT_POOL: LocalPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool() -> LocalPool:
    """The process-wide shared LocalPool (one worker per core), started lazily, closed at exit."""
    global _DEFAULT_POOL
    with _DEFAULT_LOCK:
        if _DEFAULT_POOL is None or _DEFAULT_POOL._closed:
            _DEFAULT_POOL = LocalPool()
            atexit.register(_DEFAULT_POOL.close)
        return _DEFAULT_POOL


def get_executor(executor: Any = None) -> SweepExecutor:
    """None -> :func:`default_pool`; a ``dask.distributed.Client`` -> :class:`DaskExecutor`;
    a :class:`SweepExecutor` -> itself."""
    if executor is None:
        return default_pool()
    if isinstance(executor, SweepExecutor):
        return executor
    cls = type(executor)
    if cls.__module__.split(".")[0] == "distributed" and cls.__name__ == "Client":
        return DaskExecutor(executor)
    raise TypeError(
        f"executor must be None (the local pool), a dask.distributed.Client or a SweepExecutor, "
        f"not {cls.__name__}"
    )
