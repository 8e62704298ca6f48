"""Spikes of a BioNet run as it runs: the child prints each block's new spikes on one stdout
line, the parent parses them, so a dashboard can draw the raster while the network runs.

The child side is a bmtk ``SimulatorMod`` that reads BioNet's own spike vectors
(``sim.spikes_table``, this rank's cells) at each block end. It must run before BioNet's
SpikesMod, which empties them at the block end (a second ``ParallelContext.spike_record`` of
the same cells would take the recording from BioNet), so it goes first in the module list: use
:func:`add_spike_stream`. Lines look like ``bmtool_lab-spikes {"pop": [...], "id": [...], "t": [...]}`` (ms).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

PREFIX = "bmtool_lab-spikes "


def parse_spike_line(line: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(population, node_id, t_ms) of one streamed line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        doc = json.loads(line[len(PREFIX):])
        return (np.asarray(doc["pop"], dtype=object), np.asarray(doc["id"], dtype=np.int64),
                np.asarray(doc["t"], dtype=np.float64))
    except (ValueError, KeyError, TypeError):
        return None


def add_spike_stream(sim: Any) -> None:
    """Stream ``sim``'s spikes (a bmtk BioSimulator, before ``run()``), ahead of its SpikesMod."""
    mod = spike_stream_mod()
    mods = getattr(sim, "_sim_mods", None)
    if isinstance(mods, list):
        mods.insert(0, mod)
    else:  # another bmtk layout: appended, the live raster may then miss spikes (the h5 has them)
        sim.add_mod(mod)


def spike_stream_mod() -> Any:
    """A SimulatorMod that prints the spikes of each block (build it in the child, after
    bmtk.simulator.bionet is imported)."""
    from bmtk.simulator.bionet.modules.sim_module import SimulatorMod

    class SpikeStreamMod(SimulatorMod):
        def initialize(self, sim: Any) -> None:
            self._pool = sim.net.gid_pool

        def block(self, sim: Any, block_interval: Any) -> None:
            pops: list[str] = []
            ids: list[int] = []
            times: list[float] = []
            for gid, tvec in sim.spikes_table.items():
                if not tvec.size():
                    continue
                pid = self._pool.get_pool_id(int(gid))
                t = [round(float(x), 6) for x in tvec]
                pops += [str(pid.population)] * len(t)
                ids += [int(pid.node_id)] * len(t)
                times += t
            if times:
                doc = {"pop": pops, "id": ids, "t": times}
                print(PREFIX + json.dumps(doc, separators=(",", ":")), flush=True)

    return SpikeStreamMod()
