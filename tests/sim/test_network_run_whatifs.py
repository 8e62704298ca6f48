"""Cell-profiler what-ifs in a network run: the unsaved section parameters of a profiled cell
type go onto every cell of that type that BioNet builds (an overlay in the run folder), the run
records what differed from the template, and the model's files are not touched."""

from __future__ import annotations

import hashlib

import pytest

from bmtool_lab import CellProfiler, NetworkSimulation
from bmtool_lab.sim.cell_overlay import section_matches

pytestmark = pytest.mark.sim


def test_section_keys() -> None:
    assert section_matches("Exc[3].dend[2]", "dend") and section_matches("Exc[3].dend[2]", "dend[2]")
    assert not section_matches("Exc[3].dend[2]", "dend[1]") and not section_matches("Exc[3].soma[0]", "dend")
    assert section_matches("soma", "soma") and section_matches("anything[0].axon[4]", "all")


def _digest(folder) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "output" not in p.parts:
            h.update(p.read_bytes())
    return h.hexdigest()


def test_profiler_what_ifs_reach_every_cell_of_the_type(fresh_example) -> None:
    before = _digest(fresh_example.parent / "components")
    sim = NetworkSimulation(fresh_example)
    base = sim.run(tstop_ms=150)
    assert (base.spikes.pop_name == "Exc").sum() > 0
    prof = CellProfiler(fresh_example)
    prof.set_cell_params({"soma": {"gnabar_wb_ex": 0.0}}, cell="Exc")  # no sodium: no spikes
    run = sim.run(tstop_ms=150, tuners=[prof])
    assert (run.spikes.pop_name == "Exc").sum() == 0
    assert (run.spikes.pop_name == "PV").sum() > 0  # the other types keep their own parameters
    assert run.overlay == {"cell Exc": {"soma.gnabar_wb_ex": (0.05, 0.0)}}
    assert any("cell what-ifs of Exc applied to 12 cell(s)" in line for line in run.log), run.log[-10:]
    assert _digest(fresh_example.parent / "components") == before  # the model is untouched
    # back to the template: the run is the plain one again, spike for spike
    prof.reset_cell_params("Exc")
    again = sim.run(tstop_ms=150, tuners=[prof])
    assert again.overlay == {}
    a = base.spikes[["node_id", "timestamp_ms"]].to_numpy()
    b = again.spikes[["node_id", "timestamp_ms"]].to_numpy()
    assert a.shape == b.shape and (a == b).all()


def test_a_what_if_the_built_cell_lacks_is_a_clear_error(fresh_example) -> None:
    from bmtool_lab.sim.errors import SimError

    prof = CellProfiler(fresh_example)
    prof.set_cell_params({"dend": {"gbar_hcn_ex": 0.0}}, cell="Exc")
    # the profiler checks names against the template; a hand-made entry naming another
    # mechanism reaches BioNet's cell and must fail there with the name, not silently
    entries = prof.unsaved_cell_params()
    entries[0]["params"] = {"dend": {"gbar_nonexistent": 1.0}}
    prof.unsaved_cell_params = lambda: entries  # type: ignore[method-assign]
    with pytest.raises(SimError, match="gbar_nonexistent"):
        NetworkSimulation(fresh_example).run(tstop_ms=20, tuners=[prof])
