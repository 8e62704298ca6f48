"""Run the example network with BMTK's BioNet (NEURON).

Usage: ``python run_bionet.py [simulation_config.json] [--tstop MS]``

Registers the ``Exp2SynSTP`` synapse model with BioNet the way BMTK expects custom synapses
(``add_synapse_model``) and loads the compiled mechanisms from bmtool_lab's cache, so the
model folder stays free of build output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bmtool_lab.model.config import load_config
from bmtool_lab.sim.mechanisms import load_mechanisms

# Dynamics-JSON keys that describe the file rather than set a mechanism parameter.
DESCRIPTIVE_KEYS = {"level_of_detail", "notes", "comment", "_comment", "description"}


def exp2syn_stp(syn_params: dict, sec_x: float, sec_id):
    """BioNet synapse model for Exp2SynSTP: `erev` -> `e`, every other known key set as is."""
    from neuron import h

    syn = h.Exp2SynSTP(sec_x, sec=sec_id)
    for key, value in syn_params.items():
        if key in DESCRIPTIVE_KEYS:
            continue
        name = "e" if key == "erev" else key
        if hasattr(syn, name):
            setattr(syn, name, value)
    return syn


def register_synapse_models() -> None:
    from bmtk.simulator.bionet.pyfunction_cache import add_synapse_model

    add_synapse_model(exp2syn_stp, "Exp2SynSTP", overwrite=True)


def run(config_path: str | Path, tstop: float | None = None) -> dict:
    """Run BioNet on ``config_path``; returns {"n_spikes": int, "spikes_file": path}."""
    from bmtk.simulator import bionet

    model = load_config(config_path)
    if model.mechanisms_dir is not None:
        load_mechanisms(model.mechanisms_dir)
    register_synapse_models()
    conf = bionet.Config.from_json(str(config_path), validate=True)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    if tstop is not None:
        sim.tstop = float(tstop)
    sim.run()
    import h5py

    spikes_file = Path(conf["output"]["output_dir"]) / conf["output"].get("spikes_file", "spikes.h5")
    n = 0
    with h5py.File(spikes_file, "r") as f:
        for pop in f["spikes"]:
            n += len(f["spikes"][pop]["timestamps"])
    return {"n_spikes": n, "spikes_file": str(spikes_file)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(Path(__file__).parent / "simulation_config.json"))
    parser.add_argument("--tstop", type=float, default=None, help="override run.tstop (ms)")
    args = parser.parse_args(argv)
    result = run(args.config, args.tstop)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
