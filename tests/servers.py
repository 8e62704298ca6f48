"""A real Jupyter server (JupyterLab or Notebook 7) for browser tests, isolated from the user's own."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# The flag that exposes `window.jupyterapp` to the tests, per application.
EXPOSE_APP = {"lab": "--LabApp.expose_app_in_browser=True",
              "notebook": "--JupyterNotebookApp.expose_app_in_browser=True"}


@dataclass
class JupyterServer:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str) -> bytes:
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_server(app: str, root: Path, home: Path, timeout_s: float = 60) -> Iterator[JupyterServer]:
    """``jupyter lab`` / ``jupyter notebook`` on a free loopback port with a random token.

    Settings and runtime files live under ``home`` so the developer's JupyterLab state never
    leaks in; the news prompt is off and notebooks keep every output in the DOM (JupyterLab 4
    detaches off-screen parts by default, which would hide outputs from assertions).
    """
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "BMTOOL_LAB_CACHE": os.environ.get("BMTOOL_LAB_CACHE", str(Path.home() / ".cache" / "bmtool_lab")),
    }
    settings = home / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"jupyter-{app}.log"
    cmd = [
        sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
        f"--ServerApp.root_dir={root}", EXPOSE_APP[app], "--ServerApp.disable_check_xsrf=True",
    ]
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT)
    server = JupyterServer(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited early:\n{log.read_text()[-3000:]}")
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter {app} did not start in {timeout_s} s:\n"
                                       f"{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
