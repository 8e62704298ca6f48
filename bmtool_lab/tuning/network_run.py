"""Whole-network runs from the lab (issue 17): BioNet's own run of the model's config, in a
child process, optionally with the unsaved parameters of open synapse tuners applied to an
overlay copy of the dynamics files (the model is not touched), and the answer as a table.

    from bmtool_lab import NetworkSimulation
    sim = NetworkSimulation("simulation_config.json")
    run = sim.run(tstop_ms=500)                  # progress in simulated ms
    run.spikes                                   # node_id, population, timestamp_ms + node attributes
    run.rates(group_by="pop_name")               # Hz per group: mean and std over cells
    after = sim.run(tstop_ms=500, tuners=[tuner])  # with what is on screen
    after.compare(run)                           # per-group rate and spike-count changes
    NetworkSimulation.open_output("simulation_config.json")  # what BioNet already wrote
    sim.run(tstop_ms=500, ranks=2)               # under MPI (mpiexec -n 2): the same spikes
    sim.write_job("job", ranks=64, tstop_ms=5000, partition="compute")  # a SLURM job folder
    sim.sweep({"Exc2Exc.json": {"tau2": [8, 16, 24]}}, tstop_ms=500, as_frame=True)  # rates per item
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bmtool_lab.model.check import check_model
from bmtool_lab.model.config import ModelConfig, load_config
from bmtool_lab.sim.bionet_run import (
    RUN_CONFIG_NAME,
    read_status,
    run_bionet,
    write_job_script,
    write_run_config,
)
from bmtool_lab.sim.cell_overlay import write_cell_overlay
from bmtool_lab.sim.network_jobs import network_run_job
from bmtool_lab.tuning.kinds import ShowsDashboard, variant_for

__all__ = ["NetworkSimulation", "NetworkRun"]


@dataclass
class NetworkRun:
    """One network run's output: spikes (ms) of every recorded population, the run's length,
    and what it changed from the model on disk (``overlay``: file -> {key: (on disk, in the
    run)}).

    ``tstop_ms`` is the length asked for; ``t_stop_ms`` the simulated time reached. A run
    ``stopped`` before tstop keeps its spikes up to ``t_stop_ms`` (rates are over that time)
    unless it was stopped before it simulated or had to be ended (``spikes_kept`` False, no
    spikes)."""

    config: ModelConfig
    output_dir: Path
    tstop_ms: float
    overlay: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    stopped: bool = False
    wall_s: float = float("nan")
    log: list[str] = field(default_factory=list, repr=False)
    t_stop_ms: float | None = None
    spikes_kept: bool = True
    ranks: int = 1
    _spikes: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.t_stop_ms is None:
            self.t_stop_ms = self.tstop_ms

    @property
    def spikes_file(self) -> Path:
        return self.output_dir / "spikes.h5"

    @property
    def spikes(self) -> pd.DataFrame:
        """One row per spike: node_id, population, timestamp_ms, then the node's attributes
        (pop_name, model_name, ... as in the nodes files)."""
        if self._spikes is None:
            if not self.spikes_kept:
                self._spikes = _read_spikes(self.config, None)
            else:
                self._spikes = _read_spikes(self.config, self.spikes_file)
        return self._spikes

    def rates(self, group_by: str = "pop_name") -> pd.DataFrame:
        """Firing rate (Hz) per group of cells over the whole run: mean and std over the group's
        cells (silent cells count as 0 Hz), cells, spikes."""
        cells = _recorded_cells(self.config, self.spikes, group_by)
        counts = self.spikes.groupby(["population", "node_id"]).size()
        n = counts.reindex(pd.MultiIndex.from_frame(cells[["population", "node_id"]]), fill_value=0).to_numpy()
        seconds = float(self.t_stop_ms or 0.0) / 1000.0
        cells = cells.assign(n_spikes=n, rate_Hz=n / seconds if seconds > 0 else np.full(len(n), np.nan))
        g = cells.groupby(group_by, sort=True)
        out = pd.DataFrame({"mean_Hz": g.rate_Hz.mean(), "std_Hz": g.rate_Hz.std(ddof=0),
                            "n_cells": g.size(), "n_spikes": g.n_spikes.sum()})
        out.attrs["units"] = {"mean_Hz": "Hz", "std_Hz": "Hz", "n_cells": "1", "n_spikes": "1"}
        return out

    def compare(self, other: NetworkRun, group_by: str = "pop_name") -> pd.DataFrame:
        """Per-group change from ``other`` to this run: rates (Hz) and spike counts before, after
        and the difference."""
        a, b = other.rates(group_by), self.rates(group_by)
        df = pd.DataFrame({"rate_before_Hz": a.mean_Hz, "rate_after_Hz": b.mean_Hz}).fillna(0.0)
        df["rate_change_Hz"] = df.rate_after_Hz - df.rate_before_Hz
        df["spikes_before"] = a.n_spikes.reindex(df.index, fill_value=0)
        df["spikes_after"] = b.n_spikes.reindex(df.index, fill_value=0)
        df["spike_change"] = df.spikes_after - df.spikes_before
        return df

    def summary(self) -> dict[str, Any]:
        """A JSON-ready account of the run (for the CLI and provenance)."""
        rates = self.rates()
        doc: dict[str, Any] = {
            "output_dir": str(self.output_dir), "tstop_ms": self.tstop_ms, "t_stop_ms": self.t_stop_ms,
            "stopped": self.stopped, "ranks": self.ranks, "wall_s": self.wall_s}
        if self.stopped:
            doc["note"] = (f"stopped at {self.t_stop_ms:g} of {self.tstop_ms:g} ms: spikes and rates cover "
                           f"0-{self.t_stop_ms:g} ms" if self.spikes_kept else
                           f"stopped at {self.t_stop_ms:g} of {self.tstop_ms:g} ms before BioNet could write "
                           "spikes: none kept")
        return {**doc, "n_spikes": int(len(self.spikes)),
                "rates_Hz": {str(k): {"mean": _num(r.mean_Hz), "std": _num(r.std_Hz), "n_cells": int(r.n_cells)}
                             for k, r in rates.iterrows()},
                "overlay": {f: {k: list(v) for k, v in d.items()} for f, d in self.overlay.items()}}


class NetworkSimulation(ShowsDashboard):
    """BioNet runs of a model's simulation config (see the module docstring)."""

    def __new__(cls, config: str | Path | ModelConfig | None = None, *args: Any, **kwargs: Any) -> Any:
        if cls is NetworkSimulation:  # a PointNet (NEST) model: bmtk's PointNet (tuning.kinds.VARIANTS)
            cls = variant_for(NetworkSimulation, config) or cls
        return super().__new__(cls)

    def __init__(self, config: str | Path | ModelConfig) -> None:
        self.config = config if isinstance(config, ModelConfig) else load_config(config)
        #: what the model check found (bmtool_lab.model.check)
        self.model_problems: list[str] = check_model(self.config)
        self.runs: list[NetworkRun] = []

    def __repr__(self) -> str:
        return f"NetworkSimulation({str(self.config.path)!r}, {len(self.runs)} run(s))"

    def run(self, tstop_ms: float | None = None, *, ranks: int = 1, tuners: Iterable[Any] = (),
            overlay: dict[str | Path, dict] | None = None, output_dir: str | Path | None = None,
            on_progress: Callable[[float, float], None] | None = None,
            on_spikes: Callable[[Any, Any, Any], None] | None = None,
            stop_event: threading.Event | None = None, timeout_s: float | None = None) -> NetworkRun:
        """Run the whole network with BioNet (tstop from the config unless given, ms).

        ``ranks``: MPI processes (``mpiexec -n ranks``; BioNet spreads the cells over them, and
        the spikes are the same as on one). ``tuners``: open SynapseTuners (and CellProfilers)
        on this model whose unsaved parameters (and cell what-ifs) the run uses (the files on
        disk stay as they are); ``overlay``: more
        of them, {dynamics file: {key: value}}. ``on_progress(t_ms, tstop_ms)`` follows the
        simulated time; ``stop_event`` stops the run at BioNet's next block and keeps the spikes
        so far (``run.stopped``, ``run.t_stop_ms``). ``on_spikes(population, node_ids, t_ms)``
        gets each block's new spikes while the run goes on (a live raster). ``output_dir``: where
        the run writes (a new temporary folder by default).
        """
        tstop, run_dir, run_config, changed = self._prepare(tstop_ms, ranks, tuners, overlay, output_dir)
        res = run_bionet(run_config, self.config.path, tstop_ms=tstop, ranks=ranks, stop=stop_event,
                         timeout_s=timeout_s,
                         on_progress=None if on_progress is None else (lambda t: on_progress(t, tstop)),
                         on_spikes=on_spikes)
        run = self._run_of(run_dir, tstop, changed, res, ranks)
        self.runs.append(run)
        return run

    def _prepare(self, tstop_ms: float | None, ranks: int, tuners: Iterable[Any], overlay: dict | None,
                 output_dir: str | Path | None) -> tuple[float, Path, Path, dict]:
        if int(ranks) < 1:
            raise ValueError(f"ranks must be >= 1, not {ranks!r}")
        tstop = float(tstop_ms if tstop_ms is not None else self.config.run.tstop)
        if not tstop > 0:
            raise ValueError(f"tstop_ms must be > 0, not {tstop_ms!r}")
        tuners = list(tuners)
        profilers = [t for t in tuners if hasattr(t, "unsaved_cell_params")]
        files, changed = self._overlay([t for t in tuners if t not in profilers], overlay or {})
        cells, changed_cells = _cell_what_ifs(profilers)
        run_dir = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="bmtool_lab_run_"))
        run_dir.mkdir(parents=True, exist_ok=True)
        write_cell_overlay(run_dir, cells)
        return tstop, run_dir, write_run_config(self.config.path, run_dir, tstop, files), {**changed, **changed_cells}

    def _run_of(self, run_dir: Path, tstop: float, changed: dict, res: dict[str, Any], ranks: int) -> NetworkRun:
        return NetworkRun(self.config, run_dir / "output", tstop, overlay=changed, stopped=res["stopped"],
                          wall_s=res["wall_s"], log=res["log"], t_stop_ms=res["t_stop_ms"],
                          spikes_kept=res["spikes_kept"], ranks=int(ranks))

    def write_job(self, path: str | Path, *, ranks: int = 1, tstop_ms: float | None = None,
                  tuners: Iterable[Any] = (), overlay: dict[str | Path, dict] | None = None,
                  partition: str | None = None, time: str = "01:00:00", job_name: str | None = None,
                  account: str | None = None, nodes: int | None = None, mem: str | None = None,
                  sbatch: Sequence[str] = (), setup: str = "", python: str | None = None) -> Path:
        """A SLURM job folder instead of a run: ``path/run_config.json`` (+ the overlay of the
        tuners' unsaved parameters) and ``path/job.sh``, an sbatch script that runs the same
        child as :meth:`run` with ``srun`` (``mpiexec``, or Python for one rank, when run with
        plain ``bash``). Its output goes to ``path/output``; read it back with
        ``NetworkSimulation.open_output(path / "output")``. ``setup``: shell lines run first
        (``module load ...``); ``sbatch``: more ``#SBATCH`` options. Returns the script's path.
        The folder holds absolute paths to the model: the cluster must see the same files."""
        _, run_dir, _, _ = self._prepare(tstop_ms, ranks, tuners, overlay, Path(path))
        return write_job_script(run_dir, self.config.path, ranks=ranks, partition=partition, time_limit=time,
                                job_name=job_name, account=account, nodes=nodes, mem=mem, sbatch=tuple(sbatch),
                                setup=setup, python=python)

    def sweep(self, grid: Mapping[str, Mapping[str, Sequence[Any]]] | Sequence[Mapping[str, Mapping[str, Any]]],
              *, tstop_ms: float | None = None, ranks: int = 1, tuners: Iterable[Any] = (),
              executor: Any = None, output_dir: str | Path | None = None, as_frame: bool = False,
              group_by: str = "pop_name", on_result: Callable[[int, Any], None] | None = None,
              stop_event: threading.Event | None = None, timeout_s: float | None = None
              ) -> list[NetworkRun | Exception] | pd.DataFrame:
        """One network run per item, over bmtool_lab's executor (the local pool by default; a
        dask Client runs them on its workers, which must see the run folders).

        ``grid``: {dynamics file: {key: [values]}} for every combination of the values, or a list
        of overlays ({file: {key: value}}). The tuners' unsaved parameters apply to every item,
        under the item's. Returns the runs in item order (a failed item is its SimError), or with
        ``as_frame`` one row per item and group: the item's values, mean_Hz, std_Hz, n_spikes.
        """
        # local: import-time cost: multiprocessing (the executor), on the first sweep
        from bmtool_lab.sim.executor import get_executor

        items = _grid_items(grid)
        root = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="bmtool_lab_sweep_"))
        tuners = list(tuners)
        prepared, kwargs = [], []
        for i, item in enumerate(items):
            tstop, run_dir, run_config, changed = self._prepare(tstop_ms, ranks, tuners, item, root / f"item_{i:03d}")
            prepared.append((run_dir, tstop, changed))
            kwargs.append({"run_config": str(run_config), "model_config": str(self.config.path), "tstop_ms": tstop,
                           "ranks": int(ranks), "timeout_s": timeout_s})
        results = get_executor(executor).map(network_run_job, kwargs, on_result=on_result, stop=stop_event)
        runs: list[NetworkRun | Exception] = []
        for (run_dir, tstop, changed), res in zip(prepared, results, strict=True):
            runs.append(res if isinstance(res, Exception) else self._run_of(run_dir, tstop, changed, res, ranks))
        self.runs.extend(r for r in runs if isinstance(r, NetworkRun))
        return _sweep_frame(items, runs, group_by) if as_frame else runs

    def _overlay(self, tuners: Iterable[Any], extra: dict[str | Path, dict]
                 ) -> tuple[dict[Path, dict], dict[str, dict[str, tuple[Any, Any]]]]:
        """Full JSON of each dynamics file the run changes, and what changed (file -> key ->
        (on disk, in the run))."""
        files: dict[Path, dict] = {}
        for tn in tuners:
            for path, params in tn.unsaved_dynamics().items():
                files[Path(path)] = {**files.get(Path(path), {}), **params}
        models = self.config.synaptic_models_dir
        for name, params in extra.items():
            path = Path(name) if Path(name).is_absolute() else Path(models or ".") / name
            on_disk = json.loads(path.read_text())
            files[path] = {**on_disk, **files.get(path, {}), **params}
        changed: dict[str, dict[str, tuple[Any, Any]]] = {}
        for path, params in files.items():
            on_disk = json.loads(path.read_text())
            diff = {k: (on_disk.get(k), v) for k, v in params.items() if on_disk.get(k) != v}
            if diff:
                changed[path.name] = diff
        return files, changed

    @staticmethod
    def open_output(where: str | Path | ModelConfig) -> NetworkRun:
        """The output BioNet already wrote: a config (its ``output.output_dir``) or an output
        folder itself (of a run, a sweep item or a job from :meth:`write_job`: its
        ``run_config.json`` is beside it)."""
        if not isinstance(where, ModelConfig) and Path(where).is_dir():
            out = Path(where)
            cfg_path = out.parent / RUN_CONFIG_NAME
            if not cfg_path.is_file():
                raise FileNotFoundError(f"no {RUN_CONFIG_NAME} beside {out}: give the simulation config that wrote it")
            cfg = load_config(cfg_path)
        else:
            cfg = where if isinstance(where, ModelConfig) else load_config(where)
            out = _resolved_output_dir(cfg)
        if not (out / "spikes.h5").exists():
            raise FileNotFoundError(f"no spikes.h5 in {out}: run the network first (bmtool-lab run {cfg.path})")
        status = read_status(out) or {}
        tstop = float(status.get("tstop_ms", cfg.run.tstop))
        return NetworkRun(cfg, out, tstop, stopped=bool(status.get("stopped", False)),
                          t_stop_ms=float(status.get("t_stop_ms", tstop)), ranks=int(status.get("ranks", 1)))


def _cell_what_ifs(profilers: Iterable[Any]) -> tuple[list[dict], dict[str, dict[str, tuple[Any, Any]]]]:
    """The cell profilers' unsaved what-ifs as run entries (sim/cell_overlay.py), and what they
    change ("cell Exc" -> {"soma.gbar_na": (template value, in the run)})."""
    entries: list[dict] = []
    changed: dict[str, dict[str, tuple[Any, Any]]] = {}
    for prof in profilers:
        for entry in prof.unsaved_cell_params():
            entries.append({k: entry[k] for k in ("cell", "population", "node_type_id", "params")})
            diff = {f"{sec}.{name}": (entry["template"].get(sec, {}).get(name), value)
                    for sec, values in entry["params"].items() for name, value in values.items()}
            changed[f"cell {entry['cell']}"] = diff
    return entries, changed


def _resolved_output_dir(cfg: ModelConfig) -> Path:
    from bmtk.simulator import bionet

    conf = bionet.Config.from_json(str(cfg.path), validate=False)
    return Path(conf["output"]["output_dir"])


def _num(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _grid_items(grid: Any) -> list[dict[str, dict[str, Any]]]:
    """Overlays, one per sweep item: a list as it is, or every combination of a grid's values."""
    if isinstance(grid, Mapping):
        axes = [(f, k, list(vs)) for f, params in grid.items() for k, vs in params.items()]
        if not axes or any(not vs for _, _, vs in axes):
            raise ValueError("the sweep grid needs at least one value per parameter: {file: {key: [values]}}")
        items = []
        for combo in itertools.product(*(vs for _, _, vs in axes)):
            item: dict[str, dict[str, Any]] = {}
            for (f, k, _), v in zip(axes, combo, strict=True):
                item.setdefault(f, {})[k] = v
            items.append(item)
        return items
    items = [dict(it) for it in grid]
    if not items:
        raise ValueError("the sweep has no items")
    return items


def _sweep_frame(items: list[dict], runs: list[Any], group_by: str) -> pd.DataFrame:
    rows = []
    for i, (item, run) in enumerate(zip(items, runs, strict=True)):
        values = {f"{f}:{k}": v for f, params in item.items() for k, v in params.items()}
        if isinstance(run, Exception):
            rows.append({"item": i, **values, "error": str(run)})
            continue
        for group, r in run.rates(group_by).iterrows():
            rows.append({"item": i, **values, group_by: group, "mean_Hz": r.mean_Hz, "std_Hz": r.std_Hz,
                         "n_spikes": int(r.n_spikes), "stopped": run.stopped, "output_dir": str(run.output_dir)})
    df = pd.DataFrame(rows)
    df.attrs["units"] = {"mean_Hz": "Hz", "std_Hz": "Hz", "n_spikes": "1"}
    return df


def _read_spikes(cfg: ModelConfig, path: Path | None) -> pd.DataFrame:
    import h5py

    from bmtool_lab.model.sonata import SonataNetwork  # local: heavy: h5py (model.sonata)

    if path is not None and not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run wrote no spikes file")
    frames = []
    net = SonataNetwork(cfg)
    with h5py.File(path, "r") if path is not None else _no_file() as f:
        for pop in f.get("spikes", {}):
            g = f["spikes"][pop]
            df = pd.DataFrame({"node_id": np.asarray(g["node_ids"], dtype=np.int64), "population": pop,
                               "timestamp_ms": np.asarray(g["timestamps"], dtype=np.float64)})
            if pop in net.node_population_names:
                nodes = net.node_population(pop)
                rows = nodes.rows(df.node_id.to_numpy(), context=f"spikes of {pop}")
                for name in _node_columns(nodes):
                    df[name] = nodes.values(name)[rows]
            frames.append(df)
    if not frames:
        return pd.DataFrame({"node_id": pd.Series(dtype=np.int64), "population": pd.Series(dtype=object),
                             "timestamp_ms": pd.Series(dtype=np.float64)})
    return pd.concat(frames, ignore_index=True).sort_values(["timestamp_ms", "population", "node_id"],
                                                            ignore_index=True)


class _no_file:
    """An empty stand-in for a spikes file (a stopped run that kept none)."""

    def __enter__(self) -> dict:
        return {}

    def __exit__(self, *exc: Any) -> None:
        return None


def _node_columns(nodes: Any) -> list[str]:
    skip = {"node_id", "positions", "dynamics_params", "morphology", "model_template", "model_processing"}
    return [n for n in nodes.attribute_names() if n not in skip]


def _recorded_cells(cfg: ModelConfig, spikes: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Every cell of the populations BioNet records spikes of (non-virtual), with ``group_by``."""
    from bmtool_lab.model.sonata import SonataNetwork  # local: heavy: h5py (model.sonata)

    net = SonataNetwork(cfg)
    frames = []
    for pop in net.node_populations():
        if pop.is_virtual and pop.name not in set(spikes.population):  # inputs are not recorded
            continue
        values = pop.values(group_by) if pop.has_attribute(group_by) else np.full(pop.size, None, dtype=object)
        frames.append(pd.DataFrame({"population": pop.name, "node_id": pop.node_ids(), group_by: values}))
    cells = pd.concat(frames, ignore_index=True)
    cells[group_by] = cells[group_by].astype(str)
    return cells
