"""Whole-network runs of PointNet (NEST) models: ``NetworkSimulation(pointnet_config)`` returns a
:class:`PointNetworkSimulation`, which runs the config with bmtk's own PointNet in a child process
(:mod:`bmtool_lab.sim.pointnet_run`) and gives the BioNet runs' :class:`NetworkRun` (spikes,
rates, compare, the dashboard's raster).

    sim = NetworkSimulation("pointnet_config.json")
    base = sim.run()                                  # tstop from the config (ms)
    tuned = sim.run(tuners=[tuner])                   # the tuner's unsaved synapse values and cell what-ifs
    tuned.compare(base)

The unsaved values reach PointNet through overlay copies of ``synaptic_models_dir`` and
``point_neuron_models_dir`` in the run's folder; the model is not written.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.pointnet_run import run_pointnet, write_pointnet_run_config
from bmtool_lab.tuning.network_run import NetworkRun, NetworkSimulation

__all__ = ["PointNetworkSimulation"]


class PointNetworkSimulation(NetworkSimulation):
    """:class:`~bmtool_lab.tuning.network_run.NetworkSimulation` of a PointNet model (module docs):
    one process, no MPI ranks, sweeps or SLURM jobs yet."""

    def __repr__(self) -> str:
        return f"PointNetworkSimulation({str(self.config.path)!r}, {len(self.runs)} run(s))"

    def run(self, tstop_ms: float | None = None, *, ranks: int = 1, tuners: Iterable[Any] = (),
            overlay: dict[str | Path, dict] | None = None, output_dir: str | Path | None = None,
            on_progress: Callable[[float, float], None] | None = None,
            on_spikes: Callable[[Any, Any, Any], None] | None = None,
            stop_event: threading.Event | None = None, timeout_s: float | None = None) -> NetworkRun:
        """Run the network with bmtk's PointNet (tstop in ms, the config's unless given).

        ``tuners``: open PointSynapseTuners on this model, whose unsaved synapse parameters and
        cell what-ifs the run uses; ``overlay``: {synapse dynamics file: {key: value}} more.
        ``on_progress(t_ms, tstop_ms)`` is called when the run ends (PointNet simulates tstop
        in one go), ``on_spikes(populations, node_ids, t_ms)`` once with all spikes (arrays, one entry
        per spike); ``stop_event`` ends the child (no spikes kept).
        """
        if int(ranks) != 1:
            raise SimError("model", f"PointNet runs use one process here (ranks=1), not ranks={ranks}")
        tstop, run_dir, run_config, changed = self._prepare_point(tstop_ms, tuners, overlay, output_dir)
        res = run_pointnet(run_config, tstop_ms=tstop, stop=stop_event, timeout_s=timeout_s,
                           on_progress=None if on_progress is None else (lambda t: on_progress(t, tstop)))
        run = self._run_of(run_dir, tstop, changed, res, 1)
        if on_spikes is not None and run.spikes_kept and len(run.spikes):
            sp = run.spikes
            on_spikes(sp.population.to_numpy(dtype=object), sp.node_id.to_numpy(), sp.timestamp_ms.to_numpy())
        self.runs.append(run)
        return run

    def _prepare_point(self, tstop_ms: float | None, tuners: Iterable[Any], overlay: dict | None,
                       output_dir: str | Path | None) -> tuple[float, Path, Path, dict]:
        tstop = float(tstop_ms if tstop_ms is not None else self.config.run.tstop)
        if not tstop > 0:
            raise ValueError(f"tstop_ms must be > 0, not {tstop_ms!r}")
        tuners = list(tuners)
        for tn in tuners:
            if not hasattr(tn, "unsaved_dynamics"):
                raise TypeError(f"{type(tn).__name__} has no unsaved synapse values: pass PointSynapseTuners")
        files, changed = self._overlay(tuners, overlay or {})
        cells, changed_cells = self._cell_files(tuners)
        run_dir = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="bmtool_lab_run_"))
        run_dir.mkdir(parents=True, exist_ok=True)
        path = write_pointnet_run_config(self.config.path, run_dir, tstop, files, cells)
        return tstop, run_dir, path, {**changed, **changed_cells}

    def _cell_files(self, tuners: list[Any]) -> tuple[dict[Path, dict], dict[str, dict[str, tuple[Any, Any]]]]:
        """The tuners' cell what-ifs as whole cell dynamics files, and what changed ("cell net:LIF" ->
        {param: (on disk, in the run)})."""
        from bmtool_lab.model.cell_types import list_cell_types  # local: heavy: h5py (model.cell_types)

        by_key = {ct.key: ct for ct in list_cell_types(self.config)}
        files: dict[Path, dict] = {}
        changed: dict[str, dict[str, tuple[Any, Any]]] = {}
        for tn in tuners:
            for label, values in getattr(tn, "unsaved_cell_params", dict)().items():
                path = Path(by_key[label].dynamics_params_path)
                on_disk = json.loads(path.read_text())
                files[path] = {**on_disk, **files.get(path, {}), **values}
                diff = {k: (on_disk.get(k), v) for k, v in values.items() if on_disk.get(k) != v}
                if diff:
                    changed.setdefault(f"cell {label}", {}).update(diff)
        return files, changed

    def write_job(self, *args: Any, **kwargs: Any) -> Path:
        raise NotImplementedError("SLURM job folders are BioNet only for now: run PointNet models with run()")

    def sweep(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("network sweeps are BioNet only for now: loop over run(overlay=...) instead")
