"""Background runs of :class:`~bmtool_lab.tuning.profiler.CellProfiler` (a mixin): what its
dashboard asks for, "latest wins".

``prof.submit(kind, **kwargs)`` returns a Future of the result of the method of that name
(:meth:`passive`, :meth:`current_clamp`, :meth:`zap`, :meth:`fi_curve`, :meth:`profile_all`,
:meth:`describe`), with the same arguments. Single runs go to :attr:`live_worker`, apart from
the blocking calls' :attr:`worker` (headless calls in the same kernel neither cancel nor are
cancelled by the dashboard's runs); a newer run stops the stale one there. F–I sweeps and
``profile_all`` run on the sweep executor in a thread; every run but ``describe`` and
``profile_all`` stops a running F–I sweep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..sim.errors import SimError

__all__ = ["SUBMIT_KINDS", "BackgroundRuns"]

#: what :meth:`BackgroundRuns.submit` runs
SUBMIT_KINDS = ("passive", "current_clamp", "zap", "fi_curve", "profile_all", "describe")
#: kinds that leave a running F–I sweep alone
_KEEP_SWEEP = ("describe", "profile_all")


class BackgroundRuns:
    """:meth:`submit` and its workers; the profiler gives ``_listeners`` and ``worker``."""

    _live_worker: Any = None
    _fi_stop: threading.Event | None = None

    @property
    def live_worker(self) -> Any:
        """The worker of :meth:`submit`'s single runs (a newer run stops the running one)."""
        if self._live_worker is None:
            # local: import-time cost: multiprocessing (the worker), on the first run
            from ..sim.worker import InteractiveWorker

            self._live_worker = InteractiveWorker(name="profiler-dashboard", timeout_s=600, cancel_running=True)
        return self._live_worker

    def submit(self, kind: str, /, *, on_partial: Callable[..., None] | None = None, **kwargs: Any) -> Future:
        """Run ``kind`` (one of :data:`SUBMIT_KINDS`) in the background with the method's ``kwargs``.

        ``on_partial`` gets the progress: the worker's parts (``{"trace", "t_ms", "tstop_ms"}``)
        of a single run with ``stream=True``, ``(i, curve)`` as each F–I step finishes,
        ``(done, total)`` of ``profile_all``. The Future is cancelled when a newer run made
        this one stale; otherwise it holds the result or the error (a SimError for a failed
        run). Emits "running" (the kind), then "result" or "error" ({"kind", "result" or
        "error"}) to the listeners.
        """
        if kind not in SUBMIT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SUBMIT_KINDS)}, not {kind!r}")
        if kind not in _KEEP_SWEEP:
            self._stop_sweep()  # the stale sweep stops; the new run starts when the pool is free
        if kind in ("fi_curve", "profile_all"):
            return self._in_thread(kind, on_partial, kwargs)
        if kind != "describe":
            kwargs["on_partial"] = on_partial
        self._submitting.kind = kind
        try:
            out = getattr(self, kind)(**kwargs)
        finally:
            self._submitting.kind = None
        if isinstance(out, Future):
            return out
        known: Future = Future()  # known already (a cached description)
        self._settle(kind, known, out)
        return known

    def cancel(self) -> None:
        """Stop the background runs: the running F–I sweep and the live worker's run."""
        self._stop_sweep()
        if self._live_worker is not None:
            self._live_worker.cancel()

    def _close_runs(self) -> None:
        self._stop_sweep()
        if self._live_worker is not None:
            self._live_worker.close()
            self._live_worker = None

    def _stop_sweep(self) -> None:
        if self._fi_stop is not None:
            self._fi_stop.set()

    @property
    def _submitting(self) -> threading.local:
        """Which kind :meth:`submit` is running on this thread (None: a blocking call)."""
        local = self.__dict__.get("_submit_local")
        if local is None:
            local = self.__dict__.setdefault("_submit_local", threading.local())
        return local

    def _job(self, fn: Callable, on_partial: Callable[[Any], None] | None, finish: Callable[[Any], Any],
             **kwargs: Any) -> Any:
        """Run a worker job and ``finish`` its output: blocking on :attr:`worker`, or, inside
        :meth:`submit`, in the background on :attr:`live_worker` (a Future of the result)."""
        kind = getattr(self._submitting, "kind", None)
        if kind is None:
            return finish(self.worker.submit_job(fn, kwargs, on_partial=on_partial).result())
        self._listeners.emit("running", kind)
        wfut = self.live_worker.submit_job(fn, kwargs, on_partial=on_partial)
        out: Future = Future()

        def done(f: Future) -> None:
            err = None if f.cancelled() else f.exception()
            if f.cancelled() or (isinstance(err, SimError) and err.kind == "cancelled"):
                out.cancel()  # stopped for a newer run: nothing to report
                return
            res = None
            if err is None:
                try:
                    res = finish(f.result())
                except Exception as exc:  # the analysis of a strange trace: reported
                    err = exc
            self._settle(kind, out, res, err)

        wfut.add_done_callback(done)
        return out

    def _in_thread(self, kind: str, on_result: Callable[..., None] | None, kwargs: dict[str, Any]) -> Future:
        out: Future = Future()
        stop = None
        if kind == "fi_curve":
            stop = self._fi_stop = threading.Event()
            kwargs = dict(kwargs, stop_event=stop)
        run = getattr(self, kind)
        self._listeners.emit("running", kind)

        def work() -> None:
            res, err = None, None
            try:
                res = run(on_result=on_result, **kwargs)
            except Exception as exc:
                err = exc
            if stop is not None and stop.is_set():
                out.cancel()  # a newer run stopped it: stale
            else:
                self._settle(kind, out, res, err)

        threading.Thread(target=work, name=f"bmtool_lab-profiler-{kind}", daemon=True).start()
        return out

    def _settle(self, kind: str, out: Future, res: Any, err: BaseException | None = None) -> None:
        """Give ``out`` its result (or error) and tell the listeners."""
        if err is not None:
            out.set_exception(err)
            self._listeners.emit("error", {"kind": kind, "error": err})
        else:
            out.set_result(res)
            self._listeners.emit("result", {"kind": kind, "result": res})
