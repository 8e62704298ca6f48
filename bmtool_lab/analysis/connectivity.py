"""Connectivity metrics of a SONATA network, on plain arrays (no file access).

Definitions follow ``docs/metrics.md`` §4. Notation: nodes are indexed ``0..N-1`` in one
node space (several populations concatenated); each node has a *source group code* (``-1``
when the node is not among the selected sources) and a *target group code*. For source group
S and target group T:

- edge rows ``R_ST``; synapses = Σ ``nsyns`` (1 per row without ``nsyns``);
  connections ``C_ST`` = distinct (source, target) node pairs;
- possible pairs ``P_ST = |S|·|T| − |S ∩ T|`` (ordered pairs, self-pairs excluded);
- percent connectivity ``100·C'_ST / P_ST`` where ``C'`` leaves out self-pairs (autapses),
  the same directed definition on and off the diagonal;
- bidirectional pairs ``B_ST`` = pairs of ``C'_ST`` whose reverse pair is a connection;
  unidirectional = ``C'_ST − B_ST``;
- convergence: per target cell of T, the number of distinct sources in S (or of synapses, or
  of rows); mean/std/min/max over all cells of T, unconnected ones (zeros) included unless
  ``connected_only``. Divergence: the same per source cell of S.

``convention="bmtool"`` reproduces bmtool 0.8.7 (rows counted as connections, unordered pairs
on the diagonal, connected-only degree statistics with ``ddof=1``, empty → 0) so old and new
numbers can be compared side by side. All counting is ``np.bincount`` / ``scipy.sparse`` on
integer indices: no Python loop over edges, pairs or nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

__all__ = [
    "COUNTS",
    "CONVENTIONS",
    "STATS",
    "ConnectionPairs",
    "DegreeStatistics",
    "DistanceProbability",
    "GroupAssignment",
    "MatrixTerms",
    "connection_pairs",
    "degree_statistics",
    "gap_junction_percent",
    "group_codes",
    "node_degrees",
    "pair_denominators",
    "percent_connectivity",
    "probability_by_distance",
    "reciprocal_pairs",
    "reciprocal_pattern",
    "symmetrize",
    "total_matrix",
]

Count = Literal["connections", "rows", "synapses"]
Convention = Literal["sonata", "bmtool"]
COUNTS: tuple[str, ...] = ("connections", "rows", "synapses")
STATS: tuple[str, ...] = ("mean", "std", "min", "max")
CONVENTIONS: tuple[str, ...] = ("sonata", "bmtool")

# Dense (node × group) count tables up to this many cells (int64: 128 MB); sparse beyond.
_DENSE_LIMIT = 1 << 24


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def group_codes(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Factorise per-node labels: (int64 code per node, labels), labels in order of first appearance.

    Missing labels (None, NaN) get code -1.
    """
    values = np.asarray(values)
    if values.dtype == object:
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool)
        present = values[~missing]
        uniq, first, inv = np.unique(present.astype(str) if present.size else present, return_index=True,
                                     return_inverse=True)
        raw = present
    else:
        missing = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
        raw = values[~missing]
        uniq, first, inv = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    codes = np.full(values.shape[0], -1, dtype=np.int64)
    codes[~missing] = rank[inv]
    labels = [raw[first[i]].item() if isinstance(raw[first[i]], np.generic) else raw[first[i]] for i in order]
    return codes, labels


# ---------------------------------------------------------------------------------------
# pairs and groups


@dataclass(frozen=True)
class ConnectionPairs:
    """Distinct directed (source, target) node pairs of an edge set, sorted by (source, target).

    ``rows`` = edge rows of each pair, ``synapses`` = Σ nsyns of those rows (int32 arrays;
    node indices int32 up to 2³¹ nodes). Cast to int64 before multiplying indices.
    """

    source: np.ndarray
    target: np.ndarray
    rows: np.ndarray
    synapses: np.ndarray
    n_nodes: int

    @property
    def n_connections(self) -> int:
        return int(self.source.shape[0])

    def weights(self, count: Count) -> np.ndarray | None:
        """Per-pair weight for a count: None for connections (each pair counts 1)."""
        _check("count", count, COUNTS)
        return None if count == "connections" else (self.rows if count == "rows" else self.synapses)

    def csr(self, data: np.ndarray | None = None) -> sp.csr_array:
        """The pairs as an N×N CSR matrix (built without sorting: pairs are already in order)."""
        n = self.n_nodes
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.source, minlength=n), out=indptr[1:])
        vals = np.ones(self.n_connections, np.int8) if data is None else data
        m = sp.csr_array((vals, self.target, indptr), shape=(n, n))
        m.has_sorted_indices = True
        m.has_canonical_format = True
        return m


def _empty_pairs(n_nodes: int) -> ConnectionPairs:
    e = np.empty(0, _index_dtype(n_nodes))
    c = np.empty(0, np.int32)
    return ConnectionPairs(e, e, c, c, n_nodes)


def _index_dtype(n_nodes: int) -> type:
    return np.int32 if n_nodes < np.iinfo(np.int32).max else np.int64


def _pairs_from_packed(source: np.ndarray, target: np.ndarray, packed: np.ndarray, n_nodes: int) -> ConnectionPairs:
    """Sum packed (synapses << 32 | rows) per distinct (source, target) with one CSR build."""
    idx = _index_dtype(n_nodes)
    m = sp.coo_array((packed, (source.astype(idx, copy=False), target.astype(idx, copy=False))),
                     shape=(n_nodes, n_nodes)).tocsr()  # counting sort by source; duplicates summed
    m.sum_duplicates()
    src = np.repeat(np.arange(n_nodes, dtype=m.indices.dtype), np.diff(m.indptr))
    data = m.data
    rows = data.astype(np.int32)  # the low 32 bits
    np.right_shift(data, 32, out=data)
    syns = data.astype(np.int32)
    return ConnectionPairs(src, m.indices, rows, syns, n_nodes)


def connection_pairs(source: np.ndarray, target: np.ndarray, n_nodes: int,
                     synapses: np.ndarray | None = None) -> ConnectionPairs:
    """Collapse edge rows into distinct (source, target) pairs, counting rows and synapses.

    ``source``/``target`` are node indices in ``0..n_nodes-1``; ``synapses`` is ``nsyns`` per
    row (None: one synapse per row). One CSR construction (a counting sort, O(rows + N)) sums
    rows and synapses at once, packed into one int64 (rows in the low 32 bits). The result
    holds int32 arrays (int64 node indices beyond 2³¹ nodes).
    """
    source = np.asarray(source)
    target = np.asarray(target)
    if source.shape != target.shape:
        raise ValueError("source and target must have the same length")
    if source.size == 0:
        return _empty_pairs(n_nodes)
    if synapses is None:
        packed = np.full(source.shape[0], (1 << 32) | 1, dtype=np.int64)
    else:
        packed = np.array(synapses, dtype=np.int64)  # a copy: packed in place below
        if packed.shape != source.shape:
            raise ValueError("synapses must have one value per edge row")
        if packed.min() < 0 or packed.max() >= (1 << 30):
            raise ValueError("nsyns must be between 0 and 2**30 per edge row")
        packed <<= 32
        packed |= 1
    return _pairs_from_packed(source, target, packed, n_nodes)


def symmetrize(pairs: ConnectionPairs) -> ConnectionPairs:
    """Undirected version of a pair set: (i, j) and (j, i) both present (for gap junctions).

    Rows and synapses of a pair stored in both directions are summed.
    """
    if pairs.n_connections == 0:
        return pairs
    keep = pairs.source != pairs.target  # don't double autapses
    src = np.concatenate([pairs.source, pairs.target[keep]])
    tgt = np.concatenate([pairs.target, pairs.source[keep]])
    syns = np.concatenate([pairs.synapses, pairs.synapses[keep]]).astype(np.int64)
    rows = np.concatenate([pairs.rows, pairs.rows[keep]]).astype(np.int64)
    return _pairs_from_packed(src, tgt, (syns << 32) | rows, pairs.n_nodes)


@dataclass(frozen=True)
class GroupAssignment:
    """Group code of every node as a source and as a target (-1: not selected), G groups.

    int32 codes keep the per-pair gathers small (G² must stay below 2³¹).
    """

    source_code: np.ndarray
    target_code: np.ndarray
    n_groups: int

    def __post_init__(self) -> None:
        if self.source_code.shape != self.target_code.shape:
            raise ValueError("source_code and target_code must cover the same nodes")

    @property
    def n_nodes(self) -> int:
        return int(self.source_code.shape[0])

    @cached_property
    def source_size(self) -> np.ndarray:
        """|S|: cells of each group among the sources."""
        c = self.source_code
        return np.bincount(c[c >= 0], minlength=self.n_groups).astype(np.int64)

    @cached_property
    def target_size(self) -> np.ndarray:
        """|T|: cells of each group among the targets."""
        c = self.target_code
        return np.bincount(c[c >= 0], minlength=self.n_groups).astype(np.int64)

    @cached_property
    def overlap(self) -> np.ndarray:
        """|S ∩ T| (G×G): cells that are both in source group S and target group T."""
        both = (self.source_code >= 0) & (self.target_code >= 0)
        key = self.source_code[both] * self.n_groups + self.target_code[both]
        return np.bincount(key, minlength=self.n_groups**2).reshape(self.n_groups, self.n_groups).astype(np.int64)

    def pair_groups(self, pairs: ConnectionPairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source group, target group, valid) of each pair; pairs outside the selection are invalid."""
        s = self.source_code[pairs.source]
        t = self.target_code[pairs.target]
        return s, t, (s >= 0) & (t >= 0)


def _group_sum(s: np.ndarray, t: np.ndarray, n_groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    key = s * n_groups + t
    out = np.bincount(key, weights=weights, minlength=n_groups * n_groups)
    if weights is None or weights.dtype.kind in "iu":
        out = np.rint(out).astype(np.int64)
    return out.reshape(n_groups, n_groups)


@dataclass(frozen=True)
class MatrixTerms:
    """A G×G metric with its numerator and denominator (NaN where the denominator is 0)."""

    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), np.nan)


# ---------------------------------------------------------------------------------------
# totals and percent


def total_matrix(pairs: ConnectionPairs, groups: GroupAssignment, count: Count = "connections") -> np.ndarray:
    """Connections (distinct pairs, autapses included), edge rows or synapses per (S, T), int64 G×G."""
    s, t, ok = groups.pair_groups(pairs)
    w = pairs.weights(count)
    return _group_sum(s[ok], t[ok], groups.n_groups, None if w is None else w[ok])


def pair_denominators(groups: GroupAssignment) -> np.ndarray:
    """Possible ordered pairs ``|S|·|T| − |S ∩ T|`` (G×G, int64): self-pairs are not possible connections."""
    return np.outer(groups.source_size, groups.target_size) - groups.overlap


def reciprocal_pattern(pairs: ConnectionPairs) -> tuple[np.ndarray, np.ndarray]:
    """Node pairs (i, j), i ≠ j, connected both ways (each direction listed once).

    Elementwise product of the connection pattern with its transpose: linear in the number of
    pairs after a counting sort, no search per pair. Independent of grouping, so callers can
    compute it once per edge selection and pass it to :func:`reciprocal_pairs`.
    """
    if pairs.n_connections == 0:
        e = np.empty(0, np.int64)
        return e, e
    a = pairs.csr()
    both = a.multiply(a.T.tocsr()).tocoo()
    i, j = both.row.astype(np.int64), both.col.astype(np.int64)
    keep = i != j
    return i[keep], j[keep]


def reciprocal_pairs(pairs: ConnectionPairs, groups: GroupAssignment,
                     pattern: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``B_ST``: pairs (i→j) of S→T, i ≠ j, whose reverse (j→i) is also a connection (G×G int64)."""
    i, j = reciprocal_pattern(pairs) if pattern is None else pattern
    s, t = groups.source_code[i], groups.target_code[j]
    ok = (s >= 0) & (t >= 0)
    return _group_sum(s[ok], t[ok], groups.n_groups)


Kind = Literal["total", "unidirectional", "bidirectional"]
_KINDS: tuple[str, ...] = ("total", "unidirectional", "bidirectional")


def percent_connectivity(pairs: ConnectionPairs, groups: GroupAssignment, kind: Kind = "total",
                         convention: Convention = "sonata",
                         pattern: tuple[np.ndarray, np.ndarray] | None = None) -> MatrixTerms:
    """Percent connectivity (%), its numerator (pairs) and denominator (possible pairs).

    ``kind``: "total" (all connected pairs), "bidirectional" (pairs whose reverse is connected)
    or "unidirectional" (the rest). ``convention="bmtool"``: numerator in edge rows, denominator
    ``|S|·|T|`` off the diagonal; on the diagonal unordered pairs ``n(n−1)/2``, an unordered pair
    with 1 row being unidirectional and with 2 rows bidirectional (pairs with more rows are
    dropped, as bmtool 0.8.7 does). ``pattern``: :func:`reciprocal_pattern` of ``pairs``, if known.
    """
    _check("kind", kind, _KINDS)
    _check("convention", convention, CONVENTIONS)
    if convention == "bmtool":
        return _percent_bmtool(pairs, groups, kind, pattern)
    s, t, ok = groups.pair_groups(pairs)
    ok &= pairs.source != pairs.target  # autapses are not among the possible pairs
    connected = _group_sum(s[ok], t[ok], groups.n_groups)
    if kind == "total":
        num = connected
    else:
        bi = reciprocal_pairs(pairs, groups, pattern)
        num = bi if kind == "bidirectional" else connected - bi
    den = pair_denominators(groups)
    return MatrixTerms(_ratio(num, den, 100.0), num, den)


def _percent_bmtool(pairs: ConnectionPairs, groups: GroupAssignment, kind: str,
                    pattern: tuple[np.ndarray, np.ndarray] | None) -> MatrixTerms:
    g = groups.n_groups
    rows = total_matrix(pairs, groups, "rows")
    conn = total_matrix(pairs, groups, "connections")
    bi_pairs = reciprocal_pairs(pairs, groups, pattern)
    # off the diagonal bmtool concatenates S→T rows with flipped T→S rows and calls every
    # duplicate (pair, row) "bidirectional": R_ST + R_TS − |C_ST ∪ rev C_TS|
    bi = rows + rows.T - conn - conn.T + bi_pairs
    num = {"total": rows, "bidirectional": bi, "unidirectional": rows - bi}[kind].astype(np.int64)
    den = np.outer(groups.source_size, groups.target_size).astype(np.int64)

    # diagonal: unordered pairs {i, j}, i ≠ j, counted by the edge rows between them
    diag_uni = np.zeros(g, np.int64)
    diag_bi = np.zeros(g, np.int64)
    s, t, ok = groups.pair_groups(pairs)
    ok &= (s == t) & (pairs.source != pairs.target)
    if ok.any():
        lo = np.minimum(pairs.source[ok], pairs.target[ok]).astype(np.int64)
        hi = np.maximum(pairs.source[ok], pairs.target[ok]).astype(np.int64)
        key = lo * pairs.n_nodes + hi
        uniq, inv = np.unique(key, return_inverse=True)
        per_pair = np.bincount(inv, weights=pairs.rows[ok]).astype(np.int64)
        grp = np.zeros(uniq.size, np.int64)
        grp[inv] = s[ok]
        diag_uni = np.bincount(grp[per_pair == 1], minlength=g)
        diag_bi = np.bincount(grp[per_pair == 2], minlength=g)
    n = groups.source_size
    diag_num = {"total": diag_uni + diag_bi, "unidirectional": diag_uni, "bidirectional": diag_bi}[kind]
    idx = np.arange(g)
    num[idx, idx] = diag_num
    den_f = den.astype(np.float64)
    den_f[idx, idx] = n * (n - 1) / 2.0
    return MatrixTerms(_ratio(num, den_f, 100.0), num, den_f)


def gap_junction_percent(pairs: ConnectionPairs, groups: GroupAssignment, *, symmetric: bool = False,
                         convention: Convention = "sonata") -> MatrixTerms:
    """Percent of possible pairs coupled by gap junctions (%).

    ``pairs`` are the gap-junction edges. By default the directed definition of
    :func:`percent_connectivity` applies to the pairs as stored; ``symmetric=True`` treats every
    junction as coupling both ways (the fraction of cell pairs that are electrically coupled
    when the network stores each junction once). ``convention="bmtool"``: ``2·100·R_ST/(|S|·|T|)``
    (bmtool 0.8.7 doubles its result by a fixed factor).
    """
    _check("convention", convention, CONVENTIONS)
    if convention == "bmtool":
        rows = total_matrix(pairs, groups, "rows")
        den = np.outer(groups.source_size, groups.target_size)
        return MatrixTerms(2.0 * _ratio(rows, den, 100.0), rows, den)
    return percent_connectivity(symmetrize(pairs) if symmetric else pairs, groups, "total")


# ---------------------------------------------------------------------------------------
# convergence / divergence


Direction = Literal["convergence", "divergence"]


def _node_group_counts(node: np.ndarray, group: np.ndarray, weights: np.ndarray | None, n_nodes: int,
                       n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero (node, group, count) sums, by a dense bincount when small, by sort otherwise."""
    key = node.astype(np.int64) * n_groups + group
    if n_nodes * n_groups <= _DENSE_LIMIT:
        dense = np.bincount(key, weights=weights, minlength=n_nodes * n_groups)
        idx = np.flatnonzero(dense)
        vals = dense[idx]
    else:
        idx, inv = np.unique(key, return_inverse=True)
        vals = np.bincount(inv, weights=weights)
    if weights is None or weights.dtype.kind in "iu":
        vals = np.rint(vals).astype(np.int64)
    return idx // n_groups, idx % n_groups, vals


@dataclass(frozen=True)
class DegreeStatistics:
    """Convergence or divergence statistics per (source group, target group), G×G each.

    ``n_cells`` are the cells the statistics run over (all cells of the group, or the
    connected ones), ``total`` the sum of the per-cell counts, ``n_connected`` the cells with
    at least one count.
    """

    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    total: np.ndarray
    n_cells: np.ndarray
    n_connected: np.ndarray

    def stat(self, name: str) -> np.ndarray:
        _check("stat", name, STATS)
        return getattr(self, name)


def degree_statistics(pairs: ConnectionPairs, groups: GroupAssignment, direction: Direction = "convergence",
                      count: Count = "connections", *, connected_only: bool = False, ddof: int = 0,
                      convention: Convention = "sonata") -> DegreeStatistics:
    """Convergence (per target cell: sources in S) or divergence (per source cell: targets in T).

    ``count``: distinct partner cells ("connections"), "synapses" or edge "rows". Statistics run
    over every cell of the group (zeros included) unless ``connected_only``. ``std`` uses
    ``ddof`` (0: population std). ``convention="bmtool"`` forces rows, connected-only,
    ``ddof=1`` and reports 0 where bmtool would get NaN (no or one connected cell).
    """
    _check("direction", direction, ("convergence", "divergence"))
    _check("convention", convention, CONVENTIONS)
    if convention == "bmtool":
        count, connected_only, ddof = "rows", True, 1
    g = groups.n_groups
    s, t, ok = groups.pair_groups(pairs)
    w = pairs.weights(count)
    w = None if w is None else w[ok]
    if direction == "convergence":
        node, partner_group = pairs.target[ok], s[ok]
        node_group = groups.target_code
        group_size = groups.target_size
    else:
        node, partner_group = pairs.source[ok], t[ok]
        node_group = groups.source_code
        group_size = groups.source_size
    nodes, partner, vals = _node_group_counts(node, partner_group, w, groups.n_nodes, g)
    own = node_group[nodes]
    # orient every table as [source group, target group]
    if direction == "convergence":
        key = partner * g + own
    else:
        key = own * g + partner
    vf = vals.astype(np.float64)
    total = np.bincount(key, weights=vf, minlength=g * g).reshape(g, g)
    sumsq = np.bincount(key, weights=vf * vf, minlength=g * g).reshape(g, g)
    n_conn = np.bincount(key, minlength=g * g).reshape(g, g)
    vmax = np.full(g * g, -np.inf)
    vmin = np.full(g * g, np.inf)
    np.maximum.at(vmax, key, vf)
    np.minimum.at(vmin, key, vf)
    vmax, vmin = vmax.reshape(g, g), vmin.reshape(g, g)

    size = np.broadcast_to(group_size[None, :] if direction == "convergence" else group_size[:, None], (g, g))
    n_cells = n_conn if connected_only else size
    n_cells = n_cells.astype(np.int64)
    mean = _ratio(total, n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (sumsq - total * np.where(n_cells > 0, total / np.maximum(n_cells, 1), 0)) / (n_cells - ddof)
    std = np.where(n_cells - ddof > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
    has = n_conn > 0
    vmax = np.where(has, vmax, np.where(n_cells > 0, 0.0, np.nan))
    vmin = np.where(has, vmin, np.where(n_cells > 0, 0.0, np.nan))
    if not connected_only:
        vmin = np.where(has & (n_conn < size), 0.0, vmin)  # some cells of the group have no partner
    if convention == "bmtool":
        mean, std, vmin, vmax = (np.nan_to_num(a, nan=0.0) for a in (mean, std, vmin, vmax))
    return DegreeStatistics(mean, std, vmin, vmax, np.rint(total).astype(np.int64), n_cells, n_conn.astype(np.int64))


def node_degrees(pairs: ConnectionPairs, groups: GroupAssignment, source_group: int, target_group: int,
                 direction: Direction = "convergence", count: Count = "connections") -> np.ndarray:
    """Per-cell convergence (for each cell of T: partners in S) or divergence, zeros included.

    Returns an int64 array in node order of the cells of T (convergence) or S (divergence).
    """
    _check("direction", direction, ("convergence", "divergence"))
    s, t, ok = groups.pair_groups(pairs)
    ok &= (s == source_group) & (t == target_group)
    w = pairs.weights(count)
    node = pairs.target[ok] if direction == "convergence" else pairs.source[ok]
    counts = np.bincount(node, weights=None if w is None else w[ok], minlength=groups.n_nodes)
    counts = np.rint(counts).astype(np.int64)
    members = groups.target_code == target_group if direction == "convergence" else groups.source_code == source_group
    return counts[members]


# ---------------------------------------------------------------------------------------
# probability vs distance


@dataclass(frozen=True)
class DistanceProbability:
    """Connection probability per distance bin: connected pairs / all pairs (NaN for empty bins)."""

    edges: np.ndarray
    pairs: np.ndarray
    connected: np.ndarray

    @property
    def probability(self) -> np.ndarray:
        return _ratio(self.connected, self.pairs)


def _max_distance_bound(a: np.ndarray, b: np.ndarray) -> float:
    """Upper bound of |a_i − b_j| from the two bounding boxes (no pair loop)."""
    if a.size == 0 or b.size == 0:
        return 0.0
    span = np.maximum(np.abs(a.max(0) - b.min(0)), np.abs(b.max(0) - a.min(0)))
    return float(np.sqrt((span**2).sum()))


def probability_by_distance(source_positions: np.ndarray, target_positions: np.ndarray,
                            connected_source: np.ndarray, connected_target: np.ndarray,
                            bins: int | np.ndarray = 10, *, max_distance: float | None = None,
                            same_cell: tuple[np.ndarray, np.ndarray] | None = None,
                            connected_weights: np.ndarray | None = None,
                            chunk_pairs: int = 1 << 22) -> DistanceProbability:
    """Count all source–target pairs and connected pairs per soma-distance bin (µm).

    ``source_positions`` (Ns, 3) and ``target_positions`` (Nt, 3) in µm. ``connected_source``/
    ``connected_target`` index into them (one entry per connected pair; ``connected_weights``
    to count rows instead). ``same_cell`` = (source index, target index) of cells present on
    both sides: those self-pairs are not possible connections and are removed from the pair
    counts. ``bins``: a number of equal bins from 0 to ``max_distance`` (default: an upper
    bound of the largest source–target distance from the bounding boxes) or explicit edges.
    All pairs are counted with ``scipy.spatial.distance.cdist`` in chunks of about
    ``chunk_pairs`` distances, so memory stays bounded and there is no per-pair Python work.
    """
    from scipy.spatial.distance import cdist

    src = np.ascontiguousarray(source_positions, dtype=np.float64)
    tgt = np.ascontiguousarray(target_positions, dtype=np.float64)
    if np.ndim(bins) == 0:
        n_bins = int(bins)
        if n_bins < 1:
            raise ValueError("bins must be >= 1")
        hi = float(max_distance) if max_distance is not None else _max_distance_bound(src, tgt)
        hi = hi if hi > 0 else 1.0
        edges = np.linspace(0.0, hi, n_bins + 1)
        hist_bins: Any = n_bins
        hist_range: Any = (0.0, hi)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("bin edges must be increasing and at least two")
        hist_bins, hist_range = edges, None
    pairs = np.zeros(edges.size - 1, np.int64)
    if src.shape[0] and tgt.shape[0]:
        step = max(1, chunk_pairs // tgt.shape[0])
        for start in range(0, src.shape[0], step):
            d = cdist(src[start:start + step], tgt)
            pairs += np.histogram(d, bins=hist_bins, range=hist_range)[0]
    if same_cell is not None and len(same_cell[0]):
        # a cell and itself: distance 0, counted above in the first bin
        d0 = np.linalg.norm(src[same_cell[0]] - tgt[same_cell[1]], axis=1)
        pairs -= np.histogram(d0, bins=hist_bins, range=hist_range)[0]
    cs, ct = np.asarray(connected_source), np.asarray(connected_target)
    if cs.size:
        dc = np.linalg.norm(src[cs] - tgt[ct], axis=1)
        connected = np.histogram(dc, bins=hist_bins, range=hist_range, weights=connected_weights)[0]
        connected = np.rint(connected).astype(np.int64)
    else:
        connected = np.zeros_like(pairs)
    return DistanceProbability(edges, pairs, connected)
