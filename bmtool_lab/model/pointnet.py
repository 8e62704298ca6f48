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


def is_pointnet_config(config: ModelConfig | str | Path | Any) -> bool:
    """True for a PointNet config (see module docs); False for BioNet ones and anything that is
    not a readable config (the caller's own loader then says what is wrong)."""
    from .cell_types import list_cell_types

    try:
        cfg = config if isinstance(config, ModelConfig) else load_config(config)
    except Exception:
        return False
    if str(cfg.raw.get("target_simulator", "")).strip().upper() == "NEST":
        return True
    try:
        types = [ct for ct in list_cell_types(cfg) if ct.kind != "virtual"]
    except Exception:
        return False
    return bool(types) and all(ct.kind == "point" and (ct.model_template or "").startswith("nest:") for ct in types)
