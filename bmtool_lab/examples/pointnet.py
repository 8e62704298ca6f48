"""A small PointNet (NEST) example network built with bmtk's NetworkBuilder (notebooks/pointnet.ipynb and
the PointNet tests).

Populations: ``input`` (virtual, 4 spike sources) and ``net`` with an ``LIF`` group
(``nest:iaf_psc_alpha``) and a ``GLIF`` group (``nest:glif_psc`` as NEST 3 writes the Allen
LIF-ASC model: after-spike currents on, one alpha-synapse port). Edge types:

- ``input2LIF``: static_synapse, 800 pA, 1.5 ms (the LIF cells fire);
- ``LIF2LIF``: tsodyks2_synapse (depressing: U, tau_rec, tau_fac; u = U and x = 1, the state the first spike meets: a rested synapse), 2 pA,
  2 ms (small: PSPs far below threshold, so V_m is linear in the weight);
- ``LIF2GLIF``: tsodyks2_synapse (facilitating) into glif_psc's receptor port 1;
- ``input2GLIF``: static_synapse into receptor 1.

The simulation config is a bmtk PointNet config (``target_simulator: NEST``) with a SONATA
spike-train input for ``input``.
"""

from __future__ import annotations

import json
from pathlib import Path

IAF = {"C_m": 250.0, "tau_m": 10.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0,
       "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0, "V_m": -70.0}
GLIF = {"C_m": 58.72, "g": 9.43, "E_L": -78.85, "V_m": -78.85, "V_reset": -78.85, "V_th": -51.68, "t_ref": 3.75,
        "after_spike_currents": True, "spike_dependent_threshold": False, "adapting_threshold": False,
        "asc_init": [0.0, 0.0], "asc_decay": [0.003, 0.1], "asc_amps": [-9.18, -198.94], "asc_r": [1.0, 1.0],
        "tau_syn": [2.0]}
DEPRESSING = {"U": 0.45, "tau_rec": 300.0, "tau_fac": 0.0, "u": 0.45, "x": 1.0}
FACILITATING = {"U": 0.1, "tau_rec": 50.0, "tau_fac": 400.0, "u": 0.1, "x": 1.0, "receptor_type": 1}


def build_pointnet_network(root: str | Path, n_lif: int = 3, n_glif: int = 2, tstop_ms: float = 500.0) -> Path:
    """Write the network, its components and a PointNet simulation config under ``root``;
    returns the config path (always rebuilt: the tests' fixture)."""
    from bmtk.builder import NetworkBuilder
    from bmtk.utils.reports.spike_trains import SpikeTrains

    root = Path(root)
    comps = root / "components"
    (comps / "point_neuron_models").mkdir(parents=True, exist_ok=True)
    (comps / "synaptic_models").mkdir(parents=True, exist_ok=True)
    for name, params in {"iaf.json": IAF, "glif_lif_asc.json": GLIF}.items():
        (comps / "point_neuron_models" / name).write_text(json.dumps(params, indent=2) + "\n")
    syn = {"input2LIF.json": {}, "LIF2LIF.json": DEPRESSING, "LIF2GLIF.json": FACILITATING,
           "input2GLIF.json": {"receptor_type": 1}}
    for name, params in syn.items():
        (comps / "synaptic_models" / name).write_text(json.dumps(params, indent=2) + "\n")

    net = NetworkBuilder("net")
    net.add_nodes(N=n_lif, pop_name="LIF", ei="e", model_type="point_process", model_template="nest:iaf_psc_alpha",
                  dynamics_params="iaf.json")
    net.add_nodes(N=n_glif, pop_name="GLIF", ei="i", model_type="point_process", model_template="nest:glif_psc",
                  dynamics_params="glif_lif_asc.json")
    net.add_edges(source={"pop_name": "LIF"}, target={"pop_name": "LIF"}, connection_rule=1, syn_weight=2.0,
                  delay=2.0, dynamics_params="LIF2LIF.json", model_template="tsodyks2_synapse")
    net.add_edges(source={"pop_name": "LIF"}, target={"pop_name": "GLIF"}, connection_rule=1, syn_weight=5.0,
                  delay=1.0, dynamics_params="LIF2GLIF.json", model_template="tsodyks2_synapse")
    net.build()
    net.save(output_dir=str(root / "network"))

    inp = NetworkBuilder("input")
    inp.add_nodes(N=4, pop_name="input", model_type="virtual")
    inp.add_edges(source=inp.nodes(), target=net.nodes(pop_name="LIF"), connection_rule=1, syn_weight=800.0,
                  delay=1.5, dynamics_params="input2LIF.json", model_template="static_synapse")
    inp.add_edges(source=inp.nodes(), target=net.nodes(pop_name="GLIF"), connection_rule=1, syn_weight=400.0,
                  delay=1.5, dynamics_params="input2GLIF.json", model_template="static_synapse")
    inp.build()
    inp.save(output_dir=str(root / "network"))

    spikes = SpikeTrains(population="input")
    for node_id in range(4):
        spikes.add_spikes(node_ids=node_id, timestamps=[50.0 + 25.0 * k + 3.0 * node_id for k in range(16)])
    (root / "inputs").mkdir(exist_ok=True)
    spikes.to_sonata(str(root / "inputs" / "input_spikes.h5"))

    config = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "target_simulator": "NEST",
        "run": {"tstop": tstop_ms, "dt": 0.1},
        "inputs": {"input_spikes": {"input_type": "spikes", "module": "sonata",
                                    "input_file": "$BASE_DIR/inputs/input_spikes.h5", "node_set": "input"}},
        "output": {"log_file": "log.txt", "output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5",
                   "overwrite_output_dir": True},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"}
                      for p in ("net", "input")],
            "edges": [{"edges_file": f"$NETWORK_DIR/{a}_{b}_edges.h5",
                       "edge_types_file": f"$NETWORK_DIR/{a}_{b}_edge_types.csv"}
                      for a, b in (("net", "net"), ("input", "net"))],
        },
    }
    path = root / "simulation_config.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path



def build_pointnet_example(folder: str | Path) -> Path:
    """The example in ``folder`` (``simulation_config.json``): built once, so the tuned
    synapse files survive a re-run of the notebook."""
    config = Path(folder).expanduser().resolve() / "simulation_config.json"
    return config if config.is_file() else build_pointnet_network(config.parent)

