"""One BioNet run of a whole network, in its own process: ``python -m bmtool_lab.sim.bionet_child
RUN_CONFIG MODEL_CONFIG``.

The run config is the model's simulation config resolved by bmtk (absolute paths) with the
output, tstop and an overlay of tuned dynamics files set by :mod:`bmtool_lab.sim.bionet_run`.
Before BioNet builds the network this loads the model's compiled mechanisms (from bmtool_lab's
cache: the model folder holds no build output) and the model's own hooks (``synapses.py``'s
``add_synapse_model`` / ``add_weight_function``, found beside MODEL_CONFIG), as a run script
would. Progress is BioNet's own log ("t_sim:… ms") on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    run_config, model_config = Path(argv[0]), Path(argv[1])
    from bmtool_lab.model.config import load_config
    from bmtool_lab.model.python_hooks import find_model_hooks, model_hook_folders
    from bmtool_lab.sim.mechanisms import load_mechanisms
    from bmtool_lab.sim.model_hooks import load_hooks

    model = load_config(model_config)
    if model.mechanisms_dir is not None and Path(model.mechanisms_dir).is_dir():
        load_mechanisms(model.mechanisms_dir)
    for note in load_hooks(find_model_hooks(model_hook_folders(model))):
        print(f"bmtool_lab: {note}", flush=True)

    from bmtk.simulator import bionet

    conf = bionet.Config.from_json(str(run_config), validate=True)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    sim.run()
    print("bmtool_lab: run finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
