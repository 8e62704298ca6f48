"""What the ``bmtool-lab`` commands share (:mod:`bmtool_lab.cli`): exit codes, the error type,
the progress line on standard error, and reading arguments and writing results with provenance."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .sim.errors import SimError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
REPO_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: The connectivity metrics (tuning.connectivity.METRICS; listed here so --help needs no pandas).
CONNECTIVITY_METRICS = ("total", "percent", "unidirectional", "bidirectional", "convergence", "divergence",
                        "gap_percent", "gap_convergence")


class CliError(Exception):
    """A user-facing error with its exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


# --- progress ---------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on standard error.

    On a terminal the line is redrawn in place (at most 10 times a second); in a log file
    (not a terminal) one line is written per quarter done, so cluster logs stay short.
    """

    def __init__(self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label, self.total, self.enabled = label, max(int(total), 1), enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._last_quarter = -1
        self._lock = threading.Lock()
        self._draw(force=True)

    def _line(self) -> str:
        frac = min(self.done / self.total, 1.0)
        width = 24
        bar = "#" * int(round(frac * width))
        return f"{self.label} [{bar:<{width}}] {self.done}/{self.total} {frac:4.0%} {time.perf_counter() - self.t0:6.1f} s"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.perf_counter()
            if force or now - self._last_draw >= 0.1:
                self._last_draw = now
                self.stream.write("\r" + self._line())
                self.stream.flush()
        else:
            quarter = int(4 * self.done / self.total)
            if force or quarter != self._last_quarter:
                self._last_quarter = quarter
                self.stream.write(self._line() + "\n")
                self.stream.flush()

    def step(self, n: int = 1) -> None:
        """Count ``n`` more items done (any thread)."""
        with self._lock:
            self.done = min(self.done + n, self.total)
            self._draw()

    def set(self, done: int, total: int | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = max(int(total), 1)
            self.done = min(int(done), self.total)
            self._draw()

    def close(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self.stream.write("\r" + self._line() + "\n")
            elif self._last_quarter != 4:
                self.stream.write(self._line() + "\n")
            self.stream.flush()
            self.enabled = False


def _progress_executor(base: Any, label: str, enabled: bool = True) -> Any:
    """A sweep executor that counts finished items into a progress bar, then calls the caller's
    ``on_result`` (the controllers' sweeps take no progress callback of their own)."""
    # local: keeps `bmtool-lab --help` quick (multiprocessing, via sim.executor)
    from .sim.executor import SweepExecutor, get_executor

    inner = get_executor(base)

    class Counting(SweepExecutor):
        n_workers = inner.n_workers

        def map(self, fn: Callable[..., Any], kwargs_list: Sequence[dict[str, Any]], on_result: Any = None,
                timeout: float | None = None, stop: threading.Event | None = None) -> list[Any]:
            bar = Progress(label, len(kwargs_list), enabled=enabled)

            def counted(i: int, value: Any) -> None:
                bar.step()
                if on_result is not None:
                    on_result(i, value)

            try:
                return inner.map(fn, kwargs_list, on_result=counted, timeout=timeout, stop=stop)
            finally:
                bar.close()

    return Counting()


# --- inputs and outputs -----------------------------------------------------------------------
def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


def _say_problems(args: argparse.Namespace, problems: list[str]) -> None:
    """The model check's findings (the same the dashboards and the sidebar panel show)."""
    for problem in problems:
        _say(args, f"bmtool-lab: model problem: {problem}")


def _check_config(path: str, folder_ok: bool = False) -> Path:
    """The config path, or a CliError (2) saying what is wrong with it; parsed by the controllers."""
    p = Path(path).expanduser()
    if not p.exists():
        raise CliError(f"config {p} does not exist (expected a BMTK simulation_config.json or circuit_config.json)")
    if p.is_dir() and not folder_ok:
        raise CliError(f"config {p} is a directory; give its simulation_config.json or circuit_config.json")
    return p


def _check_output(path: str | None) -> Path | None:
    """Check an output path before any work is done (2 on a problem); None means standard output."""
    if path is None or path == "-":
        return None
    p = Path(path).expanduser()
    if p.is_dir():
        raise CliError(f"cannot write {p}: it is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    # Walk up to the first existing ancestor: a file there means "a path under a file".
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CliError(f"cannot write {p}: {probe} is a file, not a directory")
    if not parent.is_dir():
        raise CliError(f"cannot write {p}: the directory {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CliError(f"cannot write {p}: permission denied")
    return p


def _write_text(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        path.write_text(text)
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror or err}") from None


def _write_json(path: Path | None, data: Any) -> None:
    from .session import jsonable  # local: keeps `bmtool-lab --help` quick (session: ~80 stdlib modules)

    _write_text(path, json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")


def _write_csv(path: Path | None, df: Any, prov: dict[str, Any], index: bool = True) -> None:
    """A table as CSV with its provenance beside it (``<file>.provenance.json``; on standard
    output, after the table as ``# `` comment lines)."""
    text = df.to_csv(index=index)
    if path is None:
        from .session import jsonable  # local: keeps `bmtool-lab --help` quick (session)

        _write_text(None, text + "".join(f"# {line}\n" for line in json.dumps(jsonable(prov), indent=1).splitlines()))
        return
    _write_text(path, text)
    _write_json(path.with_name(path.name + ".provenance.json"), prov)


def _parse_range(text: str, what: str) -> tuple[float, float, float]:
    """``START:STOP:STEP`` → three floats (2 on a malformed range)."""
    parts = text.split(":")
    try:
        start, stop, step = (float(x) for x in parts)
    except ValueError:
        raise CliError(f"{what} must be START:STOP:STEP (e.g. 0:500:25), got {text!r}") from None
    if step <= 0 or stop < start:
        raise CliError(f"{what} {text!r}: need STEP > 0 and STOP >= START")
    return start, stop, step


def _parse_params(items: Sequence[str] | None) -> dict[str, float]:
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise CliError(f"--param takes NAME=VALUE with a number (e.g. tau2=9.5), got {item!r}")
    return out


def _input_error(err: BaseException) -> CliError:
    """An exception raised while reading the inputs, as a CliError: simulation failures (a
    mechanism that does not compile, ...) are 1, everything else is bad input (2)."""
    if isinstance(err, SimError):
        return CliError(str(err), EXIT_FAILED)
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return CliError(str(text))


def _dask_client(address: str | None) -> Any:
    if not address:
        return None
    try:
        from dask.distributed import Client
    except ImportError:
        raise CliError("--dask-scheduler needs dask.distributed: pip install 'bmtool-lab[dask]'") from None
    try:
        return Client(address, timeout="15s")
    except (OSError, TimeoutError, ValueError) as err:
        raise CliError(f"cannot connect to the Dask scheduler at {address}: {err}") from None
