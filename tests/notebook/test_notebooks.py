"""Every notebook in notebooks/ executes top to bottom with a real kernel (nbclient)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    work = tmp_path / path.name
    shutil.copy2(path, work)
    nb = nbformat.read(work, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    # every code cell ran and the widget cells produced widget views
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    widget_views = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if path.stem == "quickstart":
        assert len(widget_views) >= 2, "the quickstart shows the inline demo and the sidebar host"
        metrics = next(o for c in nb.cells for o in c.get("outputs", [])
                       if "n_spikes" in o.get("data", {}).get("text/plain", ""))
        assert "rate_Hz" in metrics["data"]["text/plain"]
