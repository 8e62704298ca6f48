"""Fixtures for the sim tests: tiny BMTK models written to temp folders, and warm workers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bmtk
import h5py
import numpy as np
import pytest

BMTK_BIONET = Path(bmtk.__file__).parent / "utils" / "scripts" / "bionet"
ALLEN_MODS = BMTK_BIONET / "mechanisms" / "modfiles"
ALLEN_SWC = BMTK_BIONET / "morphologies" / "Scnn1a_473845048_m.swc"
ALLEN_FIT = BMTK_BIONET / "biophysical_neuron_models" / "472363762_fit.json"

BALL_STICK_HOC = """
begintemplate BallStick
public soma, dend, all
create soma, dend[2]
objref all
proc init() {
    all = new SectionList()
    soma { L = 20  diam = 20  insert hh  all.append() }
    for i = 0, 1 {
        dend[i] { L = 200  diam = 2  nseg = 11  insert leak2  all.append() }
        connect dend[i](0), soma(1)
    }
}
endtemplate BallStick

begintemplate NeedsArgs
public soma
create soma
proc init() {
    soma { L = $1  diam = $1  insert pas }
}
endtemplate NeedsArgs
"""

LEAK2_MOD = """
: A plain leak under another name, so the test model needs a compiled mechanism.
NEURON {
    SUFFIX leak2
    NONSPECIFIC_CURRENT i
    RANGE g, e
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 0.0001 (S/cm2) e = -65 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g * (v - e) }
"""

SEGV_MOD = """
: Deliberately broken: dereferences a null pointer when initialised.
NEURON { SUFFIX segv }
INITIAL {
VERBATIM
{ volatile int* p = 0; *p = 42; }
ENDVERBATIM
}
"""

NML = """<?xml version="1.0" encoding="UTF-8"?>
<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="passive_test">
  <cell id="passive_cell">
    <biophysicalProperties id="bp">
      <membraneProperties>
        <channelDensity id="pas_all" ionChannel="pas" ion="non_specific" condDensity="0.0001 S_per_cm2"
                        erev="-70 mV" segmentGroup="all"/>
        <specificCapacitance value="1.0 uF_per_cm2" segmentGroup="all"/>
      </membraneProperties>
      <intracellularProperties>
        <resistivity value="100 ohm_cm" segmentGroup="all"/>
      </intracellularProperties>
    </biophysicalProperties>
  </cell>
</neuroml>
"""

NODE_TYPES = [
    # node_type_id model_type model_template model_processing morphology dynamics_params pop_name ei
    (100, "biophysical", "hoc:BallStick", "NULL", "NULL", "NULL", "BS", "e"),
    (101, "biophysical", "ctdb:Biophys1.hoc", "aibs_perisomatic", ALLEN_SWC.name, ALLEN_FIT.name, "Scnn1a", "e"),
    (102, "biophysical", "ctdb:Biophys1.hoc", "aibs_allactive", ALLEN_SWC.name, ALLEN_FIT.name, "Scnn1aAA", "e"),
    (103, "biophysical", "nml:passive.nml", "NULL", ALLEN_SWC.name, "NULL", "NMLcell", "e"),
    (104, "point_process", "nrn:IntFire1", "NULL", "NULL", "IntFire1_exc_1.json", "IF", "e"),
    (105, "virtual", "NULL", "NULL", "NULL", "NULL", "LGN", "e"),
    (106, "biophysical", "hoc:NeedsArgs", "NULL", "NULL", "NULL", "Args", "i"),
]


def write_bmtk_model(root: Path) -> Path:
    """A small BMTK network folder (components, node types, nodes h5, config); the config path."""
    comps = root / "components"
    for sub in ("templates", "mechanisms", "morphologies", "biophysical_neuron_models", "point_neuron_models"):
        (comps / sub).mkdir(parents=True, exist_ok=True)
    (comps / "templates" / "cells.hoc").write_text(BALL_STICK_HOC)
    for mod in sorted(ALLEN_MODS.glob("*.mod")):
        shutil.copy(mod, comps / "mechanisms" / mod.name)
    (comps / "mechanisms" / "leak2.mod").write_text(LEAK2_MOD)
    shutil.copy(ALLEN_SWC, comps / "morphologies" / ALLEN_SWC.name)
    shutil.copy(ALLEN_FIT, comps / "biophysical_neuron_models" / ALLEN_FIT.name)
    (comps / "biophysical_neuron_models" / "passive.nml").write_text(NML)
    (comps / "point_neuron_models" / "IntFire1_exc_1.json").write_text(json.dumps({"tau": 0.024, "refrac": 0.003}))
    net = root / "network"
    net.mkdir(exist_ok=True)
    header = "node_type_id model_type model_template model_processing morphology dynamics_params pop_name ei"
    rows = [" ".join(str(x) for x in row) for row in NODE_TYPES]
    (net / "net_node_types.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    with h5py.File(net / "net_nodes.h5", "w") as f:
        ids = np.array([100, 100, 101, 102, 103, 104, 106], dtype=np.uint32)
        grp = f.create_group("nodes/net")
        grp.create_dataset("node_id", data=np.arange(len(ids), dtype=np.uint64))
        grp.create_dataset("node_type_id", data=ids)
        grp.create_dataset("node_group_id", data=np.zeros(len(ids), dtype=np.uint32))
        grp.create_dataset("node_group_index", data=np.arange(len(ids), dtype=np.uint64))
        grp.create_group("0")
    with h5py.File(net / "lgn_nodes.h5", "w") as f:
        grp = f.create_group("nodes/lgn")
        grp.create_dataset("node_id", data=np.arange(3, dtype=np.uint64))
        grp.create_dataset("node_type_id", data=np.full(3, 105, dtype=np.uint32))
        grp.create_dataset("node_group_id", data=np.zeros(3, dtype=np.uint32))
        grp.create_dataset("node_group_index", data=np.arange(3, dtype=np.uint64))
        grp.create_group("0")
    config = {
        "manifest": {"$BASE_DIR": str(root), "$COMPONENTS_DIR": "$BASE_DIR/components", "$NETWORK_DIR": "$BASE_DIR/network"},
        "run": {"tstop": 500.0, "dt": 0.025},
        "conditions": {"celsius": 34.0, "v_init": -70.0},
        "components": {
            "templates_dir": "$COMPONENTS_DIR/templates",
            "mechanisms_dir": "$COMPONENTS_DIR/mechanisms",
            "morphologies_dir": "$COMPONENTS_DIR/morphologies",
            "biophysical_neuron_models_dir": "$COMPONENTS_DIR/biophysical_neuron_models",
            "point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
        },
        "networks": {
            "nodes": [
                {"nodes_file": "$NETWORK_DIR/net_nodes.h5", "node_types_file": "$NETWORK_DIR/net_node_types.csv"},
                {"nodes_file": "$NETWORK_DIR/lgn_nodes.h5", "node_types_file": "$NETWORK_DIR/net_node_types.csv"},
            ],
            "edges": [],
        },
    }
    path = root / "simulation_config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


@pytest.fixture(scope="session")
def bmtk_model(tmp_path_factory) -> Path:
    """The test network's config path (its mechanisms are compiled once, content-cached)."""
    from bmtool_lab.sim.mechanisms import compile_mechanisms

    path = write_bmtk_model(tmp_path_factory.mktemp("bmtk_model"))
    compile_mechanisms(path.parent / "components" / "mechanisms")
    return path


@pytest.fixture(scope="session")
def cell_types(bmtk_model):
    from bmtool_lab.model.cell_types import list_cell_types

    return list_cell_types(bmtk_model)


@pytest.fixture(scope="session")
def segv_mod_dir(tmp_path_factory) -> Path:
    from bmtool_lab.sim.mechanisms import compile_mechanisms

    folder = tmp_path_factory.mktemp("segv_mod")
    (folder / "segv.mod").write_text(SEGV_MOD)
    compile_mechanisms(folder)
    return folder


@pytest.fixture(scope="session")
def pointnet(tmp_path_factory) -> Path:
    """The bmtk-built PointNet (NEST) network of pointnet_factory.py: its simulation config."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from pointnet_factory import build_pointnet_network

    return build_pointnet_network(tmp_path_factory.mktemp("pointnet"))
