"""``bmtool-lab``: the headless twin of the dashboards, for scripts and clusters.

Exit codes: 0 success, 1 a simulation or analysis failed, 2 bad input (config, names, paths).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
REPO_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class CliError(Exception):
    """A user-facing error with its exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


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
        if args.allow_root:
            cmd.append("--allow-root")
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


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    p = argparse.ArgumentParser(prog="bmtool-lab", description="Headless twin of the bmtool_lab dashboards.")
    p.add_argument("--version", action="version", version=f"bmtool_lab {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build the example network and open the quick-start (or run it headless)")
    d.add_argument("--no-browser", action="store_true",
                   help="headless: build the example network, run one simulation and print what it did")
    d.add_argument("--folder", default="example_network", help="where to build the example network (headless)")
    d.add_argument("--cell", default="Exc", help="cell type to simulate (pop_name), default Exc")
    d.add_argument("--amp", type=float, default=0.05, help="current step amplitude in nA (default 0.05)")
    d.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    d.add_argument("--allow-root", action="store_true", help="pass --allow-root to JupyterLab")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("connections", help="list the connection types (edge types) of a BMTK config")
    c.add_argument("config", help="simulation_config.json or circuit_config.json")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.set_defaults(func=cmd_connections)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as err:
        print(f"bmtool-lab: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
