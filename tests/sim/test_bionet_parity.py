"""Cells as BioNet builds them (issue 13): the profiler's F–I spike counts equal those of
BioNet's own run of the same cells (bmtk's IClamp input, the config's dt, dL, celsius, v_init
and spike threshold), within one spike per step. BioNet runs in a subprocess, on a copy of the
example network with its edges left out so each cell sees only its current step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from bmtool_lab import CellProfiler

pytestmark = pytest.mark.sim

DELAY_MS, DUR_MS, POST_MS = 100.0, 500.0, 50.0
AMPS_PA = (150.0, 300.0)  # every example cell fires at both (rheobases 100-130 pA)


def bionet_counts(config: Path, amp_pA: float) -> dict[str, int]:
    """Spikes per cell type of a BioNet run with every cortex cell under one current step."""
    root = config.parent
    sim = json.loads(config.read_text())
    circuit = json.loads((root / "circuit_config.json").read_text())
    out_dir = root / f"out_{amp_pA:g}"
    cfg = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "target_simulator": "NEURON",
        "run": {**sim["run"], "tstop": DELAY_MS + DUR_MS + POST_MS},
        "conditions": sim["conditions"],
        "components": circuit["components"],
        "networks": {"nodes": [circuit["networks"]["nodes"][0]]},  # cortex only, no edges
        "inputs": {"step": {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
                            "amp": amp_pA * 1e-3, "delay": DELAY_MS, "duration": DUR_MS}},
        "output": {"output_dir": str(out_dir), "spikes_file": "spikes.h5", "overwrite_output_dir": True},
        "node_sets": {"cortex": {"population": "cortex"}},
    }
    path = root / f"fi_{amp_pA:g}.json"
    path.write_text(json.dumps(cfg, indent=1))
    done = subprocess.run([sys.executable, str(root / "run_bionet.py"), str(path)], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with h5py.File(out_dir / "spikes.h5", "r") as f:
        ids = np.asarray(f["spikes/cortex/node_ids"])
    with h5py.File(root / "network" / "cortex_nodes.h5", "r") as f:
        type_ids = np.asarray(f["nodes/cortex/node_type_id"])
    names = {100: "Exc", 101: "PV", 102: "SST"}
    counts = {}
    for tid, name in names.items():
        node = int(np.flatnonzero(type_ids == tid)[0])  # every cell of a type is the same cell
        counts[name] = int(np.count_nonzero(ids == node))
    return counts


def test_fi_counts_equal_a_bionet_run_within_one_spike(fresh_example):
    config = Path(fresh_example)
    reference = {amp: bionet_counts(config, amp) for amp in AMPS_PA}
    with CellProfiler(config) as prof:
        assert prof.threshold_mV == json.loads(config.read_text())["run"]["spike_threshold"]
        for name in ("Exc", "PV", "SST"):
            curve = prof.fi_curve(AMPS_PA[0], AMPS_PA[1], AMPS_PA[1] - AMPS_PA[0], unit="pA", cell=name,
                                  delay_ms=DELAY_MS, dur_ms=DUR_MS, post_ms=POST_MS, rheobase=False,
                                  keep_traces=False)  # the config's spike_threshold, as BioNet counts
            ours = [int(n) for n in curve.n_spikes]
            theirs = [reference[amp][name] for amp in AMPS_PA]
            assert max(theirs) > 0, (name, theirs)  # the comparison means something: the cells fire
            assert all(abs(a - b) <= 1 for a, b in zip(ours, theirs, strict=True)), (name, ours, theirs)
