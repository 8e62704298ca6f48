"""The bundled example network: a small cortical circuit built with bmtk's NetworkBuilder.

Populations (node population ``cortex``): ``Exc`` (soma + 300 µm dendrite, hh + Ih), ``PV``
(fast spiking) and ``SST`` (adapting, M-like current); plus the virtual population
``thalamus`` (``Thal``) driving them with Poisson spikes. Synapses use NEURON's Exp2Syn
(``exp2syn``) and our Tsodyks–Markram ``Exp2SynSTP`` with depressing, facilitating and mixed
parameter sets; PV cells are coupled by gap junctions.

``build_example(folder)`` writes everything (SONATA files, configs, components) and returns
the path of ``simulation_config.json``. Running it again on a built folder returns at once and
never overwrites the synaptic model JSON files, which the tuner saves into.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .._version import __version__

COMPONENTS = Path(__file__).parent / "components"
# Bumped when the generated network changes, so old folders are rebuilt.
NETWORK_REVISION = 1
SEED = 20261122

# Sizes of the populations.
N_EXC, N_PV, N_SST, N_THAL = 12, 4, 4, 10

# Synaptic model JSON files (dynamics_params), in BMTK's style: `erev` is Exp2Syn's `e`.
SYNAPTIC_MODELS: dict[str, dict] = {
    "Exc2Exc.json": {"level_of_detail": "Exp2SynSTP", "tau1": 0.5, "tau2": 8.0, "erev": 0.0,
                     "Use": 0.42, "Dep": 125.0, "Fac": 800.0, "initW": 1.0},
    "Exc2PV.json": {"level_of_detail": "Exp2SynSTP", "tau1": 0.3, "tau2": 3.0, "erev": 0.0,
                    "Use": 0.5, "Dep": 300.0, "Fac": 0.0, "initW": 1.0,
                    "notes": "depressing; fit to paired recordings"},
    "Exc2SST.json": {"level_of_detail": "Exp2SynSTP", "tau1": 0.5, "tau2": 9.0, "erev": 0.0,
                     "Use": 0.1, "Dep": 50.0, "Fac": 600.0, "initW": 1.0},
    "PV2Exc.json": {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 8.0, "erev": -75.0},
    "PV2PV.json": {"level_of_detail": "exp2syn", "tau1": 0.3, "tau2": 5.0, "erev": -75.0},
    "SST2Exc.json": {"level_of_detail": "exp2syn", "tau1": 1.0, "tau2": 20.0, "erev": -75.0},
    "ThalAMPA.json": {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 3.0, "erev": 0.0},
}


def _stamp() -> dict:
    return {"bmtool_lab": __version__, "network_revision": NETWORK_REVISION, "seed": SEED}


def _is_built(folder: Path) -> bool:
    stamp = folder / ".bmtool_lab_example.json"
    needed = ["simulation_config.json", "circuit_config.json", "network/cortex_nodes.h5",
              "network/cortex_cortex_edges.h5", "network/thalamus_cortex_edges.h5",
              "inputs/thalamus_spikes.h5", "components/mechanisms/exp2syn_stp.mod"]
    try:
        return json.loads(stamp.read_text()) == _stamp() and all((folder / n).exists() for n in needed)
    except (OSError, ValueError):
        return False


def _connect_by_distance(p_max: float, sigma_um: float, nsyn: int, rng):
    """A bmtk connection rule: P(connect) = p_max·exp(-d²/2σ²) on soma distance, no autapses."""
    import numpy as np

    def rule(source, target):
        if source.node_id == target.node_id:
            return None
        d = np.linalg.norm(np.asarray(source["positions"]) - np.asarray(target["positions"]))
        return nsyn if rng.random() < p_max * np.exp(-(d**2) / (2 * sigma_um**2)) else None

    return rule


def _build_network(out: Path) -> None:
    import numpy as np
    from bmtk.builder import NetworkBuilder

    rng = np.random.default_rng(SEED)

    def column(n: int, depth: tuple[float, float]) -> np.ndarray:
        xy = rng.uniform(0.0, 200.0, size=(n, 2))
        z = rng.uniform(*depth, size=(n, 1))
        return np.hstack([xy, z])

    cortex = NetworkBuilder("cortex")
    common = {"model_type": "biophysical", "morphology": None}
    cortex.add_nodes(N=N_EXC, pop_name="Exc", ei="e", model_template="hoc:Exc",
                     positions=column(N_EXC, (100.0, 300.0)), **common)
    cortex.add_nodes(N=N_PV, pop_name="PV", ei="i", model_template="hoc:PV",
                     positions=column(N_PV, (100.0, 300.0)), **common)
    cortex.add_nodes(N=N_SST, pop_name="SST", ei="i", model_template="hoc:SST",
                     positions=column(N_SST, (100.0, 300.0)), **common)

    def syn(src: str, trg: str, model: str, dyn: str, weight: float, sections: list[str],
            p: float, nsyn: int, delay: float = 1.0) -> None:
        cortex.add_edges(source={"pop_name": src}, target={"pop_name": trg},
                         connection_rule=_connect_by_distance(p, 150.0, nsyn, rng),
                         syn_weight=weight, delay=delay, dynamics_params=dyn, model_template=model,
                         target_sections=sections, distance_range=[0.0, 1e20])

    syn("Exc", "Exc", "Exp2SynSTP", "Exc2Exc.json", 0.0006, ["basal"], 0.3, 2)
    syn("Exc", "PV", "Exp2SynSTP", "Exc2PV.json", 0.002, ["somatic"], 0.6, 1)
    syn("Exc", "SST", "Exp2SynSTP", "Exc2SST.json", 0.003, ["somatic"], 0.5, 1)
    syn("PV", "Exc", "exp2syn", "PV2Exc.json", 0.002, ["somatic"], 0.6, 3)
    syn("PV", "PV", "exp2syn", "PV2PV.json", 0.001, ["somatic"], 0.5, 1)
    syn("SST", "Exc", "exp2syn", "SST2Exc.json", 0.001, ["basal"], 0.5, 2)
    # Electrical coupling between PV cells (conductance in µS).
    cortex.add_edges(source={"pop_name": "PV"}, target={"pop_name": "PV"}, is_gap_junction=True,
                     connection_rule=_connect_by_distance(0.8, 200.0, 1, rng), syn_weight=0.0005,
                     target_sections=["somatic"], delay=0.0, dynamics_params="PV2PV_gap.json",
                     distance_range=[0.0, 1e20])
    cortex.build()
    cortex.save(output_dir=str(out / "network"))

    thalamus = NetworkBuilder("thalamus")
    thalamus.add_nodes(N=N_THAL, pop_name="Thal", model_type="virtual", ei="e")
    for trg, weight, p in (("Exc", 0.004, 0.5), ("PV", 0.003, 0.5)):
        thalamus.add_edges(source=thalamus.nodes(), target=cortex.nodes(pop_name=trg),
                           connection_rule=lambda s, t, p=p: 1 if rng.random() < p else None,
                           syn_weight=weight, delay=2.0, dynamics_params="ThalAMPA.json",
                           model_template="exp2syn", target_sections=["somatic"],
                           distance_range=[0.0, 1e20])
    thalamus.build()
    thalamus.save(output_dir=str(out / "network"))

    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator

    spikes = PoissonSpikeGenerator(population="thalamus", seed=SEED)
    spikes.add(node_ids=list(range(N_THAL)), firing_rate=15.0, times=(0.0, 2.0))
    (out / "inputs").mkdir(exist_ok=True)
    spikes.to_sonata(str(out / "inputs" / "thalamus_spikes.h5"))


def _write_configs(out: Path) -> None:
    circuit = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {
            "mechanisms_dir": "$COMPONENTS_DIR/mechanisms",
            "templates_dir": "$COMPONENTS_DIR/templates",
            "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models",
        },
        "networks": {
            "nodes": [
                {"nodes_file": "$NETWORK_DIR/cortex_nodes.h5",
                 "node_types_file": "$NETWORK_DIR/cortex_node_types.csv"},
                {"nodes_file": "$NETWORK_DIR/thalamus_nodes.h5",
                 "node_types_file": "$NETWORK_DIR/thalamus_node_types.csv"},
            ],
            "edges": [
                {"edges_file": "$NETWORK_DIR/cortex_cortex_edges.h5",
                 "edge_types_file": "$NETWORK_DIR/cortex_cortex_edge_types.csv"},
                {"edges_file": "$NETWORK_DIR/thalamus_cortex_edges.h5",
                 "edge_types_file": "$NETWORK_DIR/thalamus_cortex_edge_types.csv"},
            ],
            "gap_juncs": [{"gap_juncs_file": "$NETWORK_DIR/cortex_gap_juncs.h5"}],
        },
    }
    simulation = {
        "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output",
                     "$INPUT_DIR": "$BASE_DIR/inputs"},
        "target_simulator": "NEURON",
        "run": {"tstop": 500.0, "dt": 0.025, "dL": 20.0, "spike_threshold": -15.0,
                "nsteps_block": 5000},
        "conditions": {"celsius": 34.0, "v_init": -70.0},
        "inputs": {"thalamus_spikes": {"input_type": "spikes", "module": "sonata",
                                       "input_file": "$INPUT_DIR/thalamus_spikes.h5",
                                       "node_set": "thalamus"}},
        "output": {"log_file": "log.txt", "output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5",
                   "overwrite_output_dir": True},
        "reports": {"soma_v": {"cells": "cortex", "variable_name": "v", "module": "membrane_report",
                               "sections": "soma", "file_name": "soma_v.h5"}},
        "node_sets": {"cortex": {"population": "cortex"}, "thalamus": {"population": "thalamus"}},
        "network": "$BASE_DIR/circuit_config.json",
    }
    (out / "circuit_config.json").write_text(json.dumps(circuit, indent=2) + "\n")
    (out / "simulation_config.json").write_text(json.dumps(simulation, indent=2) + "\n")


def _copy_components(out: Path, overwrite_synapses: bool) -> None:
    comp = out / "components"
    for sub in ("mechanisms", "templates"):
        shutil.copytree(COMPONENTS / sub, comp / sub, dirs_exist_ok=True)
    # VecStim (virtual inputs) comes from the installed bmtk, which ships vecevent.mod.
    import bmtk

    vecevent = Path(bmtk.__file__).parent / "utils/scripts/bionet/mechanisms/modfiles/vecevent.mod"
    if vecevent.exists():
        shutil.copy2(vecevent, comp / "mechanisms" / "vecevent.mod")
    syn_dir = comp / "synaptic_models"
    syn_dir.mkdir(parents=True, exist_ok=True)
    models = dict(SYNAPTIC_MODELS)
    models["PV2PV_gap.json"] = {"level_of_detail": "gap_junction"}
    for name, params in models.items():
        path = syn_dir / name
        if overwrite_synapses or not path.exists():  # never clobber tuned parameters
            path.write_text(json.dumps(params, indent=2) + "\n")
    shutil.copy2(Path(__file__).parent / "run_bionet.py", out / "run_bionet.py")


def build_example(folder: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the example network into ``folder`` and return its ``simulation_config.json``.

    Safe to call again: a folder built by this version returns at once; an outdated or partial
    one is rebuilt, keeping the synaptic model JSON files (tuned parameters) unless
    ``overwrite=True``.
    """
    folder = Path(folder).expanduser().resolve()
    if not overwrite and _is_built(folder):
        return folder / "simulation_config.json"
    folder.mkdir(parents=True, exist_ok=True)
    # Build the SONATA files next to the target, then move them in, so a failed build never
    # leaves a half-written network behind.
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
    try:
        _build_network(tmp)
        (folder / "network").mkdir(exist_ok=True)
        for f in (tmp / "network").iterdir():
            os.replace(f, folder / "network" / f.name)
        (folder / "inputs").mkdir(exist_ok=True)
        os.replace(tmp / "inputs" / "thalamus_spikes.h5", folder / "inputs" / "thalamus_spikes.h5")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _copy_components(folder, overwrite_synapses=overwrite)
    _write_configs(folder)
    (folder / ".bmtool_lab_example.json").write_text(json.dumps(_stamp()) + "\n")
    return folder / "simulation_config.json"
