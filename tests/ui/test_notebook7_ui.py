"""The quick start in a real Jupyter Notebook 7 and Chromium (issue 8: same extension system).

Notebook 7 loads prebuilt labextensions like JupyterLab does; this smoke test checks that the
inline anywidget renders there and that the bmtool-lab labextension (SidebarHost in the right
side panel) loads and works in Notebook 7's shell.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import JupyterServer, jupyter_server

from .helpers import run_all_cells, run_command, screenshot, wait_for_kernel_settled, wait_for_trace

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A real ``jupyter notebook`` (v7) whose root holds a copy of the quickstart notebook."""
    pytest.importorskip("notebook", minversion="7")
    root = tmp_path_factory.mktemp("nb7-root")
    shutil.copy2(ROOT / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    with jupyter_server("notebook", root, tmp_path_factory.mktemp("nb7-home")) as server:
        yield server


def test_notebook7_quickstart_renders_inline_and_in_the_right_panel(page, notebook7_server) -> None:
    server = notebook7_server
    # The server lists our prebuilt labextension in the page config Notebook 7 boots from.
    page.goto(f"{server.url}/notebooks/quickstart.ipynb?token={server.token}")
    page_config = json.loads(page.eval_on_selector("#jupyter-config-data", "el => el.textContent"))
    assert page_config.get("appName", "").lower().startswith("jupyter notebook"), page_config.get("appName")
    federated = [e["name"] for e in page_config.get("federated_extensions", [])]
    assert "bmtool-lab" in federated, federated

    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=90_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    for plugin in ("bmtool-lab:widgets", "bmtool-lab:browser"):
        assert page.evaluate("id => window.jupyterapp.hasPlugin(id)", plugin), plugin
    page.wait_for_function(
        "() => window.jupyterapp.isPluginActivated?.('bmtool-lab:widgets') ?? true", timeout=30_000)
    wait_for_kernel_settled(server, "quickstart.ipynb")

    run_all_cells(page)

    inline = ".jp-NotebookPanel .bmtl-demo .bmtl-trace-panel"
    data = wait_for_trace(page, inline, min_points=1000)
    assert data["hasSignal"] == "true"
    assert page.eval_on_selector(f"{inline} canvas", "c => c.width > 100 && c.height > 100")

    # The last cell opened a SidebarHost: Notebook 7's right side panel shows the same controller.
    side = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-trace-panel, " \
           ".jp-SidePanel .bmtl-host[data-ready='true'] .bmtl-trace-panel"
    side_data = wait_for_trace(page, side, min_points=1000)
    assert page.is_visible(side)
    assert side_data["hasSignal"] == "true"
    page.wait_for_function(
        "sel => document.querySelector(sel + ' .bmtl-trace-status').textContent.startsWith('done')",
        arg=inline, timeout=60_000)
    screenshot(page, "notebook7-quickstart")

    # The model browser goes into Notebook 7's left side panel through the same command.
    run_command(page, "bmtool-lab:open-panel")
    page.wait_for_selector("#bmtool-lab-browser", state="visible", timeout=30_000)
    errors = [m for m in page.console_messages if m.startswith("error:") and "bmtool" in m.lower()]
    assert not errors, errors
