"""The speed table quoted in README.md is the committed side-by-side run, not a hand-kept copy."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table(text: str) -> list[str]:
    start = text.index("| figure | bmtool 0.8.7 | bmtool_lab | ratio |")
    lines = text[start:].splitlines()
    return lines[:next((i for i, ln in enumerate(lines) if not ln.startswith("|")), len(lines))]


def test_readme_quotes_the_committed_side_by_side_results() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    source = re.search(r"benchmarks/results/(sidebyside-[\d-]+\.json)", readme.split("## Speed against bmtool")[1])
    assert source, "the README's speed section names its results file"
    figures = json.loads((ROOT / "benchmarks" / "results" / source.group(1)).read_text())["figures"]
    rows = _table(readme)
    assert rows == _table((ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8"))
    quoted = [float(r.split("|")[-2].strip().rstrip("×").replace(",", "")) for r in rows[2:]]
    assert all(q >= 1 for q in quoted)
    for key, fig in figures.items():
        assert f"| {fig['ratio']:.3g}× |" in "\n".join(rows), f"{key}: ratio {fig['ratio']} not quoted"
