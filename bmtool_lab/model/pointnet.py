"""Is a BMTK config a PointNet (NEST) model? Pure reads: nothing imports NEST here.

A config is a PointNet model when it says ``"target_simulator": "NEST"``, or when every
non-virtual node type is a point neuron with a ``nest:`` template (bmtk's PointNet builds
those with ``nest.Create``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ModelConfig, load_config

__all__ = ["PointNetUnavailable", "is_pointnet_config"]


class PointNetUnavailable(ImportError):
    """NEST is not installed: the message says how to install it."""


class MixedSimulatorConfig(ValueError):
    """A config with both NEST point neurons and BioNet (NEURON) cells: bmtk runs a config on one."""


def is_pointnet_config(config: ModelConfig | str | Path | Any) -> bool:
    """True for a PointNet config (see module docs); False for BioNet ones and anything that is
    not a readable config (the caller's own loader then says what is wrong).
    :class:`MixedSimulatorConfig` for a config with both NEST point neurons and other cells."""
    from .cell_types import list_cell_types  # local: heavy: pandas, h5py (cell_types)

    try:
        cfg = config if isinstance(config, ModelConfig) else load_config(config)
    except Exception:
        return False
    says_nest = str(cfg.raw.get("target_simulator", "")).strip().upper() == "NEST"
    try:
        types = [ct for ct in list_cell_types(cfg) if ct.kind != "virtual"]
    except Exception:
        return says_nest
    nest_types = [ct for ct in types if ct.kind == "point" and (ct.model_template or "").startswith("nest:")]
    others = [ct for ct in types if ct not in nest_types]
    if nest_types and others:
        def named(cts: list) -> str:
            return ", ".join(f"{ct.key} ({ct.model_template or ct.model_type})" for ct in cts[:4]) + \
                (" ..." if len(cts) > 4 else "")

        raise MixedSimulatorConfig(
            f"{cfg.path} mixes NEST point neurons ({named(nest_types)}) with cells for BioNet/NEURON "
            f"({named(others)}): bmtk runs one config on one simulator (PointNet or BioNet); put the "
            "point neurons and the other cells in separate configs")
    return says_nest or (bool(nest_types) and not others)
