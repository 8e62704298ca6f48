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
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bmtool_lab.model.check import check_model
from bmtool_lab.model.config import ModelConfig, load_config

__all__ = ["NetworkSimulation", "NetworkRun"]


@dataclass
class NetworkRun:
    """One network run's output: spikes (ms) of every recorded population, the run's length,
    and what it changed from the model on disk (``overlay``: file -> {key: (on disk, in the
    run)}). ``stopped``: the run was stopped before tstop (its spikes are not kept)."""

    config: ModelConfig
    output_dir: Path
    tstop_ms: float
    overlay: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    stopped: bool = False
    wall_s: float = float("nan")
    log: list[str] = field(default_factory=list, repr=False)
    _spikes: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def spikes_file(self) -> Path:
        return self.output_dir / "spikes.h5"

    @property
    def spikes(self) -> pd.DataFrame:
        """One row per spike: node_id, population, timestamp_ms, then the node's attributes
        (pop_name, model_name, ... as in the nodes files)."""
        if self._spikes is None:
            self._spikes = _read_spikes(self.config, self.spikes_file)
        return self._spikes

    def rates(self, group_by: str = "pop_name") -> pd.DataFrame:
        """Firing rate (Hz) per group of cells over the whole run: mean and std over the group's
        cells (silent cells count as 0 Hz), cells, spikes."""
        cells = _recorded_cells(self.config, self.spikes, group_by)
        counts = self.spikes.groupby(["population", "node_id"]).size()
        n = counts.reindex(pd.MultiIndex.from_frame(cells[["population", "node_id"]]), fill_value=0).to_numpy()
        cells = cells.assign(n_spikes=n, rate_Hz=n / (self.tstop_ms / 1000.0))
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
        return {"output_dir": str(self.output_dir), "tstop_ms": self.tstop_ms, "stopped": self.stopped,
                "wall_s": self.wall_s, "n_spikes": int(len(self.spikes)),
                "rates_Hz": {str(k): {"mean": float(r.mean_Hz), "std": float(r.std_Hz), "n_cells": int(r.n_cells)}
                             for k, r in rates.iterrows()},
                "overlay": {f: {k: list(v) for k, v in d.items()} for f, d in self.overlay.items()}}


class NetworkSimulation:
    """BioNet runs of a model's simulation config (see the module docstring)."""

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
            stop_event: threading.Event | None = None, timeout_s: float | None = None) -> NetworkRun:
        """Run the whole network with BioNet (tstop from the config unless given, ms).

        ``tuners``: open SynapseTuners on this model whose unsaved parameters the run uses (the
        files on disk stay as they are); ``overlay``: more of them, {dynamics file: {key: value}}.
        ``on_progress(t_ms, tstop_ms)`` follows the simulated time; ``stop_event`` stops the run.
        ``output_dir``: where the run writes (a new temporary folder by default).
        """
        from bmtool_lab.sim.bionet_run import run_bionet, write_run_config
        from bmtool_lab.sim.errors import SimError

        if ranks != 1:
            raise SimError("model", f"ranks={ranks}: runs on more than one MPI rank are not supported yet "
                                    "(they need mpi4py and an MPI launcher); use ranks=1")
        tstop = float(tstop_ms if tstop_ms is not None else self.config.run.tstop)
        if not tstop > 0:
            raise ValueError(f"tstop_ms must be > 0, not {tstop_ms!r}")
        files, changed = self._overlay(tuners, overlay or {})
        run_dir = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="bmtool_lab_run_"))
        run_dir.mkdir(parents=True, exist_ok=True)
        run_config = write_run_config(self.config.path, run_dir, tstop, files)
        res = run_bionet(run_config, self.config.path, tstop_ms=tstop, stop=stop_event, timeout_s=timeout_s,
                         on_progress=None if on_progress is None else (lambda t: on_progress(t, tstop)))
        run = NetworkRun(self.config, run_dir / "output", tstop, overlay=changed, stopped=res["stopped"],
                         wall_s=res["wall_s"], log=res["log"])
        self.runs.append(run)
        return run

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
    def open_output(config: str | Path | ModelConfig) -> NetworkRun:
        """The output BioNet already wrote for this config (its ``output.output_dir``)."""
        cfg = config if isinstance(config, ModelConfig) else load_config(config)
        out = _resolved_output_dir(cfg)
        if not (out / "spikes.h5").exists():
            raise FileNotFoundError(f"no spikes.h5 in {out}: run the network first (bmtool-lab run {cfg.path})")
        return NetworkRun(cfg, out, float(cfg.run.tstop))


def _resolved_output_dir(cfg: ModelConfig) -> Path:
    from bmtk.simulator import bionet

    conf = bionet.Config.from_json(str(cfg.path), validate=False)
    return Path(conf["output"]["output_dir"])


def _read_spikes(cfg: ModelConfig, path: Path) -> pd.DataFrame:
    import h5py

    from bmtool_lab.model.sonata import SonataNetwork

    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run wrote no spikes file")
    frames = []
    net = SonataNetwork(cfg)
    with h5py.File(path, "r") as f:
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


def _node_columns(nodes: Any) -> list[str]:
    skip = {"node_id", "positions", "dynamics_params", "morphology", "model_template", "model_processing"}
    return [n for n in nodes.attribute_names() if n not in skip]


def _recorded_cells(cfg: ModelConfig, spikes: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Every cell of the populations BioNet records spikes of (non-virtual), with ``group_by``."""
    from bmtool_lab.model.sonata import SonataNetwork

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
