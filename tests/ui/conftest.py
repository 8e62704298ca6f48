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
)


@pytest.fixture
def page(page):  # noqa: F811 - deliberately wraps tests/conftest.py's page
    errors: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error" and not any(p.search(msg.text) for p in IGNORED_CONSOLE):
            loc = msg.location or {}
            errors.append(f"console error: {msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.browser_errors = errors  # type: ignore[attr-defined]
    yield page
    if errors:
        pytest.fail("browser errors during the test:\n" + "\n".join(errors[:40]), pytrace=False)
