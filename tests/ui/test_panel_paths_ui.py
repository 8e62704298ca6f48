"""Paths in the BMTool Lab panel as a user types them: relative to the server root (what the file
browser shows) while the kernel runs in the notebook's subfolder, a model folder instead of a
config file, and "Find configs" results that read from the root and load when clicked. The
panel says which config file its tables come from."""

from __future__ import annotations

import pytest

from .helpers import open_notebook, run_all_cells, run_command, write_notebook

pytestmark = pytest.mark.ui

PANEL = "#bmtool-lab-browser"
LOADED = f"{PANEL} .bmtl-browser-loaded"
# A folder name no other test builds at the server root, so "paths_network" is found only in the
# kernel's folder (a root-level example_network, built by other tests, would be found first).
NET = "paths_network"


def _load(page, path: str) -> None:
    page.fill(f"{PANEL} .bmtl-browser-config", path)
    page.click(f"{PANEL} .bmtl-btn-load")


def _wait_loaded(page, shown: str) -> str:
    page.wait_for_function("([sel, s]) => document.querySelector(sel)?.innerText.includes(s)",
                           arg=[LOADED, shown], timeout=60_000)
    return page.inner_text(LOADED)


def test_root_relative_folder_and_found_configs(page, lab_server) -> None:
    (lab_server.root / "models").mkdir(exist_ok=True)
    nb = write_notebook(lab_server.root, "models/paths.ipynb", [
        f"from bmtool_lab.examples import build_example\nbuild_example({NET!r})"])
    open_notebook(page, lab_server, nb)
    run_all_cells(page)
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some(e => e.textContent.includes('simulation_config.json'))", timeout=120_000)
    run_command(page, "bmtool-lab:open-panel")
    page.wait_for_selector(PANEL, state="visible")

    # A model folder, relative to the server root: the kernel runs in models/, yet it is found,
    # and the panel names the config it picked inside it.
    _load(page, f"models/{NET}")
    text = _wait_loaded(page, f"models/{NET}/simulation_config.json")
    assert f"from the folder {NET}/" in text, text
    page.wait_for_selector(f"{PANEL} tr[data-name='Exc2PV']", timeout=60_000)
    message = page.inner_text(f"{PANEL} .bmtl-browser-message")
    assert "does not exist" not in message and "no such" not in message, message

    # A missing path says where it looked.
    _load(page, "models/nowhere")
    page.wait_for_selector(f"{PANEL} .bmtl-browser-message.bmtl-error", timeout=30_000)
    assert "no such file or folder" in page.inner_text(f"{PANEL} .bmtl-browser-message")
    assert page.inner_text(LOADED) == ""  # nothing is loaded now

    # The same folder as notebook code sees it (relative to the kernel's folder) works too
    # (after the missing path, so the wait sees this load, not the first one).
    _load(page, NET)
    _wait_loaded(page, f"models/{NET}/simulation_config.json")

    # Find configs from the file browser's root: paths from the root, no "../", and a click loads one.
    page.evaluate("""async () => { for (const w of window.jupyterapp.shell.widgets('left'))
                                     if (w.id === 'filebrowser') await w.model.cd('/'); }""")
    page.click(f"{PANEL} .bmtl-btn-find")
    item = f"{PANEL} .bmtl-config-item:text-is('models/{NET}/simulation_config.json')"
    page.wait_for_selector(item, timeout=30_000)
    items = page.eval_on_selector_all(f"{PANEL} .bmtl-config-item", "els => els.map(e => e.textContent)")
    assert not any(i.startswith("..") for i in items), items
    page.click(item)
    _wait_loaded(page, f"models/{NET}/simulation_config.json")

    # A dashboard opened from the loaded tables gets the file loaded, not the typed text.
    page.click(f"{PANEL} tr[data-name='Exc2PV'] .bmtl-open-tuner")
    page.wait_for_selector("#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-syn-tuner", timeout=120_000)
