"""The network-run dashboard without a browser: what the raster is sent is exactly the run's
spikes on the right cells' rows, the rates it shows are the run's, a cell pick reads BioNet's
membrane report, a failing run is shown (not raised), and a controller ending a cell shows the
dashboard through the registry (controllers import no widget code)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bmtool_lab import NetworkSimulation
from bmtool_lab.widgets.network_run import RasterLayout, cell_rates
from bmtool_lab.widgets.registry import dashboard_widget

pytestmark = pytest.mark.sim


def test_raster_layout_places_cells_by_group() -> None:
    cells = pd.DataFrame({"population": ["b", "a", "a", "a", "b"], "node_id": [0, 5, 2, 9, 1],
                          "pop_name": ["PV", "Exc", "PV", "Exc", "Exc"]})
    lay = RasterLayout.of(cells, "pop_name")
    assert lay.labels == ["Exc", "PV"] and lay.bands == [(0, 3), (3, 5)]
    # rows sorted by group, population, node id: Exc a5, a9, b1; PV a2, b0
    got = lay.place(np.array(["a", "a", "b", "a", "b", "virtual"]), np.array([5, 9, 1, 2, 0, 5]))
    assert got.tolist() == [0, 1, 2, 3, 4, -1]
    assert lay.row_group.tolist() == [0, 0, 0, 1, 1]


@pytest.fixture(scope="module")
def shown(example_config):
    sim = NetworkSimulation(example_config)
    dash = dashboard_widget(sim)
    dash.tstop.value = 120.0
    dash.start()
    run = dash.wait(timeout_s=300)
    assert dash.error == "" and run is not None
    return sim, dash, run


def test_raster_is_the_runs_spikes(shown) -> None:
    sim, dash, run = shown
    sp = run.spikes
    assert len(sp) > 0
    times = np.frombuffer(dash.raster.times, np.float32)
    rows = np.frombuffer(dash.raster.rows, np.float32).astype(int)
    codes = np.frombuffer(dash.raster.codes, np.uint16)
    assert times.size == rows.size == codes.size == len(sp)
    np.testing.assert_allclose(np.sort(times), np.sort(sp.timestamp_ms.to_numpy()), atol=1e-4)
    # each spike sits on its own cell's row, and its colour is its cell's pop_name
    lay = dash._layout
    cells = lay.cells.iloc[rows]
    order = np.argsort(times, kind="stable")
    assert (np.asarray(lay.labels)[codes] == cells.group.to_numpy()).all()
    by_row = pd.DataFrame({"node_id": cells.node_id.to_numpy(), "t": times}).iloc[order]
    expect = sp.assign(t=sp.timestamp_ms.astype(np.float32))[["node_id", "t"]]
    assert sorted(map(tuple, by_row.to_numpy().tolist())) == sorted(map(tuple, expect.to_numpy().tolist()))
    assert dash.raster.n_rows == len(lay.cells) == 20  # silent cells keep their rows
    # while it ran, the raster was drawn from the streamed spikes: all of them arrived
    assert dash.live_spikes == len(sp)
    assert dash.progress_label.value.startswith(f"done: 120 ms simulated · {len(sp):,} spikes")


def test_rates_shown_are_the_runs(shown) -> None:
    _, dash, run = shown
    rates = run.rates("pop_name")
    for group, row in rates.iterrows():
        m = re.search(rf"data-group='{group}'>.*?bmtl-run-rate'[^>]*>([^<]+) Hz", dash.rates.value)
        mean = float(m.group(1).split("±")[0])
        assert mean == pytest.approx(row.mean_Hz, rel=2e-3, abs=1e-9), (group, m.group(1), row.mean_Hz)
    per_cell = cell_rates(run, dash._layout)
    assert per_cell.sum() * 0.12 == pytest.approx(len(run.spikes))


def test_pick_shows_the_cells_membrane_report(shown) -> None:
    _, dash, run = shown
    lay = dash._layout
    sp = run.spikes
    busiest = sp.groupby("node_id").size().idxmax()
    row = int(lay.cells.index[(lay.cells.population == "cortex") & (lay.cells.node_id == busiest)][0])
    dash.raster.picked_row = row
    n = int((sp.node_id == busiest).sum())
    assert f"cortex node {busiest}</b>" in dash.cell_info.value and f"{n} spikes" in dash.cell_info.value
    assert "v from soma_v.h5" in dash.cell_info.value and dash.cell_trace.n_points > 1000
    v = np.frombuffer(dash.cell_trace.y, np.float32)
    assert v.max() > 0 > v.min()  # a cell that spiked: its report crosses 0 mV


def test_failing_run_is_shown_not_raised(example_config, tmp_path) -> None:
    sim = NetworkSimulation(example_config)
    dash = dashboard_widget(sim)
    dash.tstop.value = 50.0
    bad = tmp_path / "missing_dir"
    dash._tuners = lambda: [_BrokenTuner(bad)]
    dash.start()
    dash.wait(timeout_s=120)
    assert dash.error and "✖" in dash.status.value and dash.progress.bar_style == "danger"
    assert not dash.run_button.disabled  # the user can run again


class _BrokenTuner:
    """A tuner whose unsaved parameters point at a dynamics file outside the model."""

    def __init__(self, path) -> None:
        self.path = path

    def unsaved_dynamics(self) -> dict:
        return {self.path / "X.json": {"tau1": 1.0}}


def test_controller_shows_its_dashboard(shown) -> None:
    sim, dash, _ = shown
    bundle = dashboard_widget(sim)._repr_mimebundle_()
    assert dashboard_widget(sim) is dash  # built once per controller
    assert "application/vnd.jupyter.widget-view+json" in bundle
    from IPython.core.interactiveshell import InteractiveShell

    from bmtool_lab.widgets.registry import register_ipython_display

    shell = InteractiveShell.instance()
    register_ipython_display(shell)
    data, _ = shell.display_formatter.format(sim)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.model_id
