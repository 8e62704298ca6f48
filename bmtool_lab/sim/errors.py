"""The one error type a simulation job produces, on any backend.

A :class:`SimError` crosses process boundaries (it pickles with all its fields), so the kernel
sees the same object whether the job raised inside a local worker, segfaulted it, ran past its
timeout or failed on a Dask worker. Dashboards show ``str(err)`` and put ``err.detail`` in an
expandable box.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: What went wrong: a hoc error (NEURON's interpreter), a Python exception in the job, a worker
#: that died (segfault, abort, killed), a job past its timeout, mechanisms that do not compile
#: or load, a cancelled job, or a model that cannot be built (bad template, missing file...).
KINDS = ("hoc", "python", "crash", "timeout", "mechanisms", "cancelled", "model")


class SimError(Exception):
    """A simulation job that failed, with what failed and why.

    Fields: ``kind`` (one of :data:`KINDS`), ``message`` (one readable line), ``detail``
    (the traceback and/or the tail of the worker's stderr, where NEURON prints hoc errors),
    ``job`` (the job function's name) and ``params`` (a short summary of its keyword
    arguments).
    """

    def __init__(self, kind: str, message: str, detail: str = "", job: str = "", params: str = ""):
        if kind not in KINDS:
            raise ValueError(f"SimError kind must be one of {KINDS}, not {kind!r}")
        super().__init__(kind, message, detail, job, params)
        self.kind = kind
        self.message = message
        self.detail = detail
        self.job = job
        self.params = params

    def __reduce__(self) -> tuple:
        return (type(self), (self.kind, self.message, self.detail, self.job, self.params))

    def __str__(self) -> str:
        where = f" in {self.job}({self.params})" if self.job else ""
        return f"{self.kind} error{where}: {self.message}"

    def __repr__(self) -> str:
        return f"SimError(kind={self.kind!r}, message={self.message!r}, job={self.job!r})"

    def with_job(self, job: str, params: str) -> SimError:
        """Fill in the job name and parameters where the raiser did not know them."""
        if not self.job:
            self.job = job
        if not self.params:
            self.params = params
        return self


class JobCancelled(SimError):
    """Raised inside a job when its run was cancelled (``ctx.check_cancelled()``)."""

    def __init__(self, kind: str = "cancelled", message: str = "the run was cancelled", detail: str = "",
                 job: str = "", params: str = ""):
        super().__init__(kind, message, detail, job, params)


def summarize_kwargs(kwargs: Mapping[str, Any], width: int = 60, total: int = 300) -> str:
    """``a=1, cell=CellType(...)``: each value's repr cut to ``width`` characters, all to ``total``."""
    parts = []
    for key, value in kwargs.items():
        try:
            text = repr(value)
        except Exception:  # a repr that fails must not hide the real error
            text = f"<{type(value).__name__}>"
        if len(text) > width:
            text = text[: width - 3] + "..."
        parts.append(f"{key}={text}")
    out = ", ".join(parts)
    return out if len(out) <= total else out[: total - 3] + "..."


def job_name(fn: Any) -> str:
    """``module.qualname`` of a job function (what the error and the logs call it)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module and module != "__main__" else name
