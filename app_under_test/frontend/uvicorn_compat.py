"""Where the frontend leans on uvicorn beyond its documented surface: one probe, pinned.

ASGI has no "the server is shutting down" signal for a response in progress. uvicorn waits
up to its graceful timeout for open responses before it stops, and an event stream never
finishes on its own, so without a probe a stack with a projector open would take that whole
timeout to stop. uvicorn's per-request cycle (the object whose bound method is ``receive``)
carries ``keep_alive``, which its protocols set to False when shutdown begins. That is an
implementation detail, so it lives here alone: ``pyproject.toml`` bounds uvicorn to the
versions in :data:`TESTED_WITH`, and tests/test_uvicorn_compat.py drives the probe through a
real shutdown of both uvicorn HTTP protocols and fails loudly when an upgrade changes it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Receive

#: The uvicorn version tests/test_uvicorn_compat.py ran against (pyproject.toml admits it).
TESTED_WITH = {"uvicorn": "0.54.0"}


def shutdown_probe(receive: Receive) -> Callable[[], bool] | None:
    """A probe that turns true once uvicorn asked this connection to close, or None.

    None when the flag cannot be seen: another server, a wrapped ``receive``, or a request
    that was never keep-alive (HTTP/1.0, ``Connection: close``), whose flag is False from
    the start and so says nothing about shutdown.
    """
    cycle = getattr(receive, "__self__", None)
    if getattr(cycle, "keep_alive", None) is not True:
        return None
    return lambda: cycle.keep_alive is False


def server_closing(receive: Receive) -> Callable[[], bool]:
    """:func:`shutdown_probe`, or a probe that stays false (the caller's own bound applies)."""
    return shutdown_probe(receive) or (lambda: False)
