"""Starting the one browser the real-browser oracle trusts: Debian's Chromium, headless.

Playwright's own browser download does not work on our machines (docs/architecture.md
"Measured facts"), so we always point Playwright at the system Chromium by path. The flags keep
the browser from talking to anything but loopback (no QUIC, no component updates, no sync,
no background networking): an audit must not phone home, and a sandbox-less root container
needs ``--no-sandbox``. Callers ask :func:`browser_available` first so that "no browser" is a
reason to skip (or, under CI, to fail), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from exodus2045.app_under_test.errors import ExodusError

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: Playwright is the ``browser`` extra, not a core dependency (pyproject.toml).
INSTALL_HINT = "pip install 'exodus2045[browser]'"

#: Where Debian installs Chromium (``apt-get install chromium``); the only browser we use.
CHROMIUM_PATH = Path("/usr/bin/chromium")

#: Headless, sandbox-less (root in a container), and silent on the network.
LAUNCH_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserUnavailable(ExodusError):
    """No usable browser: Chromium or Playwright is missing, or Chromium would not start."""


def browser_available() -> str | None:
    """Why the real-browser oracle cannot run here, or None when it can.

    Cheap on purpose (no launch): the audit and the test fixtures call it to decide between
    running and skipping. A binary that exists but will not start still surfaces, as
    :class:`BrowserUnavailable` from :func:`open_browser`.
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed ({INSTALL_HINT})"
    if not CHROMIUM_PATH.is_file():
        return f"no Chromium at {CHROMIUM_PATH} (apt-get install chromium)"
    if not os.access(CHROMIUM_PATH, os.X_OK):
        return f"{CHROMIUM_PATH} is not executable"
    return None


@contextmanager
def open_browser() -> Iterator[Browser]:
    """A running headless Chromium for the duration of the ``with`` block.

    Uses Playwright's sync API, which refuses to run inside a running asyncio loop: call it
    from plain threads (the audit is synchronous). Everything it started is stopped on exit.
    """
    reason = browser_available()
    if reason:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM_PATH), headless=True, args=list(LAUNCH_ARGS)
            )
        except PlaywrightError as exc:
            raise BrowserUnavailable(f"Chromium did not start: {exc.message}") from exc
        try:
            yield browser
        finally:
            browser.close()
