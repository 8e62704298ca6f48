"""The gap-junction tuner: two cells coupled by the model's gap-junction mechanism, the coupling
coefficient ΔV2/ΔV1 of a current step, and the conductance (µS) that gives a target coefficient.

Headless use::

    from bmtool_lab import GapJunctionTuner
    gap = GapJunctionTuner("simulation_config.json")     # the first is_gap_junction edge type
    gap.run().coupling_coefficient                       # at the edge type's syn_weight (µS)
    gap.fit_conductance(0.05)                            # µS giving a coefficient of 0.05

Without BMTK: ``GapJunctionTuner(template="PV.hoc", mechanisms_dir="mods", g_uS=0.001)``.
NEURON runs only in the tuner's worker process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.model.config import load_config
from bmtool_lab.sim.gap_jobs import GapSpec, gap_junction_job
from bmtool_lab.tuning.synapse_model import _cell_from_template
from bmtool_lab.tuning.synapse_protocol import TunerError

__all__ = ["GapJunctionResult", "GapJunctionTuner"]


@dataclass
class GapJunctionResult:
    """Coupling of two cells: ``coupling_coefficient`` = ΔV2/ΔV1 (dimensionless) for a current
    step ``amp_nA`` in cell 1 with gap conductance ``g_uS`` (µS); traces v1, v2 (mV)."""

    g_uS: float
    coupling_coefficient: float
    dv1_mV: float
    dv2_mV: float
    t_ms: np.ndarray
    traces: dict[str, np.ndarray]
    amp_nA: float
    sim_ms: float

    @property
    def metrics(self) -> dict[str, float]:
        return {"g_uS": self.g_uS, "coupling_coefficient": self.coupling_coefficient, "dv1_mV": self.dv1_mV,
                "dv2_mV": self.dv2_mV}


class GapJunctionTuner:
    """Coupling coefficient of a gap junction between two cells (conductance in µS).

    ``GapJunctionTuner(config, connection="PV2PV_gap")`` (two cells of the edge type's target
    group, conductance = its syn_weight) or ``GapJunctionTuner(template="PV.hoc",
    template2=None, mechanisms_dir=..., g_uS=0.001)``. The gap mechanism is the model's
    ``Gap`` POINT_PROCESS (``g`` µS, ``vgap``), linked as BioNet links it.
    """

    title = "Gap junction tuner"

    def __init__(self, config: str | Path | None = None, *, connection: Any = None, template: Any = None,
                 template2: Any = None, mechanisms_dir: str | Path | None = None,
                 templates_dir: str | Path | None = None, g_uS: float | None = None, mechanism: str = "Gap",
                 amp_nA: float = -0.1, worker: Any = None) -> None:
        self._own_worker = worker is None
        self._worker = worker
        self.amp_nA = float(amp_nA)
        self.celsius, self.v_init = 34.0, -70.0
        if config is not None:
            # local: heavy: pandas, h5py (model.cell_types, connection_types)
            from bmtool_lab.model.cell_types import cell_type_of, list_cell_types
            from bmtool_lab.model.connection_types import list_connection_types

            self.config = load_config(config)
            gaps = [ct for ct in list_connection_types(self.config) if ct.is_gap_junction]
            if not gaps:
                raise TunerError(f"{self.config.path} has no gap-junction edge types (is_gap_junction)")
            ct = gaps[0] if connection is None else next((c for c in gaps if c.name == connection
                                                          or c.key == connection), None)
            if ct is None:
                raise TunerError(f"no gap junction {connection!r}; the network has: {', '.join(c.name for c in gaps)}")
            self.connection = ct
            cells = list_cell_types(self.config)
            try:
                c1 = cell_type_of(cells, ct.source_population, ct.source_node_type_ids, ct.source_groups)
                c2 = cell_type_of(cells, ct.target_population, ct.target_node_type_ids, ct.target_groups)
            except KeyError as err:
                raise TunerError(f"{ct.name}: cannot tell which cell types it couples ({err.args[0]})") from None
            self.celsius, self.v_init = self.config.run.celsius, self.config.run.v_init
            self.spec = GapSpec(ct.name, c1, c2, mechanisms_dir=None, mechanism=mechanism)
            self.g_uS = float(g_uS if g_uS is not None else (ct.syn_weight or 0.001))
        elif template is not None:
            c1 = _cell_from_template(template, mechanisms_dir, templates_dir)
            c2 = _cell_from_template(template2, mechanisms_dir, templates_dir) if template2 is not None else c1
            self.connection = None
            self.spec = GapSpec(f"{getattr(c1, 'name', 'cell')} gap", c1, c2,
                                mechanisms_dir=Path(mechanisms_dir).resolve() if mechanisms_dir else None,
                                mechanism=mechanism)
            self.g_uS = float(g_uS if g_uS is not None else 0.001)
        else:
            raise TunerError("give a BMTK config with a gap-junction edge type, or template= (and template2=)")

    @property
    def worker(self) -> Any:
        if self._worker is None:
            # local: import-time cost: multiprocessing (the worker), on the first run
            from bmtool_lab.sim.worker import InteractiveWorker

            self._worker = InteractiveWorker(name="gap-tuner", timeout_s=300)
        return self._worker

    def run(self, g_uS: float | None = None, amp_nA: float | None = None) -> GapJunctionResult:
        """Current step in cell 1; coupling coefficient ΔV2/ΔV1 at conductance ``g_uS`` (µS)."""
        g = self.g_uS if g_uS is None else float(g_uS)
        amp = self.amp_nA if amp_nA is None else float(amp_nA)
        out = self.worker.call(gap_junction_job, timeout=120, spec=self.spec, g_uS=g, amp_nA=amp,
                               celsius=self.celsius, v_init=self.v_init)
        return GapJunctionResult(g, out["coupling_coefficient"], out["dv1_mV"], out["dv2_mV"], out["t"],
                                 out["traces"], amp, out["sim_ms"])

    def fit_conductance(self, target_cc: float, rtol: float = 1e-3) -> float:
        """The conductance (µS) whose coupling coefficient is ``target_cc`` (0..1), by a 1-D root
        find (brentq; the coefficient rises monotonically with g, from 0 at g = 0); relative
        tolerance ``rtol`` on g. Also sets ``self.g_uS``."""
        from scipy.optimize import brentq

        if not 0 < target_cc < 1:
            raise TunerError(f"target coupling coefficient must be within (0, 1), got {target_cc}")
        hi = max(self.g_uS, 1e-6)
        while self.run(hi).coupling_coefficient < target_cc:  # bracket the root
            hi *= 4.0
            if hi > 1e3:
                raise TunerError(f"no conductance up to {hi:g} µS reaches a coupling coefficient of {target_cc}")
        g = brentq(lambda g: self.run(g).coupling_coefficient - target_cc, 0.0, hi, xtol=1e-12, rtol=rtol)
        self.g_uS = float(g)
        return self.g_uS

    def close(self) -> None:
        if self._worker is not None and self._own_worker:
            self._worker.close()
        self._worker = None
