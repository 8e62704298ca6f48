"""ConnectivityExplorer on SONATA files written by the tests (metrics.md §4 closed-form checks)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sonata_factory import (
    Edges,
    Nodes,
    five_node_network,
    network_dir,
    random_network,
    write_config,
    write_edges,
    write_nodes,
)

from bmtool_lab.model.sonata import (
    AttributeNotFoundError,
    EmptyPopulationError,
    MissingFileError,
    PopulationNotFoundError,
    SonataError,
)
from bmtool_lab.tuning.connectivity import ConnectivityExplorer

pytestmark = pytest.mark.unit

AB = ["A", "B"]


@pytest.fixture(scope="module")
def five(tmp_path_factory) -> ConnectivityExplorer:
    return ConnectivityExplorer(five_node_network(tmp_path_factory.mktemp("five")))


def cortex(conn: ConnectivityExplorer, metric: str, **kw):
    df = conn.matrix(metric, sources="cortex", targets="cortex", **kw)
    assert list(df.index) == AB and list(df.columns) == AB
    return df


def exact(df, expected) -> None:
    np.testing.assert_allclose(df.to_numpy(), np.asarray(expected, float), rtol=1e-12, atol=1e-12)


# --- the hand-built 5-node network: every matrix, exact -------------------------------


def test_totals_count_connections_rows_and_synapses(five):
    exact(cortex(five, "total"), [[4, 2], [1, 2]])  # distinct pairs (autapse 2→2 included)
    exact(cortex(five, "total", count="rows"), [[5, 2], [1, 2]])  # 0→1 is stored twice
    exact(cortex(five, "total", count="synapses"), [[8, 3], [1, 3]])
    assert cortex(five, "total").attrs["units"] == "connections"


def test_percent_directed_on_and_off_the_diagonal(five):
    terms = five.matrix_terms("percent", sources="cortex", targets="cortex")
    exact(terms["numerator"], [[3, 2], [1, 2]])  # the autapse is not a possible pair
    exact(terms["denominator"], [[6, 6], [6, 2]])  # |S||T| - |S∩T|
    exact(terms["value"], 100 * np.array([[3 / 6, 2 / 6], [1 / 6, 2 / 2]]))
    assert terms["value"].attrs["units"] == "%"
    assert "possible pairs" in terms["value"].attrs["denominator"]


def test_uni_and_bidirectional(five):
    exact(cortex(five, "bidirectional"), 100 * np.array([[2 / 6, 1 / 6], [1 / 6, 2 / 2]]))
    exact(cortex(five, "unidirectional"), 100 * np.array([[1 / 6, 1 / 6], [0, 0]]))
    total = cortex(five, "percent").to_numpy()
    both = cortex(five, "bidirectional").to_numpy() + cortex(five, "unidirectional").to_numpy()
    np.testing.assert_allclose(both, total)


def test_convergence_includes_unconnected_cells(five):
    exact(cortex(five, "convergence"), [[4 / 3, 1], [1 / 3, 1]])
    exact(cortex(five, "convergence", stat="min"), [[1, 0], [0, 1]])
    exact(cortex(five, "convergence", stat="max"), [[2, 2], [1, 1]])
    exact(cortex(five, "convergence", stat="std"), [[np.sqrt(2 / 9), 1], [np.sqrt(2 / 9), 0]])
    exact(cortex(five, "convergence", count="synapses"), [[8 / 3, 3 / 2], [1 / 3, 3 / 2]])
    exact(cortex(five, "convergence", count="synapses", stat="max"), [[4, 3], [1, 2]])
    exact(cortex(five, "convergence", connected_only=True), [[4 / 3, 2], [1, 1]])
    exact(cortex(five, "convergence", connected_only=True, stat="min"), [[1, 2], [1, 1]])
    terms = five.matrix_terms("convergence", sources="cortex", targets="cortex")
    exact(terms["numerator"], [[4, 2], [1, 2]])
    exact(terms["denominator"], [[3, 2], [3, 2]])  # every cell of T


def test_divergence(five):
    exact(cortex(five, "divergence"), [[4 / 3, 2 / 3], [1 / 2, 1]])
    exact(cortex(five, "divergence", stat="min"), [[1, 0], [0, 1]])
    exact(cortex(five, "divergence", stat="max"), [[2, 1], [1, 1]])
    exact(cortex(five, "divergence", count="synapses"), [[8 / 3, 1], [1 / 2, 3 / 2]])


def test_gap_junctions_from_both_edge_files(five):
    # gap rows: 1→2 (type 20 in "recurrent") and 0→1, 3→4 (file "electrical", type id 10 repeated)
    exact(cortex(five, "gap_percent"), 100 * np.array([[2 / 6, 0], [0, 1 / 2]]))
    exact(cortex(five, "gap_percent", symmetric=True), 100 * np.array([[4 / 6, 0], [0, 2 / 2]]))
    exact(cortex(five, "gap_convergence"), [[2 / 3, 0], [0, 1 / 2]])
    exact(cortex(five, "gap_convergence", symmetric=True), [[4 / 3, 0], [0, 1]])
    # gap rows never count as chemical connections
    exact(cortex(five, "total", count="rows"), [[5, 2], [1, 2]])


def test_virtual_inputs_and_several_populations(five):
    df = five.matrix("percent")
    assert list(df.index) == ["A", "B", "in"] and list(df.columns) == AB  # inputs receive nothing
    exact(df.loc[["in"]], 100 * np.array([[1 / 6, 2 / 4]]))
    syn = five.matrix("convergence", stat="mean", count="synapses", targets=["cortex"])
    exact(syn.loc[["in"]], [[1 / 3, 3 / 2]])
    only = five.matrix("total", sources="inputs", targets=["cortex"])
    assert list(only.index) == ["in"]
    exact(only, [[1, 2]])


def test_group_by_other_attributes(five):
    by_ei = five.matrix("total")
    assert by_ei.attrs["group_by"] == "pop_name"
    ei = five.matrix("total", group_by="ei")
    assert list(ei.index) == ["e", "i"]  # "e" = A cells and the virtual inputs
    exact(ei, [[4 + 1, 2 + 2], [1, 2]])
    by_type = five.matrix("total", group_by="node_type_id", sources="cortex", targets="cortex")
    assert list(by_type.index) == [1, 2]
    by_pop = five.matrix("total", group_by="population")
    assert list(by_pop.index) == ["cortex", "inputs"] and list(by_pop.columns) == ["cortex"]
    exact(by_pop, [[9], [3]])


def test_probability_vs_distance_exact(five):
    df = five.probability_vs_distance(bins=[0, 50, 200], sources="cortex", targets="cortex")
    assert list(df.columns) == ["bin_start_um", "bin_end_um", "pairs", "connected", "probability"]
    assert df["pairs"].tolist() == [8, 12]  # 20 ordered pairs of 5 cells, self-pairs excluded
    assert df["connected"].tolist() == [5, 3]
    np.testing.assert_allclose(df["probability"], [5 / 8, 3 / 12])
    equal = five.probability_vs_distance(bins=4, sources="cortex", targets="cortex")
    assert equal["bin_end_um"].iloc[-1] == pytest.approx(110.0)  # bound of the largest distance
    assert equal["pairs"].sum() == 20
    # virtual inputs have no positions: left out, and said so
    everyone = five.probability_vs_distance(bins=[0, 50, 200])
    assert everyone.attrs["cells_without_position"] == 2
    assert everyone["pairs"].tolist() == [8, 12]
    one = five.probability_vs_distance(bins=[0, 50, 200], source_group="A", target_group="B")
    assert one["pairs"].tolist() == [0, 6] and one["connected"].tolist() == [0, 2]


def test_histograms_and_details(five):
    h = five.histogram("A", "B")  # convergence onto B cells: [2, 0]
    assert h["count"].tolist() == [1, 0, 1] and h["bin_start"].tolist() == [0, 1, 2]
    assert h.attrs["counted"] == "cells" and h.attrs["n"] == 2
    d = five.histogram("A", "A", "divergence")
    assert d["count"].tolist() == [0, 2, 1]
    w = five.histogram("A", "A", "syn_weight", bins=[0, 0.25, 1])
    assert w["count"].tolist() == [2, 3] and w.attrs["counted"] == "edge rows"
    np.testing.assert_allclose(np.sort(five.edge_values("A", "B", "syn_weight")), [1.0, 2.0])
    np.testing.assert_allclose(np.sort(five.edge_values("A", "A", "delay")), [1, 1, 1, 1, 2])

    det = five.details("A", "A", sources="cortex", targets="cortex")
    assert (det.connections, det.edge_rows, det.synapses) == (4, 5, 8)
    assert (det.possible_pairs, det.self_pairs, det.bidirectional_pairs) == (6, 3, 2)
    assert det.percent == pytest.approx(50.0)
    assert det.convergence["max"] == 2 and det.divergence["mean"] == pytest.approx(4 / 3)
    assert det.gap_junction_pairs == 2
    assert set(det.edge_types["name"]) == {"A2A (recurrent:10)", "A2A (recurrent:14)", "Gap (recurrent)",
                                           "Gap (electrical)"}
    assert det.edge_types.set_index("name").loc["A2A (recurrent:10)", "n_synapses"] == 7
    np.testing.assert_allclose(np.sort(det.syn_weight), [0.1, 0.2, 0.3, 0.4, 0.5])  # chemical rows only
    summary = det.summary()
    assert summary["syn_weight"]["n"] == 5 and summary["edge_types"][2]["model_template"] is None


# --- bmtool's conventions, for comparison ---------------------------------------------


def test_bmtool_convention_reproduces_its_numbers(five):
    kw = {"convention": "bmtool"}
    exact(cortex(five, "total", **kw), [[5, 2], [1, 2]])  # rows as connections
    # diagonal: unordered pairs; {0,1} has 3 rows (neither 1 nor 2) and is dropped, as bmtool does
    exact(cortex(five, "percent", **kw), 100 * np.array([[1 / 3, 2 / 6], [1 / 6, 1 / 1]]))
    exact(cortex(five, "bidirectional", **kw), 100 * np.array([[0, 1 / 6], [1 / 6, 1]]))
    exact(cortex(five, "unidirectional", **kw), 100 * np.array([[1 / 3, 1 / 6], [0, 0]]))
    # connected-only, rows, ddof=1, NaN → 0
    exact(cortex(five, "convergence", **kw), [[5 / 3, 2], [1, 1]])
    exact(cortex(five, "convergence", stat="std", **kw), [[np.sqrt(1 / 3), 0], [0, 0]])
    exact(cortex(five, "gap_percent", **kw), 2 * 100 * np.array([[2 / 9, 0], [0, 1 / 4]]))
    exact(cortex(five, "gap_convergence", **kw), [[1, 0], [0, 1]])
    df = five.probability_vs_distance(bins=[0, 50, 200], sources="cortex", targets="cortex", **kw)
    assert df["pairs"].tolist() == [13, 12] and df["connected"].tolist() == [7, 3]


def test_bmtool_convention_on_empty_diagonals_is_what_bmtool_returns(tmp_path):
    """A group of one cell has no pair on the diagonal: bmtool 0.8.7's percent_connections
    divides 0 by 0 there (NaN, not inf), and gives 0 for a group of two that is not connected
    and 0 convergence where there are no edges. Checked against the real bmtool 0.8.7 on the
    same network (benchmarks/setup_bmtool_env.sh): [[nan, 100, 0], [100, 100, 0], [0, 0, 0]]."""
    conn = ConnectivityExplorer(random_network(tmp_path, {"A": 1, "B": 3, "C": 2},
                                               {("A", "B"): 1.0, ("B", "A"): 1.0, ("B", "B"): 1.0}))
    for convention in ("bmtool", "sonata"):
        pct = conn.matrix("percent", convention=convention).loc[["A", "B", "C"], ["A", "B", "C"]].to_numpy()
        np.testing.assert_array_equal(pct, [[np.nan, 100, 0], [100, 100, 0], [0, 0, 0]])
        conv = conn.matrix("convergence", convention=convention).loc[["A", "B", "C"], ["A", "B", "C"]].to_numpy()
        np.testing.assert_array_equal(conv, [[0, 1, 0], [3, 2, 0], [0, 0, 0]])


# --- generated networks -----------------------------------------------------------------


P = {("E", "E"): 0.1, ("E", "I"): 0.3, ("I", "E"): 0.3, ("I", "I"): 0.1}
SIZES = {"E": 300, "I": 100}


@pytest.fixture(scope="module")
def random_pair(tmp_path_factory):
    a = ConnectivityExplorer(random_network(tmp_path_factory.mktemp("conn"), SIZES, P, seed=3))
    b = ConnectivityExplorer(random_network(tmp_path_factory.mktemp("syn"), SIZES, P, seed=3, per_synapse_rows=True))
    return a, b


def test_random_network_percent_is_100p(random_pair):
    conn, _ = random_pair
    df = conn.matrix("percent")
    den = conn.matrix_terms("percent")["denominator"]
    for (s, t), p in P.items():
        sd = 100 * np.sqrt(p * (1 - p) / den.loc[s, t])
        assert abs(df.loc[s, t] - 100 * p) < 4 * sd, (s, t, df.loc[s, t])
    mean_in = conn.matrix("convergence")
    assert mean_in.loc["E", "I"] == pytest.approx(0.3 * 300, rel=0.05)  # 300 E sources, p 0.3
    bi = conn.matrix("bidirectional")
    assert bi.loc["E", "E"] == pytest.approx(100 * 0.1 * 0.1, abs=0.15)  # independent directions
    # bmtool: unordered pairs on the diagonal → 1-(1-p)^2, about twice; identical off it
    bm = conn.matrix("percent", convention="bmtool")
    assert bm.loc["E", "E"] == pytest.approx(100 * (1 - 0.9**2), abs=0.6)
    assert bm.loc["E", "I"] == pytest.approx(df.loc["E", "I"])


def test_probability_vs_distance_of_random_network_is_flat(random_pair):
    conn, _ = random_pair
    df = conn.probability_vs_distance(bins=5, source_group="E", target_group="E")
    assert df["pairs"].sum() == 300 * 299  # every ordered pair, self-pairs excluded
    assert df["connected"].sum() == conn.details("E", "E").connections
    full = df[df["pairs"] > 2000]
    np.testing.assert_allclose(full["probability"], 0.1, atol=0.02)
    near = conn.probability_vs_distance(bins=[0, 100, 300], source_group="E", target_group="E")
    assert near["pairs"].sum() < 300 * 299  # pairs beyond the last edge are not counted


def test_per_synapse_and_per_connection_formats_agree(random_pair):
    conn, syn = random_pair
    for count in ("connections", "synapses"):
        exact(syn.matrix("total", count=count), conn.matrix("total", count=count).to_numpy())
    # one row per synapse: rows = synapses there, rows = connections in the nsyns format
    exact(syn.matrix("total", count="rows"), conn.matrix("total", count="synapses").to_numpy())
    exact(conn.matrix("total", count="rows"), conn.matrix("total").to_numpy())
    for metric in ("percent", "bidirectional", "convergence", "divergence"):
        exact(syn.matrix(metric), conn.matrix(metric).to_numpy())
    # bmtool counts rows: the per-synapse file inflates its percent by the mean nsyns (≈ 2.5)
    ratio = syn.matrix("percent", convention="bmtool").loc["E", "I"] / conn.matrix("percent").loc["E", "I"]
    assert 2.2 < ratio < 2.8


# --- bad input: clear messages -------------------------------------------------------------


def test_missing_edge_file(tmp_path):
    cfg = five_node_network(tmp_path)
    (tmp_path / "network" / "cells_edges.h5").unlink()
    with pytest.raises(MissingFileError, match=r"networks\.edges\[0\].*cells_edges\.h5.*does not exist.*build"):
        ConnectivityExplorer(cfg)


def test_population_the_config_does_not_list(five):
    with pytest.raises(PopulationNotFoundError, match="'hippocampus'.*lists: cortex, inputs"):
        five.matrix("percent", sources="hippocampus")
    with pytest.raises(PopulationNotFoundError, match="'hippocampus'"):
        five.matrix("percent", targets=["cortex", "hippocampus"])


def test_edges_into_a_population_the_config_does_not_list(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1])}, [{"node_type_id": 1, "pop_name": "A"}])
    edges = write_edges(d / "e.h5", d / "e.csv", {"feedforward": Edges([0], [1], "ghost", "cortex", 1)},
                        [{"edge_type_id": 1, "dynamics_params": "x.json"}])
    with pytest.raises(PopulationNotFoundError, match="sources in node population 'ghost'.*add its nodes file"):
        ConnectivityExplorer(write_config(tmp_path, [nodes], [edges]))


def test_attribute_that_does_not_exist(five):
    with pytest.raises(AttributeNotFoundError, match="'colour'.*pop_name"):
        five.matrix("percent", group_by="colour")
    with pytest.raises(AttributeNotFoundError, match="'colour'.*ei, model_template"):
        five.network.node_population("cortex").values("colour")
    with pytest.raises(AttributeNotFoundError, match="'g_max'.*syn_weight"):
        five.edge_values("A", "B", "g_max")
    with pytest.raises(KeyError, match="no source group 'C'.*A, B, in"):
        five.details("C", "A")


def test_empty_edge_population(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1, 2])},
                        [{"node_type_id": 1, "pop_name": "A"}, {"node_type_id": 2, "pop_name": "B"}])
    types = [{"edge_type_id": 1, "dynamics_params": "x.json"}]
    empty = Edges(np.empty(0, int), np.empty(0, int), "cortex", "cortex", 1)
    only_empty = write_edges(d / "e.h5", d / "e.csv", {"local": empty}, types)
    conn = ConnectivityExplorer(write_config(tmp_path, [nodes], [only_empty]))
    with pytest.raises(EmptyPopulationError, match="'local'.*have no edges.*connection rules"):
        conn.matrix("percent")
    with pytest.raises(EmptyPopulationError, match="'local'.*has no edges"):
        conn.network.edge_population("local").source_node_ids()
    full = write_edges(d / "f.h5", d / "f.csv", {"long_range": Edges([0], [2], "cortex", "cortex", 1)}, types)
    both = ConnectivityExplorer(write_config(tmp_path, [nodes], [only_empty, full], name="both.json"))
    with pytest.warns(UserWarning, match="skipping empty edge population.*'local'"):
        df = both.matrix("total")
    exact(df, [[0, 1], [0, 0]])


def test_bad_arguments(five):
    with pytest.raises(ValueError, match="metric must be one of 'total', 'percent'"):
        five.matrix("density")
    with pytest.raises(ValueError, match="stat must be one of"):
        five.matrix("convergence", stat="median")
    with pytest.raises(ValueError, match="count must be one of"):
        five.matrix("total", count="spikes")
    with pytest.raises(SonataError, match="no edges run from inputs to inputs"):
        five.matrix("total", sources="inputs", targets="inputs")


def test_rebuilt_files_are_reread(tmp_path):
    cfg = five_node_network(tmp_path)
    conn = ConnectivityExplorer(cfg)
    assert conn.matrix("total", sources="cortex", targets="cortex").loc["A", "B"] == 2
    d = tmp_path / "network"
    write_edges(d / "cells_edges.h5", d / "cells_edge_types.csv",
                {"recurrent": Edges([0, 1, 2, 2], [3, 3, 3, 4], "cortex", "cortex", 11)},
                [{"edge_type_id": 11, "dynamics_params": "A2B.json"}])
    assert conn.matrix("total", sources="cortex", targets="cortex").loc["A", "B"] == 4


def test_headless_use_never_imports_widgets(tmp_path):
    cfg = five_node_network(tmp_path)
    code = (
        "import sys\n"
        "from bmtool_lab import ConnectivityExplorer\n"
        f"c = ConnectivityExplorer({str(cfg)!r})\n"
        "c.matrix('percent'); c.probability_vs_distance(); c.details('A', 'B'); repr(c)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'bqplot', 'IPython')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_group_fallbacks_per_population(tmp_path):
    """pop_name where a population has it, model_name / node_type_id where it does not."""
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv",
                        {"v1": Nodes([1, 1, 2]), "lgn": Nodes([3, 3]), "bkg": Nodes([4])},
                        [{"node_type_id": 1, "pop_name": "Exc", "model_name": None},
                         {"node_type_id": 2, "pop_name": None, "model_name": None},
                         {"node_type_id": 3, "pop_name": None, "model_name": "tON"},
                         {"node_type_id": 4, "pop_name": None, "model_name": None}])
    # one types CSV for every population: each population falls back on its own
    edges = write_edges(d / "e.h5", d / "e.csv", {
        "feedforward": Edges([0, 1], [0, 2], "lgn", "v1", 1),
        "background": Edges([0, 0], [1, 2], "bkg", "v1", 1),
        "local": Edges([0], [2], "v1", "v1", 1)}, [{"edge_type_id": 1}])
    conn = ConnectivityExplorer(write_config(tmp_path, [nodes], [edges]))
    df = conn.matrix("total")
    # h5py lists the populations of a file by name: bkg, lgn, v1; mixed int/text labels become text
    assert list(df.index) == ["4", "tON", "Exc", "v1 (no pop_name)"]
    assert list(df.columns) == ["Exc", "v1 (no pop_name)"]
    assert df.attrs["group_by_per_population"] == {"bkg": "node_type_id", "lgn": "model_name", "v1": "pop_name"}
    exact(df, [[1, 1], [1, 1], [0, 1], [0, 0]])
