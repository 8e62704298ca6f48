"""The worker side of a job: :class:`WorkerContext` and running one job into a result or SimError.

Nothing here imports NEURON at module level: the kernel imports this module (job functions are
pickled by reference) and must never load NEURON itself.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import JobCancelled, SimError, job_name, summarize_kwargs

#: Publishing more often than this only floods the kernel (and the browser behind it).
MAX_PUBLISH_HZ = 30.0


class WorkerContext:
    """What a job function gets as its first argument, inside a worker process.

    - ``ctx.h``: ``neuron.h`` with ``stdrun.hoc`` loaded;
    - ``ctx.load_mechanisms(mod_dir)``: compile (cached) and load a mod folder, once per process;
    - ``ctx.cache``: a dict that survives across jobs in this process (keep a built model here);
    - ``ctx.model(key, build)``: the one model this worker keeps, rebuilt (and the old one
      deleted) only when ``key`` changes;
    - ``ctx.publish(partial)``: send a partial result to the kernel (at most 30 per second;
      extra calls are dropped and return False);
    - ``ctx.cancelled()`` / ``ctx.check_cancelled()``: cooperative cancellation.
    """

    def __init__(self, kind: str = "inline", send_partial: Callable[[Any], None] | None = None,
                 cancel_requested: Callable[[], bool] | None = None):
        self.kind = kind  # "interactive", "pool", "dask" or "inline"
        self.cache: dict[Any, Any] = {}
        self.job = ""
        self._send_partial = send_partial
        self._cancel_requested = cancel_requested
        self._last_publish = 0.0
        self._model_key: Any = None
        self._model: Any = None

    # --- NEURON -----------------------------------------------------------------------------
    @property
    def h(self) -> Any:
        """``neuron.h`` with the standard run system loaded."""
        return neuron_h()

    def load_mechanisms(self, mod_dir: str | os.PathLike | None) -> dict[str, str]:
        """Compile (content-cached) and load ``mod_dir``'s mechanisms into this process, once.

        Returns {mechanism name: mod file}. Raises SimError(kind="mechanisms") with the
        compiler's or NEURON's message when that fails.
        """
        return load_mechanisms_or_raise(mod_dir)

    def model(self, key: Any, build: Callable[[], Any]) -> Any:
        """The model this worker keeps: built by ``build()`` the first time and whenever ``key``
        changes (the previous model's ``delete()`` is called first, so its sections are freed
        before the new ones exist)."""
        if self._model is not None and self._model_key == key:
            return self._model
        self.drop_model()
        self._model = build()
        self._model_key = key
        return self._model

    def drop_model(self) -> None:
        """Delete the kept model (if any); the next :meth:`model` call rebuilds."""
        old, self._model, self._model_key = self._model, None, None
        if old is not None and hasattr(old, "delete"):
            old.delete()

    # --- streaming and cancellation ---------------------------------------------------------
    def publish_due(self) -> bool:
        """True when a :meth:`publish` now would be sent (not throttled, and someone listens)."""
        return self._send_partial is not None and time.monotonic() - self._last_publish >= 1.0 / MAX_PUBLISH_HZ

    def publish(self, partial: Any, force: bool = False) -> bool:
        """Send a picklable partial result to the kernel's partial-result callbacks.

        Throttled to 30 per second: a call sooner than 1/30 s after the last sent one is
        dropped (returns False) unless ``force``. Pool and Dask workers drop all partials.
        """
        if self._send_partial is None or (not force and not self.publish_due()):
            return False
        self._last_publish = time.monotonic()
        self._send_partial(partial)
        return True

    def cancelled(self) -> bool:
        """True once the kernel asked this job to stop (cancel(), a newer request, a timeout)."""
        return bool(self._cancel_requested and self._cancel_requested())

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if this job was asked to stop."""
        if self.cancelled():
            raise JobCancelled()


# --- NEURON loading ---------------------------------------------------------------------------
_NEUTRAL_DIR: str | None = None


def neutral_dir() -> str:
    """A private empty folder to be the working directory when NEURON is imported, so that
    ``import neuron`` never auto-loads a ``./x86_64`` it happens to find."""
    global _NEUTRAL_DIR
    if _NEUTRAL_DIR is None:
        _NEUTRAL_DIR = tempfile.mkdtemp(prefix="bmtool_lab-worker-")
    return _NEUTRAL_DIR


def neuron_h() -> Any:
    """Import NEURON (from a neutral working directory) and load stdrun.hoc, once."""
    if "neuron" not in sys.modules:
        cwd = os.getcwd()
        os.chdir(neutral_dir())
        try:
            import neuron  # noqa: F401
        finally:
            os.chdir(cwd)  # a no-op in our workers (they live in the neutral folder); Dask's get theirs back
    from neuron import h

    if not getattr(neuron_h, "_stdrun", False):
        h.load_file("stdrun.hoc")
        neuron_h._stdrun = True  # type: ignore[attr-defined]
    return h


def load_mechanisms_or_raise(mod_dir: str | os.PathLike | None) -> dict[str, str]:
    """:func:`bmtool_lab.sim.mechanisms.load_mechanisms` with errors as SimError("mechanisms")."""
    if mod_dir is None:
        return {}
    # local: import-time cost: importlib.metadata, subprocess (+20 ms in the kernel)
    from .mechanisms import MechanismError, load_mechanisms

    neuron_h()
    try:
        return load_mechanisms(Path(mod_dir))
    except MechanismError as err:
        raise SimError("mechanisms", str(err).splitlines()[0], detail=str(err)) from None


# --- running a job ----------------------------------------------------------------------------
_HOC_MARKERS = ("hoc error", "hoc_execerror", "hocobj_call", "nrniv:", "NEURON:")


def flush_c_stdio() -> None:
    """Flush C stdio buffers so NEURON's messages reach the captured file before we read it."""
    try:
        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _first_hoc_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("NEURON:", "nrniv:")) or "error" in ln.lower():
            return ln
    return lines[0] if lines else ""


def classify(exc: BaseException, stderr: str, fn: Any, kwargs: dict) -> SimError:
    """Turn an exception raised by a job (plus the worker's stderr of that job) into a SimError."""
    name, params = job_name(fn), summarize_kwargs(kwargs)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    detail = tb + (f"\n--- worker stderr ---\n{stderr.rstrip()}" if stderr.strip() else "")
    if isinstance(exc, SimError):
        if not exc.detail:
            exc.detail = detail
        elif stderr.strip() and stderr.strip() not in exc.detail:
            exc.detail += f"\n--- worker stderr ---\n{stderr.rstrip()}"
        return exc.with_job(name, params)
    text = f"{type(exc).__name__}: {exc}"
    try:
        from .mechanisms import MechanismError  # local: import-time cost: importlib.metadata
    except Exception:  # pragma: no cover
        MechanismError = ()  # type: ignore[assignment]
    if isinstance(exc, MechanismError):
        return SimError("mechanisms", str(exc).splitlines()[0], detail, name, params)
    if isinstance(exc, RuntimeError) and any(m in str(exc) for m in _HOC_MARKERS):
        hoc_line = _first_hoc_line(stderr) or str(exc)
        return SimError("hoc", f"hoc error: {hoc_line}", detail, name, params)
    if isinstance(exc, KeyboardInterrupt):
        return SimError("cancelled", "the run was interrupted", detail, name, params)
    return SimError("python", text, detail, name, params)


def run_job(ctx: WorkerContext, fn: Callable[..., Any], kwargs: dict, stderr_tail: Callable[[], str]) -> tuple[bool, Any]:
    """Run ``fn(ctx, **kwargs)``: (True, result) or (False, SimError)."""
    ctx.job = job_name(fn)
    try:
        return True, fn(ctx, **kwargs)
    except BaseException as exc:  # noqa: B902 - every failure becomes a SimError in its slot
        if isinstance(exc, SystemExit):
            exc = RuntimeError(f"the job called sys.exit({exc.code})")
        flush_c_stdio()
        return False, classify(exc, stderr_tail(), fn, kwargs)
