"""The quick start in a real Jupyter Notebook 7 and Chromium (issue 8: same extension system).

Notebook 7 loads prebuilt labextensions like JupyterLab does; this smoke test checks that the
inline anywidget renders there and that the bmtool-lab labextension (SidebarHost in the right
side panel) loads and works in Notebook 7's shell.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import ARTIFACTS, run_all_cells, run_command, screenshot, wait_for_trace

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class NotebookServer:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str) -> bytes:
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()


def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotebookServer]:
    """A real ``jupyter notebook`` (v7) on a free loopback port with a random token."""
    pytest.importorskip("notebook", minversion="7")
    root = tmp_path_factory.mktemp("nb7-root")
    shutil.copy2(ROOT / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    home = tmp_path_factory.mktemp("nb7-home")
    port, token = _loopback_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "BMTOOL_LAB_CACHE": os.environ.get("BMTOOL_LAB_CACHE", str(Path.home() / ".cache" / "bmtool_lab")),
    }
    settings = home / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "jupyter-notebook7.log"
    cmd = [
        sys.executable, "-m", "jupyter", "notebook", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
        f"--ServerApp.root_dir={root}", "--JupyterNotebookApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=True",
    ]
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT)
    server = NotebookServer(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter notebook exited early:\n{log.read_text()[-3000:]}")
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter notebook did not start in 60 s:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_kernel_settled(page, server: NotebookServer, name: str, timeout_s: float = 90) -> None:
    """Wait until the notebook's kernel is idle and its id has stayed put for 2 s."""
    deadline = time.monotonic() + timeout_s
    last_id, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        mine = [s for s in json.loads(server.api("/api/sessions")) if s["path"].endswith(name)]
        kid = mine[0]["kernel"]["id"] if mine else None
        state = mine[0]["kernel"]["execution_state"] if mine else None
        if kid != last_id:
            last_id, stable_since = kid, time.monotonic()
        elif kid and state == "idle" and time.monotonic() - stable_since > 2.0:
            return
        time.sleep(0.3)
    raise TimeoutError(f"the kernel of {name} did not settle in {timeout_s} s")


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
    _wait_kernel_settled(page, server, "quickstart.ipynb")

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
