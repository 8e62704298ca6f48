"""One model check everywhere (issue 13): a config naming a missing gap-junction file, and a
node set that bmtk 1.2 under pandas 3 would leave empty, are reported by the tuner, the
profiler, the explorer, their dashboards, the sidebar panel's describe() and the CLI alike."""

from __future__ import annotations

import pandas as pd
import pytest

from bmtool_lab import CellProfiler, ConnectivityExplorer, SynapseTuner
from bmtool_lab.cli import main
from bmtool_lab.lab import describe
from bmtool_lab.model.check import check_model
from tests.unit.sonata_factory import bmtk_model

pytestmark = pytest.mark.sim


def problem_box(widget):
    """The model-check box of a dashboard (searched through its children), or None."""
    if "bmtl-model-problems" in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = problem_box(child)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def flawed(tmp_path_factory):
    return bmtk_model(tmp_path_factory.mktemp("flawed"), "dot", synapses_py=True, gap_file=True)


def test_every_surface_reports_the_same_problems(flawed, capsys):
    problems = check_model(flawed)
    assert any("gap_juncs" in p and "does not exist" in p for p in problems), problems
    if int(pd.__version__.split(".")[0]) >= 3:
        assert any("node_sets 'excitatory'" in p for p in problems), problems
    # the model's own synapses.py registers exp2syn_scaled: not a missing mod file
    assert not any("exp2syn_scaled" in p for p in problems), problems
    assert describe(flawed)["problems"] == problems
    with SynapseTuner(flawed) as tn:
        assert tn.model_problems == problems
        assert "gap_juncs" in problem_box(tn.widget).value
    with CellProfiler(flawed) as prof:
        assert prof.model_problems == problems
        assert "gap_juncs" in problem_box(prof.widget).value
    explorer = ConnectivityExplorer(flawed)
    assert explorer.model_problems == problems
    assert "gap_juncs" in problem_box(explorer.dashboard()).value
    assert main(["check", str(flawed)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == problems and f"{len(problems)} problem(s)" in err
    assert main(["connectivity", str(flawed), "--metric", "total"]) == 0
    assert "model problem: gap_juncs" in capsys.readouterr().err


def test_a_clean_model_has_no_problem_box(example_config, capsys):
    assert check_model(example_config) == []
    assert problem_box(ConnectivityExplorer(example_config).dashboard()) is None
    assert main(["check", str(example_config)]) == 0
