"""Shared fixtures: the example network, a real JupyterLab server and Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ARTIFACTS, JupyterServer, jupyter_server

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A real ``jupyter lab`` whose root folder holds copies of the repository's notebooks."""
    root = tmp_path_factory.mktemp("lab-root")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(nb, root / nb.name)
    with jupyter_server("lab", root, tmp_path_factory.mktemp("lab-home")) as server:
        yield server


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
