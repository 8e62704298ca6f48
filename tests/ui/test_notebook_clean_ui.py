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


def _saved_python(name: str) -> str:
    nb = json.loads((Path(__file__).parents[2] / "notebooks" / name).read_text())
    return nb.get("metadata", {}).get("language_info", {}).get("version", "")


# Known defect (issue 14): JupyterLab rewrites language_info on kernel start, so a notebook saved
# under another Python opens modified; the fix belongs in our labextension. Skipped, with the
# reason shown, where the running Python is not the one the notebooks carry.
@pytest.mark.parametrize("name", ["quickstart.ipynb", "synapse_tuning.ipynb", "cell_profiling.ipynb",
                                  "connectivity.ipynb"])
def test_notebook_opens_clean(page, lab_server, name) -> None:
    if _saved_python(name) != platform.python_version():
        pytest.skip(f"known defect: {name} was saved under Python {_saved_python(name)}, this is "
                    f"{platform.python_version()}: JupyterLab marks it modified on open (issue 14)")
    open_notebook(page, lab_server, name)
    page.wait_for_timeout(1500)  # what JupyterLab writes on open (kernel info, cell ids) has landed
    state = _dirty(page)
    on_disk = json.loads((lab_server.root / name).read_text())["metadata"]
    assert state["marker"] is False and state["dirty"] is False, (state, on_disk)
