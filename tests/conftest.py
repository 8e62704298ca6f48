"""Shared fixtures: the example network, a real JupyterLab server and Debian's Chromium."""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def example_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example network, built once per test session into a temp folder."""
    from bmtool_lab.examples import build_example

    return build_example(tmp_path_factory.mktemp("example") / "example_network")


@pytest.fixture
def fresh_example(tmp_path: Path) -> Path:
    """A private copy of the example network for tests that write into it (saving)."""
    from bmtool_lab.examples import build_example

    return build_example(tmp_path / "example_network")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str) -> bytes:
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A real ``jupyter lab`` on a free loopback port with a random token.

    Its root folder holds copies of the repository's notebooks; settings and runtime files are
    private to the fixture so the developer's own JupyterLab state never leaks in.
    """
    root = tmp_path_factory.mktemp("lab-root")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(nb, root / nb.name)
    home = tmp_path_factory.mktemp("lab-home")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "BMTOOL_LAB_CACHE": os.environ.get("BMTOOL_LAB_CACHE", str(Path.home() / ".cache" / "bmtool_lab")),
    }
    # No "news" prompt over the screenshots.
    notif = home / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # Keep every cell's output in the DOM (JupyterLab 4 detaches off-screen parts by default).
    nbset = home / "settings" / "@jupyterlab" / "notebook-extension"
    nbset.mkdir(parents=True)
    (nbset / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    log = ARTIFACTS / "jupyter-lab.log"
    ARTIFACTS.mkdir(exist_ok=True)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
        f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=True",
    ]
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT)
    server = LabServer(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{log.read_text()[-3000:]}")
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not start in 60 s:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (``playwright install`` cannot fetch browsers here)."""
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is not installed: run `apt-get install -y chromium` (the CI script does).")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=exe,
            args=["--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; on failure a screenshot lands in test-artifacts/ for a reviewer."""
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    pg = context.new_page()
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    pg.console_messages = messages  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
        (ARTIFACTS / f"FAILED-{request.node.name}.console.txt").write_text("\n".join(messages))
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
