"""Run every benchmarks/bench_*.py (or the ones named) and print one JSON document.

Usage: python benchmarks/run.py [foundation engine connectivity ...] [--quick]
Each benchmark prints JSON as its last output; failures are reported, not hidden.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("--")]
    names = [a for a in argv if not a.startswith("--")]
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
