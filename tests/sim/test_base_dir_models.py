"""A bmtk-style model with ``"$BASE_DIR": "."`` and shared ``../bio_components`` (bmtk's own
examples) opened from another folder: it lists, simulates and profiles, in the kernel and in the
worker processes (which run in a folder of their own), issue 12."""

from __future__ import annotations

import pytest

from bmtool_lab import CellProfiler, SynapseTuner
from tests.unit.sonata_factory import bmtk_model

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("style", ["dot", "bare"])
def test_dot_base_dir_model_simulates_and_profiles_from_another_folder(tmp_path, monkeypatch, style):
    config = bmtk_model(tmp_path / "models", style)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the model's folder nor its parent
    with SynapseTuner(config) as tn:
        names = [ct.name for ct in tn.connections]
        assert "GABA_InhToExc" in names, names
        tn.select("GABA_InhToExc")
        tn.set_protocol(t_start_ms=50.0, hold_mV=-40.0)  # GABA (erev -70 mV): outward at -40 mV
        res = tn.run_single()
        assert res.no_response is None and res.metrics["amplitude"] > 0 and res.metrics["sign"] == 1.0
    with CellProfiler(config) as prof:
        passive = prof.passive(-0.05)
        assert passive.warnings == () and 1.0 < passive.r_in_MOhm < 1e4 and passive.tau_ms > 0
