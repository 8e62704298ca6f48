"""The README's "API in ten lines" runs as written (on the example network, in a fresh process)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]


def test_readme_api_block_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The API in ten lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    script = code + (
        "\nassert set(tuner.run_train(freq=50).metrics) >= {'simple_ppr', 'induction', 'recovery'}"
        "\nassert conn.matrix('percent').loc['Exc', 'PV'] > 0"
        "\nprint('README OK')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "README OK" in out.stdout
