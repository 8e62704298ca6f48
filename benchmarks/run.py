"""bmtool 0.8.7 and bmtool_lab side by side: one table (bmtool, ours, ratio) and the same as JSON.

    python benchmarks/run.py                  # every figure (the big connectivity ones last)
    python benchmarks/run.py slider optimizer # some figures
    python benchmarks/run.py --quick          # without the 10 M-edge network
    python benchmarks/run.py --save           # also write benchmarks/results/sidebyside-<date>.json
    python benchmarks/run.py --benches [engine connectivity ...]   # our own bench_*.py, as JSON

Figures: import, slider → trace, synaptic table, F–I (default call), optimizer (time and
evaluations to the same error), probability vs distance (1 k cells), connectivity at 1 M and
10 M edges. Each figure runs once per tool in a fresh process (benchmarks/sidebyside.py), on the
same inputs: the example network (cell Exc, synapse Exc2SST, its 8 connections) and generated
SONATA networks. Ratio = bmtool ÷ ours (> 1: we are faster).

The bmtool column needs the real bmtool 0.8.7: it is taken from this interpreter when it has
bmtool, else from .venv-bench (``bash benchmarks/setup_bmtool_env.sh``), else it is skipped.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ("import", "slider", "slider_bmtool_protocol", "table", "fi", "optimizer", "distance", "conn1m", "conn10m")
LABELS = {"import": "import (s)", "slider": "slider → trace (s)",
          "slider_bmtool_protocol": "slider → trace, bmtool's protocol (s)", "table": "synaptic table, 8 conn. (s)",
          "fi": "F–I 20 steps, default call (s)", "optimizer": "optimizer: time to error 4e-4 (s)",
          "optimizer_evals": "optimizer: evaluations to 4e-4", "distance": "probability vs distance 1 k (s)",
          "conn1m": "connectivity 1 M: total+conv.+percent (s)", "conn1m_mem": "connectivity 1 M: peak RSS (MB)",
          "conn10m": "connectivity 10 M: total+conv. (s)", "conn10m_mem": "connectivity 10 M: peak RSS (MB)"}
INSTALL = "bash benchmarks/setup_bmtool_env.sh && .venv-bench/bin/python benchmarks/run.py"


def bmtool_python() -> str | None:
    """An interpreter with the real bmtool: this one, else .venv-bench's."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('bmtool') is None)"
    for py in (sys.executable, str(ROOT / ".venv-bench" / "bin" / "python")):
        if Path(py).exists() and subprocess.run([py, "-c", probe], capture_output=True).returncode == 0:
            return py
    return None


def child(py: str, tool: str, figure: str, work: Path, timeout: float = 1800) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    env["PATH"] = str(Path(py).parent) + os.pathsep + env.get("PATH", "")  # its nrnivmodl
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([py, str(HERE / "sidebyside.py"), tool, figure, str(work)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"error": (proc.stderr or proc.stdout)[-1500:]}
    out = json.loads(lines[-1])
    out["process_s"] = round(time.perf_counter() - t0, 2)
    return out


def prepare(work: Path, figures: list[str], bm_py: str | None) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    from bench_connectivity import generate

    from bmtool_lab.examples import build_example

    if {"slider", "slider_bmtool_protocol", "table", "fi", "optimizer"} & set(figures) and not (work / "example").exists():
        build_example(work / "example")
        if bm_py is not None:  # bmtool loads mechanisms from the config's mechanisms_dir: compile them there
            mech = work / "example" / "components" / "mechanisms"
            nrnivmodl = Path(bm_py).parent / "nrnivmodl"
            subprocess.run([str(nrnivmodl) if nrnivmodl.exists() else "nrnivmodl"], cwd=mech, check=True,
                           capture_output=True)
    for fig, name, cells, edges in (("distance", "net1k", 1_000, 20_000), ("conn1m", "net1m", 20_000, 1_000_000),
                                    ("conn10m", "net10m", 100_000, 10_000_000)):
        if fig in figures and not (work / name).exists():
            generate(work / name, cells, edges, seed=1, one_population_per_file=True)  # as bmtool needs


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def table(results: dict, bm_skipped: str | None) -> str:
    rows = []
    for fig, r in results.items():
        bm, us = r.get("bmtool") or {}, r.get("ours") or {}
        rows.append((LABELS[fig], bm.get("s"), us.get("s"), bm.get("error"), us.get("error")))
        if fig == "optimizer":
            rows.append((LABELS["optimizer_evals"], bm.get("evals_to_0.0004"), us.get("evals_to_0.0004"), None, None))
        if fig in ("conn1m", "conn10m"):
            rows.append((LABELS[fig + "_mem"], bm.get("peak_rss_mb"), us.get("peak_rss_mb"), None, None))
    w = max(len(r[0]) for r in rows) + 2
    lines = [f"{'figure':<{w}}{'bmtool 0.8.7':>14}{'bmtool_lab':>12}{'ratio':>9}", "-" * (w + 35)]
    for label, a, b, ea, eb in rows:
        def cell(v: float | None, err: str | None) -> str:
            if err:
                return "failed"
            if v is None:
                return "—" if bm_skipped is None else "skipped"
            return f"{v:.3g}"
        rt = ratio(a, b)
        lines.append(f"{label:<{w}}{cell(a, ea) if bm_skipped is None else 'skipped':>14}{cell(b, eb):>12}"
                     f"{(f'{rt:.3g}×') if rt else '':>9}")
    lines.append("ratio = bmtool ÷ bmtool_lab (> 1: bmtool_lab is faster / smaller)")
    for (fig, r) in results.items():
        for tool in ("bmtool", "ours"):
            err = (r.get(tool) or {}).get("error")
            if err:
                lines.append(f"{fig} ({tool}) failed: {err.strip().splitlines()[-1][:300]}")
    if bm_skipped:
        lines.append(bm_skipped)
    return "\n".join(lines)


def run_benches(names: list[str], flags: list[str]) -> int:
    files = sorted(HERE.glob("bench_*.py"))
    if names:
        files = [f for f in files if f.stem.removeprefix("bench_") in names]
    results, status = {}, 0
    for f in files:
        proc = subprocess.run([sys.executable, str(f), *flags], capture_output=True, text=True)
        name = f.stem.removeprefix("bench_")
        try:
            text = proc.stdout
            results[name] = json.loads(text[text.index("{"):]) if proc.returncode == 0 else None
        except ValueError:
            results[name] = None
        if results[name] is None:
            status = 1
            results[name] = {"error": (proc.stderr or proc.stdout)[-2000:]}
    print(json.dumps(results, indent=2))
    return status


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("--")]
    names = [a for a in argv if not a.startswith("--")]
    if "--benches" in flags:
        return run_benches(names, [f for f in flags if f not in ("--benches",)])
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        print(f"unknown figure(s) {unknown}; choose from {', '.join(ORDER)}", file=sys.stderr)
        return 2
    figures = [f for f in ORDER if (f in names if names else not ("--quick" in flags and f == "conn10m"))]
    bm_py = bmtool_python()
    skipped = None if bm_py else ("bmtool column skipped: bmtool 0.8.7 is not installed here. Install it in a "
                                  f"benchmark-only environment and run from there: {INSTALL}")
    work = Path(tempfile.mkdtemp(prefix="bench_sidebyside_"))
    results: dict = {}
    meta: dict = {"date": datetime.date.today().isoformat(), "machine": {"cpus": os.cpu_count(),
                  "python": platform.python_version()}, "ours_python": sys.executable, "bmtool_python": bm_py,
                  "bmtool_skipped": skipped}
    try:
        t0 = time.perf_counter()
        prepare(work, figures, bm_py)
        meta["prepare_s"] = round(time.perf_counter() - t0, 1)
        for fig in figures:
            results[fig] = {"ours": child(sys.executable, "ours", fig, work)}
            if bm_py:
                results[fig]["bmtool"] = child(bm_py, "bmtool", fig, work)
            r = results[fig]
            r["ratio"] = ratio((r.get("bmtool") or {}).get("s"), r["ours"].get("s"))
            print(f"{fig}: bmtool {(r.get('bmtool') or {}).get('s')} s, ours {r['ours'].get('s')} s",
                  file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if bm_py:
        vers = subprocess.run([bm_py, "-c", "import importlib.metadata as m; print(' '.join(f'{p}=={m.version(p)}' "
                               "for p in ('bmtool', 'neuron', 'numpy', 'pandas', 'bmtk')))"],
                              capture_output=True, text=True).stdout.strip()
        meta["bmtool_env"] = vers
    doc = {"meta": meta, "figures": results}
    print(table(results, skipped))
    print(json.dumps(doc, indent=2))
    if "--save" in flags:
        out = HERE / "results" / f"sidebyside-{meta['date']}.json"
        old = json.loads(out.read_text()) if out.exists() else {"meta": meta, "figures": {}}
        old["figures"].update(results)  # figures run separately (the big ones at the end) add up
        old["meta"] = {**old["meta"], **meta}
        out.write_text(json.dumps(old, indent=2) + "\n")
        print(f"saved {out}", file=sys.stderr)
    failed = any("error" in (r.get(t) or {}) for r in results.values() for t in ("ours", "bmtool"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
