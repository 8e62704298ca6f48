"""Connectivity matrices on generated SONATA networks: time and peak memory, printed as JSON.

    python benchmarks/bench_connectivity.py            # 1 M and 10 M edges, distance at 10 k cells
    python benchmarks/bench_connectivity.py --quick    # 1 M edges and the distance benchmark only

Networks are written the way BMTK writes them (gzip-compressed chunked datasets, per-connection
rows with ``nsyns``, edge types per (source group, target group), a virtual input population
in its own edges file, a gap-junction edge type) into a temporary folder, which is deleted
afterwards (``--keep`` keeps it). Each measurement runs in a fresh subprocess so its peak RSS
(``ru_maxrss``) is honest; memory is reported as the peak minus the RSS after imports and
config loading ("delta") and as the absolute peak.

Targets (issue 7): 1 M edges, all matrices ≤ 1 s together and ≤ 300 MB; 10 M edges ≤ 10 s and
≤ 1.5 GB; probability vs distance for 10 k cells ≤ 5 s. bmtool 0.8.7 on this machine: percent
31 s and 2.1 GB at 1 M edges; probability vs distance 34 s at 1 k cells (reference/baselines.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GROUPS = ["Exc_L23", "Exc_L4", "Exc_L5", "Exc_L6", "PV_L23", "PV_L4", "PV_L5", "SST_L23", "SST_L5", "VIP"]
SHARE = np.array([0.22, 0.18, 0.2, 0.15, 0.05, 0.05, 0.05, 0.04, 0.03, 0.03])
CHUNK = 1 << 21  # rows written per h5py call


def _dataset(group, name: str, n: int, dtype) -> object:
    return group.create_dataset(name, shape=(n,), dtype=dtype, compression="gzip",
                                chunks=(min(max(n, 1), 1 << 16),))


def _write_types(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, sep=" ", index=False, na_rep="NULL")


def generate(folder: Path, n_cells: int, n_edges: int, seed: int = 0, one_population_per_file: bool = False) -> Path:
    """Write a network of ``n_cells`` cells in 10 groups plus 5 % virtual inputs, ``n_edges`` edge rows.

    Both node populations go into one h5 file (as SONATA allows), or with
    ``one_population_per_file`` the inputs into their own (bmtool reads only one per file)."""
    import h5py

    rng = np.random.default_rng(seed)
    net = folder / "network"
    net.mkdir(parents=True, exist_ok=True)
    sizes = np.maximum(1, np.round(SHARE * n_cells).astype(np.int64))
    sizes[0] += n_cells - sizes.sum()
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n_inputs = max(1, n_cells // 20)
    for name, n, types in (("cortex", n_cells, np.repeat(np.arange(len(GROUPS)) + 100, sizes)),
                           ("thalamus", n_inputs, np.full(n_inputs, 200))):
        fname = "thalamus_nodes.h5" if one_population_per_file and name == "thalamus" else "cortex_nodes.h5"
        with h5py.File(net / fname, "a") as f:
            g = f.create_group(f"nodes/{name}")
            g["node_id"] = np.arange(n, dtype=np.uint64)
            g["node_type_id"] = types.astype(np.uint64)
            g["node_group_id"] = np.zeros(n, np.uint32)
            g["node_group_index"] = np.arange(n, dtype=np.uint64)
            grp = g.create_group("0")
            if name == "cortex":
                grp.create_dataset("positions", data=rng.uniform(0, 1000.0, (n, 3)), compression="gzip")
    _write_types(net / "cortex_node_types.csv",
                 [{"node_type_id": 100 + i, "pop_name": p, "model_type": "biophysical",
                   "model_template": f"hoc:{p.split('_')[0]}", "ei": "e" if p.startswith("Exc") else "i"}
                  for i, p in enumerate(GROUPS)]
                 + [{"node_type_id": 200, "pop_name": "Thal", "model_type": "virtual", "model_template": None,
                     "ei": "e"}])

    # edge counts per (source group, target group): a random connection-probability matrix
    p = rng.uniform(0.02, 0.3, (len(GROUPS), len(GROUPS)))
    weight = p * np.outer(sizes, sizes)
    n_input_edges = n_edges // 10
    n_local = n_edges - n_input_edges
    counts = np.floor(weight / weight.sum() * n_local).astype(np.int64)
    counts[0, 0] += n_local - counts.sum()
    gap_pair = (GROUPS.index("PV_L4"), GROUPS.index("PV_L4"))
    types = []
    with h5py.File(net / "cortex_cortex_edges.h5", "w") as f:
        g = f.create_group("edges/cortex_to_cortex")  # bmtool reads src_to_tgt names only
        ds = {k: _dataset(g, k, n_local, dt) for k, dt in (
            ("source_node_id", np.uint64), ("target_node_id", np.uint64), ("edge_type_id", np.uint32),
            ("edge_group_id", np.uint16), ("edge_group_index", np.uint32))}
        grp = g.create_group("0")
        nsyns = _dataset(grp, "nsyns", n_local, np.uint32)
        sw = _dataset(grp, "syn_weight", n_local, np.float64)
        g["source_node_id"].attrs["node_population"] = "cortex"
        g["target_node_id"].attrs["node_population"] = "cortex"
        at = 0
        for si in range(len(GROUPS)):
            for ti in range(len(GROUPS)):
                tid = 1000 + si * len(GROUPS) + ti
                gap = (si, ti) == gap_pair
                types.append({"edge_type_id": tid, "model_template": None if gap else "Exp2Syn",
                              "dynamics_params": f"{GROUPS[si]}2{GROUPS[ti]}{'_gap' if gap else ''}.json",
                              "syn_weight": None, "delay": 1.0 + 0.1 * ti, "target_sections": "['somatic']",
                              "is_gap_junction": True if gap else None})
                left = int(counts[si, ti])
                while left:
                    k = min(left, CHUNK)
                    sl = slice(at, at + k)
                    src = rng.integers(starts[si], starts[si + 1], k)
                    tgt = np.sort(rng.integers(starts[ti], starts[ti + 1], k))  # BMTK iterates targets
                    ds["source_node_id"][sl] = src
                    ds["target_node_id"][sl] = tgt
                    ds["edge_type_id"][sl] = np.full(k, tid)
                    ds["edge_group_id"][sl] = np.zeros(k)
                    ds["edge_group_index"][sl] = np.arange(at, at + k)
                    nsyns[sl] = rng.integers(1, 6, k)
                    sw[sl] = rng.lognormal(-6, 0.5, k)
                    at += k
                    left -= k
    _write_types(net / "cortex_cortex_edge_types.csv", types)

    with h5py.File(net / "thalamus_cortex_edges.h5", "w") as f:
        g = f.create_group("edges/thalamus_to_cortex")
        n = n_input_edges
        src = rng.integers(0, n_inputs, n)
        tgt = np.sort(rng.integers(0, n_cells, n))
        for k, v in (("source_node_id", src.astype(np.uint64)), ("target_node_id", tgt.astype(np.uint64)),
                     ("edge_type_id", np.full(n, 1, np.uint32)), ("edge_group_id", np.zeros(n, np.uint16)),
                     ("edge_group_index", np.arange(n, dtype=np.uint32))):
            g.create_dataset(k, data=v, compression="gzip", chunks=(min(max(n, 1), 1 << 16),))
        g.create_group("0").create_dataset("nsyns", data=rng.integers(1, 4, n).astype(np.uint32), compression="gzip")
        g["source_node_id"].attrs["node_population"] = "thalamus"
        g["target_node_id"].attrs["node_population"] = "cortex"
    _write_types(net / "thalamus_cortex_edge_types.csv",
                 [{"edge_type_id": 1, "model_template": "Exp2Syn", "dynamics_params": "ThalAMPA.json",
                   "syn_weight": 0.004, "delay": 2.0}])

    cfg = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network"},
        "components": {},
        "networks": {
            "nodes": [{"nodes_file": "$NETWORK_DIR/cortex_nodes.h5",
                       "node_types_file": "$NETWORK_DIR/cortex_node_types.csv"}]
            + ([{"nodes_file": "$NETWORK_DIR/thalamus_nodes.h5",
                 "node_types_file": "$NETWORK_DIR/cortex_node_types.csv"}] if one_population_per_file else []),
            "edges": [{"edges_file": "$NETWORK_DIR/cortex_cortex_edges.h5",
                       "edge_types_file": "$NETWORK_DIR/cortex_cortex_edge_types.csv"},
                      {"edges_file": "$NETWORK_DIR/thalamus_cortex_edges.h5",
                       "edge_types_file": "$NETWORK_DIR/thalamus_cortex_edge_types.csv"}],
        },
    }
    path = folder / "circuit_config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


# ---------------------------------------------------------------------------------------
# measurements (each in its own process)

ALL_MATRICES = [("total", {"count": "connections"}), ("total", {"count": "synapses"}), ("percent", {}),
                ("unidirectional", {}), ("bidirectional", {}),
                *[("convergence", {"stat": s}) for s in ("mean", "std", "min", "max")],
                ("convergence", {"count": "synapses"}),
                *[("divergence", {"stat": s}) for s in ("mean", "std", "min", "max")],
                ("gap_percent", {}), ("gap_convergence", {})]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def child_matrices(config: str) -> dict:
    from bmtool_lab.model.config import load_config
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    cfg = load_config(config)  # bmtk's config resolver: a fixed cost, not the matrices
    base = _rss_mb()
    t0 = time.perf_counter()
    conn = ConnectivityExplorer(cfg)
    t_open = time.perf_counter() - t0
    t1 = time.perf_counter()
    per = {}
    for metric, kw in ALL_MATRICES:
        ts = time.perf_counter()
        df = conn.matrix(metric, **kw)
        per[f"{metric}:{','.join(f'{k}={v}' for k, v in kw.items())}"] = round(time.perf_counter() - ts, 4)
    cold = time.perf_counter() - t1
    t2 = time.perf_counter()
    for metric, kw in ALL_MATRICES:
        conn.matrix(metric, **kw)
    warm = time.perf_counter() - t2
    clicks = []
    for src, tgt in (("PV_L4", "Exc_L23"), ("SST_L5", "Exc_L5")):  # what a dashboard click runs
        t3 = time.perf_counter()
        conn.details(src, tgt)
        conn.histogram(src, tgt, "convergence")
        clicks.append(round(time.perf_counter() - t3, 3))
    peak = _rss_mb()
    sel = conn._selection("all", "all")
    pairs = sel.pairs(False)
    return {"n_edge_rows": int(sum(e.size for e in conn.network.edge_populations())),
            "n_connections": pairs.n_connections, "groups": int(df.shape[0]),
            "open_s": round(t_open, 3), "all_matrices_cold_s": round(cold, 3),
            "all_matrices_warm_s": round(warm, 3), "details_click_first_s": clicks[0],
            "details_click_next_s": clicks[1],
            "n_matrices": len(ALL_MATRICES), "per_matrix_cold_s": per,
            "peak_rss_mb": round(peak, 1), "peak_rss_delta_mb": round(peak - base, 1)}


def child_distance(config: str) -> dict:
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    conn = ConnectivityExplorer(config)
    base = _rss_mb()
    t0 = time.perf_counter()
    df = conn.probability_vs_distance(bins=10, sources="cortex", targets="cortex")
    dt = time.perf_counter() - t0
    return {"cells": int(conn.network.node_population("cortex").size), "pairs": int(df["pairs"].sum()),
            "seconds": round(dt, 3), "peak_rss_delta_mb": round(_rss_mb() - base, 1)}


def run_child(kind: str, config: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(config)], capture_output=True, text=True,
                         check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode:
        raise RuntimeError(f"{kind} child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 M edges and the distance benchmark only")
    ap.add_argument("--keep", action="store_true", help="keep the generated networks")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, cfg = args.child
        print(json.dumps(child_matrices(cfg) if kind == "matrices" else child_distance(cfg)))
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    root = Path(tempfile.mkdtemp(prefix="bench_connectivity_"))
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "targets": {
        "1M": "all matrices <= 1 s, <= 300 MB", "10M": "<= 10 s, <= 1.5 GB", "distance_10k": "<= 5 s"}}
    cases = [("1M", 20_000, 1_000_000)] + ([] if args.quick else [("10M", 100_000, 10_000_000)])
    try:
        for label, cells, edges in cases:
            t = time.perf_counter()
            cfg = generate(root / label, cells, edges)
            gen = time.perf_counter() - t
            res = run_child("matrices", cfg)
            res["generate_s"] = round(gen, 1)
            res["cells"] = cells
            report[label] = res
        cfg = generate(root / "distance", 10_000, 200_000, seed=1)
        report["distance_10k"] = run_child("distance", cfg)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
