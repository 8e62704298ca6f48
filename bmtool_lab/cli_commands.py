"""The ``bmtool-lab`` commands (:mod:`bmtool_lab.cli` parses the arguments): check, demo,
connections, synapse, synaptic-table, fit, profile, connectivity, run, raster, positions."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    REPO_NOTEBOOKS,
    CliError,
    Progress,
    _check_config,
    _check_output,
    _dask_client,
    _input_error,
    _parse_params,
    _parse_range,
    _progress_executor,
    _say,
    _say_problems,
    _write_csv,
    _write_json,
    _write_text,
)
from .sim.errors import SimError


# --- commands ---------------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    """List what the model check finds; exit 1 when it finds anything."""
    from .model.check import check_model  # local: keeps `bmtool-lab --help` quick (model.check: ast, inspect)

    config = _check_config(args.config)
    try:
        problems = check_model(config)
    except Exception as err:
        raise _input_error(err) from None
    for problem in problems:
        print(problem)
    _say(args, f"bmtool-lab: {config}: " + (f"{len(problems)} problem(s)" if problems else "no problems found"))
    return EXIT_FAILED if problems else EXIT_OK


def _notebooks_dir() -> Path:
    for candidate in (Path.cwd() / "notebooks", REPO_NOTEBOOKS):
        if (candidate / "quickstart.ipynb").exists():
            return candidate
    raise CliError("notebooks/quickstart.ipynb not found: run this from the bmtool_lab repository")


def cmd_demo(args: argparse.Namespace) -> int:
    from .examples import build_example  # local: keeps `bmtool-lab --help` quick (examples)

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

    from .demo import TraceDemo  # local: heavy: numpy (demo)

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
    # local: keeps `bmtool-lab --help` quick (model.config; pandas, h5py via connection_types)
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
    # local: keeps `bmtool-lab --help` quick (session: ~80 stdlib modules; numpy via tuning.synapse)
    from .session import provenance
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
    # local: keeps `bmtool-lab --help` quick (session; numpy via tuning.synapse)
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
    # local: keeps `bmtool-lab --help` quick (session: ~80 stdlib modules, +30 ms)
    from .session import provenance, sha256_file

    config = _check_config(args.config)
    targets = Path(args.targets).expanduser()
    if not targets.is_file():
        raise CliError(f"targets file {targets} does not exist (a YAML or JSON file of connections and targets)")
    try:
        # local: heavy: numpy (tuning.optimizer); an ImportError says the optimizer is missing
        from .tuning.optimizer import fit_many
    except ImportError as err:
        raise CliError(f"optimizer not available in this bmtool_lab ({err}); `fit` needs "
                       "bmtool_lab.tuning.optimizer.fit_many", EXIT_FAILED) from None
    # local: keeps `bmtool-lab --help` quick (model.check; pandas, h5py via connection_types)
    from .model.check import check_model
    from .model.connection_types import list_connection_types

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
    # local: keeps `bmtool-lab --help` quick (session; pandas, h5py via tuning.profiler)
    from .session import provenance
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
    # local: keeps `bmtool-lab --help` quick (session; pandas, scipy via tuning.connectivity)
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
    from .tuning.network_run import NetworkSimulation  # local: heavy: pandas (tuning.network_run)

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
    # local: heavy: pandas (network_figures, tuning.network_run)
    from .network_figures import raster_png
    from .tuning.network_run import NetworkRun

    folder = Path(args.output_dir).expanduser()
    if not (folder / "spikes.h5").is_file():
        raise CliError(f"{folder} holds no spikes.h5 (give the output folder of a BioNet run)")
    config = _check_config(args.config) if args.config else _config_of_output(folder)
    png = _check_output(args.png)
    try:
        from .model.config import load_config  # local: keeps `bmtool-lab --help` quick (model.config)

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
    from .sim.bionet_run import RUN_CONFIG_NAME  # local: heavy: numpy (sim.bionet_run)

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
    # local: keeps `bmtool-lab --help` quick (session; pandas, scipy via tuning.connectivity)
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
        from .network_figures import positions_png  # local: heavy: pandas (network_figures)

        positions_png(df, png, rot if not args.no_axes else None, title=f"{Path(config).name}: ")
        _say(args, f"bmtool-lab: wrote {png} ({len(df) - sum(missing.values()):,} cells)")
    if out is not None or png is None:
        prov = provenance(explorer.config, parameters={"group_by": args.group_by, "populations": pops},
                          units={**df.attrs["units"], **rot.attrs["units"]}, argv=args.argv)
        _write_csv(out, table, prov, index=False)
        if out is not None:
            _say(args, f"bmtool-lab: wrote {out} ({len(table):,} cells; x/y/z in µm, angles in rad)")
    return EXIT_OK
