"""The wheel carries the anywidget bundle, the prebuilt labextension and install.json, and
`import bmtool_lab` stays light (no NEURON, pandas, scipy.optimize, bmtk at import)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.unit
def test_import_is_light() -> None:
    code = ("import sys, time; t = time.perf_counter(); import bmtool_lab; dt = time.perf_counter() - t; "
            "heavy = [m for m in ('neuron', 'pandas', 'scipy', 'scipy.optimize', 'bmtk', 'matplotlib', "
            "'ipywidgets') if m in sys.modules]; print(dt, heavy)")
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT / "tests", text=True).split(maxsplit=1)
    assert out[1].strip() == "[]", out
    assert float(out[0]) < 0.3


@pytest.mark.unit
def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), "-q"], check=True, cwd=tmp_path)
    wheel = next(tmp_path.glob("bmtool_lab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    ext = "bmtool_lab-{v}.data/data/share/jupyter/labextensions/bmtool-lab/"
    version = wheel.name.split("-")[1]
    prefix = ext.format(v=version)
    assert "bmtool_lab/static/trace_panel.js" in names
    assert prefix + "package.json" in names
    assert prefix + "install.json" in names
    assert any(n.startswith(prefix + "static/remoteEntry.") for n in names)
    install = json.loads(zipfile.ZipFile(wheel).read(prefix + "install.json"))
    assert install["packageManager"] == "python" and install["packageName"] == "bmtool-lab"
    # the example network's mod files and templates ship too (build_example works from a wheel)
    assert "bmtool_lab/examples/components/mechanisms/exp2syn_stp.mod" in names
    assert "bmtool_lab/examples/components/templates/Exc.hoc" in names
    # built files stay out of git
    tracked = subprocess.check_output(["git", "ls-files"], cwd=ROOT, text=True).split()
    assert not [t for t in tracked if t.startswith(("bmtool_lab/static/", "bmtool_lab/labextension/", "lib/"))]
