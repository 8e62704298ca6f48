"""Pure connectivity functions against brute force on small random networks."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis import connectivity as ca

pytestmark = pytest.mark.unit


def random_edges(n=40, rows=400, seed=1):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, rows)
    tgt = rng.integers(0, n, rows)
    nsyns = rng.integers(1, 5, rows)
    return src, tgt, nsyns


def groups_for(n=40, n_groups=3, seed=2, sources=None, targets=None):
    code = np.random.default_rng(seed).integers(0, n_groups, n)
    s = code if sources is None else np.where(sources, code, -1)
    t = code if targets is None else np.where(targets, code, -1)
    return ca.GroupAssignment(s, t, n_groups)


def test_group_codes_keep_first_appearance():
    codes, labels = ca.group_codes(np.array(["PV", "Exc", None, "PV", "SST"], dtype=object))
    assert labels == ["PV", "Exc", "SST"] and codes.tolist() == [0, 1, -1, 0, 2]
    codes, labels = ca.group_codes(np.array([3.0, np.nan, 1.0, 3.0]))
    assert labels == [3.0, 1.0] and codes.tolist() == [0, -1, 1, 0]


def test_connection_pairs_count_rows_and_synapses():
    pairs = ca.connection_pairs(np.array([2, 0, 2, 1, 2]), np.array([1, 1, 1, 0, 0]), 3, np.array([1, 2, 3, 4, 5]))
    assert list(zip(pairs.source.tolist(), pairs.target.tolist(), strict=True)) == [(0, 1), (1, 0), (2, 0), (2, 1)]
    assert pairs.rows.tolist() == [1, 1, 1, 2] and pairs.synapses.tolist() == [2, 4, 5, 4]
    no_nsyns = ca.connection_pairs(np.array([0, 0]), np.array([1, 1]), 2)
    assert no_nsyns.rows.tolist() == [2] and no_nsyns.synapses.tolist() == [2]
    assert ca.connection_pairs(np.empty(0, int), np.empty(0, int), 5).n_connections == 0
    sym = ca.symmetrize(ca.connection_pairs(np.array([0, 1, 2]), np.array([1, 0, 2]), 3))
    assert list(zip(sym.source.tolist(), sym.target.tolist(), strict=True)) == [(0, 1), (1, 0), (2, 2)]
    assert sym.rows.tolist() == [2, 2, 1]


def brute(src, tgt, nsyns, groups, n):
    """Dense adjacency reference: connection, row and synapse counts per node pair."""
    conn = np.zeros((n, n), int)
    rows = np.zeros((n, n), int)
    syn = np.zeros((n, n), int)
    np.add.at(rows, (src, tgt), 1)
    np.add.at(syn, (src, tgt), nsyns)
    conn[rows > 0] = 1
    return conn, rows, syn


@pytest.mark.parametrize("dense", [True, False])
def test_every_matrix_against_brute_force(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(ca, "_DENSE_LIMIT", 0)  # the sparse (sorted keys) path
    n = 40
    src, tgt, nsyns = random_edges(n)
    in_src = np.arange(n) < 30  # sources 0..29, targets 10..39: partial overlap
    in_tgt = np.arange(n) >= 10
    keep = in_src[src] & in_tgt[tgt]
    g = groups_for(n, sources=in_src, targets=in_tgt)
    pairs = ca.connection_pairs(src[keep], tgt[keep], n, nsyns[keep])
    conn, rows, syn = brute(src[keep], tgt[keep], nsyns[keep], g, n)
    G = g.n_groups
    S = [np.flatnonzero(g.source_code == k) for k in range(G)]
    T = [np.flatnonzero(g.target_code == k) for k in range(G)]
    offdiag = 1 - np.eye(n, dtype=int)
    exp_total = np.array([[conn[np.ix_(S[a], T[b])].sum() for b in range(G)] for a in range(G)])
    exp_rows = np.array([[rows[np.ix_(S[a], T[b])].sum() for b in range(G)] for a in range(G)])
    np.testing.assert_array_equal(ca.total_matrix(pairs, g), exp_total)
    np.testing.assert_array_equal(ca.total_matrix(pairs, g, "rows"), exp_rows)
    both = conn * conn.T * offdiag
    for a in range(G):
        for b in range(G):
            block = np.ix_(S[a], T[b])
            possible = len(S[a]) * len(T[b]) - len(np.intersect1d(S[a], T[b]))
            pct = ca.percent_connectivity(pairs, g)
            assert pct.denominator[a, b] == possible
            assert pct.numerator[a, b] == (conn * offdiag)[block].sum()
            assert ca.reciprocal_pairs(pairs, g)[a, b] == both[block].sum()
            for count, m in (("connections", conn), ("synapses", syn), ("rows", rows)):
                per_target = m[np.ix_(S[a], T[b])].sum(axis=0)
                per_source = m[np.ix_(S[a], T[b])].sum(axis=1)
                conv = ca.degree_statistics(pairs, g, "convergence", count)
                div = ca.degree_statistics(pairs, g, "divergence", count)
                for stats, values in ((conv, per_target), (div, per_source)):
                    assert stats.mean[a, b] == pytest.approx(values.mean())
                    assert stats.std[a, b] == pytest.approx(values.std())
                    assert stats.min[a, b] == values.min() and stats.max[a, b] == values.max()
                only = ca.degree_statistics(pairs, g, "convergence", count, connected_only=True, ddof=1)
                nz = per_target[per_target > 0]
                assert only.mean[a, b] == pytest.approx(nz.mean())
                assert only.std[a, b] == pytest.approx(nz.std(ddof=1))
                assert only.min[a, b] == nz.min()
            np.testing.assert_array_equal(
                np.sort(ca.node_degrees(pairs, g, a, b, "convergence", "synapses")),
                np.sort(syn[np.ix_(S[a], T[b])].sum(axis=0)))


def test_complete_graph_is_100_percent_on_and_off_the_diagonal():
    n = 12
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    g = ca.GroupAssignment(np.arange(n) % 3, np.arange(n) % 3, 3)
    pct = ca.percent_connectivity(ca.connection_pairs(i, j, n), g)
    np.testing.assert_allclose(pct.value, 100.0)
    np.testing.assert_allclose(ca.percent_connectivity(ca.connection_pairs(i, j, n), g, "bidirectional").value, 100.0)
    bm = ca.percent_connectivity(ca.connection_pairs(i, j, n), g, convention="bmtool")
    np.testing.assert_allclose(np.diag(bm.value), 100.0)  # unordered pairs with both rows


def test_empty_groups_give_nan_not_errors():
    g = ca.GroupAssignment(np.array([0, 0, -1]), np.array([-1, 1, 1]), 2)
    pairs = ca.connection_pairs(np.array([0]), np.array([2]), 3)
    pct = ca.percent_connectivity(pairs, g)
    assert pct.value[0, 1] == pytest.approx(100 * 1 / (2 * 2 - 1))
    assert np.isnan(pct.value[1, 0])
    conv = ca.degree_statistics(pairs, g)
    assert np.isnan(conv.mean[:, 0]).all()  # no target cells in group 0
    assert ca.degree_statistics(pairs, g, convention="bmtool").mean[1, 0] == 0.0


def test_probability_by_distance_against_brute_force():
    rng = np.random.default_rng(5)
    a, b = rng.random((60, 3)) * 300, rng.random((45, 3)) * 300
    cs, ct = rng.integers(0, 60, 200), rng.integers(0, 45, 200)
    same = (np.arange(10), np.arange(10))  # cells 0..9 are on both sides
    d_all = np.linalg.norm(a[:, None] - b[None], axis=2)
    d_all[same] = -1.0  # self-pairs are not pairs
    edges = np.array([0, 50, 120, 300, 600])
    for bins in (edges, 6):
        res = ca.probability_by_distance(a, b, cs, ct, bins, same_cell=same, chunk_pairs=97)
        exp_pairs = np.histogram(d_all[d_all >= 0], res.edges)[0]
        np.testing.assert_array_equal(res.pairs, exp_pairs)
        exp_conn = np.histogram(np.linalg.norm(a[cs] - b[ct], axis=1), res.edges)[0]
        np.testing.assert_array_equal(res.connected, exp_conn)
    assert res.edges[-1] >= d_all.max()
    with pytest.raises(ValueError, match="increasing"):
        ca.probability_by_distance(a, b, cs, ct, [0, 10, 5])


def test_bad_options_name_the_choices():
    pairs = ca.connection_pairs(np.array([0]), np.array([1]), 2)
    g = ca.GroupAssignment(np.zeros(2, int), np.zeros(2, int), 1)
    with pytest.raises(ValueError, match="count must be one of 'connections', 'rows', 'synapses'"):
        ca.total_matrix(pairs, g, "spikes")
    with pytest.raises(ValueError, match="convention must be one of"):
        ca.percent_connectivity(pairs, g, convention="neuron")
