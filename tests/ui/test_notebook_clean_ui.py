"""The repository's notebooks open clean in JupyterLab: right after opening (kernel started and
settled) the tab shows no unsaved-changes dot, so closing it asks nothing."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from .helpers import open_notebook

pytestmark = pytest.mark.ui


def _dirty(page) -> dict:
    """The notebook's dirty flag, its tab's dirty marker, and what JupyterLab changed if any."""
    return page.evaluate("""() => {
        const nb = window.jupyterapp.shell.currentWidget;
        const tab = [...document.querySelectorAll('.lm-DockPanel-tabBar .lm-TabBar-tab')]
            .find(t => t.classList.contains('lm-mod-current'));
        return {dirty: nb.context.model.dirty, marker: tab ? tab.classList.contains('jp-mod-dirty') : null,
                metadata: nb.context.model.toJSON().metadata};
    }""")


def _write_as_saved_under(src: Path, dst: Path, version: str) -> None:
    """``src`` as if saved under another Python: its language_info and kernelspec display name
    say ``version`` (what JupyterLab rewrites from the kernel's info on open)."""
    nb = json.loads(src.read_text())
    nb["metadata"]["language_info"] = {**nb["metadata"].get("language_info", {"name": "python"}),
                                       "version": version}
    nb["metadata"]["kernelspec"] = {"name": "python3", "language": "python",
                                    "display_name": f"Python {version}"}
    dst.write_text(json.dumps(nb, indent=1) + "\n")


@pytest.mark.parametrize("name", ["quickstart.ipynb", "synapse_tuning.ipynb", "cell_profiling.ipynb",
                                  "connectivity.ipynb", "network_run.ipynb", "pointnet.ipynb"])
def test_notebook_opens_clean(page, lab_server, name) -> None:
    open_notebook(page, lab_server, name)
    page.wait_for_timeout(1500)  # what JupyterLab writes on open (kernel info, cell ids) has landed
    state = _dirty(page)
    on_disk = json.loads((lab_server.root / name).read_text())["metadata"]
    assert state["marker"] is False and state["dirty"] is False, (state, on_disk)


def test_notebook_saved_under_another_python_opens_clean(page, lab_server) -> None:
    """A notebook saved under another Python (here 3.9.1, never the running one) opens clean
    although JupyterLab rewrites its language_info on kernel start; a real edit still marks it."""
    name = "saved_under_other_python.ipynb"
    assert platform.python_version() != "3.9.1"
    _write_as_saved_under(lab_server.root / "quickstart.ipynb", lab_server.root / name, "3.9.1")
    open_notebook(page, lab_server, name)
    page.wait_for_timeout(1500)
    state = _dirty(page)
    # JupyterLab did refresh the metadata from the kernel (so the test exercises the fix) ...
    assert state["metadata"]["language_info"]["version"] == platform.python_version(), state["metadata"]
    # ... and the tab is clean: closing it would ask nothing.
    assert state["marker"] is False and state["dirty"] is False, state
    # An edit by the user is a change: the dirty flag and the tab's marker come back.
    page.evaluate("""() => {
        const nb = window.jupyterapp.shell.currentWidget;
        nb.content.widgets[0].model.sharedModel.setSource('# edited by the test');
    }""")
    page.wait_for_timeout(300)
    edited = _dirty(page)
    assert edited["dirty"] is True and edited["marker"] is True, edited
