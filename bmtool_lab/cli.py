"""``bmtool-lab``: the headless twin of the dashboards, for scripts and clusters.

Exit codes: 0 success, 1 a simulation or analysis failed, 2 bad input (config, names, paths).
Results go to the file named by ``--json`` / ``--csv`` (``-`` or nothing: standard output),
each with a provenance block (JSON) or a ``<file>.provenance.json`` beside it (CSV). Progress
and messages go to standard error, so standard output stays parseable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ._version import __version__
from .cli_commands import (
    cmd_check,
    cmd_connections,
    cmd_connectivity,
    cmd_demo,
    cmd_fit,
    cmd_positions,
    cmd_profile,
    cmd_raster,
    cmd_run,
    cmd_synapse,
    cmd_synaptic_table,
)
from .cli_support import (
    CONNECTIVITY_METRICS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Progress,
)

__all__ = ["main", "build_parser", "CliError", "Progress", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT",
           "CONNECTIVITY_METRICS"]


# --- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
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
