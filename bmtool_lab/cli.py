"""``bmtool-lab``: the headless twin of the dashboards, for scripts and clusters.

Exit codes: 0 success, 1 a simulation or analysis failed, 2 bad input (config, names, paths).
Results go to the file named by ``--json`` / ``--csv`` (``-`` or nothing: standard output),
each with a provenance block (JSON) or a ``<file>.provenance.json`` beside it (CSV). Progress
and messages go to standard error, so standard output stays parseable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

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


def cmd_check(args: argparse.Namespace) -> int:
    """List what the model check finds; exit 1 when it finds anything."""
    from .model.check import check_model

    config = _check_config(args.config)
    try:
        problems = check_model(config)
    except Exception as err:
        raise _input_error(err) from None
    for problem in problems:
        print(problem)
    _say(args, f"bmtool-lab: {config}: " + (f"{len(problems)} problem(s)" if problems else "no problems found"))
    return EXIT_FAILED if problems else EXIT_OK


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
    from .session import jsonable

    _write_text(path, json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")


def _write_csv(path: Path | None, df: Any, prov: dict[str, Any], index: bool = True) -> None:
    """A table as CSV with its provenance beside it (``<file>.provenance.json``; on standard
    output, after the table as ``# `` comment lines)."""
    text = df.to_csv(index=index)
    if path is None:
        from .session import jsonable

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
    from .sim.errors import SimError

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


# --- commands ---------------------------------------------------------------------------------
def _notebooks_dir() -> Path:
    for candidate in (Path.cwd() / "notebooks", REPO_NOTEBOOKS):
        if (candidate / "quickstart.ipynb").exists():
            return candidate
    raise CliError("notebooks/quickstart.ipynb not found: run this from the bmtool_lab repository")


def cmd_demo(args: argparse.Namespace) -> int:
    from .examples import build_example

    if not args.no_browser:
        nb_dir = _notebooks_dir()
        config = build_example(nb_dir / "example_network")
        print(f"example network: {config}")
        cmd = [sys.executable, "-m", "jupyter", "lab", str(nb_dir / "quickstart.ipynb"),
               f"--ServerApp.root_dir={nb_dir}", f"--port={args.port}"]
        if args.allow_root or (hasattr(os, "geteuid") and os.geteuid() == 0):
            cmd.append("--allow-root")  # JupyterLab refuses to start as root without it
        print("starting:", " ".join(cmd))
        return subprocess.call(cmd)

    from .demo import TraceDemo

    folder = Path(args.folder).resolve()
    t0 = time.perf_counter()
    config = build_example(folder)
    t_build = time.perf_counter() - t0
    print(f"built the example network in {t_build:.2f} s: {config}")
    demo = TraceDemo(config, cell=args.cell)
    try:
        t1 = time.perf_counter()
        result = demo.run(amp_nA=args.amp)
        t_first = time.perf_counter() - t1
        t2 = time.perf_counter()
        again = demo.run(amp_nA=args.amp)
        t_again = time.perf_counter() - t2
    finally:
        demo.close()
    m = result.metrics
    print(f"simulated {args.cell} (hoc template {demo.cell_type.model_template}) in a NEURON worker process: "
          f"{args.amp:.3f} nA step for {demo.dur_ms:.0f} ms -> {m['n_spikes']} spikes, {m['rate_Hz']:.1f} Hz in the "
          f"step, v from {m['v_min_mV']:.1f} to {m['v_max_mV']:.1f} mV")
    print(f"first run {t_first * 1e3:.0f} ms (worker start + cell build), re-run {t_again * 1e3:.0f} ms "
          f"(NEURON {again.wall_ms:.0f} ms)")
    summary = {"config": str(config), "cell": args.cell, "amp_nA": args.amp, "n_samples": int(result.t_ms.size),
               **m, "build_s": t_build, "first_run_s": t_first, "rerun_s": t_again}
    print(json.dumps(summary))
    return EXIT_OK


def cmd_connections(args: argparse.Namespace) -> int:
    from .model.config import ConfigError
    from .model.connection_types import list_connection_types

    _check_config(args.config)
    try:
        types = list_connection_types(args.config)
    except (ConfigError, FileNotFoundError) as err:
        raise CliError(str(err)) from None
    rows = [{"name": t.name, "edge_population": t.edge_population, "edge_type_id": t.edge_type_id,
             "source": ",".join(map(str, t.source_groups)), "target": ",".join(map(str, t.target_groups)),
             "edges": t.n_edges, "synapses": t.n_synapses,
             "model": "gap junction" if t.is_gap_junction else (t.model_template or ""),
             "dynamics_params": t.dynamics_params or ""} for t in types]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    cols = ["name", "edge_population", "edge_type_id", "source", "target", "edges", "synapses", "model"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    return EXIT_OK


def _find_connection(tuner: Any, name: str) -> Any:
    """A connection by name, or ``POPULATION:EDGE_TYPE_ID``."""
    pop, sep, tid = name.rpartition(":")
    if sep and tid.isdigit() and not any(ct.name == name for ct in tuner.connections):
        return (pop, int(tid))
    return name


def cmd_synapse(args: argparse.Namespace) -> int:
    from .session import provenance
    from .sim.errors import SimError
    from .tuning.synapse import SynapseTuner

    config = _check_config(args.config)
    out = _check_output(args.json)
    params = _parse_params(args.param)
    proto: dict[str, Any] = {}
    for key, value in (("freq_hz", args.freq), ("delay_ms", args.delay), ("clamp", args.clamp),
                       ("hold_mV", args.hold)):
        if value is not None:
            proto[key] = value
    try:
        tuner = SynapseTuner(config, convention=args.convention)
    except Exception as err:
        raise _input_error(err) from None
    _say_problems(args, tuner.model_problems)
    with tuner:
        try:
            tuner.select(_find_connection(tuner, args.connection))
            if proto:
                tuner.set_protocol(**proto)
            if params:
                tuner.set_params(**params)
        except Exception as err:
            raise _input_error(err) from None
        ct = tuner.current
        what = f"a {tuner.protocol.freq_hz:g} Hz train" if args.protocol == "train" else "one event"
        _say(args, f"bmtool-lab: simulating {ct.name} ({tuner.mechanism}, {tuner.protocol.clamp} clamp): {what}")
        t0 = time.perf_counter()
        try:
            res = tuner.run(args.protocol)
        except SimError as err:
            raise CliError(f"simulation of {ct.name} failed: {err}", EXIT_FAILED) from None
        _say(args, f"bmtool-lab: done in {time.perf_counter() - t0:.1f} s")
        for note in res.notes:  # clamp changes, skipped parameters, no response: said, not only filed
            _say(args, f"bmtool-lab: note: {note}")
    doc: dict[str, Any] = {
        "command": "synapse", "connection": res.connection, "edge_population": ct.edge_population,
        "edge_type_id": ct.edge_type_id, "kind": res.kind, "mechanism": res.info.get("mechanism"),
        "analysed": res.analysed, "params": res.params, "protocol": res.protocol, "metrics": res.metrics,
        "units": res.units, "placement": res.placement, "notes": res.notes, "sim_ms": res.sim_ms,
        "pulse_times_ms": res.pulse_times_ms,
    }
    if args.traces:
        doc["traces"] = {"t_ms": res.t_ms, **res.traces}
        doc["trace_units"] = {"t_ms": "ms", **res.trace_units}
    doc["provenance"] = provenance(tuner.config, dynamics=[ct.dynamics_path], parameters=res.params,
                                   protocol=res.protocol, convention=args.convention, argv=args.argv)
    _write_json(out, doc)
    if out is not None:
        _say(args, f"bmtool-lab: wrote {out}")
    return EXIT_OK


def cmd_synaptic_table(args: argparse.Namespace) -> int:
    from .session import provenance
    from .tuning.synapse import SynapseTuner

    config = _check_config(args.config)
    out = _check_output(args.csv)
    proto: dict[str, Any] = {}
    for key, value in (("freq_hz", args.freq), ("delay_ms", args.delay), ("clamp", args.clamp)):
        if value is not None:
            proto[key] = value
    client = _dask_client(args.dask_scheduler)
    try:
        try:
            tuner = SynapseTuner(config, convention=args.convention,
                                 executor=_progress_executor(client, "synaptic table", not args.quiet))
            _say_problems(args, tuner.model_problems)
            if proto:
                tuner.set_protocol(**proto)
        except Exception as err:
            raise _input_error(err) from None
        with tuner:
            df = tuner.synaptic_table(kind=args.kind)
            dyn = [ct.dynamics_path for ct in tuner.connections]
            prov = provenance(tuner.config, dynamics=dyn, protocol=tuner.protocol, kind=args.kind,
                              convention=args.convention, argv=args.argv)
    finally:
        if client is not None:
            client.close()
    _write_csv(out, df, prov, index=False)
    failed = df[df["error"].astype(str) != ""] if "error" in df else df.iloc[:0]
    if out is not None:
        _say(args, f"bmtool-lab: wrote {out} ({len(df)} connections) and {out.name}.provenance.json")
    if len(failed):
        for _, row in failed.iterrows():
            print(f"bmtool-lab: {row['connection']}: {row['error']}", file=sys.stderr)
        raise CliError(f"{len(failed)} of {len(df)} connections failed (their rows have the error)", EXIT_FAILED)
    return EXIT_OK


def _targets_connections(path: Path) -> list[str]:
    """Connection names of a targets file (YAML or JSON), read only to check them before any
    fit starts; the optimizer reads the file itself."""
    try:
        text = path.read_text()
    except OSError as err:
        raise CliError(f"cannot read the targets file {path}: {err.strerror or err}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise CliError(f"{path} is not valid YAML: {err}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise CliError(f"{path} is not valid JSON: {err}") from None
    entries = data.get("connections") if isinstance(data, dict) else None
    if not entries:
        raise CliError(f"{path}: a targets file lists 'connections' (with optional 'fit' defaults and 'protocol')")
    if isinstance(entries, dict):
        return [str(k) for k in entries]
    if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
        return [str(e.get("connection")) for e in entries]
    raise CliError(f"{path}: 'connections' must map names to settings, or be a list of entries with 'connection'")


def _check_output_dir(folder: Path) -> Path:
    """A folder the command will create or write into (2 when it cannot)."""
    if folder.exists() and not folder.is_dir():
        raise CliError(f"cannot write into {folder}: it is a file")
    if not folder.exists():
        _check_output(str(folder))  # its parent must exist and be writable
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"cannot write into {folder}: permission denied")
    return folder


def cmd_fit(args: argparse.Namespace) -> int:
    from .session import provenance, sha256_file

    config = _check_config(args.config)
    targets = Path(args.targets).expanduser()
    if not targets.is_file():
        raise CliError(f"targets file {targets} does not exist (a YAML or JSON file of connections and targets)")
    try:
        from .tuning.optimizer import fit_many
    except ImportError as err:
        raise CliError(f"optimizer not available in this bmtool_lab ({err}); `fit` needs "
                       "bmtool_lab.tuning.optimizer.fit_many", EXIT_FAILED) from None
    from .model.check import check_model
    from .model.connection_types import list_connection_types
    from .sim.errors import SimError

    names = _targets_connections(targets)
    try:
        types = [t for t in list_connection_types(config) if not t.is_gap_junction]
        _say_problems(args, check_model(config))
    except Exception as err:
        raise _input_error(err) from None
    known = {t.name for t in types} | {f"{t.edge_population}:{t.edge_type_id}" for t in types}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CliError(f"{targets}: no connection type {', '.join(map(repr, unknown))} in {config}; the network has: "
                       + ", ".join(t.name for t in types))
    out_dir = _check_output_dir(Path(args.out).expanduser() if args.out else
                                targets.with_name(f"{targets.stem}_fits"))
    client = _dask_client(args.dask_scheduler)
    try:
        _say(args, f"bmtool-lab: fitting {len(names)} connection(s) of {targets.name} on "
                   f"{'the Dask cluster at ' + args.dask_scheduler if client else 'the local pool'}")
        try:
            table = fit_many(config, targets, out_dir=out_dir, save=args.save, executor=client,
                             progress=not args.quiet)
        except SimError as err:
            raise CliError(f"fit failed: {err}", EXIT_FAILED) from None
        except (ValueError, KeyError, FileNotFoundError) as err:
            raise _input_error(err) from None
    finally:
        if client is not None:
            client.close()
    fitted = {t.name: t.dynamics_path for t in types}
    rows = table.to_dict("records")
    prov = provenance(config, dynamics=[fitted.get(r["connection"]) for r in rows], seed=None,
                      targets_file=str(targets.resolve()), targets_sha256=sha256_file(targets), save=args.save,
                      argv=args.argv)
    summary = out_dir / "fit_summary.json"
    _write_json(summary, {"command": "fit", "results": rows, "provenance": prov})
    cols = [c for c in ("connection", "fit_error", "n_evaluations", "stop_reason", "best_params", "saved_to", "error")
            if c in table]
    print(table[cols].to_string(index=False))
    _say(args, f"bmtool-lab: fit results in {out_dir} (one <connection>.fit.json each, and fit_summary.json)")
    failed = [r for r in rows if r.get("error")]
    if failed:
        raise CliError(f"{len(failed)} of {len(rows)} fits failed: "
                       + "; ".join(f"{r['connection']}: {r['error']}" for r in failed), EXIT_FAILED)
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from .session import provenance
    from .sim.errors import SimError
    from .tuning.profiler import CellProfiler

    config = _check_config(args.config, folder_ok=True)
    out = _check_output(args.json)
    fi = _parse_range(args.fi, "--fi") if args.fi else None
    zap = None
    if args.zap:
        try:
            zap = tuple(float(x) for x in args.zap.split(":"))
        except ValueError:
            zap = ()
        if len(zap) != 2 or not 0 < zap[0] < zap[1]:
            raise CliError(f"--zap must be F0:F1 in Hz with 0 < F0 < F1, got {args.zap!r}")
    overrides = {k: v for k, v in (("dt", args.dt), ("celsius", args.celsius), ("v_init", args.v_init)) if v is not None}
    if overrides.get("dt", 1.0) <= 0:
        raise CliError(f"--dt must be > 0 ms, got {args.dt}")
    try:
        prof = CellProfiler(config)
        _say_problems(args, prof.model_problems)
        prof.select(args.cell)
        if overrides:
            prof.set_run_settings(**overrides)
    except Exception as err:
        raise _input_error(err) from None
    base = prof.settings_for()
    _say(args, f"bmtool-lab: {prof.current}: dt {base.dt:g} ms, {base.celsius:g} °C, v_init {base.v_init:g} mV"
               + (f" (set on the command line: {', '.join(overrides)})" if overrides else " (from the model)"))
    doc: dict[str, Any] = {"command": "profile", "cell": prof.current}
    with prof:
        try:
            if not args.no_passive:
                _say(args, f"bmtool-lab: {prof.current}: passive step of {args.passive:g} pA")
                doc["passive"] = prof.passive(args.passive * 1e-3).to_dict()
                for warning in doc["passive"]["warnings"]:
                    _say(args, f"bmtool-lab: warning: {warning}")
            if fi is not None:
                n = int(round((fi[1] - fi[0]) / fi[2])) + 1
                bar = Progress(f"F–I {prof.current}", n, enabled=not args.quiet)
                try:
                    curve = prof.fi_curve(*fi, unit="pA", dur_ms=args.fi_dur, keep_traces=False,
                                          on_result=lambda i, c: bar.step())
                finally:
                    bar.close()
                doc["fi"] = curve.to_dict()
                for warning in curve.warnings:
                    _say(args, f"bmtool-lab: warning: F–I step {warning}")
            if zap is not None:
                _say(args, f"bmtool-lab: {prof.current}: ZAP {zap[0]:g}–{zap[1]:g} Hz")
                doc["zap"] = prof.zap(zap[0], zap[1], duration_ms=args.zap_dur).to_dict()
        except SimError as err:
            raise CliError(f"profiling {prof.current} failed: {err}", EXIT_FAILED) from None
        settings = prof.settings_for()
    doc["units"] = {"currents on the command line": "pA", "amp_nA": "nA", "current_nA": "nA", "current_pA": "pA",
                    "rate_Hz": "Hz", "v_rest_mV": "mV", "r_in_MOhm": "MΩ", "tau_ms": "ms", "sag_ratio": "1",
                    "z_MOhm": "MΩ", "freq_Hz": "Hz", "phase_rad": "rad"}
    doc["provenance"] = provenance(prof.config, parameters={"cell_params": prof.cell_params()}, settings=settings,
                                   fi_pA=list(fi) if fi else None, fi_dur_ms=args.fi_dur,
                                   passive_pA=None if args.no_passive else args.passive, argv=args.argv)
    _write_json(out, doc)
    if out is not None:
        _say(args, f"bmtool-lab: wrote {out}")
    return EXIT_OK


def cmd_connectivity(args: argparse.Namespace) -> int:
    from .session import provenance
    from .tuning.connectivity import ConnectivityExplorer

    config = _check_config(args.config)
    out = _check_output(args.csv)

    def pops(text: str) -> str | list[str]:
        return "all" if text == "all" else [p.strip() for p in text.split(",") if p.strip()]

    query = {"group_by": args.group_by, "sources": pops(args.sources), "targets": pops(args.targets),
             "stat": args.stat, "count": args.count, "connected_only": args.connected_only,
             "symmetric": args.symmetric, "convention": args.convention}
    try:
        explorer = ConnectivityExplorer(config)
        _say_problems(args, explorer.model_problems)
        df = explorer.matrix(args.metric, **query)
    except Exception as err:
        raise _input_error(err) from None
    prov = provenance(explorer.config, parameters={"metric": args.metric, **query}, matrix=df.attrs, argv=args.argv)
    if out is None and not args.csv:
        print(df.to_string(float_format=lambda x: f"{x:.4g}"))
        return EXIT_OK
    _write_csv(out, df, prov)
    if out is not None:
        _say(args, f"bmtool-lab: wrote {out} ({df.shape[0]}×{df.shape[1]}, {df.attrs.get('units', '')}) and "
                   f"{out.name}.provenance.json")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .sim.errors import SimError
    from .tuning.network_run import NetworkSimulation

    config = _check_config(args.config)
    out = _check_output(args.json)
    try:
        sim = NetworkSimulation(config)
    except Exception as err:
        raise _input_error(err) from None
    _say_problems(args, sim.model_problems)
    tstop = float(args.tstop if args.tstop is not None else sim.config.run.tstop)
    if args.ranks < 1:
        raise CliError(f"--ranks must be >= 1, not {args.ranks}")
    if args.slurm:
        try:
            script = sim.write_job(Path(args.slurm).expanduser(), ranks=args.ranks, tstop_ms=tstop,
                                   partition=args.partition, time=args.time)
        except (SimError, ValueError, OSError) as err:
            raise CliError(f"could not write the job: {err}") from None
        doc = {"command": "run", "config": str(config), "job_script": str(script), "ranks": args.ranks,
               "tstop_ms": tstop, "output_dir": str(script.parent / "output"),
               "submit": f"sbatch {script}", "run_here": f"bash {script}"}
        _say(args, f"bmtool-lab: wrote {script} ({args.ranks} rank(s), {tstop:g} ms): submit with `sbatch {script}` "
                   f"(or `bash {script}` here); then `bmtool-lab raster {script.parent / 'output'}`")
        _write_json(out, doc)
        return EXIT_OK
    bar = Progress(f"BioNet {Path(config).name} (ms)", int(round(tstop)), enabled=not args.quiet)
    try:
        run = sim.run(tstop, ranks=args.ranks, output_dir=args.output_dir,
                      on_progress=lambda t, total: bar.set(t))
    except SimError as err:
        raise CliError(f"the network run failed: {err}", EXIT_FAILED) from None
    except ValueError as err:
        raise CliError(str(err)) from None
    finally:
        bar.close()
    doc = {"command": "run", "config": str(config), **run.summary(),
           "units": {"tstop_ms": "ms", "t_stop_ms": "ms", "wall_s": "s",
                     "rates_Hz": "Hz (mean and std over each group's cells)"}}
    ranks = f" on {run.ranks} MPI ranks" if run.ranks > 1 else ""
    _say(args, f"bmtool-lab: {doc['n_spikes']} spikes in {tstop:g} ms{ranks} (wall {run.wall_s:.1f} s), output in "
               f"{run.output_dir}")
    for group, r in doc["rates_Hz"].items():
        _say(args, f"bmtool-lab:   {group}: {r['mean']:.2f} ± {r['std']:.2f} Hz over {r['n_cells']} cells")
    _write_json(out, doc)
    return EXIT_OK


def cmd_raster(args: argparse.Namespace) -> int:
    from .network_figures import raster_png
    from .tuning.network_run import NetworkRun

    folder = Path(args.output_dir).expanduser()
    if not (folder / "spikes.h5").is_file():
        raise CliError(f"{folder} holds no spikes.h5 (give the output folder of a BioNet run)")
    config = _check_config(args.config) if args.config else _config_of_output(folder)
    png = _check_output(args.png)
    try:
        from .model.config import load_config

        cfg = load_config(config)
        run = NetworkRun(cfg, folder, float(args.tstop if args.tstop is not None else cfg.run.tstop))
        spikes = run.spikes
        if args.group_by not in spikes.columns:
            raise CliError(f"no node attribute {args.group_by!r} on the spiking cells; they have: "
                           f"{', '.join(c for c in spikes.columns if c not in ('timestamp_ms',))}")
        rates = run.rates(args.group_by)
    except CliError:
        raise
    except Exception as err:
        raise _input_error(err) from None
    if png is not None:
        raster_png(spikes, png, group_by=args.group_by, tstop_ms=run.tstop_ms, title=f"{folder}: ")
        _say(args, f"bmtool-lab: wrote {png} ({len(spikes):,} spikes)")
    if png is None or args.rates:
        _write_text(None, rates.to_csv())
    return EXIT_OK


def _config_of_output(folder: Path) -> Path:
    """The config a run's output folder came from: bmtool_lab's run_config.json beside it, else
    a simulation config one level up whose output goes there."""
    from .sim.bionet_run import RUN_CONFIG_NAME

    ours = folder.parent / RUN_CONFIG_NAME
    if ours.is_file():
        return ours
    for cand in sorted(folder.parent.glob("*config*.json")):
        try:
            if "output" in json.loads(cand.read_text()):
                return cand
        except (OSError, ValueError):
            continue
    raise CliError(f"cannot tell which config wrote {folder}: give --config CONFIG")


def cmd_positions(args: argparse.Namespace) -> int:
    from .session import provenance
    from .tuning.connectivity import ConnectivityExplorer

    config = _check_config(args.config)
    png, out = _check_output(args.png), _check_output(args.csv)
    pops = None if args.populations is None else [p.strip() for p in args.populations.split(",") if p.strip()]
    try:
        explorer = ConnectivityExplorer(config)
        _say_problems(args, explorer.model_problems)
        df = explorer.positions(group_by=args.group_by, populations=pops)
        rot = explorer.rotations(populations=pops)
    except Exception as err:
        raise _input_error(err) from None
    table = df.merge(rot, on=["node_id", "population"], how="left")
    missing = df.attrs.get("without_positions", {})
    if missing:
        _say(args, "bmtool-lab: cells without positions (listed with empty x/y/z, not drawn): "
                   + ", ".join(f"{p} ({n})" for p, n in missing.items()))
    if png is not None:
        from .network_figures import positions_png

        positions_png(df, png, rot if not args.no_axes else None, title=f"{Path(config).name}: ")
        _say(args, f"bmtool-lab: wrote {png} ({len(df) - sum(missing.values()):,} cells)")
    if out is not None or png is None:
        prov = provenance(explorer.config, parameters={"group_by": args.group_by, "populations": pops},
                          units={**df.attrs["units"], **rot.attrs["units"]}, argv=args.argv)
        _write_csv(out, table, prov, index=False)
        if out is not None:
            _say(args, f"bmtool-lab: wrote {out} ({len(table):,} cells; x/y/z in µm, angles in rad)")
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    p = argparse.ArgumentParser(
        prog="bmtool-lab", description="Headless twin of the bmtool_lab dashboards.",
        epilog="Exit codes: 0 ok, 1 a simulation or analysis failed, 2 bad input (config, names, paths). "
               "`bmtool-lab COMMAND --help` describes each command.")
    p.add_argument("--version", action="version", version=f"bmtool_lab {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or status lines on stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        c.set_defaults(func=func)
        # also after the command; SUPPRESS keeps a top-level -q from being reset to False
        c.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress or status lines on stderr")
        return c

    d = command("demo", "build the example network and open the quick-start (or run it headless)", cmd_demo)
    d.add_argument("--no-browser", action="store_true",
                   help="headless: build the example network, run one simulation and print what it did")
    d.add_argument("--folder", default="example_network", help="where to build the example network (headless)")
    d.add_argument("--cell", default="Exc", help="cell type to simulate (pop_name), default Exc")
    d.add_argument("--amp", type=float, default=0.2, help="current step amplitude in nA (default 0.2: the example Exc cell fires at about 16 Hz)")
    d.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    d.add_argument("--allow-root", action="store_true", help="pass --allow-root to JupyterLab (automatic when running as root)")

    c = command("connections", "list the connection types (edge types) of a BMTK config", cmd_connections)
    c.add_argument("config", help="simulation_config.json or circuit_config.json")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")

    s = command("synapse", "simulate one connection type (single event or train) and write its metrics",
                cmd_synapse)
    s.add_argument("config", help="simulation_config.json or circuit_config.json")
    s.add_argument("--connection", required=True, metavar="NAME",
                   help="connection type name (see `bmtool-lab connections`) or EDGE_POPULATION:EDGE_TYPE_ID")
    s.add_argument("--protocol", choices=("train", "single"), default="train",
                   help="train: n_train pulses at --freq, then recovery pulses after --delay (STP indices); "
                        "single: one event (default train)")
    s.add_argument("--freq", type=float, metavar="HZ", help="train frequency in Hz (default 50)")
    s.add_argument("--delay", type=float, metavar="MS",
                   help="recovery delay in ms after the last train pulse (default 250)")
    s.add_argument("--clamp", choices=("voltage", "current"),
                   help="voltage: SEClamp, the clamp current (nA) is analysed; current: no clamp, soma v (mV) "
                        "is analysed (default voltage)")
    s.add_argument("--hold", type=float, metavar="MV", help="voltage-clamp holding potential in mV (default -70)")
    s.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="set a synapse parameter before running (dynamics-JSON name and units, e.g. tau2=9.5 "
                        "in ms); repeatable")
    s.add_argument("--convention", choices=("bmtool_lab", "bmtool"), default="bmtool_lab",
                   help="metric definitions: ours (docs/metrics.md) or bmtool 0.8.7's, for comparison")
    s.add_argument("--traces", action="store_true", help="also write the traces (t in ms, and each trace's unit)")
    s.add_argument("--json", metavar="OUT.json", help="write the result here (default: standard output)")

    t = command("synaptic-table", "metrics of every connection type of a network, in parallel, as CSV",
                cmd_synaptic_table)
    t.add_argument("config", help="simulation_config.json or circuit_config.json")
    t.add_argument("--csv", metavar="TABLE.csv",
                   help="write the table here, and its provenance to TABLE.csv.provenance.json "
                        "(default: standard output)")
    t.add_argument("--kind", choices=("single", "train"), default="single",
                   help="single: one event per connection; train: the train protocol too (STP indices)")
    t.add_argument("--freq", type=float, metavar="HZ", help="train frequency in Hz (default 50)")
    t.add_argument("--delay", type=float, metavar="MS", help="recovery delay in ms (default 250)")
    t.add_argument("--clamp", choices=("voltage", "current"), help="clamp mode (default voltage)")
    t.add_argument("--convention", choices=("bmtool_lab", "bmtool"), default="bmtool_lab",
                   help="metric definitions: ours or bmtool 0.8.7's")
    t.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run on a dask.distributed cluster (e.g. tcp://10.0.0.5:8786) instead of the local pool")

    f = command("fit", "fit synapse parameters to target metrics for the connections of a targets file", cmd_fit)
    f.add_argument("config", help="simulation_config.json or circuit_config.json")
    f.add_argument("--targets", required=True, metavar="TARGETS.yaml",
                   help="YAML or JSON: per connection, the parameters to fit with bounds and the target metrics")
    f.add_argument("--save", action="store_true", help="write the best parameters into the dynamics JSON files")
    f.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="evaluate on a dask.distributed cluster (e.g. tcp://10.0.0.5:8786) instead of the local pool")
    f.add_argument("--out", metavar="DIR",
                   help="folder for <connection>.fit.json and fit_summary.json (default: TARGETS_fits beside the "
                        "targets file)")

    r = command("profile", "profile one cell type: passive properties and an F–I curve (optional ZAP); currents in pA", cmd_profile)
    r.add_argument("config", help="simulation_config.json, circuit_config.json, or a folder of hoc templates")
    r.add_argument("--cell", required=True, metavar="NAME",
                   help="cell type: pop_name, node_type_id, template name or population:name")
    r.add_argument("--fi", metavar="START:STOP:STEP",
                   help="F–I current steps in pA, inclusive of STOP (e.g. 0:500:25 = 0, 25, …, 500 pA)")
    r.add_argument("--fi-dur", type=float, default=1000.0, metavar="MS",
                   help="duration of each F–I step in ms (default 1000); rates are spikes in the step per second")
    r.add_argument("--passive", type=float, default=-50.0, metavar="PA",
                   help="passive step amplitude in pA, either sign (default -50)")
    r.add_argument("--no-passive", action="store_true", help="skip the passive step")
    r.add_argument("--zap", metavar="F0:F1", help="also a chirp from F0 to F1 Hz: impedance and resonance")
    r.add_argument("--zap-dur", type=float, default=10_000.0, metavar="MS", help="chirp duration in ms (default 10000)")
    r.add_argument("--dt", type=float, metavar="MS",
                   help="fixed time step in ms (default: the config's run dt, as BioNet uses)")
    r.add_argument("--celsius", type=float, metavar="DEGC", help="temperature in °C (default: the config's)")
    r.add_argument("--v-init", type=float, metavar="MV", help="initial potential in mV (default: the config's)")
    r.add_argument("--json", metavar="OUT.json", help="write the result here (default: standard output)")

    n = command("connectivity", "a connectivity matrix between cell groups, as CSV", cmd_connectivity)
    n.add_argument("config", help="simulation_config.json or circuit_config.json")
    n.add_argument("--metric", choices=CONNECTIVITY_METRICS, default="percent",
                   help="total (count), percent / unidirectional / bidirectional (%% of possible pairs), "
                        "convergence / divergence (per cell), gap_percent, gap_convergence (default percent)")
    n.add_argument("--group-by", default=None, metavar="ATTRIBUTE",
                   help="node attribute to group cells by, or 'population' (default pop_name, with fallbacks)")
    n.add_argument("--sources", default="all", help="source node populations, comma separated (default all)")
    n.add_argument("--targets", default="all", help="target node populations, comma separated (default all)")
    n.add_argument("--stat", choices=("mean", "std", "min", "max"), default="mean",
                   help="statistic over cells for convergence/divergence (default mean)")
    n.add_argument("--count", choices=("connections", "synapses", "rows"), default="connections",
                   help="what total/convergence/divergence count (default connections = distinct cell pairs)")
    n.add_argument("--connected-only", action="store_true",
                   help="convergence/divergence over connected cells only (bmtool's choice); default all cells")
    n.add_argument("--symmetric", action="store_true", help="gap junctions couple both ways (gap metrics)")
    n.add_argument("--convention", choices=("sonata", "bmtool"), default="sonata",
                   help="sonata (ours, docs/metrics.md) or bmtool 0.8.7's numbers for comparison")
    n.add_argument("--csv", metavar="OUT.csv",
                   help="write the matrix here, and its provenance to OUT.csv.provenance.json "
                        "(default: print the matrix)")
    k = command("check", "the model check: missing files, node sets bmtk would leave empty, missing dynamics files "
                         "and synapse mechanisms (exit 1 when it finds any)", cmd_check)
    k.add_argument("config", help="simulation_config.json or circuit_config.json")

    r = command("run", "run the whole network with BioNet (in a child process), print rates per pop_name and "
                       "write a JSON summary", cmd_run)
    r.add_argument("config", help="simulation_config.json")
    r.add_argument("--tstop", type=float, default=None, metavar="MS", help="simulated time (ms; default the config's)")
    r.add_argument("--ranks", type=int, default=1,
                   help="MPI ranks (mpiexec -n N; needs the mpi extra: pip install 'bmtool-lab[mpi]')")
    r.add_argument("--output-dir", default=None, metavar="DIR",
                   help="where BioNet writes (default: a new temporary folder; the model's own output is untouched)")
    r.add_argument("--json", metavar="OUT.json", help="write the run's summary here (default: standard output)")
    r.add_argument("--slurm", default=None, metavar="DIR",
                   help="write a SLURM job folder here (run config + job.sh for sbatch) instead of running")
    r.add_argument("--partition", default=None, help="with --slurm: the SLURM partition")
    r.add_argument("--time", default="01:00:00", help="with --slurm: the job's time limit (default 01:00:00)")
    a = command("raster", "a spike raster (PNG) and rates per group of a BioNet output folder", cmd_raster)
    a.add_argument("output_dir", help="the output folder of a BioNet run (holds spikes.h5)")
    a.add_argument("--config", default=None, help="the config of that run (found beside the folder if not given)")
    a.add_argument("--group-by", default="pop_name", metavar="ATTRIBUTE", help="node attribute that groups the cells")
    a.add_argument("--tstop", type=float, default=None, metavar="MS", help="run length for the rates (ms)")
    a.add_argument("--png", metavar="OUT.png", help="write the raster here")
    a.add_argument("--rates", action="store_true", help="print the rates CSV even with --png")

    v = command("positions", "cell positions (µm) and axes of a network, as CSV and/or a PNG of three projections",
                cmd_positions)
    v.add_argument("config", help="simulation_config.json or circuit_config.json")
    v.add_argument("--group-by", default="pop_name", metavar="ATTRIBUTE",
                   help="node attribute that colours the cells, or 'population' (default pop_name)")
    v.add_argument("--populations", default=None, metavar="A,B",
                   help="node populations, comma separated (default: every population that is not virtual)")
    v.add_argument("--png", metavar="OUT.png", help="write the x–y, x–z, y–z projections here")
    v.add_argument("--no-axes", action="store_true", help="leave out the cell axes in the PNG")
    v.add_argument("--csv", metavar="OUT.csv",
                   help="write node_id, population, group, x, y, z (µm), rotation angles (rad) and the cell axis "
                        "(default: standard output when no --png)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version exit 0; usage errors are bad input
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    args.argv = ["bmtool-lab", *argv]
    try:
        return args.func(args)
    except CliError as err:
        print(f"bmtool-lab: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # an unexpected failure: say what it was, exit 1, no traceback wall
        print(f"bmtool-lab: error: {type(err).__name__}: {err}", file=sys.stderr)
        if os.environ.get("BMTOOL_LAB_DEBUG"):
            raise
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
