"""A built front-end bundle rendered in Debian's Chromium: the static folder and one page are
served on loopback, and the page is opened in a headless Playwright browser."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "bmtool_lab" / "static"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no access log in the benchmark's output
        pass


@contextlib.contextmanager
def bundle_page(html: str, bundle: str, viewport: tuple[int, int] = (1000, 500)) -> Iterator:
    """A Playwright page showing ``html`` next to the built bundles (``window.ready`` set)."""
    from playwright.sync_api import sync_playwright

    if not (STATIC / bundle).exists():
        raise SystemExit("build the front end first: npm run build:widgets")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        for f in STATIC.iterdir():
            shutil.copy2(f, tmp)
        (Path(tmp) / "index.html").write_text(html)
        handler = functools.partial(_QuietHandler, directory=tmp)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=exe, args=["--disable-gpu",
                                             "--disable-background-networking", "--no-first-run"])
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("() => window.ready === true")
                yield page
                browser.close()
        finally:
            server.shutdown()


def stats(times: list[float]) -> dict:
    s = sorted(times)
    return {"median": s[len(s) // 2], "p95": s[int(0.95 * (len(s) - 1))], "max": s[-1], "frames": len(s)}
