"""Browser-test fixtures shared by every UI test.

``page`` wraps the session-wide page fixture (tests/conftest.py): any browser console error or
uncaught page error seen while the test ran fails it (at teardown, with the messages listed), so a
dashboard that throws in the browser cannot pass a UI test.
"""

from __future__ import annotations

import re

import pytest

# Console errors that do not come from a dashboard and that a user never sees. Each entry says why.
IGNORED_CONSOLE = (
    # Chromium's own resource log when a page is closed while a request is in flight (test teardown).
    re.compile(r"net::ERR_ABORTED"),
    # JupyterLab's debugger extension, when a kernel restarts (or shuts down) while its debugInfo
    # request is in flight; the debugger is not ours and shows nothing (seen under heavy load).
    re.compile(r"^Could not restore the debugger state"),
)


# Uncaught page errors thrown by Jupyter's own code, matched on message and the file that threw.
IGNORED_PAGE = (
    # Notebook 7.6's keyboard-shortcuts plugin reads registry.plugins[id].schema for a plugin that
    # is not loaded, on every page load; seen with bmtool-lab, bqplot, anywidget and the widget
    # manager each disabled, and on a blank notebook with no kernel.
    (re.compile(r"reading 'schema'"), re.compile(r"/static/notebook/notebook_core\.")),
)


@pytest.fixture
def page(page):  # noqa: F811 - deliberately wraps tests/conftest.py's page
    errors: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error" and not any(p.search(msg.text) for p in IGNORED_CONSOLE):
            loc = msg.location or {}
            errors.append(f"console error: {msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})")

    page.on("console", on_console)
    def on_page_error(exc) -> None:
        full = getattr(exc, "stack", "") or ""
        if any(msg.search(str(exc)) and where.search(full) for msg, where in IGNORED_PAGE):
            return
        stack = "\n    ".join(full.splitlines()[1:6])  # where it was thrown
        errors.append(f"page error: {exc}" + (f"\n    {stack}" if stack else ""))

    page.on("pageerror", on_page_error)
    page.browser_errors = errors  # type: ignore[attr-defined]
    yield page
    if errors:
        pytest.fail("browser errors during the test:\n" + "\n".join(errors[:40]), pytrace=False)
